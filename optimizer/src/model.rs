//! What an export costs a request sent from here: the figures (round trip, service time,
//! servers, utilisation, price, retries) with stale or missing inputs replaced by neutral values,
//! and the queueing model that turns utilisation into delay.
//!
//! The service time and utilisation come first from the exporter's own load report (measured
//! inside its cluster, under everyone's traffic); this cluster's probes fill in where there is
//! no fresh report. Queueing is M/M/k by Sakasegawa's approximation.

use crate::input::{ExportInput, LoadReport, MAX_OFFERED_LOAD, Measurement, Policy};

/// Utilisation the model never reads beyond: at 1 the delay is infinite, and a saturated
/// export's figure only has to be worse than every other's.
const MAX_UTILIZATION: f64 = 0.98;
/// Utilisation from which a report's latency no longer tells the service time: a saturated
/// export's queue grows past anything the model at u <= 1 explains, and de-queuing it would read
/// the backlog as slow servers. There the last service time learned below it stands.
const SATURATED: f64 = 0.9;
/// Failed requests are retried; at most this error rate is modelled (beyond, it is ejection's
/// job, not the model's).
const MAX_ERROR_RATE: f64 = 0.9;

/// One eligible export's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub rtt_ms: f64,
    /// Service time of one request with no queueing, ms.
    pub service_ms: f64,
    /// Servers (ready endpoints) behind the export (1 when unknown).
    pub servers: f64,
    /// Load on its servers by everyone's traffic, when reported: their busy fraction, or the
    /// offered load (demand over capacity) above 1 when demand exceeds what they serve.
    pub utilization: Option<f64>,
    /// Mean delay the export's queue adds now, ms: by the model from the reported utilisation,
    /// or what the probes measured beyond the service time when there is no report.
    pub queueing_ms: f64,
    pub price: f64,
    /// Expected tries per success, 1/(1 - error rate).
    pub tries: f64,
    /// Whether a figure was missing or stale and a neutral value stood in.
    pub stale: bool,
    /// Whether the exporter's load report stood behind the service time and utilisation.
    pub reported: bool,
}

impl Figures {
    /// Mean latency of one request sent there now, retries included, ms.
    pub fn latency_ms(&self) -> f64 {
        (self.rtt_ms + self.service_ms + self.queueing_ms) * self.tries
    }

    /// What one more unit of traffic sent there costs everyone's latency, per request, with the
    /// queueing weighted `queueing_weight` times: the round trip and service time, plus the delay
    /// added to every request already queued there. Routing by it leads a population of
    /// clusters to the split with the least total latency, not to the selfish split where each
    /// export is loaded until it is as slow as the next.
    pub fn marginal_ms(&self, queueing_weight: f64) -> f64 {
        let queueing = match self.utilization {
            Some(u) => self.service_ms * marginal_wait_factor(self.servers, u),
            None => self.queueing_ms,
        };
        (self.rtt_ms + self.service_ms + queueing_weight * queueing) * self.tries
    }

    /// The same export's figures had its utilisation been `u`: the queueing delay follows the
    /// model. `None` when the utilisation is not known.
    pub fn at_utilization(&self, u: f64) -> Option<Figures> {
        self.utilization?;
        let u = u.clamp(0.0, MAX_OFFERED_LOAD);
        Some(Figures {
            utilization: Some(u),
            queueing_ms: self.service_ms * wait_factor(self.servers, u),
            ..*self
        })
    }

    /// What the export serves at full utilisation, relative to others: servers per ms of
    /// service time.
    pub fn relative_capacity(&self) -> f64 {
        self.servers / self.service_ms.max(1e-6)
    }
}

/// Mean wait per unit of service time at utilisation `u` on `k` servers: Sakasegawa's M/M/k
/// approximation u^(sqrt(2(k+1)) - 1) / (k (1 - u)), exactly M/M/1's u/(1-u) for one server,
/// and low far longer for many (an export of 20 pods at 70 % barely queues).
pub fn wait_factor(k: f64, u: f64) -> f64 {
    let k = k.max(1.0);
    let u = u.clamp(0.0, MAX_UTILIZATION);
    u.powf(exponent(k)) / (k * (1.0 - u))
}

/// d/du of u·w(u), the total wait of all traffic per unit of service time: what one more unit
/// of load adds across everyone already there.
pub fn marginal_wait_factor(k: f64, u: f64) -> f64 {
    let k = k.max(1.0);
    let u = u.clamp(0.0, MAX_UTILIZATION);
    let e = exponent(k);
    u.powf(e) * ((e + 1.0) * (1.0 - u) + u) / (k * (1.0 - u) * (1.0 - u))
}

fn exponent(k: f64) -> f64 {
    (2.0 * (k + 1.0)).sqrt() - 1.0
}

/// Figures for `exports`, in order, with `learned` the service time each was last believed to
/// have. Unknown or stale values take the median of the fresh values of the same kind
/// (neutral: neither favoured nor punished), or 0 if none is fresh.
pub fn figures(exports: &[&ExportInput], policy: &Policy, learned: &[Option<f64>]) -> Vec<Figures> {
    let fresh = |m: &Option<Measurement>| {
        m.filter(|m| m.age_s <= policy.max_age_s && m.mean_ms.is_finite() && m.mean_ms >= 0.0)
            .map(|m| m.mean_ms)
    };
    let report = |e: &ExportInput| {
        e.load
            .filter(|r| r.age_s.is_finite() && r.age_s >= 0.0 && r.age_s <= policy.report_expiry_s)
    };
    let rtts: Vec<Option<f64>> = exports.iter().map(|e| fresh(&e.rtt)).collect();
    let probed: Vec<Option<f64>> = exports.iter().map(|e| fresh(&e.latency)).collect();
    let prices: Vec<Option<f64>> = exports
        .iter()
        .map(|e| e.price_per_request.filter(|p| p.is_finite() && *p >= 0.0))
        .collect();
    let mut all: Vec<Figures> =
        exports
            .iter()
            .enumerate()
            .map(|(i, export)| {
                let servers = export.servers.filter(|k| *k > 0).map_or(1.0, f64::from);
                let load = report(export);
                let error = load
                    .and_then(|r| r.error_rate)
                    .or(export.error_rate)
                    .filter(|e| e.is_finite())
                    .unwrap_or(0.0)
                    .clamp(0.0, MAX_ERROR_RATE);
                // Unknown figures stay NaN here and take the neutral value below.
                let (service_ms, utilization, queueing_ms, reported) =
                    service(load, probed[i], servers, learned.get(i).copied().flatten())
                        .unwrap_or((f64::NAN, None, 0.0, false));
                Figures {
                    rtt_ms: rtts[i].unwrap_or(f64::NAN),
                    service_ms,
                    servers,
                    utilization,
                    queueing_ms,
                    price: prices[i].unwrap_or(f64::NAN),
                    tries: 1.0 / (1.0 - error),
                    stale: rtts[i].is_none() || !service_ms.is_finite(),
                    reported,
                }
            })
            .collect();
    fill_missing(&mut all, |f| &mut f.rtt_ms, |f| f.rtt_ms);
    fill_missing(
        &mut all,
        |f| &mut f.service_ms,
        |f| f.service_ms + f.queueing_ms,
    );
    fill_missing(&mut all, |f| &mut f.price, |f| f.price);
    all
}

/// The service time, the utilisation, the queueing delay now, and whether the report stood
/// behind them. A report's in-cluster latency holds the queue's wait at the utilisation it
/// reports, so the service time is de-queued by the model: latency = s·(1 + w(u)). Without a
/// report, the probes' latency is taken as it is, queueing and all. At saturation the
/// `learned` service time stands, and the rest of the latency is queueing.
fn service(
    load: Option<LoadReport>,
    probed_ms: Option<f64>,
    servers: f64,
    learned: Option<f64>,
) -> Option<(f64, Option<f64>, f64, bool)> {
    let valid = |x: Option<f64>| x.filter(|v| v.is_finite() && *v >= 0.0);
    let utilization = load
        .and_then(|r| valid(r.utilization))
        .filter(|u| *u <= MAX_OFFERED_LOAD);
    let reported_ms = load.and_then(|r| valid(r.latency_ms));
    match (reported_ms.or(probed_ms), utilization) {
        (Some(ms), Some(u)) => match learned.filter(|s| *s > 0.0 && u >= SATURATED) {
            Some(service_ms) => Some((
                service_ms,
                Some(u),
                (ms - service_ms).max(0.0),
                reported_ms.is_some(),
            )),
            None => {
                let w = wait_factor(servers, u);
                let service_ms = ms / (1.0 + w);
                Some((service_ms, Some(u), service_ms * w, reported_ms.is_some()))
            }
        },
        (Some(ms), None) => Some((ms, None, 0.0, reported_ms.is_some())),
        (None, _) => None,
    }
}

/// Gives every export whose `field` is unknown (NaN) the median of the others' `neutral`
/// figure. Nothing is worked out when every export has the figure, as nearly every solve does.
fn fill_missing(
    all: &mut [Figures],
    field: fn(&mut Figures) -> &mut f64,
    neutral: fn(&Figures) -> f64,
) {
    if all.iter_mut().all(|f| field(f).is_finite()) {
        return;
    }
    let value = median(all.iter().map(neutral));
    for f in all.iter_mut() {
        let x = field(f);
        if !x.is_finite() {
            *x = value;
        }
    }
}

/// The median of the finite values, 0 if there is none.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut known: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    if known.is_empty() {
        return 0.0;
    }
    known.sort_by(f64::total_cmp);
    let mid = known.len() / 2;
    if known.len() % 2 == 1 {
        known[mid]
    } else {
        (known[mid - 1] + known[mid]) / 2.0
    }
}

/// The `q` quantile (0..1) of `values`, by nearest rank.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_waits_as_m_m_1() {
        for u in [0.1, 0.5, 0.9] {
            assert!((wait_factor(1.0, u) - u / (1.0 - u)).abs() < 1e-12);
            // d/du u²/(1-u) = (2u - u²)/(1-u)²
            let expected = (2.0 * u - u * u) / ((1.0 - u) * (1.0 - u));
            assert!((marginal_wait_factor(1.0, u) - expected).abs() < 1e-9);
        }
    }

    #[test]
    fn the_marginal_wait_is_the_derivative_of_the_total() {
        for k in [1.0, 4.0, 12.0] {
            for u in [0.2, 0.6, 0.85] {
                let h = 1e-6;
                let total = |u: f64| u * wait_factor(k, u);
                let numeric = (total(u + h) - total(u - h)) / (2.0 * h);
                assert!((marginal_wait_factor(k, u) - numeric).abs() < 1e-4 * numeric.max(1.0));
            }
        }
    }
}

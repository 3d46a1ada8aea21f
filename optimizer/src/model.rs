//! Turns raw inputs into the figures the LP works with: stale or missing measurements replaced
//! by neutral values, and the queueing-delay curve of each export with a known capacity.

use crate::belief::ServiceBelief;
use crate::input::{ExportInput, ExportState, Measurement, Policy};

/// Utilisation breakpoints of the queueing curve. Dense near the knee, where M/M/1 delay
/// (u/(1-u)) bends; the last point is a hard cap, since beyond it delay explodes.
const BREAKPOINTS: [f64; 8] = [0.0, 0.3, 0.5, 0.65, 0.75, 0.85, 0.9, 0.95];
/// Utilisation an export is never pushed beyond.
pub const MAX_UTILIZATION: f64 = 0.95;
/// Failed requests are retried; at most this error rate is modelled (beyond, it is ejection's
/// job, not the model's).
const MAX_ERROR_RATE: f64 = 0.9;

/// One eligible export's figures, in the units the LP uses.
#[derive(Debug, Clone)]
pub struct Figures {
    pub rtt_ms: f64,
    pub service_ms: f64,
    pub price: f64,
    /// Expected tries per success, 1/(1 - error rate).
    pub tries: f64,
    /// This cluster's fair part of the export's capacity, requests/s.
    pub fair_capacity_rps: Option<f64>,
    /// Servers behind the export (1 when unknown).
    pub servers: f64,
    /// Whether `fair_capacity_rps` was learned from the service time (none was declared), and
    /// so follows it wherever the service time is set.
    pub capacity_learned: bool,
    /// Whether a measurement (RTT or latency) was missing or stale and a neutral value stood in.
    pub stale: bool,
    /// The belief `service_ms` came from, to carry to the next solve; `None` when no fresh
    /// measurement stood behind it and a neutral value stood in.
    pub belief: Option<ServiceBelief>,
}

impl Figures {
    /// Sets the service time the model uses, and the capacity with it when that is learned.
    fn set_service_ms(&mut self, ms: f64, peers: f64) {
        self.service_ms = ms;
        if self.capacity_learned {
            self.fair_capacity_rps = Some(learned_capacity_rps(self.servers, ms, peers));
        }
    }

    /// Latency per request with no queueing of our own, retries included, ms.
    pub fn base_ms(&self) -> f64 {
        (self.rtt_ms + self.service_ms) * self.tries
    }

    /// The share at which the export reaches utilisation `u` of our fair part, if known.
    pub fn share_at(&self, u: f64, demand_rps: Option<f64>) -> Option<f64> {
        let demand = demand_rps.filter(|d| *d > 0.0)?;
        Some(u * self.fair_capacity_rps? / demand)
    }

    /// Mean queueing delay per unit of service time at utilisation `u`: Sakasegawa's M/M/k
    /// approximation, u^(sqrt(2(k+1)) - 1) / (k (1 - u)), which is exactly M/M/1's u/(1-u) for
    /// one server and stays low far longer for many (an export of 20 pods at 70 % barely queues).
    pub fn wait_factor(&self, u: f64) -> f64 {
        let k = self.servers.max(1.0);
        let exponent = (2.0 * (k + 1.0)).sqrt() - 1.0;
        u.powf(exponent) / (k * (1.0 - u))
    }

    /// The piecewise-linear queueing curve: segments of (share width, extra ms per unit share),
    /// with slopes increasing, so an LP fills them in order.
    ///
    /// Why this model: expected latency through export i is x·(base + q(u)), u = x·D/C, with
    /// q(u) = s·w(u) the M/M/k waiting time for service time s ([`Figures::wait_factor`]). In
    /// terms of u this is (C/D)·s·u·w(u) plus a linear part, and u·w(u) is convex (a product of
    /// increasing convex functions), so its chords form a convex piecewise-linear function an LP
    /// can minimise exactly. Because the slope grows long before u reaches 1, the LP spreads load
    /// *before* an export saturates.
    pub fn queue_segments(&self, demand_rps: Option<f64>) -> Option<Vec<(f64, f64)>> {
        let per_u = self.share_at(1.0, demand_rps)?;
        let wait = |u: f64| u * self.wait_factor(u);
        let segments = BREAKPOINTS
            .windows(2)
            .map(|w| {
                let width = (w[1] - w[0]) * per_u;
                let slope = self.service_ms.max(0.0) * self.tries * (wait(w[1]) - wait(w[0]))
                    / (w[1] - w[0]);
                (width, slope)
            })
            .collect();
        Some(segments)
    }

    /// Queueing delay per request at `share`, ms (0 when capacity or demand is unknown).
    pub fn queueing_ms(&self, share: f64, demand_rps: Option<f64>) -> f64 {
        match self.share_at(1.0, demand_rps) {
            Some(per_u) if per_u > 0.0 => {
                let u = (share / per_u).min(MAX_UTILIZATION);
                self.service_ms.max(0.0) * self.tries * self.wait_factor(u)
            }
            _ => 0.0,
        }
    }

    pub fn utilization(&self, share: f64, demand_rps: Option<f64>) -> Option<f64> {
        self.share_at(1.0, demand_rps)
            .filter(|per_u| *per_u > 0.0)
            .map(|per_u| share / per_u)
    }
}

/// Utilisation above which a measurement is not "de-queued": near saturation the M/M/1 inverse
/// would amplify noise.
const MAX_DEQUEUE_UTILIZATION: f64 = 0.9;

/// Figures for `exports`, in order. Unknown or stale values take the median of the fresh
/// values of the same kind (neutral: neither favoured nor punished), or 0 if none is fresh.
///
/// A measured service latency already contains the queueing that our own previous share caused;
/// the model adds queueing for the share it chooses, so it would count that twice, and the
/// solve would swing away from an export it loaded and back when it idled. Where capacity and
/// demand are known, the measurement is therefore de-queued by inverting the model: the sojourn
/// time is s·(1 + w(u)), so s = measured / (1 + w(u)) at the previous share's utilisation.
pub fn figures(
    exports: &[&ExportInput],
    policy: &Policy,
    previous: &[Option<ExportState>],
) -> Vec<Figures> {
    let previous_shares: Vec<f64> = previous
        .iter()
        .map(|p| p.map_or(0.0, |p| p.share))
        .collect();
    let fresh = |m: &Option<Measurement>| {
        m.filter(|m| m.age_s <= policy.max_age_s && m.mean_ms.is_finite() && m.mean_ms >= 0.0)
            .map(|m| m.mean_ms)
    };
    let rtts: Vec<Option<f64>> = exports.iter().map(|e| fresh(&e.rtt)).collect();
    let services: Vec<Option<f64>> = exports.iter().map(|e| fresh(&e.latency)).collect();
    let prices: Vec<Option<f64>> = exports
        .iter()
        .map(|e| e.price_per_request.filter(|p| p.is_finite() && *p >= 0.0))
        .collect();
    let (rtt_neutral, _, price_neutral) = (median(&rtts), median(&services), median(&prices));
    let peers = f64::from(policy.peers.max(1));
    let mut all: Vec<Figures> = exports
        .iter()
        .enumerate()
        .map(|(i, export)| {
            let error = export
                .error_rate
                .filter(|e| e.is_finite())
                .unwrap_or(0.0)
                .clamp(0.0, MAX_ERROR_RATE);
            let fair_capacity_rps = export
                .capacity_rps
                .filter(|c| c.is_finite() && *c > 0.0)
                .map(|c| c / peers);
            let previous_u = match (fair_capacity_rps, policy.demand_rps) {
                (Some(c), Some(d)) if d > 0.0 && export.latency_under_load => {
                    (previous_shares.get(i).copied().unwrap_or(0.0) * d / c)
                        .clamp(0.0, MAX_DEQUEUE_UTILIZATION)
                }
                _ => 0.0,
            };
            let servers = export.servers.filter(|k| *k > 0).map_or(1.0, f64::from);
            let mut figures = Figures {
                rtt_ms: rtts[i].unwrap_or(rtt_neutral),
                // Filled in below, once the measured ones are known.
                service_ms: f64::NAN,
                price: prices[i].unwrap_or(price_neutral),
                tries: 1.0 / (1.0 - error),
                fair_capacity_rps,
                servers,
                stale: rtts[i].is_none() || services[i].is_none(),
                belief: None,
                capacity_learned: false,
            };
            if let Some(measured) = services[i] {
                figures.capacity_learned =
                    figures.fair_capacity_rps.is_none() && export.servers.is_some_and(|k| k > 0);
                let service_ms = if figures.capacity_learned {
                    dequeue_learning_capacity(&figures, measured, policy, previous_shares.get(i))
                } else {
                    measured / (1.0 + figures.wait_factor(previous_u))
                };
                // A service time is a property of the servers: it changes seldom, while each
                // probe's sample of it scatters as widely as requests do (CV about 1). The
                // belief averages the readings, so their noise no longer moves shares.
                let belief = match previous.get(i).and_then(|p| p.and_then(|p| p.service)) {
                    Some(before) => before.fold(service_ms),
                    None => ServiceBelief::new(service_ms),
                };
                figures.belief = Some(belief);
                figures.set_service_ms(belief.ms, peers);
            }
            figures
        })
        .collect();
    // The neutral service time is the median of the estimates the model actually uses
    // (de-queued and smoothed), so an unmeasured export is neither favoured nor punished.
    let measured: Vec<Option<f64>> = all.iter().map(|f| f.belief.map(|b| b.ms)).collect();
    let neutral = median(&measured);
    for (f, export) in all.iter_mut().zip(exports) {
        match f.belief {
            None => f.service_ms = neutral,
            // A few probes say little (one sample of a CV-1 distribution may be a quarter of
            // the mean), and a cold export believed fast draws every cluster at once: its real
            // queue then reads as a slow service time for minutes. Until its belief settles, a
            // probed export counts as no faster than the median. Declared figures are the
            // operator's word and stand as they are.
            Some(belief)
                if export.latency_under_load && !belief.settled() && belief.ms < neutral =>
            {
                f.set_service_ms(neutral, peers);
            }
            Some(_) => {}
        }
    }
    all
}

/// Our fair part of what k servers that each take `service_ms` can serve: M/M/k's own capacity,
/// k·1000/s requests a second, over `peers`.
fn learned_capacity_rps(servers: f64, service_ms: f64, peers: f64) -> f64 {
    servers * 1e3 / service_ms / peers
}

/// Rounds of the fixed point in [`dequeue_learning_capacity`]; it settles in a handful.
const CAPACITY_ROUNDS: usize = 8;

/// Without a declared capacity, k servers that each take s ms can serve k·1000/s requests a
/// second: M/M/k's own capacity, from the measured service time. Capacity and the de-queued
/// service time depend on each other (the measurement holds queueing our previous share caused
/// at a utilisation that depends on the capacity), so they are found together by a fixed point;
/// this returns the de-queued service time, from which the caller sets the capacity. It is what
/// lets Aviator tell a fast export from a slow one of the same size, which counting pods cannot.
fn dequeue_learning_capacity(
    figures: &Figures,
    measured_ms: f64,
    policy: &Policy,
    previous: Option<&f64>,
) -> f64 {
    let peers = f64::from(policy.peers.max(1));
    let own_rps = policy
        .demand_rps
        .filter(|d| *d > 0.0)
        .map(|d| d * previous.copied().unwrap_or(0.0));
    let mut service_ms = measured_ms.max(1e-3);
    for _ in 0..CAPACITY_ROUNDS {
        let fair = learned_capacity_rps(figures.servers, service_ms, peers);
        let u = own_rps.map_or(0.0, |r| (r / fair).clamp(0.0, MAX_DEQUEUE_UTILIZATION));
        service_ms = (measured_ms / (1.0 + figures.wait_factor(u))).max(1e-3);
    }
    service_ms
}

fn median(values: &[Option<f64>]) -> f64 {
    let mut known: Vec<f64> = values.iter().flatten().copied().collect();
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

//! gRPC's client-side weighted round-robin over ORCA load reports (gRFC A58,
//! `weighted_round_robin`), picking per request: a gRPC channel chooses a subchannel for every
//! call, so, like the sidecar policies, it is not slowed by DNS caches. Each export is one
//! subchannel.
//!
//! A58 as written: an endpoint's weight is `qps / (utilization + eps/qps × penalty)` with
//! `error_utilization_penalty` 1.0; a report with zero utilization or zero qps leaves the weight
//! as it was; a weight counts only once the endpoint has reported for the 10 s blackout period
//! and until 3 minutes pass without a report (then the blackout starts again); weights are
//! recomputed every second (the tick) into a new earliest-deadline-first scheduler whose
//! deadlines start at random points of their periods, so clients do not synchronise; endpoints
//! without a usable weight get the mean of the others, and with fewer than two usable weights
//! every endpoint weighs the same (round-robin). Only READY subchannels are scheduled: here the
//! exports the control plane calls ready.
//!
//! The load reports are the exporters' own (`env.reports`, written every ~2 s): utilization and
//! error rate (eps/qps) from them, and qps from the exporter's count of requests over the same
//! window (`env.served_rps`), as an ORCA server reports its own qps. A new report is taken when
//! the tick sees it, which is when this client "receives" it.

use super::{Context, Env, Policy};
use crate::rng::{self, Stream};

const BLACKOUT_S: f64 = 10.0;
const EXPIRATION_S: f64 = 180.0;
const ERROR_UTILIZATION_PENALTY: f64 = 1.0;

/// A58's weight from one report; 0 when the report carries no load.
fn weight(qps: f64, eps_over_qps: f64, utilization: f64) -> f64 {
    let mut utilization = utilization;
    if utilization > 0.0 && qps > 0.0 {
        utilization += eps_over_qps * ERROR_UTILIZATION_PENALTY;
    }
    if utilization == 0.0 {
        0.0
    } else {
        qps / utilization
    }
}

/// One subchannel's weight with A58's two timestamps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Tracked {
    weight: f64,
    /// When the first non-zero report since the last reset came.
    non_empty_since: Option<f64>,
    /// When the last non-zero report came.
    last_updated: Option<f64>,
}

impl Tracked {
    fn update(&mut self, now: f64, qps: f64, eps_over_qps: f64, utilization: f64) {
        let w = weight(qps, eps_over_qps, utilization);
        if w == 0.0 {
            return;
        }
        if self.non_empty_since.is_none() {
            self.non_empty_since = Some(now);
        }
        self.last_updated = Some(now);
        self.weight = w;
    }

    /// The subchannel (re)became READY: the blackout starts again at its next report.
    fn ready_again(&mut self) {
        self.non_empty_since = None;
    }

    /// The weight to schedule with now; 0 while in blackout or expired.
    fn get(&mut self, now: f64) -> f64 {
        let Some(last) = self.last_updated else {
            return 0.0;
        };
        if now - last >= EXPIRATION_S {
            self.non_empty_since = None;
            return 0.0;
        }
        match self.non_empty_since {
            Some(since) if now - since >= BLACKOUT_S => self.weight,
            _ => 0.0,
        }
    }
}

/// The weights a scheduler uses: unusable ones (0) get the mean of the usable; with fewer than
/// two usable, all the same.
fn scheduled_weights(weights: &[f64]) -> Vec<f64> {
    let usable: Vec<f64> = weights.iter().copied().filter(|&w| w > 0.0).collect();
    if usable.len() < 2 {
        return vec![1.0; weights.len()];
    }
    let mean = usable.iter().sum::<f64>() / usable.len() as f64;
    weights
        .iter()
        .map(|&w| if w > 0.0 { w } else { mean })
        .collect()
}

/// Earliest deadline first over `(export, weight)`: each entry's period is 1/weight; deadlines
/// start at a random point of the first period.
#[derive(Debug, Clone, Default)]
struct Edf {
    /// (deadline, order, export, period).
    entries: Vec<(f64, u64, usize, f64)>,
    order: u64,
}

impl Edf {
    fn new(exports: &[usize], weights: &[f64], offsets: &[f64]) -> Self {
        let entries = exports
            .iter()
            .zip(weights)
            .zip(offsets)
            .enumerate()
            .map(|(i, ((&export, &w), &u))| {
                let period = 1.0 / w;
                (u * period, i as u64, export, period)
            })
            .collect::<Vec<_>>();
        Self {
            order: entries.len() as u64,
            entries,
        }
    }

    fn pick(&mut self) -> Option<usize> {
        let i = (0..self.entries.len()).min_by(|&a, &b| {
            let (x, y) = (&self.entries[a], &self.entries[b]);
            x.0.total_cmp(&y.0).then(x.1.cmp(&y.1))
        })?;
        let entry = &mut self.entries[i];
        entry.0 += entry.3;
        entry.1 = self.order;
        self.order += 1;
        Some(entry.2)
    }

    fn shares(&self, n: usize) -> Vec<f64> {
        let total: f64 = self.entries.iter().map(|e| 1.0 / e.3).sum();
        let mut shares = vec![0.0; n];
        for e in &self.entries {
            shares[e.2] = 1.0 / e.3 / total;
        }
        shares
    }
}

pub struct GrpcWrr {
    tracked: Vec<Tracked>,
    /// The measurement time of the last report taken from each exporter.
    seen: Vec<Option<f64>>,
    /// READY as of the last look.
    ready: Vec<bool>,
    scheduler: Edf,
    rng: Stream,
}

impl GrpcWrr {
    pub fn new(context: Context<'_>) -> Self {
        let n = context.exports.len();
        Self {
            tracked: vec![Tracked::default(); n],
            seen: vec![None; n],
            ready: Vec::new(),
            scheduler: Edf::default(),
            rng: context.rng,
        }
    }

    /// A new picker: the READY subchannels with their current weights.
    fn rebuild(&mut self, now: f64, env: &Env<'_>) {
        for (i, &ready) in env.ready.iter().enumerate() {
            if ready && !self.ready.get(i).copied().unwrap_or(true) {
                self.tracked[i].ready_again();
            }
        }
        self.ready = env.ready.to_vec();
        let exports = env.candidates();
        let raw: Vec<f64> = exports.iter().map(|&i| self.tracked[i].get(now)).collect();
        let weights = scheduled_weights(&raw);
        let offsets: Vec<f64> = exports.iter().map(|_| rng::unit(&mut self.rng)).collect();
        self.scheduler = Edf::new(&exports, &weights, &offsets);
    }
}

impl Policy for GrpcWrr {
    fn answer(&mut self, now: f64, env: &Env<'_>) -> usize {
        if self.ready != env.ready {
            // A subchannel changed state: gRPC builds a new picker at once.
            self.rebuild(now, env);
        }
        match self.scheduler.pick() {
            Some(export) => export,
            None => {
                let candidates = env.candidates();
                candidates[rng::index(&mut self.rng, candidates.len())]
            }
        }
    }

    fn tick(&mut self, now: f64, env: &Env<'_>) {
        for i in 0..self.tracked.len() {
            let Some(report) = env.reports.get(i).copied().flatten() else {
                continue;
            };
            let measured = now - report.age_s;
            if self.seen[i].is_some_and(|t| (t - measured).abs() < 1e-9) {
                continue;
            }
            self.seen[i] = Some(measured);
            let qps = env.served_rps.get(i).copied().flatten().unwrap_or(0.0);
            self.tracked[i].update(
                now,
                qps,
                report.error_rate.unwrap_or(0.0),
                report.utilization.unwrap_or(0.0),
            );
        }
        self.rebuild(now, env);
    }

    fn shares(&self, _env: &Env<'_>) -> Option<Vec<f64>> {
        (!self.scheduler.entries.is_empty()).then(|| self.scheduler.shares(self.tracked.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weight_is_qps_over_utilization_plus_the_error_penalty() {
        // 100 qps at 50 % busy: 200. With 10 % errors: 100 / (0.5 + 0.1 × 1.0).
        assert_eq!(weight(100.0, 0.0, 0.5), 200.0);
        assert!((weight(100.0, 0.1, 0.5) - 100.0 / 0.6).abs() < 1e-9);
        // No utilization: no weight; no qps: no penalty either.
        assert_eq!(weight(100.0, 0.1, 0.0), 0.0);
        assert_eq!(weight(0.0, 0.5, 0.5), 0.0);
    }

    #[test]
    fn a_weight_counts_after_the_blackout_and_until_it_expires() {
        let mut t = Tracked::default();
        t.update(0.0, 100.0, 0.0, 0.5);
        assert_eq!(t.get(9.9), 0.0, "in blackout");
        t.update(10.0, 100.0, 0.0, 0.25);
        assert_eq!(t.get(10.0), 400.0);
        assert_eq!(t.get(190.0), 0.0, "3 minutes without a report");
        t.update(191.0, 100.0, 0.0, 0.5);
        assert_eq!(t.get(195.0), 0.0, "a new blackout after expiry");
        assert_eq!(t.get(201.0), 200.0);
        t.ready_again();
        t.update(202.0, 100.0, 0.0, 0.5);
        assert_eq!(t.get(205.0), 0.0, "and after the subchannel reconnects");
    }

    #[test]
    fn unusable_weights_get_the_mean_and_too_few_mean_round_robin() {
        assert_eq!(
            scheduled_weights(&[100.0, 300.0, 0.0]),
            vec![100.0, 300.0, 200.0]
        );
        assert_eq!(scheduled_weights(&[100.0, 0.0, 0.0]), vec![1.0, 1.0, 1.0]);
    }

    #[test]
    fn edf_picks_in_proportion_to_weight() {
        let mut edf = Edf::new(&[0, 1], &[1.0, 3.0], &[0.0, 0.0]);
        let mut count = [0u32; 2];
        for _ in 0..400 {
            count[edf.pick().unwrap()] += 1;
        }
        assert!(
            count[0].abs_diff(100) <= 1 && count[1].abs_diff(300) <= 1,
            "{count:?}"
        );
        assert_eq!(edf.shares(2), vec![0.25, 0.75]);
    }
}

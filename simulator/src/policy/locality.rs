//! The mesh policies: Istio's locality failover and Envoy's load-aware locality. Both pick per
//! request in a sidecar, so DNS caching does not slow them, and both eject exports that fail
//! requests (Envoy's outlier detection: 5 consecutive failures, 30 s × ejections, at most 10 %
//! of hosts but always one).

use super::{Context, Env, Policy, weighted_pick};
use crate::rng::Stream;

/// Envoy's overprovisioning factor: a priority keeps all traffic until its health drops below
/// 1/1.4.
const OVERPROVISIONING: f64 = 1.4;

/// Outlier detection over request outcomes.
struct Outliers {
    consecutive: Vec<u32>,
    ejections: Vec<u32>,
    until: Vec<f64>,
}

impl Outliers {
    const FAILURES: u32 = 5;
    const BASE_S: f64 = 30.0;
    const MAX_FRACTION: f64 = 0.1;

    fn new(n: usize) -> Self {
        Self {
            consecutive: vec![0; n],
            ejections: vec![0; n],
            until: vec![f64::NEG_INFINITY; n],
        }
    }

    fn ejected(&self, i: usize, now: f64) -> bool {
        now < self.until[i]
    }

    fn observe(&mut self, now: f64, i: usize, ok: bool) {
        if ok {
            self.consecutive[i] = 0;
            return;
        }
        self.consecutive[i] += 1;
        let n = self.until.len();
        let ejected = (0..n).filter(|&j| self.ejected(j, now)).count();
        let bound = ((n as f64 * Self::MAX_FRACTION).floor() as usize).max(1);
        if self.consecutive[i] >= Self::FAILURES && !self.ejected(i, now) && ejected < bound {
            self.ejections[i] += 1;
            self.until[i] = now + Self::BASE_S * f64::from(self.ejections[i]);
            self.consecutive[i] = 0;
        }
    }

    /// Ready by the control plane and not ejected; fails open to the ready ones.
    fn healthy(&self, env: &Env<'_>, now: f64) -> Vec<bool> {
        let healthy: Vec<bool> = (0..env.ready.len())
            .map(|i| env.ready[i] && !self.ejected(i, now))
            .collect();
        if healthy.iter().any(|&h| h) {
            healthy
        } else {
            env.ready.to_vec()
        }
    }
}

/// Splits traffic over priorities, Envoy style: each priority takes min(1, 1.4 × health) of
/// what is left, the last takes the rest. `levels[i]` is export i's priority and `health[i]`
/// its health (0..1); within a priority, traffic follows `weights`.
fn spill(levels: &[usize], health: &[f64], weights: &[f64]) -> Vec<f64> {
    let n = levels.len();
    let top = levels.iter().copied().max().unwrap_or(0);
    let mut shares = vec![0.0; n];
    let mut left = 1.0;
    for level in 0..=top {
        let members: Vec<usize> = (0..n).filter(|&i| levels[i] == level).collect();
        let capacity: f64 = members.iter().map(|&i| weights[i]).sum();
        if capacity <= 0.0 {
            continue;
        }
        let healthy: f64 = members.iter().map(|&i| weights[i] * health[i]).sum();
        if healthy <= 0.0 {
            continue;
        }
        let take = left * (OVERPROVISIONING * healthy / capacity).min(1.0);
        for &i in &members {
            shares[i] += take * weights[i] * health[i] / healthy;
        }
        left -= take;
        if left <= 1e-12 {
            break;
        }
    }
    if left > 1e-12 {
        // Nothing healthy enough anywhere: what is left goes where the health is.
        let total: f64 = (0..n).map(|i| weights[i] * health[i]).sum();
        for i in 0..n {
            if total > 0.0 {
                shares[i] += left * weights[i] * health[i] / total;
            }
        }
    }
    shares
}

/// Istio locality failover: same zone, then same region, then same provider, then the rest;
/// within a locality, by pods.
pub struct Failover {
    levels: Vec<usize>,
    pods: Vec<f64>,
    outliers: Outliers,
    rng: Stream,
    now: f64,
}

impl Failover {
    pub fn new(context: Context<'_>) -> Self {
        let me = &context.scenario.sites[context.client_site()];
        let levels = context
            .exports
            .iter()
            .map(|&e| {
                let s = &context.scenario.sites[e];
                match () {
                    _ if s.provider == me.provider && s.zone == me.zone => 0,
                    _ if s.provider == me.provider && s.region == me.region => 1,
                    _ if s.provider == me.provider => 2,
                    _ => 3,
                }
            })
            .collect();
        Self {
            levels,
            pods: context.pods(),
            outliers: Outliers::new(context.exports.len()),
            rng: context.rng,
            now: 0.0,
        }
    }

    fn split(&self, now: f64, env: &Env<'_>) -> Vec<f64> {
        let health: Vec<f64> = self
            .outliers
            .healthy(env, now)
            .iter()
            .map(|&h| f64::from(u8::from(h)))
            .collect();
        spill(&self.levels, &health, &self.pods)
    }
}

impl Policy for Failover {
    fn answer(&mut self, now: f64, env: &Env<'_>) -> usize {
        self.now = now;
        let shares = self.split(now, env);
        let all: Vec<usize> = (0..shares.len()).collect();
        weighted_pick(&mut self.rng, &all, &shares)
    }

    fn observe(&mut self, now: f64, export: usize, ok: bool) {
        self.outliers.observe(now, export, ok);
    }

    fn shares(&self, env: &Env<'_>) -> Option<Vec<f64>> {
        Some(self.split(self.now, env))
    }
}

/// Envoy's load-aware locality policy (`envoy.load_balancing_policies.load_aware_locality`,
/// its proto's defaults: `utilization_variance_threshold` 0.1, `ewma_alpha` 0.3,
/// `probe_percentage` 0.03, `weight_update_period` 1 s, `weight_expiration_period` 3 min), one
/// locality per export. Every second: each locality's utilisation from its hosts' load reports
/// younger than 3 minutes, smoothed by an EWMA of 0.3 (the first sample taken raw); a locality
/// with no fresh report weighs its healthy host count, the others host count × headroom
/// (1 - utilisation); if the local locality's utilisation is at most 0.1 above the remote
/// average (weighted by host count), everything goes local; then the remotes get at least 3 %
/// between them, taken from the local weight and split by host count. Requests pick a locality
/// at random by these weights. The load reports are the exporters' (`env.reports`, written
/// every ~2 s, so what Envoy sees is that old), and a host counts when the control plane has it
/// ready and outlier detection has not ejected it.
pub struct LoadAware {
    local: Option<usize>,
    pods: Vec<f64>,
    /// Smoothed utilisation per locality; `None` before its first report.
    smoothed: Vec<Option<f64>>,
    weights: Vec<f64>,
    outliers: Outliers,
    rng: Stream,
    now: f64,
}

impl LoadAware {
    const EWMA_ALPHA: f64 = 0.3;
    const VARIANCE_THRESHOLD: f64 = 0.1;
    const PROBE_FRACTION: f64 = 0.03;
    const EXPIRATION_S: f64 = 180.0;

    pub fn new(context: Context<'_>) -> Self {
        let n = context.exports.len();
        let pods = context.pods();
        Self {
            local: context.local(),
            weights: pods.clone(),
            pods,
            smoothed: vec![None; n],
            outliers: Outliers::new(n),
            rng: context.rng,
            now: 0.0,
        }
    }
}

/// One recompute of the load-aware locality weights. `hosts[i]`: locality i's healthy host
/// count; `fresh[i]`: its hosts' average reported utilisation if any report is fresh;
/// `smoothed`: the EWMA state, updated; `local`: the local locality, if the client has one.
fn load_aware_weights(
    hosts: &[f64],
    fresh: &[Option<f64>],
    smoothed: &mut [Option<f64>],
    local: Option<usize>,
    alpha: f64,
    variance_threshold: f64,
    probe_fraction: f64,
) -> Vec<f64> {
    let n = hosts.len();
    let mut stale = vec![false; n];
    for i in 0..n {
        match (fresh[i].filter(|_| hosts[i] > 0.0), smoothed[i]) {
            (Some(u), Some(prev)) => smoothed[i] = Some(alpha * u + (1.0 - alpha) * prev),
            (Some(u), None) => smoothed[i] = Some(u),
            (None, _) => stale[i] = true,
        }
    }
    let util = |i: usize| smoothed[i].unwrap_or(0.0);
    let mut weights: Vec<f64> = (0..n)
        .map(|i| {
            if stale[i] {
                hosts[i]
            } else {
                hosts[i] * (1.0 - util(i)).max(0.0)
            }
        })
        .collect();
    let total_hosts: f64 = hosts.iter().sum();
    if let Some(l) = local {
        let remotes: Vec<usize> = (0..n).filter(|&i| i != l).collect();
        let remote_hosts: f64 = remotes.iter().map(|&i| hosts[i]).sum();
        if total_hosts > 0.0 && weights[l] > 0.0 {
            let remote_util = if remote_hosts > 0.0 {
                remotes.iter().map(|&i| util(i) * hosts[i]).sum::<f64>() / remote_hosts
            } else {
                0.0
            };
            if util(l) <= remote_util + variance_threshold {
                weights = vec![0.0; n];
                weights[l] = 1.0;
            }
        } else if total_hosts == 0.0 {
            weights = vec![0.0; n];
            weights[l] = 1.0;
        }
        if remote_hosts > 0.0 && probe_fraction > 0.0 {
            let total: f64 = weights.iter().sum();
            let remote: f64 = total - weights[l];
            if total > 0.0 && remote < total * probe_fraction {
                let take = (total * probe_fraction - remote).min(weights[l]);
                weights[l] -= take;
                for &i in &remotes {
                    weights[i] += take * hosts[i] / remote_hosts;
                }
            }
        }
    }
    if weights.iter().sum::<f64>() == 0.0 && total_hosts > 0.0 {
        weights = hosts.to_vec();
    }
    weights
}

impl Policy for LoadAware {
    fn answer(&mut self, now: f64, env: &Env<'_>) -> usize {
        self.now = now;
        let all: Vec<usize> = (0..self.weights.len()).collect();
        if self.weights.iter().sum::<f64>() > 0.0 {
            weighted_pick(&mut self.rng, &all, &self.weights)
        } else {
            // Nothing healthy at the last recompute: Envoy's panic mode, every host.
            weighted_pick(&mut self.rng, &env.candidates(), &self.pods)
        }
    }

    fn tick(&mut self, now: f64, env: &Env<'_>) {
        self.now = now;
        let healthy = self.outliers.healthy(env, now);
        let hosts: Vec<f64> = (0..self.pods.len())
            .map(|i| if healthy[i] { self.pods[i] } else { 0.0 })
            .collect();
        let fresh: Vec<Option<f64>> = (0..self.pods.len())
            .map(|i| {
                env.reports
                    .get(i)
                    .copied()
                    .flatten()
                    .filter(|r| r.age_s <= Self::EXPIRATION_S)
                    .and_then(|r| r.utilization)
            })
            .collect();
        self.weights = load_aware_weights(
            &hosts,
            &fresh,
            &mut self.smoothed,
            self.local,
            Self::EWMA_ALPHA,
            Self::VARIANCE_THRESHOLD,
            Self::PROBE_FRACTION,
        );
    }

    fn observe(&mut self, now: f64, export: usize, ok: bool) {
        self.outliers.observe(now, export, ok);
    }

    fn shares(&self, _env: &Env<'_>) -> Option<Vec<f64>> {
        let total: f64 = self.weights.iter().sum();
        (total > 0.0).then(|| self.weights.iter().map(|w| w / total).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_spill_only_when_health_falls_below_one_over_the_overprovisioning() {
        let levels = [0, 0, 1];
        let weights = [1.0, 1.0, 2.0];
        // Half of the local pods unhealthy: 1.4 × 0.5 = 0.7 stays local.
        let shares = spill(&levels, &[1.0, 0.0, 1.0], &weights);
        assert!(
            (shares[0] - 0.7).abs() < 1e-9 && (shares[2] - 0.3).abs() < 1e-9,
            "{shares:?}"
        );
        // Fully healthy: everything local, split by weight.
        let shares = spill(&levels, &[1.0, 1.0, 1.0], &weights);
        assert_eq!(shares, vec![0.5, 0.5, 0.0]);
    }

    fn weights(hosts: &[f64], fresh: &[Option<f64>], smoothed: &mut [Option<f64>]) -> Vec<f64> {
        load_aware_weights(hosts, fresh, smoothed, Some(0), 0.3, 0.1, 0.03)
    }

    #[test]
    fn load_aware_spills_by_headroom_once_local_is_past_the_band() {
        // The proto documentation's example: local 0.7 against remotes 0.3 and 0.4 (average
        // 0.35): 0.7 > 0.45, so weights are hosts × headroom, 3 : 7 : 6.
        let mut smoothed = [None; 3];
        let w = weights(
            &[10.0, 10.0, 10.0],
            &[Some(0.7), Some(0.3), Some(0.4)],
            &mut smoothed,
        );
        let total: f64 = w.iter().sum();
        let shares: Vec<f64> = w.iter().map(|x| x / total).collect();
        assert!((shares[0] - 3.0 / 16.0).abs() < 1e-9, "{shares:?}");
        assert!((shares[1] - 7.0 / 16.0).abs() < 1e-9, "{shares:?}");
    }

    #[test]
    fn load_aware_stays_local_within_the_band_but_for_the_probe_share() {
        // Local 0.44 is within 0.1 of the remotes' 0.35: all local, less 3 % split by hosts.
        let mut smoothed = [None; 3];
        let w = weights(
            &[10.0, 10.0, 30.0],
            &[Some(0.44), Some(0.3), Some(0.3667)],
            &mut smoothed,
        );
        let total: f64 = w.iter().sum();
        assert!((w[0] / total - 0.97).abs() < 1e-9, "{w:?}");
        assert!((w[1] / total - 0.0075).abs() < 1e-9, "{w:?}");
        assert!((w[2] / total - 0.0225).abs() < 1e-9, "{w:?}");
    }

    #[test]
    fn load_aware_smooths_by_ewma_and_expired_localities_weigh_their_hosts() {
        let mut smoothed = [None; 2];
        weights(&[10.0, 10.0], &[Some(0.2), Some(0.2)], &mut smoothed);
        assert_eq!(smoothed[0], Some(0.2), "the first sample is taken raw");
        weights(&[10.0, 10.0], &[Some(1.0), Some(0.2)], &mut smoothed);
        assert!((smoothed[0].unwrap() - (0.3 * 1.0 + 0.7 * 0.2)).abs() < 1e-12);
        // One more report of 1.0 makes 0.3 + 0.7 × 0.44 = 0.608.
        let w = weights(&[10.0, 10.0], &[Some(1.0), None], &mut smoothed);
        assert!((smoothed[0].unwrap() - 0.608).abs() < 1e-9);
        // The remote's report expired: it weighs its 10 hosts; local 10 × 0.392.
        assert!((w[0] - 3.92).abs() < 1e-9 && w[1] == 10.0, "{w:?}");
    }
}

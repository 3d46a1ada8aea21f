//! The mesh policies: Istio's locality failover and Envoy's load-aware locality. Both pick per
//! request in a sidecar, so DNS caching does not slow them, and both eject exports that fail
//! requests (Envoy's outlier detection: 5 consecutive failures, 30 s × ejections, at most 10 %
//! of hosts but always one).

use super::{Context, Env, Policy, proportional, weighted_pick};
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

/// Envoy load-aware locality: the local zone keeps its traffic until its reported utilisation
/// passes 80 %, then its health falls linearly to 0 at 100 % and traffic spills to the other
/// localities by headroom; every remote keeps at least a 3 % probe share.
pub struct LoadAware {
    local: Option<usize>,
    pods: Vec<f64>,
    utilization: Vec<f64>,
    shares: Vec<f64>,
    outliers: Outliers,
    rng: Stream,
    now: f64,
}

impl LoadAware {
    const EWMA: f64 = 0.3;
    const TARGET: f64 = 0.8;
    const PROBE_SHARE: f64 = 0.03;

    pub fn new(context: Context<'_>) -> Self {
        let n = context.exports.len();
        Self {
            local: context.local(),
            pods: context.pods(),
            utilization: vec![0.0; n],
            shares: vec![1.0 / n as f64; n],
            outliers: Outliers::new(n),
            rng: context.rng,
            now: 0.0,
        }
    }

    fn recompute(&mut self, env: &Env<'_>) {
        let n = self.pods.len();
        let healthy = self.outliers.healthy(env, self.now);
        let headroom: Vec<f64> = (0..n)
            .map(|i| {
                let room = (1.0 - self.utilization[i]).max(0.05);
                if healthy[i] { self.pods[i] * room } else { 0.0 }
            })
            .collect();
        let remotes: Vec<usize> = (0..n)
            .filter(|&i| Some(i) != self.local && healthy[i])
            .collect();
        let local_share = match self.local.filter(|&l| healthy[l]) {
            Some(l) => {
                let u = self.utilization[l];
                let health = ((1.0 - u) / (1.0 - Self::TARGET)).clamp(0.0, 1.0);
                let keep = (OVERPROVISIONING * health).min(1.0);
                if remotes.is_empty() {
                    1.0
                } else {
                    keep.min(1.0 - Self::PROBE_SHARE * remotes.len() as f64)
                }
            }
            None => 0.0,
        };
        let mut shares = proportional(n, &remotes, &headroom);
        for s in &mut shares {
            *s *= 1.0 - local_share;
        }
        if let Some(l) = self.local.filter(|&l| healthy[l]) {
            shares[l] = local_share;
        }
        // Every healthy remote keeps its probe share; the rest is scaled to fit.
        let floor = Self::PROBE_SHARE;
        let short: f64 = remotes.iter().map(|&i| (floor - shares[i]).max(0.0)).sum();
        if short > 0.0 {
            let above: f64 = (0..n)
                .filter(|&i| shares[i] > floor)
                .map(|i| shares[i] - floor)
                .sum();
            for (i, share) in shares.iter_mut().enumerate() {
                if remotes.contains(&i) && *share < floor {
                    *share = floor;
                } else if *share > floor && above > 0.0 {
                    *share -= short * (*share - floor) / above;
                }
            }
        }
        if shares.iter().sum::<f64>() <= 0.0 {
            shares = proportional(n, &env.candidates(), &self.pods);
        }
        self.shares = shares;
    }
}

impl Policy for LoadAware {
    fn answer(&mut self, now: f64, env: &Env<'_>) -> usize {
        self.now = now;
        let all: Vec<usize> = (0..self.shares.len()).collect();
        let pick = weighted_pick(&mut self.rng, &all, &self.shares);
        if env.ready[pick] || !env.ready.iter().any(|&r| r) {
            pick
        } else {
            weighted_pick(&mut self.rng, &env.candidates(), &self.pods)
        }
    }

    fn tick(&mut self, now: f64, env: &Env<'_>) {
        self.now = now;
        for (estimate, &reported) in self.utilization.iter_mut().zip(env.utilization) {
            *estimate = (1.0 - Self::EWMA) * *estimate + Self::EWMA * reported;
        }
        self.recompute(env);
    }

    fn observe(&mut self, now: f64, export: usize, ok: bool) {
        self.outliers.observe(now, export, ok);
    }

    fn shares(&self, _env: &Env<'_>) -> Option<Vec<f64>> {
        Some(self.shares.clone())
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
}

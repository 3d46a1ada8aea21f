//! The static policies users have today: Lighthouse's local-first round-robin, plain
//! round-robin, and weighted round-robin by pod count.

use super::{Context, Env, Policy, proportional, weighted_pick};
use crate::rng::Stream;

/// Smooth weighted round-robin as Submariner's admiral `loadbalancer` package implements it
/// (nginx's algorithm): every pick adds each item's effective weight to its current weight and
/// takes the largest, which then gives back the total; a skipped item's effective weight drops
/// by its weight and climbs back by one per pick. Items are the exports, in their order.
#[derive(Debug, Clone)]
struct SmoothWrr {
    weight: Vec<i64>,
    effective: Vec<i64>,
    current: Vec<i64>,
}

impl SmoothWrr {
    fn new(weights: Vec<i64>) -> Self {
        Self {
            effective: weights.clone(),
            current: vec![0; weights.len()],
            weight: weights,
        }
    }

    fn next(&mut self) -> usize {
        let mut best = 0;
        let mut total = 0;
        for i in 0..self.weight.len() {
            self.current[i] += self.effective[i];
            if self.effective[i] < self.weight[i] {
                self.effective[i] += 1;
            }
            total += self.effective[i];
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= total;
        best
    }

    fn skip(&mut self, item: usize) {
        self.effective[item] = (self.effective[item] - self.weight[item]).max(0);
    }

    /// Lighthouse's `selectIP`: up to one full round of picks, skipping the ineligible, until
    /// an eligible one comes up.
    fn select(&mut self, eligible: impl Fn(usize) -> bool) -> Option<usize> {
        for _ in 0..self.weight.len() {
            let item = self.next();
            if eligible(item) {
                return Some(item);
            }
            self.skip(item);
        }
        None
    }
}

/// Submariner Lighthouse, as its resolver does it: the local export whenever its endpoints are
/// healthy; otherwise smooth weighted round-robin with every weight 1 over all the exports,
/// skipping those not ready or not connected. With none eligible Lighthouse answers NODATA;
/// here the client then takes the next in the rotation (fail open).
pub struct Lighthouse {
    local: Option<usize>,
    balancer: SmoothWrr,
}

impl Lighthouse {
    pub fn new(context: Context<'_>) -> Self {
        Self {
            local: context.local(),
            balancer: SmoothWrr::new(vec![1; context.exports.len()]),
        }
    }
}

impl Policy for Lighthouse {
    fn answer(&mut self, _now: f64, env: &Env<'_>) -> usize {
        if let Some(local) = self.local.filter(|&l| env.ready[l]) {
            return local;
        }
        match self.balancer.select(|i| env.ready[i]) {
            Some(export) => export,
            None => self.balancer.next(),
        }
    }

    fn shares(&self, env: &Env<'_>) -> Option<Vec<f64>> {
        let n = env.ready.len();
        if let Some(local) = self.local.filter(|&l| env.ready[l]) {
            let mut shares = vec![0.0; n];
            shares[local] = 1.0;
            return Some(shares);
        }
        Some(proportional(n, &env.candidates(), &vec![1.0; n]))
    }
}

/// Plain round-robin: Lighthouse's rotation without its local preference (what an operator
/// gets from Aviator's `RoundRobin` mode with `preferLocal: false`).
pub struct RoundRobin {
    balancer: SmoothWrr,
}

impl RoundRobin {
    pub fn new(context: Context<'_>) -> Self {
        Self {
            balancer: SmoothWrr::new(vec![1; context.exports.len()]),
        }
    }
}

impl Policy for RoundRobin {
    fn answer(&mut self, _now: f64, env: &Env<'_>) -> usize {
        match self.balancer.select(|i| env.ready[i]) {
            Some(export) => export,
            None => self.balancer.next(),
        }
    }

    fn shares(&self, env: &Env<'_>) -> Option<Vec<f64>> {
        let n = env.ready.len();
        Some(proportional(n, &env.candidates(), &vec![1.0; n]))
    }
}

/// Weighted round-robin with weights fixed to the ready pod counts.
pub struct WeightedByPods {
    pods: Vec<f64>,
    rng: Stream,
}

impl WeightedByPods {
    pub fn new(context: Context<'_>) -> Self {
        Self {
            pods: context.pods(),
            rng: context.rng,
        }
    }
}

impl Policy for WeightedByPods {
    fn answer(&mut self, _now: f64, env: &Env<'_>) -> usize {
        weighted_pick(&mut self.rng, &env.candidates(), &self.pods)
    }

    fn shares(&self, env: &Env<'_>) -> Option<Vec<f64>> {
        Some(proportional(env.ready.len(), &env.candidates(), &self.pods))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_weights_rotate_and_a_skipped_export_is_passed_over() {
        let mut b = SmoothWrr::new(vec![1, 1, 1]);
        let picks: Vec<usize> = (0..6).map(|_| b.next()).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
        // Export 1 not ready: the rotation goes on over the other two.
        let mut b = SmoothWrr::new(vec![1, 1, 1]);
        let picks: Vec<usize> = (0..6).map(|_| b.select(|i| i != 1).unwrap()).collect();
        assert!(picks.iter().all(|&p| p != 1), "{picks:?}");
        let zeros = picks.iter().filter(|&&p| p == 0).count();
        assert!((2..=4).contains(&zeros), "{picks:?}");
        assert_eq!(b.select(|_| false), None);
    }

    #[test]
    fn smooth_weights_interleave() {
        // nginx's example: weights 5, 1, 1 give a a b a c a a.
        let mut b = SmoothWrr::new(vec![5, 1, 1]);
        let picks: Vec<usize> = (0..7).map(|_| b.next()).collect();
        assert_eq!(picks, vec![0, 0, 1, 0, 2, 0, 0]);
    }
}

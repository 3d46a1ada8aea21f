//! The static policies users have today: Lighthouse's local-first round-robin and weighted
//! round-robin by pod count.

use super::{Context, Env, Policy, proportional, weighted_pick};
use crate::rng::Stream;

/// Lighthouse: the local export whenever it is ready, else strict rotation over the ready ones.
pub struct Lighthouse {
    local: Option<usize>,
    next: usize,
}

impl Lighthouse {
    pub fn new(context: Context<'_>) -> Self {
        Self {
            local: context.local(),
            next: 0,
        }
    }
}

impl Policy for Lighthouse {
    fn answer(&mut self, _now: f64, env: &Env<'_>) -> usize {
        if let Some(local) = self.local.filter(|&l| env.ready[l]) {
            return local;
        }
        let candidates = env.candidates();
        self.next = self.next.wrapping_add(1);
        candidates[self.next % candidates.len()]
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

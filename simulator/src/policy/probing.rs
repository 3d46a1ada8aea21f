//! Power of two choices on probed latency: it answers each lookup from its freshest probes and
//! keeps no shares. (Prequal, the other rule that answers from probes, is in `prequal`.)

use super::{Context, Env, Policy, ProbeSample};
use crate::rng::{self, Stream};

/// Probes a target every `interval_s`, staggered, and says which are due.
struct Schedule {
    interval_s: f64,
    next: Vec<f64>,
}

impl Schedule {
    fn new(n: usize, interval_s: f64, rng: &mut Stream) -> Self {
        Self {
            interval_s,
            next: (0..n).map(|_| rng::unit(rng) * interval_s).collect(),
        }
    }

    fn due(&mut self, now: f64, rng: &mut Stream) -> Vec<usize> {
        let mut due = Vec::new();
        for (i, next) in self.next.iter_mut().enumerate() {
            if *next <= now {
                due.push(i);
                *next = now + self.interval_s * (0.8 + 0.4 * rng::unit(rng));
            }
        }
        due
    }
}

/// Power of two choices: two random ready exports, the one with the lower probed latency
/// (round trip plus service, EWMA 0.3) wins. Three failed probes in a row take an export out
/// until one succeeds.
pub struct TwoChoices {
    schedule: Schedule,
    latency_ms: Vec<Option<f64>>,
    failures: Vec<u32>,
    rng: Stream,
}

impl TwoChoices {
    pub fn new(mut context: Context<'_>) -> Self {
        let n = context.exports.len();
        Self {
            schedule: Schedule::new(n, 1.0, &mut context.rng),
            latency_ms: vec![None; n],
            failures: vec![0; n],
            rng: context.rng,
        }
    }
}

impl Policy for TwoChoices {
    fn answer(&mut self, _now: f64, env: &Env<'_>) -> usize {
        let ready = env.candidates();
        let alive: Vec<usize> = ready
            .iter()
            .copied()
            .filter(|&i| self.failures[i] < 3)
            .collect();
        let pool = if alive.is_empty() { ready } else { alive };
        if pool.len() == 1 {
            return pool[0];
        }
        let a = pool[rng::index(&mut self.rng, pool.len())];
        let mut b = pool[rng::index(&mut self.rng, pool.len() - 1)];
        if b == a {
            b = pool[pool.len() - 1];
        }
        let cost = |i: usize| self.latency_ms[i].unwrap_or(0.0);
        if cost(b) < cost(a) { b } else { a }
    }

    fn due_probes(&mut self, now: f64) -> Vec<usize> {
        self.schedule.due(now, &mut self.rng)
    }

    fn probe_result(&mut self, _now: f64, export: usize, sample: ProbeSample) {
        if !sample.ok {
            self.failures[export] += 1;
            return;
        }
        self.failures[export] = 0;
        let ms = sample.get_ms;
        self.latency_ms[export] = Some(match self.latency_ms[export] {
            Some(old) => 0.7 * old + 0.3 * ms,
            None => ms,
        });
    }
}

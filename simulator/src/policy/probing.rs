//! The lookup-by-lookup rules that measure: power of two choices on probed latency, and
//! Prequal's hot/cold rule on probed requests-in-flight. Both answer each lookup from their
//! freshest probes; neither keeps shares.

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

/// Prequal's hot/cold rule at the DNS level: each export probed every 0.5 s for its requests in
/// flight (per server, since exports differ in size) and its latency; probes older than 1 s
/// are dropped; exports above the 0.6 quantile of requests in flight are hot; the answer is
/// the cold export with the lowest latency, or if all are hot the one with the fewest in
/// flight.
pub struct HotCold {
    schedule: Schedule,
    /// Latest successful probe per export: (time, in flight per server, latency ms).
    pool: Vec<Option<(f64, f64, f64)>>,
    rng: Stream,
}

impl HotCold {
    const MAX_AGE_S: f64 = 1.0;
    const HOT_QUANTILE: f64 = 0.6;

    pub fn new(mut context: Context<'_>) -> Self {
        let n = context.exports.len();
        Self {
            schedule: Schedule::new(n, 0.5, &mut context.rng),
            pool: vec![None; n],
            rng: context.rng,
        }
    }
}

impl Policy for HotCold {
    fn answer(&mut self, now: f64, env: &Env<'_>) -> usize {
        let ready = env.candidates();
        let fresh: Vec<(usize, f64, f64)> = ready
            .iter()
            .filter_map(|&i| {
                self.pool[i]
                    .filter(|(t, _, _)| now - t <= Self::MAX_AGE_S)
                    .map(|(_, rif, ms)| (i, rif, ms))
            })
            .collect();
        if fresh.is_empty() {
            return ready[rng::index(&mut self.rng, ready.len())];
        }
        let mut rifs: Vec<f64> = fresh.iter().map(|f| f.1).collect();
        rifs.sort_by(f64::total_cmp);
        let rank = ((Self::HOT_QUANTILE * rifs.len() as f64).ceil() as usize).clamp(1, rifs.len());
        let threshold = rifs[rank - 1];
        let cold = fresh
            .iter()
            .filter(|f| f.1 <= threshold)
            .min_by(|a, b| a.2.total_cmp(&b.2));
        match cold {
            Some(c) => c.0,
            None => fresh
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(ready[0], |f| f.0),
        }
    }

    fn due_probes(&mut self, now: f64) -> Vec<usize> {
        self.schedule.due(now, &mut self.rng)
    }

    fn probe_result(&mut self, now: f64, export: usize, sample: ProbeSample) {
        self.pool[export] = sample
            .ok
            .then_some((now, sample.in_flight_per_server, sample.get_ms));
    }
}

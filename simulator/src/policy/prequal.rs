//! Prequal (Wydrowski, Kleinberg, Rumble, Archer: "Load is not what you should balance:
//! Introducing Prequal", NSDI 2024), answering DNS lookups. One instance per client cluster
//! keeps a pool of probe responses, each carrying an export's requests in flight (RIF) and its
//! latency; every lookup sends a few probes that land later and serve later lookups, and is
//! answered from the pool by the hot/cold lexicographic rule.
//!
//! The probes are the engine's load probes: they do not queue behind real work, and come back
//! after the network round trip with the export's RIF per server (exports differ in size) and
//! its own latency estimate, the median sojourn of recent requests that arrived at a similar
//! RIF. Two adaptations to a multi-cluster DNS setting, both noted in the report:
//! - the latency compared is the export's estimate plus the round trip the probe itself took,
//!   since replicas here are up to 130 ms apart while the paper's share a network;
//! - the reuse budget: the paper's `b_reuse = max(1, 1 + δ / ((1 - m/n)·r_probe - r_remove))`
//!   is undefined when the pool can hold every export (m = 16 ≥ n = 2..4 exports here), so a
//!   fixed small budget of 2 picks per probe is used.

use super::{Context, Env, Policy, ProbeSample};
use crate::rng::{self, Stream};

/// Probe responses kept (the paper's pool size).
const POOL_SIZE: usize = 16;
/// Probes sent per lookup (the paper's r_probe).
const PROBES_PER_QUERY: usize = 3;
/// Older probe responses are dropped.
const MAX_AGE_S: f64 = 1.0;
/// Probes above this quantile of the pool's RIF are hot (the paper's Q_RIF).
const HOT_QUANTILE: f64 = 0.84;
/// Picks one probe response may serve; see the module's note.
const REUSE_BUDGET: u32 = 2;

/// One probe response in the pool.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Probe {
    export: usize,
    received: f64,
    /// Requests in flight per server when the probe arrived.
    rif: f64,
    /// What a request would take from here, ms: the export's estimate plus the round trip.
    latency_ms: f64,
    uses_left: u32,
}

/// The pool and its rules, without time or randomness of its own, so they can be tested.
#[derive(Debug, Clone, Default)]
struct Pool {
    probes: Vec<Probe>,
    /// Removals alternate: the oldest, then the worst.
    remove_oldest_next: bool,
}

impl Pool {
    fn new() -> Self {
        Self {
            probes: Vec::new(),
            remove_oldest_next: true,
        }
    }

    /// Keeps the newest response per export; past the pool size the oldest goes.
    fn insert(&mut self, probe: Probe) {
        self.probes.retain(|p| p.export != probe.export);
        self.probes.push(probe);
        if self.probes.len() > POOL_SIZE {
            self.remove_oldest();
        }
    }

    /// Drops responses older than the maximum age, and those of exports no longer eligible.
    fn prune(&mut self, now: f64, eligible: impl Fn(usize) -> bool) {
        self.probes
            .retain(|p| now - p.received <= MAX_AGE_S && eligible(p.export));
    }

    /// The RIF above which a probe is hot: the pool's `HOT_QUANTILE` quantile (linear
    /// interpolation between order statistics).
    fn hot_threshold(&self) -> Option<f64> {
        let mut rifs: Vec<f64> = self.probes.iter().map(|p| p.rif).collect();
        if rifs.is_empty() {
            return None;
        }
        rifs.sort_by(f64::total_cmp);
        Some(quantile(&rifs, HOT_QUANTILE))
    }

    fn is_hot(p: &Probe, threshold: Option<f64>) -> bool {
        threshold.is_some_and(|t| p.rif > t)
    }

    /// Hot/cold lexicographic choice: the cold probe with the lowest latency, `tie` choosing
    /// among equals (given their count, it returns which); if every probe is hot, the one with
    /// the lowest RIF. (With the threshold a quantile of the pool itself, the least loaded probe
    /// is never above it, so some probe is always cold.) Returns the index in the pool.
    fn choose(&self, tie: &mut impl FnMut(usize) -> usize) -> Option<usize> {
        let threshold = self.hot_threshold()?;
        let cold: Vec<usize> = (0..self.probes.len())
            .filter(|&i| !Self::is_hot(&self.probes[i], Some(threshold)))
            .collect();
        let (candidates, key): (Vec<usize>, fn(&Probe) -> f64) = if cold.is_empty() {
            ((0..self.probes.len()).collect(), |p| p.rif)
        } else {
            (cold, |p| p.latency_ms)
        };
        let best = candidates
            .iter()
            .map(|&i| key(&self.probes[i]))
            .fold(f64::INFINITY, f64::min);
        let equals: Vec<usize> = candidates
            .into_iter()
            .filter(|&i| key(&self.probes[i]) == best)
            .collect();
        Some(equals[tie(equals.len()).min(equals.len() - 1)])
    }

    /// Spends one use of probe `index`; an exhausted probe leaves the pool. Returns its export.
    fn consume(&mut self, index: usize) -> usize {
        let p = &mut self.probes[index];
        p.uses_left = p.uses_left.saturating_sub(1);
        let export = p.export;
        if p.uses_left == 0 {
            self.probes.remove(index);
        }
        export
    }

    /// The removal each query makes, alternating the oldest and the worst (the hottest if any
    /// probe is hot, else the slowest).
    fn remove_one(&mut self) {
        if self.remove_oldest_next {
            self.remove_oldest();
        } else {
            self.remove_worst();
        }
        self.remove_oldest_next = !self.remove_oldest_next;
    }

    fn remove_oldest(&mut self) {
        let oldest = (0..self.probes.len())
            .min_by(|&a, &b| self.probes[a].received.total_cmp(&self.probes[b].received));
        if let Some(i) = oldest {
            self.probes.remove(i);
        }
    }

    fn remove_worst(&mut self) {
        let threshold = self.hot_threshold();
        let hottest = (0..self.probes.len())
            .filter(|&i| Self::is_hot(&self.probes[i], threshold))
            .max_by(|&a, &b| self.probes[a].rif.total_cmp(&self.probes[b].rif));
        let worst = hottest.or_else(|| {
            (0..self.probes.len()).max_by(|&a, &b| {
                self.probes[a]
                    .latency_ms
                    .total_cmp(&self.probes[b].latency_ms)
            })
        });
        if let Some(i) = worst {
            self.probes.remove(i);
        }
    }
}

/// The `q` quantile of `sorted` (ascending, not empty), interpolating linearly between order
/// statistics.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

pub struct Prequal {
    pool: Pool,
    /// Probes asked for by lookups, sent at the prober's next round (every 50 ms).
    pending: Vec<usize>,
    rng: Stream,
}

impl Prequal {
    pub fn new(context: Context<'_>) -> Self {
        Self {
            pool: Pool::new(),
            pending: Vec::new(),
            rng: context.rng,
        }
    }
}

impl Policy for Prequal {
    fn answer(&mut self, now: f64, env: &Env<'_>) -> usize {
        let candidates = env.candidates();
        // Probe a few distinct exports at random; their answers serve later lookups.
        let mut targets = candidates.clone();
        for _ in 0..PROBES_PER_QUERY.min(targets.len()) {
            let i = rng::index(&mut self.rng, targets.len());
            self.pending.push(targets.swap_remove(i));
        }
        self.pool.prune(now, |e| candidates.contains(&e));
        let rng = &mut self.rng;
        let pick = match self.pool.choose(&mut |n| rng::index(rng, n)) {
            Some(index) => self.pool.consume(index),
            // Nothing fresh to go on: any eligible export.
            None => candidates[rng::index(&mut self.rng, candidates.len())],
        };
        self.pool.remove_one();
        pick
    }

    fn due_probes(&mut self, _now: f64) -> Vec<usize> {
        std::mem::take(&mut self.pending)
    }

    fn probe_result(&mut self, now: f64, export: usize, sample: ProbeSample) {
        if !sample.ok {
            return;
        }
        self.pool.insert(Probe {
            export,
            received: now,
            rif: sample.in_flight_per_server,
            latency_ms: sample.rtt_ms + sample.latency_ms.unwrap_or(0.0),
            uses_left: REUSE_BUDGET,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(export: usize, received: f64, rif: f64, latency_ms: f64) -> Probe {
        Probe {
            export,
            received,
            rif,
            latency_ms,
            uses_left: REUSE_BUDGET,
        }
    }

    fn pool(probes: &[Probe]) -> Pool {
        let mut pool = Pool::new();
        for &p in probes {
            pool.insert(p);
        }
        pool
    }

    fn first(_: usize) -> usize {
        0
    }

    #[test]
    fn the_cold_probe_with_the_lowest_latency_wins_over_a_faster_hot_one() {
        // RIFs 1, 2, 8: the 0.84 quantile is 2 + 0.68 × 6 = 6.08, so only export 2 is hot.
        let p = pool(&[
            probe(0, 0.0, 1.0, 30.0),
            probe(1, 0.0, 2.0, 20.0),
            probe(2, 0.0, 8.0, 5.0),
        ]);
        let i = p.choose(&mut first).unwrap();
        assert_eq!(p.probes[i].export, 1);
    }

    #[test]
    fn the_quantile_interpolates_between_order_statistics() {
        assert_eq!(quantile(&[1.0, 2.0, 8.0], 0.84), 2.0 + 0.68 * 6.0);
        assert_eq!(quantile(&[3.0], 0.84), 3.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5), 3.0);
    }

    #[test]
    fn equal_latencies_are_broken_by_the_draw() {
        let p = pool(&[probe(0, 0.0, 1.0, 10.0), probe(1, 0.0, 1.0, 10.0)]);
        let second = p.choose(&mut |n| n - 1).unwrap();
        let first_ = p.choose(&mut first).unwrap();
        assert_ne!(p.probes[first_].export, p.probes[second].export);
    }

    #[test]
    fn a_probe_serves_at_most_its_budget_and_old_ones_are_dropped() {
        let mut p = pool(&[probe(0, 0.0, 1.0, 10.0), probe(1, 0.5, 1.0, 20.0)]);
        for _ in 0..REUSE_BUDGET {
            let i = p.choose(&mut first).unwrap();
            assert_eq!(p.consume(i), 0);
        }
        let i = p.choose(&mut first).unwrap();
        assert_eq!(p.probes[i].export, 1, "export 0's probe is spent");
        p.prune(1.6, |_| true);
        assert!(p.probes.is_empty(), "older than 1 s");
    }

    #[test]
    fn removals_alternate_the_oldest_and_the_worst() {
        let mut p = pool(&[
            probe(0, 0.1, 1.0, 50.0),
            probe(1, 0.2, 9.0, 10.0),
            probe(2, 0.3, 1.0, 20.0),
            probe(3, 0.4, 1.0, 30.0),
        ]);
        p.remove_one();
        let exports = |p: &Pool| p.probes.iter().map(|q| q.export).collect::<Vec<_>>();
        assert_eq!(exports(&p), vec![1, 2, 3], "the oldest first");
        p.remove_one();
        assert_eq!(exports(&p), vec![2, 3], "then the hottest");
        p.remove_one();
        assert_eq!(exports(&p), vec![3], "the oldest again");
    }

    #[test]
    fn a_newer_probe_of_an_export_replaces_its_older_one() {
        let p = pool(&[probe(0, 0.0, 5.0, 10.0), probe(0, 0.5, 1.0, 12.0)]);
        assert_eq!(p.probes, vec![probe(0, 0.5, 1.0, 12.0)]);
    }
}

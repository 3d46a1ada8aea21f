//! Aviator's policy evaluation: a discrete-event simulation of clusters (M/G/k stations), the
//! network between them, clients behind DNS caches and reused connections, and probes, in which
//! the production optimizer and control-loop logic run beside the policies users would
//! otherwise have.
//!
//! [`scenario`] says what happens (a file, or a built-in one); [`goal`] what to check; [`engine`] runs one policy through one scenario on common
//! random numbers; [`metrics`] measures; [`report`] compares and checks the goals; [`plot`]
//! draws. Everything is deterministic for a seed.

pub mod dns;
pub mod engine;
pub mod goal;
pub mod markdown;
pub mod metrics;
pub mod plot;
pub mod policy;
pub mod queue;
pub mod report;
mod rng;
pub mod scenario;

use std::sync::Mutex;
use std::thread;

use policy::PolicyKind;
use scenario::Scenario;

pub use report::{Evaluation, ScenarioResult};

/// Runs every policy of every scenario, spread over the machine's cores. The result does not
/// depend on how the runs were spread.
pub fn evaluate(scenarios: Vec<Scenario>, seed: u64) -> Evaluation {
    let jobs: Vec<(usize, PolicyKind)> = scenarios
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.policies.iter().map(move |&k| (i, k)))
        .collect();
    let next = Mutex::new(0usize);
    let done = Mutex::new(Vec::with_capacity(jobs.len()));
    let workers = thread::available_parallelism().map_or(1, |n| n.get());
    thread::scope(|scope| {
        for _ in 0..workers.min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let job = {
                        let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                        let job = jobs.get(*n).copied();
                        *n += 1;
                        job
                    };
                    let Some((i, kind)) = job else { return };
                    // The production code inside logs as it would in a cluster; simulated
                    // ejections are not this process's news.
                    let summary = tracing::subscriber::with_default(
                        tracing::subscriber::NoSubscriber::default(),
                        || engine::run(&scenarios[i], kind, seed),
                    );
                    done.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, kind, summary));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    // Back into the scenarios' own order.
    done.sort_by_key(|(i, kind, _)| {
        let policy = scenarios[*i].policies.iter().position(|k| k == kind);
        (*i, policy)
    });
    let mut results: Vec<ScenarioResult> = scenarios
        .into_iter()
        .map(|scenario| ScenarioResult {
            scenario,
            runs: Vec::new(),
        })
        .collect();
    for (i, kind, summary) in done {
        results[i].runs.push((kind, summary));
    }
    Evaluation { seed, results }
}

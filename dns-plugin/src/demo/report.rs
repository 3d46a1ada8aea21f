//! The demo's numbers: a line per second while it runs, a summary per policy at the end, and
//! Aviator's figures as ratios of each baseline's.
//!
//! Latency percentiles are of the requests that succeeded; failures are counted apart. Mixing
//! them would let a policy whose errors are fast (a 503 after one round trip) look quick, and
//! one whose errors are timeouts look slow twice over.

use serde::Serialize;

use super::load::Sample;

/// What one run of the scenario came to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub policy: String,
    pub requests: usize,
    /// Requests that failed: an error status, a broken connection or the client's timeout.
    pub errors: usize,
    pub error_rate: f64,
    /// Latency percentiles of the successful requests, ms.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Transfer cost, USD per million requests, at each cluster's price per request.
    pub usd_per_million: f64,
    /// Fraction of requests each cluster got, in cluster order.
    pub split: Vec<(String, f64)>,
}

/// Latency percentile `q` of the successful requests among `samples` (0 if none succeeded).
pub fn percentile(samples: &[&Sample], q: f64) -> f64 {
    let mut latencies: Vec<f64> = samples
        .iter()
        .filter(|s| s.ok)
        .map(|s| s.latency_ms)
        .collect();
    if latencies.is_empty() {
        return 0.0;
    }
    latencies.sort_by(f64::total_cmp);
    let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
    latencies[rank - 1]
}

pub fn summarise(policy: &str, samples: &[Sample], clusters: &[&str], prices: &[f64]) -> Summary {
    let all: Vec<&Sample> = samples.iter().collect();
    let requests = all.len().max(1);
    let mut counts = vec![0usize; clusters.len()];
    let mut cost = 0.0;
    for sample in &all {
        if let Some(c) = sample.cluster {
            counts[c] += 1;
            cost += prices[c];
        }
    }
    let errors = all.iter().filter(|s| !s.ok).count();
    Summary {
        policy: policy.to_owned(),
        requests: all.len(),
        errors,
        error_rate: errors as f64 / requests as f64,
        p50_ms: percentile(&all, 0.5),
        p99_ms: percentile(&all, 0.99),
        p999_ms: percentile(&all, 0.999),
        usd_per_million: cost / requests as f64 * 1e6,
        split: clusters
            .iter()
            .zip(&counts)
            .map(|(name, &n)| ((*name).to_owned(), n as f64 / requests as f64))
            .collect(),
    }
}

/// Aviator's figures over one baseline's (below 1: Aviator's are lower).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ratios {
    pub baseline: String,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    /// Error rates; 1 when neither policy had an error, infinite (`null` in JSON) when only
    /// Aviator had.
    pub errors: f64,
}

pub fn ratios(aviator: &Summary, baseline: &Summary) -> Ratios {
    Ratios {
        baseline: baseline.policy.clone(),
        p50: ratio(aviator.p50_ms, baseline.p50_ms),
        p99: ratio(aviator.p99_ms, baseline.p99_ms),
        p999: ratio(aviator.p999_ms, baseline.p999_ms),
        errors: ratio(aviator.error_rate, baseline.error_rate),
    }
}

fn ratio(ours: f64, theirs: f64) -> f64 {
    match (ours, theirs) {
        (0.0, 0.0) => 1.0,
        (_, 0.0) => f64::INFINITY,
        _ => ours / theirs,
    }
}

/// The goal the demo is held to (issue 13): against every baseline a p99 at most 0.8x and
/// errors at most 0.5x, and a p50 at most 1.1x plain round-robin's.
pub const GOAL_P99: f64 = 0.8;
pub const GOAL_ERRORS: f64 = 0.5;
pub const GOAL_P50_VS_ROUND_ROBIN: f64 = 1.1;

/// One line per baseline: Aviator's ratios, and whether each meets the goal.
pub fn verdict(aviator: &Summary, against: &[(Ratios, bool)]) -> String {
    let mark = |ok: bool| if ok { "ok" } else { "MISSED" };
    let mut out = format!(
        "{} against each baseline (Aviator / baseline):\n",
        aviator.policy
    );
    for (r, is_round_robin) in against {
        let mut line = format!(
            "  vs {:<26} p99 {:>5.2}x ({}, goal <= {GOAL_P99}x)   errors {:>5.2}x ({}, goal <= {GOAL_ERRORS}x)   p50 {:>5.2}x",
            r.baseline,
            r.p99,
            mark(r.p99 <= GOAL_P99),
            r.errors,
            mark(r.errors <= GOAL_ERRORS),
            r.p50,
        );
        if *is_round_robin {
            line.push_str(&format!(
                " ({}, goal <= {GOAL_P50_VS_ROUND_ROBIN}x)",
                mark(r.p50 <= GOAL_P50_VS_ROUND_ROBIN)
            ));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

pub fn header(clusters: &[&str]) -> String {
    let mut line = format!("{:>5} {:>6} |", "t s", "req/s");
    for c in clusters {
        line.push_str(&format!(" {c:>8}"));
    }
    line.push_str(&format!(
        " | {:>7} {:>7} {:>6} {:>8} | event",
        "p50 ms", "p99 ms", "err %", "$/M req"
    ));
    line.push_str("\n      (p50 and p99 of the successful requests; err % of all)");
    line
}

/// One second of the run: load, the split across clusters, latency (of the successful
/// requests), errors, cost.
pub fn second(
    t: f64,
    window: &[&Sample],
    clusters: &[&str],
    prices: &[f64],
    event: &str,
) -> String {
    let n = window.len().max(1) as f64;
    let mut line = format!("{:>5.0} {:>6} |", t, window.len());
    let mut cost = 0.0;
    for (c, _) in clusters.iter().enumerate() {
        let share = window.iter().filter(|s| s.cluster == Some(c)).count() as f64 / n;
        cost += share * prices[c];
        line.push_str(&format!(" {:>7.0}%", share * 100.0));
    }
    let errors = window.iter().filter(|s| !s.ok).count() as f64 / n;
    line.push_str(&format!(
        " | {:>7.1} {:>7.1} {:>6.1} {:>8.3} | {event}",
        percentile(window, 0.5),
        percentile(window, 0.99),
        errors * 100.0,
        cost * 1e6
    ));
    line
}

pub fn table(summaries: &[Summary]) -> String {
    let mut out = format!(
        "{:<32} {:>9} {:>7} {:>7} {:>8} {:>8} {:>9} {:>9}  split\n",
        "policy", "requests", "errors", "err %", "p50 ms", "p99 ms", "p99.9 ms", "$/M req"
    );
    for s in summaries {
        let split: Vec<String> = s
            .split
            .iter()
            .map(|(c, f)| format!("{c} {:.0}%", f * 100.0))
            .collect();
        out.push_str(&format!(
            "{:<32} {:>9} {:>7} {:>7.2} {:>8.1} {:>8.1} {:>9.1} {:>9.3}  {}\n",
            s.policy,
            s.requests,
            s.errors,
            s.error_rate * 100.0,
            s.p50_ms,
            s.p99_ms,
            s.p999_ms,
            s.usd_per_million,
            split.join(", ")
        ));
    }
    out.push_str("(latency percentiles of the successful requests only)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::{Sample, percentile, ratio, summarise};

    fn sample(latency_ms: f64, ok: bool) -> Sample {
        Sample {
            at: 0.0,
            latency_ms,
            ok,
            cluster: Some(0),
        }
    }

    #[test]
    fn percentiles_are_of_successes_and_errors_are_counted_apart() {
        // Fast errors (a 503) and slow ones (timeouts) must not move the latency figures.
        let mut samples: Vec<Sample> = (1..=100).map(|ms| sample(f64::from(ms), true)).collect();
        samples.extend((0..50).map(|_| sample(0.5, false)));
        samples.extend((0..50).map(|_| sample(2000.0, false)));
        let all: Vec<&Sample> = samples.iter().collect();
        assert_eq!(percentile(&all, 0.5), 50.0);
        assert_eq!(percentile(&all, 0.99), 99.0);
        let summary = summarise("p", &samples, &["east"], &[0.0]);
        assert_eq!(summary.errors, 100);
        assert_eq!(summary.error_rate, 0.5);
        assert_eq!(summary.p999_ms, 100.0);
    }

    #[test]
    fn ratios_of_zero_errors_are_even_or_infinite() {
        assert_eq!(ratio(0.0, 0.0), 1.0);
        assert_eq!(ratio(0.01, 0.0), f64::INFINITY);
        assert_eq!(ratio(0.01, 0.04), 0.25);
    }
}

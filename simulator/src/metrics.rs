//! What a run measured: request outcomes by window, traffic and busy time by second, and the
//! policy's shares by second; and the figures the report shows, computed from them.

use serde::Serialize;

use crate::scenario::{Change, Scenario, Window};

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Answered in time, after this many ms.
    Ok(f64),
    /// Refused by a full export.
    Error,
    /// The client gave up waiting.
    Timeout,
}

#[derive(Debug, Default, Clone)]
struct WindowAcc {
    latencies_ms: Vec<f32>,
    requests: u64,
    errors: u64,
    timeouts: u64,
    usd: f64,
}

/// Traffic and busy time in one second.
#[derive(Debug, Clone)]
struct Second {
    /// Requests sent, [group][export].
    sent: Vec<Vec<u32>>,
    /// Server-seconds of work started, per export.
    busy_s: Vec<f64>,
    /// Shares the policy published, per group.
    shares: Vec<Option<Vec<f64>>>,
}

pub struct Recorder {
    windows: Vec<Window>,
    acc: Vec<WindowAcc>,
    seconds: Vec<Second>,
    groups: usize,
    exports: usize,
}

impl Recorder {
    pub fn new(scenario: &Scenario, exports: usize) -> Self {
        let groups = scenario.groups.len();
        let n = scenario.duration_s.ceil() as usize + 1;
        Self {
            windows: scenario.windows.clone(),
            acc: vec![WindowAcc::default(); scenario.windows.len()],
            seconds: vec![
                Second {
                    sent: vec![vec![0; exports]; groups],
                    busy_s: vec![0.0; exports],
                    shares: vec![None; groups],
                };
                n
            ],
            groups,
            exports,
        }
    }

    fn second(&mut self, t: f64) -> Option<&mut Second> {
        self.seconds.get_mut(t.max(0.0) as usize)
    }

    pub fn sent(&mut self, t: f64, group: usize, export: usize) {
        if let Some(s) = self.second(t) {
            s.sent[group][export] += 1;
        }
    }

    pub fn busy(&mut self, t: f64, export: usize, busy_s: f64) {
        if let Some(s) = self.second(t) {
            s.busy_s[export] += busy_s;
        }
    }

    pub fn shares(&mut self, t: f64, group: usize, shares: Option<Vec<f64>>) {
        if let Some(s) = self.second(t) {
            s.shares[group] = shares;
        }
    }

    /// A request sent at `sent` ended so; it cost `usd` in transfer.
    pub fn outcome(&mut self, sent: f64, outcome: Outcome, usd: f64) {
        for (w, acc) in self.windows.iter().zip(&mut self.acc) {
            if sent < w.start || sent >= w.end {
                continue;
            }
            acc.requests += 1;
            acc.usd += usd;
            match outcome {
                Outcome::Ok(ms) => acc.latencies_ms.push(ms as f32),
                Outcome::Error => acc.errors += 1,
                Outcome::Timeout => acc.timeouts += 1,
            }
        }
    }

    /// The figures of the run.
    pub fn summarize(mut self, scenario: &Scenario) -> Summary {
        let servers = servers_by_second(scenario, self.seconds.len());
        let windows = self
            .windows
            .iter()
            .zip(&mut self.acc)
            .map(|(w, acc)| {
                acc.latencies_ms.sort_by(f32::total_cmp);
                let q = |q: f64| quantile(&acc.latencies_ms, q);
                let seconds = w.start as usize..(w.end as usize).min(self.seconds.len());
                let utilization: Vec<f64> = (0..self.exports)
                    .map(|e| {
                        let busy: f64 = self.seconds[seconds.clone()]
                            .iter()
                            .map(|s| s.busy_s[e])
                            .sum();
                        // The servers in service, on average over the window.
                        let counts = &servers[seconds.clone()];
                        let mean = if counts.is_empty() {
                            servers.first().map_or(1, |s| s[e]) as f64
                        } else {
                            counts.iter().map(|s| s[e] as f64).sum::<f64>() / counts.len() as f64
                        };
                        busy / (mean * (w.end - w.start)).max(1e-9)
                    })
                    .collect();
                let spread = utilization
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max)
                    - utilization.iter().copied().fold(f64::INFINITY, f64::min);
                let n = acc.requests.max(1) as f64;
                WindowFigures {
                    label: w.label.clone(),
                    load: w.load,
                    requests: acc.requests,
                    p50_ms: q(0.5),
                    p99_ms: q(0.99),
                    p999_ms: q(0.999),
                    error_rate: acc.errors as f64 / n,
                    timeout_rate: acc.timeouts as f64 / n,
                    usd_per_million: acc.usd / n * 1e6,
                    utilization,
                    utilization_spread: spread,
                }
            })
            .collect();
        let steady = scenario.steady_from_s as usize;
        let until = scenario.steady_until_s.min(scenario.duration_s) as usize;
        let (swing, swing_from_answers) = self.largest_swing(steady, until);
        Summary {
            windows,
            swing_points_per_min: swing * 100.0,
            swing_from_answers,
            smallest_share: self.smallest_share(steady),
            sent: self.sent_series(),
            group_shares: (0..self.groups).map(|g| self.group_series(g).0).collect(),
        }
    }

    /// Per second, requests sent to each export by every group together.
    fn sent_series(&self) -> Vec<Vec<u32>> {
        self.seconds
            .iter()
            .map(|s| {
                (0..self.exports)
                    .map(|e| s.sent.iter().map(|g| g[e]).sum())
                    .collect()
            })
            .collect()
    }

    /// Each group's share series: published shares where the policy has them, else the
    /// fraction of its requests over the last 10 s.
    fn group_series(&self, group: usize) -> (Vec<Vec<f64>>, bool) {
        if self.seconds.iter().any(|s| s.shares[group].is_some()) {
            let mut last = vec![0.0; self.exports];
            let series = self
                .seconds
                .iter()
                .map(|s| {
                    if let Some(shares) = &s.shares[group] {
                        last = shares.clone();
                    }
                    last.clone()
                })
                .collect();
            return (series, false);
        }
        let series = (0..self.seconds.len())
            .map(|t| {
                let from = t.saturating_sub(9);
                let sums: Vec<f64> = (0..self.exports)
                    .map(|e| {
                        self.seconds[from..=t]
                            .iter()
                            .map(|s| f64::from(s.sent[group][e]))
                            .sum()
                    })
                    .collect();
                let total: f64 = sums.iter().sum();
                sums.iter().map(|x| x / total.max(1.0)).collect()
            })
            .collect();
        (series, true)
    }

    /// The largest change of any share within any minute in [steady, until), as a fraction.
    fn largest_swing(&self, steady: usize, until: usize) -> (f64, bool) {
        let mut worst: f64 = 0.0;
        let mut from_answers = false;
        for group in 0..self.groups {
            let (series, answers) = self.group_series(group);
            from_answers |= answers;
            let end = series.len().saturating_sub(1).min(until);
            for t in steady..end {
                let until = (t + 60).min(end);
                for e in 0..self.exports {
                    let (lo, hi) = series[t..=until]
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
                            (lo.min(s[e]), hi.max(s[e]))
                        });
                    worst = worst.max(hi - lo);
                }
            }
        }
        (worst, from_answers)
    }

    /// The smallest fraction of any group's traffic that any export received after `steady`.
    fn smallest_share(&self, steady: usize) -> f64 {
        let mut smallest: f64 = 1.0;
        for group in 0..self.groups {
            let tail = &self.seconds[steady.min(self.seconds.len())..];
            let per_export: Vec<f64> = (0..self.exports)
                .map(|e| tail.iter().map(|s| f64::from(s.sent[group][e])).sum())
                .collect();
            let total: f64 = per_export.iter().sum();
            if total > 0.0 {
                for x in per_export {
                    smallest = smallest.min(x / total);
                }
            }
        }
        smallest
    }
}

/// The servers each export has in service in each second, as the scenario's endpoint changes
/// set them (a change counts from the first whole second after it).
fn servers_by_second(scenario: &Scenario, seconds: usize) -> Vec<Vec<usize>> {
    let exporters = scenario.exporters();
    let mut now: Vec<usize> = exporters
        .iter()
        .map(|&s| scenario.sites[s].speeds.len())
        .collect();
    let mut changes: Vec<(f64, usize, usize)> = scenario
        .schedule
        .iter()
        .filter_map(|&(t, c)| match c {
            Change::Endpoints(site, count, _) => exporters
                .iter()
                .position(|&s| s == site)
                .map(|e| (t, e, count)),
            _ => None,
        })
        .collect();
    changes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut changes = changes.into_iter().peekable();
    (0..seconds)
        .map(|k| {
            while let Some((_, e, count)) = changes.next_if(|c| c.0 <= k as f64) {
                now[e] = count;
            }
            now.clone()
        })
        .collect()
}

/// Nearest-rank quantile of sorted values.
fn quantile(sorted: &[f32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1])
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowFigures {
    pub label: String,
    pub load: Option<f64>,
    pub requests: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub error_rate: f64,
    pub timeout_rate: f64,
    pub usd_per_million: f64,
    /// Busy fraction of each export's servers.
    pub utilization: Vec<f64>,
    /// Busiest export's utilisation less the idlest's.
    pub utilization_spread: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub windows: Vec<WindowFigures>,
    /// Largest change of one share within a minute, once steady, percentage points.
    pub swing_points_per_min: f64,
    /// Whether the swing was read from answers (the policy publishes no shares).
    pub swing_from_answers: bool,
    /// Smallest fraction of a client cluster's traffic any export got, once steady.
    pub smallest_share: f64,
    /// Per second, requests sent to each export.
    #[serde(skip)]
    pub sent: Vec<Vec<u32>>,
    /// Per client cluster, per second, its share of each export.
    #[serde(skip)]
    pub group_shares: Vec<Vec<Vec<f64>>>,
}

impl Summary {
    /// Each export's fraction of the requests sent in each second.
    pub fn traffic_share(&self) -> Vec<Vec<f64>> {
        self.sent
            .iter()
            .map(|s| {
                let total: u32 = s.iter().sum();
                s.iter()
                    .map(|&x| f64::from(x) / f64::from(total.max(1)))
                    .collect()
            })
            .collect()
    }

    /// The fraction of requests sent to `export` in [from, to) s.
    pub fn fraction_sent_to(&self, export: usize, from: f64, to: f64) -> f64 {
        let range =
            &self.sent[(from as usize).min(self.sent.len())..(to as usize).min(self.sent.len())];
        let to_export: u64 = range.iter().map(|s| u64::from(s[export])).sum();
        let total: u64 = range.iter().flatten().map(|&x| u64::from(x)).sum();
        to_export as f64 / total.max(1) as f64
    }

    /// The largest fraction of one second's requests sent to `export` in [from, to) s.
    pub fn worst_second_sent_to(&self, export: usize, from: f64, to: f64) -> f64 {
        let shares = self.traffic_share();
        (from as usize..(to as usize).min(shares.len()))
            .map(|t| shares[t][export])
            .fold(0.0, f64::max)
    }

    /// After a change at `at`: how far each client cluster's shares moved from the minute
    /// before it to the last `tail_s` of the run (the new steady split), in points, the largest
    /// such move; and the seconds after `at` until every share stays within `band` points of
    /// the new steady split.
    pub fn settling(&self, at: f64, tail_s: f64, band: f64) -> Option<(f64, f64)> {
        let len = self.group_shares.first()?.len();
        let at = at as usize;
        let tail = len.saturating_sub(tail_s as usize);
        if at < 60 || tail <= at {
            return None;
        }
        let mean = |series: &[Vec<f64>], from: usize, to: usize, e: usize| {
            series[from..to].iter().map(|s| s[e]).sum::<f64>() / (to - from) as f64
        };
        let mut moved: f64 = 0.0;
        let mut settled = at;
        for series in &self.group_shares {
            let exports = series.first().map_or(0, Vec::len);
            for e in 0..exports {
                let before = mean(series, at - 60, at, e);
                let after = mean(series, tail, len, e);
                moved = moved.max((after - before).abs() * 100.0);
                let last_out = (at..len)
                    .filter(|&t| (series[t][e] - after).abs() * 100.0 > band)
                    .max();
                if let Some(t) = last_out {
                    settled = settled.max(t + 1);
                }
            }
        }
        Some((moved, (settled - at) as f64))
    }

    /// Seconds from `from` until `export` last got 1 % or more of a second's requests before
    /// `to`: how long draining it took.
    pub fn drain_s(&self, export: usize, from: f64, to: f64) -> f64 {
        let shares = self.traffic_share();
        let last = (from as usize..(to as usize).min(shares.len()))
            .filter(|&t| shares[t][export] >= 0.01)
            .max();
        last.map_or(0.0, |t| (t + 1) as f64 - from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f32> = (1..=1000).map(|x| x as f32).collect();
        assert_eq!(quantile(&v, 0.5), 500.0);
        assert_eq!(quantile(&v, 0.99), 990.0);
        assert_eq!(quantile(&v, 0.999), 999.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}

//! The goals a scenario checks: a small vocabulary of comparisons between policies' figures
//! (latency, failures, cost), against a bound (the SLO), or of where traffic went (the share a
//! cluster got after an event, how far shares swing). Each measures one figure and says whether
//! it met its bound; the report prints both.

use serde::Serialize;

use crate::metrics::{Summary, WindowFigures};
use crate::policy::PolicyKind;
use crate::report::{Goal, ScenarioResult};

/// One goal as a scenario declares it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalSpec {
    /// What the report calls it; a default is made from the goal when absent.
    pub description: Option<String>,
    pub check: Check,
}

/// The windows a goal is measured over; it holds in the worst of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Windows {
    /// The scenario's main window: the first, or a ramp's hardest step.
    Main,
    Labels(Vec<String>),
    /// Every window held at this load multiple or more.
    MinLoad(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Check {
    /// `policy`'s p99 is at most `at_most` times `than`'s.
    P99Ratio {
        policy: PolicyKind,
        /// The better of these (one or several).
        than: Vec<PolicyKind>,
        at_most: f64,
        windows: Windows,
    },
    /// `policy`'s failed fraction (refused or timed out) is at most `at_most` times `than`'s.
    ErrorRatio {
        policy: PolicyKind,
        /// The better of these (one or several).
        than: Vec<PolicyKind>,
        at_most: f64,
        windows: Windows,
    },
    /// `policy`'s transfer cost per request is at most `at_most` times `than`'s.
    CostRatio {
        policy: PolicyKind,
        /// The better of these (one or several).
        than: Vec<PolicyKind>,
        at_most: f64,
        windows: Windows,
    },
    /// `policy`'s p99 is within `ms` (the scenario's SLO when `None`).
    P99Slo {
        policy: PolicyKind,
        ms: Option<f64>,
        windows: Windows,
    },
    /// The fraction of all requests `policy` sent to `site` in [`from` + `settle`, `until`) s
    /// is below `below`.
    ShareAfter {
        policy: PolicyKind,
        site: usize,
        from: f64,
        settle: f64,
        until: f64,
        below: f64,
        /// In every second of the span, not only over the whole of it.
        each_second: bool,
    },
    /// No share of `policy` moves more than `at_most` points within a minute once steady.
    Swing { policy: PolicyKind, at_most: f64 },
    /// After the change at `at`, `policy`'s split moves at least `at_least` points and every
    /// share stays within `band` points of the new steady split (the last 30 s) from `within`
    /// seconds after it.
    Settle {
        policy: PolicyKind,
        at: f64,
        band: f64,
        within: f64,
        at_least: f64,
    },
}

impl Check {
    /// The policies the check reads.
    pub fn policies(&self) -> Vec<PolicyKind> {
        match self {
            Check::P99Ratio { policy, than, .. }
            | Check::ErrorRatio { policy, than, .. }
            | Check::CostRatio { policy, than, .. } => std::iter::once(*policy)
                .chain(than.iter().copied())
                .collect(),
            Check::P99Slo { policy, .. }
            | Check::ShareAfter { policy, .. }
            | Check::Swing { policy, .. }
            | Check::Settle { policy, .. } => vec![*policy],
        }
    }
}

/// The worst (largest) ratio of `figure` between `a` and `b` over `windows`, with the windows'
/// figures it was found in. A ratio that cannot be formed (no answered request) counts as
/// infinite; 0/0 counts as `both_zero`.
fn worst_ratio<'s>(
    a: &'s Summary,
    others: &[&'s Summary],
    windows: &[usize],
    both_zero: f64,
    figure: impl Fn(&WindowFigures) -> f64,
) -> Option<(f64, &'s WindowFigures, &'s WindowFigures)> {
    let mut worst: Option<(f64, &WindowFigures, &WindowFigures)> = None;
    for &w in windows {
        // Against the better (lower figure) of the others in this window.
        let best = others
            .iter()
            .filter_map(|b| b.windows.get(w))
            .min_by(|x, y| figure(x).total_cmp(&figure(y)));
        let (Some(x), Some(y)) = (a.windows.get(w), best) else {
            continue;
        };
        let (fx, fy) = (figure(x), figure(y));
        let ratio = if fx == 0.0 && fy == 0.0 {
            both_zero
        } else {
            let r = fx / fy;
            if r.is_nan() { f64::INFINITY } else { r }
        };
        if worst.is_none_or(|(r, _, _)| ratio > r) {
            worst = Some((ratio, x, y));
        }
    }
    worst
}

impl GoalSpec {
    /// The goal as `result` measured it; `None` when a policy it reads was not run.
    pub fn evaluate(&self, result: &ScenarioResult) -> Option<Goal> {
        let scenario = &result.scenario;
        let windows = |w: &Windows| -> Vec<usize> {
            match w {
                Windows::Main => vec![scenario.main_window()],
                Windows::Labels(labels) => labels
                    .iter()
                    .filter_map(|l| scenario.windows.iter().position(|w| &w.label == l))
                    .collect(),
                Windows::MinLoad(min) => (0..scenario.windows.len())
                    .filter(|&i| scenario.windows[i].load.is_some_and(|l| l >= min - 1e-9))
                    .collect(),
            }
        };
        let runs = |than: &[PolicyKind]| -> Option<Vec<&Summary>> {
            than.iter().map(|k| result.run(*k)).collect()
        };
        let names = |than: &[PolicyKind]| -> String {
            match than {
                [one] => format!("{}'s", one.name()),
                several => format!(
                    "the better of {}",
                    several
                        .iter()
                        .map(|k| format!("{}'s", k.name()))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            }
        };
        let (description, measured, figure, met) = match &self.check {
            Check::P99Ratio {
                policy,
                than,
                at_most,
                windows: w,
            } => {
                let (a, b) = (result.run(*policy)?, runs(than)?);
                let ratio = worst_ratio(a, &b, &windows(w), 1.0, |f| f.p99_ms)
                    .map_or(f64::INFINITY, |r| r.0);
                (
                    format!(
                        "{}{} p99 <= {at_most}x {}",
                        scope(w),
                        policy.name(),
                        names(than)
                    ),
                    format!("worst ratio {}", times(ratio)),
                    times(ratio),
                    ratio <= *at_most,
                )
            }
            Check::ErrorRatio {
                policy,
                than,
                at_most,
                windows: w,
            } => {
                let (a, b) = (result.run(*policy)?, runs(than)?);
                let failed = |f: &WindowFigures| f.error_rate + f.timeout_rate;
                let worst = worst_ratio(a, &b, &windows(w), 0.0, failed);
                let (ratio, x, y) = worst
                    .map_or((f64::INFINITY, f64::NAN, f64::NAN), |(r, x, y)| {
                        (r, failed(x), failed(y))
                    });
                (
                    format!(
                        "{}{} failures <= {at_most}x {}",
                        scope(w),
                        policy.name(),
                        names(than)
                    ),
                    format!(
                        "worst ratio {} ({:.2} % vs {:.2} %)",
                        times(ratio),
                        x * 100.0,
                        y * 100.0
                    ),
                    times(ratio),
                    ratio <= *at_most,
                )
            }
            Check::CostRatio {
                policy,
                than,
                at_most,
                windows: w,
            } => {
                let (a, b) = (result.run(*policy)?, runs(than)?);
                let worst = worst_ratio(a, &b, &windows(w), 1.0, |f| f.usd_per_million);
                let (ratio, x, y) = worst
                    .map_or((f64::INFINITY, f64::NAN, f64::NAN), |(r, x, y)| {
                        (r, x.usd_per_million, y.usd_per_million)
                    });
                let saving = 1.0 - ratio;
                let cheaper = if saving >= 0.0 {
                    format!("{:.0} % cheaper", saving * 100.0)
                } else {
                    format!("{:.0} % dearer", -saving * 100.0)
                };
                (
                    format!(
                        "{}{} costs <= {at_most}x {} per request",
                        scope(w),
                        policy.name(),
                        names(than)
                    ),
                    format!("${x:.2} vs ${y:.2} per million: {cheaper}"),
                    format!("{:.0} %", saving * 100.0),
                    ratio <= *at_most,
                )
            }
            Check::P99Slo {
                policy,
                ms,
                windows: w,
            } => {
                let run = result.run(*policy)?;
                let slo = ms.unwrap_or(scenario.slo_ms);
                let worst = windows(w)
                    .iter()
                    .filter_map(|&i| run.windows.get(i))
                    .map(|f| {
                        if f.p99_ms.is_nan() {
                            f64::INFINITY
                        } else {
                            f.p99_ms
                        }
                    })
                    .fold(f64::NEG_INFINITY, f64::max);
                let worst = if worst == f64::NEG_INFINITY {
                    f64::INFINITY
                } else {
                    worst
                };
                (
                    format!("{}{} p99 within the {slo} ms SLO", scope(w), policy.name()),
                    format!("p99 {worst:.0} ms"),
                    format!("{worst:.0} ms"),
                    worst <= slo,
                )
            }
            Check::ShareAfter {
                policy,
                site,
                from,
                settle,
                until,
                below,
                each_second,
            } => {
                let run = result.run(*policy)?;
                let export = scenario.exporters().iter().position(|s| s == site)?;
                let after = if *each_second {
                    run.worst_second_sent_to(export, from + settle, *until)
                } else {
                    run.fraction_sent_to(export, from + settle, *until)
                };
                let drain = run.drain_s(export, *from, *until);
                (
                    format!(
                        "{}: under {} % of {} to {} from {} s to {until} s",
                        policy.name(),
                        below * 100.0,
                        if *each_second {
                            "each second's requests"
                        } else {
                            "requests"
                        },
                        scenario.sites[*site].name,
                        from + settle
                    ),
                    format!("{:.2} % (drained in {drain:.0} s)", after * 100.0),
                    format!("{:.2} %", after * 100.0),
                    after < *below,
                )
            }
            Check::Swing { policy, at_most } => {
                let run = result.run(*policy)?;
                (
                    format!(
                        "{}: no share swings more than {at_most} points per minute once steady",
                        policy.name()
                    ),
                    format!("{:.1} points", run.swing_points_per_min),
                    format!("{:.1}", run.swing_points_per_min),
                    run.swing_points_per_min <= *at_most,
                )
            }
            Check::Settle {
                policy,
                at,
                band,
                within,
                at_least,
            } => {
                let run = result.run(*policy)?;
                let (moved, settled) = run.settling(*at, 30.0, *band)?;
                (
                    format!(
                        "{}: after the change at {at} s the split moves >= {at_least} points and settles within {band} points in {within} s",
                        policy.name()
                    ),
                    format!("moved {moved:.0} points, settled in {settled:.0} s"),
                    format!("{moved:.0} pt / {settled:.0} s"),
                    moved >= *at_least && settled <= *within,
                )
            }
        };
        Some(Goal {
            scenario: scenario.name.clone(),
            goal: self.description.clone().unwrap_or(description),
            measured,
            figure,
            met,
        })
    }
}

/// A ratio as the report shows it.
fn times(ratio: f64) -> String {
    if ratio.is_finite() {
        format!("{ratio:.2}x")
    } else {
        "unbounded".to_owned()
    }
}

/// The windows' part of a default description.
fn scope(windows: &Windows) -> String {
    match windows {
        Windows::Main => String::new(),
        Windows::Labels(labels) => format!("{}: ", labels.join(", ")),
        Windows::MinLoad(min) => format!("loads >= {min}x: "),
    }
}

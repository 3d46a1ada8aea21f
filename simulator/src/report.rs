//! Compares the runs: tables per scenario, the goals and whether the run met them, JSON, and
//! the markdown of `docs/evaluation.md`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::metrics::{Summary, WindowFigures};
use crate::policy::PolicyKind;
use crate::scenario::{Change, Scenario};

/// Production's active probe interval, s: the outage goal counts three of them.
const PROBE_INTERVAL_S: f64 = 1.0;

pub struct ScenarioResult {
    pub scenario: Scenario,
    pub runs: Vec<(PolicyKind, Summary)>,
}

pub struct Evaluation {
    pub seed: u64,
    pub results: Vec<ScenarioResult>,
}

/// One goal of the issue, as measured.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub scenario: String,
    pub goal: String,
    pub measured: String,
    /// The measured figure alone, for a table across seeds.
    pub figure: String,
    pub met: bool,
}

impl ScenarioResult {
    pub fn run(&self, kind: PolicyKind) -> Option<&Summary> {
        self.runs.iter().find(|(k, _)| *k == kind).map(|(_, s)| s)
    }

    /// When the outage scenario's export fails and recovers, and its index.
    fn outage(&self) -> Option<(usize, f64, f64)> {
        let exporters = self.scenario.exporters();
        let down = self.scenario.schedule.iter().find_map(|(t, c)| match c {
            Change::Down(site) => Some((*site, *t)),
            _ => None,
        })?;
        let up = self.scenario.schedule.iter().find_map(|(t, c)| match c {
            Change::Up(site) if *site == down.0 => Some(*t),
            _ => None,
        })?;
        let export = exporters.iter().position(|&s| s == down.0)?;
        Some((export, down.1, up))
    }

    /// Seconds to drain the failed export, and the fraction of requests it got after three
    /// probe intervals, for `kind`.
    pub fn drain(&self, kind: PolicyKind) -> Option<(f64, f64)> {
        let (export, down, up) = self.outage()?;
        let run = self.run(kind)?;
        Some((
            run.drain_s(export, down, up),
            run.fraction_sent_to(export, down + 3.0 * PROBE_INTERVAL_S, up),
        ))
    }

    /// The scenario's goals as this run measured them (see [`crate::goal`]).
    pub fn goals(&self) -> Vec<Goal> {
        self.scenario
            .goals
            .iter()
            .filter_map(|g| g.evaluate(self))
            .collect()
    }

    /// The table of the scenario's main window, one row per policy.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let outage = self.outage().is_some();
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>8} {:>8} {:>7} {:>7} {:>8} {:>7} {:>7} {:>7}{}",
            "policy",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "err %",
            "tmo %",
            "$/M req",
            "util Δ",
            "swing",
            "min sh",
            if outage {
                "  drain s  dead % after 3 s"
            } else {
                ""
            }
        );
        for (kind, run) in &self.runs {
            let w = self.main_window(run);
            let swing = format!(
                "{:.0}{}",
                run.swing_points_per_min,
                if run.swing_from_answers { "*" } else { "" }
            );
            let _ = write!(
                out,
                "{:<20} {:>8.1} {:>8.1} {:>8.1} {:>7.2} {:>7.2} {:>8.2} {:>7.2} {:>7} {:>7.3}",
                kind.name(),
                w.p50_ms,
                w.p99_ms,
                w.p999_ms,
                w.error_rate * 100.0,
                w.timeout_rate * 100.0,
                w.usd_per_million,
                w.utilization_spread,
                swing,
                run.smallest_share,
            );
            if let Some((drain, after)) = self.drain(*kind) {
                let _ = write!(out, "  {drain:>7.0}  {:>16.2}", after * 100.0);
            }
            out.push('\n');
        }
        // A ramp's steps, or the phases of a scenario with several windows (where in the run
        // the policies part), go in a second table.
        if self.scenario.has_ramp() || self.scenario.windows.len() > 1 {
            out.push('\n');
            out.push_str(&self.window_table());
        }
        out
    }

    fn main_window<'s>(&self, run: &'s Summary) -> &'s WindowFigures {
        // A ramp's main figures are those of its hardest step.
        run.windows
            .get(self.scenario.main_window())
            .unwrap_or(&run.windows[0])
    }

    /// p99 and failures by window (a ramp's loads, or a run's phases), one row per policy.
    fn window_table(&self) -> String {
        let mut out = String::new();
        let Some((_, first)) = self.runs.first() else {
            return out;
        };
        let widths: Vec<usize> = first
            .windows
            .iter()
            .map(|w| w.label.len().max(13))
            .collect();
        let _ = write!(out, "{:<20}", "p99 ms (fail %)");
        for (w, width) in first.windows.iter().zip(&widths) {
            let _ = write!(out, " {:>width$}", w.label);
        }
        out.push('\n');
        for (kind, run) in &self.runs {
            let _ = write!(out, "{:<20}", kind.name());
            for (w, width) in run.windows.iter().zip(&widths) {
                let cell = format!(
                    "{:.0} ({:.1})",
                    w.p99_ms,
                    (w.error_rate + w.timeout_rate) * 100.0
                );
                let _ = write!(out, " {cell:>width$}");
            }
            out.push('\n');
        }
        out
    }
}

impl Evaluation {
    pub fn goals(&self) -> Vec<Goal> {
        self.results
            .iter()
            .flat_map(ScenarioResult::goals)
            .collect()
    }

    /// The tables and the goals, for a terminal.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            if r.scenario.about.is_empty() {
                let _ = writeln!(out, "== {}", r.scenario.name);
            } else {
                let _ = writeln!(out, "== {}: {}", r.scenario.name, r.scenario.about);
            }
            out.push_str(&r.table());
            out.push('\n');
        }
        out.push_str(LEGEND);
        out.push('\n');
        for g in self.goals() {
            let _ = writeln!(
                out,
                "[{}] {}: {} - {}",
                if g.met { "met" } else { "MISSED" },
                g.scenario,
                g.goal,
                g.measured
            );
        }
        out
    }

    pub fn json(&self) -> serde_json::Value {
        let scenarios: Vec<serde_json::Value> = self
            .results
            .iter()
            .map(|r| {
                let runs: Vec<serde_json::Value> = r
                    .runs
                    .iter()
                    .map(|(kind, summary)| {
                        let mut v =
                            serde_json::json!({ "policy": kind.name(), "summary": summary });
                        if let Some((drain, after)) = r.drain(*kind) {
                            v["drainS"] = drain.into();
                            v["deadFractionAfter3Intervals"] = after.into();
                        }
                        v
                    })
                    .collect();
                serde_json::json!({
                    "scenario": r.scenario.name,
                    "about": r.scenario.about,
                    "runs": runs,
                    "goals": r.goals(),
                })
            })
            .collect();
        serde_json::json!({ "seed": self.seed, "scenarios": scenarios })
    }
}

pub const LEGEND: &str = "p50/p99/p99.9: latency of answered requests (client-side, network included); err %: refused \
by a full export; tmo %: client gave up (1 s) or sent to a black hole; $/M req: transfer price per million requests; \
util Δ: busiest export's utilisation less the idlest's; swing: largest change of one share within a minute once \
steady, in points (* read from answers: the policy publishes no shares); min sh: smallest fraction of a client \
cluster's traffic any export got. Ramp rows show the 1.5x step; the second table shows p99 and failures in \
every window: a ramp's steps, or a run's phases.";

/// The goals measured under each seed, as text: per goal, its figure under each seed (misses
/// marked) and how many seeds met it.
pub fn seeds_text(across_seeds: &[(u64, Vec<Goal>)]) -> String {
    let mut out = String::new();
    let Some((_, first)) = across_seeds.first() else {
        return out;
    };
    for (row, goal) in first.iter().enumerate() {
        let cells: Vec<Option<&Goal>> = across_seeds.iter().map(|(_, g)| g.get(row)).collect();
        let met = cells.iter().filter(|g| g.is_some_and(|g| g.met)).count();
        let _ = writeln!(
            out,
            "{} of {}: {}: {}",
            met,
            cells.len(),
            goal.scenario,
            goal.goal
        );
        let shown: Vec<String> = across_seeds
            .iter()
            .zip(&cells)
            .map(|((seed, _), g)| match g {
                Some(g) if g.met => format!("{seed}:{}", g.figure),
                Some(g) => format!("{seed}:{}!", g.figure),
                None => format!("{seed}:-"),
            })
            .collect();
        let _ = writeln!(out, "    {}", shown.join("  "));
    }
    out
}

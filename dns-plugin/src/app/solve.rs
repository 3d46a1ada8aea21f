//! `aviator solve`: run the optimizer on a problem file and print its decision, as JSON or as a
//! table a person can read.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, bail};
use aviator_optimizer::{Decision, Problem, solve as run_optimizer};

use crate::cli::SolveArgs;

pub fn solve(args: &SolveArgs) -> anyhow::Result<ExitCode> {
    let file = args.input.display();
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("{file}: cannot read the file"))?;
    // YAML is a superset of JSON, so one parser reads both.
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(|error| {
        let at = error
            .location()
            .map_or(String::new(), |l| format!("{}:{}: ", l.line(), l.column()));
        anyhow::anyhow!("{file}:{at}syntax error: {error}")
    })?;
    let problem: Problem = match serde_path_to_error::deserialize(value) {
        Ok(problem) => problem,
        Err(error) => {
            let path = error.path().to_string();
            bail!("{file}: {path}: {}", error.into_inner())
        }
    };
    let decision = run_optimizer(&problem);
    if args.table {
        print!("{}", table(&decision));
    } else {
        println!("{}", serde_json::to_string_pretty(&decision)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// One row per export: the share, its cost terms, and the reason.
pub fn table(decision: &Decision) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:>6} {:>6} {:>8} {:>8} {:>8} {:>9} {:>9} {:>5}  reason",
        "cluster", "share", "cost", "rtt ms", "svc ms", "queue ms", "total ms", "$/M req", "util"
    );
    for e in &decision.exports {
        let t = &e.terms;
        let util = t
            .utilization
            .map_or("-".to_owned(), |u| format!("{:.0}%", u * 100.0));
        let _ = writeln!(
            out,
            "{:<14} {:>5.1}% {:>6.0} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>9.2} {:>5}  {}",
            e.cluster,
            e.share * 100.0,
            e.terms.cost_ms,
            t.rtt_ms,
            t.service_ms,
            t.queueing_ms,
            t.expected_ms,
            t.price_per_request_usd * 1e6,
            util,
            e.reason()
        );
    }
    let _ = writeln!(
        out,
        "expected {:.1} ms per request, ${:.2} per million requests",
        decision.expected_ms, decision.usd_per_million
    );
    for note in &decision.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

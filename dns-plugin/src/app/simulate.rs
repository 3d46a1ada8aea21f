//! `aviator simulate`: runs the policy evaluation and prints it, draws its plots, or writes the
//! evaluation report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use aviator_sim::scenario;

use crate::cli::SimulateArgs;

/// The goal on the whole evaluation's running time, s.
const TIME_GOAL_S: f64 = 60.0;

pub fn simulate(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let names: Vec<&str> = if args.scenario == "all" {
        scenario::NAMES.to_vec()
    } else {
        vec![args.scenario.as_str()]
    };
    let scenarios = names
        .iter()
        .map(|name| {
            scenario::by_name(name).with_context(|| {
                format!(
                    "--scenario {name}: no such scenario; use one of {} or all",
                    scenario::NAMES.join(", ")
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    let evaluation = aviator_sim::evaluate(scenarios, args.seed);
    let elapsed = started.elapsed().as_secs_f64();

    let several = evaluation.results.len() > 1;
    let mut plots = Vec::new();
    if let Some(plot) = &args.plot {
        for result in &evaluation.results {
            let path = if several {
                suffixed(plot, result.scenario.name)
            } else {
                plot.clone()
            };
            if aviator_sim::plot::draw(result, &path)? {
                plots.push(path);
            }
        }
    }
    if let Some(report) = &args.report {
        let mut names = Vec::new();
        for result in &evaluation.results {
            let path = suffixed(&report.with_extension("svg"), result.scenario.name);
            if aviator_sim::plot::draw(result, &path)? {
                let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
                names.push((result.scenario.name, file.unwrap_or_default()));
            }
        }
        let command = format!(
            "cargo run --release -- simulate --scenario {} --seed {} --report {}",
            args.scenario,
            args.seed,
            report.display()
        );
        let markdown = evaluation.markdown(&command, &names, elapsed, TIME_GOAL_S);
        std::fs::write(report, markdown)
            .with_context(|| format!("cannot write {}", report.display()))?;
        plots.push(report.clone());
    }
    if args.json {
        let mut json = evaluation.json();
        json["elapsedS"] = elapsed.into();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", evaluation.text());
        if several {
            let met = elapsed < TIME_GOAL_S;
            println!(
                "[{}] all: every scenario within {TIME_GOAL_S:.0} s - {elapsed:.1} s on {} cores",
                if met { "met" } else { "MISSED" },
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
        }
        for path in &plots {
            println!("wrote {}", path.display());
        }
    }
    if evaluation.results.is_empty() {
        bail!("nothing to simulate");
    }
    Ok(ExitCode::SUCCESS)
}

/// `dir/name.svg` -> `dir/name-suffix.svg`.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}-{suffix}{extension}"))
}

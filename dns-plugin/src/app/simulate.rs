//! `aviator simulate`: runs the policy evaluation and prints it, draws its plots, or writes the
//! evaluation report; on the built-in scenarios or on scenario files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use aviator_sim::scenario;

use crate::cli::SimulateArgs;

/// The goal on the whole evaluation's running time, s.
const TIME_GOAL_S: f64 = 60.0;
/// The seeds the report measures the goals and the ablation under: 1-10 chose the constants,
/// 11-20 were seen before the queueing weight was chosen, 21-30 are held out.
const REPORT_SEEDS: std::ops::RangeInclusive<u64> = 1..=30;

pub fn simulate(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    if args.print_scenario {
        let name = args.scenario.as_deref().unwrap_or_default();
        let file = scenario::builtin_file(name).with_context(|| {
            format!(
                "--print-scenario prints a built-in scenario's file: use --scenario with one of {}",
                scenario::NAMES.join(", ")
            )
        })?;
        print!("{file}");
        return Ok(ExitCode::SUCCESS);
    }
    // The built-ins unless only files are given.
    let names: Vec<&str> = match args.scenario.as_deref() {
        Some("all") => scenario::NAMES.to_vec(),
        Some(name) => vec![name],
        None if args.scenario_file.is_empty() => scenario::NAMES.to_vec(),
        None => Vec::new(),
    };
    let mut scenarios = names
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
    for file in &args.scenario_file {
        let loaded = scenario::load(file)?;
        if scenarios.iter().any(|s| s.name == loaded.name) {
            bail!(
                "{}: another scenario is also called \"{}\": give each its own name",
                file.display(),
                loaded.name
            );
        }
        scenarios.push(loaded);
    }
    if let Some(seeds) = &args.seeds {
        let across: Vec<(u64, Vec<aviator_sim::report::Goal>)> = seeds
            .clone()
            .map(|seed| (seed, aviator_sim::evaluate(scenarios.clone(), seed).goals()))
            .collect();
        print!("{}", aviator_sim::report::seeds_text(&across));
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let evaluation = aviator_sim::evaluate(scenarios.clone(), args.seed);
    let elapsed = started.elapsed().as_secs_f64();

    let several = evaluation.results.len() > 1;
    let mut wrote = Vec::new();
    if let Some(plot) = &args.plot {
        wrote.extend(
            draw(&evaluation, plot, several)?
                .into_iter()
                .map(|(_, path)| path),
        );
    }
    if let Some(report) = &args.report {
        let plots: Vec<(&str, String)> = draw(&evaluation, &report.with_extension("svg"), true)?
            .into_iter()
            .map(|(name, path)| {
                let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
                (name, file.unwrap_or_default())
            })
            .collect();
        let mut command = String::from("cargo run --release -- simulate");
        let all = args.scenario_file.is_empty().then_some("all");
        if let Some(name) = args.scenario.as_deref().or(all) {
            command.push_str(&format!(" --scenario {name}"));
        }
        for file in &args.scenario_file {
            command.push_str(&format!(" --scenario-file {}", file.display()));
        }
        command.push_str(&format!(" --report {}", report.display()));
        eprintln!(
            "the report runs every scenario under seeds {}-{}, then the ablation: a few minutes",
            REPORT_SEEDS.start(),
            REPORT_SEEDS.end()
        );
        let seeds: Vec<aviator_sim::Evaluation> = REPORT_SEEDS
            .map(|seed| aviator_sim::evaluate(scenarios.clone(), seed))
            .collect();
        let ablated: Vec<_> = scenarios.iter().map(ablation_scenario).collect();
        let ablation: Vec<aviator_sim::Evaluation> = REPORT_SEEDS
            .map(|seed| aviator_sim::evaluate(ablated.clone(), seed))
            .collect();
        let markdown = aviator_sim::markdown::render(&aviator_sim::markdown::Inputs {
            command: &command,
            seeds: &seeds,
            ablation: &ablation,
            plots: &plots,
            elapsed_s: elapsed,
        });
        std::fs::write(report, markdown)
            .with_context(|| format!("cannot write {}", report.display()))?;
        wrote.push(report.clone());
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
        for path in &wrote {
            println!("wrote {}", path.display());
        }
    }
    if evaluation.results.is_empty() {
        bail!("nothing to simulate");
    }
    Ok(ExitCode::SUCCESS)
}

/// The scenario as the ablation runs it: Aviator Performance, each variant, and the baselines its
/// goals compare with.
fn ablation_scenario(s: &scenario::Scenario) -> scenario::Scenario {
    let mut policies = vec![aviator_sim::policy::PolicyKind::AviatorPerformance];
    policies.extend(aviator_sim::policy::PolicyKind::ABLATION);
    for goal in aviator_sim::markdown::goals_for(s, policies[0]) {
        for kind in goal.check.policies() {
            if !policies.contains(&kind) {
                policies.push(kind);
            }
        }
    }
    scenario::Scenario {
        policies,
        ..s.clone()
    }
}

/// Draws each scenario's plot to `path`, or with `per_scenario` to `path` suffixed by the
/// scenario's name. Returns the scenarios drawn and where.
fn draw<'e>(
    evaluation: &'e aviator_sim::Evaluation,
    path: &Path,
    per_scenario: bool,
) -> anyhow::Result<Vec<(&'e str, PathBuf)>> {
    let mut drawn = Vec::new();
    for result in &evaluation.results {
        let name = result.scenario.name.as_str();
        let target = if per_scenario {
            suffixed(path, name)
        } else {
            path.to_path_buf()
        };
        if aviator_sim::plot::draw(result, &target)? {
            drawn.push((name, target));
        }
    }
    Ok(drawn)
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

//! `aviator demo`, run as a newcomer would (at its shortest): it refuses a run too short to mean
//! anything, runs Aviator and both baselines on the same scenario, keeps its logs out of the live
//! table, and its numbers add up.

use std::process::Command;

use crate::support::process::binary;

/// The shortest run the demo accepts, seconds (`aviator_dns::demo::MIN_DURATION_S`).
const MIN_DURATION_S: u64 = 20;

#[test]
fn the_demo_refuses_a_duration_too_short_for_its_scenario_and_says_why() {
    let out = Command::new(binary())
        .args(["demo", "--duration", "10"])
        .output()
        .expect("run the demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("--duration"), "{stderr}");
    assert!(
        stderr.contains(&format!("at least {MIN_DURATION_S} s")),
        "{stderr}"
    );
    assert!(stderr.contains("outage"), "{stderr}");
}

#[test]
fn the_demo_runs_aviator_and_both_baselines_and_reports_comparable_numbers() {
    // At the default log level, so that Aviator's own logs (it ejects the failed cluster) would
    // show up in the live table if they were not kept out of it.
    let out = Command::new(binary())
        .args(["demo", "--duration", &MIN_DURATION_S.to_string(), "--json"])
        .args(["--log-level", "info"])
        .output()
        .expect("run the demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    let runs = json["runs"].as_array().expect("runs");
    let policies: Vec<&str> = runs.iter().map(|r| r["policy"].as_str().unwrap()).collect();
    assert_eq!(runs.len(), 3, "{policies:?}");
    assert!(policies[0].starts_with("Aviator"), "{policies:?}");
    assert!(policies[1].starts_with("Lighthouse"), "{policies:?}");
    assert!(policies[2].starts_with("round-robin"), "{policies:?}");

    // The same open-loop schedule drives every run.
    let requests: Vec<u64> = runs
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .collect();
    assert!(requests[0] > 3000, "{requests:?}");
    for r in &requests[1..] {
        assert!(requests[0].abs_diff(*r) <= requests[0] / 50, "{requests:?}");
    }
    for run in runs {
        let split: f64 = run["split"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[1].as_f64().unwrap())
            .sum();
        assert!((split - 1.0).abs() < 0.01, "split sums to {split}");
        assert!(run["p99Ms"].as_f64().unwrap() >= run["p50Ms"].as_f64().unwrap());
        let errors = run["errors"].as_u64().unwrap() as f64;
        let rate = run["errorRate"].as_f64().unwrap();
        assert!((errors / run["requests"].as_f64().unwrap() - rate).abs() < 1e-9);
    }
    // Lighthouse answers with the local cluster whenever it is ready, and it always is.
    let east = runs[1]["split"][0].clone();
    assert_eq!(east[0], "east");
    assert!(east[1].as_f64().unwrap() > 0.99, "{east}");
    // Round-robin keeps sending a third of the traffic to the failed cluster.
    assert!(runs[2]["errorRate"].as_f64().unwrap() > 0.0);
    // Aviator's figures over each baseline's, in order.
    let vs = json["vs_baselines"].as_array().expect("vs_baselines");
    assert_eq!(vs.len(), 2);
    assert_eq!(vs[0]["baseline"], runs[1]["policy"]);
    assert_eq!(vs[1]["baseline"], runs[2]["policy"]);
    let p99 = runs[0]["p99Ms"].as_f64().unwrap() / runs[2]["p99Ms"].as_f64().unwrap();
    assert!((vs[1]["p99"].as_f64().unwrap() - p99).abs() < 1e-9);

    // The live table went to stderr, one line per second of each run, and nothing broke into it.
    let seconds = stderr
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u32>().is_ok())
        })
        .count();
    assert_eq!(seconds as u64, 3 * MIN_DURATION_S, "{stderr}");
    assert!(stderr.contains("central fails"), "{stderr}");
    for line in stderr.lines() {
        for level in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] {
            assert!(
                !line.contains(level),
                "a log line in the table: {line}\n{stderr}"
            );
        }
    }
    // What was logged went to the file the demo names.
    if let Some(line) = stderr.lines().find(|l| l.contains("logged")) {
        let path = line
            .rsplit(" to ")
            .next()
            .unwrap()
            .trim_end_matches('.')
            .to_owned();
        let logged = std::fs::read_to_string(&path).expect("the demo's log file");
        assert!(!logged.is_empty(), "{path}");
        let _ = std::fs::remove_file(path);
    }
}

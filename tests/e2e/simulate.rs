//! `aviator simulate`: the real binary runs a scenario, prints the comparison and its goal,
//! draws the plot; a wrong scenario name is refused with the flag named.

use std::path::Path;
use std::process::Command;

use crate::support::process::binary;

#[test]
fn simulate_prints_every_policy_and_the_goal_and_draws_the_plot() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("outage.svg");
    let out = Command::new(binary())
        .args(["simulate", "--scenario", "outage", "--seed", "3", "--plot"])
        .arg(&plot)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for policy in [
        "lighthouse",
        "round-robin",
        "wrr-pods",
        "istio-failover",
        "envoy-load-aware",
        "grpc-wrr",
        "p2c-latency",
        "prequal",
        "aviator-performance",
        "aviator-cost",
        "aviator-mixed",
    ] {
        assert!(stdout.contains(policy), "{policy} missing:\n{stdout}");
    }
    // The declared-demand row went with demandRps.
    assert!(!stdout.contains("aviator-declared"), "{stdout}");
    // The goal is checked and reported, met or not.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with('[') && l.contains("] outage: ") && l.contains("dead cluster")),
        "{stdout}"
    );
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("usw2-a"),
        "{svg:.200}"
    );
}

#[test]
fn an_unknown_scenario_is_refused_by_name() {
    let out = Command::new(binary())
        .args(["simulate", "--scenario", "tsunami"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--scenario tsunami: no such scenario; use one of ramp, outage"),
        "{stderr}"
    );
}

/// The README's what-if: the example file runs its own topology and checks its own goals, and
/// draws the shares over time since its partition moves them.
#[test]
fn a_scenario_file_runs_its_own_topology_and_goals() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("mine.svg");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenario.yaml");
    let out = Command::new(binary())
        .args(["simulate", "--scenario-file"])
        .arg(&example)
        .arg("--plot")
        .arg(&plot)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("== two-clouds: "), "{stdout}");
    // Only the policies the file names.
    assert!(stdout.contains("aviator-cost"), "{stdout}");
    assert!(!stdout.contains("aviator-declared"), "{stdout}");
    assert!(!stdout.contains("== ramp"), "{stdout}");
    assert!(
        stdout.contains("two-clouds: during the partition, Aviator fails at most half as often as static WRR - worst ratio"),
        "{stdout}"
    );
    let goals = stdout
        .lines()
        .filter(|l| l.starts_with("[met] two-clouds") || l.starts_with("[MISSED] two-clouds"));
    assert_eq!(goals.count(), 4, "{stdout}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.contains("gcp-central"), "{svg:.200}");
}

#[test]
fn a_bad_scenario_file_is_refused_with_every_error_and_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "name: bad\nduration: 60\nclusters:\n  - { name: a, provider: aws, region: r, zone: z, servers: 2, speed: 0 }\nclients: [{ cluster: b, demand: 1 }]\nload: 1\nevents: [{ at: 10, explode: a }]\n",
    )
    .unwrap();
    let out = Command::new(binary())
        .args(["simulate", "--scenario-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "bad.yaml: 3 errors:",
        "  - clusters[0].speed: 0: must be more than 0",
        "  - clients[0].cluster: unknown cluster \"b\"",
        "  - events[0].explode: unknown field `explode`",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing:\n{stderr}");
    }
}

#[test]
fn a_builtin_prints_as_a_file_to_start_from() {
    let out = Command::new(binary())
        .args(["simulate", "--scenario", "outage", "--print-scenario"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("name: outage"), "{stdout}");
    assert!(stdout.contains("- { at: 60, down: usw2-a }"), "{stdout}");
}

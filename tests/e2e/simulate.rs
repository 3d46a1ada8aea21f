//! `aviator simulate`: the real binary runs a scenario, prints the comparison and its goal,
//! draws the plot; a wrong scenario name is refused with the flag named.

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
        "wrr-pods",
        "istio-failover",
        "envoy-load-aware",
        "p2c-latency",
        "prequal",
        "aviator-performance",
        "aviator-cost",
        "aviator-mixed",
        "aviator-declared",
    ] {
        assert!(stdout.contains(policy), "{policy} missing:\n{stdout}");
    }
    assert!(
        stdout.contains("outage: under 1 % of requests to the dead cluster"),
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

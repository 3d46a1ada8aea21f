//! `aviator demo`, run as a newcomer would (shortened): it finishes, compares both policies on
//! the same scenario, and its numbers add up.

use std::process::Command;

use crate::support::process::binary;

#[test]
fn the_demo_runs_both_policies_and_reports_comparable_numbers() {
    let out = Command::new(binary())
        .args(["demo", "--duration", "6", "--json", "--log-level", "warn"])
        .output()
        .expect("run the demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    let runs = json["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    assert!(runs[0]["policy"].as_str().unwrap().starts_with("Aviator"));
    assert!(
        runs[1]["policy"]
            .as_str()
            .unwrap()
            .starts_with("round-robin")
    );
    // The same open-loop schedule drives both runs.
    let requests: Vec<u64> = runs
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .collect();
    assert!(requests[0] > 500, "{requests:?}");
    assert!(
        requests[0].abs_diff(requests[1]) <= requests[0] / 50,
        "{requests:?}"
    );
    for run in runs {
        let split: f64 = run["split"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[1].as_f64().unwrap())
            .sum();
        assert!((split - 1.0).abs() < 0.01, "split sums to {split}");
        assert!(run["p99Ms"].as_f64().unwrap() >= run["p50Ms"].as_f64().unwrap());
    }
    // Round-robin keeps sending a third of the traffic to the failed cluster.
    assert!(runs[1]["errorRate"].as_f64().unwrap() > 0.0);
    // The live table went to stderr, one line per second.
    assert!(stderr.contains("central fails"), "{stderr}");
}

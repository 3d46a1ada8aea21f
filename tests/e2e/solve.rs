//! `aviator solve`: an optimizer problem in, shares and explanations out.

use crate::support::process::run_on_file;

fn solve(args: &[&str], input: &str) -> (bool, String, String) {
    run_on_file("solve", "--input", "problem.yaml", input, args)
}

const PROBLEM: &str = r#"
policy: { objective: Performance, preferLocal: false }
exports:
  - { cluster: near, rtt: { meanMs: 2 }, latency: { meanMs: 8 } }
  - { cluster: far, rtt: { meanMs: 70 }, latency: { meanMs: 8 } }
  - { cluster: down, eligible: false }
"#;

#[test]
fn solve_prints_shares_and_reasons_as_json() {
    let (ok, stdout, stderr) = solve(&[], PROBLEM);
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let exports = json["exports"].as_array().unwrap();
    assert_eq!(exports[0]["cluster"], "near");
    // Everything but the default half-per-cent floor goes to the near export.
    assert!((exports[0]["share"].as_f64().unwrap() - 0.995).abs() < 1e-9);
    assert!((exports[1]["share"].as_f64().unwrap() - 0.005).abs() < 1e-9);
    assert_eq!(exports[2]["share"], 0.0);
    assert_eq!(exports[2]["binds"][0], "ineligible");
    assert_eq!(exports[1]["binds"][0], "floor");
    assert!(
        exports[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("fastest")
    );
    assert!(
        json["state"]["near"]["share"].is_number(),
        "state for the next solve"
    );
}

#[test]
fn solve_prints_a_table_on_request() {
    let (ok, stdout, _) = solve(&["--table"], PROBLEM);
    assert!(ok);
    let near = stdout
        .lines()
        .find(|l| l.starts_with("near"))
        .expect("row for near");
    assert!(near.contains("99.5%"), "{stdout}");
    assert!(stdout.contains("not eligible"), "{stdout}");
}

#[test]
fn solve_names_the_field_of_a_bad_input() {
    let (ok, _, stderr) = solve(&[], "exports:\n  - { cluster: a, rtt: { meanMs: fast } }\n");
    assert!(!ok);
    assert!(
        stderr.contains("problem.yaml: exports[0].rtt.meanMs: invalid type"),
        "{stderr}"
    );
}

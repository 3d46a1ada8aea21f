//! `aviator solve`: an optimizer problem in, shares and explanations out.

use crate::support::process::run_on_file;

fn solve(args: &[&str], input: &str) -> (bool, String, String) {
    run_on_file("solve", "--input", "problem.yaml", input, args)
}

const PROBLEM: &str = r#"
policy: { objective: Performance, preferLocal: false, migrationS: 5 }
exports:
  - { cluster: near, rtt: { meanMs: 2 }, latency: { meanMs: 8 } }
  - { cluster: far, rtt: { meanMs: 70 }, latency: { meanMs: 8 } }
  - { cluster: down, eligible: false }
"#;

fn shares(json: &serde_json::Value) -> Vec<f64> {
    json["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["share"].as_f64().unwrap())
        .collect()
}

#[test]
fn solve_prints_shares_and_reasons_as_json() {
    let (ok, stdout, stderr) = solve(&[], PROBLEM);
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let exports = json["exports"].as_array().unwrap();
    assert_eq!(exports[0]["cluster"], "near");
    // A first solve starts from the ready endpoints (one each, unknown): 50/50. One tick (the
    // default 1 s, of a 5 s migration) moves a fifth of far's half to near, since near (10 ms)
    // is far cheaper than far (78 ms): 60/40.
    let got = shares(&json);
    assert!((got[0] - 0.6).abs() < 1e-9, "{got:?}");
    assert!((got[1] - 0.4).abs() < 1e-9, "{got:?}");
    assert_eq!(got[2], 0.0);
    assert_eq!(exports[2]["binds"][0], "ineligible");
    // No exporter reports its load here: the probes' figures stand in.
    assert_eq!(exports[0]["binds"][0], "unreported");
    assert_eq!(exports[0]["terms"]["costMs"], 10.0);
    assert!(exports[0].get("lpShare").is_none(), "{stdout}");
    let reason = exports[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("60 %: 10.0 ms"), "{reason}");

    // The state, passed back as `previous` four seconds later, carries on from 60/40: far
    // moves 0.8 of its 0.4, so 92/8.
    let state = &json["state"];
    assert_eq!(state["near"]["share"], exports[0]["share"]);
    let next = format!(
        "{PROBLEM}previous: {state}\nelapsedS: 4\n",
        state = serde_json::to_string(state).unwrap()
    );
    let (ok, stdout, stderr) = solve(&[], &next);
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let got = shares(&json);
    assert!((got[0] - 0.92).abs() < 1e-9, "{got:?}");
    assert!(
        json["exports"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("up from 60.0 %"),
        "{stdout}"
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
    assert!(near.contains("60.0%"), "{stdout}");
    assert!(stdout.contains("not eligible"), "{stdout}");
    assert!(stdout.lines().next().unwrap().contains("cost"), "{stdout}");
}

/// The README runs the shipped problem.
#[test]
fn the_shipped_problem_solves() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/solve.yaml");
    let text = std::fs::read_to_string(example).unwrap();
    let (ok, stdout, stderr) = solve(&["--table"], &text);
    assert!(ok, "{stderr}");
    for cluster in ["east", "west", "central"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(cluster)),
            "{cluster}: {stdout}"
        );
    }
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

//! The command line: `check` reports every error, `serve` refuses a bad file and stops cleanly.

use std::process::Command;

use crate::support::process::{binary, example, run_on_file};
use crate::support::*;

fn check(text: &str) -> (bool, String, String) {
    run_on_file("check", "--config", "set.yaml", text, &[])
}

#[test]
fn check_accepts_the_example() {
    let out = Command::new(binary())
        .arg("check")
        .arg("--config")
        .arg(example())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: 3 clusters, 7 services"));
}

#[test]
fn check_lists_every_error_with_file_and_field() {
    let text = "localCluster: east\nclusters: [{ id: east }, { id: east }]\nservices:\n  - { name: a, namespace: n, ports: [{ port: 0 }], exports: [{ cluster: east, ips: [nope] }] }\n";
    let (ok, _, stderr) = check(text);
    assert!(!ok);
    assert!(stderr.contains("set.yaml: 3 errors:"), "{stderr}");
    assert!(
        stderr.contains("clusters[1].id: duplicate cluster \"east\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("services[0].ports[0].port: 0 is out of range"),
        "{stderr}"
    );
    assert!(
        stderr.contains("services[0].exports[0].ips[0]: \"nope\" is not an IPv4 or IPv6 address"),
        "{stderr}"
    );
}

#[test]
fn check_reports_syntax_errors_with_the_line() {
    let (ok, _, stderr) = check("localCluster: east\nclusters:\n  - id: east\n   bad: indent\n");
    assert!(!ok);
    assert!(stderr.contains("set.yaml:4:"), "{stderr}");
}

#[test]
fn serve_refuses_an_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("set.yaml");
    std::fs::write(&file, "localCluster: nowhere\nclusters: [{ id: east }]\n").unwrap();
    let out = Command::new(binary())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("localCluster: unknown cluster \"nowhere\""),
        "{stderr}"
    );
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let server = Aviator::start(&example());
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn deploy_crds_match_what_aviator_generates() {
    let out = Command::new(binary()).arg("crd").output().unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds/aviator.dev.yaml");
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        generated == committed,
        "deploy/crds/aviator.dev.yaml is stale: run `cargo run -- crd > deploy/crds/aviator.dev.yaml`"
    );
}

//! Hot reload of the clusterset file: valid edits take effect, invalid ones are rejected and
//! counted while the last good state keeps serving.

use hickory_proto::rr::RecordType;

use crate::support::http::{get, metric};
use crate::support::process::eventually;
use crate::support::*;

const ECHO: &str = "echo.default.svc.clusterset.local.";

fn reloads(server: &Aviator, result: &str) -> f64 {
    let (_, body) = get(server.admin, "/metrics");
    metric(&body, "aviator_config_reloads_total", &[("result", result)]).unwrap_or(0.0)
}

#[test]
fn an_edit_is_served_and_a_bad_edit_keeps_the_last_good_state() {
    let server = Aviator::start(&process::example());
    let original = std::fs::read_to_string(process::example()).unwrap();
    assert_eq!(
        addresses(&ask(ECHO, RecordType::A).to(server.dns)),
        ips(&["10.1.0.20"])
    );

    // A valid edit: east's echo moves to a new address.
    let moved = original.replace("10.1.0.20", "10.1.0.99");
    server.rewrite_config(&moved);
    eventually("the edit to be served", || {
        addresses(&ask(ECHO, RecordType::A).to(server.dns)) == ips(&["10.1.0.99"])
    });
    assert!(reloads(&server, "ok") >= 1.0);

    // An invalid edit: an export names a cluster that does not exist.
    let broken = moved.replace(
        "- { cluster: west, ips: [10.2.0.20] }",
        "- { cluster: mars, ips: [10.2.0.20] }",
    );
    assert_ne!(broken, moved);
    server.rewrite_config(&broken);
    eventually("the bad edit to be rejected", || {
        reloads(&server, "error") >= 1.0
    });
    let (_, body) = get(server.admin, "/metrics");
    assert_eq!(
        metric(&body, "aviator_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert_eq!(
        addresses(&ask(ECHO, RecordType::A).to(server.dns)),
        ips(&["10.1.0.99"])
    );
    let log = server.stderr_text();
    assert!(
        log.contains("unknown cluster \\\"mars\\\"") || log.contains("unknown cluster \"mars\""),
        "{log}"
    );

    // Broken YAML is rejected the same way.
    server.rewrite_config("localCluster: east\nclusters: [\n");
    eventually("the syntax error to be rejected", || {
        reloads(&server, "error") >= 2.0
    });
    assert_eq!(
        addresses(&ask(ECHO, RecordType::A).to(server.dns)),
        ips(&["10.1.0.99"])
    );

    // Fixing the file brings it back.
    server.rewrite_config(&original);
    eventually("the fixed file to be served", || {
        addresses(&ask(ECHO, RecordType::A).to(server.dns)) == ips(&["10.1.0.20"])
    });
}

#[test]
fn an_in_place_write_is_noticed_too() {
    let server = Aviator::start(&process::example());
    let original = std::fs::read_to_string(process::example()).unwrap();
    std::fs::write(&server.config, original.replace("10.1.0.20", "10.1.0.77")).unwrap();
    eventually("the in-place write to be served", || {
        addresses(&ask(ECHO, RecordType::A).to(server.dns)) == ips(&["10.1.0.77"])
    });
}

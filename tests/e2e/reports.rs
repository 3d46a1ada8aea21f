//! Load reports between two real instances sharing a broker directory: each measures its own
//! export from inside its cluster and publishes it with the time it was measured; the other
//! reads it, aged on its own clock, and keeps ageing it when the exporter falls silent.

use std::time::Duration;

use serde_json::Value;

use crate::support::Aviator;
use crate::support::backend::Backend;
use crate::support::http::get;
use crate::support::process::eventually;

/// One service exported by `east` and `west`, each at its backend, as seen from `local`;
/// `west_load` is added to west's export (its declared utilisation).
fn clusterset(local: &str, east: &Backend, west: &Backend, west_load: &str) -> String {
    format!(
        r#"localCluster: {local}
clusters: [{{ id: east }}, {{ id: west }}]
services:
  - name: s
    namespace: n
    ports: [{{ name: http, port: 80 }}]
    policy: {{ mode: Optimized, preferLocal: false, probePath: /ping }}
    exports:
      - {{ cluster: east, ips: [{}], ports: [{{ name: http, port: {} }}] }}
      - {{ cluster: west, ips: [{}], ports: [{{ name: http, port: {} }}]{west_load} }}
"#,
        east.addr.ip(),
        east.addr.port(),
        west.addr.ip(),
        west.addr.port(),
    )
}

/// The load report `server` holds for `cluster`'s export of n/s.
fn report(server: &Aviator, cluster: &str) -> Value {
    let (status, body) = get(server.admin, "/debug/weights");
    assert_eq!(status, 200, "{body}");
    let weights: Value = serde_json::from_str(&body).expect("JSON");
    weights["services"]["n/s"]["reports"][cluster].clone()
}

#[test]
fn a_peer_sees_the_exporters_own_report_and_its_age_grows_when_it_stops() {
    let east_backend = Backend::start("127.0.0.6");
    let west_backend = Backend::start("127.0.0.7");
    west_backend.set_delay(Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--broker-dir",
        dir.path().to_str().unwrap(),
        "--tick-ms",
        "200",
        "--probe-interval-ms",
        "200",
    ];
    let west = Aviator::start_with_args(
        &clusterset("west", &east_backend, &west_backend, ", utilization: 0.7"),
        &args,
    );
    // East's own file knows nothing of west's load: what it shows is west's report.
    let east =
        Aviator::start_with_args(&clusterset("east", &east_backend, &west_backend, ""), &args);

    eventually("west's report, with its own latency, to reach east", || {
        let r = report(&east, "west");
        r["utilization"] == 0.7 && r["latencyMs"].as_f64().is_some_and(|ms| ms >= 30.0)
    });
    let fresh = report(&east, "west");
    let age = fresh["ageS"].as_f64().unwrap();
    // Written every 2 s ± 25 %, read every tick: well within the 15 s expiry.
    assert!((0.0..6.0).contains(&age), "{fresh}");
    // Each cluster reports its own export too, from its own probes of it.
    assert!(
        report(&east, "east")["latencyMs"].as_f64().is_some(),
        "{}",
        report(&east, "east")
    );
    let published = std::fs::read_to_string(dir.path().join("west.yaml")).unwrap();
    assert!(published.contains("measuredAt:"), "{published}");
    assert!(published.contains("utilization: 0.7"), "{published}");

    // West falls silent: east keeps its last good copy, ever older, until it expires.
    let status = west.terminate();
    assert!(status.success(), "{status:?}");
    std::thread::sleep(Duration::from_secs(4));
    let stale = report(&east, "west");
    assert_eq!(stale["utilization"], 0.7, "{stale}");
    // At least the 4 s of silence, less a tick for the rebuild that shows it.
    assert!(stale["ageS"].as_f64().unwrap() > 3.5, "{stale}");
    eventually("the silent exporter's report to keep ageing", || {
        report(&east, "west")["ageS"].as_f64().unwrap() > 5.0
    });
}

//! The live loop against real local backends: probes drain a dead export, readmit a healed one
//! and follow a slow one, the broker's prices move Cost shares, a broken broker leaves prices
//! stale but kept, and a black hole stalls nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::support::backend::Backend;
use crate::support::http::{get, metric};
use crate::support::process::eventually;
use crate::support::*;

const PROBE_MS: u64 = 200;
const TICK_MS: u64 = 100;

fn live_args() -> Vec<String> {
    [
        "--probe-interval-ms",
        &PROBE_MS.to_string(),
        "--tick-ms",
        &TICK_MS.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

fn start(text: &str, extra: &[String]) -> Aviator {
    let args: Vec<&str> = extra.iter().map(String::as_str).collect();
    Aviator::start_with_args(text, &args)
}

/// A clusterset with one service exported by `west` and `central`, each at its backend.
fn two_exports(policy: &str, west: &Backend, central: &Backend) -> String {
    format!(
        r#"localCluster: east
dns: {{ ttl: 1 }}
clusters: [{{ id: east }}, {{ id: west }}, {{ id: central }}]
services:
  - name: live
    namespace: default
    policy: {policy}
    exports:
      - {{ cluster: west, ips: [{}], ports: [{{ name: http, port: {} }}] }}
      - {{ cluster: central, ips: [{}], ports: [{{ name: http, port: {} }}] }}
"#,
        west.addr.ip(),
        west.addr.port(),
        central.addr.ip(),
        central.addr.port()
    )
}

fn answer(server: &Aviator) -> IpAddr {
    addresses(&ask("live.default.svc.clusterset.local.", RecordType::A).to(server.dns))[0]
}

fn weights(server: &Aviator) -> Value {
    let (status, body) = get(server.admin, "/debug/weights");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

fn share(server: &Aviator, service: &str, cluster: &str) -> f64 {
    let w = weights(server);
    let exports = w["services"][service]["decision"]["exports"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    exports
        .iter()
        .find(|e| e["cluster"] == cluster)
        .and_then(|e| e["share"].as_f64())
        .unwrap_or(f64::NAN)
}

#[test]
fn a_killed_export_stops_being_answered_within_three_probe_intervals() {
    let west = Backend::start("127.0.0.2");
    let mut central = Backend::start("127.0.0.3");
    let policy = "{ mode: RoundRobin, preferLocal: false, probe: true }";
    let server = start(&two_exports(policy, &west, &central), &live_args());
    let mut seen: HashMap<IpAddr, usize> = HashMap::new();
    eventually("both exports answered", || {
        *seen.entry(answer(&server)).or_default() += 1;
        seen.len() == 2
    });

    central.kill();
    let killed = Instant::now();
    // Three probe intervals (with their 20 % jitter), one control tick to publish, and the
    // test's own polling as slack.
    let bound = Duration::from_millis(3 * PROBE_MS * 6 / 5 + TICK_MS + 200);
    let mut last_central = None;
    while killed.elapsed() < bound + Duration::from_millis(500) {
        if answer(&server) == central.addr.ip() {
            last_central = Some(killed.elapsed());
        }
    }
    let drained_after = last_central.unwrap_or_default();
    assert!(
        drained_after <= bound,
        "central still answered {drained_after:?} after it died"
    );
    for _ in 0..20 {
        assert_eq!(answer(&server), west.addr.ip());
    }
    let (_, body) = get(server.admin, "/metrics");
    let ejected = metric(
        &body,
        "aviator_export_ejected",
        &[("service", "default/live"), ("cluster", "central")],
    );
    assert_eq!(ejected, Some(1.0), "{body}");
}

#[test]
fn a_failing_export_stays_out_while_it_fails_and_is_back_within_two_probes_of_healing() {
    let west = Backend::start("127.0.0.2");
    let central = Backend::start("127.0.0.3");
    let policy = "{ mode: RoundRobin, preferLocal: false, probePath: /work }";
    let server = start(&two_exports(policy, &west, &central), &live_args());
    let ejected = |server: &Aviator| {
        let (_, body) = get(server.admin, "/metrics");
        metric(
            &body,
            "aviator_export_ejected",
            &[("service", "default/live"), ("cluster", "central")],
        )
    };
    let mut seen: HashMap<IpAddr, usize> = HashMap::new();
    eventually("both exports answered", || {
        *seen.entry(answer(&server)).or_default() += 1;
        seen.len() == 2
    });

    central.set_failing(true);
    eventually("central to be ejected", || ejected(&server) == Some(1.0));
    // The ejection reaches answers with the next control tick.
    eventually("central's answers to stop", || {
        (0..10).all(|_| answer(&server) == west.addr.ip())
    });
    // Out for as long as it fails, however long that is: ten probe intervals here.
    let failing = Instant::now();
    while failing.elapsed() < Duration::from_millis(10 * PROBE_MS) {
        assert_eq!(answer(&server), west.addr.ip(), "a failing export answered");
    }
    assert_eq!(ejected(&server), Some(1.0));

    central.set_failing(false);
    let healed = Instant::now();
    eventually("central answered again", || {
        answer(&server) == central.addr.ip()
    });
    // Two passing probes (with their 20 % jitter), one control tick to publish, and the
    // test's own polling as slack: not a fixed ejection time.
    let bound = Duration::from_millis(2 * PROBE_MS * 6 / 5 + TICK_MS + 300);
    assert!(
        healed.elapsed() <= bound,
        "central came back {:?} after it healed, more than {bound:?}",
        healed.elapsed()
    );
    assert_eq!(ejected(&server), Some(0.0));
}

#[test]
fn a_slowed_export_loses_its_share_and_regains_it_when_healed() {
    let west = Backend::start("127.0.0.2");
    let central = Backend::start("127.0.0.3");
    west.set_delay(Duration::from_millis(40));
    // Traffic leaves a far slower export in about migrationSeconds (2 s here, 5 s by default).
    let policy = "{ mode: Optimized, objective: Performance, preferLocal: false, probePath: /work, migrationSeconds: 2 }";
    let server = start(&two_exports(policy, &west, &central), &live_args());
    // Lookups keep the service "in demand", so it is probed at the active rate.
    let share_in_demand = |server: &Aviator| {
        answer(server);
        share(server, "default/live", "central")
    };
    eventually("central, the faster, to lead", || {
        share_in_demand(&server) > 0.8
    });

    central.set_delay(Duration::from_millis(150));
    eventually("central's share to drop", || share_in_demand(&server) < 0.1);
    let explain = std::process::Command::new(process::binary())
        .args([
            "explain",
            "live.default",
            "--admin",
            &server.admin.to_string(),
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&explain.stdout);
    assert!(
        explain.status.success(),
        "{}",
        String::from_utf8_lossy(&explain.stderr)
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("central"))
        .unwrap_or_else(|| panic!("{table}"));
    // Still draining, and saying why: its latency, and the traffic it is losing.
    assert!(row.contains("down from"), "{table}");
    assert!(row.contains("marginal latency"), "{table}");

    central.set_delay(Duration::ZERO);
    eventually("central's share to recover", || {
        share_in_demand(&server) > 0.8
    });
}

fn profile(
    cluster: &str,
    provider: &str,
    region: &str,
    egress_region: f64,
    internet: f64,
) -> String {
    format!(
        "cluster: {cluster}\nprovider: {provider}\nregion: {region}\nzone: {region}-a\nprices:\n  egress: {{ intraZone: 0, interZone: 0.01, interRegion: {egress_region}, interContinent: 0.05, internet: {internet} }}\n"
    )
}

const PRICED: &str = r#"localCluster: east
clusters:
  - id: east
    provider: aws
    region: us-east-1
    zone: us-east-1a
    prices: { egress: { intraZone: 0, interZone: 0.01, interRegion: 0.02, interContinent: 0.02, internet: 0.09 } }
  - { id: west }
  - { id: central }
services:
  - name: priced
    namespace: default
    ports: [{ name: http, port: 80 }]
    policy: { mode: Optimized, objective: Cost, preferLocal: false, responseBytes: 100000, migrationSeconds: 1 }
    exports:
      - { cluster: west, ips: [10.2.0.80], rtt: { meanMs: 30 }, latency: { meanMs: 5 } }
      - { cluster: central, ips: [10.3.0.80], rtt: { meanMs: 30 }, latency: { meanMs: 5 } }
"#;

/// The figure `field` of the `terms` behind `cluster`'s share of `default/priced`.
fn term(server: &Aviator, cluster: &str, field: &str) -> f64 {
    let w = weights(server);
    w["services"]["default/priced"]["decision"]["exports"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|e| e["cluster"] == cluster)
                .and_then(|e| e["terms"][field].as_f64())
        })
        .unwrap_or(f64::NAN)
}

#[test]
fn a_price_changed_in_the_broker_moves_cost_shares_within_two_ticks() {
    let dir = tempfile::tempdir().unwrap();
    // Both on AWS like east; west is cheap, central dear (its response egress pays).
    std::fs::write(
        dir.path().join("west.yaml"),
        profile("west", "aws", "us-west-2", 0.02, 0.09),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("central.yaml"),
        profile("central", "aws", "us-east-2", 0.08, 0.09),
    )
    .unwrap();
    let tick = 500;
    let args: Vec<String> = [
        "--tick-ms",
        &tick.to_string(),
        "--broker-dir",
        dir.path().to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let server = start(PRICED, &args);
    // From 50/50, central (dearer) moves to west at the full rate: half a 1 s migration per
    // 500 ms tick.
    eventually("west, the cheaper, to win", || {
        share(&server, "default/priced", "west") > 0.9
    });
    // Our own profile is published beside the peers'.
    eventually("east's profile to be published", || {
        dir.path().join("east.yaml").exists()
    });

    let staging = dir.path().join(".central.tmp");
    std::fs::write(
        &staging,
        profile("central", "aws", "us-east-2", 0.005, 0.09),
    )
    .unwrap();
    let before = share(&server, "default/priced", "central");
    let dear = term(&server, "central", "pricePerRequestUsd");
    std::fs::rename(&staging, dir.path().join("central.yaml")).unwrap();
    let changed = Instant::now();
    // Within two ticks the new price is read, central costs less than west, and traffic
    // starts back toward it.
    eventually("central to become the cheaper and gain", || {
        term(&server, "central", "pricePerRequestUsd") < dear
            && term(&server, "central", "costMs") < term(&server, "west", "costMs")
            && share(&server, "default/priced", "central") > before
    });
    let took = changed.elapsed();
    assert!(
        took <= Duration::from_millis(2 * tick + 300),
        "took {took:?}"
    );
    // And it keeps moving until central has most of it.
    eventually("central to win", || {
        share(&server, "default/priced", "central") > 0.9
    });
}

#[test]
fn an_unreadable_broker_keeps_the_last_good_prices_and_says_they_are_stale() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("broker");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("west.yaml"),
        profile("west", "aws", "us-west-2", 0.02, 0.09),
    )
    .unwrap();
    std::fs::write(
        dir.join("central.yaml"),
        profile("central", "aws", "us-east-2", 0.08, 0.09),
    )
    .unwrap();
    let args: Vec<String> = [
        "--tick-ms",
        "100",
        "--broker-stale-s",
        "1",
        "--broker-dir",
        dir.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let server = start(PRICED, &args);
    eventually("west to win on the broker's prices", || {
        share(&server, "default/priced", "west") > 0.9
    });
    let price = term(&server, "central", "pricePerRequestUsd");
    let stale = |server: &Aviator| {
        let (_, body) = get(server.admin, "/metrics");
        metric(&body, "aviator_broker_stale", &[])
    };
    assert_eq!(stale(&server), Some(0.0));

    // The directory turns into a file: every read now fails (root ignores permissions, so
    // chmod would not do).
    std::fs::rename(&dir, root.path().join("gone")).unwrap();
    std::fs::write(&dir, "not a directory").unwrap();
    eventually("the prices to be reported stale", || {
        stale(&server) == Some(1.0)
    });
    assert!(
        share(&server, "default/priced", "west") > 0.9,
        "the last good prices still decide"
    );
    assert_eq!(term(&server, "central", "pricePerRequestUsd"), price);
    assert!(server.stderr_text().contains("cannot read the broker"));
}

#[test]
fn a_black_holed_export_stalls_neither_the_loop_nor_dns() {
    let hole = Backend::start("127.0.0.4");
    hole.black_hole();
    let healthy = Backend::start("127.0.0.5");
    let policy =
        "{ mode: Optimized, objective: Performance, preferLocal: false, probePath: /ping }";
    let text = two_exports(policy, &hole, &healthy);
    let args: Vec<String> = [
        "--probe-interval-ms",
        "100",
        "--probe-timeout-ms",
        "3000",
        "--tick-ms",
        "100",
    ]
    .map(String::from)
    .to_vec();
    let server = start(&text, &args);
    // The healthy export's probes keep completing while the hole's hang for 3 s each.
    let fresh_probe = |server: &Aviator| {
        weights(server)["services"]["default/live"]["probes"]["central"]["latency"]["ageS"].as_f64()
    };
    eventually("the healthy export to be measured", || {
        fresh_probe(&server).is_some()
    });
    let started = Instant::now();
    let mut hole_share: f64 = 0.0;
    while started.elapsed() < Duration::from_secs(2) {
        let asked = Instant::now();
        let got = answer(&server);
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "a DNS answer took {:?}",
            asked.elapsed()
        );
        assert!(got == hole.addr.ip() || got == healthy.addr.ip());
        let age = fresh_probe(&server).unwrap_or(f64::INFINITY);
        assert!(
            age < 1.0,
            "the healthy export's probe is {age} s old: the loop stalled"
        );
        hole_share = hole_share.max(share(&server, "default/live", "west"));
    }
    // Being unanswered, the hole's latency is unknown and stands in as the healthy one's (a
    // neutral value): it is never cheaper, so it never draws traffic from the 50/50 start.
    assert!(hole_share <= 0.5 + 1e-9, "the hole reached {hole_share}");
    assert!(share(&server, "default/live", "central") >= 0.5 - 1e-9);
}

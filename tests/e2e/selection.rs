//! Which cluster answers: eligibility, preferLocal, strict round-robin, static weights, and the
//! optimizer's shares as they move.

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_proto::rr::RecordType;

use crate::support::*;

fn fixture() -> Aviator {
    Aviator::start(&process::data("clusterset.yaml"))
}

fn one(server: &Aviator, relative: &str, qtype: RecordType) -> IpAddr {
    let answer = ask(&format!("{relative}.clusterset.local."), qtype).to(server.dns);
    let got = addresses(&answer);
    assert_eq!(got.len(), 1, "{answer}");
    got[0]
}

fn tally(server: &Aviator, relative: &str, n: usize) -> HashMap<IpAddr, usize> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        *counts
            .entry(one(server, relative, RecordType::A))
            .or_insert(0) += 1;
    }
    counts
}

#[test]
fn round_robin_is_a_strict_rotation() {
    let server = fixture();
    let seen: Vec<IpAddr> = (0..30)
        .map(|_| one(&server, "trio.default.svc", RecordType::A))
        .collect();
    let mut first = seen[..3].to_vec();
    first.sort();
    assert_eq!(first, ips(&["10.1.0.11", "10.2.0.11", "10.3.0.11"]));
    // Period 3 means every window of 3k answers holds each cluster exactly k times.
    for i in 3..seen.len() {
        assert_eq!(seen[i], seen[i - 3], "position {i}: {seen:?}");
    }
}

#[test]
fn aaaa_queries_do_not_advance_the_a_rotation() {
    let server = fixture();
    let mut a_answers = Vec::new();
    for i in 0..12 {
        a_answers.push(one(&server, "web.shop.svc", RecordType::A));
        // An uneven number of AAAA lookups between A lookups would shift a shared rotation.
        for _ in 0..(i % 3) {
            let v6 = one(&server, "web.shop.svc", RecordType::AAAA);
            assert!(v6.is_ipv6());
        }
    }
    for pair in a_answers.windows(2) {
        assert_ne!(pair[0], pair[1], "A answers must alternate: {a_answers:?}");
    }
}

#[test]
fn prefer_local_answers_the_local_export_while_it_is_eligible() {
    let server = fixture();
    let counts = tally(&server, "echo.default.svc", 20);
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        ips(&["10.1.0.20"])
    );
    // The local export of `spill` is not ready, so the remote one answers.
    let spill = tally(&server, "spill.default.svc", 10);
    assert_eq!(
        spill.keys().copied().collect::<Vec<_>>(),
        ips(&["10.2.0.21"])
    );
}

#[test]
fn disconnected_and_unready_exports_are_not_eligible() {
    let server = fixture();
    let cut = tally(&server, "cut.default.svc", 10);
    assert_eq!(cut.keys().copied().collect::<Vec<_>>(), ips(&["10.2.0.22"]));
}

#[test]
fn weighted_round_robin_follows_the_weights_and_weight_zero_drains() {
    let server = fixture();
    let n = 2000;
    let counts = tally(&server, "checkout.shop.svc", n);
    let west = counts.get(&ips(&["10.2.0.50"])[0]).copied().unwrap_or(0);
    let central = counts.get(&ips(&["10.3.0.50"])[0]).copied().unwrap_or(0);
    assert_eq!(
        west + central,
        n,
        "east (weight 0) must get nothing: {counts:?}"
    );
    // Expected 1500 ± 5 standard deviations (sd = sqrt(2000 · 0.75 · 0.25) ≈ 19.4).
    assert!((1403..=1597).contains(&west), "{counts:?}");
}

#[test]
fn when_every_weight_is_zero_the_drained_exports_share_equally() {
    let server = fixture();
    let counts = tally(&server, "drained.shop.svc", 400);
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(
        counts.values().all(|&c| (120..=280).contains(&c)),
        "{counts:?}"
    );
}

/// The shares the optimizer has published for `service`, by cluster, from /debug/weights.
fn shares(server: &Aviator, service: &str) -> HashMap<String, f64> {
    let (status, body) = http::get(server.admin, "/debug/weights");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    json["services"][service]["decision"]["exports"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| Some((e["cluster"].as_str()?.to_owned(), e["share"].as_f64()?)))
        .collect()
}

#[test]
fn optimized_performance_moves_lookups_to_the_fastest_export() {
    let server = fixture();
    // west: 10 ms; central: 45 ms; local east (preferLocal off): 80.2 ms. The first solve
    // starts from thirds (no ready endpoints declared, so one each); every tick the slower
    // ones move toward the faster, at the full rate since the fixture's migrationSeconds
    // (0.5) is under the 1 s tick. Nothing holds the slow ones up (no floor), so west climbs
    // past 95 % within a few ticks and never falls back (the figures do not change).
    let west = |shares: &HashMap<String, f64>| shares.get("west").copied().unwrap_or(0.0);
    let mut last = west(&shares(&server, "shop/fast"));
    process::eventually("west, the fastest, to take 95 %", || {
        let now = shares(&server, "shop/fast");
        assert!(west(&now) >= last - 1e-12, "west fell: {last} -> {now:?}");
        last = west(&now);
        last >= 0.95
    });
    let now = shares(&server, "shop/fast");
    assert!(
        now["central"] > now["east"],
        "central is faster than east: {now:?}"
    );
    // The answers follow the shares: of 1000 lookups at least 95 % expected for west, 915
    // being 5 standard deviations (sd = sqrt(1000 · 0.95 · 0.05) ≈ 6.9) below.
    let n = 1000;
    let counts = tally(&server, "fast.shop.svc", n);
    let count = |ip: &str| counts.get(&ips(&[ip])[0]).copied().unwrap_or(0);
    assert!(count("10.2.0.70") >= 915, "{counts:?}");
}

#[test]
fn optimized_cost_prefers_the_cheaper_transfer() {
    let server = fixture();
    // From east (AWS): west is inter-region AWS ($0.02/GB), central is another provider,
    // billed as internet egress ($0.09/GB out, $0.12/GB back). Under Cost west wins despite
    // the longer RTT: from 50/50 its share only grows.
    process::eventually("west, the cheaper, to take 95 %", || {
        shares(&server, "shop/thrifty").get("west") >= Some(&0.95)
    });
    let counts = tally(&server, "thrifty.shop.svc", 500);
    let west = counts.get(&ips(&["10.2.0.71"])[0]).copied().unwrap_or(0);
    // At least 95 % expected: 475 less 5 sd (sd ≈ 4.9).
    assert!(west >= 450, "{counts:?}");
}

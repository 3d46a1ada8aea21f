//! Each event a scenario file can declare has its effect in a short run: a partition
//! black-holes the pair's traffic and probes until it heals, an RTT change moves latency, a
//! price change moves cost, an endpoint change moves capacity. And a file's results repeat for a
//! seed.

use std::path::Path;

use aviator_sim::engine;
use aviator_sim::metrics::Summary;
use aviator_sim::policy::PolicyKind;
use aviator_sim::scenario::{self, Scenario};

/// Clients in `a` only; exports in `a` and, one zone away, `b`. Static WRR by pods keeps
/// answering `b` for a good part of the lookups whatever happens (how much varies with the
/// resolvers' caches), so what happens to those requests shows plainly.
fn two_zones(events: &str) -> Scenario {
    zones(4, events)
}

/// The same with `a` a client cluster only: everything goes to `b`.
fn one_export(events: &str) -> Scenario {
    zones(0, events)
}

fn zones(servers_in_a: usize, events: &str) -> Scenario {
    let text = format!(
        "
name: events
duration: 60
steadyFrom: 5
clusters:
  - {{ name: a, provider: aws, region: us-east-1, zone: use1-az1, servers: {servers_in_a} }}
  - {{ name: b, provider: aws, region: us-east-1, zone: use1-az2, servers: 4 }}
clients:
  - {{ cluster: a, demand: 1.0 }}
load: 0.5
events:
{events}
windows:
  - {{ label: before, from: 5, to: 20 }}
  - {{ label: during, from: 21, to: 40 }}
  - {{ label: after, from: 45, to: 60 }}
"
    );
    scenario::parse(&text, Path::new("events.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

fn run(scenario: &Scenario, kind: PolicyKind) -> Summary {
    engine::run(scenario, kind, 1)
}

/// `b`'s index among the exports, when `a` exports too.
const B: usize = 1;

#[test]
fn a_partition_black_holes_requests_both_ways_until_it_heals() {
    let s = two_zones("  - { at: 20, partition: [a, b] }\n  - { at: 40, heal: [b, a] }");
    let wrr = run(&s, PolicyKind::WrrPods);
    let [before, during, after] = &wrr.windows[..] else {
        panic!("three windows");
    };
    // Nothing from a reaches b: b does no work at all.
    assert_eq!(during.utilization[B], 0.0, "{during:?}");
    assert!(before.utilization[B] > 0.1 && after.utilization[B] > 0.1);
    // And what a sent there timed out.
    assert!(during.timeout_rate > 0.15, "{during:?}");
    assert!(
        before.timeout_rate < 0.01 && after.timeout_rate < 0.01,
        "{after:?}"
    );
    // Probes are black-holed too: Aviator ejects b while the partition lasts.
    let aviator = run(&s, PolicyKind::AviatorPerformance);
    let to_b = aviator.fraction_sent_to(B, 30.0, 40.0);
    assert!(
        to_b < 0.05,
        "{:.1} % to the partitioned cluster",
        to_b * 100.0
    );
}

#[test]
fn an_rtt_change_moves_latency() {
    let s = two_zones(
        "  - { at: 20, rtt: { between: [a, b], ms: 300 } }\n  - { at: 40, rtt: { between: [a, b], ms: 1 } }",
    );
    let wrr = run(&s, PolicyKind::WrrPods);
    let p99: Vec<f64> = wrr.windows.iter().map(|w| w.p99_ms).collect();
    assert!(p99[0] < 150.0 && p99[2] < 150.0, "{p99:?}");
    assert!(p99[1] >= 300.0 && p99[1] < 1000.0, "{p99:?}");
}

#[test]
fn a_price_change_moves_cost() {
    let dear = "{ egress: { intraZone: 1, interZone: 1, interRegion: 1, interContinent: 1, internet: 1 } }";
    let s = two_zones(&format!(
        "  - {{ at: 20, prices: {{ cluster: b, to: {dear} }} }}\n  - {{ at: 40, prices: {{ cluster: b, to: aws }} }}"
    ));
    let wrr = run(&s, PolicyKind::WrrPods);
    let usd: Vec<f64> = wrr.windows.iter().map(|w| w.usd_per_million).collect();
    assert!(usd[0] > 0.0, "{usd:?}");
    assert!(usd[1] > 10.0 * usd[0], "{usd:?}");
    assert!(usd[2] < usd[1] / 10.0, "{usd:?}");
}

#[test]
fn an_endpoint_change_moves_capacity() {
    let s = one_export(
        "  - { at: 20, endpoints: { cluster: b, count: 1 } }\n  - { at: 40, endpoints: { cluster: b, count: 8 } }",
    );
    let wrr = run(&s, PolicyKind::WrrPods);
    let [before, during, after] = &wrr.windows[..] else {
        panic!("three windows");
    };
    // 50 requests/s on one server of speed 0.85 (42/s): saturated, and refusing or timing out.
    const B: usize = 0;
    assert!(during.utilization[B] > 0.95, "{during:?}");
    assert!(during.error_rate + during.timeout_rate > 0.05, "{during:?}");
    // Eight servers: half the utilisation of four.
    assert!(
        after.utilization[B] < 0.7 * before.utilization[B],
        "{before:?}\n{after:?}"
    );
    assert!(after.error_rate + after.timeout_rate < 0.01, "{after:?}");
}

#[test]
fn a_file_gives_the_same_figures_for_a_seed() {
    let s = two_zones(
        "  - { at: 20, partition: [a, b] }\n  - { at: 30, endpoints: { cluster: b, count: 2 } }\n  - { at: 40, heal: [a, b] }",
    );
    let figures = |seed| {
        let mut s = s.clone();
        s.policies = vec![PolicyKind::Lighthouse, PolicyKind::AviatorPerformance];
        aviator_sim::evaluate(vec![s], seed).json().to_string()
    };
    let first = figures(5);
    assert_eq!(first, figures(5));
    assert_ne!(first, figures(6));
}

/// Files at the edges of what validation lets through run every policy to the end: one
/// export, a client cluster sending nothing, no load then three times too much, no queue, the
/// only export failing, shrinking and getting dear while partitioned from everyone.
#[test]
fn odd_but_valid_files_run_every_policy_to_the_end() {
    let text = "
name: odd
duration: 30
steadyFrom: 0
clusters:
  - { name: a, provider: azure, region: westeurope, zone: we-1 }
  - { name: b, provider: gcp, region: us-east4, zone: use4-a, servers: 4, spread: false }
  - { name: c, provider: aws, region: ap-south-1, zone: aps1-az1 }
clients:
  - { cluster: a, demand: 1, pods: 1, nodes: 1 }
  - { cluster: c, demand: 0 }
service: { queuePerServer: 0, cv: 0 }
dns: { connectionsPerPod: 1, ttl: 0, resolverMinTtl: 0, connectionAge: 0 }
load: [ { at: 0, load: 0 }, { at: 5, load: 3 } ]
events:
  - { at: 8, partition: [a, b] }
  - { at: 9, partition: [c, b] }
  - { at: 10, down: b }
  - { at: 12, endpoints: { cluster: b, count: 1 } }
  - { at: 14, up: b }
  - { at: 15, prices: { cluster: b, to: { egress: { intraZone: 1000, interZone: 1000, interRegion: 1000, interContinent: 1000, internet: 1000 } } } }
  - { at: 16, rtt: { between: [a, b], ms: 0 } }
  - { at: 20, heal: [a, b] }
  - { at: 30, endpoints: { cluster: b, count: 10000 } }
windows:
  - { label: idle, from: 0, to: 5 }
  - { label: rest, from: 5, to: 30 }
goals:
  - p99Ratio: { policy: aviator-performance, than: lighthouse, atMost: 1 }
  - errorRatio: { policy: aviator-cost, than: wrr-pods, atMost: 1, windows: [idle] }
  - costRatio: { policy: aviator-mixed, than: prequal, atMost: 1, windows: [idle, rest] }
  - p99Slo: { policy: aviator-mixed, windows: [idle] }
  - shareAfter: { policy: istio-failover, cluster: b, from: 10, until: 30, below: 1 }
  - swing: { policy: p2c-latency, atMost: 0 }
";
    let s = scenario::parse(text, Path::new("odd.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let evaluation = aviator_sim::evaluate(vec![s], 1);
    assert_eq!(evaluation.results[0].runs.len(), PolicyKind::ALL.len());
    assert_eq!(evaluation.goals().len(), 6);
    // The idle window saw no request at all; the report still prints.
    assert_eq!(evaluation.results[0].runs[0].1.windows[0].requests, 0);
    let text = evaluation.text();
    assert!(text.contains("== odd"), "{text}");
    let _ = evaluation.json().to_string();
}

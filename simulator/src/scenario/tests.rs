//! Scenario files: the built-ins load and survive a round trip, bad files are refused with every
//! error and its path, and no file makes the loader panic.

use std::path::Path;

use super::*;
use crate::goal::{Check, Windows};

fn errors(text: &str) -> Vec<String> {
    match parse(text, Path::new("test.yaml")) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => error.field_errors().iter().map(|e| e.to_string()).collect(),
    }
}

/// A small valid file; tests break it in one place or another.
const SMALL: &str = "
name: small
duration: 60
clusters:
  - { name: a, provider: aws, region: us-east-1, zone: use1-az1, servers: 4 }
  - { name: b, provider: gcp, region: us-east4, zone: use4-a, servers: 4, speed: 1.2 }
clients:
  - { cluster: a, demand: 1.0 }
load: 0.8
";

#[test]
fn every_builtin_loads_under_its_own_name() {
    assert_eq!(BUILTIN.map(|(name, _)| name), NAMES);
    for name in NAMES {
        let scenario = builtin(name)
            .expect("listed")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scenario.name, name);
        assert_eq!(scenario.policies, PolicyKind::ALL.to_vec(), "{name}");
    }
    assert!(by_name("tsunami").is_none());
}

#[test]
fn the_ramp_file_spells_out_the_old_ramp() {
    let ramp = by_name("ramp").unwrap();
    let labels: Vec<&str> = ramp.windows.iter().map(|w| w.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "0.5x", "0.6x", "0.7x", "0.8x", "0.9x", "1.0x", "1.1x", "1.2x", "1.3x", "1.4x", "1.5x"
        ]
    );
    assert_eq!(ramp.windows[2].start, 90.0);
    assert_eq!(ramp.windows[2].end, 120.0);
    assert_eq!(ramp.schedule.len(), 11);
    assert_eq!(ramp.schedule[10], (400.0, Change::Load(0.5 + 0.1 * 10.0)));
    assert_eq!(ramp.sites[1].speeds, spread_speeds(8, 0.7));
    assert_eq!(ramp.allocated_rps(), 40.0 * 25.0);
    assert_eq!(ramp.rtt_ms[0][2], 62.0);
    assert_eq!(ramp.rtt_ms[0][1], 1.0);
    assert_eq!(ramp.rtt_ms[3][3], 0.2);
    assert_eq!(ramp.main_window(), 10);
    let cost = by_name("cost").unwrap();
    assert_eq!(cost.sites[1].prices, list_prices("gcp").unwrap());
    // Not listed: the rule's default.
    assert_eq!(cost.rtt_ms[1][2], 100.0);
    assert_eq!(cost.service.response_bytes, 100_000.0);
    let antagonist = by_name("antagonist").unwrap();
    assert_eq!(antagonist.groups[0].demand, 1.0 / 3.0);
}

#[test]
fn every_builtin_survives_a_round_trip_through_a_file() {
    for name in NAMES {
        let scenario = by_name(name).unwrap();
        let text = to_yaml(&scenario);
        let again = parse(&text, Path::new("again.yaml")).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(again, scenario, "{name}:\n{text}");
    }
}

#[test]
fn a_file_with_every_event_and_goal_survives_a_round_trip() {
    let text = format!(
        "{SMALL}
events:
  - {{ at: 10, load: 1.2 }}
  - {{ at: 11, down: b }}
  - {{ at: 12, up: b }}
  - {{ at: 13, slowdown: {{ cluster: a, factor: 0.5 }} }}
  - {{ at: 14, partition: [a, b] }}
  - {{ at: 15, heal: [a, b] }}
  - {{ at: 16, rtt: {{ between: [a, b], ms: 30 }} }}
  - {{ at: 17, prices: {{ cluster: b, to: azure }} }}
  - {{ at: 18, endpoints: {{ cluster: b, count: 6 }} }}
windows:
  - {{ label: all, from: 5, to: 60 }}
  - {{ label: late, from: 30, to: 60 }}
policies: [lighthouse, aviator-performance]
goals:
  - p99Ratio: {{ policy: aviator-performance, than: lighthouse, atMost: 1.0, windows: [all, late] }}
  - errorRatio: {{ policy: aviator-performance, than: lighthouse, atMost: 1.0 }}
  - costRatio: {{ policy: aviator-performance, than: lighthouse, atMost: 2 }}
    description: not dearer than twice
  - p99Slo: {{ policy: aviator-performance, ms: 300 }}
  - shareAfter: {{ policy: aviator-performance, cluster: b, from: 14, settle: 3, until: 40, below: 0.5 }}
  - swing: {{ policy: lighthouse, atMost: 20 }}
"
    );
    let scenario = parse(&text, Path::new("every.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.schedule.len(), 10);
    assert_eq!(scenario.schedule[0], (0.0, Change::Load(0.8)));
    assert_eq!(
        scenario.schedule[9],
        (18.0, Change::Endpoints(1, 6, 1.2)),
        "added servers run at the cluster's speed"
    );
    assert_eq!(
        scenario.schedule[8],
        (17.0, Change::Prices(1, list_prices("azure").unwrap()))
    );
    assert_eq!(scenario.goals.len(), 6);
    assert_eq!(
        scenario.goals[0].check,
        Check::P99Ratio {
            policy: PolicyKind::AviatorPerformance,
            than: vec![PolicyKind::Lighthouse],
            at_most: 1.0,
            windows: Windows::Labels(vec!["all".into(), "late".into()]),
        }
    );
    let again = to_yaml(&scenario);
    assert_eq!(parse(&again, Path::new("again.yaml")).unwrap(), scenario);
}

#[test]
fn defaults_fill_what_a_small_file_leaves_out() {
    let s = parse(SMALL, Path::new("small.yaml")).unwrap();
    assert_eq!(s.service, default_service());
    assert_eq!(s.dns, default_dns());
    assert_eq!((s.groups[0].pods, s.groups[0].nodes), (24, 8));
    assert_eq!(s.planned_load, 0.8);
    assert_eq!(s.steady_from_s, 10.0);
    assert_eq!(s.windows.len(), 1);
    assert_eq!((s.windows[0].start, s.windows[0].end), (10.0, 60.0));
    assert_eq!(s.sites[0].prices, list_prices("aws").unwrap());
    assert_eq!(s.sites[1].speeds, spread_speeds(4, 1.2));
    // Different providers: the rule's default.
    assert_eq!(s.rtt_ms[0][1], 100.0);
    assert!(s.goals.is_empty());
}

#[test]
fn every_error_is_reported_with_its_path() {
    let text = "
name: broken
duration: 60
clusters:
  - { name: a, provider: aws, region: us-east-1, zone: z1, servers: -2 }
  - { name: B_, provider: aws, region: us-east-1, zone: z2, servers: 2 }
  - { name: c, provider: oracle, region: r, zone: z, servers: 1 }
  - { name: d, provider: aws, region: us-east-1, zone: z4, servers: 2, speeds: [1, 2, 3] }
  - { name: a, provider: aws, region: us-east-1, zone: z5, servers: 1 }
clients:
  - { cluster: a, demand: 0.5 }
  - { cluster: nowhere, demand: 0.5 }
load: 1.0
events:
  - { at: 70, down: a }
  - { at: 10, down: a, up: a }
  - { at: 10, partition: [a] }
  - { at: 10, slowdown: { cluster: d, factor: 0 } }
windows:
  - { label: w, from: 30, to: 20 }
policies: [lighthouse, nope]
goals:
  - p99Ratio: { policy: aviator-performance, than: lighthouse, atMost: 1 }
  - swing: { policy: lighthouse, atMost: 10 }
    description: fine
";
    let found = errors(text);
    let expected = [
        "clusters[0].servers: -2: must be at least 0",
        "clusters[1].name: \"B_\" is not a cluster name",
        "clusters[2].prices: no list prices for provider \"oracle\"",
        "clusters[3].speeds: 3 speeds for 2 servers",
        "clusters[4].name: duplicate cluster \"a\" (first declared at clusters[0])",
        "clients[1].cluster: unknown cluster \"nowhere\"",
        "events[0].at: 70 s is not a time of the run",
        "events[1]: one event per entry, found down and up",
        "events[2].partition: names 1 clusters: name exactly two",
        "events[3].slowdown.factor: 0: must be more than 0",
        "windows[0].to: 20 s is not after from (30 s)",
        "policies[1]: unknown policy \"nope\"",
        "goals[0].p99Ratio.policy: policy \"aviator-performance\" is not run",
    ];
    for e in expected {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing {e:?} in:\n{}",
            found.join("\n")
        );
    }
    assert_eq!(found.len(), expected.len(), "{}", found.join("\n"));
}

#[test]
fn the_message_names_the_file_and_counts_the_errors() {
    let error = parse("name: x\nduration: -1\n", Path::new("mine.yaml")).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("mine.yaml: 4 errors:\n  - duration: -1 is not a duration"),
        "{text}"
    );
    assert!(
        text.contains("  - clusters: at least one cluster is required"),
        "{text}"
    );
    assert!(
        text.contains("  - clients: at least one client cluster is required"),
        "{text}"
    );
    assert!(text.contains("  - load: required"), "{text}");
}

#[test]
fn type_errors_name_the_field_inside_an_entry() {
    let text = SMALL.replace("servers: 4 }", "servers: four }");
    let found = errors(&text);
    // One error: the clients' reference to the broken cluster does not cascade.
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("clusters[0].servers: invalid type"),
        "{found:?}"
    );
    let text = SMALL.replace("load: 0.8", "load: 0.8\nevents:\n  - { at: 5, donw: a }");
    let found = errors(&text);
    assert!(
        found[0].starts_with("events[0].donw: unknown field `donw`"),
        "{found:?}"
    );
    let found = errors(&format!("{SMALL}colour: blue\n"));
    assert!(
        found[0].starts_with("colour: unknown field `colour`"),
        "{found:?}"
    );
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let text = "name: x\nclusters: [\n  { name: a\n";
    match parse(text, Path::new("bad.yaml")) {
        Err(ScenarioError::Syntax { line, column, .. }) => {
            assert!(line >= 3, "line {line}");
            assert!(column > 0);
        }
        other => panic!("{other:?}"),
    }
    let shown = parse(text, Path::new("bad.yaml")).unwrap_err().to_string();
    assert!(shown.starts_with("bad.yaml:"), "{shown}");
    assert!(shown.contains("YAML syntax error"), "{shown}");
}

#[test]
fn cross_references_are_checked() {
    let base = format!(
        "{SMALL}windows:\n  - {{ label: all, from: 5, to: 60 }}\n  - {{ label: all, from: 6, to: 7 }}\n"
    );
    let found = errors(&base);
    assert!(
        found[0].starts_with("windows[1].label: duplicate window \"all\""),
        "{found:?}"
    );
    let rtt = SMALL.replace(
        "load: 0.8",
        "load: 0.8\nrtt:\n  matrix: [[0.2, 5], [6, 0.2]]\n",
    );
    let found = errors(&rtt);
    assert!(
        found[0].starts_with("rtt.matrix[1][0]: 6 ms, but rtt.matrix[0][1] is 5 ms"),
        "{found:?}"
    );
    let demand = SMALL.replace("demand: 1.0", "demand: 0.6");
    assert_eq!(
        errors(&demand),
        ["clients: the demand fractions add up to 0.6, not 1"]
    );
    let client_only = SMALL
        .replace("zone: use1-az1, servers: 4", "zone: use1-az1")
        .replace("load: 0.8", "load: 0.8\nevents:\n  - { at: 5, down: a }");
    let found = errors(&client_only);
    assert!(
        found[0].starts_with("events[0].down: cluster \"a\" exports nothing"),
        "{found:?}"
    );
    let goal = format!(
        "{SMALL}goals:\n  - p99Ratio: {{ policy: lighthouse, than: prequal, atMost: 1, windows: [late] }}\n  - {{}}\n"
    );
    let found = errors(&goal);
    assert!(
        found[0].starts_with("goals[0].p99Ratio.windows[0]: no window \"late\""),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("goals[1]: no goal: give one of"),
        "{found:?}"
    );
}

#[test]
fn no_file_makes_the_loader_panic() {
    let odd = [
        "",
        "[]",
        "42",
        "name: [1, 2]",
        "clusters: 3",
        "clusters: [3, null, {}]",
        "load: {ramp: {from: 0, to: 1e308, step: 1e-308, hold: 1}}\nduration: 10",
        "load: {ramp: {from: 0.5, to: 1.5, step: 0.1, hold: 1e300}}\nduration: 10",
        "duration: .nan\nload: .inf",
        "rtt: {matrix: [[1, 2], [3]]}",
        "clients: [{cluster: a, demand: .nan, pods: 9223372036854775807}]",
    ];
    for text in odd {
        assert!(parse(text, Path::new("odd.yaml")).is_err(), "{text}");
    }
    // Every file one line short of a built-in or the example: refused or accepted, never a panic.
    let example = include_str!("../../../examples/scenario.yaml");
    for file in BUILTIN.map(|(_, f)| f).into_iter().chain([example]) {
        let lines: Vec<&str> = file.lines().collect();
        for skip in 0..lines.len() {
            let mut shorter = lines.clone();
            shorter.remove(skip);
            let _ = parse(&shorter.join("\n"), Path::new("shorter.yaml"));
        }
    }
}

#[test]
fn the_example_file_loads() {
    let example = include_str!("../../../examples/scenario.yaml");
    let s = parse(example, Path::new("examples/scenario.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.sites.len(), 3);
    assert!(!s.goals.is_empty());
}

#[test]
fn interned_names_are_kept_once() {
    let a = intern("a-name-for-the-test");
    let b = intern(&String::from("a-name-for-the-test"));
    assert!(std::ptr::eq(a, b));
}

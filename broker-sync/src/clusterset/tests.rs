//! Unit tests of parsing and validation, on the shipped example and on broken files.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::state::*;

const EXAMPLE: &str = include_str!("../../../examples/clusterset.yaml");

fn errors_of(text: &str) -> Vec<String> {
    match parse(text, Path::new("test.yaml")) {
        Ok(_) => panic!("expected errors"),
        Err(error) => error.field_errors().iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn the_shipped_example_is_valid_and_complete() {
    let set = parse(EXAMPLE, Path::new("examples/clusterset.yaml")).expect("example parses");
    assert_eq!(set.local_cluster.as_str(), "east");
    assert_eq!(set.dns.zones, ["clusterset.local"]);
    assert_eq!(set.dns.ttl, 5);
    let ids: Vec<&str> = set.clusters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["central", "east", "west"]);
    let find = |ns: &str, name: &str| {
        set.services
            .iter()
            .find(|s| s.namespace == ns && s.name == name)
            .unwrap_or_else(|| panic!("{ns}/{name} missing"))
    };
    let nginx = find("default", "nginx");
    assert_eq!(nginx.exports.len(), 2);
    assert_eq!(
        nginx.exports[1].ips,
        ["10.2.0.10".parse::<IpAddr>().unwrap()]
    );
    let db = find("data", "db");
    assert_eq!(db.service_type, ServiceType::Headless);
    assert_eq!(db.exports[0].endpoints.len(), 2);
    assert!(!find("default", "api").vips.is_empty());
    assert!(
        find("shop", "web").exports[0]
            .ips
            .iter()
            .any(IpAddr::is_ipv6)
    );
    assert!(matches!(
        find("shop", "checkout").policy.mode,
        Mode::WeightedRoundRobin { .. }
    ));
    let cart = find("shop", "cart");
    let Mode::Optimized(optimized) = &cart.policy.mode else {
        panic!("cart is Optimized");
    };
    assert_eq!(optimized.policy.migration_s, 10.0);
    assert_eq!(optimized.policy.latency_slo_ms, Some(80.0));
    let central = cart
        .exports
        .iter()
        .find(|e| e.cluster.as_str() == "central")
        .unwrap();
    assert_eq!(
        central.figures().load.and_then(|l| l.utilization),
        Some(0.4)
    );
}

#[test]
fn every_error_is_reported_with_its_path() {
    let text = r#"
localCluster: nowhere
clusters:
  - { id: east }
  - { id: east }
  - { id: Bad_Id }
services:
  - name: web
    namespace: default
    ports: [{ name: http, port: 70000 }]
    policy: { mode: WeightedRoundRobin, weights: { east: -1, ghost: 2 } }
    exports:
      - { cluster: north, ips: [10.0.0.1] }
      - { cluster: east, ips: [10.0.0.300] }
  - name: web
    namespace: default
  - name: db
    namespace: data
    type: Headless
    exports:
      - cluster: east
        endpoints: [{ addresses: [10.0.0.2] }]
"#;
    let errors = errors_of(text);
    let expect = [
        "clusters[1].id: duplicate cluster \"east\"",
        "clusters[2].id: \"Bad_Id\" is not a DNS label",
        "localCluster: unknown cluster \"nowhere\"",
        "services[0].ports[0].port: 70000 is out of range",
        "services[0].exports[0].cluster: unknown cluster \"north\"",
        "services[0].exports[1].ips[0]: \"10.0.0.300\" is not an IPv4 or IPv6 address",
        "services[0].policy.weights.east: -1 is not a weight",
        "services[0].policy.weights.ghost: unknown cluster \"ghost\"",
        "services[1].name: duplicate service \"default/web\"",
        "services[2].exports[0].endpoints[0].hostname: a Headless endpoint needs a hostname",
    ];
    for wanted in expect {
        assert!(
            errors.iter().any(|e| e.starts_with(wanted)),
            "missing {wanted:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
}

#[test]
fn a_syntax_error_names_file_and_line() {
    let error = parse(
        "localCluster: east\nclusters: [\n  - id\n",
        Path::new("bad.yaml"),
    )
    .expect_err("syntax error");
    let LoadError::Syntax { line, .. } = &error else {
        panic!("expected a syntax error, got {error}");
    };
    assert!(*line >= 2, "line {line}");
    assert!(error.to_string().starts_with("bad.yaml:"), "{error}");
}

#[test]
fn a_type_error_names_the_field_and_spares_the_other_entries() {
    let text = r#"
localCluster: east
clusters: [{ id: east, connected: maybe }, { id: west, colour: blue }]
services:
  - { name: a, namespace: n, ports: [{ port: 80, protocol: QUIC }] }
  - { name: b, namespace: n, exports: [{ cluster: west, ips: 10.0.0.1 }] }
"#;
    let errors = errors_of(text);
    let expect = [
        "clusters[0].connected: ",
        "clusters[1].colour: unknown field `colour`",
        "services[0].ports[0].protocol: unknown variant `QUIC`",
        "services[1].exports[0].ips: ",
    ];
    for wanted in expect {
        assert!(
            errors.iter().any(|e| e.starts_with(wanted)),
            "missing {wanted:?} in {errors:#?}"
        );
    }
    assert_eq!(
        errors.len(),
        expect.len(),
        "no cascading errors: {errors:#?}"
    );
}

#[test]
fn an_unknown_top_level_key_and_an_empty_file_are_errors() {
    assert!(
        errors_of("localCluster: east\nclusterz: []\n")[0].contains("unknown field `clusterz`")
    );
    assert!(errors_of("")[0].contains("the file is empty"));
}

#[test]
fn zones_are_normalised_and_overlaps_rejected() {
    let base = "localCluster: east\nclusters: [{ id: east }]\n";
    let set = parse(
        &format!("{base}dns: {{ zones: [ClusterSet.Local., other.example] }}\n"),
        Path::new("t"),
    )
    .unwrap();
    assert_eq!(set.dns.zones, ["clusterset.local", "other.example"]);
    let errors = errors_of(&format!(
        "{base}dns: {{ zones: [clusterset.local, a.clusterset.local], ttl: 4000 }}\n"
    ));
    assert!(errors.iter().any(|e| e.contains("overlaps")), "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("dns.ttl: 4000 is out of range")),
        "{errors:?}"
    );
}

#[test]
fn common_ports_are_the_intersection_over_exports() {
    let text = r#"
localCluster: a
clusters: [{ id: a }, { id: b }]
services:
  - name: s
    namespace: n
    ports: [{ name: http, port: 80 }, { name: metrics, port: 9090 }]
    exports:
      - { cluster: a, ips: [10.0.0.1] }
      - { cluster: b, ips: [10.0.0.2], ports: [{ name: http, port: 80 }] }
"#;
    let set = parse(text, Path::new("t")).unwrap();
    let ports = set.services[0].common_ports();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].name.as_deref(), Some("http"));
}

#[test]
fn optimized_policies_are_parsed_and_checked() {
    let base = "localCluster: a\nclusters: [{ id: a }, { id: b }]\nservices:\n";
    let good = format!(
        "{base}  - name: s\n    namespace: n\n    policy: {{ mode: Optimized, objective: Cost, latencySloMs: 50, minShare: 0.05, migrationSeconds: 12, fullGap: 0.25 }}\n    exports:\n      - {{ cluster: a, ips: [10.0.0.1], readyEndpoints: 3, rtt: {{ meanMs: 1 }}, latency: {{ meanMs: 9, p99Ms: 30 }} }}\n"
    );
    let set = parse(&good, Path::new("t")).unwrap();
    let Mode::Optimized(optimized) = &set.services[0].policy.mode else {
        panic!("not optimized");
    };
    assert_eq!(
        optimized.policy.objective,
        aviator_optimizer::Objective::Cost
    );
    assert_eq!(optimized.policy.latency_slo_ms, Some(50.0));
    assert_eq!(optimized.policy.migration_s, 12.0);
    assert_eq!(optimized.policy.full_gap, 0.25);
    assert_eq!(optimized.request_bytes, DEFAULT_REQUEST_BYTES);
    assert_eq!(
        set.services[0].exports[0].figures().latency.unwrap().p99_ms,
        Some(30.0)
    );

    let bad = format!(
        "{base}  - name: s\n    namespace: n\n    policy: {{ mode: Optimized, tradeoff: 2, migrationSeconds: 0, fullGap: 1.5, objective: Cheap }}\n  - name: t\n    namespace: n\n    policy: {{ mode: RoundRobin, minShare: 0.1 }}\n    exports: [{{ cluster: a, ips: [10.0.0.1], latency: {{ meanMs: -3 }} }}]\n"
    );
    let errors = errors_of(&bad);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("services[0].policy.objective: unknown variant `Cheap`")),
        "{errors:#?}"
    );
    let bad = bad.replace("objective: Cheap", "objective: Mixed");
    let errors = errors_of(&bad);
    for wanted in [
        "services[0].policy.tradeoff: 2 is out of range",
        "services[0].policy.migrationSeconds: 0 is out of range",
        "services[0].policy.fullGap: 1.5 is out of range",
        "services[1].policy.minShare: applies only to mode Optimized",
        "services[1].exports[0].latency.meanMs: -3 is not a duration",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(wanted)),
            "missing {wanted:?} in {errors:#?}"
        );
    }
}

#[test]
fn a_declared_utilization_is_a_load_report_and_the_removed_fields_are_unknown() {
    let base = "localCluster: a\nclusters: [{ id: a }, { id: b }]\nservices:\n";
    let good = format!(
        "{base}  - name: s\n    namespace: n\n    policy: {{ mode: Optimized }}\n    exports:\n      - {{ cluster: a, ips: [10.0.0.1], utilization: 0.7 }}\n      - {{ cluster: b, ips: [10.0.0.2] }}\n"
    );
    let set = parse(&good, Path::new("t")).unwrap();
    let load = set.services[0].exports[0]
        .figures()
        .load
        .expect("a declared load");
    assert_eq!(load.utilization, Some(0.7));
    // Declared, so it does not age: the operator's word stands until a report replaces it.
    assert_eq!(load.age_s, 0.0);
    assert_eq!(set.services[0].exports[1].figures().load, None);

    let errors = errors_of(&good.replace("utilization: 0.7", "utilization: 4.5"));
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("services[0].exports[0].utilization: 4.5 is not a load")),
        "{errors:#?}"
    );
    // The stack the rule replaced is gone from the file format, not silently ignored.
    for removed in [
        "damping: 0.5",
        "deadBand: 0.01",
        "moveCost: 0.06",
        "demandRps: 300",
        "peers: 3",
        "capacityPerEndpointRps: 100",
    ] {
        let text = good.replace("mode: Optimized", &format!("mode: Optimized, {removed}"));
        let field = removed.split(':').next().unwrap();
        let errors = errors_of(&text);
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("unknown field `{field}`"))),
            "{removed}: {errors:#?}"
        );
    }
    let errors = errors_of(&good.replace("utilization: 0.7", "capacityRps: 600"));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("unknown field `capacityRps`")),
        "{errors:#?}"
    );
}

#[test]
fn entries_that_do_not_decode_are_listed_in_order_and_capped() {
    // Bad entries (a string port) alternate with entries that decode but name no cluster.
    let mut text = String::from("localCluster: east\nclusters: [{ id: east }]\nservices:\n");
    for i in 0..150 {
        if i % 2 == 0 {
            text.push_str(&format!(
                "  - {{ name: s{i}, namespace: n, ports: [{{ port: x }}] }}\n"
            ));
        } else {
            text.push_str(&format!(
                "  - {{ name: s{i}, namespace: n, exports: [{{ cluster: ghost }}] }}\n"
            ));
        }
    }
    let error = parse(&text, Path::new("t")).expect_err("invalid");
    let LoadError::Invalid {
        errors, omitted, ..
    } = &error
    else {
        panic!("expected field errors, got {error}");
    };
    assert_eq!(errors.len(), MAX_ERRORS);
    assert_eq!(errors.len() + omitted, 150, "one error per entry");
    assert!(
        errors[0].path.starts_with("services[0].ports[0].port"),
        "{:?}",
        errors[0]
    );
    assert!(
        errors[1].path.starts_with("services[1].exports[0].cluster"),
        "{:?}",
        errors[1]
    );
    assert!(
        errors[98].path.starts_with("services[98].ports"),
        "{:?}",
        errors[98]
    );
}

#[test]
fn an_empty_or_null_services_list_is_no_services() {
    for services in ["", " ~", " []"] {
        let text = format!("localCluster: east\nclusters: [{{ id: east }}]\nservices:{services}\n");
        let set = parse(&text, Path::new("t")).unwrap_or_else(|e| panic!("{services:?}: {e}"));
        assert!(set.services.is_empty());
    }
    assert!(errors_of("# only a comment\n")[0].contains("the file is empty"));
}

#[test]
fn an_unshared_copy_is_equal_and_shares_only_cluster_ids() {
    let set = parse(EXAMPLE, Path::new("example")).expect("valid");
    let copy = set.unshared();
    assert_eq!(copy, set);
    for (new, old) in copy.services.iter().zip(&set.services) {
        assert!(!Arc::ptr_eq(new, old));
        for (i, (a, b)) in new.exports.iter().zip(&old.exports).enumerate() {
            assert!(!Arc::ptr_eq(&a.ports, &b.ports) || a.ports.is_empty());
            for (p, q) in a.ports.iter().zip(b.ports.iter()) {
                if let (Some(p), Some(q)) = (&p.name, &q.name) {
                    assert!(!Arc::ptr_eq(p, q));
                }
            }
            // What the original's exports shared, the copy's share.
            for (c, d) in new.exports[..i].iter().zip(&old.exports[..i]) {
                assert_eq!(
                    Arc::ptr_eq(&a.ports, &c.ports),
                    Arc::ptr_eq(&b.ports, &d.ports)
                );
            }
        }
    }
}

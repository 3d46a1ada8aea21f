//! AviatorPolicy on a real API server: the CRD's schema is enforced by the server itself
//! (Kubernetes integer formats with their bounds, conditions as a map keyed by type), and two
//! policies for one service leave the older in force, with both saying so.

use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::support::control_plane::ControlPlane;
use crate::support::process::eventually;
use crate::support::submariner::FIXTURE;
use crate::support::*;

const NGINX: &str = "nginx.default.svc.clusterset.local.";

fn policy(name: &str, weights: Value) -> Value {
    json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "AviatorPolicy",
        "metadata": { "name": name, "namespace": "default" },
        "spec": { "service": "nginx", "loadBalancing": "WeightedRoundRobin", "weights": weights },
    })
}

fn condition(cluster: &ControlPlane, name: &str, kind: &str) -> Option<Value> {
    let policy = cluster.get("aviator.dev/v1alpha1", "AviatorPolicy", "default", name)?;
    crate::support::submariner::condition(&policy, kind)
}

#[test]
fn the_api_server_enforces_the_policy_schema_and_a_conflict_is_named() {
    let cluster = ControlPlane::start();
    cluster.apply_yaml(FIXTURE);

    // A value the field cannot hold is refused by the API server, not skipped later.
    let mut too_big = policy("slo", json!({}));
    too_big["spec"] = json!({ "service": "nginx", "loadBalancing": "Optimized",
                              "objective": "Cost", "latencySloMs": 5_000_000_000u64 });
    let refused = cluster
        .try_apply(too_big)
        .expect_err("latencySloMs 5e9 accepted");
    assert!(refused.contains("latencySloMs"), "{refused}");
    let refused = cluster
        .try_apply(policy("weights", json!({ "west": 4_000_000_000u64 })))
        .expect_err("a weight of 4e9 accepted");
    assert!(refused.contains("weights"), "{refused}");

    // Two policies for one service: the older (created first, though its name sorts last)
    // is in force.
    cluster.apply(policy("nginx-z", json!({ "west": 1, "central": 0 })));
    // creationTimestamp counts whole seconds.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    cluster.apply(policy("nginx-a", json!({ "west": 0, "central": 1 })));

    let server = Aviator::start_kubernetes(
        &cluster.aviator_kubeconfig(),
        &["--cluster-id", "east", "--tick-ms", "200"],
        &[],
    );
    cluster.grant_aviator();
    // central is ready and connected, so only the weights keep it out.
    let mut slice = crate::support::submariner::fixture_object("EndpointSlice", "nginx-q9w4d");
    slice["endpoints"][0]["conditions"]["ready"] = json!(true);
    cluster.apply(slice);
    let mut gateway = crate::support::submariner::fixture_object("Gateway", "east-gw-node-1");
    gateway["status"]["connections"][1]["status"] = json!("connected");
    cluster.apply(gateway);

    eventually("the conflict on both policies", || {
        let lost = condition(&cluster, "nginx-a", "Ready")
            .is_some_and(|c| c["status"] == "False" && c["reason"] == "Conflict");
        let named = condition(&cluster, "nginx-a", "Invalid").is_some_and(|c| {
            c["reason"] == "Conflict"
                && c["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("nginx-z")
        });
        let won = condition(&cluster, "nginx-z", "Ready").is_some_and(|c| c["status"] == "True")
            && condition(&cluster, "nginx-z", "Degraded").is_some_and(|c| {
                c["reason"] == "Conflict"
                    && c["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("nginx-a")
            });
        lost && named && won
    });
    for _ in 0..20 {
        assert_eq!(
            addresses(&ask(NGINX, RecordType::A).to(server.dns)),
            ips(&["10.2.0.10"]),
            "answered by the policy not in force"
        );
    }

    // The round trip to central is unknown (its gateway connection says "0s": no sample yet),
    // so the optimizer takes the neutral figure (the known ones' median: west's 62.4 ms), not
    // a round trip of zero that would make central look nearest.
    cluster.delete(
        "aviator.dev/v1alpha1",
        "AviatorPolicy",
        "default",
        "nginx-a",
    );
    cluster.apply(json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "AviatorPolicy",
        "metadata": { "name": "nginx-z", "namespace": "default" },
        "spec": { "service": "nginx", "loadBalancing": "Optimized", "objective": "Performance" },
    }));
    let rtt = |cluster_name: &str| {
        let weights: Value =
            serde_json::from_str(&crate::support::http::get(server.admin, "/debug/weights").1)
                .ok()?;
        weights["services"]["default/nginx"]["decision"]["exports"]
            .as_array()?
            .iter()
            .find(|e| e["cluster"] == cluster_name)?["terms"]["rttMs"]
            .as_f64()
    };
    eventually("the optimizer's figures", || {
        rtt("west").is_some() && rtt("central").is_some()
    });
    assert_eq!(rtt("west"), Some(62.4));
    assert_eq!(
        rtt("central"),
        Some(62.4),
        "an unknown round trip is the neutral figure, not 0"
    );

    // Conditions are a map keyed by type: two of one type are refused.
    let mut twice = policy("nginx-z", json!({ "west": 1, "central": 0 }));
    let ready = json!({ "type": "Ready", "status": "True", "reason": "InForce", "message": "",
                        "lastTransitionTime": "2026-12-01T00:00:00Z" });
    twice["status"] = json!({ "conditions": [ready, ready] });
    let refused = cluster
        .try_apply(twice)
        .expect_err("two Ready conditions accepted");
    assert!(refused.contains("conditions"), "{refused}");
}

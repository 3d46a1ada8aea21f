//! Aviator beside the real Lighthouse agent: two clusters (east, which also hosts the broker,
//! as `subctl deploy-broker` on a member cluster does, and west), each with a real API server
//! and the agent Lighthouse releases. A Service exported in both becomes, by Lighthouse's own
//! code, ServiceImports and EndpointSlices in east, and Aviator in east serves from exactly
//! those; an unexport leaves the rotation. The objects the agent writes carry every label and
//! annotation the hand-written fixture (`tests/data/kubernetes/lighthouse.yaml`) uses.

use std::collections::BTreeSet;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::support::control_plane::ControlPlane;
use crate::support::lighthouse_agent::LighthouseAgent;
use crate::support::process::eventually;
use crate::support::submariner::{BROKER_NAMESPACE, fixture_object};
use crate::support::*;

const NGINX: &str = "nginx.default.svc.clusterset.local.";

fn namespace(plane: &ControlPlane, name: &str) {
    plane.apply(json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name } }));
}

/// A Service with two ready pods (its EndpointSlice written as the EndpointSlice controller
/// would, since no controller-manager runs), exported; returns its ClusterIP.
fn export_nginx(plane: &ControlPlane, pods: [&str; 2]) -> IpAddr {
    plane.apply(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": "nginx", "namespace": "default" },
        "spec": { "selector": { "app": "nginx" },
                  "ports": [{ "name": "http", "port": 80, "protocol": "TCP" }] },
    }));
    let endpoints: Vec<Value> = pods
        .iter()
        .enumerate()
        .map(|(i, ip)| json!({ "addresses": [ip], "conditions": { "ready": true },
                "targetRef": { "kind": "Pod", "name": format!("nginx-{i}"), "namespace": "default" } }))
        .collect();
    plane.apply(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": { "name": "nginx-k8s01", "namespace": "default",
                      "labels": { "kubernetes.io/service-name": "nginx",
                                  "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" } },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{ "name": "http", "port": 80, "protocol": "TCP" }],
    }));
    plane.apply(json!({
        "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
        "metadata": { "name": "nginx", "namespace": "default" },
    }));
    let service = plane.get("v1", "Service", "default", "nginx").unwrap();
    service["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn keys(object: &Value, field: &str) -> BTreeSet<String> {
    object["metadata"][field]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn aviator_serves_what_the_real_lighthouse_agent_writes() {
    let east = ControlPlane::start();
    let west = ControlPlane::start();
    for plane in [&east, &west] {
        namespace(plane, "submariner-operator");
    }
    namespace(&east, BROKER_NAMESPACE);
    let east_ip = export_nginx(&east, ["10.1.4.1", "10.1.4.2"]);
    let west_ip = export_nginx(&west, ["10.2.4.1", "10.2.4.2"]);
    let _east_agent = LighthouseAgent::start(&east, "east", &east, BROKER_NAMESPACE);
    let _west_agent = LighthouseAgent::start(&west, "west", &east, BROKER_NAMESPACE);

    // Round-robin over both, so that both exports show.
    east.apply(json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "AviatorPolicy",
        "metadata": { "name": "nginx", "namespace": "default" },
        "spec": { "service": "nginx", "loadBalancing": "RoundRobin", "preferLocal": false },
    }));
    let server = Aviator::start_kubernetes(
        &east.aviator_kubeconfig(),
        &["--cluster-id", "east", "--tick-ms", "200"],
        &[],
    );
    east.grant_aviator();
    let answered = || -> BTreeSet<IpAddr> {
        (0..10)
            .flat_map(|_| addresses(&ask(NGINX, RecordType::A).to(server.dns)))
            .collect()
    };
    eventually("both clusters' exports, as the agents import them", || {
        answered() == BTreeSet::from([east_ip, west_ip])
    });

    // What the agent wrote in east for west's export carries every label and annotation the
    // fixture's agent slices do, and a generated name.
    let slices = east.list("discovery.k8s.io/v1", "EndpointSlice", "default");
    let from_west = slices
        .iter()
        .find(|s| s["metadata"]["labels"]["multicluster.kubernetes.io/source-cluster"] == "west")
        .expect("the agent's slice for west's export");
    let fixture = fixture_object("EndpointSlice", "nginx-x7k2p");
    for field in ["labels", "annotations"] {
        let missing: Vec<String> = keys(&fixture, field)
            .difference(&keys(from_west, field))
            .cloned()
            .collect();
        assert!(
            missing.is_empty(),
            "the fixture's {field} {missing:?} are not the agent's: {from_west}"
        );
    }
    let name = from_west["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("nginx-") && name != "nginx-west",
        "a generated name: {name}"
    );

    // The agent's per-cluster ServiceImport in east is not a service.
    let copies = east.list(
        "multicluster.x-k8s.io/v1alpha1",
        "ServiceImport",
        "submariner-operator",
    );
    let copy = copies
        .iter()
        .filter_map(|c| c["metadata"]["name"].as_str())
        .next()
        .expect("the agent's per-cluster ServiceImport")
        .to_owned();
    let answer = ask(
        &format!("{copy}.submariner-operator.svc.clusterset.local."),
        RecordType::A,
    )
    .to(server.dns);
    assert_eq!(
        answer.metadata.response_code,
        ResponseCode::NXDomain,
        "{copy}"
    );

    // West unexports: the agents withdraw its slices, and it leaves the rotation.
    west.delete(
        "multicluster.x-k8s.io/v1alpha1",
        "ServiceExport",
        "default",
        "nginx",
    );
    eventually("west withdrawn", || answered() == BTreeSet::from([east_ip]));
}

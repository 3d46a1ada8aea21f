//! A bench, not a check (run by `bench/kube-memory.sh`, ignored by the normal test run): Aviator's
//! resident memory in Kubernetes mode on a real API server loaded with 5,000 ServiceImports
//! exported by 5 clusters each (25,000 of Lighthouse's EndpointSlices, created by server-side
//! machinery with their managedFields), beside 25,000 other EndpointSlices that are not
//! Lighthouse's and that the label-selected watch never receives. Prints the figures.

use std::time::Instant;

use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::support::control_plane::ControlPlane;
use crate::support::process::eventually;
use crate::support::*;

const SERVICES: usize = 5_000;
const CLUSTERS: [&str; 5] = ["east", "west", "central", "north", "south"];

fn objects() -> (Vec<Value>, Vec<Value>) {
    let mut imports = Vec::new();
    let mut slices = Vec::new();
    for i in 0..SERVICES {
        let (namespace, name) = (format!("ns-{}", i % 50), format!("svc-{i}"));
        imports.push(json!({
            "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
            "metadata": { "name": name, "namespace": namespace },
            "spec": { "type": "ClusterSetIP",
                      "ports": [{ "name": "http", "port": 80, "protocol": "TCP" }] },
        }));
        for (c, cluster) in CLUSTERS.iter().enumerate() {
            slices.push(json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": { "name": format!("{name}-{cluster}x"), "namespace": namespace,
                    "labels": {
                        "endpointslice.kubernetes.io/managed-by": "lighthouse-agent.submariner.io",
                        "multicluster.kubernetes.io/source-cluster": cluster,
                        "multicluster.kubernetes.io/service-name": name,
                        "lighthouse.submariner.io/sourceNamespace": namespace,
                        "lighthouse.submariner.io/is-headless": "false" } },
                "addressType": "IPv4",
                "endpoints": [{ "addresses": [format!("10.{}.{}.{}", c + 1, i / 250, i % 250)],
                                "conditions": { "ready": true } }],
                "ports": [{ "name": "http", "port": 80, "protocol": "TCP" }],
            }));
            // The same service's own slice in that cluster: not Lighthouse's.
            slices.push(json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": { "name": format!("{name}-{cluster}k"), "namespace": namespace,
                    "labels": { "kubernetes.io/service-name": format!("{name}-{cluster}"),
                                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" } },
                "addressType": "IPv4",
                "endpoints": [{ "addresses": [format!("10.{}.{}.{}", c + 101, i / 250, i % 250)],
                                "conditions": { "ready": true } }],
            }));
        }
    }
    (imports, slices)
}

#[test]
#[ignore = "a bench: bench/kube-memory.sh runs it"]
fn kubernetes_memory_at_5000_service_imports() {
    let cluster = ControlPlane::start();
    cluster.grant_aviator();
    let dir_start = Instant::now();
    let server = Aviator::start_kubernetes(
        &cluster.aviator_kubeconfig(),
        &["--cluster-id", "east"],
        &[],
    );
    eventually("serving the empty clusterset", || {
        ask("x.y.svc.clusterset.local.", RecordType::A)
            .to(server.dns)
            .metadata
            .response_code
            != hickory_proto::op::ResponseCode::ServFail
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    let empty = server.rss_kib().unwrap();

    let (imports, slices) = objects();
    let namespaces: Vec<Value> = (0..50)
        .map(|n| json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": format!("ns-{n}") } }))
        .collect();
    let load = Instant::now();
    cluster.create_all(namespaces);
    cluster.create_all(imports);
    cluster.create_all(slices);
    let loaded_s = load.elapsed().as_secs_f64();
    let last = format!(
        "svc-{}.ns-{}.svc.clusterset.local.",
        SERVICES - 1,
        (SERVICES - 1) % 50
    );
    // The control plane takes its time over 55,000 writes; Aviator follows as they come.
    let deadline = Instant::now() + std::time::Duration::from_secs(600);
    while addresses(&ask(&last, RecordType::A).to(server.dns)).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the last service never answered with every export"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let served_s = load.elapsed().as_secs_f64();
    // Settle: a few control-loop ticks (and an idle-time CPU figure over them).
    let cpu_before = server.cpu_ticks();
    std::thread::sleep(std::time::Duration::from_secs(10));
    let full = server.rss_kib().unwrap();
    let cpu_s = (server.cpu_ticks().unwrap_or(0) - cpu_before.unwrap_or(0)) as f64 / 100.0;
    println!(
        "services: {SERVICES}, clusters: {}, Lighthouse slices: {}, other slices: {}",
        CLUSTERS.len(),
        SERVICES * CLUSTERS.len(),
        SERVICES * CLUSTERS.len()
    );
    println!(
        "objects created in {loaded_s:.1} s; the last service answered {served_s:.1} s after the first create (setup {:.1} s)",
        dir_start.elapsed().as_secs_f64() - served_s
    );
    println!("rss empty: {:.1} MiB", empty as f64 / 1024.0);
    println!(
        "rss at {SERVICES} services: {:.1} MiB",
        full as f64 / 1024.0
    );
    println!("cpu over the 10 s settled: {:.0} % of a core", cpu_s * 10.0);
    println!(
        "rss per export (5 per service): {:.2} KiB",
        (full.saturating_sub(empty)) as f64 / (SERVICES * CLUSTERS.len()) as f64
    );
}

//! Kubernetes mode against the in-test API server, for what a bare control plane cannot serve:
//! the metrics API (`metrics.k8s.io`, metrics-server's in a real cluster). Everything else runs
//! against a real kube-apiserver in `kubernetes_real.rs`.

use crate::support::kube_api::KubeApi;
use crate::support::process::eventually;
use crate::support::*;

const FIXTURE: &str = include_str!("../data/kubernetes/lighthouse.yaml");

/// This cluster's own export reports how busy it is: its ready pods' CPU use, by the metrics
/// API, against their requests, published in its ClusterCost for the other clusters to read.
#[test]
fn the_local_exports_utilisation_comes_from_the_metrics_api() {
    let api = KubeApi::start(FIXTURE);
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let objects = serde_json::json!([
        { "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
          "metadata": { "name": "cart", "namespace": "shop" },
          "spec": { "type": "ClusterSetIP", "ports": [{ "name": "http", "port": 80, "protocol": "TCP" }] },
          "status": { "clusters": [{ "cluster": "east" }] } },
        { "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
          "metadata": { "name": "cart-east", "namespace": "shop", "labels": {
              "endpointslice.kubernetes.io/managed-by": "lighthouse-agent.submariner.io",
              "multicluster.kubernetes.io/source-cluster": "east",
              "multicluster.kubernetes.io/service-name": "cart",
              "lighthouse.submariner.io/sourceNamespace": "shop" } },
          "addressType": "IPv4",
          "endpoints": [{ "addresses": ["10.1.0.20"], "conditions": { "ready": true } }],
          "ports": [{ "name": "http", "port": 80, "protocol": "TCP" }] },
        { "apiVersion": "v1", "kind": "Service",
          "metadata": { "name": "cart", "namespace": "shop" },
          "spec": { "selector": { "app": "cart" }, "ports": [{ "port": 80 }] } },
    ]);
    let pod = |name: &str, app: &str, cpu: &str| {
        serde_json::json!({ "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": name, "namespace": "shop", "labels": { "app": app } },
            "spec": { "containers": [{ "name": "c", "resources": { "requests": { "cpu": cpu } } }] },
            "status": { "conditions": [{ "type": "Ready", "status": "True" }] } })
    };
    let used = |name: &str, app: &str, cpu: &str| {
        serde_json::json!({ "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
            "metadata": { "name": name, "namespace": "shop", "labels": { "app": app } },
            "timestamp": now, "window": "15s",
            "containers": [{ "name": "c", "usage": { "cpu": cpu, "memory": "20Mi" } }] })
    };
    for object in objects.as_array().unwrap().iter().cloned().chain([
        pod("cart-1", "cart", "500m"),
        pod("cart-2", "cart", "0.5"),
        // Another service's pod in the namespace: not selected.
        pod("search-1", "search", "100m"),
        used("cart-1", "cart", "250m"),
        used("cart-2", "cart", "500000000n"),
        used("search-1", "search", "100m"),
    ]) {
        api.put(object, false);
    }
    api.release();
    let dir = tempfile::tempdir().unwrap();
    let broker_env = [
        ("BROKER_K8S_APISERVER", format!("http://{}", api.addr)),
        (
            "BROKER_K8S_REMOTENAMESPACE",
            "submariner-k8s-broker".to_owned(),
        ),
    ];
    let _server = Aviator::start_kubernetes(
        &api.kubeconfig(dir.path()),
        &["--cluster-id", "east", "--tick-ms", "200"],
        &broker_env,
    );
    // (0.25 + 0.5) cores used of (0.5 + 0.5) requested.
    eventually(
        "east's ClusterCost to report cart at 75 % utilisation",
        || {
            api.get("ClusterCost", "submariner-k8s-broker", "east")
                .and_then(|c| {
                    c["spec"]["exports"]
                        .as_array()?
                        .iter()
                        .find(|e| e["name"] == "cart")
                        .cloned()
                })
                .and_then(|e| e["load"]["utilization"].as_f64())
                .is_some_and(|u| (u - 0.75).abs() < 1e-9)
        },
    );
}

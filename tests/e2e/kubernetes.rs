//! Kubernetes mode against an in-test API server over real HTTP: not ready and SERVFAIL until
//! every kind is listed, answers from Lighthouse's objects, live changes by watch, and a relist
//! after `410 Gone` while the last state keeps serving.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::support::http::get;
use crate::support::kube_api::KubeApi;
use crate::support::process::eventually;
use crate::support::*;

const FIXTURE: &str = include_str!("../data/kubernetes/lighthouse.yaml");
const NGINX: &str = "nginx.default.svc.clusterset.local.";

fn fixture_object(kind: &str, name: &str) -> Value {
    for document in serde_yaml_ng::Deserializer::from_str(FIXTURE) {
        let value: Value = serde::Deserialize::deserialize(document).unwrap();
        if value["kind"] == kind && value["metadata"]["name"] == name {
            return value;
        }
    }
    panic!("{kind} {name} not in the fixture");
}

#[test]
fn kubernetes_mode_follows_lighthouse_objects() {
    let api = KubeApi::start(FIXTURE);
    let dir = tempfile::tempdir().unwrap();
    // The broker: another API server in real life; the same one here, in its own namespace.
    let west_cost = serde_json::json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "ClusterCost",
        "metadata": { "name": "west", "namespace": "submariner-k8s-broker" },
        "spec": { "cluster": "west", "provider": "aws", "region": "us-west-2",
                  "prices": { "egress": { "intraZone": 0, "interZone": 0.01, "interRegion": 0.02,
                                          "interContinent": 0.02, "internet": 0.09 } } }
    });
    api.put(west_cost, false);
    let broker_env = [
        ("BROKER_K8S_APISERVER", format!("http://{}", api.addr)),
        (
            "BROKER_K8S_REMOTENAMESPACE",
            "submariner-k8s-broker".to_owned(),
        ),
    ];
    let server = Aviator::start_kubernetes(
        &api.kubeconfig(dir.path()),
        &[
            "--cluster-id",
            "east",
            "--tick-ms",
            "200",
            "--broker-stale-s",
            "1",
        ],
        &broker_env,
    );

    // Before the first full list: not ready, and SERVFAIL rather than a wrong answer.
    assert_eq!(get(server.admin, "/readyz").0, 503);
    let early = ask(NGINX, RecordType::A).to(server.dns);
    assert_eq!(early.metadata.response_code, ResponseCode::ServFail);

    api.release();
    eventually("the first answers", || {
        addresses(&ask(NGINX, RecordType::A).to(server.dns)) == ips(&["10.2.0.10"])
    });
    assert_eq!(get(server.admin, "/readyz").0, 200);
    // This cluster publishes its ClusterCost to the broker (server-side apply) and reads the
    // others'.
    eventually("east's ClusterCost on the broker", || {
        api.get("ClusterCost", "submariner-k8s-broker", "east")
            .is_some_and(|c| c["spec"]["cluster"] == "east")
    });
    eventually("the broker to be fresh", || {
        let (_, body) = get(server.admin, "/metrics");
        crate::support::http::metric(&body, "aviator_broker_stale", &[]) == Some(0.0)
    });
    // Headless: only db-0 is ready.
    let db = ask("db.data.svc.clusterset.local.", RecordType::A).to(server.dns);
    assert_eq!(addresses(&db), ips(&["10.2.1.1"]));

    // central becomes ready and connected: it joins the rotation.
    let mut slice = fixture_object("EndpointSlice", "nginx-central");
    slice["endpoints"][0]["conditions"]["ready"] = Value::Bool(true);
    api.put(slice, true);
    let mut gateway = fixture_object("Gateway", "east-gw-node-1");
    gateway["status"]["connections"][1]["status"] = Value::from("connected");
    api.put(gateway, true);
    eventually("central to be answered", || {
        addresses(&ask(NGINX, RecordType::A).to(server.dns)) == ips(&["10.3.0.10"])
    });

    // 410 Gone: the watchers relist, and answers keep coming meanwhile.
    let lists_before = api.lists();
    api.expire_watches();
    eventually("a relist of every kind", || api.lists() >= lists_before + 4);
    for _ in 0..10 {
        let answer = ask(NGINX, RecordType::A).to(server.dns);
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
        assert_eq!(addresses(&answer).len(), 1);
    }

    // An AviatorPolicy switches the service to weights: central drained.
    let policy: Value = serde_json::json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "AviatorPolicy",
        "metadata": { "name": "nginx", "namespace": "default" },
        "spec": { "service": "nginx", "loadBalancing": "WeightedRoundRobin",
                  "weights": { "west": 1, "central": 0 } }
    });
    api.put(policy, true);
    eventually("the policy to take effect", || {
        (0..20).all(|_| addresses(&ask(NGINX, RecordType::A).to(server.dns)) == ips(&["10.2.0.10"]))
    });
    // Its status says it is in force, for the generation acted on.
    let condition = |policy: &Value, kind: &str| {
        policy["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == kind).cloned())
    };
    eventually("the policy's status", || {
        api.get("AviatorPolicy", "default", "nginx")
            .is_some_and(|p| {
                condition(&p, "Ready").is_some_and(|c| c["status"] == "True")
                    && p["status"]["observedGeneration"] == 1
            })
    });

    // An invalid policy gets an Invalid condition with the reason, and changes nothing.
    let bad: Value = serde_json::json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "AviatorPolicy",
        "metadata": { "name": "db", "namespace": "data" },
        "spec": { "service": "db", "loadBalancing": "WeightedRoundRobin", "weights": { "mars": 1 } }
    });
    api.put(bad, true);
    eventually("the Invalid condition", || {
        api.get("AviatorPolicy", "data", "db").is_some_and(|p| {
            condition(&p, "Invalid").is_some_and(|c| {
                c["status"] == "True" && c["message"].as_str().unwrap_or_default().contains("mars")
            })
        })
    });
    let db = ask("db.data.svc.clusterset.local.", RecordType::A).to(server.dns);
    assert_eq!(addresses(&db), ips(&["10.2.1.1"]));

    // The broker becomes unreachable: the last prices stay, and the policies say Degraded.
    api.break_broker();
    eventually("the BrokerStale condition", || {
        api.get("AviatorPolicy", "default", "nginx")
            .is_some_and(|p| {
                condition(&p, "Degraded").is_some_and(|c| c["reason"] == "BrokerStale")
            })
    });
    assert_eq!(
        addresses(&ask(NGINX, RecordType::A).to(server.dns)),
        ips(&["10.2.0.10"])
    );
}

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

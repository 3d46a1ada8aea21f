//! Kubernetes mode against a real kube-apiserver and etcd (two of them: the cluster, and the
//! broker), with RBAC on and Aviator running as its ServiceAccount: not ready and SERVFAIL until
//! it may list every kind, answers from Lighthouse's objects, live changes by watch, a real
//! `410 Gone` after etcd compaction and an API server restart while the last state keeps
//! serving, policy statuses written through the status subresource, and a broker outage.

use aviator_broker::kubernetes::access::WATCHED;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::support::control_plane::ControlPlane;
use crate::support::http::{get, metric};
use crate::support::process::eventually;
use crate::support::submariner::{
    BROKER_NAMESPACE, FIXTURE, broker_for_east, condition, fixture_object,
};
use crate::support::*;

const NGINX: &str = "nginx.default.svc.clusterset.local.";

#[test]
fn kubernetes_mode_on_a_real_api_server() {
    let mut cluster = ControlPlane::start();
    let mut broker = ControlPlane::start();
    cluster.apply_yaml(FIXTURE);
    broker.apply(json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "ClusterCost",
        "metadata": { "name": "west", "namespace": BROKER_NAMESPACE },
        "spec": { "cluster": "west", "provider": "aws", "region": "us-west-2",
                  "prices": { "egress": { "intraZone": 0, "interZone": 0.01, "interRegion": 0.02,
                                          "interContinent": 0.02, "internet": 0.09 } } }
    }));
    let broker_env = broker_for_east(&broker);
    let server = Aviator::start_kubernetes(
        &cluster.aviator_kubeconfig(),
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

    // Its ServiceAccount is not bound yet, so it may list nothing: not ready, and SERVFAIL
    // rather than a wrong answer.
    eventually("Aviator to answer at all", || {
        ask(NGINX, RecordType::A)
            .to(server.dns)
            .metadata
            .response_code
            == ResponseCode::ServFail
    });
    assert_eq!(get(server.admin, "/readyz").0, 503);

    // Bound by exactly deploy/base's ClusterRole: everything it needs, and it serves.
    cluster.grant_aviator();
    eventually("the first answers", || {
        addresses(&ask(NGINX, RecordType::A).to(server.dns)) == ips(&["10.2.0.10"])
    });
    assert_eq!(get(server.admin, "/readyz").0, 200);
    // This cluster publishes its ClusterCost to the broker and reads the others'.
    eventually("east's ClusterCost on the broker", || {
        broker
            .get(
                "aviator.dev/v1alpha1",
                "ClusterCost",
                BROKER_NAMESPACE,
                "east",
            )
            .is_some_and(|c| c["spec"]["cluster"] == "east")
    });
    eventually("the broker to be fresh", || {
        metric(
            &get(server.admin, "/metrics").1,
            "aviator_broker_stale",
            &[],
        ) == Some(0.0)
    });
    // Headless: its ready pods only (db-1 is not).
    let db = ask("db.data.svc.clusterset.local.", RecordType::A).to(server.dns);
    assert_eq!(addresses(&db), ips(&["10.2.1.1", "10.2.1.3"]));

    // central becomes ready and connected: it joins the rotation.
    let mut slice = fixture_object("EndpointSlice", "nginx-q9w4d");
    slice["endpoints"][0]["conditions"]["ready"] = Value::Bool(true);
    cluster.apply(slice);
    let mut gateway = fixture_object("Gateway", "east-gw-node-1");
    gateway["status"]["connections"][1]["status"] = Value::from("connected");
    cluster.apply(gateway);
    eventually("central to be answered", || {
        addresses(&ask(NGINX, RecordType::A).to(server.dns)) == ips(&["10.3.0.10"])
    });

    // The API server goes away: the last state keeps serving.
    cluster.stop_apiserver();
    for _ in 0..10 {
        let answer = ask(NGINX, RecordType::A).to(server.dns);
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
        assert_eq!(addresses(&answer).len(), 1);
    }
    // It comes back past everything Aviator saw (a write meanwhile, then etcd compacted up to
    // it): the resourceVersion its watches resume from is gone from etcd and older than the
    // new server's watch cache, so they get 410 Gone and relist every kind. (The server's own
    // metrics start afresh with it, so any LIST counted is one made since.)
    cluster.restart_apiserver();
    cluster.apply(json!({ "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "bump", "namespace": "default" }, "data": { "a": "1" } }));
    cluster.stop_apiserver();
    cluster.compact();
    cluster.restart_apiserver();
    eventually("a relist of every kind", || {
        let metrics = cluster.metrics();
        WATCHED.iter().all(|watched| {
            metrics.lines().any(|l| {
                l.starts_with("apiserver_request_total{")
                    && l.contains("verb=\"LIST\"")
                    && l.contains(&format!("resource=\"{}\"", watched.plural))
            })
        })
    });
    // And follows changes again: central is drained.
    let mut slice = fixture_object("EndpointSlice", "nginx-q9w4d");
    slice["endpoints"][0]["conditions"]["ready"] = Value::Bool(false);
    cluster.apply(slice);
    eventually("central to be drained", || {
        (0..10).all(|_| addresses(&ask(NGINX, RecordType::A).to(server.dns)) == ips(&["10.2.0.10"]))
    });

    // An AviatorPolicy switches the service to weights; its status says it is in force, for
    // the generation acted on, written through the status subresource.
    cluster.apply(json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "AviatorPolicy",
        "metadata": { "name": "nginx", "namespace": "default" },
        "spec": { "service": "nginx", "loadBalancing": "WeightedRoundRobin",
                  "weights": { "west": 1, "central": 0 } }
    }));
    eventually("the policy's status", || {
        cluster
            .get("aviator.dev/v1alpha1", "AviatorPolicy", "default", "nginx")
            .is_some_and(|p| {
                condition(&p, "Ready").is_some_and(|c| c["status"] == "True")
                    && p["status"]["observedGeneration"] == 1
            })
    });

    // An invalid policy gets an Invalid condition with the reason, and changes nothing.
    cluster.apply(json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "AviatorPolicy",
        "metadata": { "name": "db", "namespace": "data" },
        "spec": { "service": "db", "loadBalancing": "WeightedRoundRobin", "weights": { "mars": 1 } }
    }));
    eventually("the Invalid condition", || {
        cluster
            .get("aviator.dev/v1alpha1", "AviatorPolicy", "data", "db")
            .is_some_and(|p| {
                condition(&p, "Invalid").is_some_and(|c| {
                    c["status"] == "True"
                        && c["message"].as_str().unwrap_or_default().contains("mars")
                })
            })
    });
    let db = ask("db.data.svc.clusterset.local.", RecordType::A).to(server.dns);
    assert_eq!(addresses(&db), ips(&["10.2.1.1", "10.2.1.3"]));

    // The broker's API server goes down: the last prices stay, and the policies say Degraded.
    broker.stop_apiserver();
    eventually("the BrokerStale condition", || {
        cluster
            .get("aviator.dev/v1alpha1", "AviatorPolicy", "default", "nginx")
            .is_some_and(|p| {
                condition(&p, "Degraded").is_some_and(|c| c["reason"] == "BrokerStale")
            })
    });
    assert_eq!(
        addresses(&ask(NGINX, RecordType::A).to(server.dns)),
        ips(&["10.2.0.10"])
    );
}

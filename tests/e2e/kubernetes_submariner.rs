//! Kubernetes mode on a real API server, fed the objects Lighthouse's agent and Submariner's
//! gateway really write, and read as Lighthouse's own resolver reads them: the cluster id from
//! the gateway over a wrong setting, only the agent's slices watched, the per-cluster and broker
//! ServiceImports left out, headless services merged over several slices with pods named and
//! `publish-not-ready-addresses` honoured, Globalnet's local addresses, and the local export's
//! capacity counted from its Service's own slices; the broker reached with the credentials
//! where Submariner keeps them, and the cluster's place and prices from its nodes.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::support::control_plane::ControlPlane;
use crate::support::process::eventually;
use crate::support::submariner::{
    BROKER_NAMESPACE, FIXTURE, broker_in_submariner, condition, fixture_object,
};
use crate::support::*;

const ZONE: &str = "svc.clusterset.local.";

fn name(relative: &str) -> String {
    format!("{relative}.{ZONE}")
}

/// An EndpointSlice as Lighthouse's agent writes it for `cluster`'s export of `service`.
fn agent_slice(name: &str, service: &str, cluster: &str, headless: bool, globalnet: bool) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": name, "namespace": "default",
            "labels": {
                "endpointslice.kubernetes.io/managed-by": "lighthouse-agent.submariner.io",
                "multicluster.kubernetes.io/source-cluster": cluster,
                "multicluster.kubernetes.io/service-name": service,
                "lighthouse.submariner.io/sourceNamespace": "default",
                "lighthouse.submariner.io/is-headless": headless.to_string(),
            },
            "annotations": {
                "lighthouse.submariner.io/publish-not-ready-addresses": "",
                "lighthouse.submariner.io/globalnet-enabled": globalnet.to_string(),
            },
        },
        "addressType": "IPv4",
        "ports": [{ "name": "http", "port": 80, "protocol": "TCP" }],
    })
}

/// A Service's own EndpointSlice, as the EndpointSlice controller writes it.
fn own_slice(name: &str, service: &str, family: &str, endpoints: Value) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": name, "namespace": "default",
            "labels": {
                "kubernetes.io/service-name": service,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": family,
        "endpoints": endpoints,
        "ports": [{ "name": "http", "port": 80, "protocol": "TCP" }],
    })
}

fn pod(address: &str, pod: &str, ready: bool) -> Value {
    json!({ "addresses": [address], "conditions": { "ready": ready },
            "targetRef": { "kind": "Pod", "name": pod, "namespace": "default" } })
}

/// Sets up east's own exports: nginx (ClusterSetIP, three ready pods over two families and
/// the fixture's slice) and web (headless, under Globalnet).
fn east_exports(cluster: &ControlPlane) {
    let mut nginx = agent_slice("nginx-h2m9t", "nginx", "east", false, false);
    nginx["endpoints"] = json!([{ "addresses": ["10.1.0.44"], "conditions": { "ready": true } }]);
    cluster.apply(nginx);
    cluster.apply(own_slice(
        "nginx-8fj2k",
        "nginx",
        "IPv4",
        json!([
            pod("10.1.4.1", "nginx-a", true),
            pod("10.1.4.2", "nginx-b", true),
            pod("10.1.4.3", "nginx-c", false)
        ]),
    ));
    // The same pods' IPv6 addresses: no more servers.
    cluster.apply(own_slice(
        "nginx-r6s2v",
        "nginx",
        "IPv6",
        json!([
            pod("fd00:1::4:1", "nginx-a", true),
            pod("fd00:1::4:2", "nginx-b", true)
        ]),
    ));
    cluster.apply(json!({
        "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
        "metadata": { "name": "web", "namespace": "default" },
        "spec": { "type": "Headless", "ports": [{ "name": "http", "port": 80, "protocol": "TCP" }] },
    }));
    // Under Globalnet the agent publishes global IPs, which are not routable inside east.
    let mut web = agent_slice("web-k3j8d", "web", "east", true, true);
    web["metadata"]["labels"]["lighthouse.submariner.io/source-name"] = json!("web-9xk2m");
    web["endpoints"] = json!([{ "addresses": ["242.0.0.5"], "hostname": "web-0",
                                "conditions": { "ready": true } }]);
    cluster.apply(web);
    let mut own = own_slice(
        "web-9xk2m",
        "web",
        "IPv4",
        json!([{ "addresses": ["10.1.3.5"], "hostname": "web-0", "conditions": { "ready": true } }]),
    );
    own["metadata"]["labels"]["service.kubernetes.io/headless"] = json!("");
    cluster.apply(own);
}

fn ready_endpoints(cost: &Value, service: &str) -> Option<u64> {
    cost["spec"]["exports"]
        .as_array()?
        .iter()
        .find(|e| e["namespace"] == "default" && e["name"] == service)?["readyEndpoints"]
        .as_u64()
}

#[test]
fn submariner_objects_read_as_lighthouse_reads_them() {
    let cluster = ControlPlane::start();
    let broker = ControlPlane::start();
    cluster.apply_yaml(FIXTURE);
    east_exports(&cluster);
    // The broker's credentials only where Submariner keeps them: no BROKER_K8S_* variables.
    broker_in_submariner(&cluster, &broker);
    // Where east is, as its nodes say it.
    for (name, zone) in [
        ("east-1", "us-east-1a"),
        ("east-2", "us-east-1b"),
        ("east-3", "us-east-1b"),
    ] {
        cluster.apply(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": { "name": name, "labels": {
                "topology.kubernetes.io/region": "us-east-1", "topology.kubernetes.io/zone": zone } },
            "spec": { "providerID": format!("aws:///{zone}/i-{name}") },
        }));
    }
    // A Deployment's placeholder: the gateway knows better.
    let env = vec![("SUBMARINER_CLUSTERID", "CHANGE-ME".to_owned())];
    let server =
        Aviator::start_kubernetes(&cluster.aviator_kubeconfig(), &["--tick-ms", "200"], &env);
    cluster.grant_aviator();

    // The cluster id is the gateway's (east), so east's own export is local and answered
    // first, as Lighthouse does. Under "CHANGE-ME" east would be a remote cluster without a
    // tunnel, and never answered.
    let nginx = name("nginx.default");
    eventually("east's own export, local first", || {
        addresses(&ask(&nginx, RecordType::A).to(server.dns)) == ips(&["10.1.0.44"])
    });

    // Its capacity on the broker is its Service's ready pods (two, once each over both
    // families, and the fixture's one), not the agent's single service-IP endpoint.
    let east_cost = || {
        broker.get(
            "aviator.dev/v1alpha1",
            "ClusterCost",
            BROKER_NAMESPACE,
            "east",
        )
    };
    eventually("east's ready endpoints on the broker", || {
        east_cost().is_some_and(|c| ready_endpoints(&c, "nginx") == Some(3))
    });
    // Its location comes from its nodes, read by a watch of their own, which may publish a
    // round after the endpoints.
    eventually("east's location on the broker", || {
        east_cost().is_some_and(|c| c["spec"]["zone"].is_string())
    });

    // And where it is, from its nodes, with the shipped list prices of AWS (which bills
    // inter-zone traffic at both ends).
    let cost = east_cost().unwrap();
    let spec = &cost["spec"];
    assert_eq!(
        (&spec["provider"], &spec["region"], &spec["zone"]),
        (&json!("aws"), &json!("us-east-1"), &json!("us-east-1b")),
        "{spec}"
    );
    assert_eq!(spec["prices"]["egress"]["interZone"], json!(0.01), "{spec}");
    assert_eq!(
        spec["prices"]["ingress"]["interZone"],
        json!(0.01),
        "{spec}"
    );
    assert_eq!(spec["prices"]["egress"]["internet"], json!(0.09), "{spec}");

    // The default policy overrides the list prices (a negotiated rate), and the broker hears it.
    cluster.apply(json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "AviatorPolicy",
        "metadata": { "name": "default", "namespace": "aviator" },
        "spec": { "loadBalancing": "RoundRobin",
                  "prices": { "egress": { "intraZone": 0, "interZone": 0.005, "interRegion": 0.01,
                                          "interContinent": 0.015, "internet": 0.05 } } },
    }));
    eventually("the negotiated prices on the broker", || {
        broker
            .get(
                "aviator.dev/v1alpha1",
                "ClusterCost",
                BROKER_NAMESPACE,
                "east",
            )
            .is_some_and(|c| c["spec"]["prices"]["egress"]["internet"] == json!(0.05))
    });
    // A service's policy may not say where the cluster is.
    cluster.apply(json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "AviatorPolicy",
        "metadata": { "name": "nginx", "namespace": "default" },
        "spec": { "service": "nginx", "location": { "zone": "us-east-1c" } },
    }));
    eventually("the misplaced location refused", || {
        cluster
            .get("aviator.dev/v1alpha1", "AviatorPolicy", "default", "nginx")
            .as_ref()
            .and_then(|p| condition(p, "Invalid"))
            .is_some_and(|c| {
                c["status"] == "True"
                    && c["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("default policy")
            })
    });

    // Globalnet: the local headless export answers with the pods' own addresses.
    assert_eq!(
        addresses(&ask(&name("web.default"), RecordType::A).to(server.dns)),
        ips(&["10.1.3.5"])
    );
    assert_eq!(
        addresses(&ask(&name("web-0.east.web.default"), RecordType::A).to(server.dns)),
        ips(&["10.1.3.5"])
    );

    // The agent's per-cluster ServiceImport and the broker's copy are not services.
    for phantom in [
        "nginx-default-east.submariner-operator",
        "nginx-default.submariner-k8s-broker",
    ] {
        let answer = ask(&name(phantom), RecordType::A).to(server.dns);
        assert_eq!(
            answer.metadata.response_code,
            ResponseCode::NXDomain,
            "{phantom}"
        );
    }

    // Headless over two slices (IPv4, IPv6): the ready pods of both families; an endpoint
    // without a hostname named after its pod.
    let db = name("db.data");
    assert_eq!(
        addresses(&ask(&db, RecordType::A).to(server.dns)),
        ips(&["10.2.1.1", "10.2.1.3"])
    );
    assert_eq!(
        addresses(&ask(&db, RecordType::AAAA).to(server.dns)),
        ips(&["fd00:2::1:1"])
    );
    assert_eq!(
        addresses(&ask(&name("db-replica-7f9c4.west.db.data"), RecordType::A).to(server.dns)),
        ips(&["10.2.1.3"])
    );
    assert_eq!(
        addresses(&ask(&name("db-0.west.db.data"), RecordType::AAAA).to(server.dns)),
        ips(&["fd00:2::1:1"])
    );
    // publish-not-ready-addresses: the unready pod is answered too (a StatefulSet's bootstrap).
    let mut slice = fixture_object("EndpointSlice", "db-5mz8r");
    slice["metadata"]["annotations"]["lighthouse.submariner.io/publish-not-ready-addresses"] =
        json!("true");
    cluster.apply(slice);
    eventually("the unready pod published", || {
        addresses(&ask(&db, RecordType::A).to(server.dns))
            == ips(&["10.2.1.1", "10.2.1.2", "10.2.1.3"])
    });

    // Every EndpointSlice request it made was label-selected: cluster-wide, the agent's
    // slices only; in a namespace, one exported Service's own.
    let requests = cluster.requests_by("aviator", "aviator");
    let slice_requests: Vec<String> = requests
        .iter()
        .filter(|e| e["objectRef"]["resource"] == "endpointslices")
        .map(|e| {
            e["requestURI"]
                .as_str()
                .unwrap_or_default()
                .replace("%2F", "/")
                .replace("%3D", "=")
        })
        .collect();
    assert!(
        slice_requests.iter().any(|u| u.contains("watch=true")),
        "no watch of EndpointSlices: {slice_requests:?}"
    );
    for uri in &slice_requests {
        let selected = if uri.starts_with("/apis/discovery.k8s.io/v1/endpointslices") {
            uri.contains("labelSelector=endpointslice.kubernetes.io/managed-by=lighthouse-agent.submariner.io")
        } else {
            uri.contains("labelSelector=kubernetes.io/service-name=")
        };
        assert!(
            selected,
            "an EndpointSlice request without its label selector: {uri}"
        );
    }
}

//! Submariner as the Kubernetes-mode tests set it up: the objects Lighthouse's agent and the
//! gateway write (`tests/data/kubernetes/lighthouse.yaml`, seen from cluster `east`), and a
//! broker with `deploy/broker`'s Role, reached with the variables Submariner gives its pods.

use base64::Engine;
use serde_json::{Value, json};

use super::control_plane::ControlPlane;

pub const FIXTURE: &str = include_str!("../../data/kubernetes/lighthouse.yaml");
pub const BROKER_NAMESPACE: &str = "submariner-k8s-broker";

/// An AviatorPolicy's condition of type `kind`, if its status has one.
pub fn condition(policy: &Value, kind: &str) -> Option<Value> {
    policy["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .cloned()
}

/// The fixture's object of `kind` named `name`.
pub fn fixture_object(kind: &str, name: &str) -> Value {
    for document in serde_yaml_ng::Deserializer::from_str(FIXTURE) {
        let value: Value = serde::Deserialize::deserialize(document).unwrap();
        if value["kind"] == kind && value["metadata"]["name"] == name {
            return value;
        }
    }
    panic!("{kind} {name} not in the fixture");
}

/// The broker as Submariner sets it up for cluster `east`: a ServiceAccount there, bound to the
/// Role `deploy/broker/` ships; and the environment Submariner gives its pods.
pub fn broker_for_east(broker: &ControlPlane) -> Vec<(&'static str, String)> {
    broker.apply(json!({ "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": { "name": "cluster-east", "namespace": BROKER_NAMESPACE } }));
    for file in ["role.yaml", "rolebinding.yaml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/broker")
            .join(file);
        broker.apply_yaml(&std::fs::read_to_string(path).unwrap());
    }
    let token = broker.service_account_token(BROKER_NAMESPACE, "cluster-east");
    let ca = base64::engine::general_purpose::STANDARD.encode(broker.ca_pem());
    vec![
        (
            "BROKER_K8S_APISERVER",
            broker.url.trim_start_matches("https://").to_owned(),
        ),
        ("BROKER_K8S_APISERVERTOKEN", token),
        ("BROKER_K8S_CA", ca),
        ("BROKER_K8S_REMOTENAMESPACE", BROKER_NAMESPACE.to_owned()),
    ]
}

/// The broker's credentials where Submariner keeps them in cluster `east`: its `Submariner`
/// object (on a stand-in CRD, see `tests/data/kubernetes/submariner-crd.yaml`) naming the broker's
/// API server and namespace, and the `submariner-broker-secret` with the token and CA; plus
/// `deploy/submariner`'s Role, which lets Aviator read them.
pub fn broker_in_submariner(cluster: &ControlPlane, broker: &ControlPlane) {
    submariner_objects(cluster, broker);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/submariner/broker-credentials.yaml");
    cluster.apply_yaml(&std::fs::read_to_string(path).unwrap());
}

/// The `Submariner` object and broker Secret alone, where the submariner-operator keeps them.
pub fn submariner_objects(cluster: &ControlPlane, broker: &ControlPlane) {
    let env = broker_for_east(broker);
    let value = |name: &str| env.iter().find(|(k, _)| *k == name).unwrap().1.clone();
    cluster.install_crd(
        &std::fs::read_to_string(super::process::data("kubernetes/submariner-crd.yaml")).unwrap(),
        "submariner.io",
        "v1alpha1",
        "Submariner",
    );
    cluster.apply(json!({
        "apiVersion": "submariner.io/v1alpha1", "kind": "Submariner",
        "metadata": { "name": "submariner", "namespace": "submariner-operator" },
        "spec": { "brokerK8sApiServer": value("BROKER_K8S_APISERVER"),
                  "brokerK8sRemoteNamespace": BROKER_NAMESPACE,
                  "brokerK8sSecret": "submariner-broker-secret", "clusterID": "east" },
    }));
    cluster.apply(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": { "name": "submariner-broker-secret", "namespace": "submariner-operator" },
        "stringData": { "token": value("BROKER_K8S_APISERVERTOKEN"), "ca.crt": broker.ca_pem(),
                        "namespace": BROKER_NAMESPACE },
    }));
}

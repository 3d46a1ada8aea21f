//! Submariner as the Kubernetes-mode tests set it up: the objects Lighthouse's agent and the
//! gateway write (`tests/data/kubernetes/lighthouse.yaml`, seen from cluster `east`), and a
//! broker with `deploy/broker`'s Role, reached with the variables Submariner gives its pods.

use base64::Engine;
use serde_json::{Value, json};

use super::control_plane::ControlPlane;

pub const FIXTURE: &str = include_str!("../../data/kubernetes/lighthouse.yaml");
pub const BROKER_NAMESPACE: &str = "submariner-k8s-broker";

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

//! Every file in `deploy/` parses into typed Kubernetes objects, the manifests keep their
//! promises (two non-root replicas, read-only root, probes on the admin port), and the
//! ClusterRole grants exactly the calls the code makes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aviator_broker::kubernetes::access::{
    LEASE_CALLS, READS, STATUS_WRITES, SUBMARINER_READS, WATCH_VERBS, WATCHED,
};
use aviator_broker::kubernetes::crd::AviatorPolicy;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Deserialize;
use serde_yaml_ng::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

fn typed<T: serde::de::DeserializeOwned>(value: &Value, path: &Path) -> T {
    serde_yaml_ng::from_value(value.clone()).unwrap_or_else(|e| {
        panic!(
            "{}: not a valid {}: {e}",
            path.display(),
            std::any::type_name::<T>()
        )
    })
}

/// Parses every manifest below `dir` into its typed object, collecting the kinds seen.
fn parse_all(dir: &Path, kinds: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            parse_all(&path, kinds);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        for doc in documents(&path) {
            let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
            match kind.as_str() {
                "Kustomization" => {
                    for resource in doc["resources"].as_sequence().unwrap() {
                        let file = path.parent().unwrap().join(resource.as_str().unwrap());
                        assert!(
                            file.exists(),
                            "{} lists missing {}",
                            path.display(),
                            file.display()
                        );
                    }
                }
                "Namespace" => drop(typed::<Namespace>(&doc, &path)),
                "ServiceAccount" => drop(typed::<ServiceAccount>(&doc, &path)),
                "ClusterRole" => drop(typed::<ClusterRole>(&doc, &path)),
                "ClusterRoleBinding" => drop(typed::<ClusterRoleBinding>(&doc, &path)),
                "Role" => drop(typed::<Role>(&doc, &path)),
                "RoleBinding" => drop(typed::<RoleBinding>(&doc, &path)),
                "Deployment" => drop(typed::<Deployment>(&doc, &path)),
                "Service" => drop(typed::<Service>(&doc, &path)),
                "ConfigMap" => drop(typed::<ConfigMap>(&doc, &path)),
                "AviatorPolicy" => drop(typed::<AviatorPolicy>(&doc, &path)),
                "CustomResourceDefinition" => drop(typed::<CustomResourceDefinition>(&doc, &path)),
                other => panic!("{}: unexpected kind {other:?}", path.display()),
            }
            kinds.push(kind);
        }
    }
}

#[test]
fn every_manifest_is_a_valid_typed_object() {
    let mut kinds = Vec::new();
    parse_all(&deploy(), &mut kinds);
    for wanted in [
        "Deployment",
        "Service",
        "ClusterRole",
        "CustomResourceDefinition",
        "AviatorPolicy",
    ] {
        assert!(
            kinds.iter().any(|k| k == wanted),
            "no {wanted} in deploy/: {kinds:?}"
        );
    }
}

#[test]
fn the_deployment_keeps_its_promises() {
    let path = deploy().join("base/deployment.yaml");
    let deployment: Deployment = typed(&documents(&path)[0], &path);
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    assert_eq!(
        pod.security_context.as_ref().unwrap().run_as_non_root,
        Some(true)
    );
    assert!(
        pod.topology_spread_constraints.is_some(),
        "replicas spread across nodes"
    );
    let container = &pod.containers[0];
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert!(container.resources.as_ref().unwrap().requests.is_some());
    let ready = container
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(ready.path.as_deref(), Some("/readyz"));
    let live = container
        .liveness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(live.path.as_deref(), Some("/healthz"));
}

#[test]
fn the_cluster_role_grants_exactly_the_calls_the_code_makes() {
    let path = deploy().join("base/clusterrole.yaml");
    let role: ClusterRole = typed(&documents(&path)[0], &path);
    let granted = grants(role.rules.unwrap_or_default());
    let mut used = BTreeSet::new();
    for watched in WATCHED {
        for verb in WATCH_VERBS {
            used.insert((
                watched.group.to_owned(),
                watched.plural.to_owned(),
                verb.to_owned(),
            ));
        }
    }
    for (read, verb) in READS {
        used.insert((
            read.group.to_owned(),
            read.plural.to_owned(),
            verb.to_owned(),
        ));
    }
    for (group, resource, verb) in STATUS_WRITES {
        used.insert((group.to_owned(), resource.to_owned(), verb.to_owned()));
    }
    assert_eq!(
        granted, used,
        "ClusterRole vs the calls in aviator_broker::kubernetes::access"
    );
}

/// (group, resource, verb) for every rule.
fn grants(
    rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule>,
) -> BTreeSet<(String, String, String)> {
    let mut granted = BTreeSet::new();
    for rule in rules {
        for group in rule.api_groups.unwrap_or_default() {
            for resource in rule.resources.clone().unwrap_or_default() {
                for verb in &rule.verbs {
                    granted.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    granted
}

/// (group, resource, verb) for every rule of the Role in `path`.
fn role_grants(path: &Path) -> BTreeSet<(String, String, String)> {
    let role: Role = typed(&documents(path)[0], path);
    grants(role.rules.unwrap_or_default())
}

#[test]
fn the_role_grants_exactly_the_lease_calls() {
    let used: BTreeSet<(String, String, String)> = LEASE_CALLS
        .iter()
        .map(|(g, r, v)| (g.to_string(), r.to_string(), v.to_string()))
        .collect();
    assert_eq!(role_grants(&deploy().join("base/role.yaml")), used);
}

#[test]
fn the_submariner_role_grants_exactly_the_reads_of_the_broker_credentials() {
    let path = deploy().join("submariner/broker-credentials.yaml");
    let role: Role = typed(&documents(&path)[0], &path);
    assert_eq!(
        role.metadata.namespace.as_deref(),
        Some("submariner-operator")
    );
    let rules = role.rules.unwrap_or_default();
    for rule in &rules {
        if rule.resources.as_deref() == Some(&["secrets".to_owned()]) {
            assert_eq!(
                rule.resource_names.as_deref(),
                Some(&["submariner-broker-secret".to_owned()][..]),
                "only the broker Secret"
            );
        }
    }
    let granted = grants(rules);
    let used: BTreeSet<(String, String, String)> = SUBMARINER_READS
        .iter()
        .map(|(g, r, v)| (g.to_string(), r.to_string(), v.to_string()))
        .collect();
    assert_eq!(granted, used);
    let binding: RoleBinding = typed(&documents(&path)[1], &path);
    assert_eq!(binding.subjects.unwrap()[0].name, "aviator");
}

//! Two replicas on one cluster, as `deploy/base` runs them: both serve DNS, and only the holder
//! of the writer Lease writes the AviatorPolicy statuses (the API server's audit log says who
//! wrote). When the holder stops, it releases the lease and the other takes over the writing.
//! Each replica runs as its own ServiceAccount, bound to the same roles, so the audit log can
//! tell them apart.

use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::support::control_plane::ControlPlane;
use crate::support::http::{get, metric};
use crate::support::process::eventually;
use crate::support::submariner::{FIXTURE, broker_for_east};
use crate::support::*;

const NGINX: &str = "nginx.default.svc.clusterset.local.";

/// Status writes of AviatorPolicies by ServiceAccount `aviator/name`.
fn status_writes(cluster: &ControlPlane, name: &str) -> usize {
    cluster
        .requests_by("aviator", name)
        .iter()
        .filter(|e| {
            e["objectRef"]["resource"] == "aviatorpolicies"
                && e["objectRef"]["subresource"] == "status"
                && e["verb"] == "update"
        })
        .count()
}

fn holder(cluster: &ControlPlane) -> Option<String> {
    let lease = cluster.get(
        "coordination.k8s.io/v1",
        "Lease",
        "aviator",
        "aviator-writer",
    )?;
    lease["spec"]["holderIdentity"].as_str().map(str::to_owned)
}

fn writes(server: &Aviator) -> Option<f64> {
    metric(&get(server.admin, "/metrics").1, "aviator_writer", &[])
}

fn policy(generation_hint: &str) -> Value {
    json!({
        "apiVersion": "aviator.dev/v1alpha1", "kind": "AviatorPolicy",
        "metadata": { "name": "nginx", "namespace": "default", "labels": { "hint": generation_hint } },
        "spec": { "service": "nginx", "loadBalancing": "WeightedRoundRobin",
                  "weights": { "west": 1, "central": if generation_hint == "a" { 0 } else { 1 } } },
    })
}

#[test]
fn one_replica_writes_and_the_other_takes_over() {
    let cluster = ControlPlane::start();
    let broker = ControlPlane::start();
    cluster.apply_yaml(FIXTURE);
    // A second ServiceAccount with the same roles, for the second replica.
    cluster.apply(json!({ "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": { "name": "aviator-b", "namespace": "aviator" } }));
    for (kind, role) in [
        ("ClusterRoleBinding", "ClusterRole"),
        ("RoleBinding", "Role"),
    ] {
        let mut binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": { "name": "aviator-b" },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": role, "name": "aviator" },
            "subjects": [{ "kind": "ServiceAccount", "name": "aviator-b", "namespace": "aviator" }],
        });
        if kind == "RoleBinding" {
            binding["metadata"]["namespace"] = json!("aviator");
        }
        cluster.apply(binding);
    }
    cluster.grant_aviator();
    cluster.apply(policy("a"));
    let broker_env = broker_for_east(&broker);
    let start = |account: &str, pod: &str| {
        let mut env = broker_env.clone();
        env.push(("POD_NAME", pod.to_owned()));
        Aviator::start_kubernetes(
            &cluster.kubeconfig_for("aviator", account),
            &["--cluster-id", "east", "--tick-ms", "200", "--lease-s", "3"],
            &env,
        )
    };
    let a = start("aviator", "aviator-a");
    let b = start("aviator-b", "aviator-b");
    for server in [&a, &b] {
        eventually("both replicas answer", || {
            addresses(&ask(NGINX, RecordType::A).to(server.dns)) == ips(&["10.2.0.10"])
        });
    }
    eventually("one writer", || {
        let flags = (writes(&a), writes(&b));
        flags == (Some(1.0), Some(0.0)) || flags == (Some(0.0), Some(1.0))
    });
    let (writer, writer_account, follower, follower_account) = if writes(&a) == Some(1.0) {
        (a, "aviator", b, "aviator-b")
    } else {
        (b, "aviator-b", a, "aviator")
    };
    let writer_pod = if writer_account == "aviator" {
        "aviator-a"
    } else {
        "aviator-b"
    };
    assert_eq!(holder(&cluster).as_deref(), Some(writer_pod));
    eventually("the policy's status, written", || {
        cluster
            .get("aviator.dev/v1alpha1", "AviatorPolicy", "default", "nginx")
            .is_some_and(|p| {
                p["status"]["observedGeneration"] == 1 && p["status"]["writer"] == writer_pod
            })
    });
    // Statuses are brought up to date every 2 s: over three such rounds, a follower that
    // wrote would have written (its status names itself, so it differs from the writer's).
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert!(status_writes(&cluster, writer_account) > 0);
    assert_eq!(
        status_writes(&cluster, follower_account),
        0,
        "the follower wrote a status"
    );

    // The writer stops: it releases the lease, and the other replica writes from then on.
    writer.terminate();
    eventually("the follower takes over", || writes(&follower) == Some(1.0));
    assert_ne!(holder(&cluster).as_deref(), Some(writer_pod));
    cluster.apply(policy("b"));
    eventually("the new writer's status", || {
        cluster
            .get("aviator.dev/v1alpha1", "AviatorPolicy", "default", "nginx")
            .is_some_and(|p| {
                p["status"]["observedGeneration"] == 2 && p["status"]["writer"] != writer_pod
            })
    });
    // The audit log is written once the response is sent, so the line can trail the object.
    eventually("the follower's status write in the audit log", || {
        status_writes(&cluster, follower_account) > 0
    });
}

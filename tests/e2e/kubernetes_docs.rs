//! `docs/kubernetes.md` followed as written, step by step (`deploy/e2e/steps/`), with the real
//! kubectl against the real API server: install with `deploy/submariner`, the cutover on the
//! Service the submariner-operator never updates, a mode, the check, the way back, uninstall.
//! Aviator runs as the process the Deployment would start (no kubelet here), under the
//! ServiceAccount the install created, and real CoreDNS is the cluster's DNS, forwarding the
//! clusterset zone as Submariner's block does. When the zone is sent elsewhere again (as the
//! operator's rewrite of the Corefile does to a hand edit), Aviator says so: `aviator_zone_served`
//! drops to 0 and the policies' `ZoneServed` condition turns False.

use std::path::Path;
use std::process::Command;

use hickory_proto::rr::RecordType;

use crate::support::control_plane::ControlPlane;
use crate::support::coredns::CoreDns;
use crate::support::http::{get, metric};
use crate::support::process::{data, eventually};
use crate::support::submariner::{FIXTURE, submariner_objects};
use crate::support::*;

const NGINX: &str = "nginx.default.svc.clusterset.local.";

/// Runs one of the docs' steps with the built kubectl as the admin; its output.
fn step(cluster: &ControlPlane, script: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/e2e/steps")
        .join(script);
    let out = Command::new(&path)
        .env("KUBECTL", ControlPlane::kubectl())
        .env("KUBECONFIG", cluster.admin_kubeconfig())
        .output()
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    text
}

/// The Service the submariner-operator made for lighthouse-coredns, as it stands.
fn lighthouse_service(cluster: &ControlPlane) -> serde_json::Value {
    cluster
        .get(
            "v1",
            "Service",
            "submariner-operator",
            "submariner-lighthouse-coredns",
        )
        .expect("the lighthouse-coredns Service")
}

fn zone_served(cluster: &ControlPlane) -> Option<(String, String)> {
    let policy = cluster.get("aviator.dev/v1alpha1", "AviatorPolicy", "default", "nginx")?;
    let condition = crate::support::submariner::condition(&policy, "ZoneServed")?;
    Some((
        condition["status"].as_str()?.to_owned(),
        condition["reason"].as_str()?.to_owned(),
    ))
}

#[test]
fn the_kubernetes_guide_works_as_written() {
    let cluster = ControlPlane::start();
    let broker = ControlPlane::start();
    cluster.apply_yaml(FIXTURE);
    // What Submariner has already put there: its object, the broker Secret, and the
    // operator's lighthouse-coredns Service.
    submariner_objects(&cluster, &broker);
    cluster.apply_yaml(
        &std::fs::read_to_string(data("kubernetes/lighthouse-coredns-service.yaml")).unwrap(),
    );

    // Step 2: install.
    step(&cluster, "1-install.sh");
    assert!(
        cluster
            .get("apps/v1", "Deployment", "submariner-operator", "aviator")
            .is_some()
    );

    // The Deployment's process, as its ServiceAccount, in Submariner's namespace; the cluster's
    // DNS is CoreDNS, whose clusterset.local block forwards to it.
    let cluster_dns = CoreDns::start("template ANY ANY { rcode NXDOMAIN }");
    let server = Aviator::start_kubernetes(
        &cluster.kubeconfig_for("submariner-operator", "aviator"),
        &[
            "--cluster-id",
            "east",
            "--tick-ms",
            "200",
            "--namespace",
            "submariner-operator",
            "--cluster-dns",
            &cluster_dns.addr().to_string(),
        ],
        &[("POD_NAME", "aviator-0".to_owned())],
    );
    cluster_dns.rewrite(&format!("forward . {}", server.dns));

    // Step 3: the cutover, on the Service the operator never updates.
    let shown = step(&cluster, "2-cutover.sh");
    assert!(
        shown.contains("app.kubernetes.io/name") && shown.contains("5353"),
        "{shown}"
    );
    let service = lighthouse_service(&cluster);
    assert_eq!(
        service["spec"]["selector"],
        serde_json::json!({ "app.kubernetes.io/name": "aviator" })
    );

    // Step 4: a mode.
    step(&cluster, "3-mode.sh");
    eventually("the zone's queries reach Aviator", || {
        zone_served(&cluster) == Some(("True".into(), "Received".into()))
            && metric(&get(server.admin, "/metrics").1, "aviator_zone_served", &[]) == Some(1.0)
    });
    // A lookup through the cluster's DNS is Aviator's answer.
    assert_eq!(
        addresses(&ask(NGINX, RecordType::A).to(cluster_dns.addr())),
        ips(&["10.2.0.10"])
    );
    // Step 5: the check shows it.
    let checked = step(&cluster, "4-check.sh");
    assert!(checked.contains("ZoneServed=True (Received)"), "{checked}");

    // The zone goes back to lighthouse-coredns behind Aviator's back (the operator rewriting a
    // hand-edited Corefile does this): Aviator notices.
    cluster_dns.rewrite("template ANY ANY { rcode NXDOMAIN }");
    eventually("the revert shows", || {
        zone_served(&cluster) == Some(("False".into(), "AnsweredElsewhere".into()))
            && metric(&get(server.admin, "/metrics").1, "aviator_zone_served", &[]) == Some(0.0)
    });

    // The way back, and uninstall.
    step(&cluster, "5-restore.sh");
    let service = lighthouse_service(&cluster);
    assert_eq!(
        service["spec"]["selector"],
        serde_json::json!({ "app": "submariner-lighthouse-coredns" })
    );
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 53);
    drop(server);
    step(&cluster, "6-uninstall.sh");
    assert!(
        cluster
            .get("apps/v1", "Deployment", "submariner-operator", "aviator")
            .is_none()
    );
}

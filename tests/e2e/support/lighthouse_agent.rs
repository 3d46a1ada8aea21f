//! The real Lighthouse agent (`tests/lighthouse` builds it at the release it pins) run against
//! a [`ControlPlane`] for one cluster and another as the broker, as Submariner runs it: a
//! ServiceExport there becomes ServiceImports and EndpointSlices in every cluster, named,
//! labelled and annotated by Lighthouse's own code.
//!
//! The agent reads only its in-cluster configuration (its `--kubeconfig` flag is rejected by
//! its own flag parsing), so it runs in a private mount namespace where a tmpfs over `/run`
//! holds the service-account token and CA it expects, with `KUBERNETES_SERVICE_HOST/PORT`
//! naming the loopback API server. Killed on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::control_plane::{ControlPlane, lighthouse, stop};

pub struct LighthouseAgent {
    child: Option<Child>,
}

impl LighthouseAgent {
    /// The agent of cluster `cluster_id`, in `cluster`, syncing through `broker`'s
    /// `broker_namespace` (which must exist, as must the mcs-api CRDs).
    pub fn start(
        cluster: &ControlPlane,
        cluster_id: &str,
        broker: &ControlPlane,
        broker_namespace: &str,
    ) -> Self {
        let token = cluster.scratch(&format!("agent-{cluster_id}.token"));
        std::fs::write(&token, ControlPlane::ADMIN_TOKEN).unwrap();
        let ca =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, broker.ca_pem());
        let log = cluster.scratch(&format!("agent-{cluster_id}.log"));
        let out = std::fs::File::create(&log).unwrap();
        // Root may make a mount namespace directly; anyone else through a user namespace.
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let mut command = Command::new("unshare");
        if !as_root {
            command.arg("--map-root-user");
        }
        let child = command
            .args(["--mount", "sh", "-c"])
            .arg(
                "mount -t tmpfs tmpfs /run && d=/run/secrets/kubernetes.io/serviceaccount \
                 && mkdir -p $d && cp \"$1\" $d/token && cp \"$2\" $d/ca.crt && exec \"$3\"",
            )
            .args([Path::new("sh"), &token, &cluster.ca_path()])
            .arg(lighthouse().join("bin/lighthouse-agent"))
            .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .env("KUBERNETES_SERVICE_PORT", cluster.port().to_string())
            .env("SUBMARINER_CLUSTERID", cluster_id)
            .env("SUBMARINER_NAMESPACE", "submariner-operator")
            .env(
                "BROKER_K8S_APISERVER",
                format!("127.0.0.1:{}", broker.port()),
            )
            .env("BROKER_K8S_APISERVERTOKEN", ControlPlane::ADMIN_TOKEN)
            .env("BROKER_K8S_CA", ca)
            .env("BROKER_K8S_REMOTENAMESPACE", broker_namespace)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn the Lighthouse agent (needs unshare)");
        Self { child: Some(child) }
    }
}

impl Drop for LighthouseAgent {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

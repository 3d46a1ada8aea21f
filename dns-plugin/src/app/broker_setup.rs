//! Which broker this cluster shares its profile through, and with what credentials:
//!
//! 1. `--broker-dir`: a shared directory (the standalone file broker).
//! 2. In Kubernetes mode, the `BROKER_K8S_*` variables, where the Deployment sets them (the
//!    names Submariner gives its own agents).
//! 3. Otherwise, as Submariner itself keeps them: the `Submariner` object in
//!    `--submariner-namespace` names the broker's API server (`spec.brokerK8sApiServer`,
//!    host:port), its namespace (`spec.brokerK8sRemoteNamespace`) and the Secret
//!    (`spec.brokerK8sSecret`, by default `submariner-broker-secret`) whose `token`, `ca.crt`
//!    (PEM) and `namespace` keys hold the rest. Reading them needs `deploy/submariner`'s Role.
//!
//! Without any of these there is no broker, and prices come from the local state alone.

use anyhow::Context;
use aviator_broker::broker::{AnyBroker, FileBroker, KubeBroker};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use tracing::info;

use crate::cli::ServeArgs;

/// The Secret Submariner keeps the broker's credentials in, unless its object names another.
const BROKER_SECRET: &str = "submariner-broker-secret";

/// Where and how to reach the broker's API server.
struct Credentials {
    server: String,
    token: Option<String>,
    /// PEM.
    ca: Option<String>,
    namespace: String,
    from: &'static str,
}

/// Reads of Submariner's objects may be refused for a moment while an install is still binding
/// the Role: the broker is looked for this many times, this far apart, before giving up.
const ATTEMPTS: u32 = 15;
const APART: std::time::Duration = std::time::Duration::from_secs(2);

/// [`broker`], retried while it fails; `None` (and one error line) if it never works.
pub async fn broker_with_retries(
    args: &ServeArgs,
    cluster: &str,
    local: Option<&kube::Client>,
    shutdown: &tokio_util::sync::CancellationToken,
) -> Option<AnyBroker> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match broker(args, cluster, local).await {
            Ok(broker) => return broker,
            Err(error) => last = Some(error),
        }
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(APART) => {}
        }
    }
    if let Some(error) = last {
        tracing::error!(error = %format!("{error:#}"), "cannot set up the broker; prices come from the local state only");
    }
    None
}

pub async fn broker(
    args: &ServeArgs,
    cluster: &str,
    local: Option<&kube::Client>,
) -> anyhow::Result<Option<AnyBroker>> {
    if let Some(dir) = &args.broker_dir {
        return Ok(Some(AnyBroker::File(FileBroker::new(dir, cluster))));
    }
    if !args.kubernetes {
        return Ok(None);
    }
    let credentials = match from_environment(args)? {
        Some(credentials) => credentials,
        None => match local {
            Some(client) => match from_submariner(client, &args.submariner_namespace).await? {
                Some(credentials) => credentials,
                None => {
                    info!(namespace = %args.submariner_namespace, "no BROKER_K8S_APISERVER and no Submariner object: no broker; prices come from this cluster alone");
                    return Ok(None);
                }
            },
            None => return Ok(None),
        },
    };
    let url = if credentials.server.contains("://") {
        credentials.server.clone()
    } else {
        format!("https://{}", credentials.server)
    };
    let mut config = kube::Config::new(url.parse().with_context(|| {
        format!(
            "the broker's API server {url:?} (from {}) is not a URL",
            credentials.from
        )
    })?);
    config.auth_info.token = credentials.token.map(Into::into);
    if let Some(ca) = &credentials.ca {
        config.root_cert = Some(pem_bundle(ca).with_context(|| {
            format!(
                "the broker's CA (from {}) is not a PEM bundle",
                credentials.from
            )
        })?);
    }
    let client = kube::Client::try_from(config).context("cannot configure the broker client")?;
    info!(server = %url, namespace = %credentials.namespace, from = credentials.from, "broker");
    Ok(Some(AnyBroker::Kube(Box::new(KubeBroker::new(
        client,
        &credentials.namespace,
        cluster,
    )))))
}

fn from_environment(args: &ServeArgs) -> anyhow::Result<Option<Credentials>> {
    let Ok(server) = std::env::var("BROKER_K8S_APISERVER") else {
        return Ok(None);
    };
    let ca = match std::env::var("BROKER_K8S_CA") {
        Ok(encoded) => Some(base64_text(&encoded).context("BROKER_K8S_CA is not base64")?),
        Err(_) => None,
    };
    Ok(Some(Credentials {
        server,
        token: std::env::var("BROKER_K8S_APISERVERTOKEN").ok(),
        ca,
        namespace: args.broker_namespace.clone(),
        from: "BROKER_K8S_*",
    }))
}

async fn from_submariner(
    client: &kube::Client,
    namespace: &str,
) -> anyhow::Result<Option<Credentials>> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("submariner.io", "v1alpha1", "Submariner"),
        "submariners",
    );
    let objects: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let list = match objects.list(&ListParams::default()).await {
        Ok(list) => list,
        // No Submariner CRD: not installed by its operator.
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
        // Installed from deploy/base alone, without deploy/submariner's Role.
        Err(kube::Error::Api(status)) if status.code == 403 => {
            info!(%namespace, "not allowed to read Submariner's objects (deploy/submariner grants it)");
            return Ok(None);
        }
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot list the Submariner objects in {namespace}"));
        }
    };
    let Some(submariner) = list.items.into_iter().next() else {
        return Ok(None);
    };
    let spec = &submariner.data["spec"];
    let field = |name: &str| {
        spec[name]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let server = field("brokerK8sApiServer").with_context(|| {
        format!("the Submariner object in {namespace} has no spec.brokerK8sApiServer")
    })?;
    let secret_name = field("brokerK8sSecret").unwrap_or_else(|| BROKER_SECRET.to_owned());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get(&secret_name)
        .await
        .with_context(|| format!("cannot read the broker's Secret {namespace}/{secret_name}"))?;
    let data = secret.data.unwrap_or_default();
    let text = |key: &str| {
        data.get(key)
            .map(|b| String::from_utf8_lossy(&b.0).trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let namespace = field("brokerK8sRemoteNamespace")
        .or_else(|| text("namespace"))
        .with_context(|| {
            format!("neither the Submariner object nor {secret_name} names the broker namespace")
        })?;
    Ok(Some(Credentials {
        server,
        token: text("token").or_else(|| field("brokerK8sApiServerToken")),
        ca: text("ca.crt"),
        namespace,
        from: "the Submariner object and its broker Secret",
    }))
}

fn base64_text(encoded: &str) -> anyhow::Result<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim())?;
    Ok(String::from_utf8(bytes)?)
}

/// DER certificates from a PEM bundle.
fn pem_bundle(pem: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut certificates = Vec::new();
    let mut body = String::new();
    let mut inside = false;
    for line in pem.lines() {
        match line.trim() {
            "-----BEGIN CERTIFICATE-----" => {
                inside = true;
                body.clear();
            }
            "-----END CERTIFICATE-----" => {
                inside = false;
                certificates.push(engine.decode(&body)?);
            }
            text if inside => body.push_str(text),
            _ => {}
        }
    }
    anyhow::ensure!(!certificates.is_empty(), "no certificate in it");
    Ok(certificates)
}

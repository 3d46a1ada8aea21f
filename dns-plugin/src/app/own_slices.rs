//! The Kubernetes EndpointSlices of the services this cluster exports, read for the
//! Kubernetes source: their ready endpoints are the local export's capacity (the agent's own
//! ClusterSetIP slice says only whether any pod is ready), and under Globalnet their pod
//! addresses answer the local headless export.
//!
//! Read by label (`kubernetes.io/service-name`) in each exported service's namespace, every few
//! seconds and whenever the set of exported services changes; never by watching every slice in
//! the cluster. A read that fails keeps that service's last slices.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aviator_broker::kubernetes::slices::KUBERNETES_SERVICE_NAME;
use aviator_broker::state::ClusterSet;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The Kubernetes slices by exported service (`namespace`, `name`).
pub type OwnSlices = BTreeMap<(String, String), Vec<EndpointSlice>>;

/// Between reads: as often as the utilisation reader, well inside a broker report's lifetime.
const EVERY: Duration = Duration::from_secs(5);

/// The services with an export in this cluster.
pub fn exported_here(set: &ClusterSet) -> BTreeSet<(String, String)> {
    set.services
        .iter()
        .filter(|s| s.exports.iter().any(|e| e.cluster == set.local_cluster))
        .map(|s| (s.namespace.clone(), s.name.clone()))
        .collect()
}

/// Reads the slices of the `exported` services until `shutdown`, sending each round's result.
pub async fn run(
    client: kube::Client,
    mut exported: watch::Receiver<BTreeSet<(String, String)>>,
    slices: mpsc::Sender<OwnSlices>,
    shutdown: CancellationToken,
) {
    let mut last = OwnSlices::new();
    let mut failing = false;
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
            changed = exported.changed() => if changed.is_err() { return },
        }
        let services = exported.borrow_and_update().clone();
        let mut next = OwnSlices::new();
        let mut error = None;
        for (namespace, name) in services {
            let api: Api<EndpointSlice> = Api::namespaced(client.clone(), &namespace);
            let params = ListParams::default().labels(&format!("{KUBERNETES_SERVICE_NAME}={name}"));
            match api.list(&params).await {
                Ok(list) => {
                    let mut items = list.items;
                    for slice in &mut items {
                        slice.metadata.managed_fields = None;
                    }
                    next.insert((namespace, name), items);
                }
                Err(e) => {
                    error.get_or_insert(format!("{namespace}/{name}: {e}"));
                    if let Some(kept) = last.remove(&(namespace.clone(), name.clone())) {
                        next.insert((namespace, name), kept);
                    }
                }
            }
        }
        match (&error, failing) {
            (Some(error), false) => {
                warn!(%error, "cannot read the exported services' EndpointSlices; their last ones stay");
            }
            (None, true) => info!("reading the exported services' EndpointSlices again"),
            _ => {}
        }
        failing = error.is_some();
        last = next.clone();
        if slices.send(next).await.is_err() {
            return;
        }
    }
}

//! Where this cluster is, read from its Nodes for the Kubernetes source
//! ([`aviator_broker::kubernetes::location`]): at start and every minute after, since nodes come
//! and go but a cluster does not move. A failed read keeps the last place and is retried in a
//! few seconds.

use std::time::Duration;

use aviator_broker::kubernetes::location::{self, Place};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

const EVERY: Duration = Duration::from_secs(60);
/// After a failed read (not yet allowed, API server away): soon again.
const RETRY: Duration = Duration::from_secs(5);

pub async fn run(client: kube::Client, place: watch::Sender<Place>, shutdown: CancellationToken) {
    let nodes: Api<Node> = Api::all(client);
    let mut failing = false;
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let read = nodes.list(&ListParams::default()).await;
        wait = if read.is_ok() { EVERY } else { RETRY };
        match read {
            Ok(list) => {
                if failing {
                    info!("reading the Nodes again");
                }
                failing = false;
                let next = location::place(&list.items);
                place.send_if_modified(|known| {
                    if *known == next {
                        return false;
                    }
                    info!(provider = ?next.provider, region = ?next.region, zone = ?next.zone, "where this cluster is, by its nodes");
                    *known = next;
                    true
                });
            }
            Err(error) => {
                if !failing {
                    warn!(%error, "cannot list the Nodes; this cluster's place stays as last read");
                }
                failing = true;
            }
        }
    }
}

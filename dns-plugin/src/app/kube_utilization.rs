//! In Kubernetes mode, reads how busy this cluster's own exports are (their pods' CPU use from
//! `metrics.k8s.io` against their requests, see [`aviator_broker::kubernetes::utilization`]) on
//! a timer of its own, so a slow or missing metrics API never stalls the control loop, which
//! takes the latest readings when it composes this cluster's load reports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aviator_broker::kubernetes::utilization::{self, Reading};
use aviator_broker::state::ClusterSet;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Readings by service (`namespace`, `name`) of this cluster's exports.
pub type LocalUtilization = BTreeMap<(String, String), Reading>;

/// Between readings. metrics-server refreshes every 15 s by default; reading faster only
/// shortens the wait for its next sample.
const EVERY: Duration = Duration::from_secs(5);
/// The longest one round of reads may take.
const ROUND_TIMEOUT: Duration = Duration::from_secs(4);

/// Reads the utilisation of every local export of the current clusterset, every [`EVERY`],
/// until `shutdown`. A service whose figure cannot be read keeps none (unknown, never idle).
pub async fn run(
    client: kube::Client,
    config: watch::Receiver<Arc<ClusterSet>>,
    readings: watch::Sender<LocalUtilization>,
    shutdown: CancellationToken,
) {
    let mut failing = false;
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let set = config.borrow().clone();
        let round = read_all(&client, &set);
        let (next, error) = match tokio::time::timeout(ROUND_TIMEOUT, round).await {
            Ok(outcome) => outcome,
            Err(_) => (
                BTreeMap::new(),
                Some(format!("no answer within {ROUND_TIMEOUT:?}")),
            ),
        };
        // One line when reading starts failing and one when it recovers, not one per round.
        match (&error, failing) {
            (Some(error), false) => warn!(
                %error,
                "cannot read this cluster's pods' CPU use from metrics.k8s.io (is metrics-server installed?); local exports' utilisation is unknown"
            ),
            (None, true) => info!("reading pods' CPU use from metrics.k8s.io again"),
            _ => {}
        }
        failing = error.is_some();
        readings.send_replace(next);
    }
}

/// Every local export's reading, and the first error met, if any.
async fn read_all(client: &kube::Client, set: &ClusterSet) -> (LocalUtilization, Option<String>) {
    let mut readings = BTreeMap::new();
    let mut first_error = None;
    let local = &set.local_cluster;
    for service in set
        .services
        .iter()
        .filter(|s| s.exports.iter().any(|e| &e.cluster == local))
    {
        match utilization::read(client, &service.namespace, &service.name).await {
            Ok(Some(reading)) => {
                readings.insert((service.namespace.clone(), service.name.clone()), reading);
            }
            Ok(None) => {}
            Err(error) => {
                first_error.get_or_insert_with(|| {
                    format!("{}/{}: {error}", service.namespace, service.name)
                });
            }
        }
    }
    (readings, first_error)
}

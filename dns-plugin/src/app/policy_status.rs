//! Writes each AviatorPolicy's status: the shares Aviator answers with and why, the generation
//! it acted on, and its conditions. Only the replica holding the writer lease writes, and only
//! when the status would change; a conflict is simply retried next round.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aviator_broker::kubernetes::crd::AviatorPolicy;
use aviator_broker::kubernetes::policies::{Judgement, PolicyReport};
use aviator_broker::kubernetes::status::{
    Verdict, mark_conflict, mark_stale_prices, mark_zone_served, same, status,
};
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::zone_check::{ZoneServed, ZoneServedCell};
use crate::wire::respond::SnapshotCell;

/// How often statuses are brought up to date: shares move every tick, but a status is for
/// people and `kubectl get`, not for machines.
const INTERVAL: Duration = Duration::from_secs(2);

/// What the status writer reads.
pub struct StatusWriter {
    pub client: kube::Client,
    pub cell: Arc<SnapshotCell>,
    pub reports: watch::Receiver<Vec<PolicyReport>>,
    pub broker_stale: Arc<AtomicBool>,
    /// Whether this replica holds the writer lease.
    pub writer: Arc<AtomicBool>,
    /// This replica's name, written into the statuses.
    pub identity: String,
    pub zone_served: Arc<ZoneServedCell>,
}

pub async fn write_statuses(parts: StatusWriter, shutdown: CancellationToken) {
    let StatusWriter {
        client,
        cell,
        reports,
        broker_stale,
        writer,
        identity,
        zone_served,
    } = parts;
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // One replica writes (the writer lease's holder), so two do not flap the values.
        if !writer.load(Ordering::Acquire) {
            continue;
        }
        let reports = reports.borrow().clone();
        let snapshot = cell.load_full();
        for report in reports {
            let decision = match (&report.service, snapshot.as_deref()) {
                (Some((namespace, name)), Some(snapshot)) => {
                    snapshot.decisions().get(namespace, name)
                }
                _ => None,
            };
            let verdict = match &report.verdict {
                Judgement::Invalid(reason) => Verdict::Invalid(reason),
                Judgement::Superseded(message) => Verdict::Superseded(message),
                Judgement::InForce { .. } => Verdict::InForce(decision),
            };
            let policy = &report.policy;
            let mode = format!("{:?}", policy.spec.load_balancing);
            let mut next = status(
                policy.metadata.generation,
                &mode,
                verdict,
                policy.status.as_ref(),
            );
            if let Judgement::InForce {
                conflict: Some(message),
            } = &report.verdict
            {
                mark_conflict(&mut next, message, policy.status.as_ref());
            }
            if broker_stale.load(Ordering::Relaxed) {
                mark_stale_prices(&mut next, policy.status.as_ref());
            }
            let served = match zone_served.get() {
                ZoneServed::Here => Some(true),
                ZoneServed::Elsewhere => Some(false),
                ZoneServed::Unknown => None,
            };
            mark_zone_served(&mut next, served, policy.status.as_ref());
            next.writer = Some(identity.clone());
            if policy
                .status
                .as_ref()
                .is_some_and(|current| same(current, &next))
            {
                continue;
            }
            let (Some(namespace), Some(name)) = (&policy.metadata.namespace, &policy.metadata.name)
            else {
                continue;
            };
            let mut updated: AviatorPolicy = policy.clone();
            updated.status = Some(next);
            let api: Api<AviatorPolicy> = Api::namespaced(client.clone(), namespace);
            match api
                .replace_status(name, &PostParams::default(), &updated)
                .await
            {
                Ok(_) => debug!(%namespace, %name, "AviatorPolicy status written"),
                Err(error) => {
                    warn!(%namespace, %name, %error, "cannot write AviatorPolicy status; retrying")
                }
            }
        }
    }
}

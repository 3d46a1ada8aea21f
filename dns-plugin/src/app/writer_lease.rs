//! Holds (or follows) the Lease that decides which replica writes
//! ([`aviator_broker::kubernetes::lease`]): every third of its duration it reads the lease and
//! takes, renews or follows it, and says so in `writer` (and the `aviator_writer` gauge). A
//! replica that has not renewed within the duration stops writing. On shutdown the holder
//! releases the lease, so the other replica takes over within one round, not one duration.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aviator_broker::kubernetes::lease::{self, Step};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::metrics;

pub async fn run(
    client: kube::Client,
    namespace: String,
    me: String,
    duration: Duration,
    writer: Arc<AtomicBool>,
    shutdown: CancellationToken,
) {
    let leases: Api<Lease> = Api::namespaced(client, &namespace);
    let duration_s = i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX);
    let mut renewed_at: Option<Instant> = None;
    let mut failing = false;
    loop {
        let outcome = round(&leases, &me, duration_s).await;
        match outcome {
            Ok(holds) => {
                failing = false;
                renewed_at = holds.then(Instant::now);
            }
            Err(error) => {
                if !failing {
                    warn!(%error, lease = lease::NAME, "cannot read or renew the writer lease");
                }
                failing = true;
            }
        }
        // Writing stops once the lease may have passed to another replica.
        let holds = renewed_at.is_some_and(|at| at.elapsed() < duration);
        if writer.swap(holds, Ordering::AcqRel) != holds {
            info!(writer = holds, identity = %me, "this replica {} the statuses and the broker profile", if holds { "now writes" } else { "no longer writes" });
        }
        ::metrics::gauge!(metrics::WRITER).set(if holds { 1.0 } else { 0.0 });
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(duration / 3) => {}
        }
    }
    if writer.load(Ordering::Acquire) {
        release(&leases, &me).await;
    }
}

/// One read and, if due, one write of the lease; whether this replica holds it after.
async fn round(leases: &Api<Lease>, me: &str, duration_s: i32) -> Result<bool, kube::Error> {
    let current = leases.get_opt(lease::NAME).await?;
    let spec = current.as_ref().and_then(|l| l.spec.as_ref());
    let now = Timestamp::now();
    let step = lease::step(
        current.as_ref().map(|_| {
            (
                spec.and_then(|s| s.holder_identity.as_deref()),
                spec.and_then(|s| s.renew_time.as_ref().map(|t| t.0)),
                spec.and_then(|s| s.lease_duration_seconds),
            )
        }),
        me,
        now,
    );
    let held = |acquired: Option<MicroTime>, transitions: Option<i32>| LeaseSpec {
        holder_identity: Some(me.to_owned()),
        lease_duration_seconds: Some(duration_s),
        acquire_time: acquired.or(Some(MicroTime(now))),
        renew_time: Some(MicroTime(now)),
        lease_transitions: transitions,
        ..LeaseSpec::default()
    };
    let write = |spec: LeaseSpec| Lease {
        metadata: ObjectMeta {
            name: Some(lease::NAME.to_owned()),
            resource_version: current
                .as_ref()
                .and_then(|l| l.metadata.resource_version.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
    };
    let result = match step {
        Step::Follow(_) => return Ok(false),
        Step::Create => {
            leases
                .create(&PostParams::default(), &write(held(None, Some(0))))
                .await
        }
        Step::Take => {
            let transitions = spec.and_then(|s| s.lease_transitions).unwrap_or(0) + 1;
            leases
                .replace(
                    lease::NAME,
                    &PostParams::default(),
                    &write(held(None, Some(transitions))),
                )
                .await
        }
        Step::Renew => {
            let acquired = spec.and_then(|s| s.acquire_time.clone());
            let transitions = spec.and_then(|s| s.lease_transitions);
            leases
                .replace(
                    lease::NAME,
                    &PostParams::default(),
                    &write(held(acquired, transitions)),
                )
                .await
        }
    };
    match result {
        Ok(_) => Ok(true),
        // Another replica wrote first (409): it holds the lease this round.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}

/// Gives the lease up, so that another replica need not wait for it to expire.
async fn release(leases: &Api<Lease>, me: &str) {
    let Ok(Some(mut current)) = leases.get_opt(lease::NAME).await else {
        return;
    };
    let Some(spec) = current.spec.as_mut() else {
        return;
    };
    if spec.holder_identity.as_deref() != Some(me) {
        return;
    }
    spec.holder_identity = None;
    match leases
        .replace(lease::NAME, &PostParams::default(), &current)
        .await
    {
        Ok(_) => info!(lease = lease::NAME, "writer lease released"),
        Err(error) => warn!(%error, "cannot release the writer lease; it expires by itself"),
    }
}

//! Probing: this cluster's own measurement of each remote export, beside the pure core.
//!
//! A [`Prober`] keeps, per target, a round-trip estimate (TCP connect), a service-latency estimate
//! (HTTP GET, where a probe path is configured), and failure accounting that ejects a failing
//! export for a growing time while never ejecting more than a bounded fraction of a service's
//! exports. It probes often while a service is being looked up and slowly while it is idle, with
//! jittered timers so clusters do not probe in lockstep, and with a cap on probes in flight.
//! Probes run as their own tasks: a black-holed address costs a timeout, never a stall.

mod book;
mod check;
mod estimate;
mod headers;
mod health;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;

pub use book::{ProbeBook, ProbeOutcome};
pub use check::{HttpSample, ProbeError, http_get, tcp_rtt};
pub use estimate::Estimator;
pub use headers::SelfReport;
pub use health::{EjectionPolicy, Health};

use aviator_optimizer::{LoadReport, Measurement};

use crate::state::Probed;

#[derive(Debug, Clone, Copy)]
pub struct ProbeSettings {
    /// Between probes of a service that is being looked up. Prequal probes per query; one a
    /// second per export is the DNS-level equivalent at a 5 s TTL.
    pub active_interval: Duration,
    /// Between probes of an idle service: a keep-alive.
    pub idle_interval: Duration,
    pub timeout: Duration,
    /// Each interval is scaled by a random factor in [1 - jitter, 1 + jitter].
    pub jitter: f64,
    pub max_in_flight: usize,
    pub ejection: EjectionPolicy,
    /// At most this fraction of a service's exports (but always one) may be ejected at once.
    pub max_ejected_fraction: f64,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            active_interval: Duration::from_secs(1),
            idle_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            jitter: 0.2,
            max_in_flight: 32,
            // Three failures eject an export: after the first, a failing export is probed
            // every quarter interval, so at one probe a second about 1.5 s after it fails when
            // connections are refused, about 3.5 s when probes time out. Two passes in a row
            // bring it back (Envoy's healthy threshold is commonly 2 to 3, Kubernetes' 1).
            ejection: EjectionPolicy {
                failures: 3,
                successes: 2,
            },
            max_ejected_fraction: 0.5,
        }
    }
}

/// Which export a target is: the service (`namespace/name`) and the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TargetKey {
    pub service: String,
    pub cluster: String,
}

/// What to probe for one export.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub key: TargetKey,
    /// Address and port for the TCP round trip.
    pub addr: SocketAddr,
    /// URL for the service-latency GET, if the policy names a probe path.
    pub http_url: Option<String>,
    /// The policy's probe interval while in demand, if it sets one.
    pub interval: Option<Duration>,
}

/// What the probes know about one export now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetReport {
    pub rtt: Option<Measurement>,
    pub latency: Option<Measurement>,
    pub rtt_p50_ms: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub ejected: bool,
    /// Seconds since it (re)became eligible.
    pub eligible_for_s: f64,
    pub consecutive_failures: u32,
    pub ejections: u32,
    pub last_error: Option<String>,
    /// The export's own report of its load, where its probe responses carry one (ORCA's
    /// `endpoint-load-metrics`): fresher than the broker's, and from the same source.
    pub load: Option<LoadReport>,
}

impl TargetReport {
    /// The part of the report the clusterset state folds into an export.
    pub fn probed(&self) -> Probed {
        Probed {
            rtt: self.rtt,
            latency: self.latency,
            ejected: self.ejected,
            load: self.load,
        }
    }
}

pub struct Prober {
    client: reqwest::Client,
    book: Mutex<ProbeBook>,
    permits: Arc<Semaphore>,
}

/// An HTTP client for probes and for talking to aviator itself: no proxy (probes measure the
/// direct path), and the given timeout for connecting and for the whole request.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, ProbeError> {
    // HTTPS needs a crypto provider; ring builds with a C compiler alone. If the process
    // installed one already, that one stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .build()
        .map_err(|e| ProbeError::Http(e.to_string()))
}

/// How often the scheduler looks for due probes.
const SCHEDULER_TICK: Duration = Duration::from_millis(50);

impl Prober {
    pub fn new(settings: ProbeSettings) -> Result<Arc<Self>, ProbeError> {
        let client = http_client(settings.timeout)?;
        Ok(Arc::new(Self {
            client,
            book: Mutex::new(ProbeBook::new(settings)),
            permits: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
        }))
    }

    fn book(&self) -> std::sync::MutexGuard<'_, ProbeBook> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn settings(&self) -> ProbeSettings {
        *self.book().settings()
    }

    /// Replaces the set of targets (see [`ProbeBook::set_targets`]).
    pub fn set_targets(&self, targets: Vec<Target>) {
        self.book().set_targets(targets, Instant::now());
    }

    /// Marks a service as being looked up (probe at the active rate) or idle.
    pub fn set_active(&self, service: &str, active: bool) {
        self.book().set_active(service, active, Instant::now());
    }

    pub fn reports(&self) -> HashMap<TargetKey, TargetReport> {
        self.book().reports(Instant::now())
    }

    /// Probes due targets until `shutdown` completes.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(SCHEDULER_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = tick.tick() => {}
            }
            let due = self.book().take_due(Instant::now());
            for target in due {
                let prober = self.clone();
                tokio::spawn(async move {
                    let Ok(_permit) = prober.permits.clone().acquire_owned().await else {
                        return;
                    };
                    let outcome = prober.probe(&target).await;
                    let outcome = outcome.map_err(|e| e.to_string());
                    prober
                        .book()
                        .record(&target.key, outcome, Instant::now(), fastrand::f64());
                });
            }
        }
    }

    async fn probe(&self, target: &Target) -> Result<(Duration, Option<HttpSample>), ProbeError> {
        let timeout = self.settings().timeout;
        let rtt = tcp_rtt(target.addr, timeout).await?;
        let latency = match &target.http_url {
            Some(url) => Some(http_get(&self.client, url, timeout).await?),
            None => None,
        };
        Ok((rtt, latency))
    }
}

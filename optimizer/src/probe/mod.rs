//! Probing: this cluster's own measurement of each remote export, beside the pure core.
//!
//! A [`Prober`] keeps, per target, a round-trip estimate (TCP connect), a service-latency estimate
//! (HTTP GET, where a probe path is configured), and failure accounting that ejects a failing
//! export for a growing time while never ejecting more than a bounded fraction of a service's
//! exports. It probes often while a service is being looked up and slowly while it is idle, with
//! jittered timers so clusters do not probe in lockstep, and with a cap on probes in flight.
//! Probes run as their own tasks: a black-holed address costs a timeout, never a stall.

mod check;
mod estimate;
mod health;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;

pub use check::{ProbeError, http_get, tcp_rtt};
pub use estimate::Estimator;
pub use health::{EjectionPolicy, Health};

use crate::input::Measurement;

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
            // Three failures at one probe a second eject within about three seconds;
            // 10 s, 20 s, 30 s ... as Envoy's outlier detection grows its ejections.
            ejection: EjectionPolicy {
                failures: 3,
                base: Duration::from_secs(10),
                max: Duration::from_secs(300),
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
    /// Seconds since it (re)became eligible; slow start reads this.
    pub eligible_for_s: f64,
    pub consecutive_failures: u32,
    pub ejections: u32,
    pub last_error: Option<String>,
}

struct Slot {
    target: Target,
    rtt: Estimator,
    latency: Estimator,
    health: Health,
    next_due: Instant,
    in_flight: bool,
    last_error: Option<String>,
}

pub struct Prober {
    settings: ProbeSettings,
    client: reqwest::Client,
    slots: Mutex<HashMap<TargetKey, Slot>>,
    active: Mutex<HashMap<String, bool>>,
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
            settings,
            client,
            slots: Mutex::new(HashMap::new()),
            active: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
        }))
    }

    pub fn settings(&self) -> &ProbeSettings {
        &self.settings
    }

    /// Replaces the set of targets: new ones are probed at once, gone ones forgotten, and a
    /// target whose address changed starts its figures afresh.
    pub fn set_targets(&self, targets: Vec<Target>) {
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.retain(|key, _| targets.iter().any(|t| &t.key == key));
        // Services already probed before this call: a target new to one of them is a newcomer.
        let known: std::collections::HashSet<String> =
            slots.keys().map(|k| k.service.clone()).collect();
        for target in targets {
            let newcomer = known.contains(&target.key.service);
            match slots.get_mut(&target.key) {
                Some(slot) if slot.target == target => {}
                Some(slot) => {
                    slot.target = target;
                    slot.rtt.reset();
                    slot.latency.reset();
                }
                None => {
                    slots.insert(
                        target.key.clone(),
                        Slot {
                            target,
                            rtt: Estimator::default(),
                            latency: Estimator::default(),
                            health: Health::new(now, newcomer),
                            next_due: now,
                            in_flight: false,
                            last_error: None,
                        },
                    );
                }
            }
        }
    }

    /// Says whether a service is being looked up, which sets how often it is probed. A service
    /// waking from idle has its next probes brought forward, not left at the idle interval.
    pub fn set_active(&self, service: &str, active: bool) {
        let was_active = {
            let mut map = self.active.lock().unwrap_or_else(PoisonError::into_inner);
            map.insert(service.to_owned(), active).unwrap_or(false)
        };
        if active && !was_active {
            let now = Instant::now();
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            for slot in slots
                .values_mut()
                .filter(|s| s.target.key.service == service)
            {
                let interval = slot
                    .target
                    .interval
                    .unwrap_or(self.settings.active_interval);
                slot.next_due = slot.next_due.min(now + interval);
            }
        }
    }

    pub fn reports(&self) -> HashMap<TargetKey, TargetReport> {
        let now = Instant::now();
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .iter()
            .map(|(key, slot)| {
                let report = TargetReport {
                    rtt: slot.rtt.measurement(now),
                    latency: slot.latency.measurement(now),
                    rtt_p50_ms: slot.rtt.percentile(0.5),
                    latency_p50_ms: slot.latency.percentile(0.5),
                    ejected: slot.health.is_ejected(now),
                    eligible_for_s: slot.health.eligible_for(now).as_secs_f64(),
                    consecutive_failures: slot.health.consecutive_failures(),
                    ejections: slot.health.ejections(),
                    last_error: slot.last_error.clone(),
                };
                (key.clone(), report)
            })
            .collect()
    }

    /// Probes until `shutdown` completes.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(SCHEDULER_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = tick.tick() => {}
            }
            for target in self.take_due() {
                let prober = self.clone();
                tokio::spawn(async move {
                    let Ok(_permit) = prober.permits.clone().acquire_owned().await else {
                        return;
                    };
                    let outcome = prober.probe(&target).await;
                    prober.record(&target.key, outcome);
                });
            }
        }
    }

    fn take_due(&self) -> Vec<Target> {
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .values_mut()
            .filter(|slot| !slot.in_flight && slot.next_due <= now)
            .map(|slot| {
                slot.in_flight = true;
                slot.target.clone()
            })
            .collect()
    }

    async fn probe(&self, target: &Target) -> Result<(Duration, Option<Duration>), ProbeError> {
        let rtt = tcp_rtt(target.addr, self.settings.timeout).await?;
        let latency = match &target.http_url {
            Some(url) => Some(http_get(&self.client, url, self.settings.timeout).await?),
            None => None,
        };
        Ok((rtt, latency))
    }

    fn record(&self, key: &TargetKey, outcome: Result<(Duration, Option<Duration>), ProbeError>) {
        let now = Instant::now();
        let active = {
            let map = self.active.lock().unwrap_or_else(PoisonError::into_inner);
            map.get(&key.service).copied().unwrap_or(false)
        };
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let may_eject = {
            let siblings: Vec<&Slot> = slots
                .values()
                .filter(|s| s.target.key.service == key.service)
                .collect();
            let ejected = siblings.iter().filter(|s| s.health.is_ejected(now)).count();
            let bound = ((siblings.len() as f64 * self.settings.max_ejected_fraction).floor()
                as usize)
                .max(1);
            ejected < bound
        };
        let Some(slot) = slots.get_mut(key) else {
            return;
        };
        slot.in_flight = false;
        let interval = if active {
            slot.target
                .interval
                .unwrap_or(self.settings.active_interval)
        } else {
            self.settings.idle_interval
        };
        let jitter = 1.0 + self.settings.jitter * (2.0 * fastrand::f64() - 1.0);
        slot.next_due = now + interval.mul_f64(jitter.max(0.1));
        match outcome {
            Ok((rtt, latency)) => {
                if slot.health.succeeded(now) {
                    slot.rtt.reset();
                    slot.latency.reset();
                    tracing::info!(service = %key.service, cluster = %key.cluster, "export readmitted after ejection");
                }
                let rtt_ms = rtt.as_secs_f64() * 1e3;
                slot.rtt.record(rtt_ms, now);
                if let Some(latency) = latency {
                    // The GET's time less the network's share: what the service itself took.
                    let service_ms = (latency.as_secs_f64() * 1e3 - rtt_ms).max(0.0);
                    slot.latency.record(service_ms, now);
                }
                slot.last_error = None;
            }
            Err(error) => {
                slot.last_error = Some(error.to_string());
                if slot.health.failed(now, &self.settings.ejection, may_eject) {
                    tracing::warn!(service = %key.service, cluster = %key.cluster, %error,
                                   ejections = slot.health.ejections(), "export ejected");
                    // Probe again when the ejection ends, to readmit it promptly.
                    slot.next_due = now + self.settings.ejection.base.min(interval);
                }
            }
        }
    }
}

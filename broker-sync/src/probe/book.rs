//! The probes' bookkeeping, without a clock or a socket: which target is due, what each probe
//! result does to an export's estimates and health, and the reports the control loop reads.
//!
//! The [`super::Prober`] drives it with the wall clock and real probes; the simulator drives the
//! very same book with simulated time, so what it evaluates is what production runs.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::{Estimator, Health, ProbeSettings, Target, TargetKey, TargetReport};

struct Slot {
    target: Target,
    rtt: Estimator,
    latency: Estimator,
    health: Health,
    next_due: Instant,
    in_flight: bool,
    last_error: Option<String>,
}

/// One probe's outcome: the TCP round trip and, if a path is probed, the GET's whole time; or
/// what went wrong.
pub type ProbeOutcome = Result<(Duration, Option<Duration>), String>;

pub struct ProbeBook {
    settings: ProbeSettings,
    slots: HashMap<TargetKey, Slot>,
    active: HashMap<String, bool>,
}

impl ProbeBook {
    pub fn new(settings: ProbeSettings) -> Self {
        Self {
            settings,
            slots: HashMap::new(),
            active: HashMap::new(),
        }
    }

    pub fn settings(&self) -> &ProbeSettings {
        &self.settings
    }

    /// Replaces the set of targets. A target whose address changed starts its estimates
    /// afresh; a new export of a service already probed is a newcomer and slow-starts.
    pub fn set_targets(&mut self, targets: Vec<Target>, now: Instant) {
        self.slots
            .retain(|key, _| targets.iter().any(|t| &t.key == key));
        let known: HashSet<String> = self.slots.keys().map(|k| k.service.clone()).collect();
        for target in targets {
            let newcomer = known.contains(&target.key.service);
            match self.slots.get_mut(&target.key) {
                Some(slot) if slot.target == target => {}
                Some(slot) => {
                    slot.target = target;
                    slot.rtt.reset();
                    slot.latency.reset();
                }
                None => {
                    self.slots.insert(
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

    /// Marks a service as being looked up (probe at the active rate) or idle. Turning active
    /// brings the next probe forward, so a service that wakes up is measured promptly.
    pub fn set_active(&mut self, service: &str, active: bool, now: Instant) {
        let was_active = self
            .active
            .insert(service.to_owned(), active)
            .unwrap_or(false);
        if active && !was_active {
            for slot in self
                .slots
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

    pub fn reports(&self, now: Instant) -> HashMap<TargetKey, TargetReport> {
        self.slots
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

    /// The targets due for a probe, marked in flight until their outcome is recorded.
    pub fn take_due(&mut self, now: Instant) -> Vec<Target> {
        self.slots
            .values_mut()
            .filter(|slot| !slot.in_flight && slot.next_due <= now)
            .map(|slot| {
                slot.in_flight = true;
                slot.target.clone()
            })
            .collect()
    }

    /// The earliest time a target not in flight is due, for a caller that sleeps until then.
    pub fn next_due(&self) -> Option<Instant> {
        self.slots
            .values()
            .filter(|s| !s.in_flight)
            .map(|s| s.next_due)
            .min()
    }

    /// Records a probe's outcome. `jitter_unit` is a uniform random number in [0, 1) that
    /// spreads the next probe's time (clusters must not probe in lockstep).
    pub fn record(
        &mut self,
        key: &TargetKey,
        outcome: ProbeOutcome,
        now: Instant,
        jitter_unit: f64,
    ) {
        let active = self.active.get(&key.service).copied().unwrap_or(false);
        // Never eject more than a bounded fraction of a service's exports: when many fail at
        // once, the fault is more likely ours (or the probes') than theirs.
        let may_eject = {
            let siblings: Vec<&Slot> = self
                .slots
                .values()
                .filter(|s| s.target.key.service == key.service)
                .collect();
            let ejected = siblings.iter().filter(|s| s.health.is_ejected(now)).count();
            let bound = ((siblings.len() as f64 * self.settings.max_ejected_fraction).floor()
                as usize)
                .max(1);
            ejected < bound
        };
        let Some(slot) = self.slots.get_mut(key) else {
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
        let jitter = 1.0 + self.settings.jitter * (2.0 * jitter_unit - 1.0);
        slot.next_due = now + interval.mul_f64(jitter.max(0.1));
        match outcome {
            Ok((rtt, latency)) => {
                if slot.health.succeeded(now) {
                    // What was measured before the ejection says nothing about now.
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
                if slot.health.failed(now, &self.settings.ejection, may_eject) {
                    tracing::warn!(service = %key.service, cluster = %key.cluster, %error,
                                   ejections = slot.health.ejections(), "export ejected");
                    // Probe again when the ejection ends, to readmit it promptly.
                    slot.next_due = now + self.settings.ejection.base.min(interval);
                }
                slot.last_error = Some(error);
            }
        }
    }
}

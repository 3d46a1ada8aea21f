//! The probes' bookkeeping, without a clock or a socket: which target is due, what each probe
//! result does to an export's estimates and health, and the reports the control loop reads.
//!
//! The [`super::Prober`] drives it with the wall clock and real probes; the simulator drives the
//! very same book with simulated time, so what it evaluates is what production runs.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aviator_optimizer::LoadReport;

use super::{Estimator, Health, HttpSample, ProbeSettings, Target, TargetKey, TargetReport};

struct Slot {
    target: Target,
    rtt: Estimator,
    latency: Estimator,
    health: Health,
    next_due: Instant,
    in_flight: bool,
    last_error: Option<String>,
    /// The latest utilisation the export's responses reported, and when.
    utilization: Option<(f64, Instant)>,
}

/// A failing export's probe interval, as a fraction of the usual one.
const FAILING_INTERVAL: f64 = 0.25;

/// One probe's outcome: the TCP round trip and, if a path is probed, the GET; or what went
/// wrong.
pub type ProbeOutcome = Result<(Duration, Option<HttpSample>), String>;

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
        let wanted: HashSet<&TargetKey> = targets.iter().map(|t| &t.key).collect();
        self.slots.retain(|key, _| wanted.contains(key));
        let known: HashSet<String> = self.slots.keys().map(|k| k.service.clone()).collect();
        for target in targets {
            let newcomer = known.contains(&target.key.service);
            match self.slots.get_mut(&target.key) {
                Some(slot) if slot.target == target => {}
                Some(slot) => {
                    slot.target = target;
                    slot.rtt.reset();
                    slot.latency.reset();
                    slot.utilization = None;
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
                            utilization: None,
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
                    ejected: slot.health.is_ejected(),
                    eligible_for_s: slot.health.eligible_for(now).as_secs_f64(),
                    consecutive_failures: slot.health.consecutive_failures(),
                    ejections: slot.health.ejections(),
                    last_error: slot.last_error.clone(),
                    load: slot.utilization.map(|(u, at)| LoadReport {
                        utilization: Some(u),
                        // The latency is the probe's own (the server's figure where it sent one).
                        latency_ms: None,
                        error_rate: None,
                        age_s: now.saturating_duration_since(at).as_secs_f64(),
                    }),
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
            let ejected = siblings.iter().filter(|s| s.health.is_ejected()).count();
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
            Ok((rtt, get)) => {
                if slot.health.succeeded(now, &self.settings.ejection) {
                    // What was measured before the ejection says nothing about now.
                    slot.rtt.reset();
                    slot.latency.reset();
                    slot.utilization = None;
                    tracing::info!(service = %key.service, cluster = %key.cluster, "export readmitted after ejection");
                }
                let (rtt_ms, service_ms) = split_round_trip(rtt, get);
                slot.rtt.record(rtt_ms, now);
                if let Some(service_ms) = service_ms {
                    slot.latency.record(service_ms, now);
                }
                if let Some(u) = get.and_then(|g| g.server.utilization) {
                    slot.utilization = Some((u, now));
                }
                slot.last_error = None;
            }
            Err(error) => {
                if slot.health.failed(&self.settings.ejection, may_eject) {
                    tracing::warn!(service = %key.service, cluster = %key.cluster, %error,
                                   ejections = slot.health.ejections(), "export ejected");
                } else if !slot.health.is_ejected() {
                    // A failing export is probed again sooner (Envoy's unhealthy interval), so
                    // that the failures that eject it come in a fraction of the usual rounds.
                    slot.next_due = now + interval.mul_f64(jitter.max(0.1) * FAILING_INTERVAL);
                }
                slot.last_error = Some(error);
            }
        }
    }
}

/// A probe's round trip and the service's own time, ms. A server that says how long it took
/// (`Server-Timing`) is believed, and the rest of its GET is the network's (never less than the
/// TCP handshake took); otherwise the service took the GET's time less one handshake.
fn split_round_trip(tcp: Duration, get: Option<HttpSample>) -> (f64, Option<f64>) {
    let tcp_ms = tcp.as_secs_f64() * 1e3;
    let Some(get) = get else {
        return (tcp_ms, None);
    };
    let get_ms = get.elapsed.as_secs_f64() * 1e3;
    match get.server.server_ms {
        Some(server_ms) => ((get_ms - server_ms).max(tcp_ms), Some(server_ms)),
        None => (tcp_ms, Some((get_ms - tcp_ms).max(0.0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::SelfReport;

    fn ms(x: f64) -> Duration {
        Duration::from_secs_f64(x / 1e3)
    }

    #[test]
    fn a_server_that_times_itself_separates_the_network_from_the_service() {
        let said = |server_ms| HttpSample {
            elapsed: ms(45.0),
            server: SelfReport {
                server_ms: Some(server_ms),
                utilization: None,
            },
        };
        // The handshake read 0.1 ms (a kernel that answers for the peer), the GET 45 ms of
        // which the server spent 12: the network took 33.
        let (rtt, service) = split_round_trip(ms(0.1), Some(said(12.0)));
        assert!(
            (rtt - 33.0).abs() < 1e-6 && service == Some(12.0),
            "{rtt} {service:?}"
        );
        // Never less than the handshake.
        let (rtt, _) = split_round_trip(ms(40.0), Some(said(12.0)));
        assert!((rtt - 40.0).abs() < 1e-6, "{rtt}");
        // Silent server: the GET less one handshake.
        let (rtt, service) = split_round_trip(ms(20.0), Some(HttpSample::timed(ms(45.0))));
        assert!((rtt - 20.0).abs() < 1e-6, "{rtt}");
        assert!((service.unwrap() - 25.0).abs() < 1e-6, "{service:?}");
        assert_eq!(split_round_trip(ms(20.0), None).1, None);
    }

    /// A book probing one export of `n/s` by TCP and GET, from `start`.
    fn one_target(start: Instant) -> (ProbeBook, TargetKey) {
        let key = TargetKey {
            service: "n/s".into(),
            cluster: "west".into(),
        };
        let mut book = ProbeBook::new(crate::probe::ProbeSettings::default());
        book.set_targets(
            vec![Target {
                key: key.clone(),
                addr: "127.0.0.1:80".parse().unwrap(),
                http_url: Some("http://127.0.0.1/".into()),
                interval: None,
            }],
            start,
        );
        (book, key)
    }

    #[test]
    fn a_failing_export_is_probed_again_sooner() {
        let start = Instant::now();
        let (mut book, key) = one_target(start);
        book.set_active("n/s", true, start);
        assert_eq!(book.take_due(start).len(), 1);
        // A success: next due a whole interval (1 s) later.
        book.record(&key, Ok((ms(1.0), None)), start, 0.5);
        assert!(book.take_due(start + ms(300.0)).is_empty());
        assert_eq!(book.take_due(start + ms(1000.0)).len(), 1);
        // A failure: a quarter of it.
        let failed = start + ms(1000.0);
        book.record(&key, Err("refused".into()), failed, 0.5);
        assert_eq!(book.take_due(failed + ms(250.0)).len(), 1);
        assert!(!book.reports(failed)[&key].ejected);
    }

    #[test]
    fn a_reported_utilisation_becomes_the_exports_load_and_ages() {
        let start = Instant::now();
        let (mut book, key) = one_target(start);
        let get = HttpSample {
            elapsed: ms(20.0),
            server: SelfReport {
                server_ms: Some(10.0),
                utilization: Some(0.7),
            },
        };
        book.record(&key, Ok((ms(1.0), Some(get))), start, 0.5);
        let later = start + Duration::from_secs(2);
        let load = book.reports(later)[&key].load.expect("a load report");
        assert_eq!(load.utilization, Some(0.7));
        assert!((load.age_s - 2.0).abs() < 1e-9, "{}", load.age_s);
        // A response without the header leaves the last reading, still ageing.
        book.record(
            &key,
            Ok((ms(1.0), Some(HttpSample::timed(ms(20.0))))),
            later,
            0.5,
        );
        let load = book.reports(later).remove(&key).unwrap().load.unwrap();
        assert_eq!(load.utilization, Some(0.7));
    }
}

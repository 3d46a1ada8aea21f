//! The control loop: every tick it gathers the clusterset (file), the probes' figures, this
//! cluster's own load reports and the peers' profiles (broker), runs the optimizer by building
//! a new snapshot, and publishes it to the DNS path; every 2 s or so it also publishes this
//! cluster's profile. It is the only writer of the snapshot after start-up.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use aviator_broker::broker::{AnyBroker, Broker, ClusterProfile, PeerBook, unix_now};
use aviator_broker::probe::{Prober, Target, TargetKey, TargetReport};
use aviator_broker::report;
use aviator_broker::state::{ClusterSet, LoadReport, ServiceType};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use super::kube_utilization::LocalUtilization;
use crate::metrics;
use crate::snapshot;
use crate::wire::respond::SnapshotCell;

/// The longest a broker round may take before it counts as failed.
const BROKER_TIMEOUT: Duration = Duration::from_secs(2);

/// A service not looked up for this long is idle and probed at the keep-alive rate.
const IDLE_AFTER: Duration = Duration::from_secs(10);

pub struct Control {
    pub cell: Arc<SnapshotCell>,
    pub config: watch::Receiver<Arc<ClusterSet>>,
    pub prober: Arc<Prober>,
    pub broker: Option<AnyBroker>,
    pub tick: Duration,
    /// Peer prices older than this are reported stale (and still used).
    pub broker_stale_after: Duration,
    /// Set while the peers' prices are stale, for the policies' Degraded condition.
    pub broker_stale: Arc<AtomicBool>,
    /// The load reports in force at the last rebuild, for `/debug/weights`.
    pub reports: Arc<ReportCell>,
    /// In Kubernetes mode, the utilisation of this cluster's own exports by the metrics API.
    pub local_utilization: Option<watch::Receiver<LocalUtilization>>,
    /// Whether this replica publishes the cluster's profile (the writer lease's holder); every
    /// replica reads the peers'.
    pub writer: Arc<AtomicBool>,
    /// What `ns.dns.<zone>` answers.
    pub nameserver: snapshot::Nameserver,
}

/// A metrics-API reading older than this is unknown: metrics-server samples every 15 s, so a
/// live one is never older than about that plus a round of reads.
const UTILIZATION_MAX_AGE_S: f64 = 30.0;

/// Puts each fresh metrics-API reading into its local export's load, where
/// [`report::measure_own`] takes it as the utilisation unless the export's own responses said
/// otherwise more recently.
fn apply_local_utilization(set: &mut ClusterSet, readings: &LocalUtilization, now_unix: f64) {
    let local = set.local_cluster.clone();
    for ((namespace, name), reading) in readings {
        if now_unix - reading.measured_unix > UTILIZATION_MAX_AGE_S {
            continue;
        }
        let Some(service) = set.service_mut(namespace, name) else {
            continue;
        };
        let Some(at) = service.export_index(local.as_str()) else {
            continue;
        };
        let before = service.exports[at].figures().load;
        let mut load = before.unwrap_or(LoadReport {
            utilization: None,
            latency_ms: None,
            error_rate: None,
            age_s: 0.0,
        });
        load.utilization = Some(reading.utilization);
        if before != Some(load) {
            Arc::make_mut(service).exports[at].update_figures(|figures| figures.load = Some(load));
        }
    }
}

/// What the control loop knows of the probed services' demand between ticks.
#[derive(Default)]
struct Demand {
    /// The clusterset the prober's targets were taken from.
    targets_of: Option<Arc<ClusterSet>>,
    /// The probed services (`namespace/name`).
    probed: HashSet<String>,
    /// When each service was last looked up, within the idle window.
    last_lookup: HashMap<String, Instant>,
    /// What the prober was last told of each probed service.
    active: HashMap<String, bool>,
}

/// Load reports by service (`namespace/name`), then by exporting cluster.
pub type Reports = BTreeMap<String, BTreeMap<String, LoadReport>>;
/// The clusterset, measurements included, of the last rebuild: where `/debug/weights` reads
/// the load reports in force (see [`reports_of`]).
pub type ReportCell = ArcSwapOption<ClusterSet>;

/// How often this cluster publishes its profile (and so its load reports), ± [`PUBLISH_JITTER`]:
/// well within the optimizer's report expiry (15 s), so a few lost writes do not expire them.
const PUBLISH_EVERY: Duration = Duration::from_secs(2);
const PUBLISH_JITTER: f64 = 0.25;

/// When to publish next, from `now`: jittered so clusters started together do not write in
/// lockstep, and never sooner than the backend's own bound (a Kubernetes broker: 2 s).
fn next_publication(now: Instant, min: Duration, unit: f64) -> Instant {
    let jitter = 1.0 + PUBLISH_JITTER * (2.0 * unit - 1.0);
    now + PUBLISH_EVERY.mul_f64(jitter).max(min)
}

impl Control {
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut demand = Demand::default();
        let mut tick = tokio::time::interval(self.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut book = PeerBook::default();
        let mut next_broker_round = Instant::now();
        let mut next_publish = Instant::now();
        let mut broker_failing = false;
        let mut services_before = self.config.borrow().services.len();
        loop {
            // Publications have their own deadline, so their cadence does not depend on the tick.
            let publish_at = tokio::time::Instant::from_std(next_publish);
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
                changed = self.config.changed() => if changed.is_err() { return },
                () = tokio::time::sleep_until(publish_at), if self.broker.is_some() => {}
            }
            let base = self.config.borrow_and_update().clone();
            let now = Instant::now();
            let now_unix = unix_now();
            let mut set = (*base).clone();
            // This cluster's own measurements first: what it publishes of its exports.
            let probes = self.apply_probes(&base, &mut set, &mut demand);
            if let Some(readings) = &self.local_utilization {
                apply_local_utilization(&mut set, &readings.borrow(), now_unix);
            }
            report::measure_own(&mut set, &probes);
            if let Some(broker) = &self.broker
                && (now >= next_broker_round || now >= next_publish)
            {
                // Reads are cheap (a directory, or the watch's cache) and follow the tick, with
                // jitter, so clusters started together do not read in lockstep; writes follow
                // their own, slower cadence.
                next_broker_round = now + self.tick.mul_f64(0.5 + fastrand::f64());
                let profile = (now >= next_publish && self.writer.load(Ordering::Acquire))
                    .then(|| {
                        next_publish =
                            next_publication(now, broker.min_publish_interval(), fastrand::f64());
                        ClusterProfile::local(&set, now_unix)
                    })
                    .flatten();
                // A broker that hangs (or a client that retries) must not stall the loop.
                let round = broker_round(broker, profile.as_ref(), &mut book, broker_failing);
                broker_failing = match tokio::time::timeout(BROKER_TIMEOUT, round).await {
                    Ok(failing) => failing,
                    Err(_) => {
                        if !broker_failing {
                            warn!(
                                "cannot read the broker within {BROKER_TIMEOUT:?}; keeping the last good peer prices"
                            );
                        }
                        true
                    }
                };
            }
            if self.broker.is_some() {
                let stale = book.is_stale(now, self.broker_stale_after);
                ::metrics::gauge!(metrics::BROKER_STALE).set(if stale { 1.0 } else { 0.0 });
                self.broker_stale.store(stale, Ordering::Relaxed);
                let age = book.age(now).map_or(f64::INFINITY, |a| a.as_secs_f64());
                ::metrics::gauge!(metrics::BROKER_AGE).set(age);
            }
            // The peers' last good copies, aged to now (after the round, which may have taken a
            // while): a peer that stopped writing has reports that grow older every rebuild
            // until the optimizer counts them unknown.
            let now_unix = unix_now();
            for profile in book.profiles() {
                profile.apply(&mut set, now_unix);
            }
            self.publish(&set);
            // Kept whole (its services are shared with the snapshot's inputs), and turned into
            // the debug view only when someone asks.
            self.reports.store(Some(Arc::new(set)));
            // The last references to a larger clusterset's state are gone now.
            if base.services.len() < services_before {
                super::memory::release_freed();
            }
            services_before = base.services.len();
        }
    }

    /// Points the prober at the current exports (anew only when the clusterset changed: the
    /// targets come from it alone), tells it which services are in demand, and folds what it
    /// measured into the state. Returns what it measured. The work is the probed exports',
    /// not the clusterset's.
    fn apply_probes(
        &self,
        base: &Arc<ClusterSet>,
        set: &mut ClusterSet,
        demand: &mut Demand,
    ) -> HashMap<TargetKey, TargetReport> {
        if !demand
            .targets_of
            .as_ref()
            .is_some_and(|b| Arc::ptr_eq(b, base))
        {
            let targets = probe_targets(base);
            demand.probed = targets.iter().map(|t| t.key.service.clone()).collect();
            let probed = &demand.probed;
            demand.active.retain(|service, _| probed.contains(service));
            self.prober.set_targets(targets);
            demand.targets_of = Some(base.clone());
        }
        if let Some(current) = self.cell.load_full() {
            let now = Instant::now();
            current.take_looked_up(|service| {
                demand.last_lookup.insert(service, now);
            });
            demand
                .last_lookup
                .retain(|_, t| now.duration_since(*t) < IDLE_AFTER);
            for service in &demand.probed {
                // In demand while looked up within the idle window; a quiet tick or two (a
                // resolver's cache at work) does not drop it to the keep-alive rate.
                let active = demand.last_lookup.contains_key(service);
                if demand.active.get(service) != Some(&active) {
                    self.prober.set_active(service, active);
                    demand.active.insert(service.clone(), active);
                }
            }
        }
        let reports = self.prober.reports();
        for (key, report) in &reports {
            let Some(service) = set.service_by_key_mut(&key.service) else {
                continue;
            };
            let Some(at) = service.export_index(&key.cluster) else {
                continue;
            };
            Arc::make_mut(service).exports[at].apply_measured(report.probed());
        }
        reports
    }

    fn publish(&self, set: &ClusterSet) {
        let previous = self.cell.load_full();
        let started = Instant::now();
        match snapshot::build(set, previous.as_deref(), &self.nameserver) {
            Ok(next) => {
                ::metrics::histogram!(metrics::SOLVE_SECONDS)
                    .record(started.elapsed().as_secs_f64());
                ::metrics::gauge!(metrics::RENDERED).set(next.rendered() as f64);
                self.cell.store(Some(Arc::new(next)));
            }
            Err(error) => {
                error!(%error, "cannot render the clusterset; the last snapshot keeps serving")
            }
        }
    }
}

/// The load report of every export that has one, for `/debug/weights`.
pub fn reports_of(set: &ClusterSet) -> Reports {
    set.services
        .iter()
        .filter_map(|service| {
            let by_cluster: BTreeMap<String, LoadReport> = service
                .exports
                .iter()
                .filter_map(|e| Some((e.cluster.to_string(), e.figures().load?)))
                .collect();
            (!by_cluster.is_empty()).then(|| {
                (
                    format!("{}/{}", service.namespace, service.name),
                    by_cluster,
                )
            })
        })
        .collect()
}

/// One broker round: publish our profile if one is given, read the peers'. Returns whether the
/// broker is failing, so a lasting outage is logged once, not every tick.
async fn broker_round(
    broker: &AnyBroker,
    profile: Option<&ClusterProfile>,
    book: &mut PeerBook,
    was_failing: bool,
) -> bool {
    if let Some(profile) = profile
        && let Err(error) = broker.publish(profile).await
        && !was_failing
    {
        warn!(%error, "cannot publish this cluster's profile to the broker");
    }
    match broker.fetch().await {
        Ok((profiles, errors)) => {
            for error in errors {
                warn!(%error, "skipping an unreadable peer profile");
            }
            book.update(profiles, Instant::now());
            false
        }
        Err(error) => {
            if !was_failing {
                warn!(%error, "cannot read the broker; keeping the last good peer prices");
            }
            true
        }
    }
}

/// What to probe: the ClusterSetIP exports of services whose policy turns probing on, the local
/// export included (its service latency, measured from inside this cluster, is what this
/// cluster reports of it to the others). RTT goes to the first address (IPv4 first) and the
/// first TCP port; a probe path adds an HTTP GET for service latency.
pub fn probe_targets(set: &ClusterSet) -> Vec<Target> {
    let mut targets = Vec::new();
    for service in &set.services {
        let Some(spec) = &service.policy.probe else {
            continue;
        };
        if service.service_type != ServiceType::ClusterSetIp {
            continue;
        }
        let probe = spec.path.as_deref().map(|path| (path, spec.port));
        for export in &service.exports {
            let ip = export
                .ips
                .iter()
                .find(|ip| ip.is_ipv4())
                .or(export.ips.first());
            let port = export
                .ports
                .iter()
                .find(|p| p.protocol == aviator_broker::state::Protocol::Tcp);
            let (Some(&ip), Some(port)) = (ip, port) else {
                continue;
            };
            let http_url = probe.map(|(path, probe_port)| {
                let host = match ip {
                    IpAddr::V4(v4) => v4.to_string(),
                    IpAddr::V6(v6) => format!("[{v6}]"),
                };
                format!("http://{host}:{}{path}", probe_port.unwrap_or(port.port))
            });
            targets.push(Target {
                key: TargetKey {
                    service: format!("{}/{}", service.namespace, service.name),
                    cluster: export.cluster.to_string(),
                },
                addr: SocketAddr::new(ip, port.port),
                http_url,
                interval: spec.interval_s.map(|s| Duration::from_secs(u64::from(s))),
            });
        }
    }
    targets
}

/// The probe reports, grouped by service, for `/debug/weights`.
pub fn reports_by_service(
    prober: &Prober,
) -> HashMap<String, HashMap<String, aviator_broker::probe::TargetReport>> {
    let mut out: HashMap<String, HashMap<String, _>> = HashMap::new();
    for (key, report) in prober.reports() {
        out.entry(key.service)
            .or_default()
            .insert(key.cluster, report);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn nothing_is_probed_unless_a_policy_asks() {
        let example = include_str!("../../../examples/clusterset.yaml");
        let set = aviator_broker::clusterset::parse(example, Path::new("example")).unwrap();
        assert!(probe_targets(&set).is_empty());
        // The cart service's policy, the only one with migrationSeconds, gains a probe.
        let probed = example.replace(
            "      migrationSeconds: 10\n",
            "      migrationSeconds: 10\n      probePath: /healthz\n      probeIntervalSeconds: 5\n",
        );
        assert_ne!(probed, example, "the example's cart policy changed");
        let set = aviator_broker::clusterset::parse(&probed, Path::new("example")).unwrap();
        let targets = probe_targets(&set);
        assert_eq!(targets.len(), 3, "{targets:?}");
        let west = targets.iter().find(|t| t.key.cluster == "west").unwrap();
        assert_eq!(west.key.service, "shop/cart");
        assert_eq!(west.addr, "10.2.0.60:8080".parse().unwrap());
        assert_eq!(
            west.http_url.as_deref(),
            Some("http://10.2.0.60:8080/healthz")
        );
        assert_eq!(west.interval, Some(Duration::from_secs(5)));
    }

    const LOCAL: &str = r#"localCluster: east
clusters: [{ id: east }, { id: west }]
services:
  - name: s
    namespace: n
    ports: [{ name: http, port: 8080 }]
    policy: { probePath: /ping }
    exports:
      - { cluster: east, ips: [10.1.0.1], utilization: 0.5 }
      - { cluster: west, ips: [10.2.0.1] }
"#;

    /// The local export is probed like the others: its service latency, measured from inside
    /// this cluster, is what this cluster reports of it.
    #[test]
    fn the_local_export_is_probed_when_the_policy_asks() {
        let set = aviator_broker::clusterset::parse(LOCAL, Path::new("set.yaml")).unwrap();
        let targets = probe_targets(&set);
        let east = targets.iter().find(|t| t.key.cluster == "east").unwrap();
        assert_eq!(east.key.service, "n/s");
        assert_eq!(east.http_url.as_deref(), Some("http://10.1.0.1:8080/ping"));
        assert_eq!(targets.len(), 2, "{targets:?}");
    }

    #[test]
    fn publications_come_every_two_seconds_give_or_take_a_quarter() {
        let now = Instant::now();
        for unit in [0.0, 0.25, 0.5, 0.75, 0.999] {
            let after = next_publication(now, Duration::ZERO, unit) - now;
            assert!(
                (Duration::from_millis(1500)..=Duration::from_millis(2500)).contains(&after),
                "{after:?}"
            );
            // The Kubernetes broker is written no more often than every 2 s.
            let kube = next_publication(now, Duration::from_secs(2), unit) - now;
            assert!(kube >= Duration::from_secs(2), "{kube:?}");
            assert!(kube <= Duration::from_millis(2500), "{kube:?}");
        }
    }

    #[test]
    fn debug_reports_list_every_export_with_a_report() {
        let set = aviator_broker::clusterset::parse(LOCAL, Path::new("set.yaml")).unwrap();
        let reports = reports_of(&set);
        assert_eq!(reports.len(), 1);
        let s = &reports["n/s"];
        assert_eq!(s.len(), 1);
        assert_eq!(s["east"].utilization, Some(0.5));
    }
}

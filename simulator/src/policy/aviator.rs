//! Aviator as production runs it: a [`ProbeBook`] with production's probe settings, the
//! clusterset state with the measurements folded in by [`Export::apply_measured`] and the
//! exporters' load reports as the broker carries them, and [`decide`] calling the optimizer,
//! once a tick, with the previous decision's state. Lookups are answered by the same
//! low-discrepancy weighted pick as the DNS server's.
//!
//! What the simulation supplies: the probes' network and the broker's reports (simulated; the
//! book and the state do not know the difference). A [`Variant`] removes one part of the rule
//! at a time, for the ablation.

use std::time::{Duration, Instant};

use aviator_broker::decide::decide;
use aviator_broker::probe::{HttpSample, ProbeBook, ProbeSettings, Target, TargetKey};
use aviator_broker::state::{
    Cluster, ClusterId, ClusterSet, DnsSettings, Export, Mode, Optimized, Policy as ServicePolicy,
    Port, ProbeSpec, Protocol, Service, ServiceType,
};
use aviator_optimizer::{Objective, State, draw};
use serde::Serialize;

use super::{Context, Env, Policy, ProbeSample};
use crate::rng::{self, Stream};

/// Which parts of the rule run: all of them, or all but one (the ablation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The rule as production runs it.
    Full,
    /// Without the exporters' load reports: this cluster's probes only.
    NoReports,
    /// Traffic moves by each export's own mean latency, not its marginal cost to everyone.
    AverageCost,
    /// Best response: everything moves to the cheapest export at once.
    BestResponse,
    /// Migration at the full rate whatever the gap, not in proportion to it.
    FixedRate,
    /// With a 0.5 % floor share on every export.
    Floor,
    /// Without the prediction of the load a share has caused but the reports do not show yet:
    /// the reports are taken as they stand.
    NoPrediction,
    /// Without the stabilize band: every gap moves traffic, however small.
    NoBand,
}

/// The control loop's tick, as the engine calls it.
const TICK_S: f64 = 1.0;
const NAMESPACE: &str = "shop";
const SERVICE: &str = "api";

pub struct Aviator {
    set: ClusterSet,
    book: ProbeBook,
    /// Simulated time 0 as an `Instant`, for the book's clock.
    epoch: Instant,
    keys: Vec<TargetKey>,
    state: State,
    shares: Vec<f64>,
    /// The shares as the DNS server draws from them: kept exports and cumulative weights.
    drawn: (Vec<usize>, Vec<u64>),
    counter: u64,
    rng: Stream,
    variant: Variant,
}

impl Aviator {
    pub fn new(mut context: Context<'_>, objective: Objective, variant: Variant) -> Self {
        let scenario = context.scenario;
        let mut clusters: Vec<Cluster> = scenario
            .sites
            .iter()
            .map(|s| Cluster {
                id: ClusterId::new(s.name),
                provider: Some(s.provider.to_owned()),
                region: Some(s.region.to_owned()),
                zone: Some(s.zone.to_owned()),
                connected: true,
                prices: Some(s.prices),
            })
            .collect();
        clusters.sort_by(|a, b| a.id.cmp(&b.id));
        let exports: Vec<Export> = context
            .exports
            .iter()
            .map(|&e| Export {
                cluster: ClusterId::new(scenario.sites[e].name),
                ips: vec![address(e).ip()],
                ready: true,
                ports: [Port {
                    name: None,
                    port: address(e).port(),
                    protocol: Protocol::Tcp,
                }]
                .into(),
                endpoints: Vec::new(),
                ready_endpoints: Some(scenario.sites[e].speeds.len() as u32),
                figures: None,
                ejected: false,
            })
            .collect();
        let defaults = aviator_optimizer::Policy::default();
        let policy = aviator_optimizer::Policy {
            objective,
            prefer_local: false,
            latency_slo_ms: (objective != Objective::Performance).then_some(scenario.slo_ms),
            marginal: variant != Variant::AverageCost,
            migration_s: match variant {
                Variant::BestResponse => 1e-6,
                _ => defaults.migration_s,
            },
            full_gap: match variant {
                Variant::BestResponse | Variant::FixedRate => 1e-6,
                _ => defaults.full_gap,
            },
            min_share: match variant {
                Variant::Floor => 0.005,
                _ => defaults.min_share,
            },
            // The reports catch up with a share at once: nothing is predicted.
            propagation_s: match variant {
                Variant::NoPrediction => 1e-6,
                _ => defaults.propagation_s,
            },
            stabilize: match variant {
                Variant::NoBand => 0.0,
                _ => defaults.stabilize,
            },
            ..defaults
        };
        let service = Service {
            namespace: NAMESPACE.to_owned(),
            name: SERVICE.to_owned(),
            service_type: ServiceType::ClusterSetIp,
            vips: Vec::new(),
            exports,
            policy: ServicePolicy {
                mode: Mode::Optimized(Box::new(Optimized {
                    policy,
                    request_bytes: scenario.service.request_bytes,
                    response_bytes: scenario.service.response_bytes,
                })),
                prefer_local: false,
                probe: Some(ProbeSpec {
                    path: Some("/".to_owned()),
                    port: None,
                    interval_s: None,
                }),
            },
        };
        let set = ClusterSet {
            local_cluster: ClusterId::new(scenario.sites[context.client_site()].name),
            dns: DnsSettings::default(),
            clusters,
            services: vec![std::sync::Arc::new(service)],
        };
        let epoch = Instant::now();
        let keys: Vec<TargetKey> = context
            .exports
            .iter()
            .map(|&e| TargetKey {
                service: format!("{NAMESPACE}/{SERVICE}"),
                cluster: scenario.sites[e].name.to_owned(),
            })
            .collect();
        let mut book = ProbeBook::new(ProbeSettings::default());
        let targets = keys
            .iter()
            .zip(&context.exports)
            .map(|(key, &e)| Target {
                key: key.clone(),
                addr: address(e),
                http_url: Some(format!("http://{}/", address(e))),
                interval: None,
            })
            .collect();
        book.set_targets(targets, epoch);
        book.set_active(&keys[0].service, true, epoch);
        Self {
            set,
            book,
            epoch,
            keys,
            state: State::new(),
            shares: Vec::new(),
            drawn: (Vec::new(), Vec::new()),
            counter: rng::word(&mut context.rng),
            rng: context.rng,
            variant,
        }
    }

    fn instant(&self, now: f64) -> Instant {
        self.epoch + Duration::from_secs_f64(now.max(0.0))
    }
}

/// A made-up address per export: the book keys targets by it, nothing dials it.
fn address(export: usize) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([10, 0, export as u8, 1], 8080))
}

impl Policy for Aviator {
    fn answer(&mut self, _now: f64, env: &Env<'_>) -> usize {
        let (kept, cumulative) = &self.drawn;
        if kept.is_empty() {
            let candidates = env.candidates();
            return candidates[rng::index(&mut self.rng, candidates.len())];
        }
        self.counter = self.counter.wrapping_add(1);
        kept[draw::spread(self.counter, cumulative)]
    }

    fn tick(&mut self, now: f64, env: &Env<'_>) {
        let at = self.instant(now);
        let reports = self.book.reports(at);
        let mut set = self.set.clone();
        let service = std::sync::Arc::make_mut(&mut set.services[0]);
        for (i, export) in service.exports.iter_mut().enumerate() {
            export.ready = env.ready[i];
            if let Some(report) = reports.get(&self.keys[i]) {
                export.apply_measured(report.probed());
            }
            if self.variant != Variant::NoReports {
                export.update_figures(|figures| figures.load = env.reports[i]);
            }
        }
        let Mode::Optimized(optimized) = &service.policy.mode else {
            return;
        };
        let optimized = optimized.as_ref().clone();
        let decision = decide(&set, &set.services[0], &optimized, &self.state, TICK_S);
        self.shares = decision.exports.iter().map(|e| e.share).collect();
        self.drawn = draw::cumulative(&self.shares);
        self.state = decision.state;
    }

    fn due_probes(&mut self, now: f64) -> Vec<usize> {
        let due = self.book.take_due(self.instant(now));
        let mut due: Vec<usize> = due
            .iter()
            .filter_map(|t| self.keys.iter().position(|k| *k == t.key))
            .collect();
        // The book keeps a hash map; the simulation must not inherit its order.
        due.sort_unstable();
        due
    }

    fn probe_result(&mut self, now: f64, export: usize, sample: ProbeSample) {
        let outcome = if sample.ok {
            Ok((
                Duration::from_secs_f64(sample.rtt_ms / 1e3),
                // The simulated servers send no headers of their own: their reports travel
                // through the broker only.
                Some(HttpSample::timed(Duration::from_secs_f64(
                    sample.get_ms / 1e3,
                ))),
            ))
        } else {
            Err("no answer within the probe timeout".to_owned())
        };
        let at = self.instant(now);
        let jitter = rng::unit(&mut self.rng);
        self.book.record(&self.keys[export], outcome, at, jitter);
    }

    fn shares(&self, _env: &Env<'_>) -> Option<Vec<f64>> {
        (!self.shares.is_empty()).then(|| self.shares.clone())
    }
}

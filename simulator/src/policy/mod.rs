//! The policies compared: what each one answers for a lookup (or, for the mesh policies, picks
//! for a request), given what it can know. One instance runs per client cluster, as each
//! cluster runs its own DNS server or sidecars.

mod aviator;
mod locality;
mod orca;
mod prequal;
mod probing;
mod round_robin;

use aviator_optimizer::{LoadReport, Objective};
use serde::Serialize;

use crate::rng::{self, Stream};
use crate::scenario::Scenario;

pub use aviator::{Aviator, Variant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    Lighthouse,
    RoundRobin,
    WrrPods,
    IstioFailover,
    EnvoyLoadAware,
    GrpcWrr,
    P2c,
    Prequal,
    AviatorPerformance,
    AviatorCost,
    AviatorMixed,
    /// Aviator Performance with one part of the rule removed: the ablation.
    Ablated(Variant),
}

impl PolicyKind {
    /// Every row the scenarios run by default.
    pub const ALL: [PolicyKind; 11] = [
        PolicyKind::Lighthouse,
        PolicyKind::RoundRobin,
        PolicyKind::WrrPods,
        PolicyKind::IstioFailover,
        PolicyKind::EnvoyLoadAware,
        PolicyKind::GrpcWrr,
        PolicyKind::P2c,
        PolicyKind::Prequal,
        PolicyKind::AviatorPerformance,
        PolicyKind::AviatorCost,
        PolicyKind::AviatorMixed,
    ];

    /// Aviator Performance with each part removed in turn.
    pub const ABLATION: [PolicyKind; 7] = [
        PolicyKind::Ablated(Variant::NoReports),
        PolicyKind::Ablated(Variant::AverageCost),
        PolicyKind::Ablated(Variant::BestResponse),
        PolicyKind::Ablated(Variant::FixedRate),
        PolicyKind::Ablated(Variant::NoPrediction),
        PolicyKind::Ablated(Variant::NoBand),
        PolicyKind::Ablated(Variant::Floor),
    ];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Lighthouse => "lighthouse",
            PolicyKind::RoundRobin => "round-robin",
            PolicyKind::WrrPods => "wrr-pods",
            PolicyKind::IstioFailover => "istio-failover",
            PolicyKind::EnvoyLoadAware => "envoy-load-aware",
            PolicyKind::GrpcWrr => "grpc-wrr",
            PolicyKind::P2c => "p2c-latency",
            PolicyKind::Prequal => "prequal",
            PolicyKind::AviatorPerformance => "aviator-performance",
            PolicyKind::AviatorCost => "aviator-cost",
            PolicyKind::AviatorMixed => "aviator-mixed",
            PolicyKind::Ablated(Variant::Full) => "aviator-performance",
            PolicyKind::Ablated(Variant::NoReports) => "without-load-reports",
            PolicyKind::Ablated(Variant::AverageCost) => "without-marginal-cost",
            PolicyKind::Ablated(Variant::BestResponse) => "best-response",
            PolicyKind::Ablated(Variant::FixedRate) => "without-gap-proportion",
            PolicyKind::Ablated(Variant::NoPrediction) => "without-prediction",
            PolicyKind::Ablated(Variant::NoBand) => "without-stabilize-band",
            PolicyKind::Ablated(Variant::Floor) => "with-floor",
        }
    }

    /// What the policy is, in a line, for the report.
    pub fn about(self) -> &'static str {
        match self {
            PolicyKind::Lighthouse => {
                "Submariner Lighthouse: the local export while its endpoints are healthy, else smooth round-robin (all weights 1) over the ready, connected exports; per lookup"
            }
            PolicyKind::RoundRobin => {
                "smooth round-robin (all weights 1) over the ready exports, no local preference; per lookup"
            }
            PolicyKind::WrrPods => "static weighted round-robin by ready pods; per lookup",
            PolicyKind::IstioFailover => {
                "Istio locality failover (zone, region, provider, rest; overprovisioning 1.4; outlier detection); per request in a mesh"
            }
            PolicyKind::EnvoyLoadAware => {
                "Envoy load_aware_locality (its proto's defaults): load reports (~2 s old) smoothed by EWMA 0.3 every 1 s, expiring after 3 min; all local unless local utilisation exceeds the remote average by more than 0.1, else by host count x headroom; at least 3 % to remote localities; outlier detection; per request in a mesh"
            }
            PolicyKind::GrpcWrr => {
                "gRPC weighted_round_robin (A58): weight = qps / (utilisation + eps/qps x 1.0) from the exporters' load reports, recomputed every 1 s, 10 s blackout, 3 min expiry, EDF with random initial deadlines; per request (a gRPC channel picks a subchannel per call)"
            }
            PolicyKind::P2c => "power of two choices on probed latency (RTT + service); per lookup",
            PolicyKind::Prequal => {
                "Prequal (NSDI 2024): pool of 16 probes of requests in flight per server and latency (the export's estimate + round trip), 3 async probes per lookup that bypass the queue, max age 1 s, each used at most twice, one removal per lookup alternating oldest and worst; hot above the pool's 0.84 RIF quantile; the coldest-latency cold export, ties at random; per lookup"
            }
            PolicyKind::AviatorPerformance => {
                "Aviator, objective Performance: production probes, decide and optimizer; per lookup"
            }
            PolicyKind::AviatorCost => "Aviator, objective Cost with the scenario's latency SLO",
            PolicyKind::AviatorMixed => "Aviator, objective Mixed, trade-off 0.5, with the SLO",
            PolicyKind::Ablated(Variant::Full) => PolicyKind::AviatorPerformance.about(),
            PolicyKind::Ablated(Variant::NoReports) => {
                "Aviator Performance without the exporters' load reports: its own probes only"
            }
            PolicyKind::Ablated(Variant::AverageCost) => {
                "Aviator Performance moving traffic by each export's mean latency, not its marginal cost"
            }
            PolicyKind::Ablated(Variant::BestResponse) => {
                "Aviator Performance sending everything to the cheapest export at once (no smooth migration)"
            }
            PolicyKind::Ablated(Variant::FixedRate) => {
                "Aviator Performance migrating at the full rate whatever the gap"
            }
            PolicyKind::Ablated(Variant::NoPrediction) => {
                "Aviator Performance taking the load reports as they stand, without predicting the load its shares have caused but the reports do not show yet"
            }
            PolicyKind::Ablated(Variant::NoBand) => {
                "Aviator Performance without the stabilize band: every gap moves traffic"
            }
            PolicyKind::Ablated(Variant::Floor) => {
                "Aviator Performance with a 0.5 % floor share on every export"
            }
        }
    }

    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain(Self::ABLATION)
            .find(|k| k.name() == name)
    }

    /// Whether it picks per request (a sidecar mesh) rather than per DNS lookup.
    pub fn per_request(self) -> bool {
        matches!(
            self,
            PolicyKind::IstioFailover | PolicyKind::EnvoyLoadAware | PolicyKind::GrpcWrr
        )
    }

    /// Whether its probes are load probes (requests in flight and latency, answered without
    /// queueing behind real work, as Prequal's) rather than HTTP GETs through the queue.
    pub fn load_probes(self) -> bool {
        matches!(self, PolicyKind::Prequal)
    }

    pub fn build(self, context: Context<'_>) -> Box<dyn Policy> {
        match self {
            PolicyKind::Lighthouse => Box::new(round_robin::Lighthouse::new(context)),
            PolicyKind::RoundRobin => Box::new(round_robin::RoundRobin::new(context)),
            PolicyKind::WrrPods => Box::new(round_robin::WeightedByPods::new(context)),
            PolicyKind::IstioFailover => Box::new(locality::Failover::new(context)),
            PolicyKind::EnvoyLoadAware => Box::new(locality::LoadAware::new(context)),
            PolicyKind::GrpcWrr => Box::new(orca::GrpcWrr::new(context)),
            PolicyKind::P2c => Box::new(probing::TwoChoices::new(context)),
            PolicyKind::Prequal => Box::new(prequal::Prequal::new(context)),
            PolicyKind::AviatorPerformance => {
                Box::new(Aviator::new(context, Objective::Performance, Variant::Full))
            }
            PolicyKind::AviatorCost => {
                Box::new(Aviator::new(context, Objective::Cost, Variant::Full))
            }
            PolicyKind::AviatorMixed => {
                Box::new(Aviator::new(context, Objective::Mixed, Variant::Full))
            }
            PolicyKind::Ablated(variant) => {
                Box::new(Aviator::new(context, Objective::Performance, variant))
            }
        }
    }
}

/// What a policy instance is told once: the scenario, which client cluster it serves, and the
/// exports it chooses among (site indices, in the order its answers use).
pub struct Context<'a> {
    pub scenario: &'a Scenario,
    pub group: usize,
    pub exports: Vec<usize>,
    pub rng: Stream,
}

impl Context<'_> {
    pub fn client_site(&self) -> usize {
        self.scenario.groups[self.group].site
    }

    /// The export in the client's own cluster, if any (index into `exports`).
    pub fn local(&self) -> Option<usize> {
        let site = self.client_site();
        self.exports.iter().position(|&e| e == site)
    }

    pub fn pods(&self) -> Vec<f64> {
        self.exports
            .iter()
            .map(|&e| self.scenario.sites[e].speeds.len() as f64)
            .collect()
    }

    pub fn rtt_ms(&self) -> Vec<f64> {
        let from = self.client_site();
        self.exports
            .iter()
            .map(|&e| self.scenario.rtt_ms[from][e])
            .collect()
    }
}

/// What the control plane and the load reports say now; indices follow `Context::exports`.
pub struct Env<'a> {
    /// Ready and connected, as the control plane sees it (it learns of failures late).
    pub ready: &'a [bool],
    /// This client cluster's demand, requests/s, as measured over the last seconds.
    pub demand_rps: f64,
    /// Each export's busy fraction over the last second, as its load reports say.
    pub utilization: &'a [f64],
    /// Each exporter's last report on the broker, with its age; `None` before its first.
    pub reports: &'a [Option<LoadReport>],
    /// Requests/s each export received over the window of that report (the qps an ORCA
    /// report carries); `None` before its first.
    pub served_rps: &'a [Option<f64>],
}

impl Env<'_> {
    /// The ready exports; all of them if none is (fail open).
    pub fn candidates(&self) -> Vec<usize> {
        let ready: Vec<usize> = (0..self.ready.len()).filter(|&i| self.ready[i]).collect();
        if ready.is_empty() {
            (0..self.ready.len()).collect()
        } else {
            ready
        }
    }
}

/// One probe's result, as the prober sees it.
#[derive(Debug, Clone, Copy)]
pub struct ProbeSample {
    /// False when it timed out or was refused.
    pub ok: bool,
    /// TCP handshake time, ms.
    pub rtt_ms: f64,
    /// Whole HTTP GET time, network included, ms.
    pub get_ms: f64,
    /// Requests in the export when the probe arrived, per server.
    pub in_flight_per_server: f64,
    /// The export's own latency estimate, ms, for a load probe; `None` for a GET.
    pub latency_ms: Option<f64>,
}

pub trait Policy: Send {
    /// The export to answer with (or send one request to), as an index into the exports.
    fn answer(&mut self, now: f64, env: &Env<'_>) -> usize;

    /// The control loop's tick, once a second.
    fn tick(&mut self, _now: f64, _env: &Env<'_>) {}

    /// Exports to probe now.
    fn due_probes(&mut self, _now: f64) -> Vec<usize> {
        Vec::new()
    }

    fn probe_result(&mut self, _now: f64, _export: usize, _sample: ProbeSample) {}

    /// A request's outcome as the client saw it (only mesh policies see these).
    fn observe(&mut self, _now: f64, _export: usize, _ok: bool) {}

    /// The shares it intends now, when it has any (lookup-by-lookup rules do not).
    fn shares(&self, _env: &Env<'_>) -> Option<Vec<f64>> {
        None
    }
}

/// A weighted random pick among `candidates`.
pub fn weighted_pick(rng: &mut Stream, candidates: &[usize], weights: &[f64]) -> usize {
    let total: f64 = candidates.iter().map(|&c| weights[c].max(0.0)).sum();
    if total <= 0.0 {
        return candidates[rng::index(rng, candidates.len())];
    }
    let mut x = rng::unit(rng) * total;
    for &c in candidates {
        x -= weights[c].max(0.0);
        if x < 0.0 {
            return c;
        }
    }
    candidates[candidates.len() - 1]
}

/// Shares in proportion to `weights` over `candidates`, zero elsewhere.
pub fn proportional(n: usize, candidates: &[usize], weights: &[f64]) -> Vec<f64> {
    let total: f64 = candidates.iter().map(|&c| weights[c].max(0.0)).sum();
    let mut shares = vec![0.0; n];
    for &c in candidates {
        shares[c] = if total > 0.0 {
            weights[c].max(0.0) / total
        } else {
            1.0 / candidates.len() as f64
        };
    }
    shares
}

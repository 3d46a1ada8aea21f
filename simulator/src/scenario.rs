//! The scenarios: who runs where, how fast, at what price and distance, who sends how much, and
//! what goes wrong when. Each one is a file ([`parse`], [`load`]); the built-in ones, each a
//! headline experiment of reference §4 made concrete, are the files under
//! `simulator/scenarios/`, embedded in the binary.
//!
//! Load is measured, as in Prequal, against *allocated* capacity: servers × the rate each is
//! provisioned for. Servers are faster than their allocation by different amounts (spare CPU on
//! their hosts, newer or older instance types), so true capacity differs from allocation, and
//! differently in each cluster. That difference is what separates policies that learn from
//! those that count pods.

mod error;
mod raw;
mod validate;
mod write;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use aviator_optimizer::cost::PriceTable;
use serde::Serialize;

use crate::dns::DnsModel;
use crate::goal::GoalSpec;
use crate::policy::PolicyKind;

pub use error::{FieldError, ScenarioError};
pub use validate::MAX_DURATION_S;
pub use write::to_yaml;

/// One cluster. Its names are `&'static str` because the policies hold them so; a file's are
/// interned ([`intern`]), kept once each for the life of the process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    pub name: &'static str,
    pub provider: &'static str,
    pub region: &'static str,
    pub zone: &'static str,
    #[serde(skip)]
    pub prices: PriceTable,
    /// Speed of each server behind its export (1 = the allocated rate's reference server);
    /// empty when the cluster does not export the service.
    pub speeds: Vec<f64>,
}

impl Site {
    pub fn exports(&self) -> bool {
        !self.speeds.is_empty()
    }
}

/// Client pods in one cluster and their part of the demand.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub site: usize,
    /// Fraction of the total demand sent from here.
    pub demand: f64,
    pub pods: usize,
    /// Nodes, each with its own caching resolver.
    pub nodes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServiceModel {
    /// Mean service time on a reference server, ms; lognormal.
    pub mean_work_ms: f64,
    pub work_cv: f64,
    pub request_bytes: f64,
    pub response_bytes: f64,
    /// The client gives up after this, s.
    pub timeout_s: f64,
    /// Requests each server may have queued before the export refuses more.
    pub queue_per_server: usize,
    /// Requests per second a server is allocated (1.0x load = the sum of these).
    pub allocated_rps_per_server: f64,
}

/// Something that happens at a given time. Sites are indices into [`Scenario::sites`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Change {
    /// Demand becomes this multiple of allocated capacity.
    Load(f64),
    /// The site's export stops answering (its clients, if any, keep running).
    Down(usize),
    Up(usize),
    /// The site's servers run at this fraction of their speed (an antagonist; 1 ends it).
    Slowdown(usize, f64),
    /// Everything between the two sites is black-holed, both ways: requests, responses and
    /// probes. The control plane does not see it (the gateways still say connected); clients
    /// find out by timing out.
    Partition(usize, usize),
    /// A partition between the two sites ends.
    Heal(usize, usize),
    /// The round trip between the two sites becomes this, ms.
    Rtt(usize, usize, f64),
    /// The site's transfer prices become these (what requests are charged from now on).
    Prices(usize, PriceTable),
    /// The site's export runs this many servers from now on; added ones run at this speed.
    /// A removed server finishes the request it is serving, then leaves (a terminating pod's
    /// grace period), and takes no more.
    Endpoints(usize, usize, f64),
}

/// A stretch of time the metrics are reported for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub label: String,
    pub start: f64,
    pub end: f64,
    /// The load multiplier held during the window, when it is one step of a ramp.
    pub load: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Also seeds the random streams: the same name and seed give the same traffic.
    pub name: String,
    pub about: String,
    pub sites: Vec<Site>,
    /// Round trip between sites, ms (symmetric).
    pub rtt_ms: Vec<Vec<f64>>,
    pub groups: Vec<Group>,
    pub service: ServiceModel,
    pub dns: DnsModel,
    /// Time for the control plane (readiness, gateway status, Lighthouse) to see a failure or a
    /// recovery, s.
    pub control_plane_delay_s: f64,
    /// The latency SLO given to Cost and Mixed, ms; the goal holds their p99 to it.
    pub slo_ms: f64,
    pub schedule: Vec<(f64, Change)>,
    pub duration_s: f64,
    pub windows: Vec<Window>,
    /// From here on the system counts as steady, for flapping and starvation.
    pub steady_from_s: f64,
    /// Until here (a change meant to move the shares comes then, and its settling is measured
    /// apart).
    pub steady_until_s: f64,
    /// The load an operator plans for, and so declares as each cluster's `demandRps`, where
    /// Aviator is not told its measured demand.
    pub planned_load: f64,
    pub policies: Vec<PolicyKind>,
    /// What the report checks.
    pub goals: Vec<GoalSpec>,
}

impl Scenario {
    /// Requests per second at 1.0x load: the sum of the servers' allocations (as the scenario
    /// starts: endpoint changes do not move it).
    pub fn allocated_rps(&self) -> f64 {
        let servers: usize = self.sites.iter().map(|s| s.speeds.len()).sum();
        servers as f64 * self.service.allocated_rps_per_server
    }

    pub fn exporters(&self) -> Vec<usize> {
        (0..self.sites.len())
            .filter(|&i| self.sites[i].exports())
            .collect()
    }

    /// The window the main table shows: the first, or a ramp's hardest step when every window
    /// is a step.
    pub fn main_window(&self) -> usize {
        if !self.windows.is_empty() && self.windows.iter().all(|w| w.load.is_some()) {
            self.windows.len() - 1
        } else {
            0
        }
    }

    /// Whether its windows are the steps of a load ramp (it then has a table of them, and a
    /// plot of p99 against load).
    pub fn has_ramp(&self) -> bool {
        self.windows.iter().any(|w| w.load.is_some())
    }
}

pub const NAMES: [&str; 5] = ["ramp", "outage", "antagonist", "cost", "herd"];

/// The built-in scenarios' files, by name.
const BUILTIN: [(&str, &str); 5] = [
    ("ramp", include_str!("../scenarios/ramp.yaml")),
    ("outage", include_str!("../scenarios/outage.yaml")),
    ("antagonist", include_str!("../scenarios/antagonist.yaml")),
    ("cost", include_str!("../scenarios/cost.yaml")),
    ("herd", include_str!("../scenarios/herd.yaml")),
];

/// The file of the built-in scenario called `name`.
pub fn builtin_file(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The built-in scenario called `name`.
pub fn by_name(name: &str) -> Option<Scenario> {
    builtin(name)?.ok()
}

/// The built-in scenario called `name`, or why its embedded file does not load (a bug the
/// tests catch).
pub fn builtin(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    let file = builtin_file(name)?;
    Some(parse(
        file,
        Path::new(&format!("simulator/scenarios/{name}.yaml")),
    ))
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
        file: path.to_owned(),
        error,
    })?;
    parse(&text, path)
}

/// Validates scenario YAML; `file` is used only to name it in errors.
pub fn parse(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    let invalid = |errors| ScenarioError::Invalid {
        file: file.to_owned(),
        errors,
    };
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|error| {
        let location = error.location();
        ScenarioError::Syntax {
            file: file.to_owned(),
            line: location.as_ref().map_or(0, |l| l.line()),
            column: location.as_ref().map_or(0, |l| l.column()),
            message: error.to_string(),
        }
    })?;
    let whole = |message: &str| {
        invalid(vec![FieldError {
            path: String::new(),
            message: message.to_owned(),
        }])
    };
    if value.is_null() {
        return Err(whole(
            "the file is empty: a scenario declares at least name, duration, clusters, clients and load",
        ));
    }
    if !value.is_mapping() {
        return Err(whole(
            "a scenario is a mapping of its sections (name, duration, clusters, clients, load, ...)",
        ));
    }
    let raw: raw::RawScenario = serde_path_to_error::deserialize(value).map_err(|error| {
        invalid(vec![FieldError {
            path: match error.path().to_string().as_str() {
                "." => String::new(),
                path => path.to_owned(),
            },
            message: error.into_inner().to_string(),
        }])
    })?;
    validate::validate(raw).map_err(invalid)
}

pub use aviator_optimizer::list_prices;

/// `n` servers around `speed`, ±15 %: no two pods are quite alike.
pub(crate) fn spread_speeds(n: usize, speed: f64) -> Vec<f64> {
    const SPREAD: [f64; 4] = [0.85, 1.05, 0.95, 1.15];
    (0..n).map(|i| speed * SPREAD[i % SPREAD.len()]).collect()
}

/// `s`, kept for the life of the process; each distinct string is kept once, however many
/// files are loaded.
pub(crate) fn intern(s: &str) -> &'static str {
    static KEPT: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&s) = kept.get(s) {
        return s;
    }
    let s: &'static str = Box::leak(s.to_owned().into_boxed_str());
    kept.insert(s);
    s
}

/// The service model a file starts from.
pub(crate) fn default_service() -> ServiceModel {
    ServiceModel {
        mean_work_ms: 20.0,
        work_cv: 1.0,
        request_bytes: 2_000.0,
        response_bytes: 20_000.0,
        timeout_s: 1.0,
        queue_per_server: 16,
        allocated_rps_per_server: 25.0,
    }
}

/// The client model a file starts from.
pub(crate) fn default_dns() -> DnsModel {
    DnsModel {
        ttl_s: 5.0,
        resolver_min_ttl_s: 5.0,
        app_cache_s: 0.0,
        connections_per_pod: 4,
        connection_age_s: 10.0,
    }
}

/// Round trips from a rule: same site, same region (and provider), else by the pair of
/// regions' listed figure, else a default.
#[derive(Debug, Clone)]
pub(crate) struct RttRule {
    pub same_cluster: f64,
    pub same_region: f64,
    pub otherwise: f64,
    pub regions: Vec<(String, String, f64)>,
}

impl Default for RttRule {
    fn default() -> Self {
        Self {
            same_cluster: 0.2,
            same_region: 1.0,
            otherwise: 100.0,
            regions: Vec::new(),
        }
    }
}

impl RttRule {
    pub fn matrix(&self, sites: &[&Site]) -> Vec<Vec<f64>> {
        let n = sites.len();
        let mut m = vec![vec![0.0; n]; n];
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (sites[i], sites[j]);
                m[i][j] = if i == j {
                    self.same_cluster
                } else if a.region == b.region && a.provider == b.provider {
                    self.same_region
                } else {
                    self.regions
                        .iter()
                        .find(|(x, y, _)| {
                            (x == a.region && y == b.region) || (x == b.region && y == a.region)
                        })
                        .map_or(self.otherwise, |(_, _, ms)| *ms)
                };
            }
        }
        m
    }
}

#[cfg(test)]
mod tests;

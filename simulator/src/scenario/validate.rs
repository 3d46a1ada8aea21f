//! Turns a [`RawScenario`] into a valid [`Scenario`], collecting every problem it finds with the
//! path of the field at fault rather than stopping at the first. Whatever a file says, what
//! passes here cannot make the engine panic: every count, time and index is checked, and sizes
//! are bounded so that a typo cannot ask for a terabyte.

use std::collections::{HashMap, HashSet};

use aviator_optimizer::cost::{PriceRow, PriceTable};
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use super::error::FieldError;
use super::raw::*;
use super::{
    Change, Group, RttRule, Scenario, ServiceModel, Site, Window, default_dns, default_service,
    intern, list_prices, spread_speeds,
};
use crate::dns::DnsModel;
use crate::goal::{Check, GoalSpec, Windows};
use crate::policy::PolicyKind;

/// A day: longer runs are a typo, and the recorder keeps a row per second.
pub const MAX_DURATION_S: f64 = 86_400.0;
const MAX_CLUSTERS: usize = 1_000;
const MAX_SERVERS: i64 = 10_000;
const MAX_PODS: i64 = 10_000;
const MAX_CONNECTIONS: i64 = 100;
/// Connection slots of one client cluster: pods x connections per pod.
const MAX_SLOTS: usize = 1_000_000;
const MAX_QUEUE: i64 = 1_000_000;
const MAX_LOAD: f64 = 100.0;
const MAX_RAMP_STEPS: f64 = 1_000.0;
/// Bounds that keep every figure finite: a minute of service time or RTT, an hour of timeout,
/// a GB per request.
const MAX_MS: f64 = 60_000.0;
const MAX_SECONDS: f64 = 3_600.0;
const MAX_CV: f64 = 100.0;
const MAX_BYTES: f64 = 1e9;
const MAX_RPS: f64 = 10_000.0;
const MAX_SPEED: f64 = 1_000.0;
const MAX_PRICE: f64 = 1_000.0;
const MAX_RATIO: f64 = 1e6;
/// Requests per policy run, at the highest load for the whole run.
const MAX_REQUESTS: f64 = 2e8;
/// Defaults of the scenario as a whole.
const DEFAULT_STEADY_FROM_S: f64 = 10.0;
const DEFAULT_CONTROL_PLANE_DELAY_S: f64 = 10.0;
const DEFAULT_SLO_MS: f64 = 250.0;
const DEFAULT_PODS: i64 = 24;
const DEFAULT_NODES: i64 = 8;

const EVENT_KINDS: &str = "load, down, up, slowdown, partition, heal, rtt, prices, endpoints";
const GOAL_KINDS: &str = "p99Ratio, errorRatio, costRatio, p99Slo, shareAfter, swing, settle";

/// Validates the whole file. Either every check passes or every failure is returned.
pub(crate) fn validate(raw: RawScenario) -> Result<Scenario, Vec<FieldError>> {
    let mut v = Validator::default();
    let name = v.name(raw.name);
    let about = raw
        .about
        .and_then(|a| v.decode::<String>("about", a))
        .unwrap_or_default();
    if raw_missing(&raw.duration) {
        v.error("duration", "required: the run's length in seconds");
    }
    let mut duration = v.scalar::<f64>("duration", raw.duration, None);
    if let Some(d) = duration.filter(|d| !(d.is_finite() && *d > 0.0 && *d <= MAX_DURATION_S)) {
        v.error(
            "duration",
            format!("{d} is not a duration: use seconds, more than 0 and at most {MAX_DURATION_S}"),
        );
        duration = None;
    }
    v.duration = duration.unwrap_or(MAX_DURATION_S);
    let steady_from = v
        .scalar("steadyFrom", raw.steady_from, Some(DEFAULT_STEADY_FROM_S))
        .unwrap_or(DEFAULT_STEADY_FROM_S);
    if duration.is_some()
        && !(steady_from.is_finite() && steady_from >= 0.0 && steady_from < v.duration)
    {
        v.error(
            "steadyFrom",
            format!(
                "{steady_from} s is not a time before the end: use 0 or more, less than the duration ({} s)",
                v.duration
            ),
        );
    }
    let steady_until = v
        .scalar("steadyUntil", raw.steady_until, Some(f64::INFINITY))
        .unwrap_or(f64::INFINITY);
    if steady_until.is_nan() || steady_until <= steady_from {
        v.error(
            "steadyUntil",
            format!("{steady_until} s is not after steadyFrom ({steady_from} s)"),
        );
    }
    let control_plane_delay_s = v
        .scalar(
            "controlPlaneDelay",
            raw.control_plane_delay,
            Some(DEFAULT_CONTROL_PLANE_DELAY_S),
        )
        .map(|d| v.non_negative("controlPlaneDelay", d, MAX_SECONDS))
        .unwrap_or(DEFAULT_CONTROL_PLANE_DELAY_S);
    let slo_ms = v
        .scalar("sloMs", raw.slo_ms, Some(DEFAULT_SLO_MS))
        .map(|d| v.positive("sloMs", d, MAX_MS))
        .unwrap_or(DEFAULT_SLO_MS);

    let service = v.service(raw.service);
    let (dns, pods, nodes) = v.dns(raw.dns);
    let sites = v.clusters(raw.clusters);
    let groups = v.clients(raw.clients, pods, nodes, dns.connections_per_pod);
    let rtt_ms = v.rtt(raw.rtt, &sites);
    let (loads, ramp_windows) = v.load(raw.load);
    let planned_load = v
        .scalar("plannedLoad", raw.planned_load, None)
        .map(|l| v.load_value("plannedLoad", l))
        .or_else(|| {
            loads
                .iter()
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|&(_, l)| l)
        })
        .unwrap_or(1.0);
    let events = v.events(raw.events, &sites);
    let windows = v.windows(raw.windows, ramp_windows, steady_from);
    let policies = v.policies(raw.policies);
    let goals = v.goals(raw.goals, &policies, &windows, &sites);

    if v.errors.is_empty() {
        // A run long and busy enough to take hours is a typo.
        let servers: usize = sites.iter().map(|s| s.site.speeds.len()).sum();
        let peak = loads
            .iter()
            .map(|&(_, l)| l)
            .chain(events.iter().filter_map(|(_, c)| match c {
                Change::Load(l) => Some(*l),
                _ => None,
            }))
            .fold(0.0, f64::max);
        let requests = peak * servers as f64 * service.allocated_rps_per_server * v.duration;
        if requests > MAX_REQUESTS {
            v.error(
                "load",
                format!(
                    "about {requests:.0} requests per policy at the peak load for the whole run: at most {MAX_REQUESTS}; shorten the run, lower the load or the rate"
                ),
            );
        }
    }
    if !v.errors.is_empty() {
        return Err(v.errors);
    }
    let mut schedule: Vec<(f64, Change)> = loads
        .into_iter()
        .map(|(at, load)| (at, Change::Load(load)))
        .chain(events)
        .collect();
    // Stable: what happens at one moment keeps the file's order, loads first.
    schedule.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(Scenario {
        name,
        about,
        sites: sites.into_iter().map(|s| s.site).collect(),
        rtt_ms,
        groups,
        service,
        dns,
        control_plane_delay_s,
        slo_ms,
        schedule,
        duration_s: v.duration,
        windows,
        steady_from_s: steady_from,
        steady_until_s: steady_until,
        planned_load,
        policies,
        goals,
    })
}

fn raw_missing(value: &Option<Value>) -> bool {
    value.as_ref().is_none_or(Value::is_null)
}

/// A cluster as validated, with what later sections need to know of it.
struct Declared {
    site: Site,
    /// The speed added servers run at unless an event says otherwise.
    speed: f64,
}

#[derive(Default)]
struct Validator {
    errors: Vec<FieldError>,
    duration: f64,
    /// Every cluster name the file declares, even in an entry that failed, so that its errors do
    /// not cascade into "unknown cluster" wherever it is named.
    mentioned: HashSet<String>,
    /// Valid clusters by name.
    index: HashMap<String, usize>,
    /// How many entries `clusters` has, valid or not.
    declared: usize,
}

impl Validator {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Records `message` under `path` unless `ok`; returns `ok`.
    fn check(&mut self, path: &str, ok: bool, message: impl Into<String>) -> bool {
        if !ok {
            self.error(path, message);
        }
        ok
    }

    /// Decodes one section or list element, recording a type error under `path`.
    fn decode<T: DeserializeOwned>(&mut self, path: &str, value: Value) -> Option<T> {
        match serde_path_to_error::deserialize(value) {
            Ok(decoded) => Some(decoded),
            Err(error) => {
                let inner = error.path().to_string();
                let full = match inner.as_str() {
                    "." | "" => path.to_owned(),
                    inner if inner.starts_with('[') => format!("{path}{inner}"),
                    inner => format!("{path}.{inner}"),
                };
                self.error(full, error.into_inner().to_string());
                None
            }
        }
    }

    /// A top-level scalar: `default` when absent (or an error if there is none and it is
    /// needed: the caller says so), `None` when it does not decode.
    fn scalar<T: DeserializeOwned>(
        &mut self,
        path: &str,
        value: Option<Value>,
        default: Option<T>,
    ) -> Option<T> {
        match value {
            Some(value) if !value.is_null() => self.decode(path, value),
            _ => default,
        }
    }

    /// The elements of a list, each with its path; an error unless it is a list.
    fn list(&mut self, path: &str, value: Option<Value>) -> Vec<(String, Value)> {
        match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| (format!("{path}[{i}]"), item))
                .collect(),
            Some(_) => {
                self.error(path, "must be a list");
                Vec::new()
            }
        }
    }

    /// A number in (0, `max`].
    fn positive(&mut self, path: &str, x: f64, max: f64) -> f64 {
        self.check(
            path,
            x.is_finite() && x > 0.0 && x <= max,
            format!("{x}: must be more than 0 and at most {max}"),
        );
        x
    }

    /// A number in [0, `max`].
    fn non_negative(&mut self, path: &str, x: f64, max: f64) -> f64 {
        self.check(
            path,
            x.is_finite() && (0.0..=max).contains(&x),
            format!("{x}: must be from 0 to {max}"),
        );
        x
    }

    /// A count in `min..=max`.
    fn count(&mut self, path: &str, n: i64, min: i64, max: i64) -> usize {
        if n < min {
            self.error(path, format!("{n}: must be at least {min}"));
        } else if n > max {
            self.error(path, format!("{n}: must be at most {max}"));
        }
        usize::try_from(n.clamp(min, max)).unwrap_or(0)
    }

    /// A moment of the run, s.
    fn time(&mut self, path: &str, t: f64) -> f64 {
        let duration = self.duration;
        self.check(
            path,
            t.is_finite() && (0.0..=duration).contains(&t),
            format!("{t} s is not a time of the run: use 0 to {duration} s (the duration)"),
        );
        t
    }

    /// A load multiple of allocated capacity.
    fn load_value(&mut self, path: &str, load: f64) -> f64 {
        self.check(
            path,
            load.is_finite() && (0.0..=MAX_LOAD).contains(&load),
            format!(
                "{load} is not a load: use a multiple of allocated capacity from 0 to {MAX_LOAD}"
            ),
        );
        load
    }

    fn name(&mut self, raw: Option<Value>) -> String {
        let Some(name) = raw.filter(|v| !v.is_null()) else {
            self.error(
                "name",
                "required: it names the scenario and seeds its random streams",
            );
            return String::new();
        };
        let Some(name) = self.decode::<String>("name", name) else {
            return String::new();
        };
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        self.check(
            "name",
            ok,
            format!(
                "\"{name}\" is not a name: use 1 to 63 letters, digits, '-', '_' or '.' (it also names plot files)"
            ),
        );
        name
    }

    fn service(&mut self, raw: Option<Value>) -> ServiceModel {
        let mut service = default_service();
        let Some(raw) = raw
            .filter(|v| !v.is_null())
            .and_then(|v| self.decode::<RawService>("service", v))
        else {
            return service;
        };
        if let Some(x) = raw.mean_ms {
            service.mean_work_ms = self.positive("service.meanMs", x, MAX_MS);
        }
        if let Some(x) = raw.cv {
            service.work_cv = self.non_negative("service.cv", x, MAX_CV);
        }
        if let Some(x) = raw.request_bytes {
            service.request_bytes = self.non_negative("service.requestBytes", x, MAX_BYTES);
        }
        if let Some(x) = raw.response_bytes {
            service.response_bytes = self.non_negative("service.responseBytes", x, MAX_BYTES);
        }
        if let Some(x) = raw.timeout {
            service.timeout_s = self.positive("service.timeout", x, MAX_SECONDS);
        }
        if let Some(n) = raw.queue_per_server {
            service.queue_per_server = self.count("service.queuePerServer", n, 0, MAX_QUEUE);
        }
        if let Some(x) = raw.allocated_rps_per_server {
            service.allocated_rps_per_server =
                self.positive("service.allocatedRpsPerServer", x, MAX_RPS);
        }
        service
    }

    /// The client model, and the default pods and nodes of a client cluster.
    fn dns(&mut self, raw: Option<Value>) -> (DnsModel, usize, usize) {
        let mut dns = default_dns();
        let (mut pods, mut nodes) = (DEFAULT_PODS as usize, DEFAULT_NODES as usize);
        let Some(raw) = raw
            .filter(|v| !v.is_null())
            .and_then(|v| self.decode::<RawDns>("dns", v))
        else {
            return (dns, pods, nodes);
        };
        if let Some(x) = raw.ttl {
            dns.ttl_s = self.non_negative("dns.ttl", x, MAX_SECONDS);
        }
        if let Some(x) = raw.resolver_min_ttl {
            dns.resolver_min_ttl_s = self.non_negative("dns.resolverMinTtl", x, MAX_SECONDS);
        }
        if let Some(x) = raw.app_cache {
            dns.app_cache_s = self.non_negative("dns.appCache", x, MAX_SECONDS);
        }
        if let Some(n) = raw.connections_per_pod {
            dns.connections_per_pod = self.count("dns.connectionsPerPod", n, 1, MAX_CONNECTIONS);
        }
        if let Some(x) = raw.connection_age {
            dns.connection_age_s = self.non_negative("dns.connectionAge", x, MAX_SECONDS);
        }
        if let Some(n) = raw.pods {
            pods = self.count("dns.pods", n, 1, MAX_PODS);
        }
        if let Some(n) = raw.nodes {
            nodes = self.count("dns.nodes", n, 1, MAX_PODS);
        }
        (dns, pods, nodes)
    }

    fn clusters(&mut self, raw: Option<Value>) -> Vec<Declared> {
        let entries = self.list("clusters", raw);
        self.declared = entries.len();
        if entries.is_empty() {
            self.error("clusters", "at least one cluster is required");
        } else if entries.len() > MAX_CLUSTERS {
            self.error(
                "clusters",
                format!("{} clusters: at most {MAX_CLUSTERS}", entries.len()),
            );
        }
        self.mentioned = entries
            .iter()
            .filter_map(|(_, v)| v.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let mut declared: Vec<Declared> = Vec::new();
        let mut first_seen: HashMap<String, String> = HashMap::new();
        let mut some_export = false;
        let before = self.errors.len();
        for (path, value) in entries {
            let Some(c) = self.decode::<RawCluster>(&path, value) else {
                continue;
            };
            // A cluster with any error is left out, and references to it pass unremarked.
            let errors_before = self.errors.len();
            self.label(&format!("{path}.name"), &c.name);
            if let Some(first) = first_seen.get(&c.name) {
                self.error(
                    format!("{path}.name"),
                    format!(
                        "duplicate cluster \"{}\" (first declared at {first})",
                        c.name
                    ),
                );
            } else {
                first_seen.insert(c.name.clone(), path.clone());
            }
            for (field, text) in [
                ("provider", &c.provider),
                ("region", &c.region),
                ("zone", &c.zone),
            ] {
                self.check(
                    &format!("{path}.{field}"),
                    !text.is_empty(),
                    "must not be empty",
                );
            }
            let (speeds, speed) = self.speeds(&path, &c);
            some_export |= !speeds.is_empty();
            let prices = match c.prices {
                Some(value) => self.prices(&format!("{path}.prices"), value),
                None => {
                    let listed = list_prices(&c.provider);
                    if listed.is_none() && !c.provider.is_empty() {
                        self.error(
                            format!("{path}.prices"),
                            format!(
                                "no list prices for provider \"{}\": set prices to aws, gcp or azure, or give the table (egress, ingress)",
                                c.provider
                            ),
                        );
                    }
                    listed
                }
            };
            let Some(prices) = prices.filter(|_| self.errors.len() == errors_before) else {
                continue;
            };
            self.index.insert(c.name.clone(), declared.len());
            declared.push(Declared {
                site: Site {
                    name: intern(&c.name),
                    provider: intern(&c.provider),
                    region: intern(&c.region),
                    zone: intern(&c.zone),
                    prices,
                    speeds,
                },
                speed,
            });
        }
        if self.declared > 0 && !some_export && self.errors.len() == before {
            self.error(
                "clusters",
                "no cluster has servers: at least one must export the service",
            );
        }
        declared
    }

    /// A DNS label, as cluster ids are.
    fn label(&mut self, path: &str, name: &str) -> bool {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        self.check(
            path,
            ok,
            format!(
                "\"{name}\" is not a cluster name: use 1 to 63 lowercase letters, digits and '-', not at either end"
            ),
        )
    }

    /// The servers' speeds, and the speed added ones get.
    fn speeds(&mut self, path: &str, c: &RawCluster) -> (Vec<f64>, f64) {
        let servers = c
            .servers
            .map(|n| self.count(&format!("{path}.servers"), n, 0, MAX_SERVERS));
        if let Some(speeds) = &c.speeds {
            if c.speed.is_some() || c.spread.is_some() {
                self.error(
                    format!("{path}.speeds"),
                    "give speeds, or speed (and spread), not both",
                );
            }
            if let Some(n) = servers.filter(|&n| n != speeds.len()) {
                self.error(
                    format!("{path}.speeds"),
                    format!("{} speeds for {n} servers", speeds.len()),
                );
            }
            if speeds.len() > MAX_SERVERS as usize {
                self.error(
                    format!("{path}.speeds"),
                    format!("{} servers: at most {MAX_SERVERS}", speeds.len()),
                );
            }
            for (i, &s) in speeds.iter().enumerate() {
                self.positive(&format!("{path}.speeds[{i}]"), s, MAX_SPEED);
            }
            let mean = if speeds.is_empty() {
                1.0
            } else {
                speeds.iter().sum::<f64>() / speeds.len() as f64
            };
            return (speeds.clone(), mean);
        }
        let speed = c.speed.map_or(1.0, |s| {
            self.positive(&format!("{path}.speed"), s, MAX_SPEED)
        });
        let n = servers.unwrap_or(0);
        let speeds = if c.spread.unwrap_or(true) {
            spread_speeds(n, speed)
        } else {
            vec![speed; n]
        };
        (speeds, speed)
    }

    /// Prices given as a provider's name or as a table.
    fn prices(&mut self, path: &str, value: Value) -> Option<PriceTable> {
        if let Value::String(name) = &value {
            let listed = list_prices(name);
            if listed.is_none() {
                self.error(
                    path,
                    format!(
                        "no list prices called \"{name}\": use aws, gcp or azure, or give the table (egress, ingress)"
                    ),
                );
            }
            return listed;
        }
        let table = self.decode::<PriceTable>(path, value)?;
        let rows = [("egress", &table.egress), ("ingress", &table.ingress)];
        let mut ok = true;
        for (row, prices) in rows {
            ok &= self.price_row(&format!("{path}.{row}"), prices);
        }
        ok.then_some(table)
    }

    fn price_row(&mut self, path: &str, row: &PriceRow) -> bool {
        let fields = [
            ("intraZone", row.intra_zone),
            ("interZone", row.inter_zone),
            ("interRegion", row.inter_region),
            ("interContinent", row.inter_continent),
            ("internet", row.internet),
        ];
        let mut ok = true;
        for (name, price) in fields {
            ok &= self.check(
                &format!("{path}.{name}"),
                price.is_finite() && (0.0..=MAX_PRICE).contains(&price),
                format!("{price} is not a price: use USD per GB, from 0 to {MAX_PRICE}"),
            );
        }
        ok
    }

    /// The site a reference names; `None` (with an error unless the name was declared in an
    /// entry that already failed) when there is none.
    fn site(&mut self, path: &str, name: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(name) {
            return Some(i);
        }
        if !self.mentioned.contains(name) {
            self.error(path, format!("unknown cluster \"{name}\""));
        }
        None
    }

    /// A site that must export the service.
    fn exporter(&mut self, path: &str, name: &str, sites: &[Declared]) -> Option<usize> {
        let site = self.site(path, name)?;
        self.check(
            path,
            sites[site].site.exports(),
            format!("cluster \"{name}\" exports nothing (it has no servers)"),
        )
        .then_some(site)
    }

    /// Two distinct sites.
    fn pair(&mut self, path: &str, names: &[String]) -> Option<(usize, usize)> {
        if names.len() != 2 {
            self.error(
                path,
                format!("names {} clusters: name exactly two", names.len()),
            );
            return None;
        }
        let a = self.site(&format!("{path}[0]"), &names[0]);
        let b = self.site(&format!("{path}[1]"), &names[1]);
        let (a, b) = (a?, b?);
        self.check(path, a != b, "name two different clusters")
            .then_some((a, b))
    }

    fn clients(
        &mut self,
        raw: Option<Value>,
        pods: usize,
        nodes: usize,
        connections_per_pod: usize,
    ) -> Vec<Group> {
        let entries = self.list("clients", raw);
        if entries.is_empty() {
            self.error("clients", "at least one client cluster is required");
        }
        let mut groups = Vec::new();
        let mut seen: HashMap<usize, String> = HashMap::new();
        let mut total = 0.0;
        let mut all_decoded = true;
        for (path, value) in entries {
            let Some(c) = self.decode::<RawClient>(&path, value) else {
                all_decoded = false;
                continue;
            };
            let demand = c.demand;
            let demand_ok = self.check(
                &format!("{path}.demand"),
                demand.is_finite() && (0.0..=1.0).contains(&demand),
                format!("{demand} is not a fraction of the demand: use 0 to 1"),
            );
            total += if demand_ok { demand } else { 0.0 };
            all_decoded &= demand_ok;
            let pods = c.pods.map_or(pods, |n| {
                self.count(&format!("{path}.pods"), n, 1, MAX_PODS)
            });
            let nodes = c.nodes.map_or(nodes, |n| {
                self.count(&format!("{path}.nodes"), n, 1, MAX_PODS)
            });
            let limit = MAX_SLOTS;
            if pods * connections_per_pod > limit {
                self.error(
                    format!("{path}.pods"),
                    format!(
                        "{pods} pods of {connections_per_pod} connections: at most {limit} connections per client cluster"
                    ),
                );
            }
            let Some(site) = self.site(&format!("{path}.cluster"), &c.cluster) else {
                all_decoded = false;
                continue;
            };
            if let Some(first) = seen.get(&site) {
                self.error(
                    format!("{path}.cluster"),
                    format!("cluster \"{}\" already has clients (at {first})", c.cluster),
                );
                continue;
            }
            seen.insert(site, path.clone());
            groups.push(Group {
                site,
                demand,
                pods,
                nodes,
            });
        }
        if all_decoded && !groups.is_empty() && (total - 1.0).abs() > 1e-6 {
            self.error(
                "clients",
                format!("the demand fractions add up to {total}, not 1"),
            );
        }
        groups
    }

    fn rtt(&mut self, raw: Option<Value>, sites: &[Declared]) -> Vec<Vec<f64>> {
        let raw = match raw.filter(|v| !v.is_null()) {
            Some(value) => self.decode::<RawRtt>("rtt", value),
            None => None,
        };
        let mut rule = RttRule::default();
        let Some(raw) = raw else {
            return rule.matrix(&sites.iter().map(|s| &s.site).collect::<Vec<_>>());
        };
        if let Some(matrix) = raw.matrix {
            if raw.same_cluster.is_some()
                || raw.same_region.is_some()
                || raw.otherwise.is_some()
                || raw.regions.is_some()
            {
                self.error(
                    "rtt",
                    "give a matrix, or the rule (sameCluster, sameRegion, otherwise, regions), not both",
                );
            }
            let n = self.declared;
            if matrix.len() != n {
                self.error(
                    "rtt.matrix",
                    format!(
                        "{} rows for {n} clusters: one row per cluster, in their order",
                        matrix.len()
                    ),
                );
                return Vec::new();
            }
            let mut ok = true;
            for (i, row) in matrix.iter().enumerate() {
                if row.len() != n {
                    self.error(
                        format!("rtt.matrix[{i}]"),
                        format!("{} entries for {n} clusters", row.len()),
                    );
                    ok = false;
                    continue;
                }
                for (j, &ms) in row.iter().enumerate() {
                    ok &= self.check(
                        &format!("rtt.matrix[{i}][{j}]"),
                        ms.is_finite() && ms >= 0.0,
                        format!("{ms} is not a round trip: use ms, 0 or more"),
                    );
                }
            }
            if ok {
                for (i, row) in matrix.iter().enumerate() {
                    for (j, &ms) in row.iter().enumerate().take(i) {
                        if ms != matrix[j][i] {
                            self.error(
                                format!("rtt.matrix[{i}][{j}]"),
                                format!(
                                    "{ms} ms, but rtt.matrix[{j}][{i}] is {} ms: a round trip is the same both ways",
                                    matrix[j][i]
                                ),
                            );
                        }
                    }
                }
            }
            return matrix;
        }
        if let Some(ms) = raw.same_cluster {
            rule.same_cluster = self.non_negative("rtt.sameCluster", ms, MAX_MS);
        }
        if let Some(ms) = raw.same_region {
            rule.same_region = self.non_negative("rtt.sameRegion", ms, MAX_MS);
        }
        if let Some(ms) = raw.otherwise {
            rule.otherwise = self.non_negative("rtt.otherwise", ms, MAX_MS);
        }
        for (i, pair) in raw.regions.unwrap_or_default().into_iter().enumerate() {
            let path = format!("rtt.regions[{i}]");
            self.non_negative(&format!("{path}.ms"), pair.ms, MAX_MS);
            if pair.between.len() != 2 || pair.between.iter().any(String::is_empty) {
                self.error(
                    format!("{path}.between"),
                    "name exactly two regions, e.g. [us-east-1, us-west-2]",
                );
                continue;
            }
            rule.regions
                .push((pair.between[0].clone(), pair.between[1].clone(), pair.ms));
        }
        rule.matrix(&sites.iter().map(|s| &s.site).collect::<Vec<_>>())
    }

    /// The load steps, and the windows of a ramp's steps.
    fn load(&mut self, raw: Option<Value>) -> (Vec<(f64, f64)>, Vec<Window>) {
        match raw {
            None | Some(Value::Null) => {
                self.error(
                    "load",
                    "required: a multiple of allocated capacity, a list of steps ({at, load}), or {ramp: ...}",
                );
                (Vec::new(), Vec::new())
            }
            Some(value @ Value::Number(_)) => {
                let load = self.decode::<f64>("load", value).unwrap_or(0.0);
                (vec![(0.0, self.load_value("load", load))], Vec::new())
            }
            Some(value @ Value::Sequence(_)) => {
                let mut steps = Vec::new();
                for (path, value) in self.list("load", Some(value)) {
                    if let Some(step) = self.decode::<RawLoadStep>(&path, value) {
                        let at = self.time(&format!("{path}.at"), step.at);
                        let load = self.load_value(&format!("{path}.load"), step.load);
                        steps.push((at, load));
                    }
                }
                if steps.is_empty() && self.errors.is_empty() {
                    self.error("load", "at least one step is required");
                }
                (steps, Vec::new())
            }
            Some(value @ Value::Mapping(_)) => match self.decode::<RawLoadRamp>("load", value) {
                Some(RawLoadRamp { ramp }) => self.ramp(ramp),
                None => (Vec::new(), Vec::new()),
            },
            Some(_) => {
                self.error(
                    "load",
                    "must be a number, a list of steps ({at, load}), or {ramp: ...}",
                );
                (Vec::new(), Vec::new())
            }
        }
    }

    fn ramp(&mut self, ramp: RawRamp) -> (Vec<(f64, f64)>, Vec<Window>) {
        let path = "load.ramp";
        let from = self.load_value(&format!("{path}.from"), ramp.from);
        let to = self.load_value(&format!("{path}.to"), ramp.to);
        let step = self.positive(&format!("{path}.step"), ramp.step, MAX_LOAD);
        let hold = self.positive(&format!("{path}.hold"), ramp.hold, MAX_DURATION_S);
        let start = ramp.start.map_or(0.0, |s| {
            self.non_negative(&format!("{path}.start"), s, MAX_DURATION_S)
        });
        let settle = ramp.settle.map_or(0.0, |s| {
            self.non_negative(&format!("{path}.settle"), s, MAX_DURATION_S)
        });
        let before = self.errors.len();
        if to < from {
            self.error(format!("{path}.to"), format!("{to} is below from ({from})"));
        }
        if settle >= hold {
            self.error(
                format!("{path}.settle"),
                format!("{settle} s leaves nothing of each {hold} s step to measure"),
            );
        }
        if self.errors.len() > before || !(from.is_finite() && step > 0.0 && step.is_finite()) {
            return (Vec::new(), Vec::new());
        }
        let steps = ((to - from) / step + 1e-9).floor() + 1.0;
        if steps > MAX_RAMP_STEPS {
            self.error(
                format!("{path}.step"),
                format!("{steps} steps: at most {MAX_RAMP_STEPS}"),
            );
            return (Vec::new(), Vec::new());
        }
        let steps = steps as usize;
        let end = start + steps as f64 * hold;
        if end > self.duration {
            self.error(
                path,
                format!(
                    "its {steps} steps of {hold} s end at {end} s, after the duration ({} s)",
                    self.duration
                ),
            );
            return (Vec::new(), Vec::new());
        }
        let decimals = (0..=3)
            .find(|&d| {
                let scale = 10f64.powi(d);
                [from, step]
                    .iter()
                    .all(|x| ((x * scale).round() - x * scale).abs() < 1e-6)
            })
            .unwrap_or(3) as usize;
        let loads: Vec<f64> = (0..steps).map(|i| from + step * i as f64).collect();
        let schedule = loads
            .iter()
            .enumerate()
            .map(|(i, &l)| (start + i as f64 * hold, l))
            .collect();
        let windows = loads
            .iter()
            .enumerate()
            .map(|(i, &l)| Window {
                label: format!("{l:.decimals$}x"),
                start: start + i as f64 * hold + settle,
                end: start + (i + 1) as f64 * hold,
                load: Some(l),
            })
            .collect();
        (schedule, windows)
    }

    fn events(&mut self, raw: Option<Value>, sites: &[Declared]) -> Vec<(f64, Change)> {
        let mut events = Vec::new();
        for (path, value) in self.list("events", raw) {
            let Some(e) = self.decode::<RawEvent>(&path, value) else {
                continue;
            };
            let at = self.time(&format!("{path}.at"), e.at);
            let given: Vec<&str> = [
                ("load", e.load.is_some()),
                ("down", e.down.is_some()),
                ("up", e.up.is_some()),
                ("slowdown", e.slowdown.is_some()),
                ("partition", e.partition.is_some()),
                ("heal", e.heal.is_some()),
                ("rtt", e.rtt.is_some()),
                ("prices", e.prices.is_some()),
                ("endpoints", e.endpoints.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, given)| given.then_some(k))
            .collect();
            match given.len() {
                0 => {
                    self.error(&path, format!("nothing happens: give one of {EVENT_KINDS}"));
                    continue;
                }
                1 => {}
                _ => {
                    self.error(
                        &path,
                        format!("one event per entry, found {}", given.join(" and ")),
                    );
                    continue;
                }
            }
            let change = if let Some(load) = e.load {
                Some(Change::Load(self.load_value(&format!("{path}.load"), load)))
            } else if let Some(name) = e.down {
                self.exporter(&format!("{path}.down"), &name, sites)
                    .map(Change::Down)
            } else if let Some(name) = e.up {
                self.exporter(&format!("{path}.up"), &name, sites)
                    .map(Change::Up)
            } else if let Some(s) = e.slowdown {
                let p = format!("{path}.slowdown");
                let site = self.exporter(&format!("{p}.cluster"), &s.cluster, sites);
                let factor = self.positive(&format!("{p}.factor"), s.factor, MAX_SPEED);
                site.map(|site| Change::Slowdown(site, factor))
            } else if let Some(names) = e.partition {
                self.pair(&format!("{path}.partition"), &names)
                    .map(|(a, b)| Change::Partition(a, b))
            } else if let Some(names) = e.heal {
                self.pair(&format!("{path}.heal"), &names)
                    .map(|(a, b)| Change::Heal(a, b))
            } else if let Some(r) = e.rtt {
                let p = format!("{path}.rtt");
                let ms = self.non_negative(&format!("{p}.ms"), r.ms, MAX_MS);
                self.pair(&format!("{p}.between"), &r.between)
                    .map(|(a, b)| Change::Rtt(a, b, ms))
            } else if let Some(p) = e.prices {
                let path = format!("{path}.prices");
                let site = self.site(&format!("{path}.cluster"), &p.cluster);
                let table = self.prices(&format!("{path}.to"), p.to);
                site.zip(table).map(|(s, t)| Change::Prices(s, t))
            } else if let Some(x) = e.endpoints {
                let p = format!("{path}.endpoints");
                let site = self.exporter(&format!("{p}.cluster"), &x.cluster, sites);
                let count = self.count(&format!("{p}.count"), x.count, 1, MAX_SERVERS);
                let speed = x
                    .speed
                    .map(|s| self.positive(&format!("{p}.speed"), s, MAX_SPEED));
                site.map(|site| Change::Endpoints(site, count, speed.unwrap_or(sites[site].speed)))
            } else {
                None
            };
            if let Some(change) = change {
                events.push((at, change));
            }
        }
        events
    }

    fn windows(&mut self, raw: Option<Value>, ramp: Vec<Window>, steady_from: f64) -> Vec<Window> {
        let mut windows = Vec::new();
        let mut labels: HashMap<String, String> = HashMap::new();
        for (path, value) in self.list("windows", raw) {
            let Some(w) = self.decode::<RawWindow>(&path, value) else {
                continue;
            };
            let from = self.time(&format!("{path}.from"), w.from);
            let to = self.time(&format!("{path}.to"), w.to);
            if from.is_finite() && to.is_finite() && from >= to {
                self.error(
                    format!("{path}.to"),
                    format!("{to} s is not after from ({from} s)"),
                );
            }
            if let Some(load) = w.load {
                self.load_value(&format!("{path}.load"), load);
            }
            if w.label.is_empty() {
                self.error(format!("{path}.label"), "must not be empty");
            } else if let Some(first) = labels.get(&w.label) {
                self.error(
                    format!("{path}.label"),
                    format!("duplicate window \"{}\" (first at {first})", w.label),
                );
            } else {
                labels.insert(w.label.clone(), path.clone());
            }
            windows.push(Window {
                label: w.label,
                start: from,
                end: to,
                load: w.load,
            });
        }
        for w in ramp {
            if let Some(first) = labels.get(&w.label) {
                self.error(
                    "load.ramp",
                    format!(
                        "its step \"{}\" has the label of the window at {first}",
                        w.label
                    ),
                );
            }
            windows.push(w);
        }
        if windows.is_empty() {
            windows.push(Window {
                label: "all".to_owned(),
                start: steady_from,
                end: self.duration,
                load: None,
            });
        }
        windows
    }

    fn policies(&mut self, raw: Option<Value>) -> Vec<PolicyKind> {
        if raw_missing(&raw) {
            return PolicyKind::ALL.to_vec();
        }
        let entries = self.list("policies", raw);
        if entries.is_empty() {
            self.error(
                "policies",
                "at least one policy is required (leave it out for all)",
            );
        }
        let mut policies = Vec::new();
        for (path, value) in entries {
            let Some(name) = self.decode::<String>(&path, value) else {
                continue;
            };
            match PolicyKind::by_name(&name) {
                None => self.error(
                    &path,
                    format!("unknown policy \"{name}\": use one of {}", policy_names()),
                ),
                Some(kind) if policies.contains(&kind) => {
                    self.error(&path, format!("\"{name}\" is listed twice"));
                }
                Some(kind) => policies.push(kind),
            }
        }
        policies
    }

    /// A policy a goal reads: known and run.
    fn policy(&mut self, path: &str, name: &str, run: &[PolicyKind]) -> Option<PolicyKind> {
        let Some(kind) = PolicyKind::by_name(name) else {
            self.error(
                path,
                format!("unknown policy \"{name}\": use one of {}", policy_names()),
            );
            return None;
        };
        self.check(
            path,
            run.contains(&kind),
            format!("policy \"{name}\" is not run: add it to policies"),
        )
        .then_some(kind)
    }

    fn goal_windows(
        &mut self,
        path: &str,
        labels: Option<Vec<String>>,
        min_load: Option<f64>,
        windows: &[Window],
    ) -> Windows {
        match (labels, min_load) {
            (Some(_), Some(_)) => {
                self.error(path, "give windows or minLoad, not both");
                Windows::Main
            }
            (Some(labels), None) => {
                if labels.is_empty() {
                    self.error(format!("{path}.windows"), "name at least one window");
                }
                for (i, label) in labels.iter().enumerate() {
                    if !windows.iter().any(|w| &w.label == label) {
                        let known: Vec<&str> = windows.iter().map(|w| w.label.as_str()).collect();
                        self.error(
                            format!("{path}.windows[{i}]"),
                            format!(
                                "no window \"{label}\": the windows are {}",
                                known.join(", ")
                            ),
                        );
                    }
                }
                Windows::Labels(labels)
            }
            (None, Some(min)) => {
                let p = format!("{path}.minLoad");
                if self.load_value(&p, min) == min
                    && !windows
                        .iter()
                        .any(|w| w.load.is_some_and(|l| l >= min - 1e-9))
                {
                    self.error(p, format!("no window is held at {min}x or more"));
                }
                Windows::MinLoad(min)
            }
            (None, None) => Windows::Main,
        }
    }

    fn goals(
        &mut self,
        raw: Option<Value>,
        run: &[PolicyKind],
        windows: &[Window],
        sites: &[Declared],
    ) -> Vec<GoalSpec> {
        let mut goals = Vec::new();
        for (path, value) in self.list("goals", raw) {
            let Some(g) = self.decode::<RawGoal>(&path, value) else {
                continue;
            };
            let given: Vec<&str> = [
                ("p99Ratio", g.p99_ratio.is_some()),
                ("errorRatio", g.error_ratio.is_some()),
                ("costRatio", g.cost_ratio.is_some()),
                ("p99Slo", g.p99_slo.is_some()),
                ("shareAfter", g.share_after.is_some()),
                ("swing", g.swing.is_some()),
                ("settle", g.settle.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, given)| given.then_some(k))
            .collect();
            if given.len() != 1 {
                let message = if given.is_empty() {
                    format!("no goal: give one of {GOAL_KINDS}")
                } else {
                    format!("one goal per entry, found {}", given.join(" and "))
                };
                self.error(&path, message);
                continue;
            }
            let kind = given[0];
            let p = format!("{path}.{kind}");
            let check = if let Some(r) = g.p99_ratio.or(g.error_ratio).or(g.cost_ratio) {
                let policy = self.policy(&format!("{p}.policy"), &r.policy, run);
                let named: Vec<String> = match r.than {
                    RawPolicies::One(name) => vec![name],
                    RawPolicies::Several(names) => names,
                };
                if named.is_empty() {
                    self.error(format!("{p}.than"), "name at least one policy");
                }
                let than: Option<Vec<PolicyKind>> = named
                    .iter()
                    .enumerate()
                    .map(|(i, name)| self.policy(&format!("{p}.than[{i}]"), name, run))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect();
                let than = than.filter(|t| !t.is_empty());
                let at_most = self.non_negative(&format!("{p}.atMost"), r.at_most, MAX_RATIO);
                let windows = self.goal_windows(&p, r.windows, r.min_load, windows);
                policy.zip(than).map(|(policy, than)| match kind {
                    "p99Ratio" => Check::P99Ratio {
                        policy,
                        than,
                        at_most,
                        windows,
                    },
                    "errorRatio" => Check::ErrorRatio {
                        policy,
                        than,
                        at_most,
                        windows,
                    },
                    _ => Check::CostRatio {
                        policy,
                        than,
                        at_most,
                        windows,
                    },
                })
            } else if let Some(s) = g.p99_slo {
                let policy = self.policy(&format!("{p}.policy"), &s.policy, run);
                let ms = s.ms.map(|ms| self.positive(&format!("{p}.ms"), ms, MAX_MS));
                let windows = self.goal_windows(&p, s.windows, s.min_load, windows);
                policy.map(|policy| Check::P99Slo {
                    policy,
                    ms,
                    windows,
                })
            } else if let Some(s) = g.share_after {
                let policy = self.policy(&format!("{p}.policy"), &s.policy, run);
                let site = self.exporter(&format!("{p}.cluster"), &s.cluster, sites);
                let from = self.time(&format!("{p}.from"), s.from);
                let settle = s.settle.map_or(0.0, |x| {
                    self.non_negative(&format!("{p}.settle"), x, MAX_DURATION_S)
                });
                let until = s
                    .until
                    .map_or(self.duration, |t| self.time(&format!("{p}.until"), t));
                if from + settle >= until {
                    self.error(
                        &p,
                        format!(
                            "from + settle ({} s) is not before until ({until} s)",
                            from + settle
                        ),
                    );
                }
                let below = s.below;
                self.check(
                    &format!("{p}.below"),
                    below.is_finite() && below > 0.0 && below <= 1.0,
                    format!("{below} is not a fraction: use more than 0, at most 1"),
                );
                policy.zip(site).map(|(policy, site)| Check::ShareAfter {
                    policy,
                    site,
                    from,
                    settle,
                    until,
                    below,
                    each_second: s.each_second.unwrap_or(false),
                })
            } else if let Some(s) = g.swing {
                let policy = self.policy(&format!("{p}.policy"), &s.policy, run);
                let at_most = self.non_negative(&format!("{p}.atMost"), s.at_most, MAX_RATIO);
                policy.map(|policy| Check::Swing { policy, at_most })
            } else if let Some(s) = g.settle {
                let policy = self.policy(&format!("{p}.policy"), &s.policy, run);
                let at = self.time(&format!("{p}.at"), s.at);
                let band = self.non_negative(&format!("{p}.band"), s.band, 100.0);
                let within = self.non_negative(&format!("{p}.within"), s.within, MAX_DURATION_S);
                let at_least = self.non_negative(&format!("{p}.atLeast"), s.at_least, 100.0);
                policy.map(|policy| Check::Settle {
                    policy,
                    at,
                    band,
                    within,
                    at_least,
                })
            } else {
                None
            };
            if let Some(check) = check {
                goals.push(GoalSpec {
                    description: g.description,
                    check,
                });
            }
        }
        goals
    }
}

fn policy_names() -> String {
    PolicyKind::ALL.map(PolicyKind::name).join(", ")
}

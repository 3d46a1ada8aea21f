//! Turns a [`RawClusterSet`] into a valid [`ClusterSet`], collecting every problem it finds with
//! the path of the field at fault rather than stopping at the first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use aviator_optimizer::MAX_OFFERED_LOAD;
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use super::error::FieldError;
use super::raw::*;
use crate::state::*;

/// Validates the whole file. Either every check passes or every failure is returned.
/// On failure, the first [`MAX_ERRORS`] errors and the number of the rest.
pub(crate) fn validate(raw: RawClusterSet) -> Result<ClusterSet, (Vec<FieldError>, usize)> {
    let mut v = Validator::default();
    let dns = v.dns(raw.dns);
    // Ids of every cluster entry, even one that fails to decode, so that its other errors do not
    // cascade into "unknown cluster" errors wherever it is named.
    let mentioned: Vec<String> = raw
        .clusters
        .iter()
        .filter_map(|c| c.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let clusters = v.clusters(raw.clusters);
    let known: HashSet<&str> = mentioned.iter().map(String::as_str).collect();
    let local_cluster = v.local_cluster(raw.local_cluster, &known, &clusters);
    let services = v.services(raw.services, &known);
    if !v.errors.is_empty() {
        return Err((v.errors, v.omitted));
    }
    Ok(ClusterSet {
        local_cluster,
        dns,
        clusters,
        // Collected afresh, not in place: in place would keep the services' allocation.
        services: Vec::from_iter(services.into_iter().map(Arc::new).collect::<Box<[_]>>()),
    })
}

/// Validates one policy written in the clusterset file's shape (the Kubernetes source turns
/// AviatorPolicy specs into it), against the known cluster ids.
pub(crate) fn validate_policy(
    value: Value,
    path: &str,
    known: &HashSet<&str>,
) -> Result<Policy, Vec<FieldError>> {
    let mut v = Validator::default();
    let raw = v.decode::<RawPolicy>(path, value);
    let policy = v.policy(path, raw, known);
    if v.errors.is_empty() {
        Ok(policy)
    } else {
        if v.omitted > 0 {
            let message = format!("and {} more errors", v.omitted);
            v.errors.push(FieldError {
                path: path.to_owned(),
                message,
            });
        }
        Err(v.errors)
    }
}

/// The most errors one validation keeps; the rest are only counted. A file of millions of bad
/// entries is refused in the time it takes to read, not with a message of hundreds of MB.
pub const MAX_ERRORS: usize = 100;

#[derive(Default)]
struct Validator {
    errors: Vec<FieldError>,
    /// Errors past [`MAX_ERRORS`], counted and dropped.
    omitted: usize,
    /// One id per cluster, shared by every export and weight that names it.
    cluster_ids: HashMap<String, ClusterId>,
}

impl Validator {
    /// The shared id of cluster `id`.
    fn cluster_id(&mut self, id: &str) -> ClusterId {
        if let Some(shared) = self.cluster_ids.get(id) {
            return shared.clone();
        }
        let shared = ClusterId::new(id);
        self.cluster_ids.insert(id.to_owned(), shared.clone());
        shared
    }

    /// Errors so far, kept or not.
    fn error_count(&self) -> usize {
        self.errors.len() + self.omitted
    }

    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        if self.errors.len() >= MAX_ERRORS {
            self.omitted += 1;
            return;
        }
        self.errors.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Decodes one section or list element, recording a type error under `path`.
    fn decode<T: DeserializeOwned>(&mut self, path: &str, value: Value) -> Option<T> {
        match serde_path_to_error::deserialize(value) {
            Ok(decoded) => Some(decoded),
            Err(error) => {
                self.error(
                    nest(path, &error.path().to_string()),
                    error.into_inner().to_string(),
                );
                None
            }
        }
    }

    fn dns(&mut self, raw: Option<Value>) -> DnsSettings {
        let mut dns = DnsSettings::default();
        let Some(raw) = raw.and_then(|value| self.decode::<RawDns>("dns", value)) else {
            return dns;
        };
        if let Some(zones) = raw.zones {
            if zones.is_empty() {
                self.error("dns.zones", "at least one zone is required");
            }
            dns.zones.clear();
            for (i, zone) in zones.iter().enumerate() {
                let path = format!("dns.zones[{i}]");
                match normalize_zone(zone) {
                    Err(message) => self.error(path, message),
                    Ok(zone) => {
                        if let Some(other) = dns.zones.iter().find(|z| nested(z, &zone)) {
                            self.error(path, format!("zone \"{zone}\" overlaps zone \"{other}\""));
                        } else {
                            dns.zones.push(zone);
                        }
                    }
                }
            }
        }
        if let Some(ttl) = raw.ttl {
            dns.ttl = self.ttl("dns.ttl", ttl);
            dns.negative_ttl = dns.ttl;
        }
        if let Some(ttl) = raw.negative_ttl {
            dns.negative_ttl = self.ttl("dns.negativeTtl", ttl);
        }
        dns
    }

    fn ttl(&mut self, path: &str, ttl: i64) -> u32 {
        match u32::try_from(ttl) {
            Ok(ttl) if ttl <= MAX_TTL => ttl,
            _ => {
                self.error(
                    path,
                    format!("{ttl} is out of range: a TTL is 0 to {MAX_TTL} seconds"),
                );
                DEFAULT_TTL
            }
        }
    }

    fn clusters(&mut self, raw: Vec<Value>) -> Vec<Cluster> {
        if raw.is_empty() {
            self.error("clusters", "at least one cluster is required");
        }
        let mut first_seen: HashMap<String, usize> = HashMap::new();
        let mut clusters = Vec::new();
        for (i, value) in raw.into_iter().enumerate() {
            let path = format!("clusters[{i}]");
            let Some(raw) = self.decode::<RawCluster>(&path, value) else {
                continue;
            };
            if !self.label(&format!("{path}.id"), &raw.id) {
                continue;
            }
            if let Some(first) = first_seen.insert(raw.id.clone(), i) {
                self.error(
                    format!("{path}.id"),
                    format!(
                        "duplicate cluster \"{}\" (first declared at clusters[{first}])",
                        raw.id
                    ),
                );
                first_seen.insert(raw.id.clone(), first);
                continue;
            }
            let prices = raw.prices.map(|p| PriceTable {
                egress: self.price_row(&format!("{path}.prices.egress"), &p.egress),
                ingress: p
                    .ingress
                    .map(|row| self.price_row(&format!("{path}.prices.ingress"), &row))
                    .unwrap_or_default(),
            });
            clusters.push(Cluster {
                id: self.cluster_id(&raw.id),
                provider: raw.provider,
                region: raw.region,
                zone: raw.zone,
                connected: raw.connected,
                prices,
            });
        }
        clusters.sort_by(|a, b| a.id.cmp(&b.id));
        clusters
    }

    fn price_row(&mut self, path: &str, raw: &PriceRow) -> PriceRow {
        let fields = [
            ("intraZone", raw.intra_zone),
            ("interZone", raw.inter_zone),
            ("interRegion", raw.inter_region),
            ("interContinent", raw.inter_continent),
            ("internet", raw.internet),
        ];
        for (name, price) in fields {
            if !(price.is_finite() && price >= 0.0) {
                self.error(
                    format!("{path}.{name}"),
                    format!("{price} is not a price: use a non-negative number of USD per GB"),
                );
            }
        }
        *raw
    }

    fn local_cluster(
        &mut self,
        raw: Option<String>,
        known: &HashSet<&str>,
        clusters: &[Cluster],
    ) -> ClusterId {
        match raw {
            None => self.error(
                "localCluster",
                "missing: name the cluster this instance runs in",
            ),
            Some(id) if !known.contains(id.as_str()) => self.error(
                "localCluster",
                format!("unknown cluster \"{id}\" (declared: {})", list(clusters)),
            ),
            Some(id) => return self.cluster_id(&id),
        }
        ClusterId::new("")
    }

    fn services(&mut self, raw: RawServices, known: &HashSet<&str>) -> Vec<Service> {
        let mut first_seen: HashMap<(String, String), usize> = HashMap::new();
        let mut services = Vec::with_capacity(raw.decoded.len());
        let mut failed = raw.failed.into_iter().peekable();
        // The entries that did not decode are reported in their place among the others.
        let mut report_failed_before = |v: &mut Self, index: usize| {
            while let Some(entry) = failed.next_if(|f| f.index < index) {
                let path = format!("services[{}]", entry.index);
                v.error(nest(&path, &entry.path), entry.message);
            }
        };
        for (i, raw) in raw.decoded {
            report_failed_before(self, i);
            let path = format!("services[{i}]");
            let name_ok = self.label(&format!("{path}.name"), &raw.name);
            let namespace_ok = self.label(&format!("{path}.namespace"), &raw.namespace);
            if name_ok && namespace_ok {
                let key = (raw.namespace.clone(), raw.name.clone());
                if let Some(&first) = first_seen.get(&key) {
                    self.error(
                        format!("{path}.name"),
                        format!(
                            "duplicate service \"{}/{}\" (first declared at services[{first}])",
                            raw.namespace, raw.name
                        ),
                    );
                    continue;
                }
                first_seen.insert(key, i);
            }
            if let Some(service) = self.service(&path, raw, known) {
                services.push(service);
            }
        }
        report_failed_before(self, usize::MAX);
        self.omitted += raw.omitted;
        services.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        services
    }

    fn service(&mut self, path: &str, raw: RawService, known: &HashSet<&str>) -> Option<Service> {
        let errors_before = self.error_count();
        let service_type = match raw.service_type {
            RawServiceType::ClusterSetIp => ServiceType::ClusterSetIp,
            RawServiceType::Headless => ServiceType::Headless,
        };
        // One list for every export that declares no ports of its own.
        let ports: Arc<[Port]> = self.ports(&format!("{path}.ports"), &raw.ports).into();
        let vips = self.ips(&format!("{path}.vips"), &raw.vips);
        if service_type == ServiceType::Headless && !vips.is_empty() {
            self.error(
                format!("{path}.vips"),
                "a Headless service has no clusterset VIPs",
            );
        }
        let mut exports: Vec<Export> = Vec::with_capacity(raw.exports.len());
        let mut exported_by: HashMap<&str, usize> = HashMap::new();
        for (j, raw_export) in raw.exports.iter().enumerate() {
            let path = format!("{path}.exports[{j}]");
            if !known.contains(raw_export.cluster.as_str()) {
                self.error(
                    format!("{path}.cluster"),
                    format!("unknown cluster \"{}\"", raw_export.cluster),
                );
                continue;
            }
            if let Some(first) = exported_by.insert(&raw_export.cluster, j) {
                self.error(
                    format!("{path}.cluster"),
                    format!(
                        "cluster \"{}\" already exports this service at exports[{first}]",
                        raw_export.cluster
                    ),
                );
                continue;
            }
            exports.push(self.export(&path, raw_export, service_type, &ports));
        }
        exports.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        let policy = self.policy(&format!("{path}.policy"), raw.policy, known);
        if self.error_count() > errors_before {
            return None;
        }
        Some(Service {
            namespace: raw.namespace,
            name: raw.name,
            service_type,
            vips,
            exports,
            policy,
        })
    }

    fn export(
        &mut self,
        path: &str,
        raw: &RawExport,
        service_type: ServiceType,
        service_ports: &Arc<[Port]>,
    ) -> Export {
        let ips = self.ips(&format!("{path}.ips"), &raw.ips);
        let ports = match &raw.ports {
            Some(ports) => match self.ports(&format!("{path}.ports"), ports) {
                same if same[..] == service_ports[..] => service_ports.clone(),
                own => own.into(),
            },
            None => service_ports.clone(),
        };
        let mut endpoints = Vec::new();
        match service_type {
            ServiceType::ClusterSetIp => {
                if raw.ips.is_empty() {
                    self.error(
                        format!("{path}.ips"),
                        "a ClusterSetIP export needs its service IP (one IPv4 and/or one IPv6)",
                    );
                }
                if !raw.endpoints.is_empty() {
                    self.error(
                        format!("{path}.endpoints"),
                        "only Headless exports list endpoints; a ClusterSetIP export has ips",
                    );
                }
            }
            ServiceType::Headless => {
                if !raw.ips.is_empty() {
                    self.error(
                        format!("{path}.ips"),
                        "a Headless export has no service IP; list its pods under endpoints",
                    );
                }
                let mut hostnames: HashMap<&str, usize> = HashMap::new();
                for (k, endpoint) in raw.endpoints.iter().enumerate() {
                    let path = format!("{path}.endpoints[{k}]");
                    let addresses = self.ips(&format!("{path}.addresses"), &endpoint.addresses);
                    if endpoint.addresses.is_empty() {
                        self.error(format!("{path}.addresses"), "an endpoint needs an address");
                    }
                    let Some(hostname) = &endpoint.hostname else {
                        self.error(
                            format!("{path}.hostname"),
                            "a Headless endpoint needs a hostname: it names the endpoint's \
                             records (<hostname>.<cluster>.<svc>.<ns>.svc) and SRV targets",
                        );
                        continue;
                    };
                    if !self.label(&format!("{path}.hostname"), hostname) {
                        continue;
                    }
                    if let Some(first) = hostnames.insert(hostname, k) {
                        self.error(
                            format!("{path}.hostname"),
                            format!(
                                "duplicate hostname \"{hostname}\" (also at endpoints[{first}])"
                            ),
                        );
                        continue;
                    }
                    endpoints.push(Endpoint {
                        hostname: hostname.clone(),
                        addresses,
                        ready: endpoint.ready,
                    });
                }
            }
        }
        for (name, measurement) in [("rtt", &raw.rtt), ("latency", &raw.latency)] {
            if let Some(m) = measurement {
                let figures = [
                    ("meanMs", Some(m.mean_ms)),
                    ("p99Ms", m.p99_ms),
                    ("ageS", Some(m.age_s)),
                ];
                for (field, value) in figures {
                    if let Some(v) = value.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                        self.error(
                            format!("{path}.{name}.{field}"),
                            format!("{v} is not a duration: use a number >= 0"),
                        );
                    }
                }
            }
        }
        if let Some(u) = raw
            .utilization
            .filter(|u| !(u.is_finite() && (0.0..=MAX_OFFERED_LOAD).contains(u)))
        {
            self.error(
                format!("{path}.utilization"),
                format!(
                    "{u} is not a load: use 0 to 1 (the busy fraction), or up to {MAX_OFFERED_LOAD} for the offered load of a saturated export"
                ),
            );
        }
        Export {
            cluster: self.cluster_id(&raw.cluster),
            ips,
            ready: raw.ready,
            ports,
            endpoints,
            ready_endpoints: raw.ready_endpoints,
            ejected: false,
            figures: Figures {
                rtt: raw.rtt,
                latency: raw.latency,
                // Declared: the operator's word, which does not age.
                load: raw.utilization.map(|u| LoadReport {
                    utilization: Some(u),
                    latency_ms: None,
                    error_rate: None,
                    age_s: 0.0,
                }),
                probed_load: None,
            }
            .boxed(),
        }
    }

    fn ports(&mut self, path: &str, raw: &[RawPort]) -> Vec<Port> {
        let mut ports: Vec<Port> = Vec::new();
        for (i, raw) in raw.iter().enumerate() {
            let path = format!("{path}[{i}]");
            let port = match u16::try_from(raw.port) {
                Ok(port) if port > 0 => port,
                _ => {
                    self.error(
                        format!("{path}.port"),
                        format!("{} is out of range: a port is 1 to 65535", raw.port),
                    );
                    continue;
                }
            };
            if let Some(name) = &raw.name {
                if !self.label(&format!("{path}.name"), name) {
                    continue;
                }
                if ports.iter().any(|p| p.name.as_deref() == Some(name)) {
                    self.error(
                        format!("{path}.name"),
                        format!("duplicate port name \"{name}\""),
                    );
                    continue;
                }
            }
            let protocol = match raw.protocol {
                RawProtocol::Tcp => Protocol::Tcp,
                RawProtocol::Udp => Protocol::Udp,
                RawProtocol::Sctp => Protocol::Sctp,
            };
            if ports
                .iter()
                .any(|p| p.port == port && p.protocol == protocol)
            {
                self.error(
                    format!("{path}.port"),
                    format!(
                        "port {port}/{} is listed twice",
                        protocol.label().to_uppercase()
                    ),
                );
                continue;
            }
            ports.push(Port {
                name: raw.name.as_deref().map(Arc::from),
                port,
                protocol,
            });
        }
        ports
    }

    fn ips(&mut self, path: &str, raw: &[String]) -> Vec<IpAddr> {
        // Exact: a Vec grown by pushing keeps room for four, per export.
        let mut ips = Vec::with_capacity(raw.len());
        for (i, text) in raw.iter().enumerate() {
            match text.parse::<IpAddr>() {
                Ok(ip) if ips.contains(&ip) => {
                    self.error(format!("{path}[{i}]"), format!("duplicate address {ip}"));
                }
                Ok(ip) => ips.push(ip),
                Err(_) => self.error(
                    format!("{path}[{i}]"),
                    format!("\"{text}\" is not an IPv4 or IPv6 address"),
                ),
            }
        }
        ips
    }

    fn policy(&mut self, path: &str, raw: Option<RawPolicy>, known: &HashSet<&str>) -> Policy {
        let Some(raw) = raw else {
            return Policy::default();
        };
        if raw.mode != RawMode::Optimized {
            self.reject_optimizer_fields(path, &raw);
        }
        let mode = match raw.mode {
            RawMode::Optimized => {
                if !raw.weights.is_empty() {
                    self.error(
                        format!("{path}.weights"),
                        "weights apply only to mode WeightedRoundRobin",
                    );
                }
                Mode::Optimized(Box::new(self.optimized(path, &raw)))
            }
            RawMode::RoundRobin => {
                if !raw.weights.is_empty() {
                    self.error(
                        format!("{path}.weights"),
                        "weights apply only to mode WeightedRoundRobin",
                    );
                }
                Mode::RoundRobin
            }
            RawMode::WeightedRoundRobin => {
                let mut weights = BTreeMap::new();
                for (cluster, &weight) in &raw.weights {
                    let path = format!("{path}.weights.{cluster}");
                    if !known.contains(cluster.as_str()) {
                        self.error(path, format!("unknown cluster \"{cluster}\""));
                    } else if !(weight.is_finite()
                        && (0.0..=f64::from(crate::kubernetes::crd::MAX_WEIGHT)).contains(&weight))
                    {
                        self.error(
                            path,
                            format!(
                                "{weight} is not a weight: use a number from 0 (drains) to {}",
                                crate::kubernetes::crd::MAX_WEIGHT
                            ),
                        );
                    } else {
                        weights.insert(self.cluster_id(cluster), weight);
                    }
                }
                Mode::WeightedRoundRobin { weights }
            }
        };
        if let Some(probe) = raw.probe_path.as_deref().filter(|p| !p.starts_with('/')) {
            self.error(
                format!("{path}.probePath"),
                format!("\"{probe}\" must start with '/'"),
            );
        }
        if raw.probe_port == Some(0) {
            self.error(
                format!("{path}.probePort"),
                "0 is out of range: a port is 1 to 65535",
            );
        }
        if matches!(raw.probe_interval_seconds, Some(s) if !(1..=3600).contains(&s)) {
            self.error(
                format!("{path}.probeIntervalSeconds"),
                "out of range: use 1 to 3600 seconds",
            );
        }
        if raw.probe == Some(false) && (raw.probe_path.is_some() || raw.probe_port.is_some()) {
            self.error(
                format!("{path}.probe"),
                "probing is off, yet probePath or probePort is set",
            );
        }
        let probing = raw.probe.unwrap_or(
            raw.probe_path.is_some()
                || raw.probe_port.is_some()
                || raw.probe_interval_seconds.is_some(),
        );
        Policy {
            mode,
            prefer_local: raw.prefer_local,
            probe: probing.then(|| ProbeSpec {
                path: raw.probe_path.clone(),
                port: raw.probe_port,
                interval_s: raw.probe_interval_seconds,
            }),
        }
    }

    fn optimized(&mut self, path: &str, raw: &RawPolicy) -> Optimized {
        let defaults = aviator_optimizer::Policy::default();
        let mut check =
            |field: &str, value: Option<f64>, ok: fn(f64) -> bool, rule: &str, default: f64| {
                match value {
                    Some(v) if !(v.is_finite() && ok(v)) => {
                        self.error(
                            format!("{path}.{field}"),
                            format!("{v} is out of range: {rule}"),
                        );
                        default
                    }
                    Some(v) => v,
                    None => default,
                }
            };
        let tradeoff = check(
            "tradeoff",
            raw.tradeoff,
            |v| (0.0..=1.0).contains(&v),
            "use 0 (price only) to 1 (latency only)",
            defaults.tradeoff,
        );
        let min_share = check(
            "minShare",
            raw.min_share,
            |v| (0.0..=0.5).contains(&v),
            "use 0 to 0.5",
            defaults.min_share,
        );
        let migration_s = check(
            "migrationSeconds",
            raw.migration_seconds,
            |v| v > 0.0 && v <= 600.0,
            "use more than 0, at most 600",
            defaults.migration_s,
        );
        let full_gap = check(
            "fullGap",
            raw.full_gap,
            |v| v > 0.0 && v <= 1.0,
            "use more than 0, at most 1",
            defaults.full_gap,
        );
        let target_utilization = check(
            "targetUtilization",
            raw.target_utilization,
            |v| v > 0.0 && v <= 0.95,
            "use more than 0, at most 0.95",
            defaults.target_utilization,
        );
        let non_negative = |v: f64| v >= 0.0;
        const MAX_SLO_MS: f64 = crate::kubernetes::crd::MAX_LATENCY_SLO_MS as f64;
        const MAX_BYTES: f64 = crate::kubernetes::crd::MAX_MESSAGE_BYTES as f64;
        let latency_slo_ms = raw.latency_slo_ms.map(|v| {
            check(
                "latencySloMs",
                Some(v),
                |v| v > 0.0 && v <= MAX_SLO_MS,
                "use milliseconds > 0, at most 600000 (ten minutes)",
                1.0,
            )
        });
        let usd_per_ms_per_million = raw.usd_per_ms_per_million.map(|v| {
            check(
                "usdPerMsPerMillion",
                Some(v),
                non_negative,
                "use USD >= 0",
                0.0,
            )
        });
        let message_bytes = |v: f64| (0.0..=MAX_BYTES).contains(&v);
        let request_bytes = check(
            "requestBytes",
            raw.request_bytes,
            message_bytes,
            "use bytes >= 0, at most 1 GiB (1073741824)",
            DEFAULT_REQUEST_BYTES,
        );
        let response_bytes = check(
            "responseBytes",
            raw.response_bytes,
            message_bytes,
            "use bytes >= 0, at most 1 GiB (1073741824)",
            DEFAULT_RESPONSE_BYTES,
        );
        Optimized {
            policy: aviator_optimizer::Policy {
                objective: raw.objective.unwrap_or_default(),
                tradeoff,
                usd_per_ms_per_million,
                prefer_local: raw.prefer_local,
                min_share,
                latency_slo_ms,
                migration_s,
                full_gap,
                target_utilization,
                ..defaults
            },
            request_bytes,
            response_bytes,
        }
    }

    fn reject_optimizer_fields(&mut self, path: &str, raw: &RawPolicy) {
        let set = [
            ("objective", raw.objective.is_some()),
            ("tradeoff", raw.tradeoff.is_some()),
            ("usdPerMsPerMillion", raw.usd_per_ms_per_million.is_some()),
            ("minShare", raw.min_share.is_some()),
            ("latencySloMs", raw.latency_slo_ms.is_some()),
            ("migrationSeconds", raw.migration_seconds.is_some()),
            ("fullGap", raw.full_gap.is_some()),
            ("targetUtilization", raw.target_utilization.is_some()),
            ("requestBytes", raw.request_bytes.is_some()),
            ("responseBytes", raw.response_bytes.is_some()),
        ];
        for (field, present) in set {
            if present {
                self.error(format!("{path}.{field}"), "applies only to mode Optimized");
            }
        }
    }

    /// Checks a DNS-1123 label (what Kubernetes requires of names, namespaces and cluster ids).
    fn label(&mut self, path: &str, text: &str) -> bool {
        match check_label(text) {
            Ok(()) => true,
            Err(message) => {
                self.error(path, message);
                false
            }
        }
    }
}

/// The path of field `inner` (as serde_path_to_error writes it) inside the entry at `path`.
fn nest(path: &str, inner: &str) -> String {
    match inner {
        "." | "" => path.to_owned(),
        inner if inner.starts_with('[') => format!("{path}{inner}"),
        inner => format!("{path}.{inner}"),
    }
}

fn check_label(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let valid_inner = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let ok = !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(valid_inner)
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{text}\" is not a DNS label: use 1 to 63 lower-case letters, digits and '-', \
             starting and ending with a letter or digit"
        ))
    }
}

/// Lower-cases a zone name, drops a trailing dot and checks each label.
fn normalize_zone(zone: &str) -> Result<String, String> {
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    if zone.is_empty() || zone.len() > 253 {
        return Err(format!("\"{zone}\" is not a domain name"));
    }
    for label in zone.split('.') {
        check_label(label).map_err(|e| format!("in zone \"{zone}\": {e}"))?;
    }
    Ok(zone)
}

/// Whether one zone contains the other (or they are equal): answers would be ambiguous.
fn nested(a: &str, b: &str) -> bool {
    let inside = |inner: &str, outer: &str| inner == outer || inner.ends_with(&format!(".{outer}"));
    inside(a, b) || inside(b, a)
}

fn list(clusters: &[Cluster]) -> String {
    let ids: Vec<&str> = clusters.iter().map(|c| c.id.as_str()).collect();
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.join(", ")
    }
}

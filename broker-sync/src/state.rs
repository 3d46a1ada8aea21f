//! The validated model of a clusterset: clusters, exported services, their exports and policies.
//!
//! Values of these types are always valid: sources build them only through validation, so the
//! optimizer and the DNS snapshot builder never re-check names, ranges or references.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

pub use aviator_optimizer::cost::{Location, PriceRow, PriceTable};
pub use aviator_optimizer::{LoadReport, Measurement};

/// A cluster's id as Submariner knows it (a DNS label). Shared: every export of a cluster
/// holds the same id, so a clusterset of many services holds each id once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterId(Arc<str>);

impl ClusterId {
    /// Wraps an id that validation has already checked to be a DNS label.
    pub fn new(id: impl Into<String>) -> Self {
        Self(Arc::from(id.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything Aviator knows about the clusterset at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSet {
    /// The cluster this Aviator instance runs in.
    pub local_cluster: ClusterId,
    pub dns: DnsSettings,
    /// Sorted by id.
    pub clusters: Vec<Cluster>,
    /// Sorted by (namespace, name). Shared, so that a copy of the set with a few services'
    /// measurements filled in costs those few services, not the whole set.
    pub services: Vec<Arc<Service>>,
}

impl ClusterSet {
    /// A copy whose services share nothing with this set's but the cluster ids, allocated
    /// anew: so that it can be laid out afresh in memory, away from a parse's litter. What this
    /// set's services share among themselves, the copy's share too.
    pub fn unshared(&self) -> Self {
        Self {
            local_cluster: self.local_cluster.clone(),
            dns: self.dns.clone(),
            clusters: self.clusters.clone(),
            services: self
                .services
                .iter()
                .map(|service| Arc::new(service.unshared()))
                .collect(),
        }
    }

    pub fn cluster(&self, id: &ClusterId) -> Option<&Cluster> {
        self.clusters
            .binary_search_by(|c| c.id.cmp(id))
            .ok()
            .map(|i| &self.clusters[i])
    }

    /// Whether the cluster is reachable over the Submariner tunnel (unknown clusters are not).
    pub fn is_connected(&self, id: &ClusterId) -> bool {
        self.cluster(id).is_some_and(|c| c.connected)
    }

    /// The service `namespace/name`, to change: found by binary search, since the services are
    /// sorted. Changing it through [`Arc::make_mut`] copies it only if it is shared.
    pub fn service_mut(&mut self, namespace: &str, name: &str) -> Option<&mut Arc<Service>> {
        let i = self
            .services
            .binary_search_by(|s| (s.namespace.as_str(), s.name.as_str()).cmp(&(namespace, name)))
            .ok()?;
        Some(&mut self.services[i])
    }

    /// The service named by a `namespace/name` key, to change.
    pub fn service_by_key_mut(&mut self, key: &str) -> Option<&mut Arc<Service>> {
        let (namespace, name) = key.split_once('/')?;
        self.service_mut(namespace, name)
    }
}

/// How the responder presents the clusterset zones.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsSettings {
    /// Zone apexes, lower case, without the trailing dot (e.g. `clusterset.local`).
    pub zones: Vec<String>,
    /// TTL of positive answers, seconds.
    pub ttl: u32,
    /// TTL of negative answers (the SOA minimum), seconds.
    pub negative_ttl: u32,
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self {
            zones: vec![DEFAULT_ZONE.to_owned()],
            ttl: DEFAULT_TTL,
            negative_ttl: DEFAULT_TTL,
        }
    }
}

/// The zone Lighthouse and the MCS API use.
pub const DEFAULT_ZONE: &str = "clusterset.local";
/// Short enough that weights act within seconds, long enough to spare resolvers (reference §5).
pub const DEFAULT_TTL: u32 = 5;
/// The largest TTL accepted: an hour; longer would make weights meaningless.
pub const MAX_TTL: u32 = 3600;

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub id: ClusterId,
    pub provider: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
    /// Submariner gateway connectivity; connected unless a source says otherwise.
    pub connected: bool,
    pub prices: Option<PriceTable>,
}

impl Cluster {
    pub fn location(&self) -> Location<'_> {
        Location {
            provider: self.provider.as_deref(),
            region: self.region.as_deref(),
            zone: self.zone.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceType {
    /// One virtual IP per cluster; DNS picks a cluster.
    ClusterSetIp,
    /// No virtual IP; DNS returns the pods' addresses.
    Headless,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The label used in SRV names (`_tcp`, without the underscore).
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    /// Lower case; unnamed ports are reachable only through the service-wide SRV answer.
    /// Shared, since every export of a service usually lists the same ports.
    pub name: Option<Arc<str>>,
    pub port: u16,
    pub protocol: Protocol,
}

impl Port {
    /// A copy with a name of its own.
    fn unshared(&self) -> Self {
        Self {
            name: self.name.as_deref().map(Arc::from),
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    pub service_type: ServiceType,
    /// Clusterset VIPs (`ServiceImport.spec.ips`): when present, they are the answer.
    pub vips: Vec<IpAddr>,
    /// Sorted by cluster id; at most one export per cluster.
    pub exports: Vec<Export>,
    pub policy: Policy,
}

impl Service {
    /// A deep copy (see [`ClusterSet::unshared`]); exports that shared a port list still do.
    fn unshared(&self) -> Self {
        let mut copy = self.clone();
        // Each original list with its copy.
        type Copied<'a> = (&'a Arc<[Port]>, Arc<[Port]>);
        let mut lists: Vec<Copied> = Vec::new();
        for (export, original) in copy.exports.iter_mut().zip(&self.exports) {
            export.ports = match lists.iter().find(|(o, _)| Arc::ptr_eq(o, &original.ports)) {
                Some((_, new)) => new.clone(),
                None => {
                    let new: Arc<[Port]> = original.ports.iter().map(Port::unshared).collect();
                    lists.push((&original.ports, new.clone()));
                    new
                }
            };
        }
        copy
    }

    /// Where cluster `cluster`'s export is in `exports` (a scan: a service has a handful).
    pub fn export_index(&self, cluster: &str) -> Option<usize> {
        self.exports
            .iter()
            .position(|e| e.cluster.as_str() == cluster)
    }

    /// The ports every exporting cluster serves, in a stable order (reference §2: the
    /// intersection over exporting clusters).
    pub fn common_ports(&self) -> Vec<Port> {
        let Some((first, rest)) = self.exports.split_first() else {
            return Vec::new();
        };
        let mut ports: Vec<Port> = first
            .ports
            .iter()
            .filter(|p| rest.iter().all(|e| e.ports.contains(p)))
            .cloned()
            .collect();
        ports.sort();
        ports.dedup();
        ports
    }
}

/// One cluster's export of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub cluster: ClusterId,
    /// The service's IPs in that cluster (ClusterSetIP); empty for headless.
    pub ips: Vec<IpAddr>,
    /// The EndpointSlice's ready condition for the service IP.
    pub ready: bool,
    /// Usually the same list for every export of a service, and then shared.
    pub ports: Arc<[Port]>,
    /// Pods behind a headless export.
    pub endpoints: Vec<Endpoint>,
    /// Ready pods behind a ClusterSetIP export, when known (its servers, to the queueing model).
    pub ready_endpoints: Option<u32>,
    /// What is known of its speed and load; `None` exactly when nothing is (read it with
    /// [`Export::figures`], change it with [`Export::update_figures`]).
    pub figures: Option<Box<Figures>>,
    /// Health probing has ejected it.
    pub ejected: bool,
}

/// What is known of an export's speed and load. Boxed in [`Export`], since most exports have
/// none: inline, the four would be three quarters of every export's size.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    /// Network round trip to the export, as declared or measured.
    pub rtt: Option<Measurement>,
    /// Service latency at the export, as declared or measured by this cluster's probes.
    pub latency: Option<Measurement>,
    /// The exporter's own report of the export's load (through the broker, or declared), with
    /// its age.
    pub load: Option<LoadReport>,
    /// The export's report of its load as its own probe responses carried it (ORCA's
    /// `endpoint-load-metrics`); the fresher of this and `load` is the one decided on.
    pub probed_load: Option<LoadReport>,
}

impl Figures {
    const NONE: Figures = Figures {
        rtt: None,
        latency: None,
        load: None,
        probed_load: None,
    };

    /// How an export holds them: no allocation when nothing is known.
    pub fn boxed(self) -> Option<Box<Figures>> {
        (self != Self::NONE).then(|| Box::new(self))
    }
}

/// What this cluster's probes know of one export, as the state folds it in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probed {
    pub rtt: Option<Measurement>,
    pub latency: Option<Measurement>,
    pub ejected: bool,
    /// The export's own load report, read from its probe responses.
    pub load: Option<LoadReport>,
}

impl Export {
    /// What is known of its speed and load (all unknown when nothing is).
    pub fn figures(&self) -> &Figures {
        self.figures.as_deref().unwrap_or(&Figures::NONE)
    }

    /// Changes its figures. They stay unallocated while nothing is known, so that two exports
    /// that know the same compare equal.
    pub fn update_figures(&mut self, change: impl FnOnce(&mut Figures)) {
        let mut figures = *self.figures();
        change(&mut figures);
        if figures != *self.figures() {
            self.figures = figures.boxed();
        }
    }

    /// Folds in this cluster's own measurement of the export: measured figures replace declared
    /// ones once they exist, and probing's verdict is taken.
    pub fn apply_measured(&mut self, probed: Probed) {
        self.ejected = probed.ejected;
        self.update_figures(|figures| {
            figures.rtt = probed.rtt.or(figures.rtt);
            figures.latency = probed.latency.or(figures.latency);
            figures.probed_load = probed.load;
        });
    }

    /// Whether this export could take traffic by the facts: it has something ready to serve and
    /// its cluster is connected. Probing's verdict comes on top, in [`Service::eligibility`].
    pub fn is_serving(&self, service_type: ServiceType, set: &ClusterSet) -> bool {
        let has_ready = match service_type {
            ServiceType::ClusterSetIp => self.ready && !self.ips.is_empty(),
            ServiceType::Headless => self.endpoints.iter().any(|e| e.ready),
        };
        has_ready && set.is_connected(&self.cluster)
    }
}

impl Service {
    /// Which exports are eligible, in order: serving and not ejected by probing. If probing has
    /// ejected every serving export, it fails open to all of them: probes can be wrong, while
    /// readiness and connectivity are facts (reference §2).
    pub fn eligibility(&self, set: &ClusterSet) -> Vec<bool> {
        let serving: Vec<bool> = self
            .exports
            .iter()
            .map(|e| e.is_serving(self.service_type, set))
            .collect();
        let any_healthy = self
            .exports
            .iter()
            .zip(&serving)
            .any(|(e, &s)| s && !e.ejected);
        self.exports
            .iter()
            .zip(serving)
            .map(|(e, s)| s && (!e.ejected || !any_healthy))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Lower case DNS label, unique within its export.
    pub hostname: String,
    pub addresses: Vec<IpAddr>,
    pub ready: bool,
}

/// How DNS spreads a service's lookups over its exports.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub mode: Mode,
    /// Answer with the local export whenever it is eligible (Lighthouse's behaviour).
    pub prefer_local: bool,
    /// Health and latency probing of the exports; off unless the policy asks for it.
    pub probe: Option<ProbeSpec>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            mode: Mode::RoundRobin,
            prefer_local: true,
            probe: None,
        }
    }
}

/// What to probe: always the TCP round trip to the export's first TCP port; with a path, also
/// an HTTP GET for the service's own latency.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProbeSpec {
    pub path: Option<String>,
    /// Port for the HTTP GET; the export's first TCP port if unset.
    pub port: Option<u16>,
    /// Seconds between probes while the service is in demand; the server's setting if unset.
    pub interval_s: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Mode {
    /// Strict rotation over the eligible exports.
    #[default]
    RoundRobin,
    /// Weighted-random choice; a weight is proportional, 0 drains (Route 53 semantics). Clusters
    /// without an entry weigh [`DEFAULT_WEIGHT`].
    WeightedRoundRobin { weights: BTreeMap<ClusterId, f64> },
    /// Shares from the optimizer (latency-, load- and price-aware).
    Optimized(Box<Optimized>),
}

/// The `Optimized` mode's settings: the optimizer's policy plus what it takes to turn the
/// clusterset into its inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimized {
    /// `prefer_local` here is kept equal to [`Policy::prefer_local`].
    pub policy: aviator_optimizer::Policy,
    /// Typical request and response sizes, bytes, for the price of a request.
    pub request_bytes: f64,
    pub response_bytes: f64,
}

/// Typical sizes when the operator gives none: a small API request and a 10 kB response.
pub const DEFAULT_REQUEST_BYTES: f64 = 1_000.0;
pub const DEFAULT_RESPONSE_BYTES: f64 = 10_000.0;

/// The weight of a cluster the operator did not name.
pub const DEFAULT_WEIGHT: f64 = 1.0;

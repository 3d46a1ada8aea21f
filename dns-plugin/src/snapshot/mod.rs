//! The immutable, pre-rendered answers the DNS hot path reads.
//!
//! A [`Snapshot`] is built off the hot path from a validated clusterset (see [`build`]) and then
//! never changes: every answer is a run of wire-format records in its zone's arena (see
//! [`arena`]), and the only per-query work is walking a few hash maps and, for ClusterSetIP
//! services, one [`select::Selector`] pick. The control plane swaps in a new snapshot
//! atomically; queries in flight keep the old one.

pub mod arena;
mod build;
mod name;
pub mod select;

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use arena::{Rrs, Span};
pub use build::{Nameserver, SERVED_LABEL, build, served_text};

use crate::wire::query::QName;
use crate::wire::{TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_NS, TYPE_SOA, TYPE_SRV, TYPE_TXT};
use aviator_broker::decide::Decisions;
use aviator_broker::state::Service;
use name::{Path, Prefix};
use select::Selector;

/// Why a clusterset could not be rendered into DNS records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("cannot form the DNS name \"{name}\": {reason}")]
    Name { name: String, reason: String },
    #[error("the zone's records exceed 4 GiB")]
    TooLarge,
}

/// Every zone's answers at one moment, and the optimizer decisions behind them.
#[derive(Debug)]
pub struct Snapshot {
    zones: Vec<Zone>,
    decisions: Decisions,
    /// When it was built: the next build's decisions migrate for the time since.
    built: std::time::Instant,
    /// Services rendered anew for it; the others are shared with the snapshot before.
    rendered: usize,
}

/// The outcome of looking a question up.
#[derive(Debug)]
pub enum Resolution<'a> {
    /// The name exists in `zone`; `rrs` answer the question (none: NODATA).
    Found { zone: &'a Zone, rrs: Rrs<'a> },
    /// The name does not exist in `zone`.
    NxDomain { zone: &'a Zone },
    /// The name is in none of our zones.
    NotOurs,
}

impl Snapshot {
    /// Answers `qtype` for the question's (lower-cased) name.
    pub fn resolve(&self, name: &QName, qtype: u16) -> Resolution<'_> {
        let Some((zone, below)) = self
            .zones
            .iter()
            .find_map(|zone| Some((zone, name.labels_before(&zone.origin)?)))
        else {
            return Resolution::NotOurs;
        };
        let path = if below > name::MAX_RELATIVE_LABELS {
            Path::Unknown
        } else {
            let mut labels = [&[][..]; name::MAX_RELATIVE_LABELS];
            for (i, slot) in labels.iter_mut().enumerate().take(below) {
                *slot = name.label(i);
            }
            name::classify(&labels[..below])
        };
        let rrs = if qtype == TYPE_ANY {
            zone.resolve_any(path)
        } else {
            zone.resolve(path, qtype)
        };
        match rrs {
            Some(rrs) => Resolution::Found { zone, rrs },
            None => Resolution::NxDomain { zone },
        }
    }

    /// How many services were rendered anew for this snapshot (the rest were shared).
    pub fn rendered(&self) -> usize {
        self.rendered
    }

    /// The optimizer's decisions behind the `Optimized` services' answers.
    pub fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    /// Calls `seen` with each service (`namespace/name`) looked up since the last call, and
    /// clears its flag. The flags live in the service nodes, which later snapshots share while
    /// the service is unchanged, so a lookup is seen once whichever snapshot answered it.
    pub fn take_looked_up(&self, mut seen: impl FnMut(String)) {
        for zone in &self.zones {
            for (namespace, ns) in &zone.namespaces {
                for ByName(service) in &ns.services {
                    // A load first: most services are not looked up, and a swap would write
                    // their cache lines, which the UDP threads read.
                    if service.looked_up.load(Ordering::Relaxed)
                        && service.looked_up.swap(false, Ordering::Relaxed)
                    {
                        seen(format!(
                            "{}/{}",
                            String::from_utf8_lossy(namespace),
                            service.input.name
                        ));
                    }
                }
            }
        }
    }

    /// Calls `count` with every (namespace, service, cluster) answer counter, once per zone
    /// that serves the service.
    pub fn answer_counts(&self, mut count: impl FnMut(&[u8], &[u8], &str, u64)) {
        for zone in &self.zones {
            for (namespace, ns) in &zone.namespaces {
                for ByName(service) in &ns.services {
                    let name = service.input.name.as_bytes();
                    for (cluster, counter) in service.answer_counters() {
                        count(namespace, name, cluster, counter.load(Ordering::Relaxed));
                    }
                }
            }
        }
    }

    /// The zone apexes served, for logs.
    pub fn zone_names(&self) -> impl Iterator<Item = String> + '_ {
        self.zones.iter().map(|z| z.display.clone())
    }
}

/// One served zone: its records in one arena, and the tree of names that index them.
#[derive(Debug)]
pub struct Zone {
    /// The apex in lower-case wire form.
    origin: Box<[u8]>,
    /// What its services' records were rendered from besides the services themselves.
    inputs: build::ZoneInputs,
    display: String,
    arena: Box<[u8]>,
    soa: Span,
    /// The SOA for the authority section of negative answers: TTL = min(SOA TTL, minimum).
    negative_soa: Span,
    ns: Span,
    /// `ns.dns.<zone>`, the host the NS record and the SOA name.
    nameserver_a: Span,
    nameserver_aaaa: Span,
    version: Span,
    served: Span,
    /// Shared with later snapshots while none of its services changes.
    namespaces: HashMap<Box<[u8]>, Arc<Namespace>>,
}

impl Zone {
    /// The negative answer's SOA, whose owner (the apex) the responder points at.
    pub fn negative_soa(&self) -> Rrs<'_> {
        arena::rrs(&self.arena, self.negative_soa)
    }

    /// The apex's length in wire form, to find it inside the question's name.
    pub fn origin_len(&self) -> usize {
        self.origin.len()
    }

    fn rrs(&self, span: Span) -> Rrs<'_> {
        arena::rrs(&self.arena, span)
    }

    /// `span` when `qtype` is `wanted`, else nothing (the name exists without that type).
    fn only(&self, qtype: u16, wanted: u16, span: Span) -> Rrs<'_> {
        if qtype == wanted {
            self.rrs(span)
        } else {
            Rrs::NONE
        }
    }

    /// `None` when the name does not exist; no records when it exists without that type.
    fn resolve(&self, path: Path<'_>, qtype: u16) -> Option<Rrs<'_>> {
        Some(match path {
            Path::Apex => match qtype {
                TYPE_SOA => self.rrs(self.soa),
                TYPE_NS => self.rrs(self.ns),
                _ => Rrs::NONE,
            },
            Path::Nameserver => match qtype {
                TYPE_A => self.rrs(self.nameserver_a),
                TYPE_AAAA => self.rrs(self.nameserver_aaaa),
                _ => Rrs::NONE,
            },
            Path::NameserverParent => Rrs::NONE,
            Path::DnsVersion => self.only(qtype, TYPE_TXT, self.version),
            Path::Served => self.only(qtype, TYPE_TXT, self.served),
            Path::SvcRoot => return (!self.namespaces.is_empty()).then_some(Rrs::NONE),
            Path::Namespace(namespace) => {
                self.namespaces.get(namespace)?;
                Rrs::NONE
            }
            Path::Service {
                namespace,
                service,
                prefix,
            } => {
                let ByName(node) = self.namespaces.get(namespace)?.services.get(service)?;
                arena::rrs(&node.arena, node.resolve(prefix, qtype)?)
            }
            Path::Unknown => return None,
        })
    }

    /// RFC 8482: answer ANY with one RRset the name has, not all of them.
    fn resolve_any(&self, path: Path<'_>) -> Option<Rrs<'_>> {
        const ORDER: [u16; 6] = [TYPE_A, TYPE_AAAA, TYPE_SRV, TYPE_TXT, TYPE_SOA, TYPE_NS];
        for qtype in ORDER {
            let rrs = self.resolve(path, qtype)?;
            if rrs.count > 0 {
                return Some(rrs);
            }
        }
        Some(Rrs::NONE)
    }
}

#[derive(Debug, Default)]
struct Namespace {
    /// Shared with later snapshots for as long as the service renders the same; found by the
    /// service's name, which the node holds already, so a namespace rebuilt for one changed
    /// service allocates its table and nothing per service.
    services: HashSet<ByName>,
}

/// A service's node, keyed by the service's name (hashed and compared as the bytes a query
/// looks it up by).
#[derive(Debug, Clone)]
struct ByName(Arc<ServiceNode>);

impl ByName {
    fn name(&self) -> &[u8] {
        self.0.input.name.as_bytes()
    }
}

impl Borrow<[u8]> for ByName {
    fn borrow(&self) -> &[u8] {
        self.name()
    }
}

impl PartialEq for ByName {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for ByName {}

impl Hash for ByName {
    // As `[u8]` hashes, which `Borrow` requires.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

/// `_tcp`, `tcp`, `_udp`...: a protocol label, with or without its underscore.
fn bare(label: &[u8]) -> &[u8] {
    label.strip_prefix(b"_").unwrap_or(label)
}

/// A service's answers: service-wide, per named port and per exporting cluster.
#[derive(Debug)]
struct ServiceNode {
    /// What it was rendered from, to tell whether the next snapshot can share it.
    input: Arc<Service>,
    /// The optimizer's shares it was rendered from (none unless Optimized).
    shares: Box<[f64]>,
    /// Its records: every span below points into these bytes.
    arena: Box<[u8]>,
    /// Set by the first service-wide lookup: tells the prober the service is in demand. A flag,
    /// not a counter, so the UDP threads only read the shared cache line once it is set.
    looked_up: AtomicBool,
    a: Answer,
    aaaa: Answer,
    srv: Span,
    /// Its named ports, in `port_nodes`.
    ports: PortRange,
    /// The port nodes of the service and of its clusters, in one allocation.
    port_nodes: Box<[PortNode]>,
    /// Sorted by name.
    clusters: Box<[ClusterNode]>,
}

impl ServiceNode {
    /// Its answer counters by cluster, one per cluster (A and AAAA answers share it).
    fn answer_counters(&self) -> Vec<(&str, &Arc<AtomicU64>)> {
        let mut counters: Vec<(&str, &Arc<AtomicU64>)> = Vec::new();
        for answer in [&self.a, &self.aaaa] {
            let Answer::Pick(selector) = answer else {
                continue;
            };
            for choice in selector.choices() {
                let cluster = self.input.exports[choice.export as usize].cluster.as_str();
                if !counters.iter().any(|(c, _)| *c == cluster) {
                    counters.push((cluster, &choice.answered));
                }
            }
        }
        counters
    }

    /// The records for `prefix` in front of the service name; `None` when no such name exists.
    fn resolve(&self, prefix: Prefix<'_>, qtype: u16) -> Option<Span> {
        let arena = &self.arena[..];
        match prefix {
            Prefix::None => {
                if matches!(qtype, TYPE_A | TYPE_AAAA | TYPE_SRV)
                    && !self.looked_up.load(Ordering::Relaxed)
                {
                    self.looked_up.store(true, Ordering::Relaxed);
                }
                Some(match qtype {
                    TYPE_A => self.a.pick(),
                    TYPE_AAAA => self.aaaa.pick(),
                    TYPE_SRV => self.srv,
                    _ => Span::default(),
                })
            }
            Prefix::One(label) => {
                if let Some(cluster) = self.cluster(arena, label) {
                    return Some(cluster.resolve(qtype));
                }
                // `[_]tcp.<svc>.<ns>.svc`: the empty non-terminal above `[_]<port>.[_]tcp...`.
                PortNode::has_protocol(self.ports.of(&self.port_nodes), bare(label))
                    .then(Span::default)
            }
            Prefix::Two(first, second) => {
                if let Some(host) = self
                    .cluster(arena, second)
                    .and_then(|c| c.host(arena, first))
                {
                    return Some(host.resolve(qtype));
                }
                // `[_]<port>.[_]<proto>`, as Lighthouse reads it, underscores optional.
                let service_ports = self.ports.of(&self.port_nodes);
                if let Some(port) = PortNode::find(service_ports, arena, bare(first), bare(second))
                {
                    return Some(port.answer(qtype));
                }
                // `[_]tcp.<cluster>.<svc>...`: empty, above that cluster's ports.
                let cluster = self.cluster(arena, second)?;
                PortNode::has_protocol(cluster.ports.of(&self.port_nodes), bare(first))
                    .then(Span::default)
            }
            Prefix::Three(port, protocol, cluster) => {
                let cluster = self.cluster(arena, cluster)?;
                PortNode::find(
                    cluster.ports.of(&self.port_nodes),
                    arena,
                    bare(port),
                    bare(protocol),
                )
                .map(|p| p.answer(qtype))
            }
        }
    }

    fn cluster(&self, arena: &[u8], name: &[u8]) -> Option<&ClusterNode> {
        self.clusters
            .binary_search_by(|c| arena::slice(arena, c.name).cmp(name))
            .ok()
            .map(|i| &self.clusters[i])
    }
}

/// What a service-wide A or AAAA lookup returns.
#[derive(Debug)]
enum Answer {
    /// The same records every time: clusterset VIPs, or a headless service's endpoints.
    Static(Span),
    /// One cluster's records, chosen per lookup.
    Pick(Selector),
}

impl Answer {
    fn pick(&self) -> Span {
        match self {
            Answer::Static(span) => *span,
            Answer::Pick(selector) => selector.pick().unwrap_or_default(),
        }
    }
}

/// Where a node's port nodes are in its service's `port_nodes`.
#[derive(Debug, Clone, Copy, Default)]
struct PortRange {
    start: u32,
    end: u32,
}

impl PortRange {
    /// `start..end`, if it fits.
    fn new(start: usize, end: usize) -> Option<Self> {
        Some(Self {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }

    fn of(self, nodes: &[PortNode]) -> &[PortNode] {
        nodes
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// The SRV records of one named port: `_<name>._<protocol>` in front of a service or cluster.
#[derive(Debug)]
struct PortNode {
    /// Lower case.
    name: Span,
    protocol: &'static [u8],
    srv: Span,
}

impl PortNode {
    fn answer(&self, qtype: u16) -> Span {
        if qtype == TYPE_SRV {
            self.srv
        } else {
            Span::default()
        }
    }

    fn find<'a>(
        ports: &'a [PortNode],
        arena: &[u8],
        name: &[u8],
        protocol: &[u8],
    ) -> Option<&'a PortNode> {
        ports
            .iter()
            .find(|p| p.protocol == protocol && arena::slice(arena, p.name) == name)
    }

    fn has_protocol(ports: &[PortNode], protocol: &[u8]) -> bool {
        ports.iter().any(|p| p.protocol == protocol)
    }
}

/// `<cluster>.<svc>.<ns>.svc`: one cluster's records, healthy or not (the operator asked).
#[derive(Debug)]
struct ClusterNode {
    name: Span,
    a: Span,
    aaaa: Span,
    srv: Span,
    /// `[_]<port>.[_]<proto>.<cluster>.<svc>.<ns>.svc`, which Lighthouse also answers.
    ports: PortRange,
    /// Headless endpoints, sorted by name.
    hosts: Box<[HostNode]>,
}

impl ClusterNode {
    fn resolve(&self, qtype: u16) -> Span {
        match qtype {
            TYPE_A => self.a,
            TYPE_AAAA => self.aaaa,
            TYPE_SRV => self.srv,
            _ => Span::default(),
        }
    }

    fn host(&self, arena: &[u8], name: &[u8]) -> Option<&HostNode> {
        self.hosts
            .binary_search_by(|h| arena::slice(arena, h.name).cmp(name))
            .ok()
            .map(|i| &self.hosts[i])
    }
}

/// `<hostname>.<cluster>.<svc>.<ns>.svc`: one headless endpoint (no records while not ready).
#[derive(Debug)]
struct HostNode {
    name: Span,
    a: Span,
    aaaa: Span,
}

impl HostNode {
    fn resolve(&self, qtype: u16) -> Span {
        match qtype {
            TYPE_A => self.a,
            TYPE_AAAA => self.aaaa,
            _ => Span::default(),
        }
    }
}

//! The immutable, pre-rendered answers the DNS hot path reads.
//!
//! A [`Snapshot`] is built off the hot path from a validated clusterset (see [`build`]) and then
//! never changes: every answer is a slice of records built ahead of time, and the only per-query
//! work is walking a few hash maps and, for ClusterSetIP services, one [`select::Selector`] pick.
//! The control plane swaps in a new snapshot atomically; queries in flight keep the old one.

mod build;
mod name;
mod records;
pub mod select;

use std::collections::HashMap;
use std::slice;
use std::sync::atomic::{AtomicBool, Ordering};

use hickory_proto::rr::{LowerName, Record, RecordType};

pub use build::{SERVED_LABEL, build, served_text};

use aviator_broker::decide::Decisions;
use name::{Path, Prefix};
use select::Selector;

/// Why a clusterset could not be rendered into DNS records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("cannot form the DNS name \"{name}\": {reason}")]
    Name { name: String, reason: String },
}

/// Every zone's answers at one moment, and the optimizer decisions behind them.
#[derive(Debug)]
pub struct Snapshot {
    zones: Vec<Zone>,
    decisions: Decisions,
    /// When it was built: the next build's decisions migrate for the time since.
    built: std::time::Instant,
}

/// The outcome of looking a question up.
#[derive(Debug)]
pub enum Resolution<'a> {
    /// The name exists in `zone`; `records` answer the question (empty: NODATA).
    Found {
        zone: &'a Zone,
        records: &'a [Record],
    },
    /// The name does not exist in `zone`.
    NxDomain { zone: &'a Zone },
    /// The name is in none of our zones.
    NotOurs,
}

impl Snapshot {
    /// Answers `qtype` for `name` (which hickory has already lower-cased).
    pub fn resolve(&self, name: &LowerName, qtype: RecordType) -> Resolution<'_> {
        let Some(zone) = self.zones.iter().find(|zone| zone.origin.zone_of(name)) else {
            return Resolution::NotOurs;
        };
        let mut buf = [&[][..]; 5];
        let path = match name::relative_labels(name, zone.labels, &mut buf) {
            Some(labels) => name::classify(labels),
            None => Path::Unknown,
        };
        let records = if qtype == RecordType::ANY {
            zone.resolve_any(path)
        } else {
            zone.resolve(path, qtype)
        };
        match records {
            Some(records) => Resolution::Found { zone, records },
            None => Resolution::NxDomain { zone },
        }
    }

    /// The optimizer's decisions behind the `Optimized` services' answers.
    pub fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    /// Whether each service (`namespace/name`) has been looked up since this snapshot was built.
    pub fn looked_up(&self) -> HashMap<String, bool> {
        let mut seen: HashMap<String, bool> = HashMap::new();
        for zone in &self.zones {
            for (namespace, ns) in &zone.namespaces {
                for (name, service) in &ns.services {
                    let key = format!(
                        "{}/{}",
                        String::from_utf8_lossy(namespace),
                        String::from_utf8_lossy(name)
                    );
                    *seen.entry(key).or_default() |= service.looked_up.load(Ordering::Relaxed);
                }
            }
        }
        seen
    }

    /// The zone apexes served, for logs.
    pub fn zone_names(&self) -> impl Iterator<Item = String> + '_ {
        self.zones.iter().map(|z| z.origin.to_string())
    }
}

/// One served zone.
#[derive(Debug)]
pub struct Zone {
    origin: LowerName,
    labels: usize,
    soa: Record,
    /// The SOA for the authority section of negative answers: TTL = the SOA minimum (RFC 2308).
    negative_soa: Record,
    ns: Record,
    version: Record,
    served: Record,
    namespaces: HashMap<Box<[u8]>, Namespace>,
}

impl Zone {
    pub fn negative_soa(&self) -> &Record {
        &self.negative_soa
    }

    /// `None` when the name does not exist; an empty slice when it exists without that type.
    fn resolve(&self, path: Path<'_>, qtype: RecordType) -> Option<&[Record]> {
        match path {
            Path::Apex => Some(match qtype {
                RecordType::SOA => slice::from_ref(&self.soa),
                RecordType::NS => slice::from_ref(&self.ns),
                _ => &[],
            }),
            Path::DnsVersion => Some(if qtype == RecordType::TXT {
                slice::from_ref(&self.version)
            } else {
                &[]
            }),
            Path::Served => Some(if qtype == RecordType::TXT {
                slice::from_ref(&self.served)
            } else {
                &[]
            }),
            Path::SvcRoot => (!self.namespaces.is_empty()).then_some(&[]),
            Path::Namespace(namespace) => self.namespaces.get(namespace).map(|_| &[][..]),
            Path::Service {
                namespace,
                service,
                prefix,
            } => self
                .namespaces
                .get(namespace)?
                .services
                .get(service)?
                .resolve(prefix, qtype),
            Path::Unknown => None,
        }
    }

    /// RFC 8482: answer ANY with one RRset the name has, not all of them.
    fn resolve_any(&self, path: Path<'_>) -> Option<&[Record]> {
        const ORDER: [RecordType; 6] = [
            RecordType::A,
            RecordType::AAAA,
            RecordType::SRV,
            RecordType::TXT,
            RecordType::SOA,
            RecordType::NS,
        ];
        let mut found = None;
        for qtype in ORDER {
            match self.resolve(path, qtype) {
                None => return None,
                Some([]) => found = Some(&[][..]),
                Some(records) => return Some(records),
            }
        }
        found
    }
}

#[derive(Debug, Default)]
struct Namespace {
    services: HashMap<Box<[u8]>, ServiceNode>,
}

/// A service's answers: service-wide, per named port and per exporting cluster.
#[derive(Debug)]
struct ServiceNode {
    /// Set by the first service-wide lookup: tells the prober the service is in demand. A flag,
    /// not a counter, so the UDP threads only read the shared cache line once it is set.
    looked_up: AtomicBool,
    a: Answer,
    aaaa: Answer,
    srv: Vec<Record>,
    ports: Vec<PortNode>,
    /// Sorted by name.
    clusters: Vec<ClusterNode>,
}

impl ServiceNode {
    fn resolve(&self, prefix: Prefix<'_>, qtype: RecordType) -> Option<&[Record]> {
        match prefix {
            Prefix::None => {
                if matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::SRV)
                    && !self.looked_up.load(Ordering::Relaxed)
                {
                    self.looked_up.store(true, Ordering::Relaxed);
                }
                Some(match qtype {
                    RecordType::A => self.a.records(),
                    RecordType::AAAA => self.aaaa.records(),
                    RecordType::SRV => &self.srv,
                    _ => &[],
                })
            }
            Prefix::One(label) => {
                if let Some(cluster) = self.cluster(label) {
                    return Some(cluster.resolve(qtype));
                }
                // `_tcp.<svc>.<ns>.svc` is the empty non-terminal above `_<port>._tcp...`.
                let proto = label.strip_prefix(b"_")?;
                self.ports
                    .iter()
                    .any(|p| p.protocol == proto)
                    .then_some(&[])
            }
            Prefix::Two(first, second) => {
                if let (Some(port), Some(proto)) =
                    (first.strip_prefix(b"_"), second.strip_prefix(b"_"))
                {
                    return self.port(port, proto).map(|p| p.answer(qtype));
                }
                if let Some(host) = self.cluster(second).and_then(|c| c.host(first)) {
                    return Some(host.resolve(qtype));
                }
                // Lighthouse also accepts `<port>.<proto>.<svc>.<ns>.svc`.
                self.port(first, second).map(|p| p.answer(qtype))
            }
        }
    }

    fn cluster(&self, name: &[u8]) -> Option<&ClusterNode> {
        self.clusters
            .binary_search_by(|c| (*c.name).cmp(name))
            .ok()
            .map(|i| &self.clusters[i])
    }

    fn port(&self, name: &[u8], protocol: &[u8]) -> Option<&PortNode> {
        self.ports
            .iter()
            .find(|p| *p.name == *name && p.protocol == protocol)
    }
}

/// What a service-wide A or AAAA lookup returns.
#[derive(Debug)]
enum Answer {
    /// The same records every time: clusterset VIPs, or a headless service's endpoints.
    Static(Vec<Record>),
    /// One cluster's records, chosen per lookup.
    Pick(Selector),
}

impl Answer {
    fn records(&self) -> &[Record] {
        match self {
            Answer::Static(records) => records,
            Answer::Pick(selector) => selector.pick(),
        }
    }
}

/// The SRV records of one named port: `_<name>._<protocol>.<svc>.<ns>.svc`.
#[derive(Debug)]
struct PortNode {
    name: Box<[u8]>,
    protocol: &'static [u8],
    srv: Vec<Record>,
}

impl PortNode {
    fn answer(&self, qtype: RecordType) -> &[Record] {
        if qtype == RecordType::SRV {
            &self.srv
        } else {
            &[]
        }
    }
}

/// `<cluster>.<svc>.<ns>.svc`: one cluster's records, healthy or not (the operator asked).
#[derive(Debug)]
struct ClusterNode {
    name: Box<[u8]>,
    a: Vec<Record>,
    aaaa: Vec<Record>,
    srv: Vec<Record>,
    /// Headless endpoints, sorted by name.
    hosts: Vec<HostNode>,
}

impl ClusterNode {
    fn resolve(&self, qtype: RecordType) -> &[Record] {
        match qtype {
            RecordType::A => &self.a,
            RecordType::AAAA => &self.aaaa,
            RecordType::SRV => &self.srv,
            _ => &[],
        }
    }

    fn host(&self, name: &[u8]) -> Option<&HostNode> {
        self.hosts
            .binary_search_by(|h| (*h.name).cmp(name))
            .ok()
            .map(|i| &self.hosts[i])
    }
}

/// `<hostname>.<cluster>.<svc>.<ns>.svc`: one headless endpoint (no records while not ready).
#[derive(Debug)]
struct HostNode {
    name: Box<[u8]>,
    a: Vec<Record>,
    aaaa: Vec<Record>,
}

impl HostNode {
    fn resolve(&self, qtype: RecordType) -> &[Record] {
        match qtype {
            RecordType::A => &self.a,
            RecordType::AAAA => &self.aaaa,
            _ => &[],
        }
    }
}

//! Renders a validated [`ClusterSet`] into a [`Snapshot`]: eligibility, selection policy and
//! every record, decided once here so the hot path only reads.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aviator_broker::state::{
    ClusterId, ClusterSet, DEFAULT_WEIGHT, Export, Mode, Service, ServiceType,
};
use aviator_optimizer::Decision;
use aviator_optimizer::weights::shares_from_weights;
use hickory_proto::rr::Name;

use super::arena::{self, Arena};
use super::select::{Choice, Selector};
use super::*;
use aviator_broker::decide::{Decisions, decide_all};

/// `aviator-served.<zone>`: a TXT record saying that Aviator answers the zone, and for which
/// cluster. Aviator asks for it through the cluster's own DNS to learn whether the zone's
/// queries reach it (see `app::zone_check`).
pub const SERVED_LABEL: &str = "aviator-served";

/// The text of the `aviator-served` record for cluster `cluster`.
pub fn served_text(cluster: &str) -> String {
    format!("served-by=aviator cluster={cluster}")
}

/// The schema version of the Kubernetes multi-cluster DNS specification implemented.
const DNS_SCHEMA_VERSION: &str = "1.1.0";

/// The addresses `ns.dns.<zone>` answers with: the host the zone's NS record and SOA name,
/// which must resolve (a resolver that follows the NS would otherwise find nothing).
#[derive(Debug, Clone, Default)]
pub struct Nameserver {
    pub addresses: Vec<IpAddr>,
}

/// Builds the snapshot for `set`. Rotations continue where `previous` left them (they share its
/// counters), so republishing never repeats or skips a cluster.
pub fn build(
    set: &ClusterSet,
    previous: Option<&Snapshot>,
    nameserver: &Nameserver,
) -> Result<Snapshot, BuildError> {
    let serial = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_secs() as u32);
    let built = Instant::now();
    // The first solve has nothing to migrate from; a tick is what the rule's rate is set for.
    let elapsed_s = previous.map_or(1.0, |p| {
        built.saturating_duration_since(p.built).as_secs_f64()
    });
    let decisions = decide_all(set, previous.map(Snapshot::decisions), elapsed_s);
    let mut zones = Vec::with_capacity(set.dns.zones.len());
    let mut rendered = 0;
    for (index, zone) in set.dns.zones.iter().enumerate() {
        let origin = Name::from_ascii(format!("{zone}.")).map_err(|error| BuildError::Name {
            name: zone.clone(),
            reason: error.to_string(),
        })?;
        let before = previous.and_then(|p| p.zones.get(index));
        let context = ZoneContext {
            set,
            decisions: &decisions,
            origin: &origin,
            serial,
            nameserver,
            rendered: Default::default(),
        };
        zones.push(context.build(before)?);
        rendered += context.rendered.get();
    }
    Ok(Snapshot {
        zones,
        decisions,
        built,
        rendered,
    })
}

struct ZoneContext<'a> {
    set: &'a ClusterSet,
    decisions: &'a Decisions,
    origin: &'a Name,
    serial: u32,
    nameserver: &'a Nameserver,
    /// Services rendered anew rather than shared, over every zone so far.
    rendered: std::cell::Cell<usize>,
}

impl ZoneContext<'_> {
    fn build(&self, previous: Option<&Zone>) -> Result<Zone, BuildError> {
        let (set, origin) = (self.set, self.origin);
        let dns = &set.dns;
        let origin_wire = arena::wire(origin).into_boxed_slice();
        let inputs = ZoneInputs::of(set);
        // A service's records depend on the zone's inputs and its own: where neither changed,
        // the node of the previous snapshot is the answer, shared (counters and all).
        let reusable = previous.filter(|z| z.origin == origin_wire && z.inputs == inputs);
        let mut arena = Arena::default();
        let server = arena::name(&["ns", "dns"], origin)?;
        let mailbox = arena::name(&["hostmaster"], origin)?;
        let mut namespaces: HashMap<Box<[u8]>, Arc<Namespace>> = HashMap::new();
        // The services are sorted, so each namespace's are a run. A namespace all of whose
        // services are unchanged is shared whole: a quiet tick allocates nothing per service.
        for run in set.services.chunk_by(|a, b| a.namespace == b.namespace) {
            let name = run[0].namespace.as_bytes();
            let before = previous.and_then(|z| z.namespaces.get(name));
            let mut unchanged = before.is_some_and(|n| n.services.len() == run.len());
            let mut nodes = Vec::with_capacity(run.len());
            for service in run {
                let before = before
                    .and_then(|n| n.services.get(service.name.as_bytes()))
                    .map(|ByName(node)| node);
                let node = self.service_node(service, before, reusable.is_some())?;
                unchanged &= before.is_some_and(|b| Arc::ptr_eq(b, &node));
                nodes.push(node);
            }
            let namespace = match before {
                Some(before) if unchanged => before.clone(),
                _ => Arc::new(Namespace {
                    services: nodes.into_iter().map(ByName).collect(),
                }),
            };
            namespaces.insert(name.into(), namespace);
        }
        let (ttl, serial) = (dns.ttl, self.serial);
        let soa = arena.run(|a| a.soa(ttl, &server, &mailbox, serial, dns.negative_ttl))?;
        // RFC 2308 §3: a negative answer's SOA lives for the smaller of the SOA's own TTL and
        // its MINIMUM field.
        let negative_ttl = ttl.min(dns.negative_ttl);
        let negative_soa =
            arena.run(|a| a.soa(negative_ttl, &server, &mailbox, serial, dns.negative_ttl))?;
        let ns = arena.run(|a| a.ns(ttl, &server))?;
        let (nameserver_a, nameserver_aaaa) = arena.addresses(ttl, &self.nameserver.addresses)?;
        let version = arena.run(|a| a.txt(ttl, DNS_SCHEMA_VERSION))?;
        // Short-lived: it says who answers the zone now, and a revert must show at once.
        let served_by = served_text(set.local_cluster.as_str());
        let served = arena.run(|a| a.txt(0, &served_by))?;
        Ok(Zone {
            origin: origin_wire,
            inputs,
            display: origin.to_string(),
            arena: arena.freeze(),
            soa,
            negative_soa,
            ns,
            nameserver_a,
            nameserver_aaaa,
            version,
            served,
            namespaces,
        })
    }
}

impl ZoneContext<'_> {
    /// `service`'s node: `before`, shared, if it may be reused (`reusable`: the zone's inputs
    /// are unchanged) and the service renders the same; else built anew, carrying on
    /// `before`'s counters.
    fn service_node(
        &self,
        service: &Arc<Service>,
        before: Option<&Arc<ServiceNode>>,
        reusable: bool,
    ) -> Result<Arc<ServiceNode>, BuildError> {
        let decision = match service.policy.mode {
            Mode::Optimized(_) => self.decisions.get(&service.namespace, &service.name),
            _ => None,
        };
        let shares = shares_of(decision);
        if let Some(node) = before
            && reusable
            && node.shares == shares
            && renders_alike(&node.input, service)
        {
            return Ok(node.clone());
        }
        let node = ServiceBuilder {
            set: self.set,
            decision,
            service,
            zone: self.origin,
            ttl: self.set.dns.ttl,
            arena: Arena::default(),
            answered: before.map_or_else(Vec::new, |b| {
                b.answer_counters()
                    .into_iter()
                    .map(|(cluster, counter)| (cluster, counter.clone()))
                    .collect()
            }),
            export_records: Vec::new(),
            port_nodes: Vec::new(),
        }
        .build(before.map(|b| &**b), shares)?;
        self.rendered.set(self.rendered.get() + 1);
        Ok(Arc::new(node))
    }
}

/// What every service's records in a zone depend on besides the service itself.
#[derive(Debug, PartialEq)]
pub(super) struct ZoneInputs {
    ttl: u32,
    local_cluster: ClusterId,
    /// Which clusters are connected, in id order.
    connected: Vec<bool>,
    clusters: Vec<ClusterId>,
}

impl ZoneInputs {
    fn of(set: &ClusterSet) -> Self {
        Self {
            ttl: set.dns.ttl,
            local_cluster: set.local_cluster.clone(),
            connected: set.clusters.iter().map(|c| c.connected).collect(),
            clusters: set.clusters.iter().map(|c| c.id.clone()).collect(),
        }
    }
}

/// The optimizer's shares for an Optimized service's exports, in their order: with the
/// service itself, what its answers are rendered from.
fn shares_of(decision: Option<&Decision>) -> Box<[f64]> {
    decision.map_or_else(Box::default, |d| {
        d.exports.iter().map(|e| e.share).collect()
    })
}

/// Whether `a` and `b` render to the same records: every field the builder reads, and none of
/// the measurements it does not (a probed round-robin service's RTT changes every tick; only
/// its ejections change its answers; an Optimized service's figures reach them as shares).
fn renders_alike(a: &Arc<Service>, b: &Arc<Service>) -> bool {
    if Arc::ptr_eq(a, b) {
        return true;
    }
    let export_alike = |x: &Export, y: &Export| {
        x.cluster == y.cluster
            && x.ips == y.ips
            && x.ready == y.ready
            && x.ports == y.ports
            && x.endpoints == y.endpoints
            && x.ejected == y.ejected
    };
    a.namespace == b.namespace
        && a.name == b.name
        && a.service_type == b.service_type
        && a.vips == b.vips
        && a.policy == b.policy
        && a.exports.len() == b.exports.len()
        && a.exports
            .iter()
            .zip(&b.exports)
            .all(|(x, y)| export_alike(x, y))
}

/// The selection counters a service's answer carries from one snapshot to the next.
struct Counters {
    rotation: Arc<AtomicUsize>,
    spread: Arc<AtomicU64>,
}

struct ServiceBuilder<'a> {
    set: &'a ClusterSet,
    decision: Option<&'a Decision>,
    service: &'a Arc<Service>,
    zone: &'a Name,
    ttl: u32,
    /// The service's own records.
    arena: Arena,
    /// The answer counters by cluster, the previous node's first.
    answered: Vec<(&'a str, Arc<AtomicU64>)>,
    /// Each export's own A and AAAA records, by export index: the cluster's name answers with
    /// them, and so does the service's name when it picks that cluster.
    export_records: Vec<(Span, Span)>,
    /// Every port node of the service and of its clusters, which hold ranges of it.
    port_nodes: Vec<PortNode>,
}

#[derive(Clone, Copy, PartialEq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of(ip: &IpAddr) -> Family {
        if ip.is_ipv4() { Family::V4 } else { Family::V6 }
    }
}

impl<'a> ServiceBuilder<'a> {
    /// `prefix` in front of the service's name, in wire form.
    fn name(&self, prefix: &[&str]) -> Result<Vec<u8>, BuildError> {
        let mut labels = prefix.to_vec();
        labels.extend([
            self.service.name.as_str(),
            self.service.namespace.as_str(),
            "svc",
        ]);
        arena::name(&labels, self.zone)
    }

    /// The eligible exports, with their index in the service's exports.
    fn eligible(&self) -> Vec<(usize, &'a Export)> {
        let eligibility = self.service.eligibility(self.set);
        self.service
            .exports
            .iter()
            .enumerate()
            .zip(eligibility)
            .filter_map(|(export, eligible)| eligible.then_some(export))
            .collect()
    }

    fn addresses<'i>(
        &mut self,
        ips: impl IntoIterator<Item = &'i IpAddr>,
    ) -> Result<Span, BuildError> {
        let ttl = self.ttl;
        self.arena.run(|a| {
            for &ip in ips {
                a.address(ttl, ip);
            }
        })
    }

    fn build(
        mut self,
        previous: Option<&ServiceNode>,
        shares: Box<[f64]>,
    ) -> Result<ServiceNode, BuildError> {
        let counters = |answer: Option<&Answer>| match answer {
            Some(Answer::Pick(selector)) => Counters {
                rotation: selector.counter().unwrap_or_default(),
                spread: selector
                    .spread_counter()
                    .unwrap_or_else(Selector::new_spread_counter),
            },
            _ => Counters {
                rotation: Arc::default(),
                spread: Selector::new_spread_counter(),
            },
        };
        // The clusters first: the service-wide answers reuse their address records.
        let exports = &self.service.exports;
        let mut clusters = exports
            .iter()
            .map(|export| self.cluster_node(export))
            .collect::<Result<Vec<_>, _>>()?;
        clusters.sort_by(|x, y| x.0.cmp(&y.0));
        let a = self.address_answer(Family::V4, counters(previous.map(|p| &p.a)))?;
        let aaaa = self.address_answer(Family::V6, counters(previous.map(|p| &p.aaaa)))?;
        let (srv, ports) = self.service_srv()?;
        Ok(ServiceNode {
            input: self.service.clone(),
            shares,
            arena: self.arena.freeze(),
            looked_up: AtomicBool::new(false),
            a,
            aaaa,
            srv,
            ports,
            port_nodes: self.port_nodes.into_boxed_slice(),
            clusters: clusters.into_iter().map(|(_, node)| node).collect(),
        })
    }

    fn address_answer(&mut self, family: Family, counters: Counters) -> Result<Answer, BuildError> {
        let service = self.service;
        let of_family = |ip: &&IpAddr| Family::of(ip) == family;
        if !service.vips.is_empty() {
            return Ok(Answer::Static(
                self.addresses(service.vips.iter().filter(of_family))?,
            ));
        }
        if service.service_type == ServiceType::Headless {
            let mut addresses: Vec<IpAddr> = self
                .eligible()
                .into_iter()
                .flat_map(|(_, e)| e.endpoints.iter().filter(|ep| ep.ready))
                .flat_map(|ep| ep.addresses.iter().filter(of_family).copied())
                .collect();
            addresses.sort();
            addresses.dedup();
            return Ok(Answer::Static(self.addresses(&addresses)?));
        }
        let mut candidates: Vec<(&'a Export, Choice)> = Vec::new();
        for (index, export) in self.eligible() {
            let (a, aaaa) = self.export_records[index];
            let records = if family == Family::V4 { a } else { aaaa };
            if !records.is_empty() {
                candidates.push((export, self.choice(index, export, records)?));
            }
        }
        let local = &self.set.local_cluster;
        if service.policy.prefer_local
            && let Some(i) = candidates.iter().position(|(e, _)| &e.cluster == local)
        {
            return Ok(Answer::Pick(Selector::fixed(candidates.swap_remove(i).1)));
        }
        Ok(Answer::Pick(match &service.policy.mode {
            Mode::RoundRobin => Selector::rotate(
                candidates.into_iter().map(|(_, c)| c).collect(),
                counters.rotation,
            ),
            Mode::WeightedRoundRobin { weights } => {
                let weights: Vec<f64> = candidates
                    .iter()
                    .map(|(e, _)| weights.get(&e.cluster).copied().unwrap_or(DEFAULT_WEIGHT))
                    .collect();
                let shares = shares_from_weights(&weights);
                Selector::weighted(candidates.into_iter().map(|(_, c)| c).collect(), &shares)
            }
            Mode::Optimized(_) => {
                let share_of = |cluster: &str| {
                    self.decision
                        .and_then(|d| d.exports.iter().find(|e| e.cluster == cluster))
                        .map_or(0.0, |e| e.share)
                };
                let raw: Vec<f64> = candidates
                    .iter()
                    .map(|(e, _)| share_of(e.cluster.as_str()))
                    .collect();
                // Renormalised over this address family's candidates; if the optimizer gave
                // them nothing (it chose exports without such addresses), they share evenly.
                let shares = shares_from_weights(&raw);
                let choices = candidates.into_iter().map(|(_, c)| c).collect();
                Selector::spread(choices, &shares, counters.spread)
            }
        }))
    }

    /// The answer `records` of `export`, counted on the export's counter: one for both address
    /// families, carried on from the node this one replaces.
    fn choice(
        &mut self,
        index: usize,
        export: &'a Export,
        records: Span,
    ) -> Result<Choice, BuildError> {
        let cluster = export.cluster.as_str();
        let answered = match self.answered.iter().find(|(c, _)| *c == cluster) {
            Some((_, counter)) => counter.clone(),
            None => {
                let counter = Arc::<AtomicU64>::default();
                self.answered.push((cluster, counter.clone()));
                counter
            }
        };
        Ok(Choice {
            export: u32::try_from(index).map_err(|_| BuildError::TooLarge)?,
            records,
            answered,
        })
    }

    /// One SRV per port and target: `srv` of all ports, and one [`PortNode`] per named port.
    fn port_records(
        &mut self,
        ports: &[aviator_broker::state::Port],
        targets: &[Vec<u8>],
    ) -> Result<(Span, PortRange), BuildError> {
        let (ttl, weight) = (self.ttl, srv_weight(targets.len()));
        let all = self.arena.run(|a| {
            for port in ports {
                for target in targets {
                    a.srv(ttl, weight, port.port, target);
                }
            }
        })?;
        let start = self.port_nodes.len();
        for port in ports {
            let Some(name) = &port.name else { continue };
            let name = self.arena.bytes(name.to_ascii_lowercase().as_bytes())?;
            // A lone port's records are the same bytes as all ports'.
            let srv = if ports.len() == 1 {
                all
            } else {
                self.arena.run(|a| {
                    for target in targets {
                        a.srv(ttl, weight, port.port, target);
                    }
                })?
            };
            self.port_nodes.push(PortNode {
                name,
                protocol: port.protocol.label().as_bytes(),
                srv,
            });
        }
        let range = PortRange::new(start, self.port_nodes.len()).ok_or(BuildError::TooLarge)?;
        Ok((all, range))
    }

    /// SRV at the service name and per named port. ClusterSetIP: one record per common port,
    /// aimed at the service name. Headless: one per ready endpoint and port of eligible exports.
    fn service_srv(&mut self) -> Result<(Span, PortRange), BuildError> {
        let service = self.service;
        let ports = service.common_ports();
        let mut targets: Vec<Vec<u8>> = Vec::new();
        let eligible = self.eligible();
        match service.service_type {
            ServiceType::ClusterSetIp => {
                if !service.vips.is_empty() || !eligible.is_empty() {
                    targets.push(self.name(&[])?);
                }
            }
            ServiceType::Headless => {
                for (_, export) in eligible {
                    for endpoint in export.endpoints.iter().filter(|e| e.ready) {
                        targets.push(self.name(&[&endpoint.hostname, export.cluster.as_str()])?);
                    }
                }
            }
        }
        self.port_records(&ports, &targets)
    }

    /// The node of `<cluster>.<svc>...`, with its name for sorting.
    fn cluster_node(&mut self, export: &Export) -> Result<(String, ClusterNode), BuildError> {
        let cluster = export.cluster.as_str();
        let ttl = self.ttl;
        let mut hosts = Vec::new();
        let (a, aaaa, srv, ports) = match self.service.service_type {
            ServiceType::ClusterSetIp => {
                let (srv, ports) = self.port_records(&export.ports, &[self.name(&[cluster])?])?;
                let (a, aaaa) = self.arena.addresses(ttl, &export.ips)?;
                self.export_records.push((a, aaaa));
                (a, aaaa, srv, ports)
            }
            ServiceType::Headless => {
                let mut targets = Vec::new();
                for endpoint in &export.endpoints {
                    let (a, aaaa) = if endpoint.ready {
                        targets.push(self.name(&[&endpoint.hostname, cluster])?);
                        self.arena.addresses(ttl, &endpoint.addresses)?
                    } else {
                        Default::default()
                    };
                    hosts.push((endpoint.hostname.to_ascii_lowercase(), a, aaaa));
                }
                let (srv, ports) = self.port_records(&export.ports, &targets)?;
                let ready = export.endpoints.iter().filter(|e| e.ready);
                let (a, aaaa) = self
                    .arena
                    .addresses(ttl, ready.flat_map(|e| e.addresses.iter()))?;
                self.export_records.push((a, aaaa));
                (a, aaaa, srv, ports)
            }
        };
        hosts.sort_by(|x, y| x.0.cmp(&y.0));
        let hosts = hosts
            .into_iter()
            .map(|(name, a, aaaa)| {
                Ok(HostNode {
                    name: self.arena.bytes(name.as_bytes())?,
                    a,
                    aaaa,
                })
            })
            .collect::<Result<Box<[_]>, BuildError>>()?;
        // Queries are matched lower-cased, so names are stored so.
        let cluster = cluster.to_ascii_lowercase();
        let name = self.arena.bytes(cluster.as_bytes())?;
        Ok((
            cluster,
            ClusterNode {
                name,
                a,
                aaaa,
                srv,
                ports,
                hosts,
            },
        ))
    }
}

/// SRV weights of equal targets sum to about 100, as CoreDNS's kubernetes plugin does.
fn srv_weight(targets: usize) -> u16 {
    (100 / targets.max(1)).max(1) as u16
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use aviator_broker::state::Measurement;

    use super::*;

    const SET: &str = r#"localCluster: east
clusters: [{ id: east }, { id: west }]
services:
  - name: a
    namespace: n
    policy: { preferLocal: false }
    exports:
      - { cluster: east, ips: [10.1.0.1] }
      - { cluster: west, ips: [10.2.0.1] }
  - name: b
    namespace: n
    exports:
      - { cluster: west, ips: [10.2.0.2] }
  - name: c
    namespace: other
    exports:
      - { cluster: west, ips: [10.2.0.3] }
"#;

    fn set() -> ClusterSet {
        aviator_broker::clusterset::parse(SET, Path::new("set.yaml")).unwrap()
    }

    fn node<'s>(snapshot: &'s Snapshot, namespace: &str, name: &str) -> &'s Arc<ServiceNode> {
        let namespace = &snapshot.zones[0].namespaces[namespace.as_bytes()];
        &namespace
            .services
            .get(name.as_bytes())
            .expect("the service's node")
            .0
    }

    /// What a tick renders is what changed: nothing for an unchanged set, one service for one
    /// changed address, nothing for a measurement that does not change answers.
    #[test]
    fn only_changed_services_are_rendered_anew() {
        let nameserver = Nameserver::default();
        let mut set = set();
        let first = build(&set, None, &nameserver).unwrap();
        assert_eq!(first.rendered(), 3);
        let same = build(&set, Some(&first), &nameserver).unwrap();
        assert_eq!(same.rendered(), 0);
        assert!(Arc::ptr_eq(node(&first, "n", "a"), node(&same, "n", "a")));
        assert!(Arc::ptr_eq(
            &first.zones[0].namespaces[&b"n"[..]],
            &same.zones[0].namespaces[&b"n"[..]]
        ));

        // A round-robin service's RTT does not change its answers.
        Arc::make_mut(&mut set.services[0]).exports[1].update_figures(|figures| {
            figures.rtt = Some(Measurement {
                mean_ms: 20.0,
                p99_ms: None,
                age_s: 0.0,
            })
        });
        let measured = build(&set, Some(&same), &nameserver).unwrap();
        assert_eq!(measured.rendered(), 0);

        // A new address does, for that service alone; the other namespace stays shared.
        Arc::make_mut(&mut set.services[1]).exports[0].ips = vec!["10.2.0.9".parse().unwrap()];
        let moved = build(&set, Some(&measured), &nameserver).unwrap();
        assert_eq!(moved.rendered(), 1);
        assert!(!Arc::ptr_eq(
            node(&measured, "n", "b"),
            node(&moved, "n", "b")
        ));
        assert!(Arc::ptr_eq(
            node(&measured, "n", "a"),
            node(&moved, "n", "a")
        ));
        assert!(Arc::ptr_eq(
            &measured.zones[0].namespaces[&b"other"[..]],
            &moved.zones[0].namespaces[&b"other"[..]]
        ));

        // So does an ejection, and a cluster's connectivity renders every service anew.
        Arc::make_mut(&mut set.services[0]).exports[1].ejected = true;
        assert_eq!(
            build(&set, Some(&moved), &nameserver).unwrap().rendered(),
            1
        );
        set.clusters[1].connected = false;
        assert_eq!(
            build(&set, Some(&moved), &nameserver).unwrap().rendered(),
            3
        );
    }
}

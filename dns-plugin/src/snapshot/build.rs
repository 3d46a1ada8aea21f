//! Renders a validated [`ClusterSet`] into a [`Snapshot`]: eligibility, selection policy and
//! every record, decided once here so the hot path only reads.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aviator_broker::state::{ClusterSet, DEFAULT_WEIGHT, Export, Mode, Service, ServiceType};
use aviator_optimizer::Decision;
use aviator_optimizer::weights::shares_from_weights;
use hickory_proto::rr::{LowerName, Name, Record};

use super::records;
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

/// Builds the snapshot for `set`. Rotations continue where `previous` left them (they share its
/// counters), so republishing never repeats or skips a cluster.
pub fn build(set: &ClusterSet, previous: Option<&Snapshot>) -> Result<Snapshot, BuildError> {
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
    for (index, zone) in set.dns.zones.iter().enumerate() {
        let origin = Name::from_ascii(format!("{zone}.")).map_err(|error| BuildError::Name {
            name: zone.clone(),
            reason: error.to_string(),
        })?;
        let before = previous.and_then(|p| p.zones.get(index));
        zones.push(build_zone(set, &decisions, &origin, serial, before)?);
    }
    Ok(Snapshot {
        zones,
        decisions,
        built,
    })
}

fn build_zone(
    set: &ClusterSet,
    decisions: &Decisions,
    origin: &Name,
    serial: u32,
    previous: Option<&Zone>,
) -> Result<Zone, BuildError> {
    let dns = &set.dns;
    let server = records::name(&["ns", "dns"], origin)?;
    let version_name = records::name(&["dns-version"], origin)?;
    let served_name = records::name(&[SERVED_LABEL], origin)?;
    let mut namespaces: HashMap<Box<[u8]>, Namespace> = HashMap::new();
    for service in &set.services {
        let before = previous
            .and_then(|z| z.namespaces.get(service.namespace.as_bytes()))
            .and_then(|n| n.services.get(service.name.as_bytes()));
        let node = ServiceBuilder {
            set,
            decision: decisions.get(&(service.namespace.clone(), service.name.clone())),
            service,
            zone: origin,
            ttl: dns.ttl,
        }
        .build(before)?;
        namespaces
            .entry(service.namespace.as_bytes().into())
            .or_default()
            .services
            .insert(service.name.as_bytes().into(), node);
    }
    Ok(Zone {
        origin: LowerName::new(origin),
        labels: usize::from(origin.num_labels()),
        soa: records::soa(origin, dns.ttl, &server, dns.negative_ttl, serial)?,
        // RFC 2308 §3: a negative answer's SOA lives for the smaller of the SOA's own TTL and
        // its MINIMUM field.
        negative_soa: records::soa(
            origin,
            dns.ttl.min(dns.negative_ttl),
            &server,
            dns.negative_ttl,
            serial,
        )?,
        ns: records::ns(origin, dns.ttl, &server),
        version: records::txt(&version_name, dns.ttl, DNS_SCHEMA_VERSION),
        // Short-lived: it says who answers the zone now, and a revert must show at once.
        served: records::txt(&served_name, 0, &served_text(set.local_cluster.as_str())),
        namespaces,
    })
}

/// The selection counters a service's answer carries from one snapshot to the next.
struct Counters {
    rotation: Arc<AtomicUsize>,
    spread: Arc<AtomicU64>,
}

struct ServiceBuilder<'a> {
    set: &'a ClusterSet,
    decision: Option<&'a Decision>,
    service: &'a Service,
    zone: &'a Name,
    ttl: u32,
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

impl ServiceBuilder<'_> {
    fn name(&self, prefix: &[&str]) -> Result<Name, BuildError> {
        let mut labels = prefix.to_vec();
        labels.extend([
            self.service.name.as_str(),
            self.service.namespace.as_str(),
            "svc",
        ]);
        records::name(&labels, self.zone)
    }

    fn eligible(&self) -> impl Iterator<Item = &Export> + '_ {
        let eligibility = self.service.eligibility(self.set);
        self.service
            .exports
            .iter()
            .zip(eligibility)
            .filter_map(|(export, eligible)| eligible.then_some(export))
    }

    fn build(&self, previous: Option<&ServiceNode>) -> Result<ServiceNode, BuildError> {
        let owner = self.name(&[])?;
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
        let a = self.address_answer(&owner, Family::V4, counters(previous.map(|p| &p.a)));
        let aaaa = self.address_answer(&owner, Family::V6, counters(previous.map(|p| &p.aaaa)));
        let (srv, ports) = self.service_srv(&owner)?;
        let mut clusters = self
            .service
            .exports
            .iter()
            .map(|export| self.cluster_node(export))
            .collect::<Result<Vec<_>, _>>()?;
        clusters.sort_by(|x, y| x.name.cmp(&y.name));
        Ok(ServiceNode {
            looked_up: AtomicBool::new(false),
            a,
            aaaa,
            srv,
            ports,
            clusters,
        })
    }

    fn address_answer(&self, owner: &Name, family: Family, counters: Counters) -> Answer {
        let service = self.service;
        let of_family = |ip: &&IpAddr| Family::of(ip) == family;
        if !service.vips.is_empty() {
            let vips = service.vips.iter().filter(of_family);
            return Answer::Static(
                vips.map(|&ip| records::address(owner, self.ttl, ip))
                    .collect(),
            );
        }
        if service.service_type == ServiceType::Headless {
            let mut addresses: Vec<IpAddr> = self
                .eligible()
                .flat_map(|e| e.endpoints.iter().filter(|ep| ep.ready))
                .flat_map(|ep| ep.addresses.iter().filter(of_family).copied())
                .collect();
            addresses.sort();
            addresses.dedup();
            let records = addresses
                .into_iter()
                .map(|ip| records::address(owner, self.ttl, ip));
            return Answer::Static(records.collect());
        }
        let mut candidates: Vec<(&Export, Choice)> = self
            .eligible()
            .filter_map(|export| {
                let records: Vec<Record> = (export.ips.iter().filter(of_family))
                    .map(|&ip| records::address(owner, self.ttl, ip))
                    .collect();
                (!records.is_empty()).then(|| (export, self.choice(export, records)))
            })
            .collect();
        let local = &self.set.local_cluster;
        if service.policy.prefer_local
            && let Some(i) = candidates.iter().position(|(e, _)| &e.cluster == local)
        {
            return Answer::Pick(Selector::fixed(candidates.swap_remove(i).1));
        }
        Answer::Pick(match &service.policy.mode {
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
        })
    }

    fn choice(&self, export: &Export, records: Vec<Record>) -> Choice {
        let answered = metrics::counter!(
            crate::metrics::ANSWERS,
            "namespace" => self.service.namespace.clone(),
            "service" => self.service.name.clone(),
            "cluster" => export.cluster.to_string(),
        );
        Choice {
            cluster: export.cluster.to_string(),
            records,
            answered,
        }
    }

    /// SRV at the service name and per named port. ClusterSetIP: one record per common port,
    /// aimed at the service name. Headless: one per ready endpoint and port of eligible exports.
    fn service_srv(&self, owner: &Name) -> Result<(Vec<Record>, Vec<PortNode>), BuildError> {
        let service = self.service;
        let ports = service.common_ports();
        let mut targets: Vec<Name> = Vec::new();
        match service.service_type {
            ServiceType::ClusterSetIp => {
                if !service.vips.is_empty() || self.eligible().next().is_some() {
                    targets.push(owner.clone());
                }
            }
            ServiceType::Headless => {
                for export in self.eligible() {
                    for endpoint in export.endpoints.iter().filter(|e| e.ready) {
                        targets.push(self.name(&[&endpoint.hostname, export.cluster.as_str()])?);
                    }
                }
            }
        }
        let weight = srv_weight(targets.len());
        let mut all = Vec::new();
        let mut nodes = Vec::new();
        for port in &ports {
            let srv: Vec<Record> = targets
                .iter()
                .map(|t| records::srv(owner, self.ttl, weight, port.port, t))
                .collect();
            if let Some(name) = &port.name {
                let port_owner =
                    self.name(&[&format!("_{name}"), &format!("_{}", port.protocol.label())])?;
                nodes.push(PortNode {
                    name: name.as_bytes().into(),
                    protocol: port.protocol.label().as_bytes(),
                    srv: targets
                        .iter()
                        .map(|t| records::srv(&port_owner, self.ttl, weight, port.port, t))
                        .collect(),
                });
            }
            all.extend(srv);
        }
        Ok((all, nodes))
    }

    fn cluster_node(&self, export: &Export) -> Result<ClusterNode, BuildError> {
        let cluster = export.cluster.as_str();
        let owner = self.name(&[cluster])?;
        let split = |ips: &mut dyn Iterator<Item = &IpAddr>, owner: &Name| {
            let (mut a, mut aaaa) = (Vec::new(), Vec::new());
            for &ip in ips {
                let record = records::address(owner, self.ttl, ip);
                match Family::of(&ip) {
                    Family::V4 => a.push(record),
                    Family::V6 => aaaa.push(record),
                }
            }
            (a, aaaa)
        };
        let mut hosts = Vec::new();
        let mut srv = Vec::new();
        let (a, aaaa) = match self.service.service_type {
            ServiceType::ClusterSetIp => {
                let weight = srv_weight(1);
                for port in &export.ports {
                    srv.push(records::srv(&owner, self.ttl, weight, port.port, &owner));
                }
                split(&mut export.ips.iter(), &owner)
            }
            ServiceType::Headless => {
                let ready: Vec<_> = export.endpoints.iter().filter(|e| e.ready).collect();
                let weight = srv_weight(ready.len());
                for endpoint in &export.endpoints {
                    let host_owner = self.name(&[&endpoint.hostname, cluster])?;
                    let (a, aaaa) = if endpoint.ready {
                        split(&mut endpoint.addresses.iter(), &host_owner)
                    } else {
                        (Vec::new(), Vec::new())
                    };
                    if endpoint.ready {
                        for port in &export.ports {
                            srv.push(records::srv(
                                &owner,
                                self.ttl,
                                weight,
                                port.port,
                                &host_owner,
                            ));
                        }
                    }
                    hosts.push(HostNode {
                        name: endpoint.hostname.as_bytes().into(),
                        a,
                        aaaa,
                    });
                }
                hosts.sort_by(|x, y| x.name.cmp(&y.name));
                split(&mut ready.iter().flat_map(|e| e.addresses.iter()), &owner)
            }
        };
        Ok(ClusterNode {
            name: cluster.as_bytes().into(),
            a,
            aaaa,
            srv,
            hosts,
        })
    }
}

/// SRV weights of equal targets sum to about 100, as CoreDNS's kubernetes plugin does.
fn srv_weight(targets: usize) -> u16 {
    (100 / targets.max(1)).max(1) as u16
}

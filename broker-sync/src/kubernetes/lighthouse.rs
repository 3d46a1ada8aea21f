//! Maps the objects Lighthouse itself reads (ServiceImports, its EndpointSlices, Submariner's
//! Gateways) into the same [`ClusterSet`] the standalone file produces, so nothing downstream
//! knows which source is in use.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::objects::{Gateway, ServiceImport, go_duration_ms};
use crate::state::{
    Cluster, ClusterId, ClusterSet, DnsSettings, Endpoint, Export, Measurement, Policy, Port,
    Protocol, Service, ServiceType,
};

pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const LIGHTHOUSE_AGENT: &str = "lighthouse-agent.submariner.io";
pub const SOURCE_CLUSTER: &str = "multicluster.kubernetes.io/source-cluster";
pub const SERVICE_NAME: &str = "multicluster.kubernetes.io/service-name";
pub const SOURCE_NAMESPACE: &str = "lighthouse.submariner.io/sourceNamespace";

/// Everything read from the cluster at one moment.
pub struct Objects<'a> {
    pub local_cluster: &'a str,
    pub broker_namespace: &'a str,
    pub imports: &'a [ServiceImport],
    pub slices: &'a [EndpointSlice],
    pub gateways: &'a [Gateway],
    pub dns: DnsSettings,
}

/// A slice Lighthouse's agent wrote, with the labels that place it.
struct Placed<'a> {
    cluster: &'a str,
    namespace: &'a str,
    service: &'a str,
    slice: &'a EndpointSlice,
}

fn placed<'a>(slice: &'a EndpointSlice, broker_namespace: &str) -> Option<Placed<'a>> {
    let labels = slice.metadata.labels.as_ref()?;
    if labels.get(MANAGED_BY).map(String::as_str) != Some(LIGHTHOUSE_AGENT) {
        return None;
    }
    if slice.metadata.namespace.as_deref() == Some(broker_namespace) {
        return None;
    }
    Some(Placed {
        cluster: labels.get(SOURCE_CLUSTER)?,
        namespace: labels.get(SOURCE_NAMESPACE)?,
        service: labels.get(SERVICE_NAME)?,
        slice,
    })
}

/// Connectivity and round trips from the active gateway; `None` if there is no gateway, in
/// which case every cluster counts as connected (reference §3).
fn connectivity(gateways: &[Gateway]) -> Option<BTreeMap<String, (bool, Option<Measurement>)>> {
    let active = gateways.iter().find_map(|g| {
        let status = g.status.as_ref()?;
        (status.ha_status.as_deref() == Some("active")).then_some(status)
    })?;
    let mut out = BTreeMap::new();
    for connection in &active.connections {
        let Some(cluster) = connection
            .endpoint
            .as_ref()
            .and_then(|e| e.cluster_id.clone())
        else {
            continue;
        };
        let connected = connection.status.as_deref() == Some("connected");
        // Submariner writes "0s" before its first sample: unknown, not a round trip of zero.
        let sampled = |d: Option<&str>| d.and_then(go_duration_ms).filter(|ms| *ms > 0.0);
        let rtt = connection.latency_rtt.as_ref().and_then(|l| {
            let mean = sampled(l.average.as_deref()).or(sampled(l.last.as_deref()))?;
            Some(Measurement {
                mean_ms: mean,
                p99_ms: sampled(l.max.as_deref()),
                age_s: 0.0,
            })
        });
        out.insert(cluster, (connected, rtt));
    }
    Some(out)
}

/// This cluster's id from Submariner's gateway, the active one first: its local endpoint.
pub fn local_cluster_of(gateways: &[Gateway]) -> Option<String> {
    let id = |g: &Gateway| {
        g.status
            .as_ref()?
            .local_endpoint
            .as_ref()?
            .cluster_id
            .clone()
    };
    let active =
        |g: &&Gateway| g.status.as_ref().and_then(|s| s.ha_status.as_deref()) == Some("active");
    gateways
        .iter()
        .filter(active)
        .find_map(id)
        .or_else(|| gateways.iter().find_map(id))
}

fn protocol(text: Option<&str>) -> Protocol {
    match text.map(str::to_ascii_uppercase).as_deref() {
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        _ => Protocol::Tcp,
    }
}

fn ips(addresses: &[String]) -> Vec<IpAddr> {
    addresses.iter().filter_map(|a| a.parse().ok()).collect()
}

/// The clusterset these objects describe. Services get the default policy; AviatorPolicies
/// are applied on top by the caller.
pub fn cluster_set(objects: &Objects<'_>) -> ClusterSet {
    let gateway = connectivity(objects.gateways);
    let slices: Vec<Placed<'_>> = objects
        .slices
        .iter()
        .filter_map(|s| placed(s, objects.broker_namespace))
        .collect();
    let mut cluster_ids: BTreeSet<String> = slices.iter().map(|p| p.cluster.to_owned()).collect();
    cluster_ids.insert(objects.local_cluster.to_owned());
    if let Some(gateway) = &gateway {
        cluster_ids.extend(gateway.keys().cloned());
    }
    let clusters = cluster_ids
        .iter()
        .map(|id| Cluster {
            id: ClusterId::new(id.clone()),
            provider: None,
            region: None,
            zone: None,
            // The local cluster needs no tunnel; others need the active gateway's connection.
            connected: id == objects.local_cluster
                || gateway
                    .as_ref()
                    .is_none_or(|g| g.get(id).is_some_and(|c| c.0)),
            prices: None,
        })
        .collect();
    let mut services: Vec<Service> = objects
        .imports
        .iter()
        .filter_map(|import| {
            let namespace = import.metadata.namespace.clone()?;
            let name = import.metadata.name.clone()?;
            let service_type = match import.spec.import_type.as_deref() {
                Some("Headless") => ServiceType::Headless,
                _ => ServiceType::ClusterSetIp,
            };
            let mut exports: Vec<Export> = slices
                .iter()
                .filter(|p| p.namespace == namespace && p.service == name)
                .map(|p| export(p, service_type, gateway.as_ref()))
                .collect();
            exports.sort_by(|a, b| a.cluster.cmp(&b.cluster));
            exports.dedup_by(|a, b| a.cluster == b.cluster);
            Some(Service {
                namespace,
                name,
                service_type,
                vips: if service_type == ServiceType::ClusterSetIp {
                    ips(&import.spec.ips)
                } else {
                    Vec::new()
                },
                exports,
                policy: Policy::default(),
            })
        })
        .collect();
    services.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    ClusterSet {
        local_cluster: ClusterId::new(objects.local_cluster),
        dns: objects.dns.clone(),
        clusters,
        services,
    }
}

type Links = BTreeMap<String, (bool, Option<Measurement>)>;

fn export(placed: &Placed<'_>, service_type: ServiceType, gateway: Option<&Links>) -> Export {
    let slice = placed.slice;
    let ports: Vec<Port> = slice
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(Port {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port: u16::try_from(p.port?).ok().filter(|p| *p > 0)?,
                protocol: protocol(p.protocol.as_deref()),
            })
        })
        .collect();
    let ready = |e: &k8s_openapi::api::discovery::v1::Endpoint| {
        e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true)
    };
    let (service_ips, is_ready, endpoints) = match service_type {
        // One endpoint: the service IP, with its ready condition.
        ServiceType::ClusterSetIp => {
            let ips: Vec<IpAddr> = slice
                .endpoints
                .iter()
                .flat_map(|e| ips(&e.addresses))
                .collect();
            let is_ready = slice.endpoints.iter().any(ready);
            (ips, is_ready, Vec::new())
        }
        ServiceType::Headless => {
            let endpoints = slice
                .endpoints
                .iter()
                .map(|e| Endpoint {
                    // Pods without a hostname are named after their address, as CoreDNS does.
                    hostname: e.hostname.clone().unwrap_or_else(|| {
                        e.addresses
                            .first()
                            .map_or_else(String::new, |a| a.replace(['.', ':'], "-"))
                    }),
                    addresses: ips(&e.addresses),
                    ready: ready(e),
                })
                .filter(|e| !e.hostname.is_empty())
                .collect();
            (Vec::new(), true, endpoints)
        }
    };
    Export {
        cluster: ClusterId::new(placed.cluster),
        ips: service_ips,
        ready: is_ready,
        ports,
        endpoints,
        ready_endpoints: None,
        rtt: gateway
            .and_then(|g| g.get(placed.cluster))
            .and_then(|c| c.1),
        latency: None,
        load: None,
        probed_load: None,
        ejected: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../tests/data/kubernetes/lighthouse.yaml");

    fn load() -> (Vec<ServiceImport>, Vec<EndpointSlice>, Vec<Gateway>) {
        let (mut imports, mut slices, mut gateways) = (Vec::new(), Vec::new(), Vec::new());
        for document in serde_yaml_ng::Deserializer::from_str(FIXTURE) {
            let value = serde_yaml_ng::Value::deserialize(document).unwrap();
            match value.get("kind").and_then(|k| k.as_str()) {
                Some("ServiceImport") => imports.push(serde_yaml_ng::from_value(value).unwrap()),
                Some("EndpointSlice") => slices.push(serde_yaml_ng::from_value(value).unwrap()),
                Some("Gateway") => gateways.push(serde_yaml_ng::from_value(value).unwrap()),
                other => panic!("unexpected kind {other:?}"),
            }
        }
        (imports, slices, gateways)
    }

    use serde::Deserialize;

    #[test]
    fn lighthouse_and_submariner_objects_map_to_the_clusterset() {
        let (imports, slices, gateways) = load();
        let set = cluster_set(&Objects {
            local_cluster: "east",
            broker_namespace: "submariner-k8s-broker",
            imports: &imports,
            slices: &slices,
            gateways: &gateways,
            dns: DnsSettings::default(),
        });
        let ids: Vec<&str> = set.clusters.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["central", "east", "west"]);
        // The active gateway says central is in error; the passive one's "connected" is ignored.
        assert!(!set.is_connected(&ClusterId::new("central")));
        assert!(set.is_connected(&ClusterId::new("west")));
        assert!(set.is_connected(&ClusterId::new("east")));

        let nginx = set.services.iter().find(|s| s.name == "nginx").unwrap();
        assert_eq!(nginx.service_type, ServiceType::ClusterSetIp);
        // Two exports: the broker-namespace copy and the non-Lighthouse slice are ignored.
        assert_eq!(nginx.exports.len(), 2);
        let west = nginx
            .exports
            .iter()
            .find(|e| e.cluster.as_str() == "west")
            .unwrap();
        assert_eq!(west.ips, ["10.2.0.10".parse::<IpAddr>().unwrap()]);
        assert!(west.ready);
        assert_eq!(west.ports[0].port, 80);
        let rtt = west.rtt.expect("latencyRTT from the gateway");
        assert!((rtt.mean_ms - 62.4).abs() < 1e-9 && rtt.p99_ms == Some(80.1));
        let central = nginx
            .exports
            .iter()
            .find(|e| e.cluster.as_str() == "central")
            .unwrap();
        assert!(!central.ready);
        // Its gateway connection has no sample yet ("0s"): no round trip, rather than zero.
        assert_eq!(central.rtt, None);
        // Only west is eligible: central is neither ready nor connected.
        assert_eq!(nginx.eligibility(&set), [false, true]);

        let db = set.services.iter().find(|s| s.name == "db").unwrap();
        assert_eq!(db.service_type, ServiceType::Headless);
        let endpoints = &db.exports[0].endpoints;
        assert_eq!(endpoints.len(), 2);
        assert_eq!(endpoints[0].hostname, "db-0");
        assert!(endpoints[0].ready && !endpoints[1].ready);
    }

    #[test]
    fn without_a_gateway_every_cluster_counts_as_connected() {
        let (imports, slices, _) = load();
        let set = cluster_set(&Objects {
            local_cluster: "east",
            broker_namespace: "submariner-k8s-broker",
            imports: &imports,
            slices: &slices,
            gateways: &[],
            dns: DnsSettings::default(),
        });
        assert!(set.clusters.iter().all(|c| c.connected));
    }

    #[test]
    fn the_local_cluster_id_comes_from_the_active_gateway() {
        let (_, _, gateways) = load();
        assert_eq!(local_cluster_of(&gateways).as_deref(), Some("east"));
        assert_eq!(local_cluster_of(&[]), None);
    }

    #[test]
    fn go_durations_are_read() {
        assert_eq!(go_duration_ms("61.2ms"), Some(61.2));
        assert_eq!(go_duration_ms("850µs"), Some(0.85));
        assert_eq!(go_duration_ms("1m2.5s"), Some(62_500.0));
        assert_eq!(go_duration_ms("fast"), None);
        assert_eq!(go_duration_ms(""), None);
    }
}

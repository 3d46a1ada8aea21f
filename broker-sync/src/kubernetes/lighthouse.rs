//! Maps the objects Lighthouse itself reads (ServiceImports, its EndpointSlices, Submariner's
//! Gateways) into the same [`ClusterSet`] the standalone file produces, so nothing downstream
//! knows which source is in use.

use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::objects::{Gateway, ServiceImport, go_duration_ms};
use super::slices;
use crate::state::{
    Cluster, ClusterId, ClusterSet, DnsSettings, Export, Figures, Measurement, Policy, Service,
    ServiceType,
};

/// Everything read from the cluster at one moment.
pub struct Objects<'a> {
    pub local_cluster: &'a str,
    pub imports: &'a [&'a ServiceImport],
    pub slices: &'a [&'a EndpointSlice],
    pub gateways: &'a [Gateway],
    /// The Kubernetes slices of the services this cluster exports, by (namespace, service):
    /// their ready endpoints are the local export's capacity, and under Globalnet its
    /// headless addresses.
    pub own_slices: &'a BTreeMap<(String, String), Vec<EndpointSlice>>,
    pub dns: DnsSettings,
}

/// Whether Lighthouse serves this ServiceImport: not a per-cluster copy (labelled with its
/// service's name) and not the broker's (annotated so).
pub fn serves(import: &ServiceImport) -> bool {
    !import.metadata.labels.contains_key(slices::SERVICE_NAME)
        && !import
            .metadata
            .annotations
            .contains_key(slices::SERVICE_NAME)
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

/// The clusterset these objects describe. Services get the default policy; AviatorPolicies
/// are applied on top by the caller.
pub fn cluster_set(objects: &Objects<'_>) -> ClusterSet {
    let gateway = connectivity(objects.gateways);
    let grouped = slices::by_export(objects.slices.iter().copied());
    let mut cluster_ids: BTreeSet<String> = grouped.keys().map(|k| k.2.clone()).collect();
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
        .filter(|import| serves(import))
        .filter_map(|import| {
            let namespace = import.metadata.namespace.clone()?;
            let name = import.metadata.name.clone()?;
            let service_type = match import.spec.import_type.as_deref() {
                Some("Headless") => ServiceType::Headless,
                _ => ServiceType::ClusterSetIp,
            };
            let exports: Vec<Export> = grouped
                .range((namespace.clone(), name.clone(), String::new())..)
                .take_while(|((ns, svc, _), _)| *ns == namespace && *svc == name)
                .map(|((_, _, cluster), group)| {
                    let local = cluster == objects.local_cluster;
                    let own = local
                        .then(|| objects.own_slices.get(&(namespace.clone(), name.clone())))
                        .flatten();
                    export(cluster, group, service_type, own, gateway.as_ref())
                })
                .collect();
            Some(Service {
                namespace,
                name,
                service_type,
                vips: if service_type == ServiceType::ClusterSetIp {
                    slices::ips(&import.spec.ips)
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
        services: services.into_iter().map(Arc::new).collect(),
    }
}

type Links = BTreeMap<String, (bool, Option<Measurement>)>;

/// One cluster's export from its slices; `own` (the local export only) are the service's
/// Kubernetes slices.
fn export(
    cluster: &str,
    group: &[&EndpointSlice],
    service_type: ServiceType,
    own: Option<&Vec<EndpointSlice>>,
    gateway: Option<&Links>,
) -> Export {
    let globalnet = own
        .filter(|_| service_type == ServiceType::Headless && slices::needs_local_slices(group[0]));
    let read = slices::read(service_type, group, globalnet.map(Vec::as_slice));
    Export {
        cluster: ClusterId::new(cluster),
        ips: read.ips,
        ready: read.ready,
        ports: read.ports.into(),
        endpoints: read.endpoints,
        // The agent's ClusterSetIP slice says only whether any pod is ready; the service's own
        // slices count them.
        ready_endpoints: own.map(|own| slices::ready_count(own)),
        figures: Figures {
            rtt: gateway.and_then(|g| g.get(cluster)).and_then(|c| c.1),
            ..Figures::default()
        }
        .boxed(),
        ejected: false,
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

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

    fn refs<T>(items: &[T]) -> Vec<&T> {
        items.iter().collect()
    }

    /// The clusterset these objects make, seen from `local`.
    fn read(
        local: &str,
        imports: &[ServiceImport],
        slices: &[EndpointSlice],
        gateways: &[Gateway],
        own_slices: &BTreeMap<(String, String), Vec<EndpointSlice>>,
    ) -> ClusterSet {
        cluster_set(&Objects {
            local_cluster: local,
            imports: &refs(imports),
            slices: &refs(slices),
            gateways,
            own_slices,
            dns: DnsSettings::default(),
        })
    }

    #[test]
    fn lighthouse_and_submariner_objects_map_to_the_clusterset() {
        let (imports, slices, gateways) = load();
        let set = read("east", &imports, &slices, &gateways, &BTreeMap::new());
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
        let rtt = west.figures().rtt.expect("latencyRTT from the gateway");
        assert!((rtt.mean_ms - 62.4).abs() < 1e-9 && rtt.p99_ms == Some(80.1));
        let central = nginx
            .exports
            .iter()
            .find(|e| e.cluster.as_str() == "central")
            .unwrap();
        assert!(!central.ready);
        // Its gateway connection has no sample yet ("0s"): no round trip, rather than zero.
        assert_eq!(central.figures().rtt, None);
        // Only west is eligible: central is neither ready nor connected.
        assert_eq!(nginx.eligibility(&set), [false, true]);

        // The per-cluster and the broker's ServiceImports are not services.
        let names: Vec<(&str, &str)> = set
            .services
            .iter()
            .map(|s| (s.namespace.as_str(), s.name.as_str()))
            .collect();
        assert_eq!(names, [("data", "db"), ("default", "nginx")]);

        // Headless: west's two slices (IPv4 and IPv6) merge; the pod in both is one name with
        // both families; an endpoint with no hostname is named after its pod.
        let db = set.services.iter().find(|s| s.name == "db").unwrap();
        assert_eq!(db.service_type, ServiceType::Headless);
        let endpoints = &db.exports[0].endpoints;
        let names: Vec<&str> = endpoints.iter().map(|e| e.hostname.as_str()).collect();
        assert_eq!(names, ["db-0", "db-1", "db-replica-7f9c4"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(endpoints[0].addresses, [ip("10.2.1.1"), ip("fd00:2::1:1")]);
        assert!(endpoints[0].ready && !endpoints[1].ready && endpoints[2].ready);
    }

    /// The fixture's slices, with annotation `key: value` on the one named `name`.
    fn annotated(
        slices: &[EndpointSlice],
        name: &str,
        key: &str,
        value: &str,
    ) -> Vec<EndpointSlice> {
        let mut slices = slices.to_vec();
        for slice in &mut slices {
            if slice.metadata.name.as_deref() == Some(name) {
                let annotations = slice.metadata.annotations.get_or_insert_default();
                annotations.insert(key.to_owned(), value.to_owned());
            }
        }
        slices
    }

    fn db_endpoints(set: &ClusterSet) -> Vec<(String, bool)> {
        let db = set.services.iter().find(|s| s.name == "db").unwrap();
        db.exports[0]
            .endpoints
            .iter()
            .map(|e| (e.hostname.clone(), e.ready))
            .collect()
    }

    #[test]
    fn publish_not_ready_addresses_answers_unready_pods() {
        let (imports, slices, gateways) = load();
        let slices = annotated(&slices, "db-5mz8r", slices::PUBLISH_NOT_READY, "true");
        let set = read("east", &imports, &slices, &gateways, &BTreeMap::new());
        assert!(db_endpoints(&set).iter().all(|(_, ready)| *ready));
    }

    #[test]
    fn a_legacy_slice_gives_way_to_a_current_one() {
        let (imports, mut slices, gateways) = load();
        let mut legacy = slices[0].clone();
        legacy.metadata.name = Some("nginx-west".to_owned());
        legacy.endpoints[0].addresses = vec!["10.2.9.9".to_owned()];
        slices.push(legacy);
        let set = read("east", &imports, &slices, &gateways, &BTreeMap::new());
        let nginx = set.services.iter().find(|s| s.name == "nginx").unwrap();
        let west = nginx
            .exports
            .iter()
            .find(|e| e.cluster.as_str() == "west")
            .unwrap();
        assert_eq!(west.ips, ["10.2.0.10".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn under_globalnet_the_local_headless_export_uses_the_services_own_slices() {
        let (imports, slices, _) = load();
        // As seen from west, whose db slices say Globalnet is on: they carry global IPs.
        let slices = annotated(&slices, "db-5mz8r", slices::GLOBALNET_ENABLED, "true");
        let own: EndpointSlice = serde_yaml_ng::from_str(
            r#"
metadata: { name: db-hx2vb, namespace: data, labels: { kubernetes.io/service-name: db } }
addressType: IPv4
endpoints:
  - { addresses: ["10.20.0.7"], hostname: db-0, conditions: { ready: true } }
  - { addresses: ["10.20.0.8"], hostname: db-1, conditions: { ready: true } }
"#,
        )
        .unwrap();
        let own_slices = BTreeMap::from([(("data".to_owned(), "db".to_owned()), vec![own])]);
        let set = read("west", &imports, &slices, &[], &own_slices);
        let db = set.services.iter().find(|s| s.name == "db").unwrap();
        let addresses: Vec<IpAddr> = db.exports[0]
            .endpoints
            .iter()
            .flat_map(|e| e.addresses.clone())
            .collect();
        assert_eq!(
            addresses,
            [
                "10.20.0.7".parse::<IpAddr>().unwrap(),
                "10.20.0.8".parse().unwrap()
            ]
        );
        assert_eq!(db.exports[0].ready_endpoints, Some(2));
    }

    #[test]
    fn a_local_clusterset_ip_export_counts_its_ready_pods() {
        let (imports, slices, gateways) = load();
        let own: EndpointSlice = serde_yaml_ng::from_str(
            r#"
metadata: { name: nginx-8fj2k, namespace: default, labels: { kubernetes.io/service-name: nginx } }
addressType: IPv4
endpoints:
  - { addresses: ["10.20.1.1"], conditions: { ready: true }, targetRef: { kind: Pod, name: a } }
  - { addresses: ["10.20.1.2"], conditions: { ready: true }, targetRef: { kind: Pod, name: b } }
  - { addresses: ["10.20.1.3"], conditions: { ready: false }, targetRef: { kind: Pod, name: c } }
"#,
        )
        .unwrap();
        let own_slices = BTreeMap::from([(("default".to_owned(), "nginx".to_owned()), vec![own])]);
        let set = read("west", &imports, &slices, &gateways, &own_slices);
        let nginx = set.services.iter().find(|s| s.name == "nginx").unwrap();
        let west = nginx
            .exports
            .iter()
            .find(|e| e.cluster.as_str() == "west")
            .unwrap();
        assert_eq!(west.ready_endpoints, Some(2));
        // Ready-endpoint counts of other clusters' exports come from their own reports.
        let central = nginx
            .exports
            .iter()
            .find(|e| e.cluster.as_str() == "central")
            .unwrap();
        assert_eq!(central.ready_endpoints, None);
    }

    #[test]
    fn without_a_gateway_every_cluster_counts_as_connected() {
        let (imports, slices, _) = load();
        let set = read("east", &imports, &slices, &[], &BTreeMap::new());
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

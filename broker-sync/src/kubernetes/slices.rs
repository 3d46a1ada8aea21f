//! Lighthouse's EndpointSlices, read as Lighthouse's own resolver reads them
//! (`coredns/resolver/endpoint_slice.go` and `controller.go`): which slices count, how a
//! cluster's several slices of one headless service merge, and what each endpoint is called.
//!
//! - A slice counts when the agent manages it and it sits in its service's own namespace (a
//!   copy whose namespace differs from its `sourceNamespace` label is the broker's).
//! - A pre-0.16 slice (named `<svc>-<cluster>`) is ignored once the cluster has a current one.
//! - ClusterSetIP: one endpoint, the service IP, with its `ready` condition (nil is ready).
//! - Headless: every slice of the cluster (over 100 endpoints, dual stack), addresses once
//!   each; an unready endpoint is kept unready unless the slice carries
//!   `publish-not-ready-addresses: "true"`; an endpoint is named by its `hostname`, else its
//!   pod (`targetRef.name`), else (where Lighthouse gives it no name) after its address.
//! - Globalnet: the local cluster's headless slices carry global IPs, which are not routable
//!   inside the cluster, so the local export is answered from the service's own Kubernetes
//!   slices instead ([`needs_local_slices`]).

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::discovery::v1::{Endpoint as SliceEndpoint, EndpointSlice};

use crate::state::{Endpoint, Port, Protocol, ServiceType};

pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const LIGHTHOUSE_AGENT: &str = "lighthouse-agent.submariner.io";
pub const SOURCE_CLUSTER: &str = "multicluster.kubernetes.io/source-cluster";
pub const SERVICE_NAME: &str = "multicluster.kubernetes.io/service-name";
pub const SOURCE_NAMESPACE: &str = "lighthouse.submariner.io/sourceNamespace";
pub const IS_HEADLESS: &str = "lighthouse.submariner.io/is-headless";
pub const PUBLISH_NOT_READY: &str = "lighthouse.submariner.io/publish-not-ready-addresses";
pub const GLOBALNET_ENABLED: &str = "lighthouse.submariner.io/globalnet-enabled";
/// The label Kubernetes puts on a Service's own slices.
pub const KUBERNETES_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// The label selector of the slices Lighthouse's agent writes: the only ones watched.
pub fn selector() -> String {
    format!("{MANAGED_BY}={LIGHTHOUSE_AGENT}")
}

/// (namespace, service, cluster): one export's slices.
pub type ExportKey = (String, String, String);

/// The slices that count, grouped by export, in name order.
pub fn by_export<'a>(
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
) -> BTreeMap<ExportKey, Vec<&'a EndpointSlice>> {
    let mut grouped: BTreeMap<ExportKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in slices {
        if let Some(key) = placed(slice) {
            grouped.entry(key).or_default().push(slice);
        }
    }
    for ((_, _, cluster), group) in &mut grouped {
        if group.iter().any(|s| !legacy(s, cluster)) {
            group.retain(|s| !legacy(s, cluster));
        }
        group.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    }
    grouped
}

fn placed(slice: &EndpointSlice) -> Option<ExportKey> {
    let labels = slice.metadata.labels.as_ref()?;
    if labels.get(MANAGED_BY).map(String::as_str) != Some(LIGHTHOUSE_AGENT) {
        return None;
    }
    let namespace = labels.get(SOURCE_NAMESPACE)?;
    // The broker keeps every cluster's copies in its own namespace.
    if slice.metadata.namespace.as_ref() != Some(namespace) {
        return None;
    }
    Some((
        namespace.clone(),
        labels.get(SERVICE_NAME)?.clone(),
        labels.get(SOURCE_CLUSTER)?.clone(),
    ))
}

/// Before 0.16 the agent named a cluster's one slice `<svc>-<cluster>`.
fn legacy(slice: &EndpointSlice, cluster: &str) -> bool {
    slice
        .metadata
        .name
        .as_deref()
        .is_some_and(|n| n.ends_with(&format!("-{cluster}")))
}

fn annotation<'a>(slice: &'a EndpointSlice, key: &str) -> Option<&'a str> {
    slice
        .metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// Whether the local export of this headless service must be answered from the service's own
/// Kubernetes slices: Globalnet is on for it (or the slice is too old to say, as Lighthouse
/// reads it).
pub fn needs_local_slices(slice: &EndpointSlice) -> bool {
    let labels = slice.metadata.labels.as_ref();
    let Some(headless) = labels.and_then(|l| l.get(IS_HEADLESS)) else {
        return true;
    };
    let headless = headless == "true";
    match annotation(slice, GLOBALNET_ENABLED) {
        Some(globalnet) => headless && globalnet == "true",
        None => headless,
    }
}

/// What one export's slices say: the service IPs (ClusterSetIP), whether it is ready, its
/// ports and its headless endpoints.
pub struct Read {
    pub ips: Vec<IpAddr>,
    pub ready: bool,
    pub ports: Vec<Port>,
    pub endpoints: Vec<Endpoint>,
}

/// Reads one export from its slices (at least one). For the local export under Globalnet,
/// `own` are the service's Kubernetes slices, which replace the agent's endpoints.
pub fn read(
    service_type: ServiceType,
    slices: &[&EndpointSlice],
    own: Option<&[EndpointSlice]>,
) -> Read {
    let first = slices[0];
    let ports = ports(first);
    match service_type {
        ServiceType::ClusterSetIp => {
            let endpoint = first.endpoints.first();
            Read {
                ips: endpoint.map(|e| ips(&e.addresses)).unwrap_or_default(),
                ready: endpoint.is_some_and(is_ready),
                ports,
                endpoints: Vec::new(),
            }
        }
        ServiceType::Headless => {
            let publish_not_ready = annotation(first, PUBLISH_NOT_READY) == Some("true");
            let from: Vec<&EndpointSlice> = match own {
                Some(own) => own.iter().collect(),
                None => slices.to_vec(),
            };
            Read {
                ips: Vec::new(),
                ready: true,
                ports,
                endpoints: headless(&from, publish_not_ready),
            }
        }
    }
}

fn headless(slices: &[&EndpointSlice], publish_not_ready: bool) -> Vec<Endpoint> {
    let mut seen: std::collections::HashSet<IpAddr> = std::collections::HashSet::new();
    let mut by_name: BTreeMap<String, Endpoint> = BTreeMap::new();
    for endpoint in slices.iter().flat_map(|s| &s.endpoints) {
        let addresses: Vec<IpAddr> = ips(&endpoint.addresses)
            .into_iter()
            .filter(|ip| seen.insert(*ip))
            .collect();
        let Some(first) = addresses.first() else {
            continue;
        };
        let ready = publish_not_ready || is_ready(endpoint);
        let name = hostname(endpoint).unwrap_or_else(|| address_label(first));
        // One pod in two slices (dual stack) is one name with both families.
        let entry = by_name.entry(name.clone()).or_insert_with(|| Endpoint {
            hostname: name,
            addresses: Vec::new(),
            ready,
        });
        entry.ready &= ready;
        entry.addresses.extend(addresses);
    }
    by_name.into_values().collect()
}

/// The endpoint's name as Lighthouse gives it: its hostname, else its pod's name; `None` when
/// neither is a DNS label.
fn hostname(endpoint: &SliceEndpoint) -> Option<String> {
    let pod = endpoint
        .target_ref
        .as_ref()
        .filter(|r| {
            r.kind
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("pod"))
        })
        .and_then(|r| r.name.clone());
    endpoint
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .or(pod)
        .map(|n| n.to_ascii_lowercase())
        .filter(|n| is_label(n))
}

fn is_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// `10-1-2-3`, as CoreDNS names an endpoint with no hostname.
fn address_label(ip: &IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

/// Ready unless it says otherwise: "consumers should interpret this unknown state as ready".
fn is_ready(endpoint: &SliceEndpoint) -> bool {
    endpoint
        .conditions
        .as_ref()
        .and_then(|c| c.ready)
        .unwrap_or(true)
}

/// Ready endpoints in a Service's own Kubernetes slices: the export's capacity.
pub fn ready_count(own: &[EndpointSlice]) -> u32 {
    let mut seen = std::collections::HashSet::new();
    own.iter()
        .flat_map(|s| &s.endpoints)
        .filter(|e| is_ready(e))
        .filter(|e| {
            // A pod in both an IPv4 and an IPv6 slice is one server.
            let id = e
                .target_ref
                .as_ref()
                .and_then(|r| r.name.clone())
                .or_else(|| e.addresses.first().cloned());
            id.is_none_or(|id| seen.insert(id))
        })
        .count() as u32
}

fn ports(slice: &EndpointSlice) -> Vec<Port> {
    slice
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(Port {
                name: p
                    .name
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .map(std::sync::Arc::from),
                port: u16::try_from(p.port?).ok().filter(|p| *p > 0)?,
                protocol: protocol(p.protocol.as_deref()),
            })
        })
        .collect()
}

fn protocol(text: Option<&str>) -> Protocol {
    match text.map(str::to_ascii_uppercase).as_deref() {
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        _ => Protocol::Tcp,
    }
}

pub fn ips(addresses: &[String]) -> Vec<IpAddr> {
    addresses.iter().filter_map(|a| a.parse().ok()).collect()
}

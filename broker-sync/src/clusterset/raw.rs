//! The clusterset file as written: serde types that mirror the YAML, before any validation.
//!
//! Scalars that validation must judge (IPs, ports, weights) are kept loose here so that a bad
//! value yields our own message with its field path instead of a bare serde type error.

use std::collections::BTreeMap;

use aviator_optimizer::cost::PriceRow;
use aviator_optimizer::{Measurement, Objective};
use serde::Deserialize;
use serde_yaml_ng::Value;

use super::validate::MAX_ERRORS;

/// The top level. Each cluster and service is decoded on its own, so that one bad entry does
/// not hide the errors of the others: the small sections stay [`Value`]s, decoded later; the
/// services, most of the file, are decoded one by one as they are read (see [`RawServices`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawClusterSet {
    pub local_cluster: Option<String>,
    #[serde(default)]
    pub dns: Option<Value>,
    #[serde(default)]
    pub clusters: Vec<Value>,
    #[serde(default)]
    pub services: RawServices,
}

impl RawClusterSet {
    /// Whether it declares nothing at all.
    pub fn is_empty(&self) -> bool {
        let services = &self.services;
        self.local_cluster.is_none()
            && self.dns.is_none()
            && self.clusters.is_empty()
            && services.decoded.is_empty()
            && services.failed.is_empty()
            && services.omitted == 0
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawDns {
    #[serde(default)]
    pub zones: Option<Vec<String>>,
    pub ttl: Option<i64>,
    pub negative_ttl: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCluster {
    pub id: String,
    pub provider: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
    #[serde(default = "yes")]
    pub connected: bool,
    pub prices: Option<RawPrices>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPrices {
    pub egress: PriceRow,
    #[serde(default)]
    pub ingress: Option<PriceRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawService {
    pub name: String,
    pub namespace: String,
    #[serde(rename = "type", default)]
    pub service_type: RawServiceType,
    #[serde(default)]
    pub ports: Vec<RawPort>,
    #[serde(default)]
    pub vips: Vec<String>,
    #[serde(default)]
    pub policy: Option<RawPolicy>,
    #[serde(default)]
    pub exports: Vec<RawExport>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
pub enum RawServiceType {
    #[default]
    #[serde(rename = "ClusterSetIP")]
    ClusterSetIp,
    Headless,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPort {
    pub name: Option<String>,
    pub port: i64,
    #[serde(default)]
    pub protocol: RawProtocol,
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum RawProtocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPolicy {
    #[serde(default)]
    pub mode: RawMode,
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
    #[serde(default = "yes")]
    pub prefer_local: bool,
    // Optimized only:
    pub objective: Option<Objective>,
    pub tradeoff: Option<f64>,
    pub usd_per_ms_per_million: Option<f64>,
    pub min_share: Option<f64>,
    pub latency_slo_ms: Option<f64>,
    pub migration_seconds: Option<f64>,
    pub full_gap: Option<f64>,
    pub target_utilization: Option<f64>,
    pub request_bytes: Option<f64>,
    pub response_bytes: Option<f64>,
    // Any mode:
    pub probe: Option<bool>,
    pub probe_path: Option<String>,
    pub probe_port: Option<u16>,
    pub probe_interval_seconds: Option<u32>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
pub enum RawMode {
    #[default]
    RoundRobin,
    WeightedRoundRobin,
    Optimized,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawExport {
    pub cluster: String,
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default = "yes")]
    pub ready: bool,
    /// Defaults to the service's ports.
    pub ports: Option<Vec<RawPort>>,
    #[serde(default)]
    pub endpoints: Vec<RawEndpoint>,
    pub ready_endpoints: Option<u32>,
    /// Busy fraction of its servers, as its exporter would report it; until a report comes
    /// through the broker.
    pub utilization: Option<f64>,
    /// Declared until probes measure it.
    pub rtt: Option<Measurement>,
    pub latency: Option<Measurement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawEndpoint {
    pub hostname: Option<String>,
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default = "yes")]
    pub ready: bool,
}

fn yes() -> bool {
    true
}

/// The services list as read: each entry is decoded alone, as soon as it is read, so the file's
/// tree is never held whole. Holding it whole cost 40 times the file (180 MB for 4 MB), and the
/// validated services, allocated while it lived, stayed scattered through its freed pages.
#[derive(Debug, Default)]
pub struct RawServices {
    /// The entries that decoded, with their index in the list.
    pub decoded: Vec<(usize, RawService)>,
    /// The first [`MAX_ERRORS`] entries that did not, in order.
    pub failed: Vec<FailedEntry>,
    /// Entries that failed past those.
    pub omitted: usize,
}

/// A list entry that did not decode.
#[derive(Debug)]
pub struct FailedEntry {
    pub index: usize,
    /// The field at fault inside the entry, as serde_path_to_error writes it (`.` for the entry
    /// itself).
    pub path: String,
    pub message: String,
}

impl<'de> Deserialize<'de> for RawServices {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `any`, not `seq`: `services: ~` is no services, as it was when the file was a tree.
        deserializer.deserialize_any(ServicesVisitor)
    }
}

struct ServicesVisitor;

impl<'de> serde::de::Visitor<'de> for ServicesVisitor {
    type Value = RawServices;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of services")
    }

    fn visit_unit<E>(self) -> Result<RawServices, E> {
        Ok(RawServices::default())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawServices, A::Error> {
        let mut services = RawServices::default();
        // One entry's tree at a time: a syntax error still ends the whole file here.
        while let Some(entry) = seq.next_element::<Value>()? {
            let index = services.decoded.len() + services.failed.len() + services.omitted;
            match serde_path_to_error::deserialize::<_, RawService>(entry) {
                Ok(service) => services.decoded.push((index, service)),
                Err(_) if services.failed.len() >= MAX_ERRORS => services.omitted += 1,
                Err(error) => services.failed.push(FailedEntry {
                    index,
                    path: error.path().to_string(),
                    message: error.into_inner().to_string(),
                }),
            }
        }
        Ok(services)
    }
}

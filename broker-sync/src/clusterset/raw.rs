//! The clusterset file as written: serde types that mirror the YAML, before any validation.
//!
//! Scalars that validation must judge (IPs, ports, weights) are kept loose here so that a bad
//! value yields our own message with its field path instead of a bare serde type error.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

/// The top level. Sections stay as [`Value`]s so each cluster and service is decoded on its own
/// and one bad entry does not hide the errors of the others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawClusterSet {
    pub local_cluster: Option<String>,
    #[serde(default)]
    pub dns: Option<Value>,
    #[serde(default)]
    pub clusters: Vec<Value>,
    #[serde(default)]
    pub services: Vec<Value>,
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
    pub egress: RawPriceRow,
    #[serde(default)]
    pub ingress: Option<RawPriceRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPriceRow {
    pub intra_zone: f64,
    pub inter_zone: f64,
    pub inter_region: f64,
    pub inter_continent: f64,
    pub internet: f64,
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
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
pub enum RawMode {
    #[default]
    RoundRobin,
    WeightedRoundRobin,
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

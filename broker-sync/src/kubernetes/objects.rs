//! The Lighthouse and Submariner objects Aviator reads, as plain serde types (only the fields
//! it uses; the rest are ignored). EndpointSlices use k8s-openapi's own type.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `multicluster.x-k8s.io/v1alpha1` ServiceImport, aggregated by Lighthouse in the service's
/// namespace.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceImport {
    pub metadata: Meta,
    pub spec: ServiceImportSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceImportSpec {
    #[serde(rename = "type", default)]
    pub import_type: Option<String>,
    #[serde(default)]
    pub ports: Vec<ImportPort>,
    /// Clusterset VIPs, when the service has them.
    #[serde(default)]
    pub ips: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImportPort {
    #[serde(default)]
    pub name: Option<String>,
    pub port: i64,
    #[serde(default)]
    pub protocol: Option<String>,
}

/// `submariner.io/v1` Gateway: which clusters the active gateway is connected to, and how far.
#[derive(Debug, Clone, Deserialize)]
pub struct Gateway {
    pub metadata: Meta,
    #[serde(default)]
    pub status: Option<GatewayStatus>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    #[serde(default)]
    pub ha_status: Option<String>,
    #[serde(default)]
    pub local_endpoint: Option<GatewayEndpoint>,
    #[serde(default)]
    pub connections: Vec<Connection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub endpoint: Option<GatewayEndpoint>,
    #[serde(default, rename = "latencyRTT")]
    pub latency_rtt: Option<LatencyRtt>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GatewayEndpoint {
    #[serde(default)]
    pub cluster_id: Option<String>,
}

/// Go durations as strings (`61.2ms`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencyRtt {
    #[serde(default)]
    pub last: Option<String>,
    #[serde(default)]
    pub average: Option<String>,
    #[serde(default)]
    pub max: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Meta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// Milliseconds in a Go duration string such as `61.2ms`, `850µs`, `1.5s` or `1m2.5s`.
pub fn go_duration_ms(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&i| i > 0)?;
        let value: f64 = rest[..split].parse().ok()?;
        rest = &rest[split..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-6,
            "us" | "µs" | "μs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            _ => return None,
        };
        total += value * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

//! The scenario file as written: serde types that mirror the YAML, before any validation.
//!
//! The top level keeps every section as a [`Value`], so each is decoded on its own and one bad
//! entry does not hide the errors of the others. Counts are kept as `i64` so that a negative or
//! huge one gets our own message with its path instead of a bare serde type error. The same
//! types, serialized, are what [`super::to_yaml`] writes.

use aviator_optimizer::cost::PriceTable;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawScenario {
    pub name: Option<Value>,
    pub about: Option<Value>,
    pub duration: Option<Value>,
    pub steady_from: Option<Value>,
    /// Until when the shares count as steady (a change meant to move them comes then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_until: Option<Value>,
    pub planned_load: Option<Value>,
    pub control_plane_delay: Option<Value>,
    pub slo_ms: Option<Value>,
    pub clusters: Option<Value>,
    pub clients: Option<Value>,
    pub rtt: Option<Value>,
    pub service: Option<Value>,
    pub dns: Option<Value>,
    pub load: Option<Value>,
    pub events: Option<Value>,
    pub windows: Option<Value>,
    pub policies: Option<Value>,
    pub goals: Option<Value>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCluster {
    pub name: String,
    pub provider: String,
    pub region: String,
    pub zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speeds: Option<Vec<f64>>,
    /// A provider's list prices by name, or a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Value>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawClient {
    pub cluster: String,
    pub demand: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRtt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_cluster: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_region: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<RawRegionPair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Vec<Vec<f64>>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRegionPair {
    pub between: Vec<String>,
    pub ms: f64,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawService {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_bytes: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_per_server: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_rps_per_server: Option<f64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawDns {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver_min_ttl: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_cache: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_per_pod: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_age: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawLoadStep {
    pub at: f64,
    pub load: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawLoadRamp {
    pub ramp: RawRamp,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRamp {
    pub from: f64,
    pub to: f64,
    pub step: f64,
    /// Seconds each step is held.
    pub hold: f64,
    #[serde(default)]
    pub start: Option<f64>,
    /// Seconds after each step starts before its window opens.
    #[serde(default)]
    pub settle: Option<f64>,
}

/// One event: `at` and exactly one of the others.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawEvent {
    pub at: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowdown: Option<RawSlowdown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt: Option<RawRttChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<RawPriceChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<RawEndpoints>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSlowdown {
    pub cluster: String,
    pub factor: f64,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRttChange {
    pub between: Vec<String>,
    pub ms: f64,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPriceChange {
    pub cluster: String,
    /// A provider's list prices by name, or a table.
    pub to: Value,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawEndpoints {
    pub cluster: String,
    pub count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWindow {
    pub label: String,
    pub from: f64,
    pub to: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
}

/// One goal: an optional description and exactly one of the kinds.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGoal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ratio: Option<RawRatio>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_ratio: Option<RawRatio>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_ratio: Option<RawRatio>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_slo: Option<RawSlo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_after: Option<RawShare>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swing: Option<RawSwing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<RawSettle>,
}

/// One policy, or several: "than the better of these".
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RawPolicies {
    One(String),
    Several(Vec<String>),
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSettle {
    pub policy: String,
    pub at: f64,
    /// Points every share must come within of the new steady split.
    pub band: f64,
    /// Seconds it may take.
    pub within: f64,
    /// Points the split must move at least (so a policy that never moves fails).
    pub at_least: f64,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRatio {
    pub policy: String,
    pub than: RawPolicies,
    pub at_most: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_load: Option<f64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSlo {
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_load: Option<f64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawShare {
    pub policy: String,
    pub cluster: String,
    pub from: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<f64>,
    pub below: f64,
    /// Whether the bound holds in every second, not only over the whole span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub each_second: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSwing {
    pub policy: String,
    pub at_most: f64,
}

/// A price table as the file writes it, for the writer.
pub fn price_value(table: &PriceTable) -> Value {
    serde_yaml_ng::to_value(table).unwrap_or(Value::Null)
}

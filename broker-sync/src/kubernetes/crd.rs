//! The custom resources: `AviatorPolicy` (`aviator.dev/v1alpha1`, namespaced), which sets how a
//! service is balanced and reports what Aviator decided, and `ClusterCost`, the profile each
//! cluster publishes in the broker namespace. The OpenAPI schemas are generated from these
//! types, so enums and ranges are enforced by the API server itself.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use kube::core::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a service's lookups are spread. The policy named `default` in Aviator's namespace sets
/// the cluster-wide defaults; a policy with `service` set, in that service's namespace,
/// overrides them for that service.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "aviator.dev",
    version = "v1alpha1",
    kind = "AviatorPolicy",
    namespaced,
    status = "AviatorPolicyStatus",
    shortname = "avp",
    printcolumn = r#"{"name":"Service","type":"string","jsonPath":".spec.service"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.loadBalancing"}"#,
    printcolumn = r#"{"name":"Objective","type":"string","jsonPath":".spec.objective"}"#,
    printcolumn = r#"{"name":"Shares","type":"string","jsonPath":".status.summary"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AviatorPolicySpec {
    /// The service (in this policy's namespace) the policy applies to. Unset on the
    /// cluster-wide `default` policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default)]
    pub load_balancing: LoadBalancing,
    /// For `Optimized`: what to minimise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<ObjectiveSpec>,
    /// For `Mixed`: weight of latency against price, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub tradeoff: Option<f64>,
    /// For `Mixed`: what one millisecond per request is worth per million requests, USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub usd_per_ms_per_million: Option<f64>,
    /// Answer with the local export while it is eligible (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefer_local: Option<bool>,
    /// For `WeightedRoundRobin`: a proportional weight per cluster, 0 to 1,000,000; 0 drains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("additionalProperties" = { "type": "integer", "format": "int32", "minimum": 0, "maximum": MAX_WEIGHT }))]
    pub weights: Option<BTreeMap<String, u32>>,
    /// Share every eligible export keeps, 0 to 0.5 (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 0.5))]
    pub min_share: Option<f64>,
    /// Expected latency, ms, that Cost and Mixed must stay within when they can (at most ten
    /// minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_LATENCY_SLO_MS))]
    pub latency_slo_ms: Option<u32>,
    /// Typical request size, bytes, for the price of a request (at most 1 GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = MAX_MESSAGE_BYTES))]
    pub request_bytes: Option<u32>,
    /// Typical response size, bytes (at most 1 GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = MAX_MESSAGE_BYTES))]
    pub response_bytes: Option<u32>,
    /// Seconds over which traffic leaves an export when another is far cheaper (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub migration_seconds: Option<u32>,
    /// Health and latency probing of the exports; off unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeSpec>,
    /// Only on the cluster-wide `default` policy: where this cluster is, over what its Nodes say
    /// (`spec.providerID`, `topology.kubernetes.io/region` and `/zone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationSpec>,
    /// Only on the cluster-wide `default` policy: this cluster's transfer prices, USD per GB,
    /// over the list prices Aviator ships for its provider. Published to the broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<PriceTableSpec>,
}

/// A cluster's place; each part set here overrides what the Nodes say.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationSpec {
    /// `aws`, `gcp`, `azure`, or another name (which has no shipped prices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum LoadBalancing {
    /// Lighthouse's strict rotation.
    #[default]
    RoundRobin,
    /// Static operator weights.
    WeightedRoundRobin,
    /// Shares from Aviator's optimizer.
    Optimized,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ObjectiveSpec {
    Performance,
    Cost,
    Mixed,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSpec {
    /// HTTP path for the service-latency probe; without it only the round trip is probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/"))]
    pub path: Option<String>,
    /// Port for the HTTP probe; the service's first port if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u32>,
    /// Probe interval while the service is being looked up, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub interval_seconds: Option<u32>,
}

/// What Aviator decided for the service, and whether the policy is in force.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AviatorPolicyStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Degraded` and `Invalid`, with reasons and messages; one of each type.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Per cluster: the share, its cost terms and the reason.
    #[serde(default)]
    pub clusters: Vec<ClusterShare>,
    /// The shares at a glance, e.g. `west=62% central=36% east=2%`, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The replica (pod) whose view this is: the holder of the writer lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterShare {
    pub cluster: String,
    pub share: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_request_usd: Option<f64>,
    pub reason: String,
}

/// One cluster's profile in the broker namespace: where it is, what transfer costs it, how
/// many endpoints each of its exports has ready, and its own report of each export's load. Written by that cluster only (server-side
/// apply, one field manager), read by all the others.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "aviator.dev",
    version = "v1alpha1",
    kind = "ClusterCost",
    namespaced,
    printcolumn = r#"{"name":"Provider","type":"string","jsonPath":".spec.provider"}"#,
    printcolumn = r#"{"name":"Region","type":"string","jsonPath":".spec.region"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCostSpec {
    pub cluster: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<PriceTableSpec>,
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["namespace", "name"]))]
    pub exports: Vec<ExportCapacitySpec>,
}

/// USD per GB by destination class.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceRowSpec {
    #[schemars(range(min = 0.0))]
    pub intra_zone: f64,
    #[schemars(range(min = 0.0))]
    pub inter_zone: f64,
    #[schemars(range(min = 0.0))]
    pub inter_region: f64,
    #[schemars(range(min = 0.0))]
    pub inter_continent: f64,
    #[schemars(range(min = 0.0))]
    pub internet: f64,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceTableSpec {
    pub egress: PriceRowSpec,
    #[serde(default)]
    pub ingress: PriceRowSpec,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportCapacitySpec {
    pub namespace: String,
    pub name: String,
    pub ready_endpoints: u32,
    /// The exporting cluster's report of the export's load; absent when it knows nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<ExportReportSpec>,
}

/// What the exporting cluster measured of one export, and when.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportReportSpec {
    /// Busy fraction of the export's servers, 0 to 1; above 1, a saturated export's offered
    /// load (demand over capacity), at most 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 4.0))]
    pub utilization: Option<f64>,
    /// Mean service latency measured inside the exporting cluster, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub latency_ms: Option<f64>,
    /// Fraction of requests the export failed, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_rate: Option<f64>,
    /// When it was measured: UNIX time, seconds.
    pub measured_at: f64,
}

/// Both CRDs, their schemas in Kubernetes' own formats ([`kubernetes_formats`]).
pub fn crds() -> Vec<serde_json::Value> {
    [AviatorPolicy::crd(), ClusterCost::crd()]
        .into_iter()
        .map(|crd| {
            let mut crd = serde_json::to_value(crd).unwrap_or_default();
            kubernetes_formats(&mut crd);
            crd
        })
        .collect()
}

/// Both CRDs as one multi-document YAML, as `aviator crd` prints it and `deploy/crds` holds it.
pub fn crds_yaml() -> Result<String, serde_yaml_ng::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&crd)?);
    }
    Ok(out)
}

/// Rewrites schemars' unsigned formats, which the API server does not know and so does not
/// enforce, as Kubernetes' `int32`/`int64` with the bounds the Rust type holds: without it, a
/// value the field cannot hold (`latencySloMs: 5000000000`) is accepted by the API server and
/// then fails to read.
pub fn kubernetes_formats(schema: &mut serde_json::Value) {
    use serde_json::{Value, json};
    match schema {
        Value::Object(map) => {
            let format = map
                .get("format")
                .and_then(Value::as_str)
                .unwrap_or_default();
            // (Kubernetes format, the Rust type's bounds; int64 is bounded to what a JSON
            // number holds exactly.)
            let bounds = match format {
                "uint8" => Some(("int32", 0.0, f64::from(u8::MAX))),
                "uint16" => Some(("int32", 0.0, f64::from(u16::MAX))),
                "uint32" => Some(("int32", 0.0, f64::from(i32::MAX))),
                "uint64" | "uint" => Some(("int64", 0.0, 9_007_199_254_740_991.0)),
                "int8" => Some(("int32", f64::from(i8::MIN), f64::from(i8::MAX))),
                "int16" => Some(("int32", f64::from(i16::MIN), f64::from(i16::MAX))),
                "int32" => Some(("int32", f64::from(i32::MIN), f64::from(i32::MAX))),
                "int64" | "int" => {
                    Some(("int64", -9_007_199_254_740_991.0, 9_007_199_254_740_991.0))
                }
                _ => None,
            };
            if let Some((format, floor, ceiling)) = bounds {
                map.insert("format".to_owned(), json!(format));
                let bound = |map: &serde_json::Map<String, Value>, key: &str, default: f64| {
                    map.get(key).and_then(Value::as_f64).unwrap_or(default)
                };
                let min = bound(map, "minimum", floor).clamp(floor, ceiling);
                let max = bound(map, "maximum", ceiling).clamp(floor, ceiling);
                map.insert("minimum".to_owned(), json!(min as i64));
                map.insert("maximum".to_owned(), json!(max as i64));
            }
            for value in map.values_mut() {
                kubernetes_formats(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(kubernetes_formats),
        _ => {}
    }
}

/// The largest weight a `WeightedRoundRobin` policy takes.
pub const MAX_WEIGHT: u32 = 1_000_000;
/// The largest latency SLO, ms: ten minutes.
pub const MAX_LATENCY_SLO_MS: u32 = 600_000;
/// The largest typical request or response, bytes: 1 GiB.
pub const MAX_MESSAGE_BYTES: u32 = 1 << 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_carries_enums_and_ranges_for_the_api_server() {
        let crd = serde_json::to_value(AviatorPolicy::crd()).unwrap();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
        let modes = spec["loadBalancing"]["enum"].as_array().expect("enum");
        assert_eq!(modes.len(), 3, "{}", spec["loadBalancing"]);
        assert_eq!(spec["tradeoff"]["maximum"], 1.0);
        assert_eq!(spec["minShare"]["maximum"], 0.5);
        assert_eq!(spec["probe"]["properties"]["port"]["maximum"], 65535.0);
        let columns = &crd["spec"]["versions"][0]["additionalPrinterColumns"];
        assert!(
            columns
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == "Shares")
        );
        assert_eq!(
            crd["spec"]["versions"][0]["subresources"]["status"],
            serde_json::json!({})
        );
    }

    #[test]
    fn every_integer_is_in_a_kubernetes_format_with_bounds() {
        let text = crds_yaml().unwrap();
        assert!(!text.contains("format: uint"), "{text}");
        let policy = &crds()[0];
        let spec = &policy["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"];
        let slo = &spec["spec"]["properties"]["latencySloMs"];
        assert_eq!(
            (slo["format"].as_str(), slo["maximum"].as_i64()),
            (Some("int32"), Some(600_000))
        );
        let weights = &spec["spec"]["properties"]["weights"]["additionalProperties"];
        assert_eq!(weights["maximum"], 1_000_000);
        let conditions = &spec["status"]["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            serde_json::json!(["type"])
        );
    }

    #[test]
    fn a_load_report_may_carry_the_offered_load_the_optimizer_reads() {
        let crd = serde_json::to_value(ClusterCost::crd()).unwrap();
        let text = crd.to_string();
        let at = text
            .find("\"utilization\"")
            .expect("utilization in the schema");
        let maximum = text[at..]
            .find("\"maximum\":")
            .map(|m| &text[at + m + 10..]);
        let maximum: f64 = maximum
            .and_then(|m| m.split([',', '}']).next())
            .and_then(|m| m.parse().ok())
            .expect("a maximum");
        assert_eq!(maximum, aviator_optimizer::MAX_OFFERED_LOAD);
    }

    #[test]
    fn a_policy_reads_from_yaml() {
        let text = "apiVersion: aviator.dev/v1alpha1\nkind: AviatorPolicy\nmetadata: { name: cart, namespace: shop }\nspec:\n  service: cart\n  loadBalancing: Optimized\n  objective: Cost\n  latencySloMs: 80\n";
        let policy: AviatorPolicy = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(policy.spec.load_balancing, LoadBalancing::Optimized);
        assert_eq!(policy.spec.objective, Some(ObjectiveSpec::Cost));
        assert_eq!(policy.spec.latency_slo_ms, Some(80));
    }
}

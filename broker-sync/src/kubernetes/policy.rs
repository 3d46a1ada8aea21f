//! Turns AviatorPolicies into a service's [`Policy`]: the cluster-wide `default` policy, then the
//! service's own policy over it field by field, validated by the same rules as the clusterset
//! file. An invalid policy yields the reason for its `Invalid` condition, and the caller keeps
//! the previous policy in force.

use serde_json::{Map, Value, json};

use super::crd::{AviatorPolicySpec, LoadBalancing, ObjectiveSpec};
use crate::clusterset::parse_policy;
use crate::state::Policy;

/// The policy in force for a service: `specific` over `defaults`, over the built-in defaults.
/// `clusters` are the cluster ids that weights may name. The error lists every problem.
pub fn effective_policy(
    defaults: Option<&AviatorPolicySpec>,
    specific: Option<&AviatorPolicySpec>,
    clusters: &[&str],
) -> Result<Policy, String> {
    let mut fields = Map::new();
    for spec in [defaults, specific].into_iter().flatten() {
        overlay(&mut fields, spec);
    }
    let value = serde_yaml_ng::to_value(Value::Object(fields)).map_err(|e| e.to_string())?;
    parse_policy(value, "spec", clusters).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        lines.join("; ")
    })
}

/// Fields only the `Optimized` mode reads.
const OPTIMIZER_FIELDS: [&str; 8] = [
    "objective",
    "tradeoff",
    "usdPerMsPerMillion",
    "minShare",
    "latencySloMs",
    "requestBytes",
    "responseBytes",
    "migrationSeconds",
];

/// Writes the fields `spec` sets over `fields`. Fields of another mode inherited from the
/// defaults are dropped, so a RoundRobin service does not fail on the defaults' optimizer
/// settings; the ones `spec` sets itself stay, so its own mistakes are reported.
fn overlay(fields: &mut Map<String, Value>, spec: &AviatorPolicySpec) {
    let own = fields_of(spec);
    if spec.load_balancing != LoadBalancing::Optimized {
        for field in OPTIMIZER_FIELDS {
            fields.remove(field);
        }
    }
    if spec.load_balancing != LoadBalancing::WeightedRoundRobin {
        fields.remove("weights");
    }
    fields.extend(own);
}

/// The fields `spec` sets, in the clusterset file's names.
fn fields_of(spec: &AviatorPolicySpec) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut set = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            fields.insert(name.to_owned(), value);
        }
    };
    let mode = match spec.load_balancing {
        LoadBalancing::RoundRobin => "RoundRobin",
        LoadBalancing::WeightedRoundRobin => "WeightedRoundRobin",
        LoadBalancing::Optimized => "Optimized",
    };
    set("mode", Some(json!(mode)));
    let objective = spec.objective.map(|o| match o {
        ObjectiveSpec::Performance => "Performance",
        ObjectiveSpec::Cost => "Cost",
        ObjectiveSpec::Mixed => "Mixed",
    });
    set("objective", objective.map(|o| json!(o)));
    set("tradeoff", spec.tradeoff.map(|v| json!(v)));
    set(
        "usdPerMsPerMillion",
        spec.usd_per_ms_per_million.map(|v| json!(v)),
    );
    set("preferLocal", spec.prefer_local.map(|v| json!(v)));
    set("weights", spec.weights.as_ref().map(|w| json!(w)));
    set("minShare", spec.min_share.map(|v| json!(v)));
    set("latencySloMs", spec.latency_slo_ms.map(|v| json!(v)));
    set("requestBytes", spec.request_bytes.map(|v| json!(v)));
    set("responseBytes", spec.response_bytes.map(|v| json!(v)));
    set("migrationSeconds", spec.migration_seconds.map(|v| json!(v)));
    if let Some(probe) = &spec.probe {
        set("probe", Some(json!(true)));
        set("probePath", probe.path.as_ref().map(|p| json!(p)));
        set("probePort", probe.port.map(|p| json!(p)));
        set(
            "probeIntervalSeconds",
            probe.interval_seconds.map(|s| json!(s)),
        );
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Mode;

    fn spec(text: &str) -> AviatorPolicySpec {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn the_service_policy_overrides_the_defaults_field_by_field() {
        let defaults = spec(
            "loadBalancing: Optimized\nobjective: Cost\nlatencySloMs: 80\npreferLocal: false\n",
        );
        let specific =
            spec("service: cart\nloadBalancing: Optimized\nobjective: Mixed\ntradeoff: 0.3\n");
        let policy = effective_policy(Some(&defaults), Some(&specific), &["east", "west"]).unwrap();
        let Mode::Optimized(optimized) = &policy.mode else {
            panic!("not optimized: {policy:?}");
        };
        assert_eq!(
            optimized.policy.objective,
            aviator_optimizer::Objective::Mixed
        );
        assert_eq!(optimized.policy.tradeoff, 0.3);
        assert_eq!(optimized.policy.latency_slo_ms, Some(80.0), "inherited");
        assert!(!policy.prefer_local, "inherited");
    }

    #[test]
    fn a_round_robin_service_does_not_inherit_optimizer_settings() {
        let defaults = spec("loadBalancing: Optimized\nobjective: Cost\n");
        let specific = spec("service: web\nloadBalancing: RoundRobin\n");
        let policy = effective_policy(Some(&defaults), Some(&specific), &["east"]).unwrap();
        assert_eq!(policy.mode, Mode::RoundRobin);
        // Every optimizer field the CRD has, migrationSeconds included, is left behind.
        let defaults = spec(
            "loadBalancing: Optimized\nobjective: Cost\ntradeoff: 0.3\nusdPerMsPerMillion: 1\nminShare: 0.1\nlatencySloMs: 80\nrequestBytes: 100\nresponseBytes: 1000\nmigrationSeconds: 12\n",
        );
        let policy = effective_policy(Some(&defaults), Some(&specific), &["east"]).unwrap();
        assert_eq!(policy.mode, Mode::RoundRobin);
    }

    #[test]
    fn a_policy_sets_the_migration_time_and_an_invalid_one_is_named() {
        let specific = spec("service: cart\nloadBalancing: Optimized\nmigrationSeconds: 12\n");
        let policy = effective_policy(None, Some(&specific), &["east"]).unwrap();
        let Mode::Optimized(optimized) = &policy.mode else {
            panic!("not optimized: {policy:?}");
        };
        assert_eq!(optimized.policy.migration_s, 12.0);
        let zero = spec("service: cart\nloadBalancing: Optimized\nmigrationSeconds: 0\n");
        let error = effective_policy(None, Some(&zero), &["east"]).unwrap_err();
        assert!(error.contains("spec.migrationSeconds"), "{error}");
    }

    #[test]
    fn an_invalid_policy_says_why() {
        let bad = spec("service: web\nloadBalancing: WeightedRoundRobin\nweights: { mars: 3 }\n");
        let error = effective_policy(None, Some(&bad), &["east", "west"]).unwrap_err();
        assert!(
            error.contains("spec.weights.mars: unknown cluster \"mars\""),
            "{error}"
        );
        assert_eq!(
            effective_policy(None, None, &["east"]).unwrap(),
            Policy::default()
        );
    }
}

//! Computes an AviatorPolicy's status: what Aviator decided (per cluster: share, expected
//! latency, price, reason), the generation it acted on, and the Ready, Degraded and Invalid
//! conditions. Pure, so the writer only compares and sends.

use aviator_optimizer::Decision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::crd::{AviatorPolicyStatus, ClusterShare};

/// What is known about one policy this round.
pub enum Verdict<'a> {
    /// The policy does not validate: the previous one stays in force.
    Invalid(&'a str),
    /// In force; the optimizer's decision if the service is `Optimized`.
    InForce(Option<&'a Decision>),
    /// Another policy names the same service and is in force instead (the message says which).
    Superseded(&'a str),
}

/// The status to write, given the one the object has (its conditions keep their transition
/// times while their state does not change).
pub fn status(
    generation: Option<i64>,
    mode: &str,
    verdict: Verdict<'_>,
    current: Option<&AviatorPolicyStatus>,
) -> AviatorPolicyStatus {
    let mut next = AviatorPolicyStatus {
        observed_generation: generation,
        ..AviatorPolicyStatus::default()
    };
    let (ready, degraded, invalid) = match verdict {
        Verdict::Invalid(reason) => {
            // Keep reporting what is still in force.
            if let Some(current) = current {
                next.clusters = current.clusters.clone();
                next.summary = current.summary.clone();
            }
            (
                (
                    "False",
                    "InvalidPolicy",
                    "the previous policy stays in force".to_owned(),
                ),
                ("False", "InvalidPolicy", String::new()),
                ("True", "InvalidPolicy", reason.to_owned()),
            )
        }
        Verdict::Superseded(message) => (
            ("False", "Conflict", message.to_owned()),
            ("False", "Conflict", String::new()),
            ("True", "Conflict", message.to_owned()),
        ),
        Verdict::InForce(decision) => {
            let mut degraded = ("False", "AsExpected", String::new());
            match decision {
                Some(decision) => {
                    next.clusters = decision
                        .exports
                        .iter()
                        .map(|e| ClusterShare {
                            cluster: e.cluster.clone(),
                            share: (e.share * 1e4).round() / 1e4,
                            expected_ms: Some((e.terms.expected_ms * 10.0).round() / 10.0),
                            price_per_request_usd: Some(e.terms.price_per_request_usd),
                            reason: e.reason(),
                        })
                        .collect();
                    let mut by_share: Vec<&ClusterShare> = next.clusters.iter().collect();
                    by_share.sort_by(|a, b| b.share.total_cmp(&a.share));
                    let parts: Vec<String> = by_share
                        .iter()
                        .map(|c| format!("{}={:.0}%", c.cluster, c.share * 100.0))
                        .collect();
                    next.summary = Some(parts.join(" "));
                    if !decision.notes.is_empty() {
                        degraded = ("True", "OptimizerNote", decision.notes.join("; "));
                    }
                }
                None => next.summary = Some(mode.to_owned()),
            }
            (
                ("True", "InForce", format!("{mode} in force")),
                degraded,
                ("False", "Valid", String::new()),
            )
        }
    };
    let previous = |kind: &str| current.and_then(|c| c.conditions.iter().find(|x| x.type_ == kind));
    for (kind, (state, reason, message)) in [
        ("Ready", ready),
        ("Degraded", degraded),
        ("Invalid", invalid),
    ] {
        let since = match previous(kind) {
            Some(old) if old.status == state => old.last_transition_time.clone(),
            _ => Time(k8s_openapi::jiff::Timestamp::now()),
        };
        next.conditions.push(Condition {
            type_: kind.to_owned(),
            status: state.to_owned(),
            reason: reason.to_owned(),
            message,
            last_transition_time: since,
            observed_generation: generation,
        });
    }
    next
}

/// Marks the status Degraded because the broker has not been read for a while: the last prices
/// still decide, but may be out of date.
pub fn mark_stale_prices(next: &mut AviatorPolicyStatus, current: Option<&AviatorPolicyStatus>) {
    let Some(degraded) = next.conditions.iter_mut().find(|c| c.type_ == "Degraded") else {
        return;
    };
    if degraded.status != "True" {
        let was = current.and_then(|c| c.conditions.iter().find(|x| x.type_ == "Degraded"));
        degraded.last_transition_time = match was {
            Some(old) if old.status == "True" => old.last_transition_time.clone(),
            _ => Time(k8s_openapi::jiff::Timestamp::now()),
        };
        degraded.status = "True".to_owned();
        degraded.reason = "BrokerStale".to_owned();
        degraded.message = "the broker cannot be read: the last known prices are in use".to_owned();
    }
}

/// Marks the policy in force Degraded because others name its service too: they are not in
/// force, and one of them may be the one meant.
pub fn mark_conflict(
    next: &mut AviatorPolicyStatus,
    message: &str,
    current: Option<&AviatorPolicyStatus>,
) {
    let Some(degraded) = next.conditions.iter_mut().find(|c| c.type_ == "Degraded") else {
        return;
    };
    let was = current.and_then(|c| c.conditions.iter().find(|x| x.type_ == "Degraded"));
    degraded.last_transition_time = match was {
        Some(old) if old.status == "True" => old.last_transition_time.clone(),
        _ => Time(k8s_openapi::jiff::Timestamp::now()),
    };
    degraded.status = "True".to_owned();
    degraded.reason = "Conflict".to_owned();
    degraded.message = message.to_owned();
}

/// Adds the `ZoneServed` condition: whether the cluster's DNS sends the clusterset zone's
/// queries to Aviator (`Some(true)`), answers them elsewhere (`Some(false)`: the cutover is
/// undone, and this policy decides nothing), or is not known yet (`None`).
pub fn mark_zone_served(
    next: &mut AviatorPolicyStatus,
    served: Option<bool>,
    current: Option<&AviatorPolicyStatus>,
) {
    let (state, reason, message) = match served {
        Some(true) => ("True", "Received", "the cluster's DNS sends the clusterset zone's queries to Aviator".to_owned()),
        Some(false) => (
            "False",
            "AnsweredElsewhere",
            "the cluster's DNS answers the clusterset zone without Aviator, so this policy decides nothing: the cutover is undone (the submariner-operator rewrites CoreDNS's clusterset.local block; use deploy/submariner's cutover, docs/kubernetes.md)".to_owned(),
        ),
        None => ("Unknown", "NotChecked", "not yet known whether the cluster's DNS sends the zone's queries to Aviator".to_owned()),
    };
    let since = match current.and_then(|c| c.conditions.iter().find(|x| x.type_ == "ZoneServed")) {
        Some(old) if old.status == state => old.last_transition_time.clone(),
        _ => Time(k8s_openapi::jiff::Timestamp::now()),
    };
    next.conditions.push(Condition {
        type_: "ZoneServed".to_owned(),
        status: state.to_owned(),
        reason: reason.to_owned(),
        message,
        last_transition_time: since,
        observed_generation: next.observed_generation,
    });
}

/// Whether two statuses say the same thing (transition times aside).
pub fn same(a: &AviatorPolicyStatus, b: &AviatorPolicyStatus) -> bool {
    let strip = |s: &AviatorPolicyStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_transition_time = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        }
        s
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_policy_says_so_and_keeps_what_is_in_force() {
        let in_force = status(Some(1), "RoundRobin", Verdict::InForce(None), None);
        let invalid = status(
            Some(2),
            "RoundRobin",
            Verdict::Invalid("spec.weights.mars: unknown"),
            Some(&in_force),
        );
        let condition = |s: &AviatorPolicyStatus, kind: &str| {
            s.conditions
                .iter()
                .find(|c| c.type_ == kind)
                .unwrap()
                .clone()
        };
        assert_eq!(condition(&in_force, "Ready").status, "True");
        assert_eq!(condition(&invalid, "Invalid").status, "True");
        assert!(condition(&invalid, "Invalid").message.contains("mars"));
        assert_eq!(invalid.observed_generation, Some(2));
        assert_eq!(invalid.summary.as_deref(), Some("RoundRobin"));
        // Recomputing with no change keeps the transition times: nothing to write.
        let again = status(
            Some(2),
            "RoundRobin",
            Verdict::Invalid("spec.weights.mars: unknown"),
            Some(&invalid),
        );
        assert!(same(&again, &invalid));
        assert_eq!(
            condition(&again, "Invalid").last_transition_time,
            condition(&invalid, "Invalid").last_transition_time
        );
    }
}

#[cfg(test)]
mod stale_tests {
    use super::*;

    #[test]
    fn a_stale_broker_degrades_the_status() {
        let mut next = status(Some(1), "Optimized", Verdict::InForce(None), None);
        mark_stale_prices(&mut next, None);
        let degraded = next
            .conditions
            .iter()
            .find(|c| c.type_ == "Degraded")
            .unwrap();
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "BrokerStale")
        );
    }
}

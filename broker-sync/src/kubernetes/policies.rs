//! Which AviatorPolicy decides each service, and what each policy is told in its status. The
//! cluster-wide `default` policy (in Aviator's namespace) sets the defaults; a policy with
//! `service` set, in that service's namespace, overrides them ([`effective_policy`]).
//!
//! When several policies name one service, the oldest (by creation time, then name) is in
//! force; the others are not, and say so, naming it, and it says that they exist. An invalid
//! policy leaves the previous one in force. Pure: the caller owns the I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::crd::{AviatorPolicy, AviatorPolicySpec};
use super::policy::effective_policy;
use crate::state::{ClusterSet, Policy};

/// What became of one AviatorPolicy this round, for its status.
#[derive(Debug, Clone)]
pub struct PolicyReport {
    pub policy: AviatorPolicy,
    /// (namespace, name) of the service it is for; `None` for the cluster-wide defaults.
    pub service: Option<(String, String)>,
    pub verdict: Judgement,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// In force; `conflict` names the other policies for the same service, if any.
    InForce { conflict: Option<String> },
    /// Not accepted, and why: the previous policy stays in force.
    Invalid(String),
    /// Another policy for the same service is in force instead; the message names it.
    Superseded(String),
}

/// The cluster-wide `default` policy, if there is one.
pub fn defaults<'a>(
    policies: &'a [AviatorPolicy],
    aviator_namespace: &str,
) -> Option<&'a AviatorPolicySpec> {
    policies
        .iter()
        .find(|p| {
            p.spec.service.is_none()
                && p.metadata.name.as_deref() == Some("default")
                && p.metadata.namespace.as_deref() == Some(aviator_namespace)
        })
        .map(|p| &p.spec)
}

/// The services' policies as the AviatorPolicies set them, written into `set`; `in_force`
/// keeps each service's last valid policy across rounds.
pub fn apply_policies(
    set: &mut ClusterSet,
    policies: &[AviatorPolicy],
    aviator_namespace: &str,
    in_force: &mut BTreeMap<(String, String), Policy>,
) -> Vec<PolicyReport> {
    let defaults = defaults(policies, aviator_namespace);
    let clusters: Vec<String> = set.clusters.iter().map(|c| c.id.to_string()).collect();
    let clusters: Vec<&str> = clusters.iter().map(String::as_str).collect();

    // Every service-specific policy, by its service, oldest first.
    let mut by_service: BTreeMap<(String, String), Vec<&AviatorPolicy>> = BTreeMap::new();
    for policy in policies {
        if let (Some(namespace), Some(service)) = (&policy.metadata.namespace, &policy.spec.service)
        {
            by_service
                .entry((namespace.clone(), service.clone()))
                .or_default()
                .push(policy);
        }
    }
    for candidates in by_service.values_mut() {
        candidates.sort_by(|a, b| {
            let age = |p: &AviatorPolicy| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            age(a)
                .cmp(&age(b))
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        });
    }

    let mut invalid: BTreeMap<(String, String), String> = BTreeMap::new();
    for service in &mut set.services {
        let key = (service.namespace.clone(), service.name.clone());
        let specific = by_service
            .get(&key)
            .and_then(|c| c.first())
            .map(|p| &p.spec);
        match effective_policy(defaults, specific, &clusters) {
            Ok(policy) => {
                in_force.insert(key, policy.clone());
                if service.policy != policy {
                    Arc::make_mut(service).policy = policy;
                }
            }
            Err(reason) => {
                if let Some(previous) = in_force.get(&key) {
                    Arc::make_mut(service).policy = previous.clone();
                }
                invalid.insert(key, reason);
            }
        }
    }

    policies
        .iter()
        .map(|policy| {
            let namespace = policy.metadata.namespace.clone().unwrap_or_default();
            let service = policy.spec.service.clone().map(|s| (namespace, s));
            let verdict = match &service {
                Some(key) => judge_specific(policy, key, &by_service[key], &invalid, || {
                    misplaced(&policy.spec)
                        .or_else(|| effective_policy(defaults, Some(&policy.spec), &clusters).err())
                }),
                None => match effective_policy(Some(&policy.spec), None, &clusters) {
                    Ok(_) => Judgement::InForce { conflict: None },
                    Err(reason) => Judgement::Invalid(reason),
                },
            };
            PolicyReport {
                policy: policy.clone(),
                service,
                verdict,
            }
        })
        .collect()
}

/// Why a service's policy sets what only the default policy may: where the cluster is and
/// what its transfer costs are the cluster's, not a service's.
fn misplaced(spec: &AviatorPolicySpec) -> Option<String> {
    (spec.location.is_some() || spec.prices.is_some()).then(|| {
        "spec.location and spec.prices describe the cluster: set them on the default policy (AviatorPolicy \"default\" in Aviator's namespace), not on a service's".to_owned()
    })
}

fn judge_specific(
    policy: &AviatorPolicy,
    key: &(String, String),
    candidates: &[&AviatorPolicy],
    invalid: &BTreeMap<(String, String), String>,
    on_its_own: impl FnOnce() -> Option<String>,
) -> Judgement {
    let name = |p: &AviatorPolicy| p.metadata.name.clone().unwrap_or_default();
    let winner = candidates[0];
    if name(winner) != name(policy) {
        return Judgement::Superseded(format!(
            "AviatorPolicy {} also names service {}/{} and, being older, is in force; delete one of them",
            name(winner),
            key.0,
            key.1
        ));
    }
    // A policy for a service not (yet) imported is judged on its own.
    if let Some(reason) = invalid.get(key).cloned().or_else(on_its_own) {
        return Judgement::Invalid(reason);
    }
    let others: Vec<String> = candidates[1..].iter().map(|p| name(p)).collect();
    Judgement::InForce {
        conflict: (!others.is_empty()).then(|| {
            format!(
                "AviatorPolicy {} also name{} service {}/{} and {} not in force",
                others.join(", "),
                if others.len() == 1 { "s" } else { "" },
                key.0,
                key.1,
                if others.len() == 1 { "is" } else { "are" },
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ClusterId, DnsSettings, Mode, Service, ServiceType};

    fn policy(name: &str, created: &str, weights: &str) -> AviatorPolicy {
        serde_yaml_ng::from_str(&format!(
            "apiVersion: aviator.dev/v1alpha1\nkind: AviatorPolicy\nmetadata: {{ name: {name}, namespace: shop, creationTimestamp: \"{created}\" }}\nspec: {{ service: cart, loadBalancing: WeightedRoundRobin, weights: {weights} }}\n"
        ))
        .unwrap()
    }

    fn set() -> ClusterSet {
        ClusterSet {
            local_cluster: ClusterId::new("east"),
            dns: DnsSettings::default(),
            clusters: vec![crate::state::Cluster {
                id: ClusterId::new("east"),
                provider: None,
                region: None,
                zone: None,
                connected: true,
                prices: None,
            }],
            services: vec![Arc::new(Service {
                namespace: "shop".to_owned(),
                name: "cart".to_owned(),
                service_type: ServiceType::ClusterSetIp,
                vips: Vec::new(),
                exports: Vec::new(),
                policy: Policy::default(),
            })],
        }
    }

    #[test]
    fn of_two_policies_for_one_service_the_older_is_in_force_and_both_say_so() {
        let newer = policy("cart-b", "2026-12-02T10:00:00Z", "{ east: 2 }");
        let older = policy("cart-a", "2026-12-01T10:00:00Z", "{ east: 1 }");
        let mut set = set();
        let reports = apply_policies(&mut set, &[newer, older], "aviator", &mut BTreeMap::new());
        let Mode::WeightedRoundRobin { weights } = &set.services[0].policy.mode else {
            panic!("{:?}", set.services[0].policy.mode);
        };
        assert_eq!(
            weights[&ClusterId::new("east")],
            1.0,
            "the older policy's weights"
        );
        let verdict = |name: &str| {
            reports
                .iter()
                .find(|r| r.policy.metadata.name.as_deref() == Some(name))
                .unwrap()
                .verdict
                .clone()
        };
        match verdict("cart-b") {
            Judgement::Superseded(message) => assert!(message.contains("cart-a"), "{message}"),
            other => panic!("{other:?}"),
        }
        match verdict("cart-a") {
            Judgement::InForce {
                conflict: Some(message),
            } => {
                assert!(message.contains("cart-b"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}

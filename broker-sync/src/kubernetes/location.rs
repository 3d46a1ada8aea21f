//! Where this cluster is, from its Nodes, without anyone typing it: the cloud from the scheme of
//! `spec.providerID` (`aws://`, `gce://`, `azure://`), the region and zone from the well-known
//! `topology.kubernetes.io/region` and `/zone` labels. Nodes may disagree (a cluster spans
//! zones): the most common value among them wins, ties to the smallest, so every replica reads
//! the same answer from the same nodes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;

use super::crd::AviatorPolicySpec;
use crate::broker::kube::table_from_spec;
use crate::state::ClusterSet;

pub const REGION: &str = "topology.kubernetes.io/region";
pub const ZONE: &str = "topology.kubernetes.io/zone";

/// A cluster's place, as its nodes say it; each part unknown if no node says it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub provider: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
}

/// The provider a `spec.providerID` names, in the price table's words.
pub fn provider_of(provider_id: &str) -> Option<String> {
    let (scheme, _) = provider_id.split_once("://")?;
    let provider = match scheme {
        "aws" => "aws",
        "gce" => "gcp",
        "azure" => "azure",
        "" => return None,
        other => other,
    };
    Some(provider.to_owned())
}

pub fn place(nodes: &[Node]) -> Place {
    let most_common = |values: Vec<String>| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for value in values {
            *counts.entry(value).or_default() += 1;
        }
        let best = counts.values().copied().max()?;
        counts.into_iter().find(|(_, n)| *n == best).map(|(v, _)| v)
    };
    let label = |key: &str| {
        nodes
            .iter()
            .filter_map(|n| n.metadata.labels.as_ref()?.get(key).cloned())
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
    };
    Place {
        provider: most_common(
            nodes
                .iter()
                .filter_map(|n| provider_of(n.spec.as_ref()?.provider_id.as_deref()?))
                .collect(),
        ),
        region: most_common(label(REGION)),
        zone: most_common(label(ZONE)),
    }
}

/// Writes this cluster's place and prices into `set`: the default policy's `location` and
/// `prices` where it sets them, else what the nodes say and the shipped list prices of the
/// provider (none for a provider not in the dataset: Cost then has nothing to go on for
/// this cluster, as before).
pub fn apply_place(set: &mut ClusterSet, nodes: &Place, defaults: Option<&AviatorPolicySpec>) {
    let local = set.local_cluster.clone();
    let Some(cluster) = set.clusters.iter_mut().find(|c| c.id == local) else {
        return;
    };
    let set_here = defaults.and_then(|d| d.location.as_ref());
    let pick = |overridden: Option<&String>, read: &Option<String>| {
        overridden.cloned().or_else(|| read.clone())
    };
    cluster.provider = pick(set_here.and_then(|l| l.provider.as_ref()), &nodes.provider);
    cluster.region = pick(set_here.and_then(|l| l.region.as_ref()), &nodes.region);
    cluster.zone = pick(set_here.and_then(|l| l.zone.as_ref()), &nodes.zone);
    cluster.prices = defaults
        .and_then(|d| d.prices)
        .map(table_from_spec)
        .or_else(|| {
            cluster
                .provider
                .as_deref()
                .and_then(aviator_optimizer::list_prices)
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(provider_id: &str, region: &str, zone: &str) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "n", "labels": { REGION: region, ZONE: zone } },
            "spec": { "providerID": provider_id },
        }))
        .unwrap()
    }

    #[test]
    fn the_nodes_say_where_the_cluster_is() {
        let nodes = [
            node("aws:///us-east-1a/i-0abc", "us-east-1", "us-east-1a"),
            node("aws:///us-east-1b/i-0def", "us-east-1", "us-east-1b"),
            node("aws:///us-east-1b/i-0123", "us-east-1", "us-east-1b"),
        ];
        let place = place(&nodes);
        assert_eq!(place.provider.as_deref(), Some("aws"));
        assert_eq!(place.region.as_deref(), Some("us-east-1"));
        assert_eq!(
            place.zone.as_deref(),
            Some("us-east-1b"),
            "the most common zone"
        );
        assert_eq!(
            provider_of("gce://project/europe-west1-b/vm").as_deref(),
            Some("gcp")
        );
        assert_eq!(
            provider_of("azure:///subscriptions/x").as_deref(),
            Some("azure")
        );
        assert_eq!(provider_of("kind-node"), None);
        assert_eq!(super::place(&[]), Place::default());
    }
}

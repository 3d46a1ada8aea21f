//! The one small object each cluster shares: where it is, what transfer costs it, and how much
//! each of its exports can serve.

use aviator_optimizer::cost::PriceTable;
use serde::{Deserialize, Serialize};

use crate::state::{ClusterSet, ServiceType};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterProfile {
    pub cluster: String,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub prices: Option<PriceTable>,
    #[serde(default)]
    pub exports: Vec<ExportCapacity>,
}

/// Ready endpoints of one export: capacity is derived from them (reference §1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExportCapacity {
    pub namespace: String,
    pub name: String,
    pub ready_endpoints: u32,
}

impl ClusterProfile {
    /// The local cluster's profile, from the clusterset state.
    pub fn local(set: &ClusterSet) -> Option<Self> {
        let me = set.cluster(&set.local_cluster)?;
        let exports = set
            .services
            .iter()
            .filter_map(|service| {
                let export = service
                    .exports
                    .iter()
                    .find(|e| e.cluster == set.local_cluster)?;
                let ready_endpoints = match service.service_type {
                    ServiceType::ClusterSetIp => {
                        export.ready_endpoints.unwrap_or(u32::from(export.ready))
                    }
                    ServiceType::Headless => {
                        export.endpoints.iter().filter(|e| e.ready).count() as u32
                    }
                };
                Some(ExportCapacity {
                    namespace: service.namespace.clone(),
                    name: service.name.clone(),
                    ready_endpoints,
                })
            })
            .collect();
        Some(Self {
            cluster: me.id.to_string(),
            provider: me.provider.clone(),
            region: me.region.clone(),
            zone: me.zone.clone(),
            prices: me.prices,
            exports,
        })
    }

    /// Applies the profile to the clusterset: the peer's own word on its location and prices
    /// replaces what the local file declared, and its ready endpoints fill in capacity.
    pub fn apply(&self, set: &mut ClusterSet) {
        let Some(cluster) = set
            .clusters
            .iter_mut()
            .find(|c| c.id.as_str() == self.cluster)
        else {
            return;
        };
        if self.provider.is_some() {
            cluster.provider.clone_from(&self.provider);
        }
        if self.region.is_some() {
            cluster.region.clone_from(&self.region);
        }
        if self.zone.is_some() {
            cluster.zone.clone_from(&self.zone);
        }
        if self.prices.is_some() {
            cluster.prices = self.prices;
        }
        for capacity in &self.exports {
            let export = set
                .services
                .iter_mut()
                .filter(|s| s.namespace == capacity.namespace && s.name == capacity.name)
                .flat_map(|s| s.exports.iter_mut())
                .find(|e| e.cluster.as_str() == self.cluster);
            if let Some(export) = export {
                export.ready_endpoints = Some(capacity.ready_endpoints);
            }
        }
    }
}

//! The Kubernetes backend: each cluster's profile is one `ClusterCost` object in the broker
//! namespace, written by server-side apply with a single field manager (so two replicas of the
//! same cluster write the same object idempotently instead of fighting), and read by listing.

use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};

use super::{Broker, BrokerError, ClusterProfile, ExportCapacity};
use crate::kubernetes::crd::{
    ClusterCost, ClusterCostSpec, ExportCapacitySpec, PriceRowSpec, PriceTableSpec,
};
use aviator_optimizer::cost::{PriceRow, PriceTable};

/// The field manager of every write, shared by all replicas of all clusters.
pub const FIELD_MANAGER: &str = "aviator";

pub struct KubeBroker {
    api: Api<ClusterCost>,
    namespace: String,
    cluster: String,
}

impl KubeBroker {
    /// A broker in `namespace` of the API server `client` talks to, publishing as `cluster`.
    pub fn new(client: kube::Client, namespace: &str, cluster: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            cluster: cluster.to_owned(),
        }
    }

    fn error(&self, error: kube::Error) -> BrokerError {
        BrokerError::Api {
            namespace: self.namespace.clone(),
            message: error.to_string(),
        }
    }
}

impl Broker for KubeBroker {
    async fn publish(&self, profile: &ClusterProfile) -> Result<(), BrokerError> {
        let object = ClusterCost::new(&self.cluster, to_spec(profile));
        let params = PatchParams::apply(FIELD_MANAGER).force();
        self.api
            .patch(&self.cluster, &params, &Patch::Apply(&object))
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn fetch(&self) -> Result<(Vec<ClusterProfile>, Vec<BrokerError>), BrokerError> {
        let list = self
            .api
            .list(&ListParams::default())
            .await
            .map_err(|e| self.error(e))?;
        let mut profiles: Vec<ClusterProfile> = list
            .items
            .into_iter()
            .filter(|c| c.spec.cluster != self.cluster)
            .map(|c| from_spec(c.spec))
            .collect();
        profiles.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        Ok((profiles, Vec::new()))
    }
}

fn row_to_spec(row: PriceRow) -> PriceRowSpec {
    PriceRowSpec {
        intra_zone: row.intra_zone,
        inter_zone: row.inter_zone,
        inter_region: row.inter_region,
        inter_continent: row.inter_continent,
        internet: row.internet,
    }
}

fn row_from_spec(row: PriceRowSpec) -> PriceRow {
    PriceRow {
        intra_zone: row.intra_zone,
        inter_zone: row.inter_zone,
        inter_region: row.inter_region,
        inter_continent: row.inter_continent,
        internet: row.internet,
    }
}

pub fn to_spec(profile: &ClusterProfile) -> ClusterCostSpec {
    ClusterCostSpec {
        cluster: profile.cluster.clone(),
        provider: profile.provider.clone(),
        region: profile.region.clone(),
        zone: profile.zone.clone(),
        prices: profile.prices.map(|p| PriceTableSpec {
            egress: row_to_spec(p.egress),
            ingress: row_to_spec(p.ingress),
        }),
        exports: profile
            .exports
            .iter()
            .map(|e| ExportCapacitySpec {
                namespace: e.namespace.clone(),
                name: e.name.clone(),
                ready_endpoints: e.ready_endpoints,
            })
            .collect(),
    }
}

pub fn from_spec(spec: ClusterCostSpec) -> ClusterProfile {
    ClusterProfile {
        cluster: spec.cluster,
        provider: spec.provider,
        region: spec.region,
        zone: spec.zone,
        prices: spec.prices.map(|p| PriceTable {
            egress: row_from_spec(p.egress),
            ingress: row_from_spec(p.ingress),
        }),
        exports: spec
            .exports
            .into_iter()
            .map(|e| ExportCapacity {
                namespace: e.namespace,
                name: e.name,
                ready_endpoints: e.ready_endpoints,
            })
            .collect(),
    }
}

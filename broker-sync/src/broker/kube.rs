//! The Kubernetes backend: each cluster's profile is one `ClusterCost` object in the broker
//! namespace, written by server-side apply with a single field manager (so two replicas of the
//! same cluster write the same object idempotently instead of fighting). The others' objects are
//! watched; a broken watch (the broker unreachable) makes reads fail until it recovers, which is
//! what marks the last good prices stale.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use super::{Broker, BrokerError, ClusterProfile, ExportCapacity, ExportReport};
use crate::kubernetes::crd::{
    ClusterCost, ClusterCostSpec, ExportCapacitySpec, ExportReportSpec, PriceRowSpec,
    PriceTableSpec,
};
use aviator_optimizer::cost::{PriceRow, PriceTable};

/// The field manager of every write, shared by all replicas of all clusters.
pub const FIELD_MANAGER: &str = "aviator";

/// The shortest time between two writes of our ClusterCost. Every server-side apply is a write
/// to etcd (a new resourceVersion, since the load report's `measuredAt` always changes) and a
/// full object sent down every peer's watch: with N clusters, N/2 writes a second at this bound.
pub const MIN_PUBLISH_INTERVAL: Duration = Duration::from_secs(2);

pub struct KubeBroker {
    api: Api<ClusterCost>,
    namespace: String,
    cluster: String,
    watched: Arc<Mutex<Watched>>,
    _watch: tokio::task::JoinHandle<()>,
}

/// What the watch on the broker namespace has seen.
#[derive(Default)]
struct Watched {
    objects: BTreeMap<String, ClusterCostSpec>,
    relisting: Option<BTreeMap<String, ClusterCostSpec>>,
    synced: bool,
    failing: Option<String>,
}

impl KubeBroker {
    /// A broker in `namespace` of the API server `client` talks to, publishing as `cluster`.
    /// Starts watching the namespace's ClusterCosts at once (call it within a Tokio runtime).
    pub fn new(client: kube::Client, namespace: &str, cluster: &str) -> Self {
        let api: Api<ClusterCost> = Api::namespaced(client, namespace);
        let watched = Arc::new(Mutex::new(Watched::default()));
        let state = watched.clone();
        let stream = watcher::watcher(api.clone(), watcher::Config::default()).default_backoff();
        let watch = tokio::spawn(async move {
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                let mut w = state.lock().unwrap_or_else(PoisonError::into_inner);
                match event {
                    Ok(Event::Init) => w.relisting = Some(BTreeMap::new()),
                    Ok(Event::InitApply(c)) => {
                        let name = c.metadata.name.clone().unwrap_or_default();
                        w.relisting
                            .get_or_insert_with(BTreeMap::new)
                            .insert(name, c.spec);
                    }
                    Ok(Event::InitDone) => {
                        w.objects = w.relisting.take().unwrap_or_default();
                        w.synced = true;
                        w.failing = None;
                    }
                    Ok(Event::Apply(c)) => {
                        w.objects
                            .insert(c.metadata.name.clone().unwrap_or_default(), c.spec);
                        w.failing = None;
                    }
                    Ok(Event::Delete(c)) => {
                        w.objects
                            .remove(&c.metadata.name.clone().unwrap_or_default());
                    }
                    Err(error) => w.failing = Some(error.to_string()),
                }
            }
        });
        Self {
            api,
            namespace: namespace.to_owned(),
            cluster: cluster.to_owned(),
            watched,
            _watch: watch,
        }
    }

    fn error(&self, error: kube::Error) -> BrokerError {
        BrokerError::Api {
            namespace: self.namespace.clone(),
            message: error.to_string(),
        }
    }
}

impl Drop for KubeBroker {
    fn drop(&mut self) {
        self._watch.abort();
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
        let watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(reason) = &watched.failing {
            return Err(BrokerError::Api {
                namespace: self.namespace.clone(),
                message: format!("the watch on ClusterCosts is failing: {reason}"),
            });
        }
        if !watched.synced {
            return Err(BrokerError::Api {
                namespace: self.namespace.clone(),
                message: "ClusterCosts not listed yet".to_owned(),
            });
        }
        let mut profiles: Vec<ClusterProfile> = watched
            .objects
            .values()
            .filter(|c| c.cluster != self.cluster)
            .map(|c| from_spec(c.clone()))
            .collect();
        profiles.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        Ok((profiles, Vec::new()))
    }

    fn min_publish_interval(&self) -> Duration {
        MIN_PUBLISH_INTERVAL
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
                load: e.load.map(|r| ExportReportSpec {
                    utilization: r.utilization,
                    latency_ms: r.latency_ms,
                    error_rate: r.error_rate,
                    measured_at: r.measured_at,
                }),
            })
            .collect(),
    }
}

/// A price table as the CRDs write it.
pub fn table_from_spec(spec: PriceTableSpec) -> PriceTable {
    PriceTable {
        egress: row_from_spec(spec.egress),
        ingress: row_from_spec(spec.ingress),
    }
}

pub fn from_spec(spec: ClusterCostSpec) -> ClusterProfile {
    ClusterProfile {
        cluster: spec.cluster,
        provider: spec.provider,
        region: spec.region,
        zone: spec.zone,
        prices: spec.prices.map(table_from_spec),
        exports: spec
            .exports
            .into_iter()
            .map(|e| ExportCapacity {
                namespace: e.namespace,
                name: e.name,
                ready_endpoints: e.ready_endpoints,
                load: e.load.map(|r| ExportReport {
                    utilization: r.utilization,
                    latency_ms: r.latency_ms,
                    error_rate: r.error_rate,
                    measured_at: r.measured_at,
                }),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ClusterCost carries the load reports both ways, and one written before they existed
    /// still reads.
    #[test]
    fn a_profile_survives_the_cluster_cost_object() {
        let profile = ClusterProfile {
            cluster: "west".into(),
            provider: Some("aws".into()),
            region: None,
            zone: None,
            prices: None,
            exports: vec![ExportCapacity {
                namespace: "shop".into(),
                name: "cart".into(),
                ready_endpoints: 3,
                load: Some(ExportReport {
                    utilization: None,
                    latency_ms: Some(7.5),
                    error_rate: None,
                    measured_at: 1_750_000_000.25,
                }),
            }],
        };
        let object = ClusterCost::new("west", to_spec(&profile));
        let json = serde_json::to_value(&object).unwrap();
        let load = &json["spec"]["exports"][0]["load"];
        assert_eq!(load["latencyMs"], 7.5);
        assert_eq!(load["measuredAt"], 1_750_000_000.25);
        assert!(load.get("utilization").is_none(), "{load}");
        let read: ClusterCost = serde_json::from_value(json).unwrap();
        assert_eq!(from_spec(read.spec), profile);

        let old: ClusterCostSpec = serde_json::from_value(serde_json::json!({
            "cluster": "west",
            "exports": [{ "namespace": "shop", "name": "cart", "readyEndpoints": 3 }],
        }))
        .unwrap();
        assert_eq!(from_spec(old).exports[0].load, None);
    }
}

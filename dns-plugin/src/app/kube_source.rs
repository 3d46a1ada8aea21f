//! The Kubernetes source: watches the objects Lighthouse reads (ServiceImports, Lighthouse's
//! EndpointSlices, Submariner Gateways) and the AviatorPolicies, and publishes the clusterset
//! they describe whenever they change, once every kind has been listed in full.
//!
//! Watches are kube-runtime watchers: a dropped watch or a `410 Gone` restarts with a fresh
//! list, and while that list is being read the previous objects stay in force (they are
//! replaced only when the relist is complete). A missing Gateway CRD counts as "no gateway".

use std::collections::BTreeMap;
use std::sync::Arc;

use aviator_broker::kubernetes::access::{self, Watched};
use aviator_broker::kubernetes::crd::{AviatorPolicy, AviatorPolicySpec};
use aviator_broker::kubernetes::lighthouse::{self, Objects};
use aviator_broker::kubernetes::objects::{Gateway, ServiceImport};
use aviator_broker::kubernetes::policy::effective_policy;
use aviator_broker::state::{ClusterSet, DnsSettings, Policy};
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Imports,
    Slices,
    Gateways,
    Policies,
}

/// The watches, from the list of calls the ClusterRole grants.
const KINDS: [(Kind, Watched); 4] = [
    (Kind::Imports, access::SERVICE_IMPORTS),
    (Kind::Slices, access::ENDPOINT_SLICES),
    (Kind::Gateways, access::GATEWAYS),
    (Kind::Policies, access::AVIATOR_POLICIES),
];

/// One watch event, tagged with the kind of object it is about.
type KindEvent = (Kind, Result<Event<DynamicObject>, watcher::Error>);

#[derive(Default)]
struct KindObjects {
    live: BTreeMap<String, Value>,
    relisting: Option<BTreeMap<String, Value>>,
    synced: bool,
}

/// What the source made of one AviatorPolicy, for its status.
#[derive(Debug, Clone)]
pub struct PolicyReport {
    pub policy: AviatorPolicy,
    /// (namespace, name) of the service it is for; `None` for the cluster-wide defaults.
    pub service: Option<(String, String)>,
    /// Why it was not accepted.
    pub invalid: Option<String>,
}

pub struct KubeSource {
    pub client: kube::Client,
    /// This cluster's id; `None` takes it from the active Submariner gateway's local endpoint.
    pub local_cluster: Option<String>,
    pub broker_namespace: String,
    /// Where the cluster-wide `default` AviatorPolicy lives.
    pub aviator_namespace: String,
    pub dns: DnsSettings,
}

impl KubeSource {
    /// Watches until `shutdown`, publishing each complete clusterset to `publish` and what it
    /// made of each AviatorPolicy to `reports`.
    pub async fn run(
        self,
        publish: watch::Sender<Option<Arc<ClusterSet>>>,
        reports: watch::Sender<Vec<PolicyReport>>,
        shutdown: CancellationToken,
    ) {
        let streams: Vec<BoxStream<'static, KindEvent>> = KINDS
            .iter()
            .map(|&(kind, w)| {
                let resource = ApiResource::from_gvk_with_plural(
                    &GroupVersionKind::gvk(w.group, w.version, w.kind),
                    w.plural,
                );
                let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
                watcher::watcher(api, watcher::Config::default())
                    .default_backoff()
                    .map(move |event| (kind, event))
                    .boxed()
            })
            .collect();
        let mut events = futures::stream::select_all(streams);
        let mut state: BTreeMap<Kind, KindObjects> = BTreeMap::new();
        let mut policies_in_force: BTreeMap<(String, String), Policy> = BTreeMap::new();
        loop {
            let (kind, event) = tokio::select! {
                () = shutdown.cancelled() => return,
                next = events.next() => match next {
                    Some(next) => next,
                    None => return,
                },
            };
            let objects = state.entry(kind).or_default();
            let changed = match event {
                Ok(Event::Init) => {
                    objects.relisting = Some(BTreeMap::new());
                    false
                }
                Ok(Event::InitApply(object)) => {
                    let buffer = objects.relisting.get_or_insert_with(BTreeMap::new);
                    buffer.insert(key(&object), to_value(object));
                    false
                }
                Ok(Event::InitDone) => {
                    objects.live = objects.relisting.take().unwrap_or_default();
                    objects.synced = true;
                    true
                }
                Ok(Event::Apply(object)) => {
                    objects.live.insert(key(&object), to_value(object));
                    true
                }
                Ok(Event::Delete(object)) => objects.live.remove(&key(&object)).is_some(),
                Err(error) if kind == Kind::Gateways && not_found(&error) => {
                    // No Gateway CRD: Submariner's gateway is absent; every cluster is connected.
                    let first = !objects.synced;
                    objects.synced = true;
                    objects.live.clear();
                    first
                }
                Err(error) => {
                    warn!(?kind, %error, "watch failed; retrying, the last objects keep serving");
                    false
                }
            };
            if changed
                && KINDS
                    .iter()
                    .all(|(k, ..)| state.get(k).is_some_and(|o| o.synced))
            {
                let Some((set, policy_reports)) = self.cluster_set(&state, &mut policies_in_force)
                else {
                    warn!(
                        "no cluster id: set SUBMARINER_CLUSTERID, or wait for Submariner's gateway"
                    );
                    continue;
                };
                debug!(services = set.services.len(), "clusterset from Kubernetes");
                publish.send_replace(Some(Arc::new(set)));
                reports.send_replace(policy_reports);
            }
        }
    }

    fn cluster_set(
        &self,
        state: &BTreeMap<Kind, KindObjects>,
        policies_in_force: &mut BTreeMap<(String, String), Policy>,
    ) -> Option<(ClusterSet, Vec<PolicyReport>)> {
        let typed = |kind: Kind| -> Vec<Value> {
            state
                .get(&kind)
                .map(|o| o.live.values().cloned().collect())
                .unwrap_or_default()
        };
        let imports: Vec<ServiceImport> = parse_all(typed(Kind::Imports), "ServiceImport");
        let slices: Vec<EndpointSlice> = parse_all(typed(Kind::Slices), "EndpointSlice");
        let gateways: Vec<Gateway> = parse_all(typed(Kind::Gateways), "Gateway");
        let policies: Vec<AviatorPolicy> = parse_all(typed(Kind::Policies), "AviatorPolicy");
        let local_cluster = self
            .local_cluster
            .clone()
            .or_else(|| lighthouse::local_cluster_of(&gateways))?;
        let mut set = lighthouse::cluster_set(&Objects {
            local_cluster: &local_cluster,
            broker_namespace: &self.broker_namespace,
            imports: &imports,
            slices: &slices,
            gateways: &gateways,
            dns: self.dns.clone(),
        });
        let defaults: Option<&AviatorPolicySpec> = policies
            .iter()
            .find(|p| {
                p.metadata.name.as_deref() == Some("default")
                    && p.metadata.namespace.as_deref() == Some(self.aviator_namespace.as_str())
            })
            .map(|p| &p.spec);
        let clusters: Vec<String> = set.clusters.iter().map(|c| c.id.to_string()).collect();
        let clusters: Vec<&str> = clusters.iter().map(String::as_str).collect();
        let mut invalid: BTreeMap<(String, String), String> = BTreeMap::new();
        for service in &mut set.services {
            let specific = policies
                .iter()
                .find(|p| {
                    p.metadata.namespace.as_deref() == Some(service.namespace.as_str())
                        && p.spec.service.as_deref() == Some(service.name.as_str())
                })
                .map(|p| &p.spec);
            let key = (service.namespace.clone(), service.name.clone());
            match effective_policy(defaults, specific, &clusters) {
                Ok(policy) => {
                    policies_in_force.insert(key, policy.clone());
                    service.policy = policy;
                }
                Err(reason) => {
                    // The previous policy stays in force; the reason goes into the policy's
                    // Invalid condition.
                    warn!(service = %format!("{}/{}", key.0, key.1), %reason, "invalid AviatorPolicy");
                    if let Some(previous) = policies_in_force.get(&key) {
                        service.policy = previous.clone();
                    }
                    invalid.insert(key, reason);
                }
            }
        }
        let reports = policies
            .iter()
            .map(|policy| {
                let namespace = policy.metadata.namespace.clone().unwrap_or_default();
                let invalid = match &policy.spec.service {
                    Some(service) => invalid
                        .get(&(namespace.clone(), service.clone()))
                        .cloned()
                        // A policy for a service not (yet) imported is judged on its own.
                        .or_else(|| {
                            effective_policy(defaults, Some(&policy.spec), &clusters).err()
                        }),
                    None => effective_policy(Some(&policy.spec), None, &clusters).err(),
                };
                PolicyReport {
                    service: policy.spec.service.clone().map(|s| (namespace, s)),
                    policy: policy.clone(),
                    invalid,
                }
            })
            .collect();
        Some((set, reports))
    }
}

fn key(object: &DynamicObject) -> String {
    format!(
        "{}/{}",
        object.metadata.namespace.as_deref().unwrap_or(""),
        object.metadata.name.as_deref().unwrap_or("")
    )
}

fn to_value(object: DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

fn parse_all<T: serde::de::DeserializeOwned>(values: Vec<Value>, kind: &str) -> Vec<T> {
    values
        .into_iter()
        .filter_map(|value| match serde_json::from_value(value) {
            Ok(object) => Some(object),
            Err(error) => {
                warn!(kind, %error, "skipping an object that does not parse");
                None
            }
        })
        .collect()
}

fn not_found(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status)) => status.code == 404,
        _ => false,
    }
}

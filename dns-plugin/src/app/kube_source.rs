//! The Kubernetes source: watches the objects Lighthouse reads (ServiceImports, Lighthouse's
//! EndpointSlices, Submariner Gateways) and the AviatorPolicies, and publishes the clusterset
//! they describe whenever they change, once every kind has been listed in full.
//!
//! Watches are kube-runtime watchers: a dropped watch or a `410 Gone` restarts with a fresh
//! list, and while that list is being read the previous objects stay in force (they are
//! replaced only when the relist is complete). A missing Gateway CRD counts as "no gateway".
//! Only the agent's EndpointSlices are watched (by label selector, as Lighthouse's resolver
//! does), and objects are kept without their `managedFields`. Beside the watches,
//! [`own_slices`] reads the Kubernetes slices of the services this cluster exports, and
//! [`node_place`] where the cluster is, from its Nodes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aviator_broker::kubernetes::access::{self, Watched};
use aviator_broker::kubernetes::crd::AviatorPolicy;
use aviator_broker::kubernetes::lighthouse::{self, Objects};
use aviator_broker::kubernetes::location::{self, Place};
use aviator_broker::kubernetes::objects::{Gateway, ServiceImport};
use aviator_broker::kubernetes::policies::{Judgement, PolicyReport, apply_policies, defaults};
use aviator_broker::kubernetes::slices;
use aviator_broker::state::{ClusterSet, DnsSettings, Policy};
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::node_place;
use super::own_slices::{self, OwnSlices};

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

/// How long after a change the clusterset is rebuilt, taking every change made meanwhile.
const COALESCE: std::time::Duration = std::time::Duration::from_millis(100);

/// One watch event, tagged with the kind of object it is about.
type KindEvent = (Kind, Result<Event<DynamicObject>, watcher::Error>);

/// One watched object, read into its type once, when its event comes (a rebuild reads them
/// all, and must not parse thousands of objects again each time).
enum Parsed {
    Import(Box<ServiceImport>),
    Slice(Box<EndpointSlice>),
    Gateway(Box<Gateway>),
    Policy(Box<AviatorPolicy>),
}

#[derive(Default)]
struct KindObjects {
    live: BTreeMap<String, Parsed>,
    relisting: Option<BTreeMap<String, Parsed>>,
    synced: bool,
}

impl KindObjects {
    /// Takes one watch event; whether the objects in force changed.
    fn apply(&mut self, kind: Kind, event: Result<Event<DynamicObject>, watcher::Error>) -> bool {
        match event {
            Ok(Event::Init) => {
                self.relisting = Some(BTreeMap::new());
                false
            }
            Ok(Event::InitApply(object)) => {
                let buffer = self.relisting.get_or_insert_with(BTreeMap::new);
                let key = key(&object);
                if let Some(parsed) = parse(kind, object) {
                    buffer.insert(key, parsed);
                }
                false
            }
            Ok(Event::InitDone) => {
                self.live = self.relisting.take().unwrap_or_default();
                self.synced = true;
                true
            }
            Ok(Event::Apply(object)) => {
                let key = key(&object);
                match parse(kind, object) {
                    Some(parsed) => {
                        self.live.insert(key, parsed);
                    }
                    // What no longer reads is gone, as far as answers go.
                    None => {
                        self.live.remove(&key);
                    }
                }
                true
            }
            Ok(Event::Delete(object)) => self.live.remove(&key(&object)).is_some(),
            Err(error) if kind == Kind::Gateways && not_found(&error) => {
                // No Gateway CRD: Submariner's gateway is absent; every cluster is connected.
                let first = !self.synced;
                self.synced = true;
                self.live.clear();
                first
            }
            Err(error) => {
                warn!(?kind, %error, "watch failed; retrying, the last objects keep serving");
                false
            }
        }
    }
}

pub struct KubeSource {
    pub client: kube::Client,
    /// This cluster's id as configured; the active Submariner gateway's local endpoint, when
    /// there is one, says better.
    pub local_cluster: Option<String>,
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
                let config = match kind {
                    // Only the agent's slices, as Lighthouse's resolver watches them.
                    Kind::Slices => watcher::Config::default().labels(&slices::selector()),
                    _ => watcher::Config::default(),
                };
                watcher::watcher(api, config)
                    .default_backoff()
                    .map(move |event| (kind, event))
                    .boxed()
            })
            .collect();
        let mut events = futures::stream::select_all(streams);
        let mut state: BTreeMap<Kind, KindObjects> = BTreeMap::new();
        let mut policies_in_force: BTreeMap<(String, String), Policy> = BTreeMap::new();
        let (exported, exported_rx) = watch::channel(BTreeSet::new());
        let (own_tx, mut own_rx) = mpsc::channel(1);
        tokio::spawn(own_slices::run(
            self.client.clone(),
            exported_rx,
            own_tx,
            shutdown.clone(),
        ));
        let mut own = OwnSlices::new();
        let (place_tx, mut place) = watch::channel(Place::default());
        tokio::spawn(node_place::run(
            self.client.clone(),
            place_tx,
            shutdown.clone(),
        ));
        let mut local_cluster: Option<String> = None;
        // A burst of events (a relist, an agent syncing thousands of slices) makes one rebuild,
        // not one per event: the first change arms the timer, and the rebuild comes when it
        // fires, with every change made meanwhile.
        let mut rebuild_at: Option<tokio::time::Instant> = None;
        loop {
            let due = rebuild_at.unwrap_or_else(tokio::time::Instant::now);
            let changed = tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep_until(due), if rebuild_at.is_some() => None,
                next = own_rx.recv() => match next {
                    Some(next) if next != own => {
                        own = next;
                        Some(true)
                    }
                    Some(_) => Some(false),
                    None => return,
                },
                next = events.next() => match next {
                    Some((kind, event)) => Some(state.entry(kind).or_default().apply(kind, event)),
                    None => return,
                },
                changed = place.changed() => match changed {
                    Ok(()) => Some(true),
                    Err(_) => return,
                },
            };
            match changed {
                Some(false) => continue,
                Some(true) => {
                    rebuild_at.get_or_insert_with(|| tokio::time::Instant::now() + COALESCE);
                    continue;
                }
                None => rebuild_at = None,
            }
            if KINDS
                .iter()
                .all(|(k, ..)| state.get(k).is_some_and(|o| o.synced))
            {
                let here = place.borrow_and_update().clone();
                let Some((set, policy_reports)) = self.cluster_set(
                    &state,
                    &own,
                    &here,
                    &mut local_cluster,
                    &mut policies_in_force,
                ) else {
                    warn!(
                        "no cluster id: set SUBMARINER_CLUSTERID, or wait for Submariner's gateway"
                    );
                    continue;
                };
                debug!(services = set.services.len(), "clusterset from Kubernetes");
                exported.send_if_modified(|keys| {
                    let next = own_slices::exported_here(&set);
                    let modified = *keys != next;
                    *keys = next;
                    modified
                });
                publish.send_replace(Some(Arc::new(set)));
                reports.send_replace(policy_reports);
            }
        }
    }

    /// The clusterset of the objects now. `local_cluster` is the id last used, so that a
    /// change of it is said once.
    fn cluster_set(
        &self,
        state: &BTreeMap<Kind, KindObjects>,
        own: &OwnSlices,
        place: &Place,
        local_cluster: &mut Option<String>,
        policies_in_force: &mut BTreeMap<(String, String), Policy>,
    ) -> Option<(ClusterSet, Vec<PolicyReport>)> {
        let live = |kind: Kind| state.get(&kind).into_iter().flat_map(|o| o.live.values());
        let imports: Vec<&ServiceImport> = live(Kind::Imports)
            .filter_map(|p| match p {
                Parsed::Import(i) => Some(&**i),
                _ => None,
            })
            .collect();
        let slices: Vec<&EndpointSlice> = live(Kind::Slices)
            .filter_map(|p| match p {
                Parsed::Slice(s) => Some(&**s),
                _ => None,
            })
            .collect();
        // Few: copies are cheap.
        let gateways: Vec<Gateway> = live(Kind::Gateways)
            .filter_map(|p| match p {
                Parsed::Gateway(g) => Some((**g).clone()),
                _ => None,
            })
            .collect();
        let policies: Vec<AviatorPolicy> = live(Kind::Policies)
            .filter_map(|p| match p {
                Parsed::Policy(p) => Some((**p).clone()),
                _ => None,
            })
            .collect();
        // As Lighthouse: the gateway's own word on which cluster this is beats the setting
        // (a Deployment's placeholder, a copy from another cluster).
        let from_gateway = lighthouse::local_cluster_of(&gateways);
        let id = from_gateway
            .clone()
            .or_else(|| self.local_cluster.clone())?;
        if local_cluster.as_ref() != Some(&id) {
            match (&from_gateway, &self.local_cluster) {
                (Some(gateway), Some(set)) if gateway != set => warn!(
                    cluster = %gateway, configured = %set,
                    "Submariner's gateway names this cluster differently from SUBMARINER_CLUSTERID; the gateway's id is used"
                ),
                _ => info!(cluster = %id, "this cluster's id"),
            }
            *local_cluster = Some(id.clone());
        }
        let mut set = lighthouse::cluster_set(&Objects {
            local_cluster: &id,
            imports: &imports,
            slices: &slices,
            gateways: &gateways,
            own_slices: own,
            dns: self.dns.clone(),
        });
        let reports = apply_policies(
            &mut set,
            &policies,
            &self.aviator_namespace,
            policies_in_force,
        );
        location::apply_place(
            &mut set,
            place,
            defaults(&policies, &self.aviator_namespace),
        );
        for report in &reports {
            if let (Judgement::Invalid(reason), Some((namespace, service))) =
                (&report.verdict, &report.service)
            {
                debug!(service = %format!("{namespace}/{service}"), %reason, "invalid AviatorPolicy");
            }
        }
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

/// The object read into its type, without the bookkeeping no reader uses (managedFields, the
/// last-applied annotation: most of an object's size); `None`, logged, if it does not read.
fn parse(kind: Kind, mut object: DynamicObject) -> Option<Parsed> {
    object.metadata.managed_fields = None;
    if let Some(annotations) = &mut object.metadata.annotations {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    let value = serde_json::to_value(object).ok()?;
    fn read<T: serde::de::DeserializeOwned>(value: Value, kind: Kind) -> Option<Box<T>> {
        match serde_json::from_value(value) {
            Ok(object) => Some(Box::new(object)),
            Err(error) => {
                warn!(?kind, %error, "skipping an object that does not parse");
                None
            }
        }
    }
    Some(match kind {
        Kind::Imports => Parsed::Import(read(value, kind)?),
        Kind::Slices => Parsed::Slice(Box::new(trimmed(*read(value, kind)?))),
        Kind::Gateways => Parsed::Gateway(read(value, kind)?),
        Kind::Policies => Parsed::Policy(read(value, kind)?),
    })
}

/// A slice with only what [`slices`] reads: the thousands of them kept are most of the
/// source's memory, and the rest (owners, node names, zones, hints, timestamps) is never read.
fn trimmed(mut slice: EndpointSlice) -> EndpointSlice {
    let meta = &mut slice.metadata;
    meta.managed_fields = None;
    meta.owner_references = None;
    meta.finalizers = None;
    meta.uid = None;
    meta.generate_name = None;
    meta.creation_timestamp = None;
    meta.generation = None;
    for endpoint in &mut slice.endpoints {
        endpoint.node_name = None;
        endpoint.zone = None;
        endpoint.hints = None;
        endpoint.deprecated_topology = None;
        if let Some(target) = &mut endpoint.target_ref {
            target.uid = None;
            target.resource_version = None;
            target.api_version = None;
            target.field_path = None;
            target.namespace = None;
        }
        if let Some(conditions) = &mut endpoint.conditions {
            conditions.serving = None;
            conditions.terminating = None;
        }
    }
    slice
}

fn not_found(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status)) => status.code == 404,
        _ => false,
    }
}

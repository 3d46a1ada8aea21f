//! An in-test Kubernetes API server that speaks real HTTP: LIST with resourceVersions and
//! chunked WATCH streams with bookmarks, so kube-rs's watchers run against it as against a real
//! one. It stays only for what a bare control plane cannot serve, the metrics API
//! (`metrics.k8s.io`); everything else is tested against a real kube-apiserver
//! (`control_plane.rs`). Objects come from YAML fixtures.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast};

/// (api path prefix, plural) -> kind, for the resources served.
const RESOURCES: [(&str, &str, &str); 9] = [
    ("aviator.dev/v1alpha1", "clustercosts", "ClusterCost"),
    (
        "multicluster.x-k8s.io/v1alpha1",
        "serviceimports",
        "ServiceImport",
    ),
    ("discovery.k8s.io/v1", "endpointslices", "EndpointSlice"),
    ("submariner.io/v1", "gateways", "Gateway"),
    ("aviator.dev/v1alpha1", "aviatorpolicies", "AviatorPolicy"),
    // Read for the local exports' utilisation: core objects, and metrics-server's API.
    ("v1", "services", "Service"),
    ("v1", "pods", "Pod"),
    ("metrics.k8s.io/v1beta1", "pods", "PodMetrics"),
    // The writer lease: get, create and replace, without resourceVersion checks.
    ("coordination.k8s.io/v1", "leases", "Lease"),
];

#[derive(Clone)]
struct ApiState {
    objects: Arc<Mutex<BTreeMap<(String, String), Value>>>,
    version: Arc<AtomicU64>,
    events: broadcast::Sender<(String, Value)>,
    /// Lists wait until released, so a test can see Aviator before its first sync.
    released: Arc<AtomicBool>,
    release: Arc<Notify>,
}

pub struct KubeApi {
    pub addr: SocketAddr,
    state: ApiState,
    runtime: Option<tokio::runtime::Runtime>,
}

/// The kind served at `prefix` (group/version) and `plural`, if any.
fn kind_of(prefix: &str, plural: &str) -> Option<&'static str> {
    RESOURCES
        .iter()
        .find(|(p, r, _)| *p == prefix && *r == plural)
        .map(|(_, _, kind)| *kind)
}

fn kind_key(object: &Value) -> (String, String) {
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let name = format!(
        "{}/{}",
        object["metadata"]["namespace"].as_str().unwrap_or_default(),
        object["metadata"]["name"].as_str().unwrap_or_default()
    );
    (kind, name)
}

impl KubeApi {
    /// Serves the objects of a multi-document YAML fixture; lists wait for [`KubeApi::release`].
    pub fn start(fixture: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (events, _) = broadcast::channel(1024);
        let state = ApiState {
            objects: Arc::default(),
            version: Arc::new(AtomicU64::new(100)),
            events,
            released: Arc::default(),
            release: Arc::default(),
        };
        let mut api = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            state: state.clone(),
            runtime: None,
        };
        for document in serde_yaml_ng::Deserializer::from_str(fixture) {
            let value: Value = serde::Deserialize::deserialize(document).unwrap();
            api.put(value, false);
        }
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/apis/{group}/{version}/{plural}", get(list_or_watch))
            .route(
                "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}/status",
                axum::routing::put(replace_status),
            )
            .route(
                "/apis/{group}/{version}/namespaces/{namespace}/{plural}",
                get(list_namespaced).post(create),
            )
            .route(
                "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}",
                axum::routing::patch(apply).get(get_named).put(replace),
            )
            .route(
                "/api/{version}/namespaces/{namespace}/{plural}",
                get(list_core),
            )
            .route(
                "/api/{version}/namespaces/{namespace}/{plural}/{name}",
                get(get_core),
            )
            .with_state(state);
        runtime.spawn(async move { axum::serve(listener, app).await });
        api.addr = addr;
        api.runtime = Some(runtime);
        api
    }

    /// Lets lists through from now on.
    pub fn release(&self) {
        self.state.released.store(true, Ordering::SeqCst);
        self.state.release.notify_waiters();
    }

    /// Adds or replaces an object, announcing it to watchers.
    pub fn put(&self, mut object: Value, announce: bool) {
        let version = self.state.version.fetch_add(1, Ordering::SeqCst) + 1;
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        if object["metadata"]["generation"].is_null() {
            object["metadata"]["generation"] = json!(1);
        }
        let key = kind_key(&object);
        let existed = self
            .state
            .objects
            .lock()
            .unwrap()
            .insert(key.clone(), object.clone())
            .is_some();
        if announce {
            let kind = if existed { "MODIFIED" } else { "ADDED" };
            let _ = self
                .state
                .events
                .send((key.0, json!({ "type": kind, "object": object })));
        }
    }

    /// The stored object of `kind` named `namespace/name`, as a client would GET it.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = (kind.to_owned(), format!("{namespace}/{name}"));
        self.state.objects.lock().unwrap().get(&key).cloned()
    }

    /// A kubeconfig pointing at this server, written into `dir`.
    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: http://{}\nusers:\n- name: test\n  user: {{}}\ncontexts:\n- name: test\n  context: {{ cluster: test, user: test }}\ncurrent-context: test\n",
            self.addr
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_millis(100));
        }
    }
}

async fn list_or_watch(
    State(state): State<ApiState>,
    Path((group, version, plural)): Path<(String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let prefix = format!("{group}/{version}");
    let Some(kind) = kind_of(&prefix, &plural) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "kind": "Status", "code": 404 })),
        )
            .into_response();
    };
    if query.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return watch(state, kind);
    }
    while !state.released.load(Ordering::SeqCst) {
        let notified = state.release.notified();
        if state.released.load(Ordering::SeqCst) {
            break;
        }
        notified.await;
    }
    let items: Vec<Value> = state
        .objects
        .lock()
        .unwrap()
        .iter()
        .filter(|((k, _), _)| k == kind)
        .map(|(_, v)| v.clone())
        .collect();
    let version = state.version.load(Ordering::SeqCst).to_string();
    axum::Json(json!({
        "apiVersion": prefix, "kind": format!("{kind}List"),
        "metadata": { "resourceVersion": version }, "items": items,
    }))
    .into_response()
}

/// A chunked stream of watch events for `kind`, opening with a bookmark.
fn watch(state: ApiState, kind: &'static str) -> Response {
    let version = state.version.load(Ordering::SeqCst).to_string();
    let api_version = RESOURCES
        .iter()
        .find(|(_, _, k)| *k == kind)
        .map_or("", |r| r.0);
    let bookmark = json!({ "type": "BOOKMARK", "object": {
        "apiVersion": api_version, "kind": kind, "metadata": { "resourceVersion": version } } });
    let first = futures::stream::once(async move { bookmark });
    let updates = tokio_stream::wrappers::BroadcastStream::new(state.events.subscribe())
        .filter_map(move |event| async move {
            match event {
                Ok((k, event)) if k == kind => Some(event),
                _ => None,
            }
        });
    let body = first.chain(updates).map(|event| {
        let mut line = serde_json::to_vec(&event).unwrap();
        line.push(b'\n');
        Ok::<_, std::io::Error>(line)
    });
    Response::new(Body::from_stream(body))
}

/// PUT .../status: replaces the object's status (the spec stays as stored), as the status
/// subresource does.
async fn replace_status(
    State(state): State<ApiState>,
    Path((group, version, namespace, plural, name)): Path<(String, String, String, String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let prefix = format!("{group}/{version}");
    let Some(kind) = kind_of(&prefix, &plural) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let key = (kind.to_owned(), format!("{namespace}/{name}"));
    let mut objects = state.objects.lock().unwrap();
    let Some(stored) = objects.get_mut(&key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    stored["status"] = body["status"].clone();
    let version = state.version.fetch_add(1, Ordering::SeqCst) + 1;
    stored["metadata"]["resourceVersion"] = json!(version.to_string());
    let object = stored.clone();
    drop(objects);
    let _ = state.events.send((
        kind.to_owned(),
        json!({ "type": "MODIFIED", "object": object.clone() }),
    ));
    axum::Json(object).into_response()
}

/// GET of one namespace's objects (with a `labelSelector` of `k=v` terms), or a watch on them
/// (the broker's ClusterCosts); not gated and not counted; the broker's are 503 while it is
/// "down".
async fn list_namespaced(
    State(state): State<ApiState>,
    Path((group, version, namespace, plural)): Path<(String, String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let prefix = format!("{group}/{version}");
    list_in(state, prefix, namespace, plural, query)
}

/// The same for the core group, at `/api/v1/...`.
async fn list_core(
    State(state): State<ApiState>,
    Path((version, namespace, plural)): Path<(String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    list_in(state, version, namespace, plural, query)
}

/// GET of one object of a group.
async fn get_named(
    State(state): State<ApiState>,
    Path((group, version, namespace, plural, name)): Path<(String, String, String, String, String)>,
) -> Response {
    get_core(
        State(state),
        Path((format!("{group}/{version}"), namespace, plural, name)),
    )
    .await
}

/// POST of a new object (the lease).
async fn create(
    State(state): State<ApiState>,
    Path((group, version, namespace, plural)): Path<(String, String, String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    store(
        state,
        format!("{group}/{version}"),
        namespace,
        plural,
        name,
        body,
    )
}

/// PUT of a whole object (the lease).
async fn replace(
    State(state): State<ApiState>,
    Path((group, version, namespace, plural, name)): Path<(String, String, String, String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    store(
        state,
        format!("{group}/{version}"),
        namespace,
        plural,
        name,
        body,
    )
}

fn store(
    state: ApiState,
    prefix: String,
    namespace: String,
    plural: String,
    name: String,
    mut body: Value,
) -> Response {
    let Some(kind) = kind_of(&prefix, &plural) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    body["apiVersion"] = json!(prefix);
    body["kind"] = json!(kind);
    body["metadata"]["namespace"] = json!(namespace);
    body["metadata"]["name"] = json!(name);
    let version = state.version.fetch_add(1, Ordering::SeqCst) + 1;
    body["metadata"]["resourceVersion"] = json!(version.to_string());
    let key = (kind.to_owned(), format!("{namespace}/{name}"));
    state.objects.lock().unwrap().insert(key, body.clone());
    axum::Json(body).into_response()
}

/// GET of one core object.
async fn get_core(
    State(state): State<ApiState>,
    Path((version, namespace, plural, name)): Path<(String, String, String, String)>,
) -> Response {
    let Some(kind) = kind_of(&version, &plural) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let key = (kind.to_owned(), format!("{namespace}/{name}"));
    match state.objects.lock().unwrap().get(&key) {
        Some(object) => axum::Json(object.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(
                json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "reason": "NotFound", "code": 404 }),
            ),
        )
            .into_response(),
    }
}

fn selected(object: &Value, selector: Option<&String>) -> bool {
    selector.is_none_or(|s| {
        s.split(',').filter(|t| !t.is_empty()).all(|term| {
            term.split_once('=')
                .is_some_and(|(k, v)| object["metadata"]["labels"][k] == v)
        })
    })
}

fn list_in(
    state: ApiState,
    prefix: String,
    namespace: String,
    plural: String,
    query: BTreeMap<String, String>,
) -> Response {
    let Some(kind) = kind_of(&prefix, &plural) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if query.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return watch(state, kind);
    }
    let selector = query.get("labelSelector");
    let items: Vec<Value> = state
        .objects
        .lock()
        .unwrap()
        .iter()
        .filter(|((k, key), v)| {
            k == kind && key.starts_with(&format!("{namespace}/")) && selected(v, selector)
        })
        .map(|(_, v)| v.clone())
        .collect();
    let version = state.version.load(Ordering::SeqCst).to_string();
    axum::Json(json!({ "apiVersion": prefix, "kind": format!("{kind}List"),
                       "metadata": { "resourceVersion": version }, "items": items }))
    .into_response()
}

/// PATCH with a server-side apply body: the applied object replaces the stored one.
async fn apply(
    State(state): State<ApiState>,
    Path((group, version, namespace, plural, name)): Path<(String, String, String, String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let prefix = format!("{group}/{version}");
    let Some(kind) = kind_of(&prefix, &plural) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(mut object) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    object["metadata"]["namespace"] = json!(namespace);
    object["metadata"]["name"] = json!(name);
    object["kind"] = json!(kind);
    let version = state.version.fetch_add(1, Ordering::SeqCst) + 1;
    object["metadata"]["resourceVersion"] = json!(version.to_string());
    state.objects.lock().unwrap().insert(
        (kind.to_owned(), format!("{namespace}/{name}")),
        object.clone(),
    );
    axum::Json(object).into_response()
}

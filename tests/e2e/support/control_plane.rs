//! A real Kubernetes control plane on loopback: etcd and kube-apiserver as
//! `tests/control-plane/` pins and builds them, with RBAC on, the upstream CRDs (mcs-api's,
//! Submariner's Gateway) and Aviator's own installed. Tests act as an admin through kube-rs and
//! run Aviator under the `aviator` ServiceAccount, bound by exactly `deploy/base`'s ClusterRole,
//! so a permission the code needs and the ClusterRole lacks fails a test. Faults are the real
//! ones: the API server restarted (every watch dropped), etcd compacted (so a resumed watch gets
//! `410 Gone`), the server stopped. Both processes are killed on drop. The API server keeps an
//! audit log of every request's metadata, so a test can say what Aviator asked it for.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use serde_json::{Value, json};

/// How long the control plane may take to come up (a cold machine, two cores, other tests).
const STARTUP: Duration = Duration::from_secs(90);
/// The field manager the tests' own writes go under.
const MANAGER: &str = "aviator-tests";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built control plane (binaries and Submariner's Gateway CRD) and the built Lighthouse
/// agent (with the mcs-api CRDs at the version it requires), each built once per test run: Go's
/// caches make that seconds when nothing changed.
fn built() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("control-plane"))
}

/// `tests/coredns`'s build: `bin/coredns`.
pub fn coredns() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("coredns"))
}

/// `tests/lighthouse`'s build: `bin/lighthouse-agent` and `crds/`.
pub fn lighthouse() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("lighthouse"))
}

fn build(what: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let out = target.join(what);
    let script = workspace().join("tests").join(what).join("build.sh");
    let status = Command::new(&script)
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("run {} (needs Go): {e}", script.display()));
    assert!(status.success(), "{} failed", script.display());
    out
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub fn spawn_logged(program: &Path, args: &[String], log: &Path) -> Child {
    let out = File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()))
}

pub fn stop(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// One control plane: a cluster, or a broker.
pub struct ControlPlane {
    pub url: String,
    dir: tempfile::TempDir,
    etcd: Option<Child>,
    etcd_port: u16,
    apiserver: Option<Child>,
    apiserver_port: u16,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

impl ControlPlane {
    /// Starts etcd and the API server, installs the CRDs, and creates the `aviator`
    /// ServiceAccount with `deploy/base`'s ClusterRole and binding.
    pub fn start() -> Self {
        let bin = built().join("bin");
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = dir.path().join("pki");
        std::fs::create_dir(&pki).unwrap();
        let status = Command::new(bin.join("certs")).arg(&pki).status().unwrap();
        assert!(status.success(), "certs failed");
        std::fs::write(
            dir.path().join("audit-policy.yaml"),
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("tokens.csv"),
            format!("{},admin,admin,\"system:masters\"\n", Self::ADMIN_TOKEN),
        )
        .unwrap();
        let etcd_port = free_port();
        let peer_port = free_port();
        let etcd_args: Vec<String> = [
            "--data-dir",
            &dir.path().join("etcd").display().to_string(),
            "--listen-client-urls",
            &format!("http://127.0.0.1:{etcd_port}"),
            "--advertise-client-urls",
            &format!("http://127.0.0.1:{etcd_port}"),
            "--listen-peer-urls",
            &format!("http://127.0.0.1:{peer_port}"),
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer_port}"),
            "--initial-cluster",
            &format!("default=http://127.0.0.1:{peer_port}"),
            "--log-level",
            "warn",
        ]
        .map(str::to_owned)
        .to_vec();
        let etcd = spawn_logged(&bin.join("etcd"), &etcd_args, &dir.path().join("etcd.log"));
        let apiserver_port = free_port();
        let url = format!("https://127.0.0.1:{apiserver_port}");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let kubeconfig = write_kubeconfig(dir.path(), "admin", &url, Self::ADMIN_TOKEN);
        let client = runtime.block_on(async {
            let config = kube::Config::from_custom_kubeconfig(
                kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .unwrap();
            kube::Client::try_from(config).unwrap()
        });
        let mut plane = Self {
            url,
            dir,
            etcd: Some(etcd),
            etcd_port,
            apiserver: None,
            apiserver_port,
            runtime,
            client,
        };
        plane.start_apiserver();
        plane.install();
        plane
    }

    fn start_apiserver(&mut self) {
        let dir = self.dir.path();
        let pki = |f: &str| dir.join("pki").join(f).display().to_string();
        let args: Vec<String> = [
            "--etcd-servers",
            &format!("http://127.0.0.1:{}", self.etcd_port),
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            &self.apiserver_port.to_string(),
            "--tls-cert-file",
            &pki("apiserver.crt"),
            "--tls-private-key-file",
            &pki("apiserver.key"),
            "--client-ca-file",
            &pki("ca.crt"),
            "--service-account-issuer",
            "https://kubernetes.default.svc",
            "--service-account-key-file",
            &pki("sa.pub"),
            "--service-account-signing-key-file",
            &pki("sa.key"),
            "--token-auth-file",
            &dir.join("tokens.csv").display().to_string(),
            "--authorization-mode",
            "RBAC",
            "--service-cluster-ip-range",
            "10.96.0.0/16",
            // No controller-manager runs to create the `default` ServiceAccounts that this
            // plugin would require of every pod.
            "--disable-admission-plugins",
            "ServiceAccount",
            "--cert-dir",
            &pki(""),
            "--audit-policy-file",
            &dir.join("audit-policy.yaml").display().to_string(),
            "--audit-log-path",
            &dir.join("audit.log").display().to_string(),
            "--audit-log-format",
            "json",
        ]
        .map(str::to_owned)
        .to_vec();
        let log = dir.join(format!("apiserver-{}.log", self.apiserver_port));
        let bin = built().join("bin/kube-apiserver");
        self.apiserver = Some(spawn_logged(&bin, &args, &log));
        let deadline = Instant::now() + STARTUP;
        let client = self.client.clone();
        while self
            .runtime
            .block_on(async {
                let request = axum::http::Request::get("/readyz")
                    .body(Vec::new())
                    .unwrap();
                client.request_text(request).await
            })
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "kube-apiserver not ready: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The upstream CRDs and Aviator's, and the `aviator` ServiceAccount with its role.
    fn install(&self) {
        let mut files: Vec<PathBuf> = [built().join("crds"), lighthouse().join("crds")]
            .iter()
            .flat_map(|dir| std::fs::read_dir(dir).unwrap())
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.push(workspace().join("deploy/crds/aviator.dev.yaml"));
        for file in &files {
            self.apply_yaml(&std::fs::read_to_string(file).unwrap());
        }
        self.eventually_served(&[
            ("multicluster.x-k8s.io", "v1alpha1", "ServiceImport"),
            ("multicluster.x-k8s.io", "v1alpha1", "ServiceExport"),
            ("submariner.io", "v1", "Gateway"),
            ("aviator.dev", "v1alpha1", "AviatorPolicy"),
            ("aviator.dev", "v1alpha1", "ClusterCost"),
        ]);
        for file in [
            "namespace.yaml",
            "serviceaccount.yaml",
            "clusterrole.yaml",
            "role.yaml",
        ] {
            self.apply_yaml(
                &std::fs::read_to_string(workspace().join("deploy/base").join(file)).unwrap(),
            );
        }
    }

    /// Installs a CustomResourceDefinition and waits until its kind is served.
    pub fn install_crd(&self, text: &str, group: &str, version: &str, kind: &str) {
        self.apply_yaml(text);
        self.eventually_served(&[(group, version, kind)]);
    }

    /// Binds `deploy/base`'s ClusterRole and Role to the ServiceAccount, as the install does.
    pub fn grant_aviator(&self) {
        for file in ["clusterrolebinding.yaml", "rolebinding.yaml"] {
            self.apply_yaml(
                &std::fs::read_to_string(workspace().join("deploy/base").join(file)).unwrap(),
            );
        }
    }

    fn eventually_served(&self, kinds: &[(&str, &str, &str)]) {
        let deadline = Instant::now() + STARTUP;
        for (group, version, kind) in kinds {
            let gvk = GroupVersionKind::gvk(group, version, kind);
            while self
                .runtime
                .block_on(discovery::pinned_kind(&self.client, &gvk))
                .is_err()
            {
                assert!(Instant::now() < deadline, "{kind} never served");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// A kubeconfig for the `aviator` ServiceAccount: a token from the TokenRequest API.
    pub fn aviator_kubeconfig(&self) -> PathBuf {
        self.kubeconfig_for("aviator", "aviator")
    }

    /// A kubeconfig for ServiceAccount `namespace/name`.
    pub fn kubeconfig_for(&self, namespace: &str, name: &str) -> PathBuf {
        let token = self.service_account_token(namespace, name);
        write_kubeconfig(self.dir.path(), name, &self.url, &token)
    }

    /// A token for ServiceAccount `namespace/name`, as a pod's projected volume gets one.
    pub fn service_account_token(&self, namespace: &str, name: &str) -> String {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec!["https://kubernetes.default.svc".to_owned()],
                expiration_seconds: Some(3600),
                ..Default::default()
            },
            ..Default::default()
        };
        let response = self
            .runtime
            .block_on(accounts.create_token_request(name, &PostParams::default(), &request))
            .expect("a ServiceAccount token");
        response.status.expect("token status").token
    }

    /// A kubeconfig for the admin, as `kubectl` takes it.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.dir.path().join("admin.kubeconfig")
    }

    /// The kubectl built beside the API server.
    pub fn kubectl() -> PathBuf {
        built().join("bin/kubectl")
    }

    /// The admin's bearer token (the API server's static token file).
    pub const ADMIN_TOKEN: &'static str = "admin-token";

    /// The API server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.apiserver_port
    }

    /// Where the CA bundle that signs the API server's certificate is.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("pki/ca.crt")
    }

    /// A file in this control plane's own directory, for a process run beside it.
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The CA bundle that signs the API server's certificate, PEM.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pki/ca.crt")).unwrap()
    }

    /// The API for `object`'s kind and namespace, and whether the kind has a status
    /// subresource.
    fn api(&self, object: &Value) -> (Api<DynamicObject>, bool) {
        let (group, version) = match object["apiVersion"].as_str().unwrap_or_default() {
            v if v.contains('/') => v.split_once('/').unwrap(),
            v => ("", v),
        };
        let kind = object["kind"].as_str().unwrap_or_default();
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = self
            .runtime
            .block_on(discovery::pinned_kind(&self.client, &gvk))
            .unwrap_or_else(|e| panic!("{kind} is not served: {e}"));
        let has_status = caps.subresources.iter().any(|(r, _)| r.plural == "status");
        let api = match (&caps.scope, object["metadata"]["namespace"].as_str()) {
            (Scope::Namespaced, namespace) => Api::namespaced_with(
                self.client.clone(),
                namespace.unwrap_or("default"),
                &resource,
            ),
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), &resource),
        };
        (api, has_status)
    }

    /// Server-side applies every document of a YAML text, status included.
    pub fn apply_yaml(&self, text: &str) {
        for document in serde_yaml_ng::Deserializer::from_str(text) {
            let value: Value = serde::Deserialize::deserialize(document).unwrap();
            if value.is_object() {
                self.apply(value);
            }
        }
    }

    /// Server-side applies `object` as an admin, creating its namespace if need be, and then
    /// its status where that is a subresource (the main write ignores it there).
    pub fn apply(&self, object: Value) {
        let kind = object["kind"].clone();
        if let Err(e) = self.try_apply(object) {
            panic!("apply {kind}: {e}");
        }
    }

    /// [`ControlPlane::apply`], returning the API server's refusal instead of failing.
    pub fn try_apply(&self, mut object: Value) -> Result<(), String> {
        if let Some(namespace) = object["metadata"]["namespace"].as_str() {
            self.ensure_namespace(namespace);
        }
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let (api, has_status) = self.api(&object);
        let status = has_status
            .then(|| object.as_object_mut().and_then(|o| o.remove("status")))
            .flatten();
        let params = PatchParams::apply(MANAGER).force();
        self.runtime
            .block_on(api.patch(&name, &params, &Patch::Apply(&object)))
            .map_err(|e| format!("{name}: {e}"))?;
        if let Some(status) = status {
            let mut patch = json!({
                "apiVersion": object["apiVersion"], "kind": object["kind"],
                "metadata": { "name": name }, "status": status,
            });
            if let Some(ns) = object["metadata"]["namespace"].as_str() {
                patch["metadata"]["namespace"] = Value::from(ns);
            }
            self.runtime
                .block_on(api.patch_status(&name, &params, &Patch::Apply(&patch)))
                .map_err(|e| format!("the status of {name}: {e}"))?;
        }
        Ok(())
    }

    fn ensure_namespace(&self, namespace: &str) {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let object =
            json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": namespace } });
        self.runtime
            .block_on(namespaces.patch(
                namespace,
                &PatchParams::apply(MANAGER),
                &Patch::Apply(&object),
            ))
            .unwrap_or_else(|e| panic!("namespace {namespace}: {e}"));
    }

    /// The object, as an admin reads it; `None` if it does not exist.
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let probe = json!({ "apiVersion": api_version, "kind": kind,
                            "metadata": { "namespace": namespace } });
        let (api, _) = self.api(&probe);
        self.runtime
            .block_on(api.get_opt(name))
            .ok()
            .flatten()
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// Creates every object (of kinds already served), 32 requests at a time: for loading a
    /// control plane with thousands of objects.
    pub fn create_all(&self, objects: Vec<Value>) {
        use futures::StreamExt;
        let calls: Vec<_> = objects
            .into_iter()
            .map(|object| {
                let (api, _) = self.api(&object);
                async move {
                    let object: DynamicObject = serde_json::from_value(object).unwrap();
                    api.create(&PostParams::default(), &object)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            })
            .collect();
        let failures: Vec<String> = self.runtime.block_on(
            futures::stream::iter(calls)
                .buffer_unordered(32)
                .filter_map(|r| async move { r.err() })
                .collect(),
        );
        assert!(
            failures.is_empty(),
            "{} creates failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(3)]
        );
    }

    /// Deletes the object, as an admin; it is fine if it does not exist.
    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let probe = json!({ "apiVersion": api_version, "kind": kind,
                            "metadata": { "namespace": namespace } });
        let (api, _) = self.api(&probe);
        let _ = self
            .runtime
            .block_on(api.delete(name, &kube::api::DeleteParams::default()));
    }

    /// Every object of a kind in a namespace, as an admin reads them.
    pub fn list(&self, api_version: &str, kind: &str, namespace: &str) -> Vec<Value> {
        let probe = json!({ "apiVersion": api_version, "kind": kind,
                            "metadata": { "namespace": namespace } });
        let (api, _) = self.api(&probe);
        self.runtime
            .block_on(api.list(&kube::api::ListParams::default()))
            .map(|l| {
                l.items
                    .into_iter()
                    .map(|o| serde_json::to_value(o).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The API server's own metrics (`/metrics`), read as an admin.
    pub fn metrics(&self) -> String {
        let request = axum::http::Request::get("/metrics")
            .body(Vec::new())
            .unwrap();
        self.runtime
            .block_on(self.client.request_text(request))
            .expect("the API server's metrics")
    }

    /// The audited requests made by ServiceAccount `namespace/name` so far (each an
    /// `audit.k8s.io/v1` Event: verb, requestURI, objectRef, responseStatus). The log backend
    /// writes each request before the response goes out.
    pub fn requests_by(&self, namespace: &str, name: &str) -> Vec<Value> {
        let user = format!("system:serviceaccount:{namespace}:{name}");
        std::fs::read_to_string(self.dir.path().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["user"]["username"] == user.as_str())
            .collect()
    }

    /// Stops the API server and starts it again on the same port: every watch drops, and its
    /// watch cache starts afresh from etcd's current revision.
    pub fn restart_apiserver(&mut self) {
        stop(&mut self.apiserver);
        self.start_apiserver();
    }

    /// Stops the API server, as an outage does; [`ControlPlane::restart_apiserver`] ends it.
    pub fn stop_apiserver(&mut self) {
        stop(&mut self.apiserver);
    }

    /// Compacts etcd up to its current revision, physically: every older resourceVersion is
    /// gone, and a watch resumed from one gets `410 Gone`.
    pub fn compact(&self) {
        let range = self.etcd_call("/v3/kv/range", r#"{"key":"AA=="}"#);
        let revision = range["header"]["revision"]
            .as_str()
            .expect("etcd's revision")
            .to_owned();
        let body = json!({ "revision": revision, "physical": true }).to_string();
        self.etcd_call("/v3/kv/compaction", &body);
    }

    /// A call to etcd's JSON gateway.
    fn etcd_call(&self, path: &str, body: &str) -> Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.etcd_port)).expect("etcd");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.contains(" 200 "), "etcd {path}: {response}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("etcd {path}: {e}: {body}"))
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        stop(&mut self.apiserver);
        stop(&mut self.etcd);
    }
}

fn write_kubeconfig(dir: &Path, user: &str, url: &str, token: &str) -> PathBuf {
    let ca = dir.join("pki/ca.crt");
    let path = dir.join(format!("{user}.kubeconfig"));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {url}\n    certificate-authority: {}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: {user}\ncurrent-context: test\n",
        ca.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

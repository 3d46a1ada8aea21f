//! The admin HTTP endpoint: Prometheus `/metrics`, liveness `/healthz`, readiness `/readyz`, and
//! `/debug/weights` (decisions, probes and load reports).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::collections::BTreeMap;

use aviator_broker::probe::{Prober, TargetReport};
use aviator_optimizer::Decision;
use axum::Json;
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::app::control::{ReportCell, reports_by_service, reports_of};
use crate::wire::respond::SnapshotCell;
use aviator_optimizer::LoadReport;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

/// What the admin endpoints read.
#[derive(Clone)]
pub struct AdminState {
    metrics: PrometheusHandle,
    /// What `/readyz` reports: true once a snapshot is serving.
    ready: Arc<AtomicBool>,
    cell: Arc<SnapshotCell>,
    prober: Arc<Prober>,
    reports: Arc<ReportCell>,
}

impl AdminState {
    pub fn new(
        metrics: PrometheusHandle,
        ready: Arc<AtomicBool>,
        cell: Arc<SnapshotCell>,
        prober: Arc<Prober>,
        reports: Arc<ReportCell>,
    ) -> Self {
        Self {
            metrics,
            ready,
            cell,
            prober,
            reports,
        }
    }
}

/// Serves the admin endpoints on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readiness))
        .route("/debug/weights", get(weights))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn render_metrics(State(state): State<AdminState>) -> String {
    let mut text = state.metrics.render();
    let snapshot = state.cell.load_full();
    crate::state_metrics::render(snapshot.as_deref(), &state.prober.reports(), &mut text);
    text
}

async fn readiness(State(state): State<AdminState>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no snapshot yet\n",
        )
    }
}

/// `/debug/weights`: per service, the optimizer's decision, what the probes measured, and the
/// exporters' load reports in force (each cluster's own for its local export).
#[derive(Serialize, Deserialize, Default)]
pub struct Weights {
    pub services: BTreeMap<String, ServiceWeights>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct ServiceWeights {
    pub decision: Option<Decision>,
    pub probes: BTreeMap<String, TargetReport>,
    /// By exporting cluster, with each report's age at the last rebuild.
    #[serde(default)]
    pub reports: BTreeMap<String, LoadReport>,
}

async fn weights(State(state): State<AdminState>) -> Json<Weights> {
    let mut out = Weights::default();
    if let Some(snapshot) = state.cell.load_full() {
        for (namespace, name, decision) in snapshot.decisions().iter() {
            out.services
                .entry(format!("{namespace}/{name}"))
                .or_default()
                .decision = Some(decision.clone());
        }
    }
    for (service, reports) in reports_by_service(&state.prober) {
        out.services.entry(service).or_default().probes = reports.into_iter().collect();
    }
    let measured = state.reports.load_full();
    for (service, reports) in measured.as_deref().map(reports_of).unwrap_or_default() {
        out.services.entry(service).or_default().reports = reports;
    }
    Json(out)
}

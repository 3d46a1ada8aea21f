//! The admin HTTP endpoint: Prometheus `/metrics`, liveness `/healthz` and readiness `/readyz`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

#[derive(Clone)]
struct AdminState {
    metrics: PrometheusHandle,
    ready: Arc<AtomicBool>,
}

/// Serves the admin endpoints on `listener` until `shutdown` completes. `ready` is what
/// `/readyz` reports: true once a snapshot is serving.
pub async fn run(
    listener: TcpListener,
    metrics: PrometheusHandle,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readiness))
        .with_state(AdminState { metrics, ready });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn render_metrics(State(state): State<AdminState>) -> String {
    state.metrics.render()
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

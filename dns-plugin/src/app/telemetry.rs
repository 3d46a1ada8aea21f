//! Logs (tracing to stderr) and the Prometheus recorder.

use std::sync::OnceLock;

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::metrics;

/// Installs the log subscriber. The DNS path logs nothing (it counts), so the filter is the
/// operator's as given.
pub fn init_logs(filter: &str) -> anyhow::Result<()> {
    let directives = filter;
    let filter = EnvFilter::try_new(directives)
        .with_context(|| format!("--log-level \"{filter}\" is not a valid log filter"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

/// Installs the global metrics recorder (once per process: the demo starts several instances)
/// and describes Aviator's metrics.
pub fn init_metrics() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let handle = HANDLE.get_or_init(|| handle).clone();
    ::metrics::describe_counter!(metrics::QUERIES, "DNS queries answered, by qtype and rcode");
    ::metrics::describe_counter!(
        metrics::DROPPED,
        "DNS packets not answered, by reason: short (no whole header) or response"
    );
    ::metrics::describe_counter!(metrics::RELOADS, "Clusterset file reloads, by result");
    ::metrics::describe_counter!(
        metrics::MASS_DROPS,
        "Clusterset reloads that kept fewer than half of the services served"
    );
    ::metrics::describe_gauge!(
        metrics::LAST_RELOAD_OK,
        "1 if the last clusterset reload succeeded, 0 if it was rejected"
    );
    ::metrics::describe_gauge!(metrics::SERVICES, "Services in the serving snapshot");
    ::metrics::describe_gauge!(
        metrics::RENDERED,
        "Services rendered anew by the last rebuild; the rest were shared with the one before"
    );
    ::metrics::describe_gauge!(metrics::CLUSTERS, "Clusters in the serving snapshot");
    Ok(handle)
}

//! `aviator serve`: load the clusterset, start DNS and admin, keep the snapshot current, and
//! shut down cleanly on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use aviator_broker::clusterset;
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::info;

use std::time::Duration;

use aviator_broker::broker::FileBroker;
use aviator_optimizer::probe::{ProbeSettings, Prober};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::control::Control;
use super::reload::{Reloader, record_served};
use super::telemetry;
use crate::cli::ServeArgs;
use crate::handler::{Handler, SnapshotCell};
use crate::server::DnsSockets;
use crate::{admin, server, snapshot};

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Signals are hooked before we announce ourselves, so a SIGTERM right after start is clean.
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(
        shutdown.clone(),
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    ));
    let config = args.config.clone();
    let running = start(args, shutdown).await?;
    // One line on stdout that people and tests can read for the bound addresses.
    println!(
        "aviator: serving {} on {} (udp+tcp); admin on http://{}",
        running.zones.join(" "),
        running.dns_addr,
        running.admin_addr
    );
    info!(dns_addr = %running.dns_addr, admin_addr = %running.admin_addr,
          config = %config.display(), "serving");
    running.wait().await?;
    info!("stopped");
    Ok(())
}

/// A running instance: its addresses, the snapshot it serves, and the task that ends when it
/// has shut down.
pub struct Running {
    pub dns_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub zones: Vec<String>,
    done: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Waits until `shutdown` has stopped every part.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.done.await.context("the server task failed")?
    }
}

/// Loads the clusterset, binds DNS and admin, and starts every part; they stop when `shutdown`
/// is cancelled.
pub async fn start(args: ServeArgs, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let metrics = telemetry::init_metrics()?;
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("{}: cannot read the file", args.config.display()))?;
    let set = clusterset::parse(&text, &args.config)?;
    let first = snapshot::build(&set, None)
        .with_context(|| format!("{}: cannot render the clusterset", args.config.display()))?;
    let zones: Vec<String> = first.zone_names().collect();
    record_served(&set);
    let cell = Arc::new(SnapshotCell::from_pointee(first));
    let ready = Arc::new(AtomicBool::new(true));

    let shards = args
        .udp_threads
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let dns = DnsSockets::bind(args.listen, shards)
        .with_context(|| format!("cannot listen for DNS on {}", args.listen))?;
    let dns_addr = dns.local_addr()?;
    let admin_listener = TcpListener::bind(args.admin)
        .await
        .with_context(|| format!("cannot listen for admin HTTP on {}", args.admin))?;
    let admin_addr = admin_listener.local_addr()?;

    let (config_tx, config_rx) = watch::channel(Arc::new(set));
    let reloader = Reloader::new(args.config.clone(), config_tx, text);
    let reload_task = tokio::spawn(reloader.run(shutdown.clone()));

    let prober = Prober::new(ProbeSettings {
        active_interval: Duration::from_millis(args.probe_interval_ms),
        idle_interval: Duration::from_millis(args.probe_interval_ms).max(Duration::from_secs(10)),
        timeout: Duration::from_millis(args.probe_timeout_ms),
        ..ProbeSettings::default()
    })?;
    let probe_task = tokio::spawn(prober.clone().run(shutdown.clone().cancelled_owned()));
    let local_cluster = config_rx.borrow().local_cluster.to_string();
    let control = Control {
        cell: cell.clone(),
        config: config_rx,
        prober: prober.clone(),
        broker: args
            .broker_dir
            .as_ref()
            .map(|dir| FileBroker::new(dir, local_cluster)),
        tick: Duration::from_millis(args.tick_ms),
        broker_stale_after: Duration::from_secs(args.broker_stale_s),
    };
    let control_task = tokio::spawn(control.run(shutdown.clone()));

    let admin_task = tokio::spawn(admin::run(
        admin_listener,
        admin::AdminState::new(metrics, ready, cell.clone(), prober),
        shutdown.clone().cancelled_owned(),
    ));

    let udp_payload = args.udp_payload;
    let dns_cell = cell.clone();
    let done = tokio::spawn(async move {
        server::run(
            dns,
            || Handler::new(dns_cell.clone(), udp_payload),
            shutdown.clone(),
        )
        .await?;
        shutdown.cancel();
        reload_task.await.ok();
        control_task.await.ok();
        probe_task.await.ok();
        admin_task.await.ok().transpose().context("admin server")?;
        Ok(())
    });
    Ok(Running {
        dns_addr,
        admin_addr,
        zones,
        done,
    })
}

async fn cancel_on_signal(
    shutdown: CancellationToken,
    mut interrupt: Signal,
    mut terminate: Signal,
) {
    tokio::select! {
        _ = interrupt.recv() => info!("interrupted; shutting down"),
        _ = terminate.recv() => info!("terminated; shutting down"),
    }
    shutdown.cancel();
}

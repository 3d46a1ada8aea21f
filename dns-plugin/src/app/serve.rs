//! `aviator serve`: load the clusterset, start DNS and admin, keep the snapshot current, and
//! shut down cleanly on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::info;

use std::time::Duration;

use aviator_broker::probe::{ProbeSettings, Prober};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use aviator_broker::state::{ClusterSet, DnsSettings};

use super::control::{Control, ReportCell};
use super::kube_source::KubeSource;
use super::reload::{Reloader, record_served};
use super::telemetry;
use crate::cli::ServeArgs;
use crate::server::DnsSockets;
use crate::wire::Responder;
use crate::wire::respond::SnapshotCell;
use crate::{admin, server, snapshot};

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Signals are hooked before we announce ourselves, so a SIGTERM right after start is clean.
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(
        shutdown.clone(),
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    ));
    let source = match &args.config {
        Some(path) => path.display().to_string(),
        None => "kubernetes".to_owned(),
    };
    let running = start(args, shutdown).await?;
    // One line on stdout that people and tests can read for the bound addresses.
    println!(
        "aviator: serving {} on {} (udp+tcp); admin on http://{}",
        running.zones.join(" "),
        running.dns_addr,
        running.admin_addr
    );
    info!(dns_addr = %running.dns_addr, admin_addr = %running.admin_addr,
          %source, "serving");
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
    let cell: Arc<SnapshotCell> = Arc::new(SnapshotCell::empty());
    let ready = Arc::new(AtomicBool::new(false));
    let broker_stale = Arc::new(AtomicBool::new(false));
    // Whether this process writes what one replica must write alone: always, from a file; in
    // Kubernetes, while it holds the writer lease.
    let writer = Arc::new(AtomicBool::new(args.config.is_some()));
    let zone_served: Arc<super::zone_check::ZoneServedCell> = Arc::default();
    // The first clusterset: from the file now, or from Kubernetes once every kind is listed.
    let (first_set, zones, source_task) = match &args.config {
        Some(path) => {
            let (set, text) = super::memory::load_apart(path, args.max_config_bytes)?;
            let zones = set.dns.zones.clone();
            let (tx, rx) = watch::channel(Arc::new(set));
            let reloader = Reloader::new(path.clone(), tx, text, args.max_config_bytes);
            (
                Source::Ready(rx),
                zones,
                tokio::spawn(reloader.run(shutdown.clone())),
            )
        }
        None => {
            let client = kube::Client::try_default()
                .await
                .context("cannot configure the Kubernetes client (in-cluster or KUBECONFIG)")?;
            let (tx, rx) = watch::channel(None);
            let (reports_tx, reports_rx) = watch::channel(Vec::new());
            tokio::spawn(super::policy_status::write_statuses(
                super::policy_status::StatusWriter {
                    client: client.clone(),
                    cell: cell.clone(),
                    reports: reports_rx,
                    broker_stale: broker_stale.clone(),
                    writer: writer.clone(),
                    identity: args.identity.clone(),
                    zone_served: zone_served.clone(),
                },
                shutdown.clone(),
            ));
            let lease = super::writer_lease::run(
                client.clone(),
                args.namespace.clone(),
                args.identity.clone(),
                Duration::from_secs(args.lease_s),
                writer.clone(),
                shutdown.clone(),
            );
            let source = KubeSource {
                client: client.clone(),
                local_cluster: args.cluster_id.clone(),
                aviator_namespace: args.namespace.clone(),
                dns: DnsSettings::default(),
            };
            let watching = source.run(tx, reports_tx, shutdown.clone());
            (
                Source::Pending(rx, client),
                DnsSettings::default().zones,
                // Both end at shutdown; the lease is released on the way out.
                tokio::spawn(async move {
                    tokio::join!(watching, lease);
                }),
            )
        }
    };
    if let Source::Ready(rx) = &first_set {
        // A file that validates but cannot be rendered is refused at start.
        let set = rx.borrow().clone();
        let first = snapshot::build(&set, None, &nameserver(&args))
            .context("cannot render the clusterset")?;
        record_served(&set);
        cell.store(Some(Arc::new(first)));
        ready.store(true, Ordering::Release);
        // Parsing held several times the file's size, now freed: give it back.
        super::memory::release_freed();
    }
    let zones: Vec<String> = zones.iter().map(|z| format!("{z}.")).collect();

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

    let prober = Prober::new(ProbeSettings {
        active_interval: Duration::from_millis(args.probe_interval_ms),
        idle_interval: Duration::from_millis(args.probe_interval_ms).max(Duration::from_secs(10)),
        timeout: Duration::from_millis(args.probe_timeout_ms),
        ..ProbeSettings::default()
    })?;
    let probe_task = tokio::spawn(prober.clone().run(shutdown.clone().cancelled_owned()));
    let reports: Arc<ReportCell> = Arc::default();
    let control_task = tokio::spawn(run_control(
        first_set,
        Shared {
            cell: cell.clone(),
            ready: ready.clone(),
            broker_stale,
            prober: prober.clone(),
            reports: reports.clone(),
            writer,
            zone_served,
        },
        args.clone(),
        shutdown.clone(),
    ));

    let admin_task = tokio::spawn(admin::run(
        admin_listener,
        admin::AdminState::new(metrics, ready, cell.clone(), prober, reports),
        shutdown.clone().cancelled_owned(),
    ));

    let udp_payload = args.udp_payload;
    let identity = args.identity.clone();
    let dns_cell = cell.clone();
    let done = tokio::spawn(async move {
        server::run(
            dns,
            || Responder::new(dns_cell.clone(), udp_payload, &identity),
            shutdown.clone(),
        )
        .await?;
        shutdown.cancel();
        source_task.await.ok();
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

/// Where the clusterset comes from: ready now (a file), or once Kubernetes is listed.
enum Source {
    Ready(watch::Receiver<Arc<ClusterSet>>),
    /// With the client that also reads the local exports' utilisation.
    Pending(watch::Receiver<Option<Arc<ClusterSet>>>, kube::Client),
}

/// What the control loop shares with the DNS path and the admin endpoints.
struct Shared {
    cell: Arc<SnapshotCell>,
    ready: Arc<AtomicBool>,
    broker_stale: Arc<AtomicBool>,
    prober: Arc<Prober>,
    reports: Arc<ReportCell>,
    writer: Arc<AtomicBool>,
    zone_served: Arc<super::zone_check::ZoneServedCell>,
}

/// Runs the control loop once a first clusterset exists. Until then the cell stays empty: DNS
/// answers SERVFAIL (not wrong answers) and `/readyz` says not ready.
async fn run_control(source: Source, shared: Shared, args: ServeArgs, shutdown: CancellationToken) {
    let Shared {
        cell,
        ready,
        broker_stale,
        prober,
        reports,
        writer,
        zone_served,
    } = shared;
    let mut local_utilization = None;
    let mut kube_client = None;
    let config = match source {
        Source::Ready(rx) => rx,
        Source::Pending(mut rx, client) => {
            let first = tokio::select! {
                () = shutdown.cancelled() => return,
                first = rx.wait_for(Option::is_some) => match first.ok().and_then(|f| f.clone()) {
                    Some(first) => first,
                    None => return,
                },
            };
            match snapshot::build(&first, None, &nameserver(&args)) {
                Ok(snapshot) => cell.store(Some(Arc::new(snapshot))),
                Err(error) => tracing::error!(%error, "cannot render the first clusterset"),
            }
            record_served(&first);
            ready.store(true, Ordering::Release);
            info!("Kubernetes objects listed; serving");
            let (tx, forwarded) = watch::channel(first);
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    let next = rx.borrow_and_update().clone();
                    if let Some(next) = next {
                        tx.send_replace(next);
                    }
                }
            });
            let (readings, readings_rx) = watch::channel(Default::default());
            kube_client = Some(client.clone());
            tokio::spawn(super::kube_utilization::run(
                client,
                forwarded.clone(),
                readings,
                shutdown.clone(),
            ));
            local_utilization = Some(readings_rx);
            let cluster_dns = args.cluster_dns.or_else(|| {
                std::fs::read_to_string("/etc/resolv.conf")
                    .ok()
                    .and_then(|text| super::zone_check::cluster_dns_from(&text))
            });
            let zone = forwarded
                .borrow()
                .dns
                .zones
                .first()
                .and_then(|z| hickory_proto::rr::Name::from_ascii(z).ok());
            match (cluster_dns, zone) {
                (Some(cluster_dns), Some(zone)) => {
                    tokio::spawn(super::zone_check::run(
                        cluster_dns,
                        zone,
                        forwarded.clone(),
                        zone_served,
                        shutdown.clone(),
                    ));
                }
                _ => info!(
                    "no cluster DNS to ask (set --cluster-dns): whether the zone's queries reach Aviator is not checked"
                ),
            }
            forwarded
        }
    };
    let local_cluster = config.borrow().local_cluster.to_string();
    let broker = super::broker_setup::broker_with_retries(
        &args,
        &local_cluster,
        kube_client.as_ref(),
        &shutdown,
    )
    .await;
    let control = Control {
        cell,
        config,
        prober,
        broker,
        tick: Duration::from_millis(args.tick_ms),
        broker_stale_after: Duration::from_secs(args.broker_stale_s),
        broker_stale,
        reports,
        local_utilization,
        writer,
        nameserver: nameserver(&args),
    };
    on_own_thread(control, shutdown).await;
}

/// Runs the control loop on a thread and runtime of its own: its rebuilds are CPU work, which on
/// the shared runtime would hold up TCP DNS and the admin endpoints (at 20,000 services,
/// `/healthz` took 2 s). Returns when the loop ends.
async fn on_own_thread(control: Control, shutdown: CancellationToken) {
    let (done, ended) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("aviator-control".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(control.run(shutdown)),
                Err(error) => tracing::error!(%error, "cannot start the control loop's runtime"),
            }
            let _ = done.send(());
        });
    match spawned {
        Ok(_) => {
            let _ = ended.await;
        }
        Err(error) => tracing::error!(%error, "cannot start the control loop's thread"),
    }
}

/// What `ns.dns.<zone>` resolves to: the addresses given, or the one DNS listens on.
fn nameserver(args: &ServeArgs) -> snapshot::Nameserver {
    let mut addresses = args.ns_addresses.clone();
    if addresses.is_empty() && !args.listen.ip().is_unspecified() {
        addresses.push(args.listen.ip());
    }
    snapshot::Nameserver { addresses }
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

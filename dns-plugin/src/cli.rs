//! The command line: subcommands and their flags (parsing only; [`crate::app`] acts on them).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::wire::respond::DEFAULT_UDP_PAYLOAD;

#[derive(Debug, Parser)]
#[command(
    name = "aviator",
    version,
    about = "Latency-, load- and cost-aware DNS for Kubernetes clustersets"
)]
pub struct Cli {
    /// Log filter: a level (error, warn, info, debug, trace) or tracing directives
    /// such as `info,aviator_dns=debug`.
    #[arg(long, global = true, default_value = "info", env = "AVIATOR_LOG")]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the clusterset zone from a clusterset file, reloading it when it changes.
    Serve(Box<ServeArgs>),
    /// Validate a clusterset file and print every error in it.
    Check(CheckArgs),
    /// Solve one optimizer problem (policy, exports, previous state; YAML or JSON) and print
    /// the shares with their explanations.
    Solve(SolveArgs),
    /// Ask a running aviator why it answers a service the way it does: per cluster, the RTT,
    /// latency, price, capacity, health, share and reason.
    Explain(ExplainArgs),
    /// Run Aviator against Lighthouse and plain round-robin on simulated clusters on this
    /// machine, and compare.
    Demo(DemoArgs),
    /// Evaluate the policies side by side in a discrete-event simulation (Lighthouse, static
    /// WRR, Istio and Envoy locality, P2C, Prequal, Aviator's three objectives).
    Simulate(SimulateArgs),
    /// Print the CustomResourceDefinitions (AviatorPolicy, ClusterCost) as YAML.
    Crd,
}

#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["config", "kubernetes"])))]
pub struct ServeArgs {
    /// The clusterset file (YAML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Read the clusterset from Kubernetes instead (ServiceImports, Lighthouse's EndpointSlices,
    /// Submariner Gateways, AviatorPolicies), with in-cluster credentials or KUBECONFIG.
    #[arg(long)]
    pub kubernetes: bool,
    /// This cluster's id, as Submariner knows it (Kubernetes mode); without it, the id of the
    /// active Submariner gateway's local endpoint.
    #[arg(long, env = "SUBMARINER_CLUSTERID", value_name = "ID")]
    pub cluster_id: Option<String>,
    /// The broker namespace, whose EndpointSlice copies are ignored (Kubernetes mode).
    #[arg(
        long,
        env = "BROKER_K8S_REMOTENAMESPACE",
        default_value = "submariner-k8s-broker"
    )]
    pub broker_namespace: String,
    /// Where Submariner keeps its `Submariner` object and the broker's Secret, read for the
    /// broker's credentials when `BROKER_K8S_APISERVER` is not set (Kubernetes mode).
    #[arg(long, value_name = "NS", default_value = "submariner-operator")]
    pub submariner_namespace: String,
    /// The cluster's DNS server, asked every few seconds whether the clusterset zone's queries
    /// reach Aviator (Kubernetes mode); by default the first nameserver of /etc/resolv.conf.
    #[arg(long, value_name = "ADDR:PORT")]
    pub cluster_dns: Option<SocketAddr>,
    /// This replica's name in the writer lease (Kubernetes mode): the pod's name.
    #[arg(long, env = "POD_NAME", value_name = "NAME", default_value_t = default_identity())]
    pub identity: String,
    /// How long the writer lease lasts unrenewed, seconds; the writing replica renews it every
    /// third of that (Kubernetes mode).
    #[arg(long, value_name = "S", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub lease_s: u64,
    /// Aviator's own namespace, home of the cluster-wide `default` AviatorPolicy.
    #[arg(long, env = "POD_NAMESPACE", default_value = "aviator")]
    pub namespace: String,
    /// DNS address, UDP and TCP. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:5353")]
    pub listen: SocketAddr,
    /// Admin HTTP address: /metrics, /healthz, /readyz. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9153")]
    pub admin: SocketAddr,
    /// Largest UDP answer, in bytes; larger answers are truncated and retried over TCP.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_UDP_PAYLOAD,
          value_parser = clap::value_parser!(u16).range(512..=4096))]
    pub udp_payload: u16,
    /// The addresses `ns.dns.<zone>` (the zone's NS record and SOA name) resolve to; may be
    /// repeated. Default: the `--listen` address, unless that is a wildcard (in Kubernetes the
    /// Deployment passes the pod's address).
    #[arg(
        long = "ns-address",
        env = "POD_IP",
        value_name = "IP",
        value_delimiter = ','
    )]
    pub ns_addresses: Vec<std::net::IpAddr>,
    /// UDP sockets (SO_REUSEPORT), each served by its own thread. Default: one per core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub udp_threads: Option<u16>,
    /// The largest clusterset file accepted, bytes; a larger one is refused unread.
    #[arg(long, value_name = "BYTES", default_value_t = aviator_broker::clusterset::DEFAULT_MAX_FILE_BYTES)]
    pub max_config_bytes: u64,
    /// How often the control loop re-solves and republishes the answers, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub tick_ms: u64,
    /// Probe interval while a service is being looked up, milliseconds (idle: at least 10 s).
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub probe_interval_ms: u64,
    /// Probe timeout, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub probe_timeout_ms: u64,
    /// A directory shared with the other clusters, where each publishes its prices and
    /// capacity (the file broker). Without it, prices come from the clusterset file alone.
    #[arg(long, value_name = "DIR")]
    pub broker_dir: Option<PathBuf>,
    /// Peer prices not refreshed for this long are reported stale (and still used), seconds.
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub broker_stale_s: u64,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The clusterset file (YAML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct SolveArgs {
    /// The problem file: `policy`, `exports` and optionally `previous`, as YAML or JSON.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Print a table instead of JSON.
    #[arg(long)]
    pub table: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The service, as `<svc>.<ns>` (or `<ns>/<svc>`).
    pub service: String,
    /// The running server's admin address.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9153")]
    pub admin: SocketAddr,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seconds each policy runs the scenario (three runs in all), at least 20: shorter runs
    /// would measure Aviator's reaction times rather than the policies.
    #[arg(long, value_name = "S", default_value_t = 30, value_parser = demo_duration)]
    pub duration: u64,
    /// Print the summary as JSON on stdout (the live table goes to stderr).
    #[arg(long)]
    pub json: bool,
}

fn demo_duration(text: &str) -> Result<u64, String> {
    let seconds = text
        .parse::<u64>()
        .map_err(|e| format!("not a number of seconds: {e}"))?;
    crate::demo::check_duration(seconds)
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A built-in scenario (ramp, outage, antagonist, cost, herd) or `all`; `all` is the
    /// default unless scenario files are given.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// A scenario file (YAML: clusters, clients, load, RTT, prices, events, windows, policies,
    /// goals; see the README); may be given more than once.
    #[arg(long, value_name = "FILE")]
    pub scenario_file: Vec<PathBuf>,
    /// Print the file of the built-in scenario named by --scenario, a start for your own.
    #[arg(long)]
    pub print_scenario: bool,
    /// Seed of the random streams; a seed gives the same figures every time.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Print the results as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Draw the scenario's plot (ramp: p99 against load; outage: shares over time) as SVG;
    /// with several scenarios, each goes to FILE-<scenario>.svg.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Write the evaluation report as markdown, with its plots beside it.
    #[arg(long, value_name = "FILE.md")]
    pub report: Option<PathBuf>,
    /// Check the goals under each seed of a range (`1-20`) and print them, seed by seed.
    #[arg(long, value_name = "FIRST-LAST", value_parser = parse_seeds)]
    pub seeds: Option<std::ops::RangeInclusive<u64>>,
}

fn parse_seeds(text: &str) -> Result<std::ops::RangeInclusive<u64>, String> {
    let (first, last) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?}: use FIRST-LAST, e.g. 1-20"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("{s:?} is not a seed: use a whole number"))
    };
    let (first, last) = (number(first)?, number(last)?);
    if first > last {
        return Err(format!("{text:?}: the first seed is after the last"));
    }
    Ok(first..=last)
}

/// A replica's name where the pod's is not given: the host's, and the process id.
fn default_identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "aviator".to_owned());
    format!("{host}-{}", std::process::id())
}

//! `aviator demo`: Aviator against Lighthouse and plain round-robin on one machine, so a newcomer
//! can see it work.
//!
//! In one process, on 127.0.0.0/8, it starts three simulated clusters (real HTTP services behind
//! relays that delay their bytes by the cluster's network round trip, with their own service
//! time, concurrency limit and price), Aviator itself, and a load generator that resolves through
//! Aviator's DNS and sends real requests. A scripted scenario ramps the load, slows one cluster,
//! fails another and brings it back. It runs three times, on the same clusters and schedule:
//! under Aviator's `Optimized` mode, under Lighthouse's behaviour (the local cluster whenever it is
//! ready, else round-robin) and under plain round-robin; then Aviator is compared with both.

mod cluster;
mod load;
mod logs;
mod relay;
mod report;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use aviator_broker::clusterset;
use aviator_broker::state::ClusterId;
use aviator_optimizer::cost::price_per_request;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::app::serve;
use crate::cli::{DemoArgs, ServeArgs};
use cluster::{Profile, SimCluster};
use load::LoadGen;
use logs::LogFile;
use report::{Ratios, Summary};

/// The shortest run in which the scenario means anything, seconds. Its shortest phase, central's
/// outage, lasts 20 % of the run and must outlast twice what Aviator takes to react to it (three
/// failed probes, the first within 250 ms and the others a quarter of that apart, a 250 ms
/// tick, then the clients' 1 s DNS TTL: about 2 s); west's
/// slowdown lasts 25 % and must fill the 5 s in which its utilisation (averaged over 1 s) and
/// the probes' latency rise and the rule moves about half the gap (8 s migration time).
/// Both come to 20 s. Shorter, the figures measure the reaction times, not the policies.
pub const MIN_DURATION_S: u64 = 20;
/// The longest run accepted, seconds.
pub const MAX_DURATION_S: u64 = 3600;

/// Accepts a `--duration` the scenario means something in, or says why not.
pub fn check_duration(seconds: u64) -> Result<u64, String> {
    if seconds < MIN_DURATION_S {
        return Err(format!(
            "{seconds} s is too short: the demo needs at least {MIN_DURATION_S} s per policy. \
             Central's outage lasts 20 % of the run and must last at least twice the ~2 s \
             Aviator takes to notice it (three failed probes, a tick, the clients' 1 s DNS \
             TTL), and west's slowdown lasts 25 % and must fill the 5 s the rule takes to move \
             about half its traffic; shorter runs measure reaction times, not the policies"
        ));
    }
    if seconds > MAX_DURATION_S {
        return Err(format!(
            "{seconds} s is too long: at most {MAX_DURATION_S} s per policy"
        ));
    }
    Ok(seconds)
}

const NAME: &str = "app.demo.svc.clusterset.local.";
const REQUEST_BYTES: f64 = 1_000.0;
const RESPONSE_BYTES: f64 = 20_000.0;

fn profiles() -> Vec<Profile> {
    let ip = |last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    vec![
        // Local: no network to cross, but small.
        Profile {
            name: "east",
            ip: ip(11),
            rtt_ms: 0.5,
            service_ms: 10.0,
            slots: 2,
        },
        // AWS us-west-2: across the continent.
        Profile {
            name: "west",
            ip: ip(12),
            rtt_ms: 30.0,
            service_ms: 10.0,
            slots: 6,
        },
        // GCP us-central1: nearer, but another provider (internet egress).
        Profile {
            name: "central",
            ip: ip(13),
            rtt_ms: 15.0,
            service_ms: 10.0,
            slots: 6,
        },
    ]
}

/// What the scenario does to a cluster.
#[derive(Clone, Copy)]
enum Action {
    Slow(&'static str, f64),
    Fail(&'static str, bool),
}

/// The scripted events: (fraction of the run, description, action).
const EVENTS: [(f64, &str, Action); 4] = [
    (
        0.30,
        "west slows down (x3 service time)",
        Action::Slow("west", 3.0),
    ),
    (0.55, "west recovers", Action::Slow("west", 1.0)),
    (
        0.60,
        "central fails (HTTP 503)",
        Action::Fail("central", true),
    ),
    (0.80, "central recovers", Action::Fail("central", false)),
];

/// Requests per second at time `t` of a run lasting `d`: a ramp from 100 to 420 over the first
/// 40 %, then steady. 420 is 30 % of the three clusters' capacity together, but 210 % of the
/// local one's.
fn rate(t: f64, d: f64) -> f64 {
    let ramp = (t / (0.4 * d)).min(1.0);
    100.0 + 320.0 * ramp
}

fn clusterset_text(clusters: &[SimCluster], policy: &str) -> String {
    let mut text = String::from(
        "localCluster: east\ndns: { ttl: 1 }\nclusters:\n  - { id: east, provider: aws, region: us-east-1, zone: us-east-1a, prices: { egress: { intraZone: 0, interZone: 0.01, interRegion: 0.02, interContinent: 0.02, internet: 0.09 }, ingress: { intraZone: 0, interZone: 0.01, interRegion: 0, interContinent: 0, internet: 0 } } }\n  - { id: west, provider: aws, region: us-west-2, zone: us-west-2a, prices: { egress: { intraZone: 0, interZone: 0.01, interRegion: 0.02, interContinent: 0.02, internet: 0.09 }, ingress: { intraZone: 0, interZone: 0.01, interRegion: 0, interContinent: 0, internet: 0 } } }\n  - { id: central, provider: gcp, region: us-central1, zone: us-central1-a, prices: { egress: { intraZone: 0, interZone: 0.01, interRegion: 0.02, interContinent: 0.05, internet: 0.12 } } }\nservices:\n  - name: app\n    namespace: demo\n",
    );
    text.push_str(&format!("    policy: {policy}\n    exports:\n"));
    for c in clusters {
        text.push_str(&format!(
            "      - {{ cluster: {}, ips: [{}], readyEndpoints: {}, ports: [{{ name: http, port: {} }}] }}\n",
            c.profile.name,
            c.addr.ip(),
            c.profile.slots,
            c.addr.port()
        ));
    }
    text
}

/// A policy the scenario runs under.
struct Policy {
    label: &'static str,
    /// The clusterset's `policy:` for the service.
    yaml: String,
    /// Plain round-robin: the baseline whose p50 Aviator's is held to.
    plain_round_robin: bool,
}

fn policies() -> Vec<Policy> {
    vec![
        Policy {
            label: "Aviator (Optimized/Performance)",
            yaml: format!(
                "{{ mode: Optimized, objective: Performance, preferLocal: false, probePath: /work, requestBytes: {REQUEST_BYTES}, responseBytes: {RESPONSE_BYTES} }}"
            ),
            plain_round_robin: false,
        },
        // What Submariner's Lighthouse does: the local cluster answers whenever its export is
        // ready; round-robin over the others only when it is not. It does not probe.
        Policy {
            label: "Lighthouse (local first)",
            yaml: "{ mode: RoundRobin, preferLocal: true }".to_owned(),
            plain_round_robin: false,
        },
        Policy {
            label: "round-robin",
            yaml: "{ mode: RoundRobin, preferLocal: false }".to_owned(),
            plain_round_robin: true,
        },
    ]
}

#[derive(Serialize)]
struct Outcome {
    duration_s: u64,
    runs: Vec<Summary>,
    /// Aviator's figures over each baseline's.
    vs_baselines: Vec<Ratios>,
}

/// Runs the demo on a runtime of its own, whose logs go to a file rather than across the table.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    check_duration(args.duration).map_err(|why| anyhow::anyhow!("--duration {why}"))?;
    let path = std::env::temp_dir().join(format!("aviator-demo-{}.log", std::process::id()));
    let log = LogFile::create(&path)
        .with_context(|| format!("cannot create the demo's log file {}", path.display()))?;
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("demo".to_owned())
        .spawn(move || {
            let result = (|| {
                let runtime = log.runtime()?;
                let _to_file = log.on_this_thread();
                runtime.block_on(demo(&args))
            })();
            let _ = done.send((result, log));
        })
        .context("cannot start the demo's thread")?;
    let (result, log) = finished.await.context("the demo's thread panicked")?;
    match log.lines() {
        0 => {
            let _ = std::fs::remove_file(log.path());
        }
        n => eprintln!(
            "The demo and its Aviator instances logged {n} {} of warnings or errors to {}.",
            if n == 1 { "line" } else { "lines" },
            log.path().display()
        ),
    }
    result
}

async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let d = args.duration as f64;
    let stop_backends = CancellationToken::new();
    let mut clusters = Vec::new();
    for profile in profiles() {
        let name = profile.name;
        clusters.push(
            SimCluster::start(profile, stop_backends.clone())
                .await
                .with_context(|| format!("cannot start the simulated cluster {name}"))?,
        );
    }
    let names: Vec<&str> = clusters.iter().map(|c| c.profile.name).collect();
    let dir = std::env::temp_dir().join(format!("aviator-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    if let Some(limit) = open_file_limit().filter(|&limit| limit < PEAK_DESCRIPTORS) {
        say(
            args,
            &format!(
                "Note: this process may hold only {limit} files open (ulimit -n), and the \
                 Lighthouse run needs about {PEAK_DESCRIPTORS} at its peak: its figures will \
                 include sockets that could not be opened. Run `ulimit -n 8192` first for a \
                 fair comparison."
            ),
        );
    }
    let policies = policies();
    let prices = prices(&clusterset_text(&clusters, &policies[0].yaml))?;
    let mut runs = Vec::new();
    for policy in &policies {
        drain(&clusters).await;
        for c in &clusters {
            c.switches().set_slow(1.0);
            c.switches().set_failing(false);
        }
        let config = dir.join("clusterset.yaml");
        std::fs::write(&config, clusterset_text(&clusters, &policy.yaml))?;
        let shutdown = CancellationToken::new();
        let running = serve::start(demo_serve_args(config), shutdown.clone()).await?;
        let targets: HashMap<IpAddr, (usize, u16)> = clusters
            .iter()
            .enumerate()
            .map(|(i, c)| (c.addr.ip(), (i, c.addr.port())))
            .collect();
        let load = LoadGen::new(running.dns_addr, NAME, targets)?;
        say(
            args,
            &format!(
                "\n== {}: {} s, DNS on {}\n{}",
                policy.label,
                args.duration,
                running.dns_addr,
                report::header(&names)
            ),
        );
        let printer = tokio::spawn(live_table(
            load.clone(),
            d,
            names.iter().map(|s| s.to_string()).collect(),
            prices.clone(),
            args.json,
        ));
        let switches = clusters
            .iter()
            .map(|c| (c.profile.name, c.switches()))
            .collect();
        let script = tokio::spawn(scenario(d, switches));
        load.run(|t| rate(t, d), d).await;
        // It ends with the run's last second, before the load generator's drain does.
        let _ = printer.await;
        script.abort();
        let samples = load.samples.lock().map(|s| s.clone()).unwrap_or_default();
        runs.push(report::summarise(policy.label, &samples, &names, &prices));
        shutdown.cancel();
        running.wait().await?;
    }
    stop_backends.cancel();
    let _ = std::fs::remove_dir_all(&dir);

    let against: Vec<(Ratios, bool)> = runs
        .iter()
        .zip(&policies)
        .skip(1)
        .map(|(baseline, p)| (report::ratios(&runs[0], baseline), p.plain_round_robin))
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Outcome {
                duration_s: args.duration,
                runs,
                vs_baselines: against.into_iter().map(|(r, _)| r).collect(),
            })?
        );
    } else {
        println!("\n{}", report::table(&runs));
        print!("{}", report::verdict(&runs[0], &against));
    }
    Ok(())
}

/// Descriptors the demo holds open at its peak, in the Lighthouse run: about 840 requests in
/// flight to the overloaded local cluster (2 s until the clients time out, at 420 requests/s),
/// with four sockets each (the client's, the relay's two, the server's), and some to spare.
const PEAK_DESCRIPTORS: u64 = 4096;

/// The soft limit on open files, where the system says (Linux); `None` if unknown or unlimited.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Waits until no cluster has a request in flight, so a run does not inherit the queues the
/// one before it built (the clients' timeouts end them; this bounds the wait if one lingers).
async fn drain(clusters: &[SimCluster]) {
    let give_up = tokio::time::Instant::now() + 2 * load::TIMEOUT;
    while clusters.iter().any(|c| c.in_flight() > 0) {
        if tokio::time::Instant::now() >= give_up {
            tracing::warn!("requests are still in flight from the last run; starting anyway");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn demo_serve_args(config: std::path::PathBuf) -> ServeArgs {
    ServeArgs {
        config: Some(config),
        kubernetes: false,
        cluster_id: None,
        broker_namespace: "submariner-k8s-broker".to_owned(),
        submariner_namespace: "submariner-operator".to_owned(),
        identity: "demo".to_owned(),
        lease_s: 15,
        cluster_dns: None,
        namespace: "aviator".to_owned(),
        listen: "127.0.0.1:0".parse().expect("address"),
        admin: "127.0.0.1:0".parse().expect("address"),
        udp_payload: crate::wire::respond::DEFAULT_UDP_PAYLOAD,
        ns_addresses: Vec::new(),
        udp_threads: Some(1),
        max_config_bytes: aviator_broker::clusterset::DEFAULT_MAX_FILE_BYTES,
        tick_ms: 250,
        probe_interval_ms: 250,
        probe_timeout_ms: 1000,
        broker_dir: None,
        broker_stale_s: 30,
    }
}

/// Each cluster's price per request as seen from east, from the clusterset's own price tables.
fn prices(text: &str) -> anyhow::Result<Vec<f64>> {
    let set = clusterset::parse(text, Path::new("demo"))?;
    let local = set
        .cluster(&set.local_cluster)
        .context("no local cluster")?;
    let local_prices = local.prices.unwrap_or_default();
    profiles()
        .iter()
        .map(|profile| {
            let remote = set
                .cluster(&ClusterId::new(profile.name))
                .with_context(|| format!("no cluster {}", profile.name))?;
            Ok(price_per_request(
                (&local.location(), &local_prices),
                (&remote.location(), &remote.prices.unwrap_or_default()),
                REQUEST_BYTES,
                RESPONSE_BYTES,
            ))
        })
        .collect()
}

async fn scenario(d: f64, clusters: HashMap<&'static str, cluster::Switches>) {
    let started = tokio::time::Instant::now();
    for (at, _, action) in EVENTS {
        tokio::time::sleep_until(started + Duration::from_secs_f64(at * d)).await;
        match action {
            Action::Slow(name, factor) => {
                if let Some(c) = clusters.get(name) {
                    c.set_slow(factor);
                }
            }
            Action::Fail(name, failing) => {
                if let Some(c) = clusters.get(name) {
                    c.set_failing(failing);
                }
            }
        }
    }
}

async fn live_table(load: LoadGen, d: f64, names: Vec<String>, prices: Vec<f64>, json: bool) {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    // One line per second of the run, each printed once its second is over (an interval timer
    // that fires late catches up in a burst, and would print a second twice or skip one).
    for second in 1..=(d as u64) {
        let t = second as f64;
        tokio::time::sleep(Duration::from_secs_f64((t - load.elapsed()).max(0.0))).await;
        let samples = load.samples.lock().map(|s| s.clone()).unwrap_or_default();
        // The requests that ended in the last second: a timeout counts when it happens, not
        // two seconds late (or never, in a line printed before it).
        let window: Vec<&load::Sample> = samples
            .iter()
            .filter(|s| (t - 1.0..t).contains(&s.finished()))
            .collect();
        let events: Vec<&str> = EVENTS
            .iter()
            .filter(|(at, _, _)| at * d >= t - 1.0 && at * d < t)
            .map(|(_, e, _)| *e)
            .collect();
        let line = report::second(t, &window, &names, &prices, &events.join("; "));
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
}

fn say(args: &DemoArgs, text: &str) {
    if args.json {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

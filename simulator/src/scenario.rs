//! The scenarios: who runs where, how fast, at what price and distance, who sends how much, and
//! what goes wrong when. Each one is a headline experiment of reference §4 made concrete.
//!
//! Load is measured, as in Prequal, against *allocated* capacity: servers × the rate each is
//! provisioned for. Servers are faster than their allocation by different amounts (spare CPU on
//! their hosts, newer or older instance types), so true capacity differs from allocation, and
//! differently in each cluster. That difference is what separates policies that learn from
//! those that count pods.

use aviator_optimizer::cost::{PriceRow, PriceTable};
use serde::Serialize;

use crate::dns::DnsModel;
use crate::policy::PolicyKind;

/// One cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    pub name: &'static str,
    pub provider: &'static str,
    pub region: &'static str,
    pub zone: &'static str,
    #[serde(skip)]
    pub prices: PriceTable,
    /// Speed of each server behind its export (1 = the allocated rate's reference server);
    /// empty when the cluster does not export the service.
    pub speeds: Vec<f64>,
}

impl Site {
    pub fn exports(&self) -> bool {
        !self.speeds.is_empty()
    }
}

/// Client pods in one cluster and their part of the demand.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub site: usize,
    /// Fraction of the total demand sent from here.
    pub demand: f64,
    pub pods: usize,
    /// Nodes, each with its own caching resolver.
    pub nodes: usize,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServiceModel {
    /// Mean service time on a reference server, ms; lognormal.
    pub mean_work_ms: f64,
    pub work_cv: f64,
    pub request_bytes: f64,
    pub response_bytes: f64,
    /// The client gives up after this, s.
    pub timeout_s: f64,
    /// Requests each server may have queued before the export refuses more.
    pub queue_per_server: usize,
    /// Requests per second a server is allocated (1.0x load = the sum of these).
    pub allocated_rps_per_server: f64,
}

/// Something that happens at a given time. Sites are indices into [`Scenario::sites`].
#[derive(Debug, Clone, Copy, Serialize)]
pub enum Change {
    /// Demand becomes this multiple of allocated capacity.
    Load(f64),
    /// The site's export stops answering (its clients, if any, keep running).
    Down(usize),
    Up(usize),
    /// The site's servers run at this fraction of their speed (an antagonist; 1 ends it).
    Slowdown(usize, f64),
    /// Everything between the two sites is black-holed, both ways: requests, responses and
    /// probes. The control plane does not see it (the gateways still say connected); clients
    /// find out by timing out.
    Partition(usize, usize),
    /// A partition between the two sites ends.
    Heal(usize, usize),
    /// The round trip between the two sites becomes this, ms.
    Rtt(usize, usize, f64),
    /// The site's transfer prices become these (what requests are charged from now on).
    Prices(usize, PriceTable),
    /// The site's export runs this many servers from now on; added ones run at this speed.
    /// A removed server finishes the request it is serving, then leaves (a terminating pod's
    /// grace period), and takes no more.
    Endpoints(usize, usize, f64),
}

/// A stretch of time the metrics are reported for.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub label: String,
    pub start: f64,
    pub end: f64,
    /// The load multiplier held during the window, when it is one step of a ramp.
    pub load: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub sites: Vec<Site>,
    /// Round trip between sites, ms (symmetric).
    pub rtt_ms: Vec<Vec<f64>>,
    pub groups: Vec<Group>,
    pub service: ServiceModel,
    pub dns: DnsModel,
    /// Time for the control plane (readiness, gateway status, Lighthouse) to see a failure or a
    /// recovery, s.
    pub control_plane_delay_s: f64,
    /// The latency SLO given to Cost and Mixed, ms; the goal holds their p99 to it.
    pub slo_ms: f64,
    pub schedule: Vec<(f64, Change)>,
    pub duration_s: f64,
    pub windows: Vec<Window>,
    /// From here on the system counts as steady, for flapping and starvation.
    pub steady_from_s: f64,
    /// The load an operator plans for, and so declares as each cluster's `demandRps`, where
    /// Aviator is not told its measured demand.
    pub planned_load: f64,
    pub policies: Vec<PolicyKind>,
}

impl Scenario {
    /// Requests per second at 1.0x load: the sum of the servers' allocations.
    pub fn allocated_rps(&self) -> f64 {
        let servers: usize = self.sites.iter().map(|s| s.speeds.len()).sum();
        servers as f64 * self.service.allocated_rps_per_server
    }

    pub fn exporters(&self) -> Vec<usize> {
        (0..self.sites.len())
            .filter(|&i| self.sites[i].exports())
            .collect()
    }
}

pub const NAMES: [&str; 5] = ["ramp", "outage", "antagonist", "cost", "herd"];

/// The scenario called `name`.
pub fn by_name(name: &str) -> Option<Scenario> {
    Some(match name {
        "ramp" => ramp(),
        "outage" => outage(),
        "antagonist" => antagonist(),
        "cost" => cost(),
        "herd" => herd(),
        _ => return None,
    })
}

fn aws() -> PriceTable {
    // shared/data/egress-prices.yaml: inter-zone is billed out and in, inter-region at source.
    PriceTable {
        egress: PriceRow {
            intra_zone: 0.0,
            inter_zone: 0.01,
            inter_region: 0.02,
            inter_continent: 0.02,
            internet: 0.09,
        },
        ingress: PriceRow {
            inter_zone: 0.01,
            ..PriceRow::default()
        },
    }
}

fn gcp() -> PriceTable {
    PriceTable {
        egress: PriceRow {
            intra_zone: 0.0,
            inter_zone: 0.01,
            inter_region: 0.02,
            inter_continent: 0.05,
            internet: 0.12,
        },
        ingress: PriceRow::default(),
    }
}

/// `n` servers around `speed`, ±15 %: no two pods are quite alike.
fn servers(n: usize, speed: f64) -> Vec<f64> {
    const SPREAD: [f64; 4] = [0.85, 1.05, 0.95, 1.15];
    (0..n).map(|i| speed * SPREAD[i % SPREAD.len()]).collect()
}

fn site(
    name: &'static str,
    provider: &'static str,
    region: &'static str,
    zone: &'static str,
    speeds: Vec<f64>,
) -> Site {
    let prices = if provider == "gcp" { gcp() } else { aws() };
    Site {
        name,
        provider,
        region,
        zone,
        prices,
        speeds,
    }
}

/// Round trips from a rule: same site, same region, else by the pair's listed figure.
fn rtt_matrix(sites: &[Site], between_regions: &[(&str, &str, f64)]) -> Vec<Vec<f64>> {
    let n = sites.len();
    let mut m = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..n {
            let (a, b) = (&sites[i], &sites[j]);
            m[i][j] = if i == j {
                0.2
            } else if a.region == b.region && a.provider == b.provider {
                1.0
            } else {
                between_regions
                    .iter()
                    .find(|(x, y, _)| {
                        (*x == a.region && *y == b.region) || (*x == b.region && *y == a.region)
                    })
                    .map_or(100.0, |(_, _, ms)| *ms)
            };
        }
    }
    m
}

const REGIONS: [(&str, &str, f64); 4] = [
    ("us-east-1", "us-west-2", 62.0),
    ("us-east-1", "eu-west-1", 72.0),
    ("us-west-2", "eu-west-1", 130.0),
    ("us-east-1", "us-east4", 4.0),
];

fn service() -> ServiceModel {
    ServiceModel {
        mean_work_ms: 20.0,
        work_cv: 1.0,
        request_bytes: 2_000.0,
        response_bytes: 20_000.0,
        timeout_s: 1.0,
        queue_per_server: 16,
        allocated_rps_per_server: 25.0,
    }
}

fn dns() -> DnsModel {
    DnsModel {
        ttl_s: 5.0,
        resolver_min_ttl_s: 5.0,
        app_cache_s: 0.0,
        connections_per_pod: 4,
        connection_age_s: 10.0,
    }
}

fn group(site: usize, demand: f64) -> Group {
    Group {
        site,
        demand,
        pods: 24,
        nodes: 8,
    }
}

fn whole(label: &str, start: f64, end: f64) -> Window {
    Window {
        label: label.to_owned(),
        start,
        end,
        load: None,
    }
}

/// Prequal's load ramp: 0.5x to 1.5x of allocated capacity in steps of 0.1, each held 40 s and
/// measured after 10 s of settling. Four clusters in three regions; the second zone of
/// us-east-1 runs older, slower instances, and its clients send more than it can serve.
fn ramp() -> Scenario {
    let sites = vec![
        site("use1-a", "aws", "us-east-1", "use1-az1", servers(12, 1.0)),
        site("use1-b", "aws", "us-east-1", "use1-az2", servers(8, 0.7)),
        site("usw2-a", "aws", "us-west-2", "usw2-az1", servers(12, 1.2)),
        site("euw1-a", "aws", "eu-west-1", "euw1-az1", servers(8, 1.0)),
    ];
    let rtt_ms = rtt_matrix(&sites, &REGIONS);
    let step_s = 40.0;
    let loads: Vec<f64> = (0..11).map(|i| 0.5 + 0.1 * f64::from(i)).collect();
    let schedule = loads
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as f64 * step_s, Change::Load(l)))
        .collect();
    let windows = loads
        .iter()
        .enumerate()
        .map(|(i, &l)| Window {
            label: format!("{l:.1}x"),
            start: i as f64 * step_s + 10.0,
            end: (i + 1) as f64 * step_s,
            load: Some(l),
        })
        .collect();
    Scenario {
        name: "ramp",
        about: "load from 0.5x to 1.5x of allocated capacity; 4 clusters in 3 regions, one zone slow and over-subscribed by its own clients",
        sites,
        rtt_ms,
        groups: vec![
            group(0, 0.40),
            group(1, 0.30),
            group(2, 0.15),
            group(3, 0.15),
        ],
        service: service(),
        dns: dns(),
        control_plane_delay_s: 10.0,
        slo_ms: 250.0,
        schedule,
        duration_s: step_s * loads.len() as f64,
        windows,
        steady_from_s: 10.0,
        planned_load: 1.0,
        policies: PolicyKind::ALL.to_vec(),
    }
}

/// A remote cluster fails for 90 s and comes back. Clients in two zones of us-east-1, exports
/// there and in us-west-2.
fn outage() -> Scenario {
    let sites = vec![
        site("use1-a", "aws", "us-east-1", "use1-az1", servers(10, 1.0)),
        site("use1-b", "aws", "us-east-1", "use1-az2", servers(10, 1.0)),
        site("usw2-a", "aws", "us-west-2", "usw2-az1", servers(10, 1.0)),
    ];
    let rtt_ms = rtt_matrix(&sites, &REGIONS);
    Scenario {
        name: "outage",
        about: "usw2-a fails at 60 s and recovers at 150 s; load 1.0x",
        sites,
        rtt_ms,
        groups: vec![group(0, 0.5), group(1, 0.5)],
        service: service(),
        dns: dns(),
        control_plane_delay_s: 10.0,
        slo_ms: 250.0,
        schedule: vec![
            (0.0, Change::Load(1.0)),
            (60.0, Change::Down(2)),
            (150.0, Change::Up(2)),
        ],
        duration_s: 240.0,
        windows: vec![
            whole("all", 10.0, 240.0),
            whole("before", 10.0, 60.0),
            whole("outage", 60.0, 150.0),
            whole("after", 150.0, 240.0),
        ],
        steady_from_s: 10.0,
        planned_load: 1.0,
        policies: PolicyKind::ALL.to_vec(),
    }
}

/// One cluster's capacity halves (a noisy neighbour), then the trouble moves to another.
fn antagonist() -> Scenario {
    let sites = vec![
        site("use1-a", "aws", "us-east-1", "use1-az1", servers(10, 1.0)),
        site("use1-b", "aws", "us-east-1", "use1-az2", servers(10, 1.0)),
        site("use1-c", "aws", "us-east-1", "use1-az3", servers(10, 1.0)),
    ];
    let rtt_ms = rtt_matrix(&sites, &REGIONS);
    Scenario {
        name: "antagonist",
        about: "use1-a runs at half speed from 60 s to 150 s, then use1-b until 240 s; load 1.2x",
        sites,
        rtt_ms,
        groups: vec![
            group(0, 1.0 / 3.0),
            group(1, 1.0 / 3.0),
            group(2, 1.0 / 3.0),
        ],
        service: service(),
        dns: dns(),
        control_plane_delay_s: 10.0,
        slo_ms: 250.0,
        schedule: vec![
            (0.0, Change::Load(1.2)),
            (60.0, Change::Slowdown(0, 0.5)),
            (150.0, Change::Slowdown(0, 1.0)),
            (150.0, Change::Slowdown(1, 0.5)),
            (240.0, Change::Slowdown(1, 1.0)),
        ],
        duration_s: 300.0,
        windows: vec![
            whole("all", 10.0, 300.0),
            whole("a slow", 60.0, 150.0),
            whole("b slow", 150.0, 240.0),
        ],
        steady_from_s: 10.0,
        planned_load: 1.2,
        policies: PolicyKind::ALL.to_vec(),
    }
}

/// A cheap far cluster against an expensive near one: the client in AWS us-east-1, the near
/// export in GCP us-east4 (4 ms, but internet-priced egress), the far one in AWS us-west-2.
fn cost() -> Scenario {
    let sites = vec![
        site("front", "aws", "us-east-1", "use1-az1", Vec::new()),
        site("gcp-use4", "gcp", "us-east4", "use4-a", servers(16, 1.0)),
        site("usw2-a", "aws", "us-west-2", "usw2-az1", servers(16, 1.0)),
    ];
    let rtt_ms = rtt_matrix(&sites, &REGIONS);
    Scenario {
        name: "cost",
        about: "one client cluster; near export 4 ms away at internet egress, far export 62 ms away at inter-region prices; load 0.6x",
        sites,
        rtt_ms,
        groups: vec![group(0, 1.0)],
        service: ServiceModel {
            response_bytes: 100_000.0,
            ..service()
        },
        dns: dns(),
        control_plane_delay_s: 10.0,
        slo_ms: 250.0,
        schedule: vec![(0.0, Change::Load(0.6))],
        duration_s: 180.0,
        windows: vec![whole("all", 20.0, 180.0)],
        steady_from_s: 20.0,
        planned_load: 0.6,
        policies: PolicyKind::ALL.to_vec(),
    }
}

/// Eight client clusters, each running its own Aviator, against the same three exports.
fn herd() -> Scenario {
    let mut sites = vec![
        site("use1-x", "aws", "us-east-1", "use1-az1", servers(12, 1.0)),
        site("use1-y", "aws", "us-east-1", "use1-az2", servers(12, 0.8)),
        site("usw2-z", "aws", "us-west-2", "usw2-az1", servers(12, 1.2)),
    ];
    const CLIENTS: [(&str, &str, &str); 8] = [
        ("c1", "us-east-1", "use1-az1"),
        ("c2", "us-east-1", "use1-az2"),
        ("c3", "us-east-1", "use1-az3"),
        ("c4", "us-east-1", "use1-az4"),
        ("c5", "us-east-1", "use1-az5"),
        ("c6", "us-west-2", "usw2-az1"),
        ("c7", "us-west-2", "usw2-az2"),
        ("c8", "us-west-2", "usw2-az3"),
    ];
    for (name, region, zone) in CLIENTS {
        sites.push(site(name, "aws", region, zone, Vec::new()));
    }
    let rtt_ms = rtt_matrix(&sites, &REGIONS);
    let groups = (3..11)
        .map(|s| Group {
            pods: 12,
            nodes: 4,
            ..group(s, 1.0 / 8.0)
        })
        .collect();
    Scenario {
        name: "herd",
        about: "8 client clusters, each deciding alone, share 3 exports; load 1.3x; all start cold together, measured once steady (after 120 s)",
        sites,
        rtt_ms,
        groups,
        service: service(),
        dns: dns(),
        control_plane_delay_s: 10.0,
        slo_ms: 250.0,
        schedule: vec![(0.0, Change::Load(1.3))],
        duration_s: 360.0,
        // All eight start cold at once; the first two minutes are their convergence.
        windows: vec![whole("all", 120.0, 360.0), whole("start-up", 0.0, 120.0)],
        steady_from_s: 120.0,
        planned_load: 1.3,
        policies: PolicyKind::ALL.to_vec(),
    }
}

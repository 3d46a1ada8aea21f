//! The event loop: one run of one policy through one scenario. Arrivals, network delays, the
//! stations, probes, control-loop ticks, load reports and the scenario's changes are events on
//! one timeline; the policy is consulted where the real one would be.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use aviator_optimizer::LoadReport;
use aviator_optimizer::cost::{Location, PriceTable, price_per_request};

use crate::dns::ClientSide;
use crate::metrics::{Outcome, Recorder, Summary};
use crate::policy::{Context, Env, Policy, PolicyKind, ProbeSample};
use crate::queue::{Admit, Job, Station};
use crate::rng::{self, Purpose, Stream};
use crate::scenario::{Change, Scenario};

/// Probe timeout, as production's default.
const PROBE_TIMEOUT_S: f64 = 1.0;
/// How often the prober's scheduler looks for due probes, as production's.
const PROBE_SCHEDULER_S: f64 = 0.05;
/// Spread of probe round trips around the true one.
const PROBE_NOISE_CV: f64 = 0.1;
/// Demand is measured over this many seconds.
const DEMAND_WINDOW_S: usize = 10;
/// An exporter writes its load report to the broker this often, ±25 % jitter, as production's
/// broker round does; each report covers the time since the one before, and readers see the
/// last one written, with its age.
const REPORT_INTERVAL_S: f64 = 2.0;

#[derive(Debug, Clone, Copy)]
enum Event {
    Arrival {
        group: usize,
    },
    AtSite {
        id: u32,
    },
    Done {
        export: usize,
        server: usize,
        epoch: u32,
    },
    /// The client noticed a failure: a mesh policy learns of it; a connection is replaced.
    Failed {
        id: u32,
    },
    ProbeFailed {
        group: usize,
        export: usize,
    },
    ProbeAnswered {
        group: usize,
        export: usize,
        sample: ProbeSample,
    },
    ProbeScheduler {
        group: usize,
    },
    /// A load probe reached its export (see the section on load probes).
    LoadProbeAtSite {
        group: usize,
        export: usize,
        sent: f64,
        rtt_ms: f64,
    },
    Tick {
        group: usize,
    },
    /// Every second: load reports, shares, demand.
    Second,
    /// An exporter writes its load report to the broker.
    Report {
        export: usize,
    },
    Change {
        index: usize,
    },
    ControlPlane {
        export: usize,
        ready: bool,
    },
}

struct Scheduled {
    at: f64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed, so the heap pops the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.total_cmp(&self.at).then(other.seq.cmp(&self.seq))
    }
}

/// A request in flight: a client's, or a probe's.
#[derive(Debug, Clone, Copy)]
struct Request {
    group: usize,
    export: usize,
    sent: f64,
    work_ms: f64,
    deadline: f64,
    /// Connection slot, for lookup-based policies.
    slot: Option<usize>,
    /// For a probe: when its GET began and its TCP round trip, ms.
    probe: Option<(f64, f64)>,
    in_flight_at_arrival: f64,
    /// When it reached the export, for the in-cluster latency the exporter reports.
    arrived: f64,
}

struct Export {
    site: usize,
    station: Station,
    down: bool,
    /// Bumped when the station fails, so its pending completions are ignored.
    epoch: u32,
    /// What the control plane believes.
    ready: bool,
    busy_reported: f64,
    utilization: f64,
    /// What the exporter has seen since its last report.
    window: ReportWindow,
    /// Its last report on the broker and when it was measured; `None` before the first.
    published: Option<(LoadReport, f64)>,
    /// Requests/s it received over the window of its last report (an ORCA report's qps).
    published_rps: Option<f64>,
    /// Its recent completions, for the latency a load probe reports.
    recent: RecentLatency,
}

/// Busy fraction from which an exporter counts itself saturated and reports its offered load.
const SATURATED_BUSY: f64 = 0.95;

/// An exporter's own view of its export over the last report window: what it measures inside
/// its cluster (busy time, in-cluster latency, refusals), as production's exporter side does.
#[derive(Debug, Clone, Copy, Default)]
struct ReportWindow {
    busy_at_start: f64,
    started: f64,
    arrivals: u32,
    refused: u32,
    completed: u32,
    sojourn_ms: f64,
}

impl ReportWindow {
    /// The report for the window ending at `now`, on `servers` servers whose busy time so far
    /// is `busy_s`.
    fn report(&self, now: f64, busy_s: f64, servers: usize) -> LoadReport {
        let span = (now - self.started).max(1e-9);
        let busy = ((busy_s - self.busy_at_start) / span / servers as f64).min(1.0);
        // Saturated, the busy fraction stops at 1: what arrived over what was served says how
        // far beyond capacity the demand stands (arrivals times the mean service time, over
        // the capacity). Below saturation the busy fraction is the exact figure, and the count
        // of arrivals over completions only noise.
        let offered = if busy >= SATURATED_BUSY {
            busy * (f64::from(self.arrivals) / f64::from(self.completed.max(1))).max(1.0)
        } else {
            busy
        };
        LoadReport {
            utilization: Some(offered),
            latency_ms: (self.completed > 0).then(|| self.sojourn_ms / f64::from(self.completed)),
            error_rate: (self.arrivals > 0)
                .then(|| f64::from(self.refused) / f64::from(self.arrivals)),
            age_s: 0.0,
        }
    }

    /// Requests/s that arrived over the window ending at `now`.
    fn rps(&self, now: f64) -> f64 {
        f64::from(self.arrivals) / (now - self.started).max(1e-9)
    }
}

// ---- Load probes (Prequal's) ------------------------------------------------------------
//
// A load probe asks an export for its requests in flight and its latency. The server answers
// from counters it keeps anyway, so the probe does not queue behind real work or occupy a
// server: it reaches the export after half the round trip, reads the figures there, and is
// back after the other half. A black-holed export never answers, and the prober gives up at its
// timeout. Only policies whose `PolicyKind::load_probes` is true get these instead of the HTTP
// GET probes.

/// Completions an export keeps for its latency estimate, and how long it keeps them, s.
const RECENT_COMPLETIONS: usize = 64;
const RECENT_WINDOW_S: f64 = 1.0;
/// The estimate is the median of this many of them, those that arrived nearest the current RIF.
const NEAREST_COMPLETIONS: usize = 16;

/// An export's recent completions: (when it finished, requests in flight per server when it
/// arrived, its time in the export in ms), oldest first.
#[derive(Debug, Clone, Default)]
struct RecentLatency {
    samples: std::collections::VecDeque<(f64, f64, f64)>,
}

impl RecentLatency {
    fn record(&mut self, now: f64, rif: f64, sojourn_ms: f64) {
        if self.samples.len() == RECENT_COMPLETIONS {
            self.samples.pop_front();
        }
        self.samples.push_back((now, rif, sojourn_ms));
    }

    /// The latency a request arriving at `now` at `rif` (per server) can expect, as Prequal's
    /// servers estimate it: the median time of recent requests that arrived at a similar RIF
    /// (the nearest ones, the newer first among equals). `None` without a completion in the
    /// last second: an idle export must not be judged by what it did under load long ago.
    fn estimate(&self, now: f64, rif: f64) -> Option<f64> {
        let mut near: Vec<(f64, f64, f64)> = self
            .samples
            .iter()
            .filter(|s| now - s.0 <= RECENT_WINDOW_S)
            .map(|&(at, r, ms)| ((r - rif).abs(), -at, ms))
            .collect();
        if near.is_empty() {
            return None;
        }
        near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut nearest: Vec<f64> = near.iter().take(NEAREST_COMPLETIONS).map(|s| s.2).collect();
        nearest.sort_by(f64::total_cmp);
        Some(nearest[nearest.len() / 2])
    }
}

/// What the control plane and load reports say, owned, to lend to the policies as an [`Env`].
struct EnvParts {
    ready: Vec<bool>,
    utilization: Vec<f64>,
    reports: Vec<Option<LoadReport>>,
    served_rps: Vec<Option<f64>>,
}

impl EnvParts {
    fn env(&self, demand_rps: f64) -> Env<'_> {
        Env {
            ready: &self.ready,
            demand_rps,
            utilization: &self.utilization,
            reports: &self.reports,
            served_rps: &self.served_rps,
        }
    }
}

struct Group {
    policy: Box<dyn Policy>,
    client: ClientSide,
    /// Requests sent in each of the last seconds, for the demand estimate.
    recent: Vec<u32>,
    demand_rps: f64,
}

pub struct Engine<'a> {
    scenario: &'a Scenario,
    kind: PolicyKind,
    now: f64,
    seq: u64,
    heap: BinaryHeap<Scheduled>,
    exports: Vec<Export>,
    groups: Vec<Group>,
    requests: Vec<Request>,
    free: Vec<u32>,
    /// Price of a request from group g to export e, USD.
    price: Vec<Vec<f64>>,
    /// Each site's transfer prices now (a price change replaces one).
    prices: Vec<PriceTable>,
    /// Round trip between sites now, ms (an RTT change replaces a pair).
    rtt: Vec<Vec<f64>>,
    /// Pairs of sites between which everything is black-holed (a partition).
    cut: Vec<Vec<bool>>,
    load: f64,
    recorder: Recorder,
    arrivals: Stream,
    work: Stream,
    probes: Stream,
    connections: Stream,
    reports: Stream,
}

/// Runs `kind` through `scenario` under `seed`.
pub fn run(scenario: &Scenario, kind: PolicyKind, seed: u64) -> Summary {
    let mut engine = Engine::new(scenario, kind, seed);
    engine.run();
    engine.recorder.summarize(scenario)
}

/// The price of a request from each group to each export, under `prices` per site.
fn price_table(scenario: &Scenario, sites: &[usize], prices: &[PriceTable]) -> Vec<Vec<f64>> {
    let location = |s: usize| {
        let site = &scenario.sites[s];
        Location {
            provider: Some(site.provider),
            region: Some(site.region),
            zone: Some(site.zone),
        }
    };
    scenario
        .groups
        .iter()
        .map(|g| {
            sites
                .iter()
                .map(|&s| {
                    price_per_request(
                        (&location(g.site), &prices[g.site]),
                        (&location(s), &prices[s]),
                        scenario.service.request_bytes,
                        scenario.service.response_bytes,
                    )
                })
                .collect()
        })
        .collect()
}

impl<'a> Engine<'a> {
    fn new(scenario: &'a Scenario, kind: PolicyKind, seed: u64) -> Self {
        let sites = scenario.exporters();
        let stream = |p| rng::stream(seed, &scenario.name, p);
        let mut policy_rng = stream(Purpose::Policy);
        let exports: Vec<Export> = sites
            .iter()
            .map(|&s| {
                let speeds = scenario.sites[s].speeds.clone();
                let limit = speeds.len() * scenario.service.queue_per_server;
                Export {
                    site: s,
                    station: Station::new(speeds, limit),
                    down: false,
                    epoch: 0,
                    ready: true,
                    busy_reported: 0.0,
                    utilization: 0.0,
                    window: ReportWindow::default(),
                    published: None,
                    published_rps: None,
                    recent: RecentLatency::default(),
                }
            })
            .collect();
        let groups = (0..scenario.groups.len())
            .map(|g| {
                let spec = &scenario.groups[g];
                let context = Context {
                    scenario,
                    group: g,
                    exports: sites.clone(),
                    rng: rng::stream(rng::word(&mut policy_rng), &scenario.name, Purpose::Policy),
                };
                Group {
                    policy: kind.build(context),
                    client: ClientSide::new(scenario.dns, spec.pods, spec.nodes),
                    recent: vec![0; DEMAND_WINDOW_S],
                    demand_rps: 0.0,
                }
            })
            .collect();
        let prices: Vec<PriceTable> = scenario.sites.iter().map(|s| s.prices).collect();
        let price = price_table(scenario, &sites, &prices);
        let n = scenario.sites.len();
        Self {
            scenario,
            kind,
            now: 0.0,
            seq: 0,
            heap: BinaryHeap::new(),
            exports,
            groups,
            requests: Vec::new(),
            free: Vec::new(),
            price,
            prices,
            rtt: scenario.rtt_ms.clone(),
            cut: vec![vec![false; n]; n],
            load: 0.0,
            recorder: Recorder::new(scenario, sites.len()),
            arrivals: stream(Purpose::Arrivals),
            work: stream(Purpose::Work),
            probes: stream(Purpose::Probes),
            connections: stream(Purpose::Connections),
            reports: stream(Purpose::Reports),
        }
    }

    fn at(&mut self, at: f64, event: Event) {
        self.seq += 1;
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            event,
        });
    }

    fn run(&mut self) {
        for (index, (t, _)) in self.scenario.schedule.iter().enumerate() {
            self.at(*t, Event::Change { index });
        }
        for group in 0..self.groups.len() {
            // Each cluster's loop starts at its own moment, as real ones do.
            let phase = rng::unit(&mut self.probes);
            self.at(phase, Event::Tick { group });
            self.at(phase * PROBE_SCHEDULER_S, Event::ProbeScheduler { group });
            self.at(0.0, Event::Arrival { group });
        }
        for export in 0..self.exports.len() {
            let phase = rng::unit(&mut self.reports) * REPORT_INTERVAL_S;
            self.at(phase, Event::Report { export });
        }
        self.at(1.0, Event::Second);
        while let Some(Scheduled { at, event, .. }) = self.heap.pop() {
            if at > self.scenario.duration_s {
                break;
            }
            self.now = at;
            self.handle(event);
        }
    }

    fn env_parts(&self) -> EnvParts {
        EnvParts {
            ready: self.exports.iter().map(|e| e.ready).collect(),
            utilization: self.exports.iter().map(|e| e.utilization).collect(),
            reports: self
                .exports
                .iter()
                .map(|e| {
                    e.published.map(|(report, at)| LoadReport {
                        age_s: self.now - at,
                        ..report
                    })
                })
                .collect(),
            served_rps: self.exports.iter().map(|e| e.published_rps).collect(),
        }
    }

    /// Export `export` writes its report for the window ending now (a dead exporter writes
    /// nothing, so its last report ages out) and opens the next window.
    fn report(&mut self, export: usize) {
        let now = self.now;
        let e = &mut self.exports[export];
        let busy = e.station.busy_s();
        if !e.down {
            e.published = Some((e.window.report(now, busy, e.station.servers()), now));
            e.published_rps = Some(e.window.rps(now));
        }
        e.window = ReportWindow {
            busy_at_start: busy,
            started: now,
            ..ReportWindow::default()
        };
        let jitter = 0.75 + 0.5 * rng::unit(&mut self.reports);
        self.at(now + REPORT_INTERVAL_S * jitter, Event::Report { export });
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrival { group } => self.arrival(group),
            Event::AtSite { id } => self.at_site(id),
            Event::Done {
                export,
                server,
                epoch,
            } => {
                if self.exports[export].epoch == epoch {
                    self.done(export, server);
                }
            }
            Event::Failed { id } => {
                let r = self.requests[id as usize];
                let g = &mut self.groups[r.group];
                g.policy.observe(self.now, r.export, false);
                if let Some(slot) = r.slot {
                    g.client.broken(slot, r.export);
                }
                self.free.push(id);
            }
            Event::ProbeFailed { group, export } => {
                let sample = ProbeSample {
                    ok: false,
                    rtt_ms: 0.0,
                    get_ms: 0.0,
                    in_flight_per_server: 0.0,
                    latency_ms: None,
                };
                self.groups[group]
                    .policy
                    .probe_result(self.now, export, sample);
            }
            Event::ProbeAnswered {
                group,
                export,
                sample,
            } => self.groups[group]
                .policy
                .probe_result(self.now, export, sample),
            Event::ProbeScheduler { group } => {
                let due = self.groups[group].policy.due_probes(self.now);
                for export in due {
                    if self.kind.load_probes() {
                        self.load_probe(group, export);
                    } else {
                        self.probe(group, export);
                    }
                }
                self.at(
                    self.now + PROBE_SCHEDULER_S,
                    Event::ProbeScheduler { group },
                );
            }
            Event::Tick { group } => {
                let parts = self.env_parts();
                let g = &mut self.groups[group];
                let env = parts.env(g.demand_rps);
                g.policy.tick(self.now, &env);
                self.at(self.now + 1.0, Event::Tick { group });
            }
            Event::LoadProbeAtSite {
                group,
                export,
                sent,
                rtt_ms,
            } => self.load_probe_at_site(group, export, sent, rtt_ms),
            Event::Second => self.second(),
            Event::Report { export } => self.report(export),
            Event::Change { index } => self.change(self.scenario.schedule[index].1),
            Event::ControlPlane { export, ready } => self.exports[export].ready = ready,
        }
    }

    fn alloc(&mut self, request: Request) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.requests[id as usize] = request;
                id
            }
            None => {
                self.requests.push(request);
                (self.requests.len() - 1) as u32
            }
        }
    }

    fn arrival(&mut self, group: usize) {
        let now = self.now;
        let rate = self.load * self.scenario.allocated_rps() * self.scenario.groups[group].demand;
        // Drawn in the same order whatever the policy: common random numbers.
        let gap = if rate > 0.0 {
            rng::exponential(&mut self.arrivals, 1.0 / rate)
        } else {
            1.0
        };
        let slot = rng::index(&mut self.arrivals, self.groups[group].client.slots());
        let service = self.scenario.service;
        let work_ms = rng::lognormal(&mut self.work, service.mean_work_ms, service.work_cv);
        self.at(now + gap, Event::Arrival { group });
        if rate <= 0.0 {
            return;
        }
        let parts = self.env_parts();
        let g = &mut self.groups[group];
        let env = parts.env(g.demand_rps);
        let (export, handshake, slot) = if self.kind.per_request() {
            // A sidecar holds warm connections to every export.
            (g.policy.answer(now, &env), false, None)
        } else {
            let age_unit = rng::unit(&mut self.connections);
            let policy = &mut g.policy;
            let (export, new) = g
                .client
                .connection(slot, now, age_unit, || policy.answer(now, &env));
            (export, new, Some(slot))
        };
        g.recent[0] += 1;
        self.recorder.sent(now, group, export);
        let rtt_s = self.rtt_ms(group, export) / 1e3;
        let depart = now + if handshake { rtt_s } else { 0.0 };
        let id = self.alloc(Request {
            group,
            export,
            sent: now,
            work_ms,
            deadline: now + service.timeout_s,
            slot,
            probe: None,
            in_flight_at_arrival: 0.0,
            arrived: 0.0,
        });
        self.at(depart + rtt_s / 2.0, Event::AtSite { id });
    }

    fn rtt_ms(&self, group: usize, export: usize) -> f64 {
        self.rtt[self.scenario.groups[group].site][self.exports[export].site]
    }

    /// Whether a partition black-holes everything between `group` and `export`.
    fn cut(&self, group: usize, export: usize) -> bool {
        self.cut[self.scenario.groups[group].site][self.exports[export].site]
    }

    fn probe(&mut self, group: usize, export: usize) {
        let now = self.now;
        let rtt_ms = self.rtt_ms(group, export);
        if self.exports[export].down || self.cut(group, export) {
            self.at(now + PROBE_TIMEOUT_S, Event::ProbeFailed { group, export });
            return;
        }
        let measured_rtt = rng::lognormal(&mut self.probes, rtt_ms, PROBE_NOISE_CV);
        let service = &self.scenario.service;
        let work_ms = rng::lognormal(&mut self.probes, service.mean_work_ms, service.work_cv);
        // The GET follows the handshake on a kept-alive connection.
        let get_start = now + measured_rtt / 1e3;
        let id = self.alloc(Request {
            group,
            export,
            sent: get_start,
            work_ms,
            deadline: get_start + PROBE_TIMEOUT_S,
            slot: None,
            probe: Some((get_start, measured_rtt)),
            in_flight_at_arrival: 0.0,
            arrived: 0.0,
        });
        self.at(get_start + rtt_ms / 2e3, Event::AtSite { id });
    }

    /// Sends a load probe from `group` to `export` (see the section on load probes above).
    fn load_probe(&mut self, group: usize, export: usize) {
        let now = self.now;
        let rtt_ms = self.rtt_ms(group, export);
        let measured_rtt = rng::lognormal(&mut self.probes, rtt_ms, PROBE_NOISE_CV);
        self.at(
            now + rtt_ms / 2e3,
            Event::LoadProbeAtSite {
                group,
                export,
                sent: now,
                rtt_ms: measured_rtt,
            },
        );
    }

    fn load_probe_at_site(&mut self, group: usize, export: usize, sent: f64, rtt_ms: f64) {
        let e = &self.exports[export];
        if e.down {
            self.at(sent + PROBE_TIMEOUT_S, Event::ProbeFailed { group, export });
            return;
        }
        let rif = e.station.in_flight() as f64 / e.station.servers() as f64;
        let latency_ms = e.recent.estimate(self.now, rif);
        let back = self.now + self.rtt_ms(group, export) / 2e3;
        let sample = ProbeSample {
            ok: true,
            rtt_ms,
            get_ms: rtt_ms + latency_ms.unwrap_or(0.0),
            in_flight_per_server: rif,
            latency_ms,
        };
        self.at(
            back,
            Event::ProbeAnswered {
                group,
                export,
                sample,
            },
        );
    }

    fn at_site(&mut self, id: u32) {
        let now = self.now;
        let r = self.requests[id as usize];
        let cut = self.cut(r.group, r.export);
        let e = &mut self.exports[r.export];
        if e.down || cut {
            // Black-holed: nothing comes back; the client finds out at its deadline.
            self.finish(id, Outcome::Timeout, r.deadline);
            return;
        }
        self.requests[id as usize].in_flight_at_arrival =
            e.station.in_flight() as f64 / e.station.servers() as f64;
        self.requests[id as usize].arrived = now;
        e.window.arrivals += 1;
        let before = e.station.busy_s();
        let job = Job {
            id,
            work_ms: r.work_ms,
            deadline: r.deadline,
        };
        match e.station.arrive(job, now) {
            Admit::Started { server, done_at } => {
                let busy = e.station.busy_s() - before;
                let epoch = e.epoch;
                self.recorder.busy(now, r.export, busy);
                self.at(
                    done_at,
                    Event::Done {
                        export: r.export,
                        server,
                        epoch,
                    },
                );
            }
            Admit::Queued => {}
            Admit::Rejected => {
                e.window.refused += 1;
                let back = now + self.rtt_ms(r.group, r.export) / 2e3;
                self.finish(id, Outcome::Error, back);
            }
        }
    }

    fn done(&mut self, export: usize, server: usize) {
        let now = self.now;
        let e = &mut self.exports[export];
        let before = e.station.busy_s();
        let completion = e.station.complete(server, now);
        let busy = e.station.busy_s() - before;
        let epoch = e.epoch;
        if let Some((_, done_at)) = completion.next {
            self.recorder.busy(now, export, busy);
            self.at(
                done_at,
                Event::Done {
                    export,
                    server,
                    epoch,
                },
            );
        }
        for job in completion.expired {
            let deadline = self.requests[job.id as usize].deadline;
            self.finish(job.id, Outcome::Timeout, deadline);
        }
        if let Some(job) = completion.finished {
            let r = self.requests[job.id as usize];
            let e = &mut self.exports[export];
            e.window.completed += 1;
            e.window.sojourn_ms += (now - r.arrived) * 1e3;
            e.recent
                .record(now, r.in_flight_at_arrival, (now - r.arrived) * 1e3);
            let back = now + self.rtt_ms(r.group, export) / 2e3;
            // A response into a partition never arrives.
            let outcome = if back <= r.deadline && !self.cut(r.group, export) {
                Outcome::Ok((back - r.sent) * 1e3)
            } else {
                Outcome::Timeout
            };
            let noticed = match outcome {
                Outcome::Ok(_) => back,
                _ => r.deadline,
            };
            self.finish(job.id, outcome, noticed);
        }
    }

    /// Request `id` ended with `outcome`, which its client learns at `noticed`.
    fn finish(&mut self, id: u32, outcome: Outcome, noticed: f64) {
        let r = self.requests[id as usize];
        if let Some((get_start, rtt_ms)) = r.probe {
            let event = match outcome {
                Outcome::Ok(_) => Event::ProbeAnswered {
                    group: r.group,
                    export: r.export,
                    sample: ProbeSample {
                        ok: true,
                        rtt_ms,
                        get_ms: (noticed - get_start) * 1e3,
                        in_flight_per_server: r.in_flight_at_arrival,
                        latency_ms: None,
                    },
                },
                _ => Event::ProbeFailed {
                    group: r.group,
                    export: r.export,
                },
            };
            self.at(noticed, event);
            self.free.push(id);
            return;
        }
        self.recorder
            .outcome(r.sent, outcome, self.price[r.group][r.export]);
        match outcome {
            Outcome::Ok(_) => {
                self.groups[r.group].policy.observe(noticed, r.export, true);
                self.free.push(id);
            }
            _ => self.at(noticed, Event::Failed { id }),
        }
    }

    fn second(&mut self) {
        let now = self.now;
        for e in &mut self.exports {
            let busy = e.station.busy_s();
            e.utilization = ((busy - e.busy_reported) / e.station.servers() as f64).min(1.0);
            e.busy_reported = busy;
        }
        let parts = self.env_parts();
        for (i, g) in self.groups.iter_mut().enumerate() {
            g.demand_rps = demand_rps(&g.recent, now);
            g.recent.rotate_right(1);
            g.recent[0] = 0;
            let env = parts.env(g.demand_rps);
            self.recorder.shares(now - 1.0, i, g.policy.shares(&env));
        }
        self.at(now + 1.0, Event::Second);
    }

    fn change(&mut self, change: Change) {
        let delay = self.scenario.control_plane_delay_s;
        let index_of =
            |site: usize, exports: &[Export]| exports.iter().position(|e| e.site == site);
        match change {
            Change::Load(load) => self.load = load,
            Change::Down(site) => {
                let Some(export) = index_of(site, &self.exports) else {
                    return;
                };
                let e = &mut self.exports[export];
                e.down = true;
                e.epoch += 1;
                for job in e.station.fail() {
                    let deadline = self.requests[job.id as usize].deadline;
                    self.finish(job.id, Outcome::Timeout, deadline);
                }
                self.at(
                    self.now + delay,
                    Event::ControlPlane {
                        export,
                        ready: false,
                    },
                );
            }
            Change::Up(site) => {
                let Some(export) = index_of(site, &self.exports) else {
                    return;
                };
                self.exports[export].down = false;
                self.at(
                    self.now + delay,
                    Event::ControlPlane {
                        export,
                        ready: true,
                    },
                );
            }
            Change::Slowdown(site, factor) => {
                if let Some(export) = index_of(site, &self.exports) {
                    self.exports[export].station.set_slowdown(factor);
                }
            }
            Change::Partition(a, b) | Change::Heal(a, b) => {
                let cut = matches!(change, Change::Partition(..));
                self.cut[a][b] = cut;
                self.cut[b][a] = cut;
            }
            Change::Rtt(a, b, ms) => {
                self.rtt[a][b] = ms;
                self.rtt[b][a] = ms;
            }
            Change::Prices(site, table) => {
                self.prices[site] = table;
                let sites: Vec<usize> = self.exports.iter().map(|e| e.site).collect();
                self.price = price_table(self.scenario, &sites, &self.prices);
            }
            Change::Endpoints(site, count, speed) => {
                let Some(export) = index_of(site, &self.exports) else {
                    return;
                };
                let now = self.now;
                let limit = count * self.scenario.service.queue_per_server;
                let e = &mut self.exports[export];
                let before = e.station.busy_s();
                let resized = e.station.resize(count, speed, limit, now);
                let busy = e.station.busy_s() - before;
                let epoch = e.epoch;
                if !resized.started.is_empty() {
                    self.recorder.busy(now, export, busy);
                }
                for (server, done_at) in resized.started {
                    self.at(
                        done_at,
                        Event::Done {
                            export,
                            server,
                            epoch,
                        },
                    );
                }
                for job in resized.expired {
                    let deadline = self.requests[job.id as usize].deadline;
                    self.finish(job.id, Outcome::Timeout, deadline);
                }
            }
        }
    }
}

/// Requests per second from the last seconds' counts, at time `now`: over the seconds seen so
/// far until the window is full. Dividing by the whole window from the start reported a tenth of
/// the demand after one second, and every cluster started by planning for a trickle.
fn demand_rps(counts: &[u32], now: f64) -> f64 {
    let total: u32 = counts.iter().sum();
    let seen = now.round().clamp(1.0, counts.len().max(1) as f64);
    f64::from(total) / seen
}

#[cfg(test)]
mod tests {
    use super::{RecentLatency, demand_rps};

    #[test]
    fn a_load_probe_reports_the_median_latency_of_recent_requests_at_a_similar_rif() {
        let mut recent = RecentLatency::default();
        // Requests that arrived at RIF 0 took 20 ms; at RIF 4, 100 ms.
        for i in 0..20 {
            recent.record(0.01 * f64::from(i), 0.0, 20.0);
            recent.record(0.01 * f64::from(i), 4.0, 100.0);
        }
        recent.record(0.3, 4.0, 5000.0);
        assert_eq!(recent.estimate(0.5, 0.0), Some(20.0));
        assert_eq!(
            recent.estimate(0.5, 3.5),
            Some(100.0),
            "one outlier does not move a median"
        );
        assert_eq!(
            recent.estimate(2.0, 0.0),
            None,
            "nothing in the last second"
        );
    }

    #[test]
    fn demand_is_averaged_over_the_seconds_seen_until_the_window_is_full() {
        let mut counts = [0u32; 10];
        counts[0] = 150;
        assert_eq!(demand_rps(&counts, 1.0), 150.0);
        counts[1] = 150;
        assert_eq!(demand_rps(&counts, 2.0), 150.0);
        let full = [150u32; 10];
        assert_eq!(demand_rps(&full, 10.0), 150.0);
        assert_eq!(demand_rps(&full, 300.0), 150.0);
    }
}

//! Names of the metrics Aviator exports, and the query counters the hot path increments.
//!
//! Counters are registered once, so counting a query is one atomic add: no label strings are
//! built or hashed per query.

use crate::wire::query::DropReason;

/// Answers given, by `namespace`, `service` and `cluster` (ClusterSetIP selections).
pub const ANSWERS: &str = "aviator_dns_answers_total";
/// Queries answered, by `qtype` and `rcode`.
pub const QUERIES: &str = "aviator_dns_queries_total";
/// Clusterset file reloads, by `result` (`ok` or `error`).
pub const RELOADS: &str = "aviator_config_reloads_total";
/// Reloads that dropped most of the services served (taken, since valid, and warned of).
pub const MASS_DROPS: &str = "aviator_config_mass_drops_total";
/// 1 while the last reload attempt succeeded, 0 after a rejected one.
pub const LAST_RELOAD_OK: &str = "aviator_config_last_reload_successful";
/// Optimizer share per export, by `namespace`, `service`, `cluster`.
pub const SHARE: &str = "aviator_share";
/// Probe estimates per export, by `service` and `cluster`, ms.
pub const PROBE_RTT: &str = "aviator_probe_rtt_ms";
pub const PROBE_LATENCY: &str = "aviator_probe_latency_ms";
/// 1 while probing has ejected the export.
pub const EJECTED: &str = "aviator_export_ejected";
/// Times probing has ejected the export since it was first probed.
pub const EJECTIONS: &str = "aviator_export_ejections";
/// Services rendered anew by the last rebuild (the others were shared with the snapshot before):
/// what a tick cost.
pub const RENDERED: &str = "aviator_snapshot_services_rendered";
/// Time to build a snapshot (optimizer solves included), seconds.
pub const SOLVE_SECONDS: &str = "aviator_solve_seconds";
/// 1 while the peers' profiles are older than the staleness bound.
pub const BROKER_STALE: &str = "aviator_broker_stale";
/// Seconds since the broker was last read successfully.
pub const BROKER_AGE: &str = "aviator_broker_age_seconds";
/// 1 while this replica holds the writer lease (writes the statuses and the broker profile).
pub const WRITER: &str = "aviator_writer";
/// 1 while the cluster's own DNS sends the clusterset zone's queries to Aviator, 0 when it
/// answers them without Aviator (the cutover undone).
pub const ZONE_SERVED: &str = "aviator_zone_served";
/// Checks of who serves the zone that got no answer.
pub const ZONE_CHECK_FAILURES: &str = "aviator_zone_check_failures_total";
/// Services and clusters in the serving snapshot.
pub const SERVICES: &str = "aviator_services";
pub const CLUSTERS: &str = "aviator_clusters";

/// Packets that got no reply, by `reason`: `short` (no complete header) or `response` (a reply
/// sent to us, never answered so that two servers cannot loop).
pub const DROPPED: &str = "aviator_dns_dropped_total";

const QTYPES: [(&str, Option<u16>); 9] = [
    ("A", Some(1)),
    ("AAAA", Some(28)),
    ("SRV", Some(33)),
    ("TXT", Some(16)),
    ("SOA", Some(6)),
    ("NS", Some(2)),
    ("ANY", Some(255)),
    ("PTR", Some(12)),
    ("other", None),
];

const RCODES: [(&str, Option<u16>); 9] = [
    ("NOERROR", Some(0)),
    ("NXDOMAIN", Some(3)),
    ("REFUSED", Some(5)),
    ("FORMERR", Some(1)),
    ("NOTIMP", Some(4)),
    ("SERVFAIL", Some(2)),
    ("NOTAUTH", Some(9)),
    ("BADVERS", Some(16)),
    ("other", None),
];

const DROP_REASONS: [DropReason; 2] = [DropReason::Short, DropReason::Response];

/// One pre-registered counter per (query type, response code), and per reason for a drop.
pub struct QueryCounters {
    counters: Vec<metrics::Counter>,
    dropped: Vec<metrics::Counter>,
}

impl QueryCounters {
    /// Registers the counters with the installed recorder (no-ops if none is installed).
    pub fn register() -> Self {
        let mut counters = Vec::with_capacity(QTYPES.len() * RCODES.len());
        for (qtype, _) in QTYPES {
            for (rcode, _) in RCODES {
                counters.push(metrics::counter!(QUERIES, "qtype" => qtype, "rcode" => rcode));
            }
        }
        let dropped = DROP_REASONS
            .iter()
            .map(|reason| metrics::counter!(DROPPED, "reason" => reason.label()))
            .collect();
        Self { counters, dropped }
    }

    /// Counts a reply; `qtype` is `None` when the question could not be read.
    pub fn count(&self, qtype: Option<u16>, rcode: u16) {
        let t = qtype.map_or(QTYPES.len() - 1, |q| index_of(&QTYPES, q));
        let r = index_of(&RCODES, rcode);
        self.counters[t * RCODES.len() + r].increment(1);
    }

    pub fn dropped(&self, reason: DropReason) {
        if let Some(i) = DROP_REASONS.iter().position(|&r| r == reason) {
            self.dropped[i].increment(1);
        }
    }
}

/// The position of `value` in `table`, or of the catch-all last entry.
fn index_of<T: PartialEq + Copy>(table: &[(&str, Option<T>)], value: T) -> usize {
    table
        .iter()
        .position(|&(_, v)| v == Some(value))
        .unwrap_or(table.len() - 1)
}

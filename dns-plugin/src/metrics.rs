//! Names of the metrics Aviator exports, and the query counters the hot path increments.
//!
//! Counters are registered once, so counting a query is one atomic add: no label strings are
//! built or hashed per query.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// Answers given, by `namespace`, `service` and `cluster` (ClusterSetIP selections).
pub const ANSWERS: &str = "aviator_dns_answers_total";
/// Queries answered, by `qtype` and `rcode`.
pub const QUERIES: &str = "aviator_dns_queries_total";
/// Clusterset file reloads, by `result` (`ok` or `error`).
pub const RELOADS: &str = "aviator_config_reloads_total";
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

const QTYPES: [(&str, Option<RecordType>); 9] = [
    ("A", Some(RecordType::A)),
    ("AAAA", Some(RecordType::AAAA)),
    ("SRV", Some(RecordType::SRV)),
    ("TXT", Some(RecordType::TXT)),
    ("SOA", Some(RecordType::SOA)),
    ("NS", Some(RecordType::NS)),
    ("ANY", Some(RecordType::ANY)),
    ("PTR", Some(RecordType::PTR)),
    ("other", None),
];

const RCODES: [(&str, Option<ResponseCode>); 7] = [
    ("NOERROR", Some(ResponseCode::NoError)),
    ("NXDOMAIN", Some(ResponseCode::NXDomain)),
    ("REFUSED", Some(ResponseCode::Refused)),
    ("FORMERR", Some(ResponseCode::FormErr)),
    ("NOTIMP", Some(ResponseCode::NotImp)),
    ("SERVFAIL", Some(ResponseCode::ServFail)),
    ("other", None),
];

/// One pre-registered counter per (query type, response code).
pub struct QueryCounters {
    counters: Vec<metrics::Counter>,
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
        Self { counters }
    }

    pub fn count(&self, qtype: RecordType, rcode: ResponseCode) {
        let t = index_of(&QTYPES, qtype);
        let r = index_of(&RCODES, rcode);
        self.counters[t * RCODES.len() + r].increment(1);
    }
}

/// The position of `value` in `table`, or of the catch-all last entry.
fn index_of<T: PartialEq + Copy>(table: &[(&str, Option<T>)], value: T) -> usize {
    table
        .iter()
        .position(|&(_, v)| v == Some(value))
        .unwrap_or(table.len() - 1)
}

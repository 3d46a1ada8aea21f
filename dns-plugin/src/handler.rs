//! The hickory [`RequestHandler`]: checks a request, looks it up in the current snapshot and
//! sends the answer, with the header bits, EDNS and negative-answer SOA an authoritative server
//! owes its clients.
//!
//! Per query it loads one `Arc<Snapshot>` (no lock), borrows prebuilt records from it and
//! counts the result in a pre-registered counter. Nothing here logs above debug level.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::{DNSClass, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tracing::debug;

use crate::metrics::QueryCounters;
use crate::snapshot::{Resolution, Snapshot};

/// The snapshot the handler serves; `None` until the first one is built (answers SERVFAIL).
pub type SnapshotCell = ArcSwapOption<Snapshot>;

/// The largest UDP answer we send: the DNS Flag Day 2020 size, safe from IP fragmentation.
pub const DEFAULT_UDP_PAYLOAD: u16 = 1232;
/// RFC 1035's floor, which every client accepts.
const MIN_UDP_PAYLOAD: u16 = 512;

pub struct Handler {
    snapshot: Arc<SnapshotCell>,
    counters: QueryCounters,
    udp_payload: u16,
}

impl Handler {
    pub fn new(snapshot: Arc<SnapshotCell>, udp_payload: u16) -> Self {
        Self {
            snapshot,
            counters: QueryCounters::register(),
            udp_payload: udp_payload.max(MIN_UDP_PAYLOAD),
        }
    }
}

/// What to send back, borrowing records from the snapshot.
struct Reply<'a> {
    rcode: ResponseCode,
    authoritative: bool,
    answers: &'a [Record],
    soa: Option<&'a Record>,
}

impl<'a> Reply<'a> {
    fn error(rcode: ResponseCode) -> Self {
        Self {
            rcode,
            authoritative: false,
            answers: &[],
            soa: None,
        }
    }

    fn from_resolution(resolution: Resolution<'a>) -> Self {
        match resolution {
            Resolution::Found { zone, records } => Self {
                rcode: ResponseCode::NoError,
                authoritative: true,
                answers: records,
                // NODATA carries the SOA so resolvers can cache the absence (RFC 2308).
                soa: records.is_empty().then(|| zone.negative_soa()),
            },
            Resolution::NxDomain { zone } => Self {
                rcode: ResponseCode::NXDomain,
                authoritative: true,
                answers: &[],
                soa: Some(zone.negative_soa()),
            },
            Resolution::NotOurs => Self::error(ResponseCode::Refused),
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let snapshot = self.snapshot.load();
        let (edns, edns_ok) = response_edns(request, self.udp_payload);
        let (reply, qtype) = match request.request_info() {
            // Exactly one question is required; anything else is malformed for us.
            Err(_) => (Reply::error(ResponseCode::FormErr), None),
            Ok(info) => {
                let query = info.query;
                let qtype = query.query_type();
                let reply = if request.metadata.op_code != OpCode::Query {
                    Reply::error(ResponseCode::NotImp)
                } else if !edns_ok {
                    Reply::error(ResponseCode::BADVERS)
                } else if query.query_class() != DNSClass::IN {
                    Reply::error(ResponseCode::Refused)
                } else if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
                    // Zone transfers would hand out every answer at once; not offered.
                    Reply::error(ResponseCode::Refused)
                } else {
                    match snapshot.as_deref() {
                        None => Reply::error(ResponseCode::ServFail),
                        Some(snapshot) => {
                            Reply::from_resolution(snapshot.resolve(query.name(), qtype))
                        }
                    }
                };
                (reply, Some(qtype))
            }
        };
        self.counters
            .count(qtype.unwrap_or(RecordType::Unknown(0)), reply.rcode);

        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = reply.authoritative;
        metadata.response_code = reply.rcode;
        let response = MessageResponseBuilder::new(&request.queries, edns.as_ref()).build(
            metadata,
            reply.answers.iter(),
            std::iter::empty(),
            reply.soa,
            std::iter::empty(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                debug!(%error, "could not send a response");
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

/// The OPT record to answer with, if the client sent one, and whether its version is one we
/// speak (0). The advertised size bounds the UDP answer, so it is the smaller of the client's
/// and ours: larger answers go out truncated and the client retries over TCP.
fn response_edns(request: &Request, ours: u16) -> (Option<Edns>, bool) {
    let Some(theirs) = request.edns.as_ref() else {
        return (None, true);
    };
    let mut edns = Edns::new();
    edns.set_version(0);
    edns.set_max_payload(theirs.max_payload().clamp(MIN_UDP_PAYLOAD, ours));
    // RFC 3225: the DO bit is copied from the query.
    edns.set_dnssec_ok(theirs.flags().dnssec_ok);
    (Some(edns), theirs.version() == 0)
}

//! Answers one query packet with one reply packet: checks the query, looks it up in the current
//! snapshot, and writes the header, the question as sent, the pre-rendered records and the OPT
//! record an authoritative server owes its clients.
//!
//! Per query it loads one `Arc<Snapshot>` (no lock), copies record bytes out of the snapshot's
//! arena, patches one pointer in a negative answer's SOA, and counts the result in a
//! pre-registered counter. Nothing here logs: a hostile packet costs a counter increment.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::query::{self, Edns, OPTION_NSID, Query, Refusal, Tsig};
use super::{
    CLASS_ANY, CLASS_CH, CLASS_IN, TYPE_ANY, TYPE_AXFR, TYPE_IXFR, TYPE_OPT, TYPE_TSIG, TYPE_TXT,
    rcode,
};
use crate::metrics::QueryCounters;
use crate::snapshot::{Resolution, Rrs, Snapshot};

/// The snapshot the responder serves; `None` until the first one is built (answers SERVFAIL).
pub type SnapshotCell = ArcSwapOption<Snapshot>;

/// The largest UDP answer we send: the DNS Flag Day 2020 size, safe from IP fragmentation.
pub const DEFAULT_UDP_PAYLOAD: u16 = 1232;
/// RFC 1035's floor, which every client accepts.
const MIN_UDP_PAYLOAD: u16 = 512;
/// A TCP message's largest size (its length prefix is 16 bits).
pub const MAX_TCP_MESSAGE: usize = 65535;
/// The longest NSID or `id.server` text sent: one character-string.
const MAX_IDENTITY: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

pub struct Responder {
    snapshot: Arc<SnapshotCell>,
    counters: QueryCounters,
    udp_payload: u16,
    /// This replica's name: the NSID option (RFC 5001) and `id.server`/`hostname.bind` in CH.
    identity: Box<[u8]>,
}

/// What the reply says, before it is written.
struct Reply<'a> {
    rcode: u16,
    authoritative: bool,
    answers: Rrs<'a>,
    /// The negative answer's SOA and where the zone's name starts inside the question's.
    soa: Option<(Rrs<'a>, usize)>,
    /// A CH-class TXT answer of our identity, built in place.
    identity: bool,
}

impl<'a> Reply<'a> {
    fn error(rcode: u16) -> Self {
        Self {
            rcode,
            authoritative: false,
            answers: Rrs::NONE,
            soa: None,
            identity: false,
        }
    }

    fn from_resolution(resolution: Resolution<'a>, query: &Query<'_>) -> Self {
        let zone_at = |origin_len: usize| 12 + query.name.wire().len() - origin_len;
        match resolution {
            Resolution::Found { zone, rrs } => Self {
                rcode: rcode::NOERROR,
                authoritative: true,
                answers: rrs,
                // NODATA carries the SOA so resolvers can cache the absence (RFC 2308).
                soa: (rrs.count == 0).then(|| (zone.negative_soa(), zone_at(zone.origin_len()))),
                identity: false,
            },
            Resolution::NxDomain { zone } => Self {
                rcode: rcode::NXDOMAIN,
                authoritative: true,
                answers: Rrs::NONE,
                soa: Some((zone.negative_soa(), zone_at(zone.origin_len()))),
                identity: false,
            },
            Resolution::NotOurs => Self::error(rcode::REFUSED),
        }
    }
}

impl Responder {
    pub fn new(snapshot: Arc<SnapshotCell>, udp_payload: u16, identity: &str) -> Self {
        let mut identity = identity.as_bytes().to_vec();
        identity.truncate(MAX_IDENTITY);
        Self {
            snapshot,
            counters: QueryCounters::register(),
            udp_payload: udp_payload.max(MIN_UDP_PAYLOAD),
            identity: identity.into_boxed_slice(),
        }
    }

    /// The largest reply this responder writes for `transport`: size output buffers to it.
    pub fn max_reply(&self, transport: Transport) -> usize {
        match transport {
            Transport::Udp => usize::from(self.udp_payload),
            Transport::Tcp => MAX_TCP_MESSAGE,
        }
    }

    /// Writes the reply to `packet` into `out` (cleared first). Returns false when no reply is
    /// owed: the packet is too short to carry an id, or is itself a response.
    pub fn respond(&self, packet: &[u8], transport: Transport, out: &mut Vec<u8>) -> bool {
        out.clear();
        let query = match query::parse(packet) {
            Ok(query) => query,
            Err(Refusal::Drop(reason)) => {
                self.counters.dropped(reason);
                return false;
            }
            Err(Refusal::FormErr {
                id,
                opcode,
                recursion_desired,
            }) => {
                self.counters.count(None, rcode::FORMERR);
                let flags = 0x8000 | u16::from(opcode) << 11 | u16::from(recursion_desired) << 8;
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&(flags | rcode::FORMERR).to_be_bytes());
                out.extend_from_slice(&[0; 8]);
                return true;
            }
        };
        let snapshot = self.snapshot.load();
        let reply = self.decide(&query, snapshot.as_deref());
        self.counters.count(Some(query.qtype), reply.rcode);
        self.write(&query, &reply, transport, out);
        true
    }

    fn decide<'s>(&self, query: &Query<'_>, snapshot: Option<&'s Snapshot>) -> Reply<'s> {
        if query.edns.is_some_and(|e| e.version != 0) {
            return Reply::error(rcode::BADVERS);
        }
        if query.opcode != 0 {
            return Reply::error(rcode::NOTIMP);
        }
        if query.tsig.is_some() {
            // We hold no keys, so every key is unknown (RFC 8945 §5.2).
            return Reply::error(rcode::NOTAUTH);
        }
        match query.qclass {
            CLASS_IN => {}
            CLASS_CH => return self.chaos(query),
            _ => return Reply::error(rcode::REFUSED),
        }
        if matches!(query.qtype, TYPE_AXFR | TYPE_IXFR) {
            // Zone transfers would hand out every answer at once; not offered.
            return Reply::error(rcode::REFUSED);
        }
        match snapshot {
            None => Reply::error(rcode::SERVFAIL),
            Some(snapshot) => {
                Reply::from_resolution(snapshot.resolve(&query.name, query.qtype), query)
            }
        }
    }

    /// `id.server` and `hostname.bind` in class CH name the replica that answered, as NSD,
    /// Knot and BIND do; nothing else is served in CH.
    fn chaos(&self, query: &Query<'_>) -> Reply<'static> {
        let asked = query.name.wire();
        let known = asked == b"\x02id\x06server\0" || asked == b"\x08hostname\x04bind\0";
        if !known {
            return Reply::error(rcode::REFUSED);
        }
        Reply {
            rcode: rcode::NOERROR,
            authoritative: true,
            answers: Rrs::NONE,
            soa: None,
            identity: matches!(query.qtype, TYPE_TXT | TYPE_ANY),
        }
    }

    fn write(&self, query: &Query<'_>, reply: &Reply<'_>, transport: Transport, out: &mut Vec<u8>) {
        let limit = match (transport, query.edns) {
            (Transport::Tcp, _) => MAX_TCP_MESSAGE,
            // The client's size bounds the answer, never above ours (RFC 6891 §6.2.5).
            (Transport::Udp, Some(edns)) => {
                usize::from(edns.payload.clamp(MIN_UDP_PAYLOAD, self.udp_payload))
            }
            (Transport::Udp, None) => usize::from(MIN_UDP_PAYLOAD),
        };
        let answers = u16::from(reply.identity) + reply.answers.count;
        let body = query.question.len()
            + reply.answers.bytes.len()
            + if reply.identity {
                12 + 1 + self.identity.len()
            } else {
                0
            }
            + reply.soa.map_or(0, |(soa, _)| soa.bytes.len());
        let extra = self.additional_len(query);
        let truncated = 12 + body + extra > limit;
        let (answers, authorities) = if truncated {
            (0, 0)
        } else {
            (answers, u16::from(reply.soa.is_some()))
        };
        let additional = u16::from(query.edns.is_some()) + u16::from(query.tsig.is_some());

        let flags = 0x8000
            | u16::from(query.opcode) << 11
            | u16::from(reply.authoritative) << 10
            | u16::from(truncated) << 9
            | u16::from(query.recursion_desired) << 8
            | u16::from(query.checking_disabled) << 4
            | (reply.rcode & 0xf);
        out.extend_from_slice(&query.id.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        for count in [1, answers, authorities, additional] {
            out.extend_from_slice(&count.to_be_bytes());
        }
        out.extend_from_slice(query.question);
        if !truncated {
            out.extend_from_slice(reply.answers.bytes);
            if reply.identity {
                self.write_identity(out);
            }
            if let Some((soa, zone_at)) = reply.soa {
                // The stored owner points at the question; the SOA's owner is the zone apex,
                // which is the question name's suffix at `zone_at`.
                out.extend_from_slice(&(0xc000 | zone_at as u16).to_be_bytes());
                out.extend_from_slice(&soa.bytes[2..]);
            }
        }
        if let Some(edns) = query.edns {
            self.write_opt(edns, reply.rcode, out);
        }
        if let Some(tsig) = query.tsig {
            write_badkey(query.packet, tsig, out);
        }
    }

    fn additional_len(&self, query: &Query<'_>) -> usize {
        let opt = query.edns.map_or(0, |edns| {
            11 + if edns.nsid {
                4 + self.identity.len()
            } else {
                0
            }
        });
        // The TSIG error record: the key name (at most 255) and fixed fields.
        let tsig = query
            .tsig
            .map_or(0, |t| 255 + 10 + (t.algorithm.1 - t.algorithm.0) + 16);
        opt + tsig
    }

    fn write_identity(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&TYPE_TXT.to_be_bytes());
        out.extend_from_slice(&CLASS_CH.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&(1 + self.identity.len() as u16).to_be_bytes());
        out.push(self.identity.len() as u8);
        out.extend_from_slice(&self.identity);
    }

    /// Our OPT: our own UDP size (RFC 6891 §6.2.3), version 0, the DO bit copied (RFC 3225),
    /// the extended rcode's high bits, and the NSID if asked for.
    fn write_opt(&self, edns: Edns, rcode: u16, out: &mut Vec<u8>) {
        out.push(0);
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&self.udp_payload.to_be_bytes());
        let ttl = u32::from(rcode >> 4) << 24 | u32::from(edns.dnssec_ok) << 15;
        out.extend_from_slice(&ttl.to_be_bytes());
        if edns.nsid {
            out.extend_from_slice(&(4 + self.identity.len() as u16).to_be_bytes());
            out.extend_from_slice(&OPTION_NSID.to_be_bytes());
            out.extend_from_slice(&(self.identity.len() as u16).to_be_bytes());
            out.extend_from_slice(&self.identity);
        } else {
            out.extend_from_slice(&0u16.to_be_bytes());
        }
    }
}

/// The unsigned TSIG error record for an unknown key (RFC 8945 §5.2, §5.3.2): the query's key
/// name, algorithm, time and fudge, no MAC, its original id, and error BADKEY.
fn write_badkey(packet: &[u8], tsig: Tsig, out: &mut Vec<u8>) {
    query::copy_name(packet, tsig.key_at, out);
    out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let algorithm = &packet[tsig.algorithm.0..tsig.algorithm.1];
    let time_and_fudge = &packet[tsig.time_and_fudge.0..tsig.time_and_fudge.1];
    let len = algorithm.len() + time_and_fudge.len() + 8;
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(algorithm);
    out.extend_from_slice(time_and_fudge);
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&tsig.original_id.to_be_bytes());
    out.extend_from_slice(&rcode::BADKEY.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
}

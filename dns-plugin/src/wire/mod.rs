//! The DNS wire protocol as Aviator speaks it: reading a query ([`query`]) and writing the
//! reply from the snapshot's pre-rendered records ([`respond`]). One code path serves UDP and
//! TCP, so both transports give the same answers; neither allocates per query once its output
//! buffer has grown to size.

pub mod query;
pub mod respond;

pub use respond::{Responder, Transport};

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_AXFR: u16 = 252;
pub const TYPE_TSIG: u16 = 250;
pub const TYPE_ANY: u16 = 255;
pub const CLASS_IN: u16 = 1;
pub const CLASS_CH: u16 = 3;
pub const CLASS_ANY: u16 = 255;

/// Response codes, extended ones (above 15) included.
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const NOTAUTH: u16 = 9;
    /// EDNS version not spoken (RFC 6891): extended, so it needs an OPT record to be said.
    pub const BADVERS: u16 = 16;
    /// The TSIG error for a key the server does not know (RFC 8945), said in the TSIG record.
    pub const BADKEY: u16 = 17;
}

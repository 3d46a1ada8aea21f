//! The zone's answers as wire-format bytes, in one buffer, so the hot path copies an answer
//! with one `memcpy` and a snapshot holds no heap object per record.
//!
//! Every record is stored as it goes on the wire, except that its owner is a two-byte
//! compression pointer to the question (offset 12): an answer's owner is always the name asked,
//! in the case it was asked. The one record whose owner is not the question, the SOA in a
//! negative answer, has its pointer patched per query (see `wire::response`).

use std::net::IpAddr;

use hickory_proto::rr::Name;

use super::BuildError;
use crate::wire::{CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_NS, TYPE_SOA, TYPE_SRV, TYPE_TXT};

/// A pointer to offset 12, where the question's name starts.
pub const OWNER_IS_QUESTION: [u8; 2] = [0xc0, 0x0c];

/// A run of records in an arena.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    start: u32,
    len: u32,
    count: u16,
}

impl Span {
    pub fn count(self) -> u16 {
        self.count
    }

    pub fn is_empty(self) -> bool {
        self.count == 0
    }
}

/// Pre-rendered records: the bytes of a run, and how many records they hold.
#[derive(Debug, Clone, Copy)]
pub struct Rrs<'a> {
    pub bytes: &'a [u8],
    pub count: u16,
}

impl Rrs<'_> {
    pub const NONE: Rrs<'static> = Rrs {
        bytes: &[],
        count: 0,
    };
}

/// A zone's record bytes while it is built; frozen into a boxed slice after.
#[derive(Debug, Default)]
pub struct Arena {
    bytes: Vec<u8>,
    /// Where the run being written started, and its records so far.
    run: Option<(usize, u16)>,
}

impl Arena {
    /// Starts a run of records; [`Arena::finish`] ends it.
    pub fn begin(&mut self) {
        debug_assert!(self.run.is_none(), "runs do not nest");
        self.run = Some((self.bytes.len(), 0));
    }

    pub fn finish(&mut self) -> Result<Span, BuildError> {
        let (start, count) = self.run.take().unwrap_or((self.bytes.len(), 0));
        let too_big = || BuildError::TooLarge;
        Ok(Span {
            start: u32::try_from(start).map_err(|_| too_big())?,
            len: u32::try_from(self.bytes.len() - start).map_err(|_| too_big())?,
            count,
        })
    }

    /// A run of the records `write` adds.
    pub fn run(&mut self, write: impl FnOnce(&mut Self)) -> Result<Span, BuildError> {
        self.begin();
        write(self);
        self.finish()
    }

    /// Stores `bytes` (a name, say) and returns where they are.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<Span, BuildError> {
        self.begin();
        self.bytes.extend_from_slice(bytes);
        self.finish()
    }

    fn record(&mut self, rtype: u16, ttl: u32, rdata: impl FnOnce(&mut Vec<u8>)) {
        let bytes = &mut self.bytes;
        bytes.extend_from_slice(&OWNER_IS_QUESTION);
        bytes.extend_from_slice(&rtype.to_be_bytes());
        bytes.extend_from_slice(&CLASS_IN.to_be_bytes());
        bytes.extend_from_slice(&ttl.to_be_bytes());
        let length_at = bytes.len();
        bytes.extend_from_slice(&[0, 0]);
        rdata(bytes);
        // Record data is at most a few hundred bytes here (names, a TXT string).
        let len = (bytes.len() - length_at - 2) as u16;
        bytes[length_at..length_at + 2].copy_from_slice(&len.to_be_bytes());
        if let Some((_, count)) = &mut self.run {
            *count += 1;
        }
    }

    /// The A and the AAAA records of `ips`, as two runs.
    pub fn addresses<'i>(
        &mut self,
        ttl: u32,
        ips: impl IntoIterator<Item = &'i IpAddr> + Clone,
    ) -> Result<(Span, Span), BuildError> {
        let a = self.run(|a| {
            for ip in ips.clone().into_iter().filter(|ip| ip.is_ipv4()) {
                a.address(ttl, *ip);
            }
        })?;
        let aaaa = self.run(|a| {
            for ip in ips.into_iter().filter(|ip| ip.is_ipv6()) {
                a.address(ttl, *ip);
            }
        })?;
        Ok((a, aaaa))
    }

    pub fn address(&mut self, ttl: u32, ip: IpAddr) {
        match ip {
            IpAddr::V4(ip) => self.record(TYPE_A, ttl, |b| b.extend_from_slice(&ip.octets())),
            IpAddr::V6(ip) => self.record(TYPE_AAAA, ttl, |b| b.extend_from_slice(&ip.octets())),
        }
    }

    /// SRV's target is never compressed (RFC 2782).
    pub fn srv(&mut self, ttl: u32, weight: u16, port: u16, target: &[u8]) {
        self.record(TYPE_SRV, ttl, |b| {
            b.extend_from_slice(&0u16.to_be_bytes());
            b.extend_from_slice(&weight.to_be_bytes());
            b.extend_from_slice(&port.to_be_bytes());
            b.extend_from_slice(target);
        });
    }

    /// One TXT record; text longer than a character-string holds is split.
    pub fn txt(&mut self, ttl: u32, text: &str) {
        self.record(TYPE_TXT, ttl, |b| {
            for chunk in text.as_bytes().chunks(255) {
                b.push(chunk.len() as u8);
                b.extend_from_slice(chunk);
            }
        });
    }

    pub fn ns(&mut self, ttl: u32, server: &[u8]) {
        self.record(TYPE_NS, ttl, |b| b.extend_from_slice(server));
    }

    /// The zone's SOA. Its minimum is the negative-caching TTL (RFC 2308); refresh, retry and
    /// expire matter only to secondaries, which this zone has none of, so they take common
    /// defaults.
    pub fn soa(&mut self, ttl: u32, server: &[u8], mailbox: &[u8], serial: u32, minimum: u32) {
        self.record(TYPE_SOA, ttl, |b| {
            b.extend_from_slice(server);
            b.extend_from_slice(mailbox);
            for value in [serial, 7200, 1800, 86400, minimum] {
                b.extend_from_slice(&value.to_be_bytes());
            }
        });
    }

    pub fn freeze(self) -> Box<[u8]> {
        self.bytes.into_boxed_slice()
    }
}

/// The records of `span` in the frozen arena `bytes`.
pub fn rrs(bytes: &[u8], span: Span) -> Rrs<'_> {
    let start = span.start as usize;
    Rrs {
        bytes: &bytes[start..start + span.len as usize],
        count: span.count,
    }
}

/// The bytes of `span` (a stored name) in `bytes`.
pub fn slice(bytes: &[u8], span: Span) -> &[u8] {
    rrs(bytes, span).bytes
}

/// The longest name in wire form (RFC 1035 §2.3.4), and the longest label.
const MAX_NAME: usize = 255;
const MAX_LABEL: usize = 63;

/// `labels` joined in front of `zone`, validated as a DNS name, in lower-case wire form.
pub fn name(labels: &[&str], zone: &Name) -> Result<Vec<u8>, BuildError> {
    // The labels are the clusterset's names, already checked as DNS labels, so nearly every
    // name is plain ASCII and is written out directly: a tick renders thousands, and hickory's
    // path (a `Name` per label, IDNA) was a quarter of a rebuild's instructions. Anything else
    // goes through hickory, which converts and refuses as before.
    if labels.iter().all(|l| plain(l)) {
        let mut bytes =
            Vec::with_capacity(labels.iter().map(|l| l.len() + 1).sum::<usize>() + zone.len() + 2);
        for label in labels {
            bytes.push(label.len() as u8);
            bytes.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
        }
        extend_wire(&mut bytes, zone);
        if bytes.len() <= MAX_NAME {
            return Ok(bytes);
        }
    }
    let mut name = zone.clone();
    for label in labels.iter().rev() {
        name = name
            .prepend_label(*label)
            .map_err(|error| BuildError::Name {
                name: format!("{}.{}", labels.join("."), zone),
                reason: error.to_string(),
            })?;
    }
    Ok(wire(&name))
}

/// A label hickory takes as it is: letters, digits and inner hyphens, or an underscore first
/// (`_http`).
fn plain(label: &str) -> bool {
    let body = label.strip_prefix('_').unwrap_or(label);
    (1..=MAX_LABEL).contains(&label.len())
        && !body.is_empty()
        && !body.starts_with('-')
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `name` in lower-case wire form, uncompressed.
pub fn wire(name: &Name) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(name.len() + 1);
    extend_wire(&mut bytes, name);
    bytes
}

/// Appends `name` to `bytes` in lower-case wire form, its root label included.
fn extend_wire(bytes: &mut Vec<u8>, name: &Name) {
    for label in name.iter() {
        bytes.push(label.len() as u8);
        bytes.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    bytes.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_stored_in_wire_form_with_the_question_as_owner() {
        let mut arena = Arena::default();
        let span = arena
            .run(|a| {
                a.address(5, "10.0.0.1".parse().unwrap());
                a.address(5, "10.0.0.2".parse().unwrap());
            })
            .unwrap();
        let bytes = arena.freeze();
        let got = rrs(&bytes, span);
        assert_eq!(got.count, 2);
        assert_eq!(
            &got.bytes[..16],
            &[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1]
        );
    }

    #[test]
    fn plain_names_are_written_as_hickory_writes_them() {
        let zone = Name::from_ascii("ClusterSet.Local.").unwrap();
        let cases: [&[&str]; 3] = [
            &["web"],
            &["_http", "_tcp", "East-1", "svc"],
            &["x9", "a-b"],
        ];
        for labels in cases {
            let mut expected = zone.clone();
            for label in labels.iter().rev() {
                expected = expected.prepend_label(*label).unwrap();
            }
            assert_eq!(name(labels, &zone).unwrap(), wire(&expected), "{labels:?}");
        }
        // Too long as a whole, though every label is plain: refused as before.
        let long = "x".repeat(63);
        assert!(name(&[&long, &long, &long, &long], &zone).is_err());
    }

    #[test]
    fn names_are_lower_cased_and_validated() {
        let zone = Name::from_ascii("ClusterSet.Local.").unwrap();
        assert_eq!(
            name(&["Web"], &zone).unwrap(),
            b"\x03web\x0aclusterset\x05local\0"
        );
        assert!(name(&[&"x".repeat(64)], &zone).is_err());
    }
}

//! Reads a DNS query from the wire without allocating: the header, the one question (its name
//! lower-cased into a fixed buffer, its bytes kept as sent), and the additional section's OPT
//! and TSIG records. Every other record is walked over and checked for shape only.
//!
//! The reader is strict where a lenient one would let garbage through (names, lengths, counts,
//! OPT placement) and lenient where RFCs ask for it (unknown EDNS options are skipped).

use super::{TYPE_OPT, TYPE_TSIG};

/// A name's most bytes on the wire (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;
/// Compression pointers followed while reading one name, at most: more is a loop.
const MAX_POINTERS: usize = 64;
/// EDNS option code of NSID (RFC 5001).
pub const OPTION_NSID: u16 = 3;

/// The question's name, lower-cased, in wire form, with where each label starts.
#[derive(Clone)]
pub struct QName {
    lower: [u8; MAX_NAME],
    len: u8,
    starts: [u8; MAX_NAME / 2],
    labels: u8,
}

impl QName {
    /// The lower-cased wire form, root label included.
    pub fn wire(&self) -> &[u8] {
        &self.lower[..usize::from(self.len)]
    }

    /// The labels, leftmost first, without their length bytes (the root is not one).
    pub fn label(&self, index: usize) -> &[u8] {
        let start = usize::from(self.starts[index]);
        let len = usize::from(self.lower[start]);
        &self.lower[start + 1..start + 1 + len]
    }

    pub fn label_count(&self) -> usize {
        usize::from(self.labels)
    }

    /// The number of labels in front of `suffix` (a lower-case wire name) if the name ends
    /// with it at a label boundary.
    pub fn labels_before(&self, suffix: &[u8]) -> Option<usize> {
        let wire = self.wire();
        let start = wire.len().checked_sub(suffix.len())?;
        if &wire[start..] != suffix {
            return None;
        }
        if start == 0 {
            return Some(0);
        }
        (0..self.label_count()).find(|&i| usize::from(self.starts[i]) == start)
    }
}

/// The EDNS options a query carried that we act on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Edns {
    /// The requester's UDP payload size, as sent.
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    pub nsid: bool,
}

/// A TSIG record's parts that an unsigned error reply repeats (RFC 8945 §5.3.2).
#[derive(Clone, Copy, Debug)]
pub struct Tsig {
    /// The key name, possibly compressed in the query: where it starts.
    pub key_at: usize,
    /// The algorithm name's bytes as sent (RFC 8945 forbids compressing it).
    pub algorithm: (usize, usize),
    /// Time signed (48 bits) and fudge, as sent.
    pub time_and_fudge: (usize, usize),
    pub original_id: u16,
}

/// A query as read.
pub struct Query<'a> {
    pub packet: &'a [u8],
    pub id: u16,
    pub opcode: u8,
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    pub name: QName,
    /// The question as sent (name, type, class): echoed verbatim, so its case is kept.
    pub question: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
    pub tsig: Option<Tsig>,
}

/// Why a packet is not a query we can answer normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No reply at all: shorter than a header, or itself a response.
    Drop(DropReason),
    /// FORMERR, with the header's id, opcode and RD bit.
    FormErr {
        id: u16,
        opcode: u8,
        recursion_desired: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    Short,
    Response,
}

impl DropReason {
    pub fn label(self) -> &'static str {
        match self {
            DropReason::Short => "short",
            DropReason::Response => "response",
        }
    }
}

/// Reads `packet` as a query.
pub fn parse(packet: &[u8]) -> Result<Query<'_>, Refusal> {
    if packet.len() < 12 {
        return Err(Refusal::Drop(DropReason::Short));
    }
    let word = |at: usize| u16::from_be_bytes([packet[at], packet[at + 1]]);
    let id = word(0);
    let flags = word(2);
    if flags & 0x8000 != 0 {
        return Err(Refusal::Drop(DropReason::Response));
    }
    let opcode = ((flags >> 11) & 0xf) as u8;
    let recursion_desired = flags & 0x0100 != 0;
    let formerr = Refusal::FormErr {
        id,
        opcode,
        recursion_desired,
    };
    let (qdcount, ancount, nscount, arcount) = (word(4), word(6), word(8), word(10));
    if qdcount != 1 {
        return Err(formerr);
    }
    let mut reader = Reader { packet, at: 12 };
    let name = reader.question_name().ok_or(formerr)?;
    let qtype = reader.u16().ok_or(formerr)?;
    let qclass = reader.u16().ok_or(formerr)?;
    let question = &packet[12..reader.at];
    for _ in 0..u32::from(ancount) + u32::from(nscount) {
        reader.record().ok_or(formerr)?;
    }
    let mut edns = None;
    let mut tsig = None;
    for index in 0..arcount {
        let record = reader.record().ok_or(formerr)?;
        match record.rtype {
            TYPE_OPT => {
                // One OPT, owned by the root (RFC 6891 §6.1.1).
                if edns.is_some() || !record.owner_is_root {
                    return Err(formerr);
                }
                edns = Some(read_opt(packet, &record).ok_or(formerr)?);
            }
            // TSIG comes last (RFC 8945 §5.1).
            TYPE_TSIG if index + 1 == arcount => {
                tsig = Some(read_tsig(packet, &record).ok_or(formerr)?);
            }
            TYPE_TSIG => return Err(formerr),
            _ => {}
        }
    }
    if reader.at != packet.len() {
        return Err(formerr);
    }
    Ok(Query {
        packet,
        id,
        opcode,
        recursion_desired,
        checking_disabled: flags & 0x0010 != 0,
        name,
        question,
        qtype,
        qclass,
        edns,
        tsig,
    })
}

struct Record {
    owner_is_root: bool,
    owner_at: usize,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: (usize, usize),
}

fn read_opt(packet: &[u8], record: &Record) -> Option<Edns> {
    let mut edns = Edns {
        payload: record.class,
        version: (record.ttl >> 16) as u8,
        dnssec_ok: record.ttl & 0x8000 != 0,
        nsid: false,
    };
    let mut options = Reader {
        packet: &packet[..record.rdata.1],
        at: record.rdata.0,
    };
    while options.at < record.rdata.1 {
        let code = options.u16()?;
        let len = usize::from(options.u16()?);
        options.skip(len)?;
        if code == OPTION_NSID {
            edns.nsid = true;
        }
    }
    Some(edns)
}

fn read_tsig(packet: &[u8], record: &Record) -> Option<Tsig> {
    let mut rdata = Reader {
        packet: &packet[..record.rdata.1],
        at: record.rdata.0,
    };
    let algorithm_start = rdata.at;
    rdata.name_uncompressed()?;
    let algorithm = (algorithm_start, rdata.at);
    let time_start = rdata.at;
    rdata.skip(8)?;
    let time_and_fudge = (time_start, rdata.at);
    let mac_len = usize::from(rdata.u16()?);
    rdata.skip(mac_len)?;
    let original_id = rdata.u16()?;
    let _error = rdata.u16()?;
    let other_len = usize::from(rdata.u16()?);
    rdata.skip(other_len)?;
    (rdata.at == record.rdata.1 && record.class == 255).then_some(Tsig {
        key_at: record.owner_at,
        algorithm,
        time_and_fudge,
        original_id,
    })
}

struct Reader<'a> {
    packet: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u16(&mut self) -> Option<u16> {
        let bytes = self.packet.get(self.at..self.at + 2)?;
        self.at += 2;
        Some(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        let bytes = self.packet.get(self.at..self.at + 4)?;
        self.at += 4;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn skip(&mut self, len: usize) -> Option<()> {
        let end = self.at.checked_add(len)?;
        (end <= self.packet.len()).then(|| self.at = end)
    }

    /// The question's name: uncompressed (nothing precedes it to point at), plain labels.
    fn question_name(&mut self) -> Option<QName> {
        let mut name = QName {
            lower: [0; MAX_NAME],
            len: 0,
            starts: [0; MAX_NAME / 2],
            labels: 0,
        };
        let mut len = 0usize;
        loop {
            let label = usize::from(*self.packet.get(self.at)?);
            if label == 0 {
                self.at += 1;
                name.lower[len] = 0;
                name.len = (len + 1) as u8;
                return Some(name);
            }
            // 0xC0 is a pointer, 0x40 and 0x80 obsolete label types: none belong here.
            if label > 63 || len + 1 + label + 1 > MAX_NAME {
                return None;
            }
            let bytes = self.packet.get(self.at + 1..self.at + 1 + label)?;
            name.starts[usize::from(name.labels)] = len as u8;
            name.labels += 1;
            name.lower[len] = label as u8;
            for (slot, byte) in name.lower[len + 1..].iter_mut().zip(bytes) {
                *slot = byte.to_ascii_lowercase();
            }
            len += 1 + label;
            self.at += 1 + label;
        }
    }

    /// A name with no compression pointers (TSIG's algorithm name).
    fn name_uncompressed(&mut self) -> Option<()> {
        let mut len = 0usize;
        loop {
            let label = usize::from(*self.packet.get(self.at)?);
            self.at += 1;
            if label == 0 {
                return Some(());
            }
            len += 1 + label;
            if label > 63 || len + 1 > MAX_NAME {
                return None;
            }
            self.skip(label)?;
        }
    }

    /// Any name, compression pointers allowed (backwards only, bounded).
    fn name(&mut self) -> Option<bool> {
        let start = self.at;
        let mut at = self.at;
        let mut end = None;
        let mut pointers = 0;
        let mut len = 0usize;
        loop {
            let label = *self.packet.get(at)?;
            match label {
                0 => {
                    self.at = end.unwrap_or(at + 1);
                    return Some(at == start);
                }
                0xc0..=0xff => {
                    let low = *self.packet.get(at + 1)?;
                    let target = usize::from(u16::from_be_bytes([label & 0x3f, low]));
                    pointers += 1;
                    if target >= at || pointers > MAX_POINTERS {
                        return None;
                    }
                    end.get_or_insert(at + 2);
                    at = target;
                }
                1..=63 => {
                    len += 1 + usize::from(label);
                    if len + 1 > MAX_NAME {
                        return None;
                    }
                    at += 1 + usize::from(label);
                }
                _ => return None,
            }
        }
    }

    fn record(&mut self) -> Option<Record> {
        let owner_at = self.at;
        let owner_is_root = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = usize::from(self.u16()?);
        let start = self.at;
        self.skip(len)?;
        Some(Record {
            owner_is_root,
            owner_at,
            rtype,
            class,
            ttl,
            rdata: (start, self.at),
        })
    }
}

/// Writes the (possibly compressed) name at `at` in `packet` to `out` uncompressed. `packet`
/// has been read by [`parse`], so the name is known to be well formed.
pub fn copy_name(packet: &[u8], mut at: usize, out: &mut Vec<u8>) {
    for _ in 0..MAX_NAME {
        let Some(&label) = packet.get(at) else {
            break;
        };
        if label >= 0xc0 {
            let Some(&low) = packet.get(at + 1) else {
                break;
            };
            at = usize::from(u16::from_be_bytes([label & 0x3f, low]));
            continue;
        }
        let end = (at + 1 + usize::from(label)).min(packet.len());
        out.extend_from_slice(&packet[at..end]);
        if label == 0 {
            return;
        }
        at = end;
    }
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        packet.extend(arcount.to_be_bytes());
        packet.extend(name);
        packet.extend([0, 1, 0, 1]);
        packet.extend(extra);
        packet
    }

    #[test]
    fn a_plain_query_is_read_and_lower_cased() {
        let packet = query(b"\x03WeB\x04shop\x03svc\0", &[], 0);
        let query = parse(&packet).unwrap();
        assert_eq!(query.id, 0x1234);
        assert!(query.recursion_desired);
        assert_eq!(query.name.wire(), b"\x03web\x04shop\x03svc\0");
        assert_eq!(query.name.label_count(), 3);
        assert_eq!(query.name.label(0), b"web");
        assert_eq!(query.name.labels_before(b"\x03svc\0"), Some(2));
        assert_eq!(query.name.labels_before(b"\x02vc\0"), None);
        assert_eq!(&query.question[..4], b"\x03WeB");
        assert!(query.edns.is_none());
    }

    #[test]
    fn opt_and_its_nsid_option_are_read() {
        let opt = [0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 4, 0, 3, 0, 0];
        let packet = query(b"\x01a\0", &opt, 1);
        let query = parse(&packet).unwrap();
        let edns = query.edns.unwrap();
        assert_eq!(edns.payload, 1232);
        assert!(edns.dnssec_ok && edns.nsid);
        assert_eq!(edns.version, 0);
    }

    #[test]
    fn malformed_queries_are_refused() {
        assert!(matches!(
            parse(&[0; 11]),
            Err(Refusal::Drop(DropReason::Short))
        ));
        let formerr = |packet: &[u8]| matches!(parse(packet), Err(Refusal::FormErr { .. }));
        // A label running past the end; a pointer in the question; trailing bytes.
        assert!(formerr(&query(b"\x28ab", &[], 0)[..15]));
        assert!(formerr(&query(b"\xc0\x0c", &[], 0)));
        assert!(formerr(&query(b"\x01a\0", &[7], 0)));
        // Two OPT records.
        let opt = [0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0];
        assert!(formerr(&query(b"\x01a\0", &[opt, opt].concat(), 2)));
    }
}

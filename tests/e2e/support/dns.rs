//! A small DNS client over real sockets, built on hickory-proto's message types.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

const TIMEOUT: Duration = Duration::from_secs(2);

/// A question and how to ask it.
#[derive(Clone)]
pub struct Ask {
    pub name: String,
    pub qtype: RecordType,
    /// EDNS UDP size to advertise; `None` sends no OPT record.
    pub edns: Option<u16>,
    pub tcp: bool,
}

pub fn ask(name: &str, qtype: RecordType) -> Ask {
    Ask {
        name: name.to_owned(),
        qtype,
        edns: Some(4096),
        tcp: false,
    }
}

impl Ask {
    pub fn tcp(mut self) -> Self {
        self.tcp = true;
        self
    }

    pub fn edns(mut self, size: Option<u16>) -> Self {
        self.edns = size;
        self
    }

    pub fn message(&self) -> Message {
        let mut message = Message::new(fastrand_id(), MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(
            Name::from_ascii(&self.name).expect("name"),
            self.qtype,
        ));
        if let Some(size) = self.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(size);
            message.set_edns(edns);
        }
        message
    }

    /// Sends the question to `server` and decodes the answer.
    pub fn to(&self, server: SocketAddr) -> Message {
        let query = self.message();
        let bytes = query.to_vec().expect("encode");
        let reply = if self.tcp {
            exchange_tcp(server, &bytes)
        } else {
            // Loopback UDP is reliable enough that one retry covers a busy test machine.
            exchange_udp(server, &bytes)
                .or_else(|| exchange_udp(server, &bytes))
                .expect("no UDP answer")
        };
        let message = Message::from_vec(&reply).expect("decode answer");
        assert_eq!(message.metadata.id, query.metadata.id, "answer id");
        message
    }
}

fn fastrand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(1);
    NEXT.fetch_add(7919, Ordering::Relaxed)
}

/// One UDP exchange; `None` if nothing came back within the timeout.
pub fn exchange_udp(server: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.send_to(bytes, server).expect("send");
    let mut buf = vec![0u8; 65535];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// One exchange over a new TCP connection (2-byte length framing).
pub fn exchange_tcp(server: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&server, TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).expect("send");
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).expect("read length");
    let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut reply).expect("read body");
    reply
}

pub fn rcode(message: &Message) -> ResponseCode {
    message.metadata.response_code
}

/// Addresses in the answer section (A and AAAA), in order.
pub fn addresses(message: &Message) -> Vec<IpAddr> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
        .collect()
}

pub fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().expect("ip")).collect()
}

/// SRV answers as (priority, weight, port, target), sorted.
pub fn srv(message: &Message) -> Vec<(u16, u16, u16, String)> {
    let mut out: Vec<_> = message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(srv) => Some((
                srv.priority,
                srv.weight,
                srv.port,
                srv.target.to_ascii().to_lowercase(),
            )),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// Asserts a negative answer: the rcode, the AA bit, no answers and the zone's SOA in authority
/// with the negative TTL.
pub fn assert_negative(message: &Message, rcode: ResponseCode, zone: &str, negative_ttl: u32) {
    assert_eq!(message.metadata.response_code, rcode, "{message}");
    assert!(message.metadata.authoritative, "AA bit: {message}");
    assert!(message.answers.is_empty(), "no answers: {message}");
    let soa = message
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::SOA)
        .unwrap_or_else(|| panic!("SOA in authority: {message}"));
    assert_eq!(soa.name.to_ascii().to_lowercase(), zone, "{message}");
    assert_eq!(soa.ttl, negative_ttl, "negative TTL: {message}");
    match &soa.data {
        RData::SOA(data) => assert_eq!(data.minimum, negative_ttl, "SOA minimum"),
        other => panic!("not an SOA: {other:?}"),
    }
}

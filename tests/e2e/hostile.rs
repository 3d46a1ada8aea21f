//! Malformed and hostile traffic: the server answers FORMERR or drops it, never crashes, never
//! stalls, and keeps answering good queries.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::RecordType;
use proptest::prelude::*;

use crate::support::http::{get, metric};
use crate::support::*;

const GOOD: &str = "nginx.default.svc.clusterset.local.";

fn still_answers(server: &mut Aviator) {
    assert!(
        server.is_running(),
        "aviator died: {}",
        server.stderr_text()
    );
    let udp = ask(GOOD, RecordType::A).to(server.dns);
    assert_eq!(addresses(&udp).len(), 1);
    let tcp = ask(GOOD, RecordType::A).tcp().to(server.dns);
    assert_eq!(addresses(&tcp).len(), 1);
}

/// Sends `packet` and checks that whatever comes back (if anything) is a well-formed response
/// to it.
fn send_and_check(
    socket: &UdpSocket,
    server: SocketAddr,
    packet: &[u8],
) -> Result<(), TestCaseError> {
    socket.send_to(packet, server).expect("send");
    let mut buf = [0u8; 65535];
    if let Ok((n, _)) = socket.recv_from(&mut buf) {
        let reply = Message::from_vec(&buf[..n]);
        prop_assert!(reply.is_ok(), "undecodable reply to {packet:?}");
        let reply = reply.unwrap();
        prop_assert_eq!(reply.metadata.message_type, MessageType::Response);
        prop_assert_eq!(&buf[..2], &packet[..2], "reply id");
    }
    Ok(())
}

fn socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    socket
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
}

fn mutate(mut packet: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = packet.len().max(1);
        match *mutation {
            Mutation::Flip(at, bits) => {
                if let Some(byte) = packet.get_mut(at % len) {
                    *byte ^= bits;
                }
            }
            Mutation::Truncate(at) => packet.truncate(at % len),
            Mutation::Insert(at, byte) => packet.insert(at % len, byte),
        }
    }
    packet
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(a, b)| Mutation::Flip(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
    ]
}

#[test]
fn random_and_mutated_packets_never_hurt_the_server() {
    let mut server = Aviator::start(&process::data("clusterset.yaml"));
    let socket = socket();
    let valid: Vec<Vec<u8>> = [
        ask(GOOD, RecordType::A),
        ask("db.data.svc.clusterset.local.", RecordType::SRV),
        ask(
            "_http._tcp.nginx.default.svc.clusterset.local.",
            RecordType::SRV,
        )
        .edns(None),
    ]
    .iter()
    .map(|a| a.message().to_vec().unwrap())
    .collect();
    let config = ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config.clone());
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..600), |packet| {
            send_and_check(&socket, server.dns, &packet)
        })
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(config);
    runner
        .run(
            &(0..valid.len(), proptest::collection::vec(mutation(), 1..6)),
            |(which, mutations)| {
                let packet = mutate(valid[which].clone(), &mutations);
                if packet.len() < 2 {
                    socket.send_to(&packet, server.dns).unwrap();
                    return Ok(());
                }
                send_and_check(&socket, server.dns, &packet)
            },
        )
        .unwrap();
    still_answers(&mut server);
}

#[test]
fn a_header_with_a_broken_question_gets_formerr() {
    let server = Aviator::start(&process::data("clusterset.yaml"));
    // A valid header announcing one question, followed by a label running past the end.
    let packet = [
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 40, b'a', b'b',
    ];
    let reply = exchange_udp(server.dns, &packet).expect("a FORMERR answer");
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.id, 0x1234);
    assert_eq!(
        reply.metadata.response_code,
        hickory_proto::op::ResponseCode::FormErr
    );
}

#[test]
fn tcp_garbage_and_stalled_clients_do_not_block_others() {
    let mut server = Aviator::start(&process::data("clusterset.yaml"));
    // A client that promises 65535 bytes and sends 3, then sits there.
    let mut stalled = TcpStream::connect(server.dns).unwrap();
    stalled.write_all(&[0xff, 0xff, 1, 2, 3]).unwrap();
    // A client that sends framed garbage.
    let mut garbage = TcpStream::connect(server.dns).unwrap();
    garbage.write_all(&[0, 5, 9, 9, 9, 9, 9, 0, 0]).unwrap();
    // Many idle connections.
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(server.dns).unwrap())
        .collect();
    still_answers(&mut server);
    drop((stalled, garbage, idle));
    still_answers(&mut server);
}

#[test]
fn hostile_packets_are_counted_and_never_logged() {
    // The tests' servers log at info; nothing below may show there.
    let mut server = Aviator::start(&process::data("clusterset.yaml"));
    // Replies are awaited, so a busy machine must not turn a slow one into a failure.
    let socket = socket();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Drain the start-up lines, up to the last: what comes after is what the packets caused.
    server.stderr_until("serving");
    server.stderr_text();
    let formerr = [
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 40, b'a', b'b',
    ];
    // A reply sent to us: QR set.
    let mut response = ask(GOOD, RecordType::A).message().to_vec().unwrap();
    response[2] |= 0x80;
    let good = ask(GOOD, RecordType::A).message().to_vec().unwrap();
    let mut buf = [0u8; 512];
    for round in 0..50 {
        socket.send_to(&[1, 2, 3], server.dns).unwrap();
        socket.send_to(&response, server.dns).unwrap();
        socket.send_to(&formerr, server.dns).unwrap();
        socket.recv_from(&mut buf).expect("FORMERR");
        // From the same socket, so the same thread: once this is answered, the rest were read.
        socket.send_to(&good, server.dns).unwrap();
        socket
            .recv_from(&mut buf)
            .unwrap_or_else(|_| panic!("round {round}"));
    }
    still_answers(&mut server);
    let (_, body) = get(server.admin, "/metrics");
    let dropped = |reason| metric(&body, "aviator_dns_dropped_total", &[("reason", reason)]);
    assert_eq!(dropped("short"), Some(50.0), "{body}");
    assert_eq!(dropped("response"), Some(50.0));
    let formerrs = metric(
        &body,
        "aviator_dns_queries_total",
        &[("qtype", "other"), ("rcode", "FORMERR")],
    );
    assert_eq!(formerrs, Some(50.0));
    let logged = server.stderr_text();
    assert!(logged.is_empty(), "hostile packets were logged:\n{logged}");
}

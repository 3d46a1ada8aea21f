//! DNS protocol details: header bits, EDNS, truncation and TCP, case, ANY, opcodes.

use std::fmt::Write as _;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::support::*;

fn fixture() -> Aviator {
    Aviator::start(&process::data("clusterset.yaml"))
}

#[test]
fn edns_is_answered_with_our_payload_size() {
    let server = fixture();
    let big = ask("nginx.default.svc.clusterset.local.", RecordType::A).to(server.dns);
    let edns = big.edns.as_ref().expect("OPT in answer");
    assert_eq!(edns.max_payload(), 1232, "we advertise at most 1232");
    assert_eq!(edns.version(), 0);
    let plain = ask("nginx.default.svc.clusterset.local.", RecordType::A)
        .edns(None)
        .to(server.dns);
    assert!(plain.edns.is_none(), "no OPT for a client that sent none");
}

#[test]
fn an_unknown_edns_version_gets_badvers() {
    let server = fixture();
    let mut query = ask("nginx.default.svc.clusterset.local.", RecordType::A).message();
    query.edns.as_mut().unwrap().set_version(1);
    let reply = exchange_udp(server.dns, &query.to_vec().unwrap()).expect("answer");
    let reply = Message::from_vec(&reply).unwrap();
    // BADVERS is extended rcode 16 (which hickory decodes under its alias BADSIG).
    assert_eq!(u16::from(reply.metadata.response_code), 16, "{reply}");
    assert_eq!(
        reply.edns.as_ref().map(|e| e.version()),
        Some(0),
        "we speak version 0"
    );
}

/// A headless service with enough endpoints that its answer cannot fit in 1232 bytes.
fn wide_config() -> String {
    let mut text = std::fs::read_to_string(process::data("clusterset.yaml")).unwrap();
    text.push_str(
        "  - name: wide\n    namespace: data\n    type: Headless\n    ports: [{ name: p, port: 9000 }]\n    exports:\n      - cluster: west\n        endpoints:\n",
    );
    for i in 0..120 {
        writeln!(
            text,
            "          - {{ hostname: w-{i}, addresses: [10.9.{}.{}] }}",
            i / 200,
            i % 200 + 1
        )
        .unwrap();
    }
    text
}

#[test]
fn large_udp_answers_are_truncated_and_complete_over_tcp() {
    let server = Aviator::start_with(&wide_config());
    let name = "wide.data.svc.clusterset.local.";
    let udp = ask(name, RecordType::A).to(server.dns);
    assert!(udp.metadata.truncation, "TC bit expected");
    assert!(addresses(&udp).len() < 120);
    let tcp = ask(name, RecordType::A).tcp().to(server.dns);
    assert!(!tcp.metadata.truncation);
    assert_eq!(addresses(&tcp).len(), 120);
    // Without EDNS the limit is 512 bytes; even the SRV answer is truncated.
    let small = ask(name, RecordType::SRV).edns(None).to(server.dns);
    assert!(small.metadata.truncation);
    let full = ask(name, RecordType::SRV).tcp().to(server.dns);
    assert_eq!(srv(&full).len(), 120);
}

#[test]
fn tcp_is_served_on_the_same_port() {
    let server = fixture();
    let answer = ask("echo.default.svc.clusterset.local.", RecordType::A)
        .tcp()
        .to(server.dns);
    assert_eq!(addresses(&answer), ips(&["10.1.0.20"]));
    assert!(answer.metadata.authoritative);
}

#[test]
fn names_match_case_insensitively_and_the_question_is_echoed_as_sent() {
    let server = fixture();
    let asked = "EcHo.DeFaUlT.sVc.ClusterSet.LOCAL.";
    let answer = ask(asked, RecordType::A).to(server.dns);
    assert_eq!(addresses(&answer), ips(&["10.1.0.20"]));
    assert_eq!(answer.queries[0].name().to_ascii(), asked);
}

#[test]
fn any_gets_a_minimal_answer() {
    let server = fixture();
    let answer = ask("web.shop.svc.clusterset.local.", RecordType::ANY).to(server.dns);
    assert_eq!(answer.answers.len(), 1, "one RRset, one record: {answer}");
    assert_eq!(answer.answers[0].record_type(), RecordType::A);
    let apex = ask("clusterset.local.", RecordType::ANY).to(server.dns);
    assert_eq!(apex.answers.len(), 1);
    assert_eq!(apex.answers[0].record_type(), RecordType::SOA);
    let missing = ask("nope.default.svc.clusterset.local.", RecordType::ANY).to(server.dns);
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn other_opcodes_get_notimp_and_zone_transfers_are_refused() {
    let server = fixture();
    let mut notify = Message::new(77, MessageType::Query, OpCode::Notify);
    notify.add_query(Query::query(
        Name::from_ascii("clusterset.local.").unwrap(),
        RecordType::SOA,
    ));
    let reply =
        Message::from_vec(&exchange_udp(server.dns, &notify.to_vec().unwrap()).unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NotImp);
    let axfr = ask("clusterset.local.", RecordType::AXFR)
        .tcp()
        .to(server.dns);
    assert_eq!(axfr.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn a_query_with_two_questions_is_formerr() {
    let server = fixture();
    let mut query = ask("nginx.default.svc.clusterset.local.", RecordType::A).message();
    query.add_query(Query::query(
        Name::from_ascii("echo.default.svc.clusterset.local.").unwrap(),
        RecordType::A,
    ));
    let reply =
        Message::from_vec(&exchange_udp(server.dns, &query.to_vec().unwrap()).unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn a_negative_answers_soa_lives_no_longer_than_the_soa_itself() {
    // RFC 2308 §3: min(SOA TTL, SOA MINIMUM), here the record TTL (2) under a MINIMUM of 30.
    let text = std::fs::read_to_string(process::data("clusterset.yaml"))
        .unwrap()
        .replace(
            "  ttl: 7\n  negativeTtl: 3\n",
            "  ttl: 2\n  negativeTtl: 30\n",
        );
    assert!(text.contains("negativeTtl: 30"));
    let server = Aviator::start_with(&text);
    let answer = ask("nope.default.svc.clusterset.local.", RecordType::A).to(server.dns);
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
    let soa = answer
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::SOA)
        .expect("SOA in authority");
    assert_eq!(soa.ttl, 2, "{answer}");
    match &soa.data {
        hickory_proto::rr::RData::SOA(data) => assert_eq!(data.minimum, 30),
        other => panic!("not an SOA: {other:?}"),
    }
}

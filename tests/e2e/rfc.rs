//! The answers the RFCs and Lighthouse's own name forms require, each over a real socket: the
//! owner of an answer is the name asked, Lighthouse's per-cluster port names, empty
//! non-terminals, a name server that resolves, our own EDNS size, TSIG with an unknown key,
//! and NSID / `id.server`.

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use crate::support::*;

const ZONE: &str = "clusterset.local.";
const NEGATIVE_TTL: u32 = 3;
const IDENTITY: &str = "replica-a";

fn name(relative: &str) -> String {
    format!("{relative}.{ZONE}")
}

fn fixture() -> Aviator {
    let text = std::fs::read_to_string(process::data("clusterset.yaml")).unwrap();
    Aviator::start_with_args(&text, &["--identity", IDENTITY])
}

#[test]
fn an_answer_is_owned_by_the_name_asked() {
    // RFC 1034 §4.3.2: a stub resolver matches the answer's owner against its question.
    let server = fixture();
    for asked in [
        "http.tcp.nginx.default.svc",
        "_http._tcp.nginx.default.svc",
        "HTTP.Tcp.Nginx.default.svc",
        "_http.tcp.west.nginx.default.svc",
    ] {
        let asked = name(asked);
        let answer = ask(&asked, RecordType::SRV).to(server.dns);
        assert!(!answer.answers.is_empty(), "{asked}: {answer}");
        for record in &answer.answers {
            assert_eq!(record.name.to_ascii(), asked, "{answer}");
        }
    }
}

#[test]
fn lighthouses_per_cluster_port_names_answer_that_clusters_port() {
    let server = fixture();
    for form in ["_http._tcp", "http.tcp", "_http.tcp", "http._tcp"] {
        let answer = ask(
            &name(&format!("{form}.west.nginx.default.svc")),
            RecordType::SRV,
        )
        .to(server.dns);
        assert_eq!(
            srv(&answer),
            [(0, 100, 80, name("west.nginx.default.svc"))],
            "{form}: {answer}"
        );
    }
    // Headless: one record per ready endpoint of that cluster, aimed at the endpoint.
    let headless = ask(&name("_pg._tcp.west.db.data.svc"), RecordType::SRV).to(server.dns);
    let mut targets: Vec<String> = srv(&headless).into_iter().map(|s| s.3).collect();
    targets.sort();
    assert_eq!(
        targets,
        [name("db-0.west.db.data.svc"), name("db-1.west.db.data.svc")]
    );
    // A cluster that does not export the service, or a port it does not have: no such name.
    for missing in [
        "_http._tcp.east.nginx.default.svc",
        "_grpc._tcp.west.nginx.default.svc",
        "_http._udp.west.nginx.default.svc",
    ] {
        let answer = ask(&name(missing), RecordType::SRV).to(server.dns);
        assert_negative(&answer, ResponseCode::NXDomain, ZONE, NEGATIVE_TTL);
    }
    // The name exists, so other types get NODATA, not NXDOMAIN.
    let a = ask(&name("_http._tcp.west.nginx.default.svc"), RecordType::A).to(server.dns);
    assert_negative(&a, ResponseCode::NoError, ZONE, NEGATIVE_TTL);
}

#[test]
fn names_with_names_below_them_exist_without_data() {
    // RFC 8020: an empty non-terminal is NOERROR with no data, never NXDOMAIN.
    let server = fixture();
    for ent in [
        "tcp.nginx.default.svc",
        "_tcp.nginx.default.svc",
        "tcp.west.nginx.default.svc",
        "_tcp.west.nginx.default.svc",
        // West serves UDP port `dns`; central does not, so the service-wide set has none.
        "udp.west.multiport.default.svc",
        "dns",
    ] {
        let answer = ask(&name(ent), RecordType::SRV).to(server.dns);
        assert_negative(&answer, ResponseCode::NoError, ZONE, NEGATIVE_TTL);
    }
    // Nothing lies below these.
    for missing in [
        "udp.nginx.default.svc",
        "_udp.west.nginx.default.svc",
        "udp.multiport.default.svc",
    ] {
        let answer = ask(&name(missing), RecordType::SRV).to(server.dns);
        assert_negative(&answer, ResponseCode::NXDomain, ZONE, NEGATIVE_TTL);
    }
}

#[test]
fn the_name_server_that_ns_and_soa_name_resolves() {
    let server = fixture();
    let ns = ask(ZONE, RecordType::NS).to(server.dns);
    let host = match &ns.answers[0].data {
        RData::NS(ns) => ns.0.to_ascii(),
        other => panic!("not an NS: {other:?}"),
    };
    let soa = ask(ZONE, RecordType::SOA).to(server.dns);
    match &soa.answers[0].data {
        RData::SOA(soa) => assert_eq!(soa.mname.to_ascii(), host),
        other => panic!("not an SOA: {other:?}"),
    }
    // It serves on 127.0.0.1, so that is the name server's address.
    let address = ask(&host, RecordType::A).to(server.dns);
    assert_eq!(addresses(&address), ips(&["127.0.0.1"]), "{address}");
    let v6 = ask(&host, RecordType::AAAA).to(server.dns);
    assert_negative(&v6, ResponseCode::NoError, ZONE, NEGATIVE_TTL);
    // Told its addresses, it answers them.
    let text = std::fs::read_to_string(process::data("clusterset.yaml")).unwrap();
    let told = Aviator::start_with_args(&text, &["--ns-address", "10.96.0.10,fd00::10"]);
    let both = [
        addresses(&ask(&host, RecordType::A).to(told.dns)),
        addresses(&ask(&host, RecordType::AAAA).to(told.dns)),
    ]
    .concat();
    assert_eq!(both, ips(&["10.96.0.10", "fd00::10"]));
}

#[test]
fn our_opt_says_our_size_and_the_answer_fits_the_clients() {
    // RFC 6891 §6.2.3-6.2.5: the responder advertises its own size; the requester's bounds
    // what is sent.
    let text = std::fs::read_to_string(process::data("clusterset.yaml")).unwrap();
    let server = Aviator::start_with_args(&text, &["--udp-payload", "1400"]);
    for theirs in [512u16, 1232, 4096] {
        let answer = ask(&name("nginx.default.svc"), RecordType::A)
            .edns(Some(theirs))
            .to(server.dns);
        assert_eq!(
            answer.edns.as_ref().unwrap().max_payload(),
            1400,
            "{theirs}"
        );
    }
    // A client that takes 600 bytes gets at most 600, truncated, and still our size.
    let mut query = ask(&name("db.data.svc"), RecordType::SRV).message();
    query.edns.as_mut().unwrap().set_max_payload(600);
    let mut wide = text.clone();
    wide.push_str("  - name: wide\n    namespace: data\n    type: Headless\n    ports: [{ name: p, port: 9000 }]\n    exports:\n      - cluster: west\n        endpoints:\n");
    for i in 0..40 {
        wide.push_str(&format!(
            "          - {{ hostname: w-{i}, addresses: [10.9.0.{}] }}\n",
            i + 1
        ));
    }
    let server = Aviator::start_with_args(&wide, &["--udp-payload", "1400"]);
    query.queries[0] = Query::query(
        Name::from_ascii(name("wide.data.svc")).unwrap(),
        RecordType::A,
    );
    let reply = exchange_udp(server.dns, &query.to_vec().unwrap()).expect("an answer");
    assert!(
        reply.len() <= 600,
        "{} bytes to a 600-byte client",
        reply.len()
    );
    let reply = Message::from_vec(&reply).unwrap();
    assert!(reply.metadata.truncation);
    assert_eq!(reply.edns.as_ref().unwrap().max_payload(), 1400);
    // Over 1232 bytes but under 1400: a 1400-byte client gets it whole.
    query.edns.as_mut().unwrap().set_max_payload(1400);
    let reply = exchange_udp(server.dns, &query.to_vec().unwrap()).expect("an answer");
    let reply = Message::from_vec(&reply).unwrap();
    assert!(!reply.metadata.truncation);
    assert_eq!(addresses(&reply).len(), 40);
}

/// `query` with a TSIG record signed by `key.example.` (a key Aviator does not have) appended.
fn signed(query: &Message) -> (Vec<u8>, u16) {
    let mut bytes = query.to_vec().unwrap();
    let arcount = u16::from_be_bytes([bytes[10], bytes[11]]) + 1;
    bytes[10..12].copy_from_slice(&arcount.to_be_bytes());
    let original_id = query.metadata.id;
    bytes.extend_from_slice(b"\x03key\x07example\x00");
    bytes.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
    let mut rdata = b"\x0bhmac-sha256\x00".to_vec();
    rdata.extend_from_slice(&[0, 0, 0x65, 0x00, 0x00, 0x00, 1, 44]);
    rdata.extend_from_slice(&32u16.to_be_bytes());
    rdata.extend_from_slice(&[0xab; 32]);
    rdata.extend_from_slice(&original_id.to_be_bytes());
    rdata.extend_from_slice(&[0, 0, 0, 0]);
    bytes.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    bytes.extend_from_slice(&rdata);
    (bytes, original_id)
}

#[test]
fn a_query_signed_with_an_unknown_key_gets_notauth_and_badkey() {
    // RFC 8945 §5.2: NOTAUTH, and an unsigned TSIG record (no MAC) with error BADKEY (17).
    let server = fixture();
    for tcp in [false, true] {
        let query = ask(&name("nginx.default.svc"), RecordType::A).message();
        let (bytes, original_id) = signed(&query);
        let reply = if tcp {
            exchange_tcp(server.dns, &bytes)
        } else {
            exchange_udp(server.dns, &bytes).expect("an answer")
        };
        assert_eq!(reply[3] & 0x0f, 9, "rcode NOTAUTH");
        assert_eq!(u16::from_be_bytes([reply[6], reply[7]]), 0, "no answers");
        let tail = &reply[reply.len() - 8..];
        let mut expected = vec![0, 0];
        expected.extend_from_slice(&original_id.to_be_bytes());
        expected.extend_from_slice(&[0, 17, 0, 0]);
        assert_eq!(
            tail, expected,
            "MAC size 0, original id, BADKEY, no other data"
        );
        assert!(
            reply.windows(13).any(|w| w == b"\x03key\x07example\x00"),
            "the key's name is repeated"
        );
    }
}

#[test]
fn nsid_and_id_server_name_the_replica_that_answered() {
    let server = fixture();
    // RFC 5001: an empty NSID option in the query asks for it.
    let mut bytes = ask(&name("nginx.default.svc"), RecordType::A)
        .message()
        .to_vec()
        .unwrap();
    let len = bytes.len();
    bytes[len - 2..].copy_from_slice(&4u16.to_be_bytes());
    bytes.extend_from_slice(&[0, 3, 0, 0]);
    let reply = exchange_udp(server.dns, &bytes).expect("an answer");
    let mut option = vec![0, 3, 0, IDENTITY.len() as u8];
    option.extend_from_slice(IDENTITY.as_bytes());
    assert!(reply.ends_with(&option), "NSID option in {reply:?}");
    assert_eq!(addresses(&Message::from_vec(&reply).unwrap()).len(), 1);
    // Not asked for, not sent.
    let plain = ask(&name("nginx.default.svc"), RecordType::A).to(server.dns);
    assert!(plain.edns.unwrap().options().as_ref().is_empty());

    for asked in ["id.server.", "hostname.bind.", "ID.SERVER."] {
        let mut query = Message::new(9, MessageType::Query, OpCode::Query);
        let mut question = Query::query(Name::from_ascii(asked).unwrap(), RecordType::TXT);
        question.set_query_class(DNSClass::CH);
        query.add_query(question);
        let reply = Message::from_vec(&exchange_udp(server.dns, &query.to_vec().unwrap()).unwrap())
            .unwrap();
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        match &reply.answers[..] {
            [record] => {
                assert_eq!(record.dns_class, DNSClass::CH);
                assert_eq!(record.data.to_string(), IDENTITY);
            }
            other => panic!("{asked}: {other:?}"),
        }
    }
    let mut version = Message::new(9, MessageType::Query, OpCode::Query);
    let mut question = Query::query(Name::from_ascii("version.bind.").unwrap(), RecordType::TXT);
    question.set_query_class(DNSClass::CH);
    version.add_query(question);
    let reply =
        Message::from_vec(&exchange_udp(server.dns, &version.to_vec().unwrap()).unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
}

//! Every row of reference §2's answer table, asked of a running server.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::support::*;

const ZONE: &str = "clusterset.local.";
const TTL: u32 = 7;
const NEGATIVE_TTL: u32 = 3;

fn fixture() -> Aviator {
    Aviator::start(&process::data("clusterset.yaml"))
}

fn name(relative: &str) -> String {
    format!("{relative}.{ZONE}")
}

#[test]
fn clusterset_ip_a_is_one_record_of_an_eligible_cluster() {
    let server = fixture();
    for _ in 0..4 {
        let answer = ask(&name("nginx.default.svc"), RecordType::A).to(server.dns);
        assert_eq!(rcode(&answer), ResponseCode::NoError);
        assert!(answer.metadata.authoritative);
        let got = addresses(&answer);
        assert_eq!(got.len(), 1, "{answer}");
        assert!(
            ips(&["10.2.0.10", "10.3.0.10"]).contains(&got[0]),
            "{answer}"
        );
        assert_eq!(answer.answers[0].ttl, TTL);
    }
}

#[test]
fn clusterset_vips_are_answered_without_selection() {
    let server = fixture();
    let a = ask(&name("api.default.svc"), RecordType::A).to(server.dns);
    assert_eq!(addresses(&a), ips(&["10.100.0.5"]));
    let aaaa = ask(&name("api.default.svc"), RecordType::AAAA).to(server.dns);
    assert_eq!(addresses(&aaaa), ips(&["fd00:100::5"]));
}

#[test]
fn headless_a_is_every_ready_endpoint_of_every_eligible_cluster() {
    let server = fixture();
    let answer = ask(&name("db.data.svc"), RecordType::A).to(server.dns);
    let mut got = addresses(&answer);
    got.sort();
    // db-2 is not ready; north is disconnected.
    assert_eq!(got, ips(&["10.2.1.1", "10.2.1.2", "10.3.1.1"]));
}

#[test]
fn a_cluster_name_answers_that_cluster_even_when_unhealthy() {
    let server = fixture();
    let cases = [
        ("west.nginx.default.svc", "10.2.0.10"),
        ("east.spill.default.svc", "10.1.0.21"), // not ready
        ("north.cut.default.svc", "10.4.0.1"),   // disconnected
    ];
    for (relative, ip) in cases {
        let answer = ask(&name(relative), RecordType::A).to(server.dns);
        assert_eq!(addresses(&answer), ips(&[ip]), "{relative}");
        assert!(answer.metadata.authoritative);
    }
    let headless = ask(&name("west.db.data.svc"), RecordType::A).to(server.dns);
    let mut got = addresses(&headless);
    got.sort();
    assert_eq!(got, ips(&["10.2.1.1", "10.2.1.2"]));
}

#[test]
fn a_hostname_answers_that_headless_endpoint() {
    let server = fixture();
    let west = ask(&name("db-0.west.db.data.svc"), RecordType::A).to(server.dns);
    assert_eq!(addresses(&west), ips(&["10.2.1.1"]));
    let central = ask(&name("db-0.central.db.data.svc"), RecordType::A).to(server.dns);
    assert_eq!(addresses(&central), ips(&["10.3.1.1"]));
    // A known endpoint that is not ready: the name exists, it has no address now.
    let not_ready = ask(&name("db-2.west.db.data.svc"), RecordType::A).to(server.dns);
    assert_negative(&not_ready, ResponseCode::NoError, ZONE, NEGATIVE_TTL);
}

#[test]
fn srv_of_a_clusterset_ip_service_is_one_record_per_common_port() {
    let server = fixture();
    let answer = ask(&name("nginx.default.svc"), RecordType::SRV).to(server.dns);
    assert_eq!(srv(&answer), [(0, 100, 80, name("nginx.default.svc"))]);
    // central does not serve the dns port, so only http is common to every export.
    let multi = ask(&name("multiport.default.svc"), RecordType::SRV).to(server.dns);
    assert_eq!(srv(&multi), [(0, 100, 80, name("multiport.default.svc"))]);
}

#[test]
fn srv_of_a_headless_service_is_one_record_per_ready_endpoint_and_port() {
    let server = fixture();
    let answer = ask(&name("db.data.svc"), RecordType::SRV).to(server.dns);
    let targets: Vec<(u16, String)> = srv(&answer).into_iter().map(|s| (s.2, s.3)).collect();
    assert_eq!(
        targets,
        [
            (5432, name("db-0.central.db.data.svc")),
            (5432, name("db-0.west.db.data.svc")),
            (5432, name("db-1.west.db.data.svc")),
        ]
    );
    assert!(srv(&answer).iter().all(|s| s.0 == 0));
}

#[test]
fn srv_of_a_named_port_with_and_without_underscores() {
    let server = fixture();
    let with = ask(&name("_http._tcp.nginx.default.svc"), RecordType::SRV).to(server.dns);
    assert_eq!(srv(&with), [(0, 100, 80, name("nginx.default.svc"))]);
    let without = ask(&name("http.tcp.nginx.default.svc"), RecordType::SRV).to(server.dns);
    assert_eq!(srv(&without), srv(&with));
    let headless = ask(&name("_pg._tcp.db.data.svc"), RecordType::SRV).to(server.dns);
    assert_eq!(srv(&headless).len(), 3);
    // A port the service does not have, or the wrong protocol: no such name.
    for missing in [
        "_grpc._tcp.nginx.default.svc",
        "_http._udp.nginx.default.svc",
    ] {
        let answer = ask(&name(missing), RecordType::SRV).to(server.dns);
        assert_negative(&answer, ResponseCode::NXDomain, ZONE, NEGATIVE_TTL);
    }
    // The protocol label alone is an empty non-terminal.
    let ent = ask(&name("_tcp.nginx.default.svc"), RecordType::SRV).to(server.dns);
    assert_negative(&ent, ResponseCode::NoError, ZONE, NEGATIVE_TTL);
}

#[test]
fn srv_of_a_cluster_name() {
    let server = fixture();
    let answer = ask(&name("west.nginx.default.svc"), RecordType::SRV).to(server.dns);
    assert_eq!(srv(&answer), [(0, 100, 80, name("west.nginx.default.svc"))]);
    let headless = ask(&name("west.db.data.svc"), RecordType::SRV).to(server.dns);
    let targets: Vec<String> = srv(&headless).into_iter().map(|s| s.3).collect();
    assert_eq!(
        targets,
        [name("db-0.west.db.data.svc"), name("db-1.west.db.data.svc")]
    );
}

#[test]
fn dns_version_soa_and_ns() {
    let server = fixture();
    let txt = ask(&name("dns-version"), RecordType::TXT).to(server.dns);
    match &txt.answers[0].data {
        RData::TXT(data) => assert_eq!(data.to_string(), "1.1.0"),
        other => panic!("not TXT: {other:?}"),
    }
    let soa = ask(ZONE, RecordType::SOA).to(server.dns);
    assert_eq!(soa.answers.len(), 1);
    assert!(matches!(soa.answers[0].data, RData::SOA(_)));
    assert!(soa.metadata.authoritative);
    let ns = ask(ZONE, RecordType::NS).to(server.dns);
    assert!(matches!(ns.answers[0].data, RData::NS(_)), "{ns}");
}

#[test]
fn unknown_and_malformed_names_are_nxdomain_with_soa() {
    let server = fixture();
    let unknown = [
        "nope.default.svc",       // unknown service
        "nginx.nowhere.svc",      // unknown namespace
        "mars.nginx.default.svc", // unknown cluster
        "east.nginx.default.svc", // a cluster that does not export it
        "db-9.west.db.data.svc",  // unknown hostname
        "10-2-1-1.data.pod",      // pod names are not served
        "nginx.default.pod",
        "a.b.c.nginx.default.svc", // too deep
        "nginx.default",           // no svc label
        "something",
    ];
    for relative in unknown {
        let answer = ask(&name(relative), RecordType::A).to(server.dns);
        assert_negative(&answer, ResponseCode::NXDomain, ZONE, NEGATIVE_TTL);
    }
}

#[test]
fn known_names_without_data_are_nodata_with_soa() {
    let server = fixture();
    let cases = [
        ("nginx.default.svc", RecordType::AAAA), // IPv4-only service
        ("dark.default.svc", RecordType::A),     // no eligible cluster
        ("dark.default.svc", RecordType::SRV),
        ("nginx.default.svc", RecordType::MX), // a type services never have
        ("default.svc", RecordType::A),        // empty non-terminals
        ("svc", RecordType::A),
        ("dns-version", RecordType::A),
    ];
    for (relative, qtype) in cases {
        let answer = ask(&name(relative), qtype).to(server.dns);
        assert_negative(&answer, ResponseCode::NoError, ZONE, NEGATIVE_TTL);
    }
    let apex = ask(ZONE, RecordType::A).to(server.dns);
    assert_negative(&apex, ResponseCode::NoError, ZONE, NEGATIVE_TTL);
}

#[test]
fn names_outside_every_zone_are_refused() {
    let server = fixture();
    for outside in ["example.com.", "local.", "clusterset.local.evil.", "."] {
        let answer = ask(outside, RecordType::A).to(server.dns);
        assert_eq!(rcode(&answer), ResponseCode::Refused, "{outside}");
        assert!(!answer.metadata.authoritative);
        assert!(!answer.metadata.recursion_available);
        assert!(answer.answers.is_empty());
    }
}

#[test]
fn every_zone_serves_the_same_names() {
    let server = fixture();
    let answer = ask("nginx.default.svc.mesh.example.", RecordType::A).to(server.dns);
    assert_eq!(
        answer.answers[0].name.to_ascii(),
        "nginx.default.svc.mesh.example."
    );
    assert!(ips(&["10.2.0.10", "10.3.0.10"]).contains(&addresses(&answer)[0]));
    let missing = ask("nope.default.svc.mesh.example.", RecordType::A).to(server.dns);
    assert_negative(
        &missing,
        ResponseCode::NXDomain,
        "mesh.example.",
        NEGATIVE_TTL,
    );
}

#[test]
fn the_example_answers_with_the_default_ttl() {
    let server = Aviator::start(&process::example());
    let answer = ask("nginx.default.svc.clusterset.local.", RecordType::A).to(server.dns);
    assert_eq!(answer.answers[0].ttl, 5);
    assert!(ips(&["10.2.0.10", "10.3.0.10"]).contains(&addresses(&answer)[0]));
}

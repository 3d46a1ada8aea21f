//! The admin port: Prometheus metrics, liveness and readiness.

use hickory_proto::rr::RecordType;

use crate::support::http::{get, metric};
use crate::support::*;

#[test]
fn health_and_readiness_answer() {
    let server = Aviator::start(&process::example());
    assert_eq!(get(server.admin, "/healthz").0, 200);
    assert_eq!(get(server.admin, "/readyz").0, 200);
    assert_eq!(get(server.admin, "/nope").0, 404);
}

#[test]
fn metrics_count_queries_by_type_and_rcode_and_answers_by_cluster() {
    let server = Aviator::start(&process::example());
    for _ in 0..4 {
        ask("nginx.default.svc.clusterset.local.", RecordType::A).to(server.dns);
    }
    ask("nope.default.svc.clusterset.local.", RecordType::AAAA).to(server.dns);
    ask("example.com.", RecordType::A).to(server.dns);
    let (status, body) = get(server.admin, "/metrics");
    assert_eq!(status, 200);
    let queries = |qtype, rcode| {
        metric(
            &body,
            "aviator_dns_queries_total",
            &[("qtype", qtype), ("rcode", rcode)],
        )
    };
    assert_eq!(queries("A", "NOERROR"), Some(4.0), "{body}");
    assert_eq!(queries("AAAA", "NXDOMAIN"), Some(1.0));
    assert_eq!(queries("A", "REFUSED"), Some(1.0));
    let answers = |cluster| {
        metric(
            &body,
            "aviator_dns_answers_total",
            &[
                ("namespace", "default"),
                ("service", "nginx"),
                ("cluster", cluster),
            ],
        )
    };
    // Strict rotation over two clusters: two answers each.
    assert_eq!(answers("west"), Some(2.0), "{body}");
    assert_eq!(answers("central"), Some(2.0));
    assert_eq!(metric(&body, "aviator_services", &[]), Some(7.0));
}

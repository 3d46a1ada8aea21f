//! Reloads that cannot hurt: a file is taken only once whole, a huge or hopeless file is refused
//! early and said in one line, a reload that drops most services is counted, and the series of
//! removed services leave `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::support::http::{get, metric};
use crate::support::process::eventually;
use crate::support::*;

/// A clusterset of `services` round-robin services `svc-<i>.ns`, over east and west, with the
/// first service's east address `first_ip`.
fn clusterset(services: usize, first_ip: &str) -> String {
    let mut text =
        String::from("localCluster: east\nclusters: [{ id: east }, { id: west }]\nservices:\n");
    for i in 0..services {
        let east = if i == 0 {
            first_ip.to_owned()
        } else {
            format!("10.1.{}.{}", i / 250, i % 250 + 1)
        };
        text.push_str(&format!(
            "  - name: svc-{i}\n    namespace: ns\n    policy: {{ preferLocal: false }}\n    exports:\n      - {{ cluster: east, ips: [{east}] }}\n      - {{ cluster: west, ips: [10.2.0.1] }}\n"
        ));
    }
    text
}

/// Log text without its colours.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

fn counter(server: &Aviator, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (_, body) = get(server.admin, "/metrics");
    metric(&body, name, labels).unwrap_or(0.0)
}

#[test]
fn a_file_written_with_a_pause_is_served_only_once_whole() {
    let server = Aviator::start_with(&clusterset(12, "10.1.9.1"));
    let name = "svc-0.ns.svc.clusterset.local.";
    // Ask all along: the prefix, if it were taken, would answer NXDOMAIN.
    let done = Arc::new(AtomicBool::new(false));
    let nxdomains = Arc::new(AtomicUsize::new(0));
    let asker = {
        let (done, nxdomains, dns) = (done.clone(), nxdomains.clone(), server.dns);
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if rcode(&ask(name, RecordType::A).to(dns)) == ResponseCode::NXDomain {
                    nxdomains.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    // Written in place in two parts, as a slow writer does: the first part is a valid
    // clusterset of no services.
    let whole = clusterset(12, "10.1.9.9");
    let cut = whole.find("services:").unwrap();
    std::fs::write(&server.config, &whole[..cut]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    std::fs::write(&server.config, &whole).unwrap();
    eventually("the whole file to be served", || {
        counter(&server, "aviator_config_reloads_total", &[("result", "ok")]) >= 1.0
    });
    done.store(true, Ordering::Relaxed);
    asker.join().unwrap();
    assert_eq!(
        nxdomains.load(Ordering::Relaxed),
        0,
        "the prefix was served"
    );
    assert_eq!(
        counter(&server, "aviator_config_reloads_total", &[("result", "ok")]),
        1.0,
        "only the whole file is taken"
    );
    assert_eq!(
        counter(&server, "aviator_config_mass_drops_total", &[]),
        0.0
    );
    let answered: Vec<_> = (0..4)
        .flat_map(|_| addresses(&ask(name, RecordType::A).to(server.dns)))
        .collect();
    assert!(
        answered.contains(&"10.1.9.9".parse().unwrap()),
        "{answered:?}"
    );
}

#[test]
fn a_reload_that_drops_most_services_is_counted_and_their_series_go() {
    let server = Aviator::start_with(&clusterset(12, "10.1.9.1"));
    let removed = [
        ("namespace", "ns"),
        ("service", "svc-11"),
        ("cluster", "west"),
    ];
    ask("svc-11.ns.svc.clusterset.local.", RecordType::A).to(server.dns);
    assert!(
        counter(&server, "aviator_dns_answers_total", &removed) >= 0.0
            && get(server.admin, "/metrics")
                .1
                .contains("service=\"svc-11\""),
        "a served service has its series"
    );
    server.stderr_text();
    server.rewrite_config(&clusterset(2, "10.1.9.1"));
    eventually("the mass drop to be counted", || {
        counter(&server, "aviator_config_mass_drops_total", &[]) == 1.0
    });
    // Taken, since valid: the removed service is gone, the kept one answers.
    eventually("the smaller clusterset to be served", || {
        rcode(&ask("svc-11.ns.svc.clusterset.local.", RecordType::A).to(server.dns))
            == ResponseCode::NXDomain
    });
    let (_, body) = get(server.admin, "/metrics");
    assert!(!body.contains("service=\"svc-11\""), "{body}");
    assert!(body.contains("service=\"svc-1\""), "{body}");
    let log = plain(&server.stderr_until("drops most services"));
    assert!(
        log.contains("before=12") && log.contains("after=2"),
        "{log}"
    );
}

#[test]
fn a_file_too_large_or_too_wrong_is_refused_early_in_one_line() {
    let server = Aviator::start_with_args(
        &clusterset(2, "10.1.9.1"),
        &["--max-config-bytes", "100000"],
    );
    server.stderr_text();
    let padded = format!("{}#{}\n", clusterset(2, "10.1.9.2"), "x".repeat(100_000));
    server.rewrite_config(&padded);
    let log = plain(&server.stderr_until("rejected"));
    assert!(log.contains("more than the limit of 100000"), "{log}");

    // 2,000 bad exports: the first 100 errors are listed, the rest counted, in one line.
    let mut hopeless = clusterset(1, "10.1.9.1");
    for _ in 0..2_000 {
        hopeless.push_str("      - { cluster: mars, ips: [10.9.0.1] }\n");
    }
    server.rewrite_config(&hopeless);
    let log = plain(&server.stderr_until("rejected"));
    let line = log.lines().last().unwrap();
    assert_eq!(line.matches("  - ").count(), 100, "{line}");
    let more: usize = line
        .split("... and ")
        .nth(1)
        .filter(|rest| rest.contains(" more, not listed"))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of the rest: {line}"));
    assert!(more >= 1_900, "{line}");
    assert!(line.contains(&format!("{} errors:", more + 100)), "{line}");

    // And the last good state served all along; a valid edit is taken at once after.
    server.rewrite_config(&clusterset(2, "10.1.9.3"));
    eventually("the valid edit to be served", || {
        (0..4)
            .flat_map(|_| {
                addresses(&ask("svc-0.ns.svc.clusterset.local.", RecordType::A).to(server.dns))
            })
            .any(|ip| ip == "10.1.9.3".parse::<std::net::IpAddr>().unwrap())
    });
}

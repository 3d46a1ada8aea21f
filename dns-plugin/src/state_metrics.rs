//! The metrics that describe the clusterset now (answers per export, the optimizer's shares,
//! the probes' figures), rendered at each scrape from the state itself rather than kept in the
//! metrics registry.
//!
//! The registry cannot forget a series, so a series kept there outlives its service: after a
//! reload from 20,000 services to 7, `/metrics` would still list the 20,000. Read from the
//! serving snapshot and the prober's targets, a series exists exactly while its export does.
//! Their cardinality is one series per export for each, bounded by the clusterset.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use aviator_broker::probe::{TargetKey, TargetReport};

use crate::metrics;
use crate::snapshot::Snapshot;

/// Appends the state's series to `out`, in Prometheus' text format.
pub fn render(
    snapshot: Option<&Snapshot>,
    probes: &HashMap<TargetKey, TargetReport>,
    out: &mut String,
) {
    if let Some(snapshot) = snapshot {
        answers(snapshot, out);
        shares(snapshot, out);
    }
    probe_figures(probes, out);
}

fn answers(snapshot: &Snapshot, out: &mut String) {
    // A service served in several zones has a counter in each: the series is their sum.
    let mut totals: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    snapshot.answer_counts(|namespace, service, cluster, count| {
        let key = (
            String::from_utf8_lossy(namespace).into_owned(),
            String::from_utf8_lossy(service).into_owned(),
            cluster.to_owned(),
        );
        *totals.entry(key).or_default() += count;
    });
    header(
        out,
        metrics::ANSWERS,
        "counter",
        "ClusterSetIP answers given, by namespace, service and chosen cluster",
    );
    for ((namespace, service, cluster), count) in totals {
        let labels = [
            ("namespace", &*namespace),
            ("service", &*service),
            ("cluster", &*cluster),
        ];
        sample(out, metrics::ANSWERS, &labels, count as f64);
    }
}

fn shares(snapshot: &Snapshot, out: &mut String) {
    header(
        out,
        metrics::SHARE,
        "gauge",
        "The optimizer's share of an Optimized service's lookups, by namespace, service and cluster",
    );
    // In the clusterset's order: by namespace, then name.
    for (namespace, service, decision) in snapshot.decisions().iter() {
        for export in &decision.exports {
            let labels = [
                ("namespace", namespace),
                ("service", service),
                ("cluster", export.cluster.as_str()),
            ];
            sample(out, metrics::SHARE, &labels, export.share);
        }
    }
}

/// One figure of a probe report, if it has it.
type Figure = fn(&TargetReport) -> Option<f64>;

fn probe_figures(probes: &HashMap<TargetKey, TargetReport>, out: &mut String) {
    let probes: BTreeMap<_, _> = probes
        .iter()
        .map(|(k, r)| ((k.service.as_str(), k.cluster.as_str()), r))
        .collect();
    let figures: [(&str, &str, Figure); 3] = [
        (
            metrics::PROBE_RTT,
            "Probed round-trip time to the export, mean, ms",
            |r| r.rtt.map(|m| m.mean_ms),
        ),
        (
            metrics::PROBE_LATENCY,
            "Probed service latency of the export, mean, ms",
            |r| r.latency.map(|m| m.mean_ms),
        ),
        (
            metrics::EJECTED,
            "1 while probing has ejected the export",
            |r| Some(f64::from(u8::from(r.ejected))),
        ),
    ];
    for (name, help, figure) in figures {
        header(out, name, "gauge", help);
        for (&(service, cluster), report) in &probes {
            if let Some(value) = figure(report) {
                sample(
                    out,
                    name,
                    &[("service", service), ("cluster", cluster)],
                    value,
                );
            }
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    out.push('{');
    for (i, (key, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{key}=\"");
        escape(out, value);
        out.push('"');
    }
    let _ = writeln!(out, "}} {value}");
}

/// Label values as the text format wants them: backslash, quote and newline escaped.
fn escape(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_in_the_text_format_with_values_escaped() {
        let mut out = String::new();
        sample(&mut out, "m", &[("a", "x\"y"), ("b", "c\\d")], 1.5);
        assert_eq!(out, "m{a=\"x\\\"y\",b=\"c\\\\d\"} 1.5\n");
    }
}

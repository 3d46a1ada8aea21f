//! What a probed service says of itself in its response headers, where it says anything: how
//! long it took inside its own cluster (`Server-Timing`, W3C), and how busy it is (ORCA's
//! `endpoint-load-metrics`, as Envoy and gRPC read it). Either turns a probe from a guess at
//! the service's share of the round trip into the exporter's own figure; a service that sends
//! neither is probed as before.

use reqwest::header::HeaderMap;

/// What the response headers told.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SelfReport {
    /// Time the server spent on the request, queueing included, ms.
    pub server_ms: Option<f64>,
    /// Busy fraction of the service's capacity, 0.. (may exceed 1 under overload).
    pub utilization: Option<f64>,
}

pub fn self_report(headers: &HeaderMap) -> SelfReport {
    let text = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
    };
    SelfReport {
        server_ms: server_timing_ms(&text("server-timing")),
        utilization: headers
            .get("endpoint-load-metrics")
            .and_then(|v| v.to_str().ok())
            .and_then(orca_utilization),
    }
}

/// The server's own time from a `Server-Timing` value (`app;dur=12.5, db;dur=3;desc="x"`):
/// the metric named `total` if there is one, else the longest, since metrics may nest (`db`
/// inside `app`) and adding them would count the nested time twice.
pub fn server_timing_ms(value: &str) -> Option<f64> {
    let mut longest: Option<f64> = None;
    for metric in value.split(',') {
        let mut parts = metric.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let dur = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("dur"))
            .and_then(|(_, v)| v.trim().trim_matches('"').parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d >= 0.0);
        let Some(dur) = dur else { continue };
        if name.eq_ignore_ascii_case("total") {
            return Some(dur);
        }
        longest = Some(longest.map_or(dur, |l: f64| l.max(dur)));
    }
    longest
}

/// Utilisation from an ORCA `endpoint-load-metrics` value, in its `TEXT` form
/// (`TEXT cpu_utilization=0.3, application_utilization=0.5`) or its `JSON` form: the
/// application's own figure where it gives one above 0, else the CPU's (gRPC's A58 rule). The
/// binary form (`BIN`) is not read.
pub fn orca_utilization(value: &str) -> Option<f64> {
    let value = value.trim();
    let (format, body) = value.split_once(char::is_whitespace)?;
    let fields: Vec<(String, f64)> = match format {
        "TEXT" => body
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k.trim().to_owned(), v.trim().parse().ok()?)))
            .collect(),
        "JSON" => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(body)
            .ok()?
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_f64()?)))
            .collect(),
        _ => return None,
    };
    let field = |names: [&str; 2]| {
        fields
            .iter()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| *v)
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    field(["application_utilization", "applicationUtilization"])
        .filter(|u| *u > 0.0)
        .or_else(|| field(["cpu_utilization", "cpuUtilization"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_takes_total_else_the_longest_metric() {
        assert_eq!(server_timing_ms("app;dur=12.5"), Some(12.5));
        assert_eq!(
            server_timing_ms("db;dur=3;desc=\"query\", app;dur=12"),
            Some(12.0)
        );
        assert_eq!(
            server_timing_ms("app;dur=12, total;dur=15, db;dur=30"),
            Some(15.0)
        );
        assert_eq!(server_timing_ms("miss, cache;desc=hit"), None);
        assert_eq!(server_timing_ms("app;dur=-1, x;dur=NaN"), None);
        assert_eq!(server_timing_ms(""), None);
    }

    #[test]
    fn orca_prefers_the_application_figure_and_reads_both_forms() {
        assert_eq!(orca_utilization("TEXT cpu_utilization=0.3"), Some(0.3));
        assert_eq!(
            orca_utilization("TEXT cpu_utilization=0.3, application_utilization=0.6"),
            Some(0.6)
        );
        // A58: an application figure of 0 means "not set".
        assert_eq!(
            orca_utilization("TEXT application_utilization=0, cpu_utilization=0.2"),
            Some(0.2)
        );
        assert_eq!(
            orca_utilization(r#"JSON {"cpu_utilization": 0.4, "rps_fractional": 10}"#),
            Some(0.4)
        );
        assert_eq!(
            orca_utilization(r#"JSON {"applicationUtilization": 1.2}"#),
            Some(1.2)
        );
        assert_eq!(orca_utilization("BIN CgQIAR=="), None);
        assert_eq!(orca_utilization("TEXT mem_utilization=0.9"), None);
        assert_eq!(orca_utilization("TEXT cpu_utilization=-2"), None);
        assert_eq!(orca_utilization("garbage"), None);
    }

    #[test]
    fn headers_are_read_from_a_response() {
        let mut headers = HeaderMap::new();
        headers.append("server-timing", "db;dur=2".parse().unwrap());
        headers.append("server-timing", "app;dur=9.5".parse().unwrap());
        headers.insert(
            "endpoint-load-metrics",
            "TEXT application_utilization=0.75".parse().unwrap(),
        );
        assert_eq!(
            self_report(&headers),
            SelfReport {
                server_ms: Some(9.5),
                utilization: Some(0.75),
            }
        );
        assert_eq!(self_report(&HeaderMap::new()), SelfReport::default());
    }
}

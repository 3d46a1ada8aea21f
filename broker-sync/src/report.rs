//! What this cluster reports of its own exports: the figures only an exporter has, folded each
//! rebuild into the `load` of its local exports, from where the broker publishes them
//! ([`crate::broker::ClusterProfile::local`]) and its own optimizer reads them like any other.
//!
//! - Service latency: this cluster's own probes of its local export. The prober probes every
//!   export of a service whose policy asks for probing, the local one included, so the figure
//!   is measured from inside the exporting cluster, with no wide-area round trip in it, and
//!   includes the export's queueing under everyone's traffic.
//! - Utilisation: what the export's own probe responses say (ORCA's `endpoint-load-metrics`
//!   header, see [`crate::probe`]), else what is already in the export's `load`: as the
//!   clusterset file declares it, or in Kubernetes its pods' CPU use against their requests by
//!   `metrics.k8s.io` ([`crate::kubernetes::utilization`]); else unknown.
//! - Error rate: not measured; unknown.
//!
//! Ready endpoints travel beside the report in the profile, as before.

use std::collections::HashMap;
use std::sync::Arc;

use crate::probe::{TargetKey, TargetReport};
use crate::state::{ClusterSet, LoadReport, Mode, Service};

/// Folds this cluster's own measurements into the `load` of its local exports. The report is
/// composed now (age 0): each figure is the latest this cluster has; a probe figure older than
/// the service's `max_age_s` is left out, as the optimizer would leave it out of its own.
pub fn measure_own(set: &mut ClusterSet, probes: &HashMap<TargetKey, TargetReport>) {
    let local = set.local_cluster.clone();
    for service in &mut set.services {
        let Some(at) = service.export_index(local.as_str()) else {
            continue;
        };
        let declared = service.exports[at].figures().load;
        // Only a probed service has figures of its own; the key is formed only for those.
        let probed = service.policy.probe.as_ref().and_then(|_| {
            probes.get(&TargetKey {
                service: format!("{}/{}", service.namespace, service.name),
                cluster: local.to_string(),
            })
        });
        if probed.is_none() && declared.is_none() {
            continue;
        }
        let max_age_s = max_age_s(service);
        let latency_ms = probed
            .and_then(|r| r.latency)
            .filter(|m| m.age_s <= max_age_s && m.mean_ms.is_finite() && m.mean_ms >= 0.0)
            .map(|m| m.mean_ms);
        let utilization = probed
            .and_then(|r| r.load)
            .filter(|l| l.age_s <= max_age_s)
            .and_then(|l| l.utilization);
        if latency_ms.is_none() && utilization.is_none() && declared.is_none() {
            continue;
        }
        let load = Some(LoadReport {
            utilization: utilization.or(declared.and_then(|d| d.utilization)),
            latency_ms: latency_ms.or(declared.and_then(|d| d.latency_ms)),
            error_rate: declared.and_then(|d| d.error_rate),
            age_s: 0.0,
        });
        // A shared service is copied only when its report changes.
        if declared != load {
            Arc::make_mut(service).exports[at].update_figures(|figures| figures.load = load);
        }
    }
}

fn max_age_s(service: &Service) -> f64 {
    match &service.policy.mode {
        Mode::Optimized(optimized) => optimized.policy.max_age_s,
        _ => aviator_optimizer::Policy::default().max_age_s,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::state::Measurement;

    const SET: &str = r#"localCluster: east
clusters: [{ id: east }, { id: west }]
services:
  - name: declared
    namespace: n
    ports: [{ port: 80 }]
    policy: { probePath: /ping }
    exports:
      - { cluster: east, ips: [10.0.0.1], utilization: 0.4 }
      - { cluster: west, ips: [10.0.0.2] }
  - name: plain
    namespace: n
    ports: [{ port: 80 }]
    exports:
      - { cluster: east, ips: [10.0.0.3] }
      - { cluster: west, ips: [10.0.0.4], utilization: 0.2 }
"#;

    fn probed(service: &str, cluster: &str, mean_ms: f64, age_s: f64) -> (TargetKey, TargetReport) {
        let key = TargetKey {
            service: service.into(),
            cluster: cluster.into(),
        };
        let report = TargetReport {
            latency: Some(Measurement {
                mean_ms,
                p99_ms: None,
                age_s,
            }),
            ..TargetReport::default()
        };
        (key, report)
    }

    fn fresh() -> ClusterSet {
        crate::clusterset::parse(SET, Path::new("set.yaml")).unwrap()
    }

    #[test]
    fn the_local_probe_and_the_declared_utilisation_make_the_report() {
        let mut set = fresh();
        let probes = HashMap::from([
            probed("n/declared", "east", 7.0, 0.5),
            probed("n/declared", "west", 9.0, 0.5),
        ]);
        measure_own(&mut set, &probes);
        let declared = &set.services[0];
        assert_eq!(
            declared.exports[0].figures().load,
            Some(LoadReport {
                utilization: Some(0.4),
                latency_ms: Some(7.0),
                error_rate: None,
                age_s: 0.0,
            })
        );
        // A peer's export is the peer's to report: our probe of it is not a load report.
        assert_eq!(declared.exports[1].figures().load, None);
        // Nothing known of a local export, nothing reported; a peer's declared load stays.
        let plain = &set.services[1];
        assert_eq!(plain.exports[0].figures().load, None);
        assert_eq!(
            plain.exports[1].figures().load.unwrap().utilization,
            Some(0.2)
        );
    }

    #[test]
    fn a_utilisation_the_local_export_reports_in_its_responses_beats_the_declared_one() {
        let mut set = fresh();
        let (key, mut report) = probed("n/declared", "east", 7.0, 0.5);
        report.load = Some(LoadReport {
            utilization: Some(0.65),
            latency_ms: None,
            error_rate: None,
            age_s: 0.5,
        });
        measure_own(&mut set, &HashMap::from([(key, report)]));
        let load = set.services[0].exports[0].figures().load.unwrap();
        assert_eq!(load.utilization, Some(0.65));
        assert_eq!(load.latency_ms, Some(7.0));
    }

    #[test]
    fn a_stale_probe_is_left_out_of_the_report() {
        let mut set = fresh();
        let max_age = aviator_optimizer::Policy::default().max_age_s;
        let probes = HashMap::from([probed("n/declared", "east", 7.0, max_age + 1.0)]);
        measure_own(&mut set, &probes);
        let load = set.services[0].exports[0].figures().load.unwrap();
        assert_eq!(load.latency_ms, None);
        assert_eq!(load.utilization, Some(0.4));

        let mut set = fresh();
        Arc::make_mut(&mut set.services[0]).exports[0]
            .update_figures(|figures| figures.load = None);
        measure_own(&mut set, &probes);
        assert_eq!(set.services[0].exports[0].figures().load, None);
    }
}

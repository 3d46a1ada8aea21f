//! The one small object each cluster shares: where it is, what transfer costs it, how much each
//! of its exports can serve, and its own report of each export's load.

use aviator_optimizer::MAX_OFFERED_LOAD;
use aviator_optimizer::cost::PriceTable;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::state::{ClusterSet, LoadReport, ServiceType};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterProfile {
    pub cluster: String,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub prices: Option<PriceTable>,
    #[serde(default)]
    pub exports: Vec<ExportCapacity>,
}

/// One export: its ready endpoints (capacity is derived from them, reference §1) and what its
/// exporter measured of its load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExportCapacity {
    pub namespace: String,
    pub name: String,
    pub ready_endpoints: u32,
    /// Absent when the exporter knows nothing of the export's load, and in profiles written
    /// before load reports existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<ExportReport>,
}

/// An exporter's report of one of its exports, as published: the figures of a
/// [`LoadReport`] with the time they were measured instead of their age, so that every reader
/// computes the age on its own clock, and it keeps growing when the exporter stops writing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExportReport {
    /// Busy fraction of the export's servers, 0..1, or above 1 a saturated export's offered
    /// load, up to [`MAX_OFFERED_LOAD`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<f64>,
    /// Mean service latency measured inside the exporting cluster, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Fraction of requests the export failed, 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// When the exporter measured it: UNIX time, seconds (fractions allowed).
    pub measured_at: f64,
}

impl ExportReport {
    /// The report of `load` as measured `load.age_s` seconds before `now_unix`.
    /// Figures out of range are left out: readers would drop them, and the Kubernetes API
    /// server would refuse the whole object for them.
    pub fn stamp(load: &LoadReport, now_unix: f64) -> Self {
        Self {
            utilization: offered_load(load.utilization),
            latency_ms: duration_ms(load.latency_ms),
            error_rate: fraction(load.error_rate),
            measured_at: now_unix - load.age_s.max(0.0),
        }
    }

    /// The report as a reader holds it at `now_unix`: aged by the time since it was measured
    /// (never below 0: the exporter's clock may run ahead of ours). A figure out of its range
    /// counts as unknown; a report without a usable time is none at all.
    pub fn at(&self, now_unix: f64) -> Option<LoadReport> {
        if !self.measured_at.is_finite() {
            return None;
        }
        Some(LoadReport {
            utilization: offered_load(self.utilization),
            latency_ms: duration_ms(self.latency_ms),
            error_rate: fraction(self.error_rate),
            age_s: (now_unix - self.measured_at).max(0.0),
        })
    }
}

fn offered_load(x: Option<f64>) -> Option<f64> {
    x.filter(|v| (0.0..=MAX_OFFERED_LOAD).contains(v))
}

fn fraction(x: Option<f64>) -> Option<f64> {
    x.filter(|v| (0.0..=1.0).contains(v))
}

fn duration_ms(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite() && *v >= 0.0)
}

/// The wall clock as UNIX seconds, for stamping and ageing reports.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl ClusterProfile {
    /// The local cluster's profile, from the clusterset state, at `now_unix`. The load of each
    /// local export is what the state holds for it (see [`crate::report::measure_own`]).
    pub fn local(set: &ClusterSet, now_unix: f64) -> Option<Self> {
        let me = set.cluster(&set.local_cluster)?;
        let exports = set
            .services
            .iter()
            .filter_map(|service| {
                let export = service
                    .exports
                    .iter()
                    .find(|e| e.cluster == set.local_cluster)?;
                let ready_endpoints = match service.service_type {
                    ServiceType::ClusterSetIp => {
                        export.ready_endpoints.unwrap_or(u32::from(export.ready))
                    }
                    ServiceType::Headless => {
                        export.endpoints.iter().filter(|e| e.ready).count() as u32
                    }
                };
                Some(ExportCapacity {
                    namespace: service.namespace.clone(),
                    name: service.name.clone(),
                    ready_endpoints,
                    load: export
                        .figures()
                        .load
                        .map(|l| ExportReport::stamp(&l, now_unix)),
                })
            })
            .collect();
        Some(Self {
            cluster: me.id.to_string(),
            provider: me.provider.clone(),
            region: me.region.clone(),
            zone: me.zone.clone(),
            prices: me.prices,
            exports,
        })
    }

    /// Applies the profile to the clusterset at `now_unix`: the peer's own word on its location
    /// and prices replaces what the local file declared, its ready endpoints fill in capacity,
    /// and its load reports, aged to now, replace the declared ones. A profile claiming to be
    /// this cluster's is ignored: only this cluster speaks for its own exports.
    pub fn apply(&self, set: &mut ClusterSet, now_unix: f64) {
        if self.cluster == set.local_cluster.as_str() {
            return;
        }
        let Some(cluster) = set
            .clusters
            .iter_mut()
            .find(|c| c.id.as_str() == self.cluster)
        else {
            return;
        };
        if self.provider.is_some() {
            cluster.provider.clone_from(&self.provider);
        }
        if self.region.is_some() {
            cluster.region.clone_from(&self.region);
        }
        if self.zone.is_some() {
            cluster.zone.clone_from(&self.zone);
        }
        if self.prices.is_some() {
            cluster.prices = self.prices;
        }
        for capacity in &self.exports {
            let Some(service) = set.service_mut(&capacity.namespace, &capacity.name) else {
                continue;
            };
            let Some(at) = service.export_index(&self.cluster) else {
                continue;
            };
            let ready_endpoints = Some(capacity.ready_endpoints);
            let load = capacity
                .load
                .and_then(|r| r.at(now_unix))
                .or(service.exports[at].figures().load);
            // Copied only when the peer's word changes it: most services, most ticks, it does not.
            let export = &service.exports[at];
            if export.ready_endpoints != ready_endpoints || export.figures().load != load {
                let export = &mut Arc::make_mut(service).exports[at];
                export.ready_endpoints = ready_endpoints;
                export.update_figures(|figures| figures.load = load);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SET: &str = r#"localCluster: east
clusters: [{ id: east }, { id: west }]
services:
  - name: s
    namespace: n
    ports: [{ port: 80 }]
    exports:
      - { cluster: east, ips: [10.0.0.1], utilization: 0.3 }
      - { cluster: west, ips: [10.0.0.2], utilization: 0.1 }
"#;

    fn fresh() -> ClusterSet {
        crate::clusterset::parse(SET, Path::new("set.yaml")).unwrap()
    }

    fn west(load: Option<ExportReport>) -> ClusterProfile {
        ClusterProfile {
            cluster: "west".into(),
            provider: None,
            region: None,
            zone: None,
            prices: None,
            exports: vec![ExportCapacity {
                namespace: "n".into(),
                name: "s".into(),
                ready_endpoints: 4,
                load,
            }],
        }
    }

    fn report(measured_at: f64) -> ExportReport {
        ExportReport {
            utilization: Some(0.75),
            latency_ms: Some(12.5),
            error_rate: Some(0.01),
            measured_at,
        }
    }

    const NOW: f64 = 1_750_000_000.0;

    #[test]
    fn a_report_overlays_the_export_load_aged_on_the_readers_clock() {
        let mut set = fresh();
        west(Some(report(NOW - 3.0))).apply(&mut set, NOW);
        let export = &set.services[0].exports[1];
        assert_eq!(export.cluster.as_str(), "west");
        assert_eq!(export.ready_endpoints, Some(4));
        assert_eq!(
            export.figures().load,
            Some(LoadReport {
                utilization: Some(0.75),
                latency_ms: Some(12.5),
                error_rate: Some(0.01),
                age_s: 3.0,
            })
        );
        // The local export keeps what this cluster knows of it.
        assert_eq!(
            Arc::make_mut(&mut set.services[0]).exports[0]
                .figures()
                .load
                .unwrap()
                .utilization,
            Some(0.3)
        );
    }

    /// The age keeps growing while the exporter is silent: the same last good copy, applied at
    /// a later rebuild, is older. Past the policy's expiry it still arrives, with its age, and
    /// the optimizer counts it as unknown.
    #[test]
    fn an_expired_report_still_arrives_with_its_age() {
        let expiry = aviator_optimizer::Policy::default().report_expiry_s;
        let profile = west(Some(report(NOW)));
        for later in [1.0, expiry + 5.0, 600.0] {
            let mut set = fresh();
            profile.apply(&mut set, NOW + later);
            let load = set.services[0].exports[1].figures().load.unwrap();
            assert_eq!(load.age_s, later);
            assert_eq!(load.utilization, Some(0.75));
        }
    }

    #[test]
    fn a_clock_ahead_of_ours_is_age_zero_and_bad_figures_are_unknown() {
        let mut set = fresh();
        let odd = ExportReport {
            utilization: Some(4.5),
            latency_ms: Some(f64::NAN),
            error_rate: Some(-0.1),
            measured_at: NOW + 30.0,
        };
        west(Some(odd)).apply(&mut set, NOW);
        let load = set.services[0].exports[1].figures().load.unwrap();
        assert_eq!(
            load,
            LoadReport {
                utilization: None,
                latency_ms: None,
                error_rate: None,
                age_s: 0.0
            }
        );
        // Without a usable time the report is dropped and the declared load stays.
        let mut set = fresh();
        west(Some(ExportReport {
            measured_at: f64::INFINITY,
            ..report(NOW)
        }))
        .apply(&mut set, NOW);
        assert_eq!(
            Arc::make_mut(&mut set.services[0]).exports[1]
                .figures()
                .load
                .unwrap()
                .utilization,
            Some(0.1)
        );
    }

    #[test]
    fn no_report_leaves_the_declared_load_and_no_peer_speaks_for_us() {
        let mut set = fresh();
        west(None).apply(&mut set, NOW);
        assert_eq!(
            Arc::make_mut(&mut set.services[0]).exports[1]
                .figures()
                .load
                .unwrap()
                .utilization,
            Some(0.1)
        );
        let mut impostor = west(Some(report(NOW)));
        impostor.cluster = "east".into();
        let before = set.clone();
        impostor.apply(&mut set, NOW);
        assert_eq!(set, before);
    }

    #[test]
    fn the_local_profile_stamps_each_report_with_when_it_was_measured() {
        let mut set = fresh();
        Arc::make_mut(&mut set.services[0]).exports[0].update_figures(|figures| {
            figures.load = Some(LoadReport {
                utilization: Some(0.3),
                latency_ms: Some(8.0),
                error_rate: None,
                age_s: 2.0,
            })
        });
        let profile = ClusterProfile::local(&set, NOW).unwrap();
        assert_eq!(profile.exports.len(), 1);
        assert_eq!(
            profile.exports[0].load,
            Some(ExportReport {
                utilization: Some(0.3),
                latency_ms: Some(8.0),
                error_rate: None,
                measured_at: NOW - 2.0,
            })
        );
    }

    #[test]
    fn profiles_round_trip_in_camel_case_and_old_ones_still_parse() {
        let profile = west(Some(report(NOW)));
        let text = serde_yaml_ng::to_string(&profile).unwrap();
        assert!(text.contains("latencyMs: 12.5"), "{text}");
        assert!(text.contains("errorRate: 0.01"), "{text}");
        assert!(text.contains("measuredAt: 1750000000"), "{text}");
        assert_eq!(
            serde_yaml_ng::from_str::<ClusterProfile>(&text).unwrap(),
            profile
        );
        let old = "cluster: west\nexports:\n  - { namespace: n, name: s, readyEndpoints: 4 }\n";
        let old: ClusterProfile = serde_yaml_ng::from_str(old).unwrap();
        assert_eq!(old, west(None));
        // Still strict: a misspelt field is an error, not silently ignored.
        let typo = "cluster: west\nexports:\n  - { namespace: n, name: s, readyEndpoints: 4, load: { measuredAt: 1, utilisation: 0.5 } }\n";
        assert!(serde_yaml_ng::from_str::<ClusterProfile>(typo).is_err());
    }
}

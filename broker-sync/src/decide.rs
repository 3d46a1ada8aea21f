//! The bridge from state to the optimizer: asks it for the shares of each `Optimized` service,
//! turning the clusterset state into its inputs (prices from both clusters' tables, servers
//! from ready endpoints, the exporters' load reports). The control loop and the simulator both decide through here, so the
//! simulator evaluates exactly what production runs.

use std::sync::Arc;

use crate::state::{ClusterSet, Export, Measurement, Mode, Optimized, Service, ServiceType};
use aviator_optimizer::cost::price_per_request;
use aviator_optimizer::{Decision, ExportInput, LoadReport, State, solve_with};

/// The decisions of every `Optimized` service, in the clusterset's order (by namespace, then
/// name), each beside the service it was made for: found by binary search on the service's own
/// names, so a tick neither copies a name into a key nor allocates one to look a decision up.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    by_service: Vec<(Arc<Service>, Decision)>,
}

impl Decisions {
    /// The decision for `namespace/name`, if it is `Optimized`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Decision> {
        let i = self
            .by_service
            .binary_search_by(|(s, _)| {
                (s.namespace.as_str(), s.name.as_str()).cmp(&(namespace, name))
            })
            .ok()?;
        Some(&self.by_service[i].1)
    }

    /// Each decision with its service's namespace and name, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &Decision)> {
        self.by_service
            .iter()
            .map(|(s, d)| (s.namespace.as_str(), s.name.as_str(), d))
    }
}

/// Solves every `Optimized` service of `set`, continuing from `previous` decisions made
/// `elapsed_s` seconds ago.
pub fn decide_all(set: &ClusterSet, previous: Option<&Decisions>, elapsed_s: f64) -> Decisions {
    let empty = State::new();
    let by_service = set
        .services
        .iter()
        .filter_map(|service| {
            let Mode::Optimized(optimized) = &service.policy.mode else {
                return None;
            };
            let before = previous
                .and_then(|p| p.get(&service.namespace, &service.name))
                .map_or(&empty, |d| &d.state);
            let decision = decide(set, service, optimized, before, elapsed_s);
            Some((service.clone(), decision))
        })
        .collect();
    Decisions { by_service }
}

/// The optimizer's decision for one service, `elapsed_s` seconds after `previous`.
pub fn decide(
    set: &ClusterSet,
    service: &Service,
    optimized: &Optimized,
    previous: &State,
    elapsed_s: f64,
) -> Decision {
    let eligibility = service.eligibility(set);
    let inputs: Vec<ExportInput> = service
        .exports
        .iter()
        .zip(eligibility)
        .map(|(export, eligible)| input(set, service, optimized, export, eligible))
        .collect();
    solve_with(&optimized.policy, &inputs, previous, elapsed_s)
}

fn input(
    set: &ClusterSet,
    service: &Service,
    optimized: &Optimized,
    export: &Export,
    eligible: bool,
) -> ExportInput {
    let local = export.cluster == set.local_cluster;
    let client = set.cluster(&set.local_cluster);
    let server = set.cluster(&export.cluster);
    let price = match (client, server) {
        (Some(c), Some(s)) => match (&c.prices, &s.prices) {
            (Some(cp), Some(sp)) => Some(price_per_request(
                (&c.location(), cp),
                (&s.location(), sp),
                optimized.request_bytes,
                optimized.response_bytes,
            )),
            _ => None,
        },
        _ => None,
    };
    let ready = match service.service_type {
        ServiceType::ClusterSetIp => export.ready_endpoints,
        ServiceType::Headless => Some(export.endpoints.iter().filter(|e| e.ready).count() as u32),
    };
    // Inside the cluster the network adds next to nothing; without a figure, say so rather
    // than let the local export stand in for the median of remote round trips.
    let figures = export.figures();
    let rtt = figures.rtt.or_else(|| {
        local.then_some(Measurement {
            mean_ms: 0.0,
            p99_ms: None,
            age_s: 0.0,
        })
    });
    ExportInput {
        cluster: export.cluster.to_string(),
        local,
        eligible,
        rtt,
        latency: figures.latency,
        load: LoadReport::fresher(figures.load, figures.probed_load),
        price_per_request: price,
        servers: ready,
        error_rate: None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::state::LoadReport;

    const SET: &str = r#"localCluster: east
clusters: [{ id: east }, { id: west }, { id: central }]
services:
  - name: s
    namespace: n
    policy: { mode: Optimized, preferLocal: false }
    exports:
      - { cluster: west, ips: [10.0.0.1], readyEndpoints: 4, rtt: { meanMs: 5 }, latency: { meanMs: 10 } }
      - { cluster: central, ips: [10.0.0.2], readyEndpoints: 4, rtt: { meanMs: 5 }, latency: { meanMs: 10 } }
"#;

    /// The exporter's load report reaches the rule: of two exports alike in every figure this
    /// cluster measures, the one whose exporter reports it busy loses traffic to the other, and
    /// a report past its expiry counts as unknown, not as idle.
    #[test]
    fn a_reported_load_moves_traffic_and_an_expired_one_does_not() {
        let mut set = crate::clusterset::parse(SET, Path::new("set.yaml")).unwrap();
        let Mode::Optimized(optimized) = set.services[0].policy.mode.clone() else {
            unreachable!("the policy is Optimized");
        };
        let share = |d: &Decision, cluster: &str| {
            d.exports
                .iter()
                .find(|e| e.cluster == cluster)
                .unwrap()
                .share
        };
        let even = decide(&set, &set.services[0], &optimized, &State::new(), 1.0);
        assert!((share(&even, "west") - 0.5).abs() < 1e-9, "{even:?}");

        let report = |utilization, age_s| LoadReport {
            utilization: Some(utilization),
            latency_ms: Some(10.0),
            error_rate: None,
            age_s,
        };
        // The set keeps its exports sorted by cluster, not in the file's order.
        let at = |set: &ClusterSet, cluster: &str| {
            set.services[0]
                .exports
                .iter()
                .position(|e| e.cluster.as_str() == cluster)
                .unwrap()
        };
        let (west, central) = (at(&set, "west"), at(&set, "central"));
        Arc::make_mut(&mut set.services[0]).exports[west]
            .update_figures(|figures| figures.load = Some(report(0.9, 2.0)));
        Arc::make_mut(&mut set.services[0]).exports[central]
            .update_figures(|figures| figures.load = Some(report(0.2, 2.0)));
        let service = set.services[0].clone();
        let moved = decide(&set, &service, &optimized, &even.state, 1.0);
        // One second of the default migration (several seconds) moves a small part of west's
        // half, and only away from it.
        let west_share = share(&moved, "west");
        assert!((0.4..0.499).contains(&west_share), "{moved:?}");
        assert!((west_share + share(&moved, "central") - 1.0).abs() < 1e-9);

        let expiry = optimized.policy.report_expiry_s;
        Arc::make_mut(&mut set.services[0]).exports[west]
            .update_figures(|figures| figures.load = Some(report(0.9, expiry + 1.0)));
        Arc::make_mut(&mut set.services[0]).exports[central]
            .update_figures(|figures| figures.load = Some(report(0.2, expiry + 1.0)));
        let service = set.services[0].clone();
        let held = decide(&set, &service, &optimized, &even.state, 1.0);
        assert!((share(&held, "west") - 0.5).abs() < 1e-9, "{held:?}");
    }
}

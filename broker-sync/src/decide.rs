//! The bridge from state to the optimizer: asks it for the shares of each `Optimized` service,
//! turning the clusterset state into its inputs (prices from both clusters' tables, capacity
//! from ready endpoints). The control loop and the simulator both decide through here, so the
//! simulator evaluates exactly what production runs.

use std::collections::HashMap;

use crate::state::{ClusterSet, Export, Measurement, Mode, Optimized, Service, ServiceType};
use aviator_optimizer::cost::price_per_request;
use aviator_optimizer::{Decision, ExportInput, State, solve_with};

/// Decisions by (namespace, name).
pub type Decisions = HashMap<(String, String), Decision>;

/// Solves every `Optimized` service of `set`, continuing from `previous` decisions.
pub fn decide_all(set: &ClusterSet, previous: Option<&Decisions>) -> Decisions {
    let empty = State::new();
    set.services
        .iter()
        .filter_map(|service| {
            let Mode::Optimized(optimized) = &service.policy.mode else {
                return None;
            };
            let key = (service.namespace.clone(), service.name.clone());
            let before = previous
                .and_then(|p| p.get(&key))
                .map_or(&empty, |d| &d.state);
            Some((key, decide(set, service, optimized, before)))
        })
        .collect()
}

/// The optimizer's decision for one service.
pub fn decide(
    set: &ClusterSet,
    service: &Service,
    optimized: &Optimized,
    previous: &State,
) -> Decision {
    let eligibility = service.eligibility(set);
    let inputs: Vec<ExportInput> = service
        .exports
        .iter()
        .zip(eligibility)
        .map(|(export, eligible)| input(set, service, optimized, export, eligible))
        .collect();
    solve_with(&optimized.policy, &inputs, previous)
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
    let capacity_rps = export.capacity_rps.or_else(|| {
        let per_endpoint = optimized.capacity_per_endpoint_rps?;
        Some(f64::from(ready?) * per_endpoint).filter(|c| *c > 0.0)
    });
    // Inside the cluster the network adds next to nothing; without a figure, say so rather
    // than let the local export stand in for the median of remote round trips.
    let rtt = export.rtt.or_else(|| {
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
        latency: export.latency,
        latency_under_load: export.latency_measured,
        price_per_request: price,
        capacity_rps,
        servers: ready,
        in_flight: None,
        error_rate: None,
        eligible_for_s: export.eligible_for_s,
        latency_trend: export.latency_trend,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::state::{LatencyTrend, Probed};
    use aviator_optimizer::Bind;

    const SET: &str = r#"localCluster: east
clusters: [{ id: east }, { id: west }, { id: central }]
services:
  - name: s
    namespace: n
    policy: { mode: Optimized, preferLocal: false, demandRps: 100 }
    exports:
      - { cluster: west, ips: [10.0.0.1], capacityRps: 100, rtt: { meanMs: 5 }, latency: { meanMs: 10 } }
      - { cluster: central, ips: [10.0.0.2], capacityRps: 100, rtt: { meanMs: 5 }, latency: { meanMs: 10 } }
"#;

    /// The probes' latency trend reaches the optimizer's overload detector: an export whose
    /// recent latency stands at twice its baseline is held below the share it had.
    #[test]
    fn a_measured_overload_holds_the_export_down() {
        let mut set = crate::clusterset::parse(SET, Path::new("set.yaml")).unwrap();
        let Mode::Optimized(optimized) = set.services[0].policy.mode.clone() else {
            unreachable!("the policy is Optimized");
        };
        let west_of = |d: &Decision| {
            d.exports
                .iter()
                .find(|e| e.cluster == "west")
                .cloned()
                .unwrap()
        };
        // Two equal exports, each with room for all the demand: an even split.
        let even = decide(&set, &set.services[0], &optimized, &State::new());
        assert!((west_of(&even).share - 0.5).abs() < 1e-6, "{even:?}");

        let trend = LatencyTrend {
            short_ms: 20.0,
            long_ms: 10.0,
        };
        let measured = Measurement {
            mean_ms: 10.0,
            p99_ms: None,
            age_s: 0.0,
        };
        let west = set.services[0]
            .exports
            .iter()
            .position(|e| e.cluster.as_str() == "west")
            .unwrap();
        set.services[0].exports[west].apply_measured(Probed {
            rtt: Some(measured),
            latency: Some(measured),
            latency_trend: Some(trend),
            ejected: false,
            eligible_for_s: 600.0,
        });
        let service = set.services[0].clone();
        let cut = decide(&set, &service, &optimized, &even.state);
        let west = west_of(&cut);
        // Aperture's cut: setpoint / signal = 1.25 × 10 / 20 of the share held before.
        assert!((west.share - 0.5 * 0.625).abs() < 1e-6, "{west:?}");
        assert!(west.binds.contains(&Bind::Overload), "{west:?}");
    }
}

//! Properties that must hold for any input: valid shares, floors, zero for the ineligible, caps,
//! monotonicity in price and latency, and determinism.

use aviator_optimizer::*;
use proptest::prelude::*;

fn measurement() -> impl Strategy<Value = Option<Measurement>> {
    prop::option::weighted(
        0.9,
        (0.1f64..200.0, 0.0f64..60.0).prop_map(|(mean_ms, age_s)| Measurement {
            mean_ms,
            p99_ms: None,
            age_s,
        }),
    )
}

fn export(i: usize) -> impl Strategy<Value = ExportInput> {
    (
        prop::bool::weighted(0.85),
        measurement(),
        measurement(),
        prop::option::weighted(0.9, 0.0f64..1e-5),
        prop::option::weighted(0.5, 10.0f64..2000.0),
        prop::option::weighted(0.2, 0.0f64..0.5),
    )
        .prop_map(
            move |(eligible, rtt, latency, price, capacity, error)| ExportInput {
                cluster: format!("c{i}"),
                local: i == 0,
                eligible,
                rtt,
                latency,
                price_per_request: price,
                capacity_rps: capacity,
                servers: None,
                in_flight: None,
                error_rate: error,
                eligible_for_s: None,
                latency_trend: None,
                latency_under_load: false,
            },
        )
}

fn exports() -> impl Strategy<Value = Vec<ExportInput>> {
    (1usize..8).prop_flat_map(|n| (0..n).map(export).collect::<Vec<_>>())
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop_oneof![
            Just(Objective::Performance),
            Just(Objective::Cost),
            Just(Objective::Mixed)
        ],
        0.0f64..1.0,
        0.0f64..0.1,
        prop::option::weighted(0.5, 1.0f64..3000.0),
        1u32..5,
        prop::option::weighted(0.3, 5.0f64..200.0),
    )
        .prop_map(
            |(objective, tradeoff, min_share, demand, peers, slo)| Policy {
                objective,
                tradeoff,
                min_share,
                demand_rps: demand,
                peers,
                latency_slo_ms: slo,
                prefer_local: false,
                ..Policy::default()
            },
        )
}

fn config() -> ProptestConfig {
    // 300 cases by default; PROPTEST_CASES raises it for a longer hunt.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(300);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn shares_are_valid_floored_and_zero_when_ineligible(policy in policy(), exports in exports()) {
        let d = solve_with(&policy, &exports, &State::new());
        let eligible = exports.iter().filter(|e| e.eligible).count();
        let total: f64 = d.shares().iter().sum();
        if eligible == 0 {
            prop_assert_eq!(total, 0.0);
        } else {
            prop_assert!((total - 1.0).abs() < 1e-6, "sum {}", total);
        }
        let floor = policy.min_share.min(1.0 / eligible.max(1) as f64);
        for (export, decision) in exports.iter().zip(&d.exports) {
            prop_assert!(decision.share.is_finite() && decision.share >= -1e-12);
            if !export.eligible {
                prop_assert_eq!(decision.share, 0.0);
            } else if eligible > 1 {
                prop_assert!(decision.share >= floor - 1e-6, "{} below floor {}", decision.share, floor);
            }
            prop_assert!(!decision.reason.is_empty());
        }
    }

    #[test]
    fn capacity_caps_hold_when_feasible(policy in policy(), exports in exports()) {
        let d = solve_with(&policy, &exports, &State::new());
        let over = d.notes.iter().any(|n| n.contains("exceeds the capacity"));
        let demand = policy.demand_rps.unwrap_or(0.0);
        let ceiling = if policy.objective == Objective::Cost { policy.target_utilization } else { 0.95 };
        for (export, decision) in exports.iter().zip(&d.exports) {
            if let (false, true, Some(capacity)) = (over, export.eligible, export.capacity_rps)
                && demand > 0.0
            {
                let cap = ceiling * capacity / f64::from(policy.peers) / demand;
                let floor = policy.min_share;
                prop_assert!(decision.share <= cap.max(floor) + 1e-6,
                    "{} over cap {}", decision.share, cap);
            }
        }
    }

    #[test]
    fn a_higher_price_never_raises_a_share_under_cost(
        policy in policy(), exports in exports(), which in 0usize..8, factor in 1.0f64..5.0,
    ) {
        let policy = Policy { objective: Objective::Cost, ..policy };
        let which = which % exports.len();
        // Only a known price can be raised; an unknown one stands in as the median of the rest.
        prop_assume!(exports[which].price_per_request.is_some());
        let before = solve_with(&policy, &exports, &State::new());
        let mut dearer = exports.clone();
        dearer[which].price_per_request = dearer[which].price_per_request.map(|p| p * factor + 1e-9);
        let after = solve_with(&policy, &dearer, &State::new());
        prop_assert!(after.exports[which].share <= before.exports[which].share + 1e-6,
            "{} -> {}", before.exports[which].share, after.exports[which].share);
    }

    #[test]
    fn a_higher_latency_never_raises_a_share_under_performance(
        policy in policy(), mut exports in exports(), which in 0usize..8, extra in 0.1f64..100.0,
    ) {
        let policy = Policy { objective: Objective::Performance, ..policy };
        let which = which % exports.len();
        // Only a fresh latency can be raised. The others must be fresh too: an unknown figure
        // stands in as the median of the known ones, so it would move with the raised one (and,
        // amplified by that export's retries, could overtake it).
        for (i, export) in exports.iter_mut().enumerate() {
            let latency = export.latency.get_or_insert(Measurement { mean_ms: 7.0 * i as f64 + 1.0, p99_ms: None, age_s: 0.0 });
            latency.age_s = latency.age_s.min(policy.max_age_s);
        }
        let before = solve_with(&policy, &exports, &State::new());
        let mut slower = exports.clone();
        if let Some(latency) = slower[which].latency.as_mut() {
            latency.mean_ms += extra;
        }
        let after = solve_with(&policy, &slower, &State::new());
        prop_assert!(after.exports[which].share <= before.exports[which].share + 1e-6,
            "{} -> {}", before.exports[which].share, after.exports[which].share);
    }

    #[test]
    fn identical_inputs_give_identical_outputs(policy in policy(), exports in exports()) {
        let first = solve_with(&policy, &exports, &State::new());
        let second = solve_with(&policy, &exports, &first.state);
        let again = solve_with(&policy, &exports, &first.state);
        prop_assert_eq!(&second, &again);
        prop_assert_eq!(first, solve_with(&policy, &exports, &State::new()));
    }
}

//! Properties that must hold for any input: valid shares, floors, zero for the ineligible,
//! preferLocal, neutral values for stale figures, monotonicity in price and latency, a
//! migration in proportion to the time elapsed, and determinism.

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

fn load() -> impl Strategy<Value = Option<LoadReport>> {
    prop::option::weighted(
        0.6,
        (
            prop::option::weighted(0.9, 0.0f64..1.2),
            prop::option::weighted(0.8, 0.1f64..300.0),
            prop::option::weighted(0.2, 0.0f64..0.5),
            0.0f64..30.0,
        )
            .prop_map(|(utilization, latency_ms, error_rate, age_s)| LoadReport {
                utilization,
                latency_ms,
                error_rate,
                age_s,
            }),
    )
}

fn export(i: usize) -> impl Strategy<Value = ExportInput> {
    (
        prop::bool::weighted(0.85),
        measurement(),
        measurement(),
        load(),
        prop::option::weighted(0.9, 0.0f64..1e-5),
        prop::option::weighted(0.7, 0u32..64),
        prop::option::weighted(0.2, 0.0f64..0.5),
    )
        .prop_map(
            move |(eligible, rtt, latency, load, price, servers, error)| ExportInput {
                cluster: format!("c{i}"),
                local: i == 0,
                eligible,
                rtt,
                latency,
                load,
                price_per_request: price,
                servers,
                error_rate: error,
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
        (0.0f64..1.0, prop::option::weighted(0.2, 0.0f64..1.0)),
        (prop::bool::weighted(0.2), 0.0f64..0.1),
        prop::option::weighted(0.3, 5.0f64..200.0),
        (
            0.5f64..60.0,
            0.05f64..1.0,
            0.5f64..30.0,
            prop_oneof![Just(0.0), 0.0f64..0.2],
        ),
        prop::bool::weighted(0.9),
    )
        .prop_map(
            |(objective, (tradeoff, worth), (prefer_local, min_share), slo, timing, marginal)| {
                let (migration_s, full_gap, propagation_s, stabilize) = timing;
                Policy {
                    objective,
                    tradeoff,
                    usd_per_ms_per_million: worth,
                    prefer_local,
                    min_share,
                    latency_slo_ms: slo,
                    migration_s,
                    full_gap,
                    propagation_s,
                    stabilize,
                    marginal,
                    ..Policy::default()
                }
            },
        )
}

/// A previous solve's state over some of `n` exports (none, on a first solve), its shares
/// not necessarily summing to 1 (clusters leave and arrive).
fn previous(n: usize) -> impl Strategy<Value = State> {
    prop::option::weighted(
        0.7,
        prop::collection::vec(
            prop::option::weighted(
                0.8,
                (
                    0.0f64..1.0,
                    0.0f64..1.0,
                    prop::option::weighted(0.5, 0.1f64..100.0),
                ),
            ),
            n,
        ),
    )
    .prop_map(|entries| {
        entries
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter_map(|(i, entry)| {
                let (share, seen, service_ms) = entry?;
                Some((
                    format!("c{i}"),
                    ExportState {
                        share,
                        seen,
                        service_ms,
                    },
                ))
            })
            .collect()
    })
}

/// A problem: policy, exports, previous state and seconds elapsed.
fn problem() -> impl Strategy<Value = (Policy, Vec<ExportInput>, State, f64)> {
    (policy(), exports()).prop_flat_map(|(policy, exports)| {
        let n = exports.len();
        (
            Just(policy),
            Just(exports),
            previous(n),
            prop_oneof![Just(1.0), 0.0f64..120.0],
        )
    })
}

/// Every export with the same share, as long ago as the reports need to show it.
fn even(exports: &[ExportInput]) -> State {
    let share = 1.0 / exports.iter().filter(|e| e.eligible).count().max(1) as f64;
    exports
        .iter()
        .filter(|e| e.eligible)
        .map(|e| {
            (
                e.cluster.clone(),
                ExportState {
                    share,
                    seen: share,
                    service_ms: None,
                },
            )
        })
        .collect()
}

/// Makes every figure fresh and known, so that none stands in as a median of the others (which
/// would move with the one a property changes).
fn all_fresh(exports: &mut [ExportInput]) {
    for (i, export) in exports.iter_mut().enumerate() {
        let x = i as f64;
        for (m, default) in [
            (&mut export.rtt, 3.0 * x + 1.0),
            (&mut export.latency, 7.0 * x + 1.0),
        ] {
            let m = m.get_or_insert(Measurement {
                mean_ms: default,
                p99_ms: None,
                age_s: 0.0,
            });
            m.age_s = 0.0;
        }
        export.price_per_request.get_or_insert(1e-7 * (x + 1.0));
        if let Some(load) = export.load.as_mut() {
            load.age_s = 0.0;
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
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
    fn shares_are_valid_floored_and_zero_when_ineligible(
        (policy, exports, previous, elapsed_s) in problem(),
    ) {
        let d = solve_with(&policy, &exports, &previous, elapsed_s);
        prop_assert_eq!(d.exports.len(), exports.len());
        let eligible = exports.iter().filter(|e| e.eligible).count();
        let total: f64 = d.shares().iter().sum();
        if eligible == 0 {
            prop_assert_eq!(total, 0.0);
            prop_assert!(!d.notes.is_empty());
        } else {
            prop_assert!((total - 1.0).abs() < 1e-9, "sum {}", total);
        }
        let local = exports.iter().position(|e| e.local && e.eligible).filter(|_| policy.prefer_local);
        let floor = policy.min_share.min(1.0 / eligible.max(1) as f64);
        for (k, (export, decision)) in exports.iter().zip(&d.exports).enumerate() {
            prop_assert_eq!(&decision.cluster, &export.cluster);
            prop_assert!(decision.share.is_finite() && decision.share >= 0.0, "{}", decision.share);
            prop_assert!(decision.terms.cost_ms.is_finite() || !export.eligible);
            prop_assert!(!decision.reason().is_empty());
            if !export.eligible {
                prop_assert_eq!(decision.share, 0.0);
                prop_assert_eq!(&decision.binds, &vec![Bind::Ineligible]);
            } else if let Some(local) = local {
                prop_assert_eq!(decision.share, if k == local { 1.0 } else { 0.0 });
                prop_assert!(decision.binds.contains(&Bind::PreferLocal));
            } else if eligible > 1 {
                prop_assert!(decision.share >= floor - 1e-9, "{} below floor {}", decision.share, floor);
            }
            // The state carries every eligible export's share for the next solve, and forgets
            // the others (back, they start from nothing).
            match d.state.get(&export.cluster) {
                Some(state) => {
                    prop_assert!(export.eligible);
                    prop_assert_eq!(state.share, decision.share);
                    prop_assert!(state.seen.is_finite());
                }
                None => prop_assert!(!export.eligible),
            }
        }
    }

    #[test]
    fn stale_figures_take_the_median_of_the_fresh_ones(
        (policy, exports, previous, elapsed_s) in problem(),
    ) {
        let d = solve_with(&policy, &exports, &previous, elapsed_s);
        let eligible: Vec<(&ExportInput, &ExportDecision)> =
            exports.iter().zip(&d.exports).filter(|(e, _)| e.eligible).collect();
        let fresh = |e: &ExportInput| e.rtt.filter(|m| m.age_s <= policy.max_age_s).map(|m| m.mean_ms);
        let neutral_rtt = median(eligible.iter().filter_map(|(e, _)| fresh(e)).collect());
        let neutral_price = median(eligible.iter().filter_map(|(e, _)| e.price_per_request).collect());
        for (export, decision) in &eligible {
            match fresh(export) {
                Some(rtt) => prop_assert_eq!(decision.terms.rtt_ms, rtt),
                None => {
                    prop_assert!((decision.terms.rtt_ms - neutral_rtt).abs() < 1e-9,
                        "{} vs median {}", decision.terms.rtt_ms, neutral_rtt);
                    prop_assert!(decision.binds.contains(&Bind::Stale));
                }
            }
            let price = export.price_per_request.unwrap_or(neutral_price);
            prop_assert!((decision.terms.price_per_request_usd - price).abs() < 1e-15);
        }
    }

    #[test]
    fn nothing_moves_without_time_and_the_move_grows_with_it(
        (policy, exports, previous, elapsed_s) in problem(), fraction in 0.0f64..1.0,
    ) {
        // No floor and no preferLocal, so the shares are the migration's alone.
        let policy = Policy { min_share: 0.0, prefer_local: false, ..policy };
        let start = solve_with(&policy, &exports, &previous, 0.0);
        let elapsed_s = elapsed_s.min(policy.migration_s);
        let t = fraction * elapsed_s;
        let full = solve_with(&policy, &exports, &previous, elapsed_s);
        let part = solve_with(&policy, &exports, &previous, t);
        for k in 0..exports.len() {
            // The migration is linear in the rate, elapsed_s / migration_s: a fraction of the
            // time moves that fraction of the traffic.
            let (s0, s1, st) = (start.exports[k].share, full.exports[k].share, part.exports[k].share);
            prop_assert!((st - s0 - fraction * (s1 - s0)).abs() < 1e-9,
                "start {} full {} after {} of the time {}", s0, s1, fraction, st);
        }
        // And with no time at all, the shares are the previous ones over the exports still
        // eligible, what the others left spread by their idle servers (where all report a
        // utilisation) or else their ready endpoints, or the ready endpoints' proportions on a
        // first solve.
        let chosen: Vec<&ExportInput> = exports.iter().filter(|e| e.eligible).collect();
        let before: Vec<f64> = chosen.iter()
            .map(|e| previous.get(&e.cluster).map_or(0.0, |s| s.share.clamp(0.0, 1.0)))
            .collect();
        let total: f64 = before.iter().sum();
        let servers: Vec<f64> = chosen.iter()
            .map(|e| e.servers.filter(|k| *k > 0).map_or(1.0, f64::from))
            .collect();
        let all: f64 = servers.iter().sum();
        let expected: Vec<f64> = if total > 1e-6 {
            let left = (1.0 - total).max(0.0);
            let idle: Option<Vec<f64>> = chosen.iter().zip(&servers)
                .map(|(e, k)| {
                    let load = e.load.filter(|r| r.age_s.is_finite() && r.age_s <= policy.report_expiry_s)?;
                    Some(k * (1.0 - load.utilization.filter(|u| u.is_finite())?).clamp(0.0, 1.0))
                })
                .collect();
            let room = idle.filter(|r| r.iter().sum::<f64>() > 1e-9).unwrap_or_else(|| servers.clone());
            let room_all: f64 = room.iter().sum();
            let spread: Vec<f64> = before.iter().zip(&room).map(|(s, r)| s + left * r / room_all).collect();
            let sum: f64 = spread.iter().sum();
            spread.iter().map(|s| s / sum).collect()
        } else {
            servers.iter().map(|k| k / all).collect()
        };
        let shares: Vec<f64> = exports.iter().zip(&start.exports)
            .filter(|(e, _)| e.eligible)
            .map(|(_, d)| d.share)
            .collect();
        for (share, expected) in shares.iter().zip(&expected) {
            prop_assert!((share - expected).abs() < 1e-12, "{:?} vs {:?}", shares, expected);
        }
    }

    #[test]
    fn a_costlier_export_never_ends_above_a_cheaper_one_from_equal_shares(
        (policy, mut exports, _previous, elapsed_s) in problem(),
    ) {
        // Without load reports every move is by the relative gap, which grows with the cost, so
        // from equal shares the shares end in the order of the costs (see below for why not
        // with reports).
        for export in &mut exports {
            export.load = None;
        }
        let policy = Policy { prefer_local: false, ..policy };
        let d = solve_with(&policy, &exports, &even(&exports), elapsed_s);
        let eligible: Vec<&ExportDecision> = exports.iter().zip(&d.exports)
            .filter(|(e, _)| e.eligible)
            .map(|(_, d)| d)
            .collect();
        for cheap in &eligible {
            for dear in &eligible {
                if cheap.terms.cost_ms < dear.terms.cost_ms {
                    prop_assert!(cheap.share >= dear.share - 1e-12,
                        "{} at {} ms holds {}, {} at {} ms holds {}",
                        cheap.cluster, cheap.terms.cost_ms, cheap.share,
                        dear.cluster, dear.terms.cost_ms, dear.share);
                }
            }
        }
    }

    #[test]
    fn traffic_only_flows_toward_cheaper_exports(
        (policy, exports, previous, elapsed_s) in problem(),
    ) {
        // With load reports, how much moves between two exports depends on how steeply each
        // one's cost climbs with load (the closing fraction), so a cheaper but flat export can
        // shed more to a third than a dearer but steep one and end below it (shares are not
        // ordered by cost). What holds whatever the figures: traffic only ever moves toward
        // cheaper exports, so the cheapest loses nothing and the dearest gains nothing.
        let policy = Policy { min_share: 0.0, prefer_local: false, ..policy };
        let start = solve_with(&policy, &exports, &previous, 0.0);
        let d = solve_with(&policy, &exports, &previous, elapsed_s);
        let eligible: Vec<usize> = (0..exports.len()).filter(|&k| exports[k].eligible).collect();
        let cost = |k: usize| d.exports[k].terms.cost_ms;
        if let (Some(&cheapest), Some(&dearest)) = (
            eligible.iter().min_by(|a, b| cost(**a).total_cmp(&cost(**b))),
            eligible.iter().max_by(|a, b| cost(**a).total_cmp(&cost(**b))),
        ) {
            prop_assert!(d.exports[cheapest].share >= start.exports[cheapest].share - 1e-12,
                "the cheapest fell: {} -> {}", start.exports[cheapest].share, d.exports[cheapest].share);
            prop_assert!(d.exports[dearest].share <= start.exports[dearest].share + 1e-12,
                "the dearest rose: {} -> {}", start.exports[dearest].share, d.exports[dearest].share);
        }
    }

    #[test]
    fn a_higher_price_never_raises_a_share_under_cost(
        (policy, mut exports, previous, elapsed_s) in problem(), which in 0usize..8, factor in 1.0f64..5.0,
    ) {
        let policy = Policy { objective: Objective::Cost, ..policy };
        let which = which % exports.len();
        // Every price known: an unknown one stands in as the median of the rest, so it would
        // move with the raised one.
        all_fresh(&mut exports);
        let before = solve_with(&policy, &exports, &previous, elapsed_s);
        let mut dearer = exports.clone();
        dearer[which].price_per_request = dearer[which].price_per_request.map(|p| p * factor + 1e-9);
        let after = solve_with(&policy, &dearer, &previous, elapsed_s);
        prop_assert!(after.exports[which].terms.cost_ms >= before.exports[which].terms.cost_ms);
        prop_assert!(after.exports[which].share <= before.exports[which].share + 1e-9,
            "{} -> {}", before.exports[which].share, after.exports[which].share);
    }

    #[test]
    fn a_higher_latency_never_raises_a_share_under_performance(
        (policy, mut exports, previous, elapsed_s) in problem(), which in 0usize..8, extra in 0.1f64..100.0,
    ) {
        let policy = Policy { objective: Objective::Performance, ..policy };
        let which = which % exports.len();
        // The probes' latency decides only where no report stands behind the service time.
        all_fresh(&mut exports);
        exports[which].load = None;
        let before = solve_with(&policy, &exports, &previous, elapsed_s);
        let mut slower = exports.clone();
        if let Some(latency) = slower[which].latency.as_mut() {
            latency.mean_ms += extra;
        }
        let after = solve_with(&policy, &slower, &previous, elapsed_s);
        prop_assert!(after.exports[which].share <= before.exports[which].share + 1e-9,
            "{} -> {}", before.exports[which].share, after.exports[which].share);
    }

    #[test]
    fn identical_inputs_give_identical_outputs((policy, exports, previous, elapsed_s) in problem()) {
        let first = solve_with(&policy, &exports, &previous, elapsed_s);
        prop_assert_eq!(&first, &solve_with(&policy, &exports, &previous, elapsed_s));
        let second = solve_with(&policy, &exports, &first.state, elapsed_s);
        let again = solve_with(&policy, &exports, &first.state, elapsed_s);
        prop_assert_eq!(second, again);
    }
}

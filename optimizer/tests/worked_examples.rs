//! Worked examples whose answers were computed by hand (the arithmetic is in each comment).
//!
//! The rule, as `flow.rs` has it: each export's cost is its marginal latency (round trip +
//! service + queueing_weight × marginal queueing, times the expected tries) plus, under Cost and
//! Mixed, its price in milliseconds; then, from the shares in force, each export moves
//! `rate` = min(elapsed_s / migration_s, 1) of its traffic, split evenly over the n - 1 others,
//! toward every export cheaper by more than the stabilize band, in the proportion:
//! - with both utilisations reported, the fraction φ of its traffic that, moved by every
//!   cluster alike, brings the two within the band (found by bisection, to 1/1024);
//! - otherwise ((cost_from - cost_to) / cost_from - band) / full_gap, at most 1.
//!
//! The examples fix the tuning (see `policy`): migration_s 5, stabilize 0.05, full_gap 0.5,
//! propagation_s 10, report_expiry_s 15.
//!
//! Figures used throughout: the queueing weight is ln 100 = 4.605170 (set here, not the
//! default 1, so each term's part in the arithmetic shows; the SLO's p99 uses the same factor,
//! its fixed one); with one
//! server the queue is M/M/1, so the wait per unit of service time is w(u) = u / (1 - u) and the
//! marginal wait factor is m(u) = d/du (u·w(u)) = (2u - u²) / (1 - u)². A report's latency L at
//! utilisation u is de-queued to the service time s = L / (1 + w(u)), the queueing being s·w(u).

use aviator_optimizer::*;

/// ln 100: the queueing weight these examples set, and the SLO's p99 factor.
const TAIL: f64 = 4.605_170_185_988_092;

fn measured(mean_ms: f64) -> Option<Measurement> {
    Some(Measurement {
        mean_ms,
        p99_ms: None,
        age_s: 0.0,
    })
}

/// An export this cluster has probed (round trip and service latency) but that reports no
/// load.
fn export(cluster: &str, rtt_ms: f64, service_ms: f64, price: f64) -> ExportInput {
    ExportInput {
        cluster: cluster.into(),
        local: false,
        eligible: true,
        rtt: measured(rtt_ms),
        latency: measured(service_ms),
        load: None,
        price_per_request: Some(price),
        servers: None,
        error_rate: None,
    }
}

/// An export of one server (M/M/1) whose exporter reports `utilization` and its in-cluster
/// `latency_ms`, `age_s` seconds ago; no probe of our own stands behind its service time.
fn reported(
    cluster: &str,
    rtt_ms: f64,
    utilization: f64,
    latency_ms: f64,
    age_s: f64,
) -> ExportInput {
    ExportInput {
        latency: None,
        servers: Some(1),
        load: Some(LoadReport {
            utilization: Some(utilization),
            latency_ms: Some(latency_ms),
            error_rate: None,
            age_s,
        }),
        ..export(cluster, rtt_ms, 0.0, 0.0)
    }
}

/// The policy the examples were worked under. The rule's tuning is written out rather than
/// taken from the defaults, which are chosen on the simulator and move: these examples check
/// the rule's arithmetic, not the current choice of its constants.
fn policy(objective: Objective) -> Policy {
    Policy {
        objective,
        prefer_local: false,
        migration_s: 5.0,
        full_gap: 0.5,
        stabilize: 0.05,
        propagation_s: 10.0,
        target_utilization: 0.8,
        max_age_s: 30.0,
        report_expiry_s: 15.0,
        queueing_weight: TAIL,
        ..Policy::default()
    }
}

/// The state a previous solve would have left with these shares, long enough ago that the
/// exporters' reports show them (`seen` = `share`), so the predictor changes nothing.
fn previous(entries: &[(&str, f64)]) -> State {
    entries
        .iter()
        .map(|(c, s)| {
            (
                c.to_string(),
                ExportState {
                    share: *s,
                    seen: *s,
                    service_ms: None,
                },
            )
        })
        .collect()
}

fn even(exports: &[ExportInput]) -> State {
    let share = 1.0 / exports.len() as f64;
    exports
        .iter()
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

fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance
}

fn assert_shares(decision: &Decision, expected: &[f64], tolerance: f64) {
    let shares = decision.shares();
    assert_eq!(shares.len(), expected.len());
    for (actual, wanted) in shares.iter().zip(expected) {
        assert!(
            close(*actual, *wanted, tolerance),
            "shares {shares:?}, expected {expected:?} (± {tolerance})"
        );
    }
    let total: f64 = shares.iter().sum();
    assert!(close(total, 1.0, 1e-12), "shares sum to {total}");
}

fn has(decision: &Decision, k: usize, bind: Bind) -> bool {
    decision.exports[k].binds.contains(&bind)
}

#[test]
fn without_load_reports_traffic_moves_by_the_relative_gap() {
    // Performance, no reports: an export's cost is its round trip plus its probed latency.
    // a: 10 + 5 = 15 ms, b: 40 + 5 = 45 ms. From 50/50, one second of the examples' 5 s
    // migration is rate 0.2. b's gap to a is (45 - 15) / 45 = 0.667, less the 0.05 band over
    // full_gap 0.5 that is 1.23, capped at 1: b moves 0.5 × 0.2 × 1 = 0.1 of the traffic to a.
    let exports = [export("a", 10.0, 5.0, 0.0), export("b", 40.0, 5.0, 0.0)];
    let p = policy(Objective::Performance);
    let d = solve_with(&p, &exports, &even(&exports), 1.0);
    assert_shares(&d, &[0.6, 0.4], 1e-12);
    assert_eq!(d.exports[0].terms.cost_ms, 15.0);
    assert_eq!(d.exports[1].terms.cost_ms, 45.0);
    assert_eq!(d.exports[0].terms.expected_ms, 15.0);
    assert!(has(&d, 0, Bind::Unreported) && has(&d, 1, Bind::Unreported));
    assert!(
        d.exports[0].reason().contains("up from 50.0 %"),
        "{}",
        d.exports[0].reason()
    );
    // A smaller gap moves in proportion: a 15 ms, b 14 + 4 = 18 ms: (3/18 - 0.05) / 0.5 =
    // 0.2333, so b moves 0.5 × 0.2 × 0.2333 = 0.02333.
    let exports = [export("a", 10.0, 5.0, 0.0), export("b", 14.0, 4.0, 0.0)];
    let d = solve_with(&p, &exports, &even(&exports), 1.0);
    let moved = 0.1 * (3.0 / 18.0 - 0.05) / 0.5;
    assert!(close(moved, 0.023_333, 1e-6));
    assert_shares(&d, &[0.5 + moved, 0.5 - moved], 1e-12);
    // Equal costs: nothing moves.
    let exports = [export("a", 10.0, 5.0, 0.0), export("b", 12.0, 3.0, 0.0)];
    let d = solve_with(&p, &exports, &even(&exports), 1.0);
    assert_shares(&d, &[0.5, 0.5], 0.0);
}

#[test]
fn gaps_within_the_stabilize_band_move_nothing() {
    // NS1's stabilize: an export counts as cheaper only by more than 5 %. a 15 ms, b 15.5 ms:
    // 15 is not under 0.95 × 15.5 = 14.725, so nothing moves, however long it has been.
    let p = policy(Objective::Performance);
    assert_eq!(p.stabilize, 0.05);
    let exports = [export("a", 10.0, 5.0, 0.0), export("b", 10.5, 5.0, 0.0)];
    let d = solve_with(&p, &exports, &even(&exports), 5.0);
    assert_shares(&d, &[0.5, 0.5], 0.0);
    // b 16 ms: 15 is under 0.95 × 16 = 15.2, and the move is what the gap has beyond the band:
    // (1/16 - 0.05) / 0.5 = 0.025 of the full rate, 0.5 × 1 × 0.025 = 0.0125.
    let exports = [export("a", 10.0, 5.0, 0.0), export("b", 11.0, 5.0, 0.0)];
    let d = solve_with(&p, &exports, &even(&exports), 5.0);
    assert_shares(&d, &[0.5125, 0.4875], 1e-12);
    // Without the band the same gap moves (1/16) / 0.5 = 0.125 of the rate: 0.0625.
    let unbanded = Policy {
        stabilize: 0.0,
        ..p.clone()
    };
    let d = solve_with(&unbanded, &exports, &even(&exports), 5.0);
    assert_shares(&d, &[0.5625, 0.4375], 1e-12);
}

#[test]
fn traffic_migrates_toward_the_export_its_exporter_reports_less_loaded() {
    // Both 5 ms away, one server each. a reports 50 % busy at 20 ms: w = 1, so s = 10 ms and
    // 10 ms of queueing. b reports 25 % busy at 13.33 ms: w = 1/3, so s = 10 ms too.
    // Marginal costs: a = 5 + 10 + 4.605 × 10 × m(0.5) = 15 + 4.605 × 10 × 3 = 153.16 ms,
    // b = 15 + 4.605 × 10 × m(0.25) = 15 + 4.605 × 10 × 0.778 = 50.82 ms.
    // Both follow one curve, C(u) = 15 + 46.05 m(u) = -31.05 + 46.05 / (1 - u)². Moving φ of
    // a's traffic puts a at x = 0.5 (1 - φ) and b at y = 0.25 + 0.5 φ (same capacity), so
    // x + y = 0.75. Without the band they meet where the utilisations do, φ = 0.25 (both at
    // 37.5 %); the band stops the move where 0.95 C(x) = C(y), which solves
    // numerically to x = 0.3809, y = 0.3691: φ = 2 (0.5 - 0.3809) = 0.2382.
    // One second (rate 0.2) from 50/50: a moves 0.5 × 0.2 × 0.2382 = 0.02382 to b. The cost
    // curve is interpolated between 65 points and the bisection is precise to 1/1024 of a's
    // traffic (± 0.5 × 0.2 / 2048 ≈ 5e-5): 2e-4 covers both.
    let exports = [
        reported("a", 5.0, 0.5, 20.0, 1.0),
        reported("b", 5.0, 0.25, 40.0 / 3.0, 1.0),
    ];
    let p = policy(Objective::Performance);
    let d = solve_with(&p, &exports, &even(&exports), 1.0);
    assert!(close(d.exports[0].terms.service_ms, 10.0, 1e-9));
    assert!(close(d.exports[0].terms.queueing_ms, 10.0, 1e-9));
    assert!(close(d.exports[1].terms.service_ms, 10.0, 1e-9));
    assert!(close(d.exports[0].terms.cost_ms, 15.0 + TAIL * 30.0, 1e-9));
    assert!(close(
        d.exports[1].terms.cost_ms,
        15.0 + TAIL * 10.0 * 0.4375 / 0.5625,
        1e-9
    ));
    assert_eq!(d.exports[0].terms.utilization, Some(0.5));
    assert_shares(&d, &[0.5 - 0.023_82, 0.5 + 0.023_82], 2e-4);
    // Without the band, the symmetric meeting point: 0.5 × 0.2 × 0.25 = 0.025.
    let unbanded = Policy {
        stabilize: 0.0,
        ..p.clone()
    };
    let d0 = solve_with(&unbanded, &exports, &even(&exports), 1.0);
    assert_shares(&d0, &[0.475, 0.525], 1e-4);
    // Reported and fresh: neither stands on the probes' figures.
    assert!(d.exports.iter().all(|e| e.binds.is_empty()), "{d:?}");
    // The state says what the next solve needs: the share, the share the reports reflect
    // (one second of the 10 s propagation: 0.5 + 0.1 × (0.475 - 0.5) = 0.4975 for a), and
    // the service time learned from the report.
    let a = d.state["a"];
    assert_eq!(a.share, d.exports[0].share);
    assert!(close(a.seen, 0.5 + 0.1 * (a.share - 0.5), 1e-12), "{a:?}");
    assert!(close(a.service_ms.unwrap(), 10.0, 1e-9));
}

#[test]
fn the_migration_rate_is_the_time_since_the_last_solve_over_migration_seconds() {
    // The example above, a moving φ = 0.2382 of its half toward b at rate elapsed / 5 s:
    // 0 s moves nothing, 1 s moves 0.5 × 0.2 × 0.2382 = 0.0238, 2.5 s moves 0.0596, 5 s moves
    // 0.1191; 10 s moves no more than 5 s (the rate is at most 1).
    let exports = [
        reported("a", 5.0, 0.5, 20.0, 1.0),
        reported("b", 5.0, 0.25, 40.0 / 3.0, 1.0),
    ];
    let p = policy(Objective::Performance);
    let from = even(&exports);
    let moved = |elapsed_s: f64| 0.5 - solve_with(&p, &exports, &from, elapsed_s).exports[0].share;
    assert_eq!(moved(0.0), 0.0);
    assert!(close(moved(1.0), 0.023_82, 2e-4));
    assert!(close(moved(2.5), 0.059_55, 5e-4));
    assert!(close(moved(5.0), 0.119_1, 1e-3));
    assert_eq!(moved(10.0), moved(5.0));
    // Exactly in proportion to the elapsed time, whatever the bisection's rounding.
    assert!(close(moved(2.5), 2.5 * moved(1.0), 1e-12));
    // A slower migration_s moves less per second: 20 s makes 1 s a rate of 0.05.
    let slow = Policy {
        migration_s: 20.0,
        ..p.clone()
    };
    let d = solve_with(&slow, &exports, &from, 1.0);
    assert!(close(0.5 - d.exports[0].share, moved(1.0) / 4.0, 1e-12));
}

#[test]
fn a_report_older_than_its_expiry_counts_as_unknown_not_as_idle() {
    // a: 5 ms away, reports 25 % busy at 20 ms (w = 1/3, s = 15, 5 ms queueing): marginal
    // cost 5 + 15 + 4.605 × 15 × m(0.25) = 20 + 4.605 × 15 × 0.778 = 73.73 ms.
    // b: 5 ms away, our probes measure it at 100 ms; its exporter's report says idle at 10 ms.
    let a = reported("a", 5.0, 0.25, 20.0, 1.0);
    let b = |age_s: f64| ExportInput {
        latency: measured(100.0),
        ..reported("b", 5.0, 0.0, 10.0, age_s)
    };
    let p = policy(Objective::Performance);
    let expiry = p.report_expiry_s;
    assert_eq!(expiry, 15.0);
    // 14 s old, within the 15 s expiry: b is believed idle, costs 5 + 10 = 15 ms, and draws
    // traffic from a.
    let exports = [a.clone(), b(expiry - 1.0)];
    let fresh = solve_with(&p, &exports, &even(&exports), 1.0);
    assert_eq!(fresh.exports[1].terms.cost_ms, 15.0);
    assert_eq!(fresh.exports[1].terms.utilization, Some(0.0));
    assert!(fresh.exports[1].share > 0.5, "{fresh:?}");
    assert!(!has(&fresh, 1, Bind::Unreported));
    // 16 s old: the report is unknown, so b's probes stand in: 5 + 100 = 105 ms, no
    // utilisation. a is cheaper: b moves ((105 - 73.73) / 105 - 0.05) / 0.5 = 0.4957 of its
    // rate, 0.5 × 0.2 × 0.4957 = 0.0496, to a.
    let exports = [a.clone(), b(expiry + 1.0)];
    let expired = solve_with(&p, &exports, &even(&exports), 1.0);
    let cost_a = 20.0 + TAIL * 15.0 * 0.4375 / 0.5625;
    assert!(close(expired.exports[0].terms.cost_ms, cost_a, 1e-9));
    assert_eq!(expired.exports[1].terms.cost_ms, 105.0);
    assert_eq!(expired.exports[1].terms.utilization, None);
    assert!(has(&expired, 1, Bind::Unreported));
    let moved = 0.5 * 0.2 * ((105.0 - cost_a) / 105.0 - 0.05) / 0.5;
    assert!(close(moved, 0.049_57, 1e-5));
    assert_shares(&expired, &[0.5 + moved, 0.5 - moved], 1e-12);
    // What the expired report said makes no difference: it is as if there were none.
    let silent = ExportInput {
        load: None,
        ..b(0.0)
    };
    let exports = [a, silent];
    assert_eq!(
        solve_with(&p, &exports, &even(&exports), 1.0).shares(),
        expired.shares()
    );
}

#[test]
fn the_first_solve_starts_from_ready_endpoint_proportions() {
    // No previous state: the split starts in proportion to the servers (ready endpoints),
    // unknown or zero counting one: 1 : 3 : 1 of 5 = 0.2 / 0.6 / 0.2. The three cost the same
    // (10 + 5, 12 + 3 and 5 + 10 ms), so nothing moves from there.
    let mut a = export("a", 10.0, 5.0, 0.0);
    a.servers = Some(0);
    let mut b = export("b", 12.0, 3.0, 0.0);
    b.servers = Some(3);
    let c = export("c", 5.0, 10.0, 0.0);
    let p = policy(Objective::Performance);
    let d = solve_with(&p, &[a.clone(), b.clone(), c.clone()], &State::new(), 1.0);
    assert_shares(&d, &[0.2, 0.6, 0.2], 1e-12);
    assert!(d.exports.iter().all(|e| e.previous_share.is_none()));
    // With no time elapsed, the start is the answer whatever the costs: c made slower stays
    // at its 0.2.
    let slow = export("c", 50.0, 10.0, 0.0);
    let d = solve_with(
        &p,
        &[a.clone(), b.clone(), slow.clone()],
        &State::new(),
        0.0,
    );
    assert_shares(&d, &[0.2, 0.6, 0.2], 1e-12);
    // One second later c (60 ms) moves toward a and b (15 ms each): (45/60 - 0.05) / 0.5 =
    // 1.4, capped at 1, so 0.2 × 0.2 × 1 / 2 = 0.02 to each of them.
    let d = solve_with(&p, &[a, b, slow], &State::new(), 1.0);
    assert_shares(&d, &[0.22, 0.62, 0.16], 1e-12);
    // The first solve's reports are taken to show its own shares already.
    assert_eq!(d.state["c"].seen, d.state["c"].share);
}

#[test]
fn exports_that_leave_hand_their_share_on_and_new_ones_start_from_nothing() {
    // Previous: a 0.5, b 0.3, c 0.2. c is now ineligible: its 0.2 is spread at once over the
    // exports eligible now by their ready endpoints (one each here): a 0.5 + 0.2/3, b 0.3 +
    // 0.2/3, and d, which is new, 0.2/3. a and b cost 40 + 5 = 45 ms, d 10 + 5 = 15 ms: each
    // moves (30/45 - 0.05) / 0.5 = 1.23, capped at 1, of rate 0.2, split over the n - 1 = 2
    // others: a gives (0.5 + 0.2/3) × 0.1, b gives (0.3 + 0.2/3) × 0.1, and d draws both.
    let mut c = export("c", 1.0, 1.0, 0.0);
    c.eligible = false;
    let exports = [
        export("a", 40.0, 5.0, 0.0),
        export("b", 40.0, 5.0, 0.0),
        c,
        export("d", 10.0, 5.0, 0.0),
    ];
    let from = previous(&[("a", 0.5), ("b", 0.3), ("c", 0.2)]);
    let d = solve_with(&policy(Objective::Performance), &exports, &from, 1.0);
    let (a, b) = (0.5 + 0.2 / 3.0, 0.3 + 0.2 / 3.0);
    assert_shares(
        &d,
        &[a * 0.9, b * 0.9, 0.0, 0.2 / 3.0 + (a + b) * 0.1],
        1e-12,
    );
    assert!(has(&d, 2, Bind::Ineligible));
    assert_eq!(d.exports[2].binds, [Bind::Ineligible]);
    assert_eq!(d.exports[2].previous_share, Some(0.2));
    assert_eq!(d.exports[3].previous_share, None);
}

#[test]
fn floors_hold_every_eligible_export_at_min_share() {
    // a 15, b 45, c 200 ms, from thirds, a full migration interval (rate 1).
    // b → a: (30/45 - 0.05) / 0.5 > 1, so 1/3 × 1 / 2 = 1/6.
    // c → a and c → b: (185/200 - 0.05) / 0.5 and (155/200 - 0.05) / 0.5, both > 1: 1/6 each.
    // Before the floor: a 1/3 + 1/6 + 1/6 = 2/3, b 1/3 - 1/6 + 1/6 = 1/3, c 0.
    // A 2 % floor lifts c by 0.02, taken from a and b in proportion to what they hold above
    // 0.02 (0.6467 and 0.3133 of 0.96): a 2/3 - 0.6467 × 0.02 / 0.96 = 0.65319,
    // b 1/3 - 0.3133 × 0.02 / 0.96 = 0.32681, c 0.02.
    let exports = [
        export("a", 10.0, 5.0, 0.0),
        export("b", 40.0, 5.0, 0.0),
        export("c", 195.0, 5.0, 0.0),
    ];
    let no_floor = solve_with(
        &policy(Objective::Performance),
        &exports,
        &even(&exports),
        5.0,
    );
    assert_shares(&no_floor, &[2.0 / 3.0, 1.0 / 3.0, 0.0], 1e-12);
    let p = Policy {
        min_share: 0.02,
        ..policy(Objective::Performance)
    };
    let d = solve_with(&p, &exports, &even(&exports), 5.0);
    let lowered = |s: f64| s - (s - 0.02) * 0.02 / 0.96;
    assert_shares(&d, &[lowered(2.0 / 3.0), lowered(1.0 / 3.0), 0.02], 1e-12);
    assert!(close(d.exports[0].share, 0.653_19, 1e-5));
    assert!(has(&d, 2, Bind::Floor) && !has(&d, 1, Bind::Floor));
    assert!(
        d.exports[2].reason().contains("held at the floor share"),
        "{}",
        d.exports[2].reason()
    );
}

#[test]
fn prefer_local_takes_everything_and_can_be_turned_off() {
    let mut local = export("here", 1.0, 50.0, 0.0);
    local.local = true;
    let exports = [local, export("there", 20.0, 5.0, 0.0)];
    let on = Policy {
        prefer_local: true,
        ..policy(Objective::Performance)
    };
    let d = solve_with(&on, &exports, &State::new(), 1.0);
    assert_eq!(d.shares(), [1.0, 0.0]);
    assert!(has(&d, 0, Bind::PreferLocal) && has(&d, 1, Bind::PreferLocal));
    assert_eq!(d.exports[0].reason(), "local export and preferLocal is on");
    // With preferLocal off, the slow local export (51 ms) loses traffic to the faster remote
    // one (25 ms): (26/51 - 0.05) / 0.5 = 0.9196, so 0.5 × 0.2 × 0.9196 = 0.09196 moves.
    let d = solve_with(
        &policy(Objective::Performance),
        &exports,
        &even(&exports),
        1.0,
    );
    let moved = 0.1 * (26.0 / 51.0 - 0.05) / 0.5;
    assert!(close(moved, 0.091_96, 1e-5));
    assert_shares(&d, &[0.5 - moved, 0.5 + moved], 1e-12);
    // An ineligible local export cannot take anything: the rule decides among the rest.
    let mut gone = exports.clone();
    gone[0].eligible = false;
    let d = solve_with(&on, &gone, &State::new(), 1.0);
    assert_eq!(d.shares(), [0.0, 1.0]);
    assert!(!has(&d, 1, Bind::PreferLocal));
}

#[test]
fn cost_prefers_the_cheaper_export_until_its_tail_latency_exceeds_the_slo() {
    // Cost, SLO 60 ms. One server each, 10 ms away; a costs $1 per million requests, b $3.
    // Under Cost a dollar per million weighs 10 000 ms, and each ms of tail-weighted latency
    // (rtt + service + 4.605 × queueing) over the SLO 1 000 000 ms.
    let p = Policy {
        latency_slo_ms: Some(60.0),
        ..policy(Objective::Cost)
    };
    let at = |cluster: &str, utilization: f64, latency_ms: f64, price: f64| ExportInput {
        price_per_request: Some(price),
        ..reported(cluster, 10.0, utilization, latency_ms, 1.0)
    };
    // Both 25 % busy at 20 ms (s = 15, 5 ms queueing): tail 10 + 15 + 4.605 × 5 = 48.03 ms,
    // within the SLO. Marginal latency 25 + 4.605 × 15 × m(0.25) = 78.73 ms; with the price,
    // a costs 10 078.7 and b 30 078.7. The first solve starts from 50/50 (one server each),
    // and traffic moves to the cheaper a.
    let marginal = 25.0 + TAIL * 15.0 * 0.4375 / 0.5625;
    let exports = [at("a", 0.25, 20.0, 1e-6), at("b", 0.25, 20.0, 3e-6)];
    let d = solve_with(&p, &exports, &State::new(), 1.0);
    assert!(close(d.exports[0].terms.cost_ms, marginal + 1e4, 1e-6));
    assert!(close(d.exports[1].terms.cost_ms, marginal + 3e4, 1e-6));
    assert!(d.exports[0].share > 0.5, "{d:?}");
    assert!(!has(&d, 0, Bind::Slo) && !has(&d, 1, Bind::Slo));
    // a now 50 % busy at 30 ms (s = 15, 15 ms queueing): tail 10 + 15 + 4.605 × 15 =
    // 94.08 ms, 34.08 over the SLO. a's cost: marginal 25 + 4.605 × 15 × m(0.5) = 232.23,
    // price 10 000, SLO 34 077 553: 34 087 785 in all, far above b's 30 078.7, so traffic moves
    // to b although it is dearer, and a says the SLO binds.
    let exports = [at("a", 0.5, 30.0, 1e-6), at("b", 0.25, 20.0, 3e-6)];
    let d = solve_with(&p, &exports, &State::new(), 1.0);
    let over = 25.0 + TAIL * 15.0 - 60.0;
    assert!(close(over, 34.077_55, 1e-5));
    let cost_a = 25.0 + TAIL * 15.0 * 3.0 + 1e4 + 1e6 * over;
    assert!(close(d.exports[0].terms.cost_ms, cost_a, 1e-4));
    assert!(close(cost_a, 34_087_785.022, 1e-2));
    assert!(d.exports[0].share < 0.5, "{d:?}");
    assert!(has(&d, 0, Bind::Slo) && !has(&d, 1, Bind::Slo));
    assert!(
        d.exports[0].reason().contains("over the latency SLO"),
        "{}",
        d.exports[0].reason()
    );
    // Without the SLO, price alone decides (a stays under the 0.8 target utilisation): a
    // gains again.
    let free = Policy {
        latency_slo_ms: None,
        ..p.clone()
    };
    let d = solve_with(&free, &exports, &State::new(), 1.0);
    assert!(d.exports[0].share > 0.5, "{d:?}");
    assert!(!has(&d, 0, Bind::Slo));
}

#[test]
fn cost_without_an_slo_holds_exports_to_the_target_utilisation() {
    // No SLO: Cost charges 100 × service time × 1 000 per unit of utilisation above the 0.8
    // target. a ($1/M) reports 90 % busy at 100 ms: w = 9, s = 10 ms, charged
    // (0.9 - 0.8) × 10 × 100 × 1 000 = 100 000 ms, far above the $2/M (20 000 ms) it saves
    // over b ($3/M, 25 % busy): traffic leaves a.
    let p = policy(Objective::Cost);
    let at = |cluster: &str, utilization: f64, latency_ms: f64, price: f64| ExportInput {
        price_per_request: Some(price),
        ..reported(cluster, 10.0, utilization, latency_ms, 1.0)
    };
    let exports = [at("a", 0.9, 100.0, 1e-6), at("b", 0.25, 20.0, 3e-6)];
    let d = solve_with(&p, &exports, &State::new(), 1.0);
    assert!(close(d.exports[0].terms.service_ms, 10.0, 1e-9));
    assert!(d.exports[0].share < 0.5, "{d:?}");
    assert!(has(&d, 0, Bind::Slo) && !has(&d, 1, Bind::Slo));
}

#[test]
fn mixed_blends_by_tradeoff_or_by_the_worth_of_a_millisecond() {
    // a: 10 ms, $5/M; b: 50 ms, $1/M. Tradeoff 0.7: a dollar per million weighs
    // 10 × 0.3 / 0.7 = 30/7 ms. a = 10 + 150/7 = 31.43, b = 50 + 30/7 = 54.29: b moves
    // ((54.29 - 31.43) / 54.29 - 0.05) / 0.5 = (8/19 - 0.05) / 0.5 = 0.7421 of rate 0.2 of its
    // half, 0.07421, to a.
    let exports = [export("a", 5.0, 5.0, 5e-6), export("b", 45.0, 5.0, 1e-6)];
    let p = Policy {
        tradeoff: 0.7,
        ..policy(Objective::Mixed)
    };
    let d = solve_with(&p, &exports, &even(&exports), 1.0);
    assert!(close(d.exports[0].terms.cost_ms, 10.0 + 150.0 / 7.0, 1e-9));
    assert!(close(d.exports[1].terms.cost_ms, 50.0 + 30.0 / 7.0, 1e-9));
    let moved = 0.1 * (8.0 / 19.0 - 0.05) / 0.5;
    assert!(close(moved, 0.074_21, 1e-5));
    assert_shares(&d, &[0.5 + moved, 0.5 - moved], 1e-12);
    // At $0.05 per ms per million requests a dollar per million weighs 20 ms: a = 10 + 100 =
    // 110, b = 50 + 20 = 70, so a moves (40/110 - 0.05) / 0.5 = 0.6273 of 0.1, 0.06273, to b.
    let p = Policy {
        usd_per_ms_per_million: Some(0.05),
        ..policy(Objective::Mixed)
    };
    let d = solve_with(&p, &exports, &even(&exports), 1.0);
    assert!(close(d.exports[0].terms.cost_ms, 110.0, 1e-9));
    let moved = 0.1 * (4.0 / 11.0 - 0.05) / 0.5;
    assert!(close(moved, 0.062_73, 1e-5));
    assert_shares(&d, &[0.5 - moved, 0.5 + moved], 1e-12);
    // Performance ignores the prices: a (10 ms) draws from b (50 ms) at the full rate.
    let d = solve_with(
        &policy(Objective::Performance),
        &exports,
        &even(&exports),
        1.0,
    );
    assert_shares(&d, &[0.6, 0.4], 1e-12);
}

#[test]
fn stale_figures_take_neutral_values() {
    // stale's 1 ms round trip is ten minutes old: it counts as the median of the fresh ones
    // (20 and 10 ms: 15 ms), so stale costs 15 + 1 = 16 ms, between b (25) and c (15).
    let mut stale = export("stale", 1.0, 1.0, 0.0);
    stale.rtt = Some(Measurement {
        mean_ms: 1.0,
        p99_ms: None,
        age_s: 600.0,
    });
    let exports = [
        stale,
        export("b", 20.0, 5.0, 0.0),
        export("c", 10.0, 5.0, 0.0),
    ];
    let d = solve_with(
        &policy(Objective::Performance),
        &exports,
        &even(&exports),
        1.0,
    );
    assert_eq!(d.exports[0].terms.rtt_ms, 15.0);
    assert_eq!(d.exports[0].terms.cost_ms, 16.0);
    assert!(has(&d, 0, Bind::Stale) && !has(&d, 1, Bind::Stale));
    // Thirds, rate 0.2, each move split over 2. stale → c: 15 is under 0.95 × 16 = 15.2, so c
    // counts cheaper: (1/16 - 0.05) / 0.5 = 0.025, so 1/3 × 0.2 × 0.025 / 2 = 1/1200.
    // b → c: (10/25 - 0.05) / 0.5 = 0.7, so 0.07/3. b → stale: (9/25 - 0.05) / 0.5 = 0.62,
    // so 0.062/3.
    let third = 1.0 / 3.0;
    let expected = [
        third - 1.0 / 1200.0 + 0.062 / 3.0,
        third - 0.07 / 3.0 - 0.062 / 3.0,
        third + 1.0 / 1200.0 + 0.07 / 3.0,
    ];
    assert_shares(&d, &expected, 1e-12);
    // An unknown price is the median of the known ones: $1, unknown, $3 per million reads as
    // $2 in the middle.
    let mut unknown = export("b", 10.0, 5.0, 0.0);
    unknown.price_per_request = None;
    let exports = [
        export("a", 10.0, 5.0, 1e-6),
        unknown,
        export("c", 10.0, 5.0, 3e-6),
    ];
    let d = solve_with(&policy(Objective::Cost), &exports, &even(&exports), 1.0);
    assert!(close(d.exports[1].terms.price_per_request_usd, 2e-6, 1e-18));
    // Nothing fresh anywhere: every figure stands in at 0, and a note says so.
    let mut blind = export("x", 0.0, 0.0, 0.0);
    blind.rtt = None;
    blind.latency = None;
    let d = solve_with(
        &policy(Objective::Performance),
        &[
            blind.clone(),
            ExportInput {
                cluster: "y".into(),
                ..blind
            },
        ],
        &State::new(),
        1.0,
    );
    assert_shares(&d, &[0.5, 0.5], 0.0);
    assert!(
        d.notes.iter().any(|n| n.contains("no fresh figure")),
        "{:?}",
        d.notes
    );
}

#[test]
fn errors_count_as_retries() {
    // a fails half its requests: each success takes 1 / (1 - 0.5) = 2 tries, so its 15 ms
    // count 30, and b's 25 ms win: a moves (5/30 - 0.05) / 0.5 = 0.2333 of 0.1 to b.
    let mut a = export("a", 10.0, 5.0, 0.0);
    a.error_rate = Some(0.5);
    let exports = [a, export("b", 20.0, 5.0, 0.0)];
    let d = solve_with(
        &policy(Objective::Performance),
        &exports,
        &even(&exports),
        1.0,
    );
    assert_eq!(d.exports[0].terms.expected_ms, 30.0);
    let moved = 0.1 * (5.0 / 30.0 - 0.05) / 0.5;
    assert_shares(&d, &[0.5 - moved, 0.5 + moved], 1e-12);
}

#[test]
fn a_problem_reads_from_json_with_a_one_second_tick_by_default() {
    let text = r#"{
        "policy": { "preferLocal": false, "migrationS": 10 },
        "exports": [
            { "cluster": "a", "rtt": { "meanMs": 10 }, "latency": { "meanMs": 5 } },
            { "cluster": "b", "rtt": { "meanMs": 40 }, "latency": { "meanMs": 5 },
              "load": { "utilization": 0.5, "ageS": 3 } }
        ],
        "previous": { "a": { "share": 0.5, "seen": 0.5 }, "b": { "share": 0.5, "seen": 0.5 } }
    }"#;
    let problem: Problem = serde_json::from_str(text).unwrap();
    assert_eq!(problem.elapsed_s, 1.0);
    assert_eq!(problem.policy.migration_s, 10.0);
    // b's report gives a utilisation but no latency, so its probe's 5 ms is de-queued at 50 %
    // busy (one server unless told: w = 1) to 2.5 ms of service and 2.5 of queueing: it costs,
    // at the default queueing weight 1, 40 + 2.5 + 2.5 × m(0.5) = 50 ms, and still counts as
    // unreported. a costs 15: b moves (35/50 - 0.1) / 0.5 > 1, capped at 1, of rate 1 / 10:
    // 0.05 to a.
    let d = solve(&problem);
    assert!(close(d.exports[1].terms.service_ms, 2.5, 1e-12));
    assert!(close(d.exports[1].terms.cost_ms, 42.5 + 7.5, 1e-9));
    assert!(has(&d, 1, Bind::Unreported));
    assert_shares(&d, &[0.55, 0.45], 1e-12);
    assert_eq!(
        d,
        solve_with(&problem.policy, &problem.exports, &problem.previous, 1.0)
    );
}

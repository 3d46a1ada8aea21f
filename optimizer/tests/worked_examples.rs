//! Worked examples whose answers were computed by hand (the arithmetic is in each comment).

use aviator_optimizer::*;

fn export(cluster: &str, rtt_ms: f64, service_ms: f64, price: f64) -> ExportInput {
    let m = |mean_ms| {
        Some(Measurement {
            mean_ms,
            p99_ms: None,
            age_s: 0.0,
        })
    };
    ExportInput {
        cluster: cluster.into(),
        local: false,
        eligible: true,
        rtt: m(rtt_ms),
        latency: m(service_ms),
        price_per_request: Some(price),
        capacity_rps: None,
        servers: None,
        in_flight: None,
        error_rate: None,
        eligible_for_s: None,
        latency_trend: None,
        latency_under_load: false,
    }
}

/// The examples were worked by hand with a 2 % floor, four times the default, so that the
/// floor shows clearly in the arithmetic.
const FLOOR: f64 = 0.02;

fn policy(objective: Objective) -> Policy {
    Policy {
        objective,
        prefer_local: false,
        min_share: FLOOR,
        ..Policy::default()
    }
}

fn shares(decision: &Decision) -> Vec<f64> {
    decision
        .shares()
        .iter()
        .map(|s| (s * 1000.0).round() / 1000.0)
        .collect()
}

fn has(decision: &Decision, k: usize, bind: Bind) -> bool {
    decision.exports[k].binds.contains(&bind)
}

#[test]
fn performance_without_capacity_sends_all_but_the_floors_to_the_fastest() {
    // 15 ms, 45 ms, 85 ms: the two slow ones keep the 2 % floor, the fast one gets 96 %.
    let exports = [
        export("a", 10.0, 5.0, 0.0),
        export("b", 40.0, 5.0, 0.0),
        export("c", 80.0, 5.0, 0.0),
    ];
    let d = solve_with(&policy(Objective::Performance), &exports, &State::new());
    assert_eq!(shares(&d), [0.96, 0.02, 0.02]);
    assert!(has(&d, 1, Bind::Floor) && has(&d, 2, Bind::Floor));
    assert!(
        d.exports[0].reason.starts_with("fastest for 96 %"),
        "{}",
        d.exports[0].reason
    );
    assert_eq!(d.exports[0].terms.expected_ms, 15.0);
}

#[test]
fn performance_spreads_before_an_export_saturates() {
    // Demand 100 rps. a: 15 ms base, 100 rps capacity (share 1 = utilisation 1). b: 30 ms,
    // 1000 rps. With queueing weighed as the mean (tail weight 1), a's marginal latency is
    // 15 + 5·Δ(u²/(1-u))/Δu per segment: 17.1 up to u=0.3, 24.3 up to 0.5, then 38.6, above
    // b's 30 + 2.1 = 32.1. So a fills to u = 0.5: 50 / 50.
    let mut a = export("a", 10.0, 5.0, 0.0);
    a.capacity_rps = Some(100.0);
    let mut b = export("b", 25.0, 5.0, 0.0);
    b.capacity_rps = Some(1000.0);
    let p = Policy {
        demand_rps: Some(100.0),
        tail_weight: 1.0,
        ..policy(Objective::Performance)
    };
    let d = solve_with(&p, &[a.clone(), b.clone()], &State::new());
    assert_eq!(shares(&d), [0.5, 0.5]);
    // At u = 0.5 the model's queueing delay is 5 · 0.5/0.5 = 5 ms.
    assert!((d.exports[0].terms.queueing_ms - 5.0).abs() < 1e-6);
    // With the default tail weight (4.6), a's second segment costs 15 + 4.6 · 9.29 = 57.7 ms
    // at the margin, above b's 30 + 4.6 · 2.14 = 39.9: a stops at u = 0.3.
    let p = Policy {
        demand_rps: Some(100.0),
        ..policy(Objective::Performance)
    };
    assert_eq!(shares(&solve_with(&p, &[a, b], &State::new())), [0.3, 0.7]);
}

#[test]
fn cost_picks_the_cheapest_within_capacity() {
    // Prices 3, 1, 2 µ$ per request: b is cheapest. Its fair capacity is 400 rps / 2 peers =
    // 200 rps; at the 80 % target that is 160 rps of our 400: share 0.4. The rest goes to the
    // next cheapest (c), and a keeps its floor: 0.02 / 0.40 / 0.58.
    let mut b = export("b", 50.0, 5.0, 1e-6);
    b.capacity_rps = Some(400.0);
    let exports = [
        export("a", 10.0, 5.0, 3e-6),
        b,
        export("c", 30.0, 5.0, 2e-6),
    ];
    let p = Policy {
        demand_rps: Some(400.0),
        peers: 2,
        ..policy(Objective::Cost)
    };
    let d = solve_with(&p, &exports, &State::new());
    assert_eq!(shares(&d), [0.02, 0.4, 0.58]);
    assert!(has(&d, 1, Bind::Capacity));
}

#[test]
fn cost_respects_a_latency_slo_and_says_when_it_cannot() {
    // a: 10 ms, 5 µ$; b: 100 ms, 1 µ$; SLO 40 ms: 10 xa + 100 xb <= 40 with xa + xb = 1 gives
    // xb <= 1/3, and the cheapest split puts exactly that on b.
    let exports = [export("a", 5.0, 5.0, 5e-6), export("b", 95.0, 5.0, 1e-6)];
    let p = Policy {
        latency_slo_ms: Some(40.0),
        ..policy(Objective::Cost)
    };
    let d = solve_with(&p, &exports, &State::new());
    assert_eq!(shares(&d), [0.667, 0.333]);
    assert!(d.notes[0].contains("SLO (40 ms) binds"), "{:?}", d.notes);
    assert!((d.expected_ms - 40.0).abs() < 1e-6);
    // 5 ms is below even a's 10 ms: no split meets it, so cost wins and a note says so.
    let p = Policy {
        latency_slo_ms: Some(5.0),
        ..policy(Objective::Cost)
    };
    let d = solve_with(&p, &exports, &State::new());
    assert_eq!(shares(&d), [0.02, 0.98]);
    assert!(d.notes[0].contains("cannot be met"), "{:?}", d.notes);
}

#[test]
fn mixed_blends_by_tradeoff_or_by_the_worth_of_a_millisecond() {
    // a: 10 ms, 5 µ$; b: 50 ms, 1 µ$. Normalised by the worst (50 ms, 5 µ$), tradeoff 0.7:
    // a = 0.7·0.2 + 0.3·1 = 0.44, b = 0.7·1 + 0.3·0.2 = 0.76, so a wins.
    let exports = [export("a", 5.0, 5.0, 5e-6), export("b", 45.0, 5.0, 1e-6)];
    let p = Policy {
        tradeoff: 0.7,
        ..policy(Objective::Mixed)
    };
    assert_eq!(
        shares(&solve_with(&p, &exports, &State::new())),
        [0.98, 0.02]
    );
    // At $0.05 per ms per million requests: a = $5 + 0.05·10 = $5.5, b = $1 + 0.05·50 = $3.5
    // per million, so b wins.
    let p = Policy {
        usd_per_ms_per_million: Some(0.05),
        ..policy(Objective::Mixed)
    };
    assert_eq!(
        shares(&solve_with(&p, &exports, &State::new())),
        [0.02, 0.98]
    );
}

#[test]
fn demand_over_capacity_degrades_to_shares_by_capacity() {
    let mut a = export("a", 10.0, 5.0, 0.0);
    a.capacity_rps = Some(100.0);
    let mut b = export("b", 20.0, 5.0, 0.0);
    b.capacity_rps = Some(300.0);
    let p = Policy {
        demand_rps: Some(1000.0),
        ..policy(Objective::Performance)
    };
    let d = solve_with(&p, &[a, b], &State::new());
    assert_eq!(shares(&d), [0.25, 0.75]);
    assert!(d.notes[0].contains("exceeds the capacity"));
}

fn previous(entries: &[(&str, f64)]) -> State {
    entries
        .iter()
        .map(|(c, s)| {
            (
                c.to_string(),
                ExportState {
                    share: *s,
                    load_multiplier: 1.0,
                    overload_reference: 0.0,
                    service: None,
                },
            )
        })
        .collect()
}

#[test]
fn damping_moves_half_way_and_the_dead_band_holds_small_changes() {
    let exports = [export("a", 10.0, 5.0, 0.0), export("b", 40.0, 5.0, 0.0)];
    let p = policy(Objective::Performance);
    // LP says 0.98 / 0.02; from 0.5 / 0.5, damping 0.5 lands on 0.74 / 0.26.
    let d = solve_with(&p, &exports, &previous(&[("a", 0.5), ("b", 0.5)]));
    assert_eq!(shares(&d), [0.74, 0.26]);
    assert_eq!(d.exports[0].lp_share, 0.98);
    // From 0.975 / 0.025 the damped move is 0.0025: inside the 1-point band, so nothing moves.
    let d = solve_with(&p, &exports, &previous(&[("a", 0.975), ("b", 0.025)]));
    assert_eq!(shares(&d), [0.975, 0.025]);
    assert!(has(&d, 0, Bind::DeadBand));
}

#[test]
fn ineligible_exports_get_nothing_at_once() {
    let mut b = export("b", 5.0, 5.0, 0.0);
    b.eligible = false;
    let exports = [export("a", 10.0, 5.0, 0.0), b, export("c", 40.0, 5.0, 0.0)];
    // b had everything; it is drained at once, without damping.
    let d = solve_with(
        &policy(Objective::Performance),
        &exports,
        &previous(&[("b", 1.0)]),
    );
    assert_eq!(d.exports[1].share, 0.0);
    assert!(has(&d, 1, Bind::Ineligible));
    assert!((d.shares().iter().sum::<f64>() - 1.0).abs() < 1e-9);
}

#[test]
fn prefer_local_takes_everything_and_can_be_turned_off() {
    let mut local = export("here", 1.0, 50.0, 0.0);
    local.local = true;
    let exports = [local, export("there", 20.0, 5.0, 0.0)];
    let on = Policy {
        prefer_local: true,
        ..Policy::default()
    };
    assert_eq!(
        shares(&solve_with(&on, &exports, &State::new())),
        [1.0, 0.0]
    );
    // With preferLocal off, the slow local export spills to the faster remote one.
    assert_eq!(
        shares(&solve_with(
            &policy(Objective::Performance),
            &exports,
            &State::new()
        )),
        [0.02, 0.98]
    );
}

#[test]
fn overload_cuts_fast_and_recovers_slowly() {
    let mut a = export("a", 5.0, 5.0, 0.0);
    a.latency_trend = Some(LatencyTrend {
        short_ms: 100.0,
        long_ms: 40.0,
    });
    let exports = [a.clone(), export("b", 40.0, 5.0, 0.0)];
    let p = policy(Objective::Performance);
    // Setpoint 1.25 · 40 = 50 ms, signal 100 ms: multiplier 0.5 of the 0.9 held: cap 0.45.
    let d = solve_with(&p, &exports, &previous(&[("a", 0.9), ("b", 0.1)]));
    assert_eq!(shares(&d), [0.45, 0.55]);
    assert!(has(&d, 0, Bind::Overload), "{:?}", d.exports[0].binds);
    assert_eq!(d.state["a"].load_multiplier, 0.5);
    // Healthy again: +0.025 per solve, so the cap (and the LP) rise to 0.525 · 0.9 = 0.4725,
    // and damping takes half of that step: 0.45 + (0.4725 - 0.45) / 2 = 0.46125.
    let mut healthy = exports.clone();
    healthy[0].latency_trend = Some(LatencyTrend {
        short_ms: 40.0,
        long_ms: 40.0,
    });
    let d2 = solve_with(&p, &healthy, &d.state);
    assert!((d2.exports[0].lp_share - 0.4725).abs() < 1e-9);
    assert_eq!(shares(&d2), [0.461, 0.539]);
    assert!((d2.state["a"].load_multiplier - 0.525).abs() < 1e-12);
}

#[test]
fn hot_exports_gain_no_share_and_new_ones_start_slowly() {
    let mut a = export("a", 5.0, 5.0, 0.0);
    a.in_flight = Some(50.0);
    let mut b = export("b", 40.0, 5.0, 0.0);
    b.in_flight = Some(5.0);
    let mut c = export("c", 40.0, 5.0, 0.0);
    c.in_flight = Some(6.0);
    // p60 of (5, 6, 50) by nearest rank is 6: a is hot and stays at its 0.3.
    let d = solve_with(
        &policy(Objective::Performance),
        &[a, b, c],
        &previous(&[("a", 0.3), ("b", 0.35), ("c", 0.35)]),
    );
    assert_eq!(d.exports[0].share, 0.3);
    assert!(has(&d, 0, Bind::Hot));

    let mut fresh = export("new", 1.0, 1.0, 0.0);
    fresh.eligible_for_s = Some(3.0);
    // 3 s of 30: cap = 0.02 + 0.1 · 0.98 = 0.118.
    let d = solve_with(
        &policy(Objective::Performance),
        &[fresh, export("old", 40.0, 5.0, 0.0)],
        &State::new(),
    );
    assert_eq!(shares(&d), [0.118, 0.882]);
    assert!(has(&d, 0, Bind::SlowStart));
}

#[test]
fn stale_figures_count_as_neutral() {
    let mut stale = export("stale", 1.0, 1.0, 0.0);
    stale.rtt = Some(Measurement {
        mean_ms: 1.0,
        p99_ms: None,
        age_s: 600.0,
    });
    // Its 1 ms RTT is ten minutes old: it counts as the median of the fresh ones (20 ms),
    // making it 21 ms against b's 25 ms and c's 15 ms.
    let exports = [
        stale,
        export("b", 20.0, 5.0, 0.0),
        export("c", 10.0, 5.0, 0.0),
    ];
    let d = solve_with(&policy(Objective::Performance), &exports, &State::new());
    assert_eq!(shares(&d), [0.02, 0.02, 0.96]);
    assert!(has(&d, 0, Bind::Stale));
}

#[test]
fn a_move_must_gain_more_than_it_costs() {
    // No capacity, so the LP is linear. Moving m of share from b to a gains m × (b - a) / 20 ms
    // (the slowest export's latency is the Performance objective's scale) and costs
    // 0.06 × 2m (the move counts where it leaves and where it arrives): it pays from a
    // difference of 2.4 ms. Damping and the dead band are off to show the LP alone.
    let p = Policy {
        damping: 1.0,
        dead_band: 0.0,
        ..policy(Objective::Performance)
    };
    let from = previous(&[("a", 0.5), ("b", 0.5)]);
    let close = [export("a", 14.0, 5.0, 0.0), export("b", 15.0, 5.0, 0.0)];
    // 19 vs 20 ms: 1 ms is not worth the move; the shares stay.
    assert_eq!(shares(&solve_with(&p, &close, &from)), [0.5, 0.5]);
    // 15 vs 20 ms: worth it; everything but b's floor moves.
    let far = [export("a", 10.0, 5.0, 0.0), export("b", 15.0, 5.0, 0.0)];
    assert_eq!(shares(&solve_with(&p, &far, &from)), [0.98, 0.02]);
    // With moves free, even the small gain moves everything, as does a first solve.
    let free = Policy {
        move_cost: 0.0,
        ..p.clone()
    };
    assert_eq!(shares(&solve_with(&free, &close, &from)), [0.98, 0.02]);
    assert_eq!(shares(&solve_with(&p, &close, &State::new())), [0.98, 0.02]);
}

#[test]
fn a_cold_export_counts_as_no_faster_than_the_median_until_its_readings_settle() {
    // Three probed exports of 4 servers; capacity is learned from the service time
    // (4 × 1000 / s).
    let with_servers = |mut e: ExportInput| {
        e.servers = Some(4);
        e.latency_under_load = true;
        e
    };
    let exports = [
        with_servers(export("fast", 1.0, 5.0, 0.0)),
        with_servers(export("b", 1.0, 20.0, 0.0)),
        with_servers(export("slow", 1.0, 40.0, 0.0)),
    ];
    let p = Policy {
        demand_rps: Some(100.0),
        ..policy(Objective::Performance)
    };
    // First solve: "fast" has one reading of 5 ms; it counts as the median, 20 ms (capacity
    // 200 rps, not 800). A slow first reading is believed as it is, and so are declared
    // figures (`stale_figures_count_as_neutral` and the others above declare theirs).
    let mut d = solve_with(&p, &exports, &State::new());
    // To 0.1 ms: once capacity is learned, a reading is de-queued at our own utilisation.
    let service = |d: &Decision| -> Vec<f64> {
        d.exports
            .iter()
            .map(|e| (e.terms.service_ms * 10.0).round() / 10.0)
            .collect()
    };
    assert_eq!(service(&d), [20.0, 20.0, 40.0]);
    assert_eq!(d.exports[0].terms.capacity_rps.map(f64::round), Some(200.0));
    // Thirty readings of 5 ms settle it.
    for _ in 1..30 {
        d = solve_with(&p, &exports, &d.state);
    }
    assert_eq!(service(&d), [5.0, 19.8, 40.0]);
    let capacity = d.exports[0].terms.capacity_rps.unwrap();
    assert!((capacity - 800.0).abs() < 1.0, "{capacity}");
}

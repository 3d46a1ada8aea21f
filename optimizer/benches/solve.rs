//! Solve time for 3, 10, 50 and 200 exports, in the heaviest configuration: every export with a
//! capacity (so each carries a seven-segment queueing curve), a latency SLO, and a previous
//! state to damp against. Goal: median under 1 ms at 50 exports and under 10 ms at 200.
//! `solve/Performance-free-moves` is the same problem with `move_cost` 0: the baseline for what
//! charging moves (one more piece per export) costs.

use aviator_optimizer::*;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn problem(n: usize, objective: Objective, move_cost: f64) -> (Policy, Vec<ExportInput>, State) {
    let exports: Vec<ExportInput> = (0..n)
        .map(|i| {
            let x = i as f64;
            ExportInput {
                cluster: format!("cluster-{i}"),
                local: false,
                eligible: true,
                rtt: Some(Measurement {
                    mean_ms: 5.0 + (x * 7.3) % 90.0,
                    p99_ms: None,
                    age_s: 1.0,
                }),
                latency: Some(Measurement {
                    mean_ms: 3.0 + (x * 3.1) % 20.0,
                    p99_ms: None,
                    age_s: 1.0,
                }),
                price_per_request: Some(1e-7 * (1.0 + (x * 1.7) % 9.0)),
                capacity_rps: Some(200.0 + (x * 37.0) % 800.0),
                servers: Some(4),
                in_flight: Some((x * 5.0) % 17.0),
                error_rate: Some(0.001),
                eligible_for_s: None,
                latency_trend: None,
                latency_under_load: false,
            }
        })
        .collect();
    let policy = Policy {
        objective,
        prefer_local: false,
        demand_rps: Some(100.0 * n as f64),
        latency_slo_ms: Some(80.0),
        move_cost,
        ..Policy::default()
    };
    let state = solve_with(&policy, &exports, &State::new()).state;
    (policy, exports, state)
}

fn bench(c: &mut Criterion) {
    let default_cost = Policy::default().move_cost;
    let cases = [
        ("Performance", Objective::Performance, default_cost),
        ("Cost", Objective::Cost, default_cost),
        ("Performance-free-moves", Objective::Performance, 0.0),
    ];
    for (name, objective, move_cost) in cases {
        let mut group = c.benchmark_group(format!("solve/{name}"));
        for n in [3usize, 10, 50, 200] {
            let (policy, exports, state) = problem(n, objective, move_cost);
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| solve_with(&policy, &exports, &state))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

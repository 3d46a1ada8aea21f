//! Solve time for 3, 10, 50 and 200 exports, in the heaviest configuration: every export with
//! a fresh load report (utilisation and in-cluster latency), so each carries a cost curve and
//! every pair of exports whose costs differ runs the closing-fraction bisection; a latency SLO;
//! and a previous state, so the predictor runs too. Goal: median under 1 ms at 50 exports.

use aviator_optimizer::*;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn problem(n: usize, objective: Objective) -> (Policy, Vec<ExportInput>, State) {
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
                load: Some(LoadReport {
                    // 10 % to 85 % busy, so the costs differ and the curves are steep somewhere.
                    utilization: Some(0.1 + (x * 0.37) % 0.75),
                    latency_ms: Some(4.0 + (x * 2.9) % 25.0),
                    error_rate: Some(0.001),
                    age_s: 2.0,
                }),
                price_per_request: Some(1e-7 * (1.0 + (x * 1.7) % 9.0)),
                servers: Some(1 + (i as u32 * 5) % 12),
                error_rate: None,
            }
        })
        .collect();
    let policy = Policy {
        objective,
        prefer_local: false,
        latency_slo_ms: Some(80.0),
        ..Policy::default()
    };
    // A first solve and a second, so the state holds shares, the share the reports show and
    // the learned service times.
    let first = solve_with(&policy, &exports, &State::new(), 1.0).state;
    let state = solve_with(&policy, &exports, &first, 1.0).state;
    (policy, exports, state)
}

fn bench(c: &mut Criterion) {
    for (name, objective) in [
        ("Performance", Objective::Performance),
        ("Cost", Objective::Cost),
    ] {
        let mut group = c.benchmark_group(format!("solve/{name}"));
        for n in [3usize, 10, 50, 200] {
            let (policy, exports, state) = problem(n, objective);
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| solve_with(&policy, &exports, &state, 1.0))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

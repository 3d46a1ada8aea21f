//! One solve, start to finish: eligibility and preferLocal, the shares carried from the previous
//! solve, the figures and costs, one interval of migration, the floor, and the explanation of
//! every share.

use crate::explain::{Bind, Decision, ExportDecision, Terms};
use crate::flow;
use crate::input::{ExportInput, ExportState, Policy, Problem, State};
use crate::model::{self, Figures};

/// Shares differing by less than this count as equal when naming what binds.
const EPS: f64 = 1e-6;

pub fn solve(problem: &Problem) -> Decision {
    solve_with(
        &problem.policy,
        &problem.exports,
        &problem.previous,
        problem.elapsed_s,
    )
}

/// Solves for `exports` under `policy`, continuing from `previous` (empty on the first solve)
/// `elapsed_s` seconds after it.
pub fn solve_with(
    policy: &Policy,
    exports: &[ExportInput],
    previous: &State,
    elapsed_s: f64,
) -> Decision {
    let eligible: Vec<usize> = (0..exports.len())
        .filter(|&i| exports[i].eligible)
        .collect();
    let chosen: Vec<&ExportInput> = eligible.iter().map(|&i| &exports[i]).collect();
    let from = carried(&chosen, previous, policy.report_expiry_s);
    let learned: Vec<Option<f64>> = chosen
        .iter()
        .map(|e| previous.get(&e.cluster).and_then(|s| s.service_ms))
        .collect();
    let mut figures = model::figures(&chosen, policy, &learned);
    for (k, f) in figures.iter_mut().enumerate() {
        let seen = previous.get(&chosen[k].cluster).map(|s| s.seen);
        *f = predict(f, from[k], seen);
    }
    let costs = flow::costs(policy, &figures);
    let mut notes = Vec::new();
    let local = chosen
        .iter()
        .position(|e| e.local)
        .filter(|_| policy.prefer_local);
    let shares = if chosen.is_empty() {
        notes.push("no eligible export: nothing to answer".to_owned());
        Vec::new()
    } else if let Some(local) = local {
        (0..chosen.len())
            .map(|k| if k == local { 1.0 } else { 0.0 })
            .collect()
    } else {
        let rate = (elapsed_s.max(0.0) / policy.migration_s.max(1e-9)).min(1.0);
        let mut shares = flow::migrate(
            &from,
            &figures,
            &costs,
            (rate, policy.full_gap, policy.stabilize),
        );
        flow::apply_floor(&mut shares, policy.min_share);
        shares
    };
    if !chosen.is_empty() && figures.iter().all(|f| f.stale) {
        notes.push("no fresh figure for any export: shares follow ready endpoints".to_owned());
    }

    let mut decisions = Vec::with_capacity(exports.len());
    let mut state = State::new();
    for (i, export) in exports.iter().enumerate() {
        let previous_share = previous.get(&export.cluster).map(|s| s.share);
        let Some(k) = eligible.iter().position(|&e| e == i) else {
            decisions.push(ExportDecision {
                cluster: export.cluster.clone(),
                share: 0.0,
                previous_share,
                terms: Terms::default(),
                binds: vec![Bind::Ineligible],
                objective: policy.objective,
                local: export.local,
            });
            continue;
        };
        let f = &figures[k];
        let share = shares[k];
        let terms = Terms {
            rtt_ms: f.rtt_ms,
            service_ms: f.service_ms,
            queueing_ms: f.queueing_ms,
            expected_ms: f.latency_ms(),
            price_per_request_usd: f.price,
            utilization: f.utilization,
            cost_ms: costs[k].ms,
        };
        let mut binds = Vec::new();
        if local.is_some() {
            binds.push(Bind::PreferLocal);
        }
        if chosen.len() > 1 && policy.min_share > 0.0 && share <= policy.min_share + EPS {
            binds.push(Bind::Floor);
        }
        if costs[k].over_slo {
            binds.push(Bind::Slo);
        }
        if !f.reported {
            binds.push(Bind::Unreported);
        }
        if f.stale {
            binds.push(Bind::Stale);
        }
        // The reports catch up with the share over `propagation_s`: a first-order lag.
        let seen = previous.get(&export.cluster).map_or(share, |s| s.seen);
        let catch_up = (elapsed_s.max(0.0) / policy.propagation_s.max(1e-9)).min(1.0);
        state.insert(
            export.cluster.clone(),
            ExportState {
                share,
                seen: seen + catch_up * (share - seen),
                service_ms: f.reported.then_some(f.service_ms),
            },
        );
        decisions.push(ExportDecision {
            cluster: export.cluster.clone(),
            share,
            previous_share,
            terms,
            binds,
            objective: policy.objective,
            local: export.local,
        });
    }
    let expected_ms = decisions
        .iter()
        .map(|d| d.share * d.terms.expected_ms)
        .sum();
    let usd_per_million = decisions
        .iter()
        .map(|d| d.share * d.terms.price_per_request_usd * 1e6)
        .sum();
    Decision {
        exports: decisions,
        notes,
        expected_ms,
        usd_per_million,
        state,
    }
}

/// Largest factor by which the prediction scales a reported utilisation either way.
const MAX_PREDICTED_CHANGE: f64 = 4.0;

/// The export's figures at the utilisation its report will show once the share in force has
/// propagated: the reported utilisation scaled by share / seen, as if every cluster had moved
/// as this one did (a Smith predictor for the delay between a share and the load it causes).
fn predict(f: &Figures, share: f64, seen: Option<f64>) -> Figures {
    let (Some(u), Some(seen)) = (f.utilization, seen) else {
        return *f;
    };
    let ratio = if seen > EPS {
        (share / seen).clamp(1.0 / MAX_PREDICTED_CHANGE, MAX_PREDICTED_CHANGE)
    } else if share > EPS {
        MAX_PREDICTED_CHANGE
    } else {
        1.0
    };
    f.at_utilization(u * ratio).unwrap_or(*f)
}

/// The shares the previous solve left, over the exports eligible now. An export that left
/// takes its share with it, spread over the others by their room: their idle servers where
/// every one reports its utilisation, else their ready endpoints (its traffic must go somewhere
/// at once; by the others' shares it would fall hardest on whichever was already the busiest,
/// and by endpoints alone on a small export already near full). One that arrived starts from
/// nothing and draws traffic as the rule finds it cheaper. With nothing to carry (the first
/// solve, or every export new), the split follows ready endpoints: a start that the next solves
/// are free to move from.
fn carried(chosen: &[&ExportInput], previous: &State, report_expiry_s: f64) -> Vec<f64> {
    let before: Vec<f64> = chosen
        .iter()
        .map(|e| {
            previous
                .get(&e.cluster)
                .map_or(0.0, |s| s.share.clamp(0.0, 1.0))
        })
        .collect();
    let servers: Vec<f64> = chosen
        .iter()
        .map(|e| e.servers.filter(|k| *k > 0).map_or(1.0, f64::from))
        .collect();
    let all: f64 = servers.iter().sum();
    let total: f64 = before.iter().sum();
    if total > EPS {
        let left = (1.0 - total).max(0.0);
        let room = room(chosen, &servers, report_expiry_s).unwrap_or_else(|| servers.clone());
        let room_all: f64 = room.iter().sum();
        let carried: Vec<f64> = before
            .iter()
            .zip(&room)
            .map(|(s, r)| s + left * r / room_all)
            .collect();
        let sum: f64 = carried.iter().sum();
        return carried.iter().map(|s| s / sum).collect();
    }
    servers.iter().map(|k| k / all).collect()
}

/// Each export's idle servers, k·(1 - u), when every one has a fresh utilisation and some room
/// is left somewhere; `None` otherwise.
fn room(chosen: &[&ExportInput], servers: &[f64], report_expiry_s: f64) -> Option<Vec<f64>> {
    let room: Vec<f64> = chosen
        .iter()
        .zip(servers)
        .map(|(e, k)| {
            let load = e
                .load
                .filter(|r| r.age_s.is_finite() && r.age_s <= report_expiry_s)?;
            let u = load.utilization.filter(|u| u.is_finite())?;
            Some(k * (1.0 - u).clamp(0.0, 1.0))
        })
        .collect::<Option<_>>()?;
    (room.iter().sum::<f64>() > EPS).then_some(room)
}

//! One solve, start to finish: eligibility and preferLocal, bounds from capacity and the
//! stability rules, the LP, damping, the dead band, and the explanation of every share.

use crate::explain::{Bind, Decision, ExportDecision, Terms};
use crate::input::{ExportInput, ExportState, Objective, Policy, Problem, State};
use crate::lp::{self, Lp, Moving};
use crate::model::{self, Figures, MAX_UTILIZATION};
use crate::stability::{self, Overload};

/// Shares differing by less than this count as equal when naming what binds.
const EPS: f64 = 1e-6;

pub fn solve(problem: &Problem) -> Decision {
    solve_with(&problem.policy, &problem.exports, &problem.previous)
}

/// Solves for `exports` under `policy`, continuing from `previous` (empty on the first solve).
pub fn solve_with(policy: &Policy, exports: &[ExportInput], previous: &State) -> Decision {
    let eligible: Vec<usize> = (0..exports.len())
        .filter(|&i| exports[i].eligible)
        .collect();
    let chosen: Vec<&ExportInput> = eligible.iter().map(|&i| &exports[i]).collect();
    let previous_states: Vec<Option<ExportState>> = chosen
        .iter()
        .map(|e| previous.get(&e.cluster).copied())
        .collect();
    let figures = model::figures(&chosen, policy, &previous_states);
    let mut notes = Vec::new();
    let mut solved = if chosen.is_empty() {
        notes.push("no eligible export: nothing to answer".to_owned());
        Solved::default()
    } else if let Some(local) = chosen
        .iter()
        .position(|e| e.local)
        .filter(|_| policy.prefer_local)
    {
        Solved::prefer_local(chosen.len(), local, previous, &chosen)
    } else {
        optimise(policy, &chosen, &figures, previous, &mut notes)
    };

    let demand = policy.demand_rps;
    let mut decisions = Vec::with_capacity(exports.len());
    let mut state = State::new();
    for (i, export) in exports.iter().enumerate() {
        let previous_share = previous.get(&export.cluster).map(|s| s.share);
        let Some(k) = eligible.iter().position(|&e| e == i) else {
            decisions.push(ExportDecision {
                cluster: export.cluster.clone(),
                share: 0.0,
                lp_share: 0.0,
                previous_share,
                terms: Terms::default(),
                binds: vec![Bind::Ineligible],
                reason: "not eligible: not ready, disconnected or ejected".to_owned(),
            });
            if let Some(old) = previous.get(&export.cluster) {
                state.insert(export.cluster.clone(), ExportState { share: 0.0, ..*old });
            }
            continue;
        };
        let f = &figures[k];
        let share = solved.shares[k];
        let queueing_ms = f.queueing_ms(share, demand);
        let terms = Terms {
            rtt_ms: f.rtt_ms,
            service_ms: f.service_ms,
            queueing_ms,
            expected_ms: f.base_ms() + queueing_ms,
            price_per_request_usd: f.price,
            utilization: f.utilization(share, demand),
            capacity_rps: f.fair_capacity_rps,
        };
        let mut binds = std::mem::take(&mut solved.binds[k]);
        if f.stale {
            binds.push(Bind::Stale);
        }
        let reason = reason(
            policy,
            export,
            &binds,
            &terms,
            &solved.overloads[k],
            &figures,
            (share, solved.lp_shares[k], previous_share),
        );
        state.insert(
            export.cluster.clone(),
            ExportState {
                share,
                load_multiplier: solved.overloads[k].multiplier,
                overload_reference: solved.overloads[k].reference,
                service: f.belief,
            },
        );
        decisions.push(ExportDecision {
            cluster: export.cluster.clone(),
            share,
            lp_share: solved.lp_shares[k],
            previous_share,
            terms,
            binds,
            reason,
        });
    }
    let expected_ms: f64 = decisions
        .iter()
        .map(|d| d.share * d.terms.expected_ms)
        .sum();
    let usd_per_million: f64 = decisions
        .iter()
        .map(|d| d.share * d.terms.price_per_request_usd * 1e6)
        .sum();
    if let Some(slo) = policy.latency_slo_ms.filter(|_| policy.objective != Objective::Performance)
        // The LP's chords overstate queueing delay a little, so "at the SLO" is within 3 %.
        && expected_ms >= slo * 0.97
        && notes.is_empty()
    {
        notes.push(format!(
            "the latency SLO ({slo} ms) binds: a cheaper split would be slower"
        ));
    }
    Decision {
        exports: decisions,
        notes,
        expected_ms,
        usd_per_million,
        state,
    }
}

/// The solve's result for the eligible exports, in their order.
#[derive(Default)]
struct Solved {
    shares: Vec<f64>,
    lp_shares: Vec<f64>,
    binds: Vec<Vec<Bind>>,
    overloads: Vec<Overload>,
}

impl Solved {
    fn prefer_local(n: usize, local: usize, previous: &State, chosen: &[&ExportInput]) -> Self {
        let shares: Vec<f64> = (0..n).map(|i| if i == local { 1.0 } else { 0.0 }).collect();
        Self {
            lp_shares: shares.clone(),
            shares,
            binds: vec![vec![Bind::PreferLocal]; n],
            overloads: chosen
                .iter()
                .map(|e| Overload {
                    multiplier: previous.get(&e.cluster).map_or(1.0, |s| s.load_multiplier),
                    reference: 0.0,
                })
                .collect(),
        }
    }
}

fn optimise(
    policy: &Policy,
    chosen: &[&ExportInput],
    figures: &[Figures],
    previous: &State,
    notes: &mut Vec<String>,
) -> Solved {
    let n = chosen.len();
    let demand = policy.demand_rps;
    let prev: Vec<f64> = chosen
        .iter()
        .map(|e| {
            previous
                .get(&e.cluster)
                .map_or(0.0, |s| s.share.clamp(0.0, 1.0))
        })
        .collect();
    let has_previous = prev.iter().sum::<f64>() > 0.5;
    let floor = policy.min_share.clamp(0.0, 1.0).min(1.0 / n as f64);
    let lo = vec![floor; n];
    let mut binds: Vec<Vec<Bind>> = vec![Vec::new(); n];

    // Hard caps: capacity. Cost stops at the target utilisation; objectives that see queueing
    // delay stop only at the model's ceiling, since the delay curve already holds them back.
    let ceiling = match policy.objective {
        Objective::Cost => policy.target_utilization.clamp(0.05, MAX_UTILIZATION),
        _ => MAX_UTILIZATION,
    };
    let hard: Vec<f64> = figures
        .iter()
        .map(|f| f.share_at(ceiling, demand).map_or(1.0, |s| s.min(1.0)))
        .collect();

    // Soft caps: overload, hot, slow start.
    let overloads: Vec<Overload> = chosen
        .iter()
        .enumerate()
        .map(|(k, e)| stability::overload(e.latency_trend, previous.get(&e.cluster), prev[k]))
        .collect();
    let hot = stability::hot(chosen, policy.hot_quantile);
    let mut soft = vec![1.0f64; n];
    for k in 0..n {
        if overloads[k].multiplier < 1.0 {
            soft[k] = soft[k].min(overloads[k].multiplier * overloads[k].reference);
            binds[k].push(Bind::Overload);
        }
        if hot[k] {
            soft[k] = soft[k].min(if has_previous {
                prev[k]
            } else {
                1.0 / n as f64
            });
            binds[k].push(Bind::Hot);
        }
        if let Some(age) = chosen[k]
            .eligible_for_s
            .filter(|a| *a < policy.slow_start_s)
        {
            let ramp = (age / policy.slow_start_s.max(1e-9)).clamp(0.0, 1.0);
            soft[k] = soft[k].min(floor + ramp * (1.0 - floor));
            binds[k].push(Bind::SlowStart);
        }
    }
    let bounded =
        |caps: &[f64]| -> Vec<f64> { (0..n).map(|k| hard[k].min(caps[k]).max(lo[k])).collect() };
    let mut hi = bounded(&soft);
    if hi.iter().sum::<f64>() < 1.0 - EPS && soft.iter().any(|&c| c < 1.0) {
        notes.push(
            "the overload, hot and slow-start caps together left too little room; \
                    they were relaxed for this solve"
                .to_owned(),
        );
        hi = bounded(&vec![1.0; n]);
    }
    if hi.iter().sum::<f64>() < 1.0 - EPS {
        notes.push(format!(
            "demand ({} rps) exceeds the capacity of every export together: shares follow capacity",
            demand.unwrap_or(0.0)
        ));
        let capacity: Vec<f64> = figures
            .iter()
            .map(|f| f.fair_capacity_rps.unwrap_or(0.0))
            .collect();
        let total: f64 = capacity.iter().sum();
        let mut shares: Vec<f64> = capacity.iter().map(|c| c / total.max(1e-12)).collect();
        stability::fit(&mut shares, &lo, &vec![1.0; n]);
        for b in &mut binds {
            b.push(Bind::OverCapacity);
        }
        return Solved {
            lp_shares: shares.clone(),
            shares,
            binds,
            overloads,
        };
    }

    let lp = |slo_ms| Lp {
        figures,
        lo: &lo,
        hi: &hi,
        objective: policy.objective,
        tradeoff: policy.tradeoff,
        usd_per_ms_per_million: policy.usd_per_ms_per_million,
        demand_rps: demand,
        tail_weight: policy.tail_weight,
        slo_ms,
        // Free moves need no split pieces.
        moving: (has_previous && policy.move_cost > 0.0).then_some(Moving {
            from: &prev,
            cost: policy.move_cost,
        }),
    };
    let slo = match policy.objective {
        Objective::Performance => None,
        _ => policy.latency_slo_ms,
    };
    let target = match lp::solve(&lp(slo)) {
        Ok(shares) => shares,
        Err(_) if slo.is_some() => {
            notes.push(format!(
                "the latency SLO of {} ms cannot be met by any split; solved without it",
                slo.unwrap_or_default()
            ));
            lp::solve(&lp(None)).unwrap_or_else(|error| fallback(n, &error, notes))
        }
        Err(error) => fallback(n, &error, notes),
    };

    let mut shares = if has_previous {
        stability::damp(&target, &prev, policy.damping)
    } else {
        target.clone()
    };
    stability::fit(&mut shares, &lo, &hi);
    if has_previous && stability::within_dead_band(&shares, &prev, policy.dead_band) {
        let mut kept = prev.clone();
        stability::fit(&mut kept, &lo, &hi);
        if stability::within_dead_band(&kept, &prev, EPS) {
            shares = kept;
            for b in &mut binds {
                b.push(Bind::DeadBand);
            }
        }
    }
    for k in 0..n {
        // Judged on the LP's answer as well as the final share: an export the LP holds at the
        // floor is "at the floor" even while damping is still bringing it down.
        if n > 1 && target[k].min(shares[k]) <= lo[k] + EPS && lo[k] > 0.0 {
            binds[k].push(Bind::Floor);
        }
        if hard[k] < 1.0 && target[k].max(shares[k]) >= hard[k] - EPS {
            binds[k].push(Bind::Capacity);
        }
        // A soft cap that did not bind is not worth reporting.
        let capped = shares[k] >= soft[k].max(lo[k]) - EPS;
        binds[k].retain(|b| capped || !matches!(b, Bind::Overload | Bind::Hot | Bind::SlowStart));
    }
    Solved {
        shares,
        lp_shares: target,
        binds,
        overloads,
    }
}

/// If the solver fails (it should not: the bounds are feasible), split evenly rather than stop
/// answering.
fn fallback(n: usize, error: &good_lp::ResolutionError, notes: &mut Vec<String>) -> Vec<f64> {
    notes.push(format!("the LP failed ({error}); splitting evenly"));
    vec![1.0 / n as f64; n]
}

/// A fraction as a percentage with as many decimals as it needs, up to one: "2", "0.5".
fn percent(fraction: f64) -> String {
    let tenths = (fraction * 1000.0).round();
    if tenths % 10.0 == 0.0 {
        format!("{:.0}", tenths / 10.0)
    } else {
        format!("{:.1}", tenths / 10.0)
    }
}

fn reason(
    policy: &Policy,
    export: &ExportInput,
    binds: &[Bind],
    terms: &Terms,
    overload: &Overload,
    all: &[Figures],
    (share, lp_share, previous_share): (f64, f64, Option<f64>),
) -> String {
    let per_million = |usd: f64| format!("${:.2}/M req", usd * 1e6);
    let mut parts: Vec<String> = Vec::new();
    // What shaped the share first; the caveats (stale figures, dead band) last.
    let caveat = |b: &&Bind| matches!(b, Bind::Stale | Bind::DeadBand);
    let ordered = binds
        .iter()
        .filter(|b| !caveat(b))
        .chain(binds.iter().filter(caveat));
    for bind in ordered {
        let text = match bind {
            Bind::PreferLocal if export.local => "local export and preferLocal is on".to_owned(),
            Bind::PreferLocal => "preferLocal: the local export takes every lookup".to_owned(),
            Bind::OverCapacity => {
                "demand exceeds total capacity: share follows capacity".to_owned()
            }
            Bind::Overload => match export.latency_trend {
                Some(t) => format!(
                    "overloaded ({:.0} ms recently vs {:.0} ms baseline): held to x{:.2} of its share",
                    t.short_ms, t.long_ms, overload.multiplier
                ),
                None => format!(
                    "recovering from overload: held to x{:.2}",
                    overload.multiplier
                ),
            },
            Bind::Hot => format!(
                "hot: {:.0} requests in flight, above the p{:.0} of its peers; no share added",
                export.in_flight.unwrap_or_default(),
                policy.hot_quantile * 100.0
            ),
            Bind::SlowStart => format!(
                "slow start: eligible for {:.0} s of {:.0} s",
                export.eligible_for_s.unwrap_or_default(),
                policy.slow_start_s
            ),
            Bind::Capacity => format!(
                "at its capacity cap ({:.0} % of its fair capacity)",
                terms.utilization.unwrap_or(1.0) * 100.0
            ),
            Bind::Floor => {
                let best_ms = all
                    .iter()
                    .map(Figures::base_ms)
                    .fold(f64::INFINITY, f64::min);
                let best_price = all.iter().map(|f| f.price).fold(f64::INFINITY, f64::min);
                format!(
                    "kept at the {} % floor: others are better ({:.1} ms here vs {:.1} ms unloaded at the fastest; {} vs {} at the cheapest)",
                    percent(policy.min_share),
                    terms.expected_ms,
                    best_ms,
                    per_million(terms.price_per_request_usd),
                    per_million(best_price)
                )
            }
            Bind::DeadBand => "change within the dead band; previous share kept".to_owned(),
            Bind::Stale => "some figures stale or unknown; neutral values used".to_owned(),
            Bind::Ineligible => "not eligible".to_owned(),
        };
        parts.push(text);
    }
    let shaped = binds
        .iter()
        .any(|b| !matches!(b, Bind::Stale | Bind::DeadBand));
    if !shaped {
        let objective = match policy.objective {
            Objective::Performance => "fastest",
            Objective::Cost => "cheapest",
            Objective::Mixed => "best blend",
        };
        let mut text = format!(
            "{objective} for {:.0} %: {:.1} ms expected, {}",
            share * 100.0,
            terms.expected_ms,
            per_million(terms.price_per_request_usd)
        );
        if terms.queueing_ms > 0.05 {
            text.push_str(&format!(
                " (queueing {:.1} ms at {:.0} % utilisation)",
                terms.queueing_ms,
                terms.utilization.unwrap_or(0.0) * 100.0
            ));
        }
        parts.insert(0, text);
    }
    if let Some(previous) = previous_share
        && (share - lp_share).abs() > 0.005
    {
        parts.push(format!(
            "moving from {:.0} % toward {:.0} % (damped)",
            previous * 100.0,
            lp_share * 100.0
        ));
    }
    parts.join("; ")
}

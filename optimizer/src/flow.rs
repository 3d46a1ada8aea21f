//! The decision rule: what each export costs a request under the policy's objective, and how
//! traffic migrates between exports from one solve to the next.
//!
//! Every cluster decides alone, on figures a few seconds old, and its answers reach traffic only
//! as resolver caches expire and connections are replaced. A best response (all traffic to the
//! export that looks best now) therefore herds: every cluster sees the same idle export and fills
//! it at once. The rule is Fischer and Vöcking's smooth adaptation instead: in each interval, a
//! fraction of the traffic at an export samples another export at random and moves there with a
//! probability proportional to how much cheaper it is, and never faster than `migration_s`
//! allows. Because each cluster moves a fraction *of its own traffic*, the clusterset as a whole
//! moves at the same rate whether one cluster decides or twenty, and the move shrinks as the
//! gap closes, so it settles instead of overshooting. The cost is the *marginal* one (see
//! [`Figures::marginal_ms`]), so where it settles is the split with the least total latency.

use crate::input::{Objective, Policy};
use crate::model::Figures;

/// Mixed without an explicit worth of a millisecond: one dollar per million requests weighs as
/// much as this many milliseconds at tradeoff 0.5.
const MS_PER_USD_PER_MILLION: f64 = 10.0;
/// Cost: one dollar per million requests weighs as much as this many milliseconds, so price
/// decides and latency only breaks ties (and the SLO's charge below overrides both).
const COST_MS_PER_USD_PER_MILLION: f64 = 1e4;
/// What each millisecond over the latency SLO costs, in milliseconds of the objective: steep
/// enough that no price difference in the tables outweighs a missed SLO (one millisecond over
/// weighs as much as $100 per million requests under Cost).
const SLO_CHARGE: f64 = 1e6;
/// An exponential wait's 99th percentile over its mean, ln 100: how the SLO (a p99) feels the
/// modelled queueing.
const P99_PER_MEAN_WAIT: f64 = 4.605_170_185_988_092;

/// What one more request at an export costs under the objective, now and at any other
/// utilisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    /// Milliseconds of latency, or their equivalent in price.
    pub ms: f64,
    /// Whether the SLO's charge applies.
    pub over_slo: bool,
    /// The cost at utilisations 0, 1/(N-1), .., 1, when the utilisation is known.
    curve: Option<Vec<f64>>,
}

/// Points of a cost curve: enough that interpolation errs by far less than the noise.
const CURVE_POINTS: usize = 65;

impl Cost {
    /// The cost at utilisation `u`, by the curve, when known.
    fn at(&self, u: f64) -> Option<f64> {
        let curve = self.curve.as_ref()?;
        let x = u.clamp(0.0, 1.0) * (CURVE_POINTS - 1) as f64;
        let i = (x.floor() as usize).min(CURVE_POINTS - 2);
        let t = x - i as f64;
        Some(curve[i] * (1.0 - t) + curve[i + 1] * t)
    }
}

/// Each export's [`Cost`] under `policy`.
pub fn costs(policy: &Policy, figures: &[Figures]) -> Vec<Cost> {
    figures
        .iter()
        .map(|f| {
            let (ms, over_slo) = cost_ms(policy, f);
            let curve = f.utilization.map(|_| {
                (0..CURVE_POINTS)
                    .map(|k| {
                        let u = k as f64 / (CURVE_POINTS - 1) as f64;
                        f.at_utilization(u).map_or(ms, |g| cost_ms(policy, &g).0)
                    })
                    .collect()
            });
            Cost {
                ms,
                over_slo,
                curve,
            }
        })
        .collect()
}

fn cost_ms(policy: &Policy, f: &Figures) -> (f64, bool) {
    let marginal = if policy.marginal {
        f.marginal_ms(policy.queueing_weight)
    } else {
        (f.rtt_ms + f.service_ms + policy.queueing_weight * f.queueing_ms) * f.tries
    };
    let per_million = f.price * 1e6;
    let price_ms = match policy.objective {
        Objective::Performance => 0.0,
        Objective::Cost => per_million * COST_MS_PER_USD_PER_MILLION,
        Objective::Mixed => match policy.usd_per_ms_per_million {
            Some(worth) if worth > 0.0 => per_million / worth,
            _ => {
                let t = policy.tradeoff.clamp(1e-3, 1.0);
                per_million * MS_PER_USD_PER_MILLION * (1.0 - t) / t
            }
        },
    };
    let over = over_slo_ms(policy, f);
    (marginal + price_ms + SLO_CHARGE * over, over > 0.0)
}

/// How far the export's modelled p99 (its queueing weighed as the p99 feels it) stands above the SLO (Cost and Mixed), ms; or,
/// with no SLO under Cost, how far its utilisation stands above the target, in the same units.
fn over_slo_ms(policy: &Policy, f: &Figures) -> f64 {
    if policy.objective == Objective::Performance {
        return 0.0;
    }
    match policy.latency_slo_ms {
        Some(slo) => {
            let tail = (f.rtt_ms + f.service_ms + P99_PER_MEAN_WAIT * f.queueing_ms) * f.tries;
            (tail - slo).max(0.0)
        }
        None if policy.objective == Objective::Cost => f.utilization.map_or(0.0, |u| {
            (u - policy.target_utilization).max(0.0) * f.service_ms * 100.0
        }),
        None => 0.0,
    }
}

/// One interval of migration. From each export, `rate` of its traffic samples each other
/// export with probability 1/(n-1) and moves there with a probability that is the fraction of
/// its traffic whose move would close the cost gap if every cluster made the same move at once
/// (found on the exporters' reported utilisations, so the steeper the costs the smaller the
/// move). Where a utilisation is unknown, the probability is the relative gap over `full_gap`
/// instead.
pub fn migrate(
    shares: &[f64],
    figures: &[Figures],
    costs: &[Cost],
    (rate, full_gap, band): (f64, f64, f64),
) -> Vec<f64> {
    let n = shares.len();
    let mut next = shares.to_vec();
    if n < 2 {
        return next;
    }
    let rate = rate.clamp(0.0, 1.0);
    let full_gap = full_gap.max(1e-9);
    for i in 0..n {
        if costs[i].ms.is_nan() || costs[i].ms <= 0.0 {
            continue;
        }
        for j in 0..n {
            // NS1's stabilize: within the band, the cheaper export is no better (noise).
            if j == i || costs[j].ms.is_nan() || costs[j].ms >= costs[i].ms * (1.0 - band) {
                continue;
            }
            let step = closing_fraction((&figures[i], &costs[i]), (&figures[j], &costs[j]), band)
                .unwrap_or_else(|| ((costs[i].ms - costs[j].ms) / costs[i].ms - band) / full_gap);
            let moved = shares[i] * rate * step.clamp(0.0, 1.0) / (n - 1) as f64;
            next[i] -= moved;
            next[j] += moved;
        }
    }
    next
}

/// Bisection rounds for [`closing_fraction`]: precise to 1/1024 of the traffic.
const BISECTION_ROUNDS: usize = 10;

/// The fraction φ of the traffic at `from` that, moved to `to` by every cluster alike, brings
/// the two within `band` of each other: from's utilisation falls to u·(1-φ) and to's rises by
/// φ·u·C_from/C_to. `None` without both utilisations.
fn closing_fraction(from: (&Figures, &Cost), to: (&Figures, &Cost), band: f64) -> Option<f64> {
    let u = from.0.utilization?;
    let v = to.0.utilization?;
    let ratio = from.0.relative_capacity() / to.0.relative_capacity();
    // The costs apart from queueing (round trip, price) differ per pair, so each side keeps its
    // own level and only the utilisations move.
    let gap = |phi: f64| -> Option<f64> {
        let here = from.1.at(u * (1.0 - phi))? - from.1.at(u)? + from.1.ms;
        let there = to.1.at(v + phi * u * ratio)? - to.1.at(v)? + to.1.ms;
        Some(here * (1.0 - band) - there)
    };
    if gap(1.0)? >= 0.0 {
        return Some(1.0);
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..BISECTION_ROUNDS {
        let mid = 0.5 * (lo + hi);
        if gap(mid)? > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// Raises every share to at least `floor` (when the floors fit), taking the difference from
/// the others in proportion to what they hold above it.
pub fn apply_floor(shares: &mut [f64], floor: f64) {
    let n = shares.len() as f64;
    let floor = floor.clamp(0.0, 1.0 / n.max(1.0));
    if floor <= 0.0 {
        return;
    }
    let short: f64 = shares.iter().map(|s| (floor - s).max(0.0)).sum();
    let spare: f64 = shares.iter().map(|s| (s - floor).max(0.0)).sum();
    if short <= 0.0 || spare <= 0.0 {
        return;
    }
    for s in shares.iter_mut() {
        *s = if *s < floor {
            floor
        } else {
            *s - (*s - floor) * short / spare
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(utilization: Option<f64>) -> Figures {
        Figures {
            rtt_ms: 1.0,
            service_ms: 10.0,
            servers: 4.0,
            utilization,
            queueing_ms: 0.0,
            price: 0.0,
            tries: 1.0,
            stale: false,
            reported: utilization.is_some(),
        }
    }

    fn flat(ms: f64) -> Cost {
        Cost {
            ms,
            over_slo: false,
            curve: None,
        }
    }

    #[test]
    fn without_utilisations_traffic_moves_in_proportion_to_the_relative_gap() {
        let shares = [0.5, 0.5];
        let f = [figures(None), figures(None)];
        // b is 20 % cheaper than a: at full_gap 0.4 half of the rate moves.
        let next = migrate(&shares, &f, &[flat(100.0), flat(80.0)], (0.2, 0.4, 0.0));
        assert!(
            (next[0] - (0.5 - 0.5 * 0.2 * 0.5)).abs() < 1e-12,
            "{next:?}"
        );
        assert!((next.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // A gap wider than full_gap moves at the full rate, never more.
        let next = migrate(&shares, &f, &[flat(100.0), flat(10.0)], (0.2, 0.4, 0.0));
        assert!((next[0] - 0.4).abs() < 1e-12, "{next:?}");
        // Equal costs: nothing moves.
        let same = migrate(&shares, &f, &[flat(50.0), flat(50.0)], (1.0, 0.4, 0.0));
        assert_eq!(same, shares.to_vec());
    }

    #[test]
    fn with_utilisations_the_move_closes_the_gap_as_if_everyone_made_it() {
        let policy = Policy::default();
        let f = [figures(Some(0.9)), figures(Some(0.3))];
        let costs = costs(&policy, &f);
        assert!(costs[0].ms > costs[1].ms);
        let next = migrate(&[0.5, 0.5], &f, &costs, (1.0, 0.4, 0.0));
        let phi = 2.0 * (0.5 - next[0]);
        // Two alike exports: the costs meet where the utilisations do, at 0.6 each, which takes
        // a third of the busy one's traffic. The cost curve is interpolated between 65 points,
        // and at u = 0.9 it reads about 2 % high, so the fraction found falls up to a tenth
        // short of a third: a slower move, never a larger one.
        assert!(phi > 0.28 && phi <= 1.0 / 3.0 + 0.01, "{phi}");
    }

    #[test]
    fn an_export_with_no_share_still_draws_traffic_when_it_is_cheaper() {
        let f = [figures(None), figures(None), figures(None)];
        let costs = [flat(100.0), flat(50.0), flat(200.0)];
        let next = migrate(&[1.0, 0.0, 0.0], &f, &costs, (0.5, 0.5, 0.0));
        assert!(next[1] > 0.0 && next[2] == 0.0, "{next:?}");
    }

    #[test]
    fn floors_are_raised_from_the_others_in_proportion() {
        let mut shares = vec![0.9, 0.1, 0.0];
        apply_floor(&mut shares, 0.05);
        assert!((shares[2] - 0.05).abs() < 1e-12);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(
            shares[0] < 0.9 && shares[1] < 0.1 && shares[1] > 0.05,
            "{shares:?}"
        );
    }
}

//! The linear program: choose shares x (sum 1, within bounds) minimising the objective, with
//! queueing delay as convex piecewise-linear segments. Solved by good_lp's pure-Rust microlp.

use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable, constraint,
    microlp, variable,
};

use crate::input::Objective;
use crate::model::Figures;

/// A secondary objective is scaled to this fraction of the primary one: enough to break ties
/// (among equal prices, the faster export; among equal latencies, the cheaper), too little to
/// trade any real amount of the primary for it.
const TIE_BREAK: f64 = 1e-6;

pub struct Lp<'a> {
    pub figures: &'a [Figures],
    pub lo: &'a [f64],
    pub hi: &'a [f64],
    pub objective: Objective,
    pub tradeoff: f64,
    pub usd_per_ms_per_million: Option<f64>,
    pub demand_rps: Option<f64>,
    /// How much more queueing delay counts than its mean (see `Policy::tail_weight`).
    pub tail_weight: f64,
    /// Expected latency (ms) the solution must not exceed.
    pub slo_ms: Option<f64>,
}

/// Shares from the LP, and the queueing segments' use (for explanations).
pub fn solve(lp: &Lp<'_>) -> Result<Vec<f64>, ResolutionError> {
    let mut vars = ProblemVariables::new();
    let mut shares: Vec<Expression> = Vec::with_capacity(lp.figures.len());
    // Two views of latency: the mean (what an SLO bounds) and the tail-weighted one the
    // objectives minimise, in which queueing delay counts `tail_weight` times.
    let mut latency = Expression::from(0.0);
    let mut queueing = Expression::from(0.0);
    let mut price = Expression::from(0.0);
    for (i, figures) in lp.figures.iter().enumerate() {
        let share: Expression = match figures.queue_segments(lp.demand_rps) {
            Some(segments) => {
                // x = sum of segment variables, each charged at its slope. The bounds on x are
                // folded into the segments rather than added as constraints (which triples the
                // solve time at 200 exports): because slopes increase, the floor can be demanded
                // of the first segments and the cap can cut the last ones, with the same optimum.
                let mut share = Expression::from(0.0);
                let (mut floor_left, mut room_left) = (lp.lo[i], lp.hi[i]);
                let mut last_slope = 0.0;
                for (width, slope) in segments {
                    let width = width.min(room_left);
                    if width <= 0.0 {
                        break;
                    }
                    let min = floor_left.min(width);
                    let z: Variable = vars.add(variable().min(min).max(width));
                    share += z;
                    queueing += slope * z;
                    floor_left -= min;
                    room_left -= width;
                    last_slope = slope;
                }
                if floor_left > 0.0 {
                    // The floor lies beyond the export's capacity: the floor wins, at the
                    // steepest delay the curve knows.
                    let z: Variable = vars.add(variable().min(floor_left).max(floor_left));
                    share += z;
                    queueing += last_slope * z;
                }
                share
            }
            None => vars.add(variable().min(lp.lo[i]).max(lp.hi[i])).into(),
        };
        latency += figures.base_ms() * share.clone();
        price += figures.price * share.clone();
        shares.push(share);
    }
    let weighted = latency.clone() + queueing.clone() * lp.tail_weight.max(1.0);
    latency += queueing;
    let latency_ref = lp
        .figures
        .iter()
        .map(Figures::base_ms)
        .fold(0.0, f64::max)
        .max(1e-9);
    let price_ref = lp
        .figures
        .iter()
        .map(|f| f.price)
        .fold(0.0, f64::max)
        .max(1e-18);
    let (slo_latency, latency) = (latency, weighted);
    let objective: Expression = match lp.objective {
        Objective::Performance => {
            latency.clone() * (1.0 / latency_ref) + price.clone() * (TIE_BREAK / price_ref)
        }
        Objective::Cost => {
            price.clone() * (1.0 / price_ref) + latency.clone() * (TIE_BREAK / latency_ref)
        }
        Objective::Mixed => match lp.usd_per_ms_per_million {
            // USD per million requests: price in USD/request × 1e6, plus worth × ms.
            Some(worth) => price.clone() * 1e6 + latency.clone() * worth.max(0.0),
            None => {
                let a = lp.tradeoff.clamp(0.0, 1.0);
                latency.clone() * (a / latency_ref) + price.clone() * ((1.0 - a) / price_ref)
            }
        },
    };
    let total: Expression = shares.iter().cloned().sum();
    let mut model = vars
        .minimise(objective)
        .using(microlp)
        .with(constraint!(total == 1.0));
    if let Some(slo) = lp.slo_ms {
        model = model.with(constraint!(slo_latency <= slo));
    }
    let solution = model.solve()?;
    Ok(shares.iter().map(|s| solution.eval(s).max(0.0)).collect())
}

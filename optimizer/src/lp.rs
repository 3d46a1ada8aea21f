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
    /// The shares in force, when there are any, and what moving away from them costs.
    pub moving: Option<Moving<'a>>,
}

/// A price on change: moving a fraction `m` of traffic (counted where it leaves and where it
/// arrives) costs `cost` × `m` × the objective's scale, so shares move only when the model
/// expects a gain larger than that. See `Policy::move_cost` for why.
pub struct Moving<'a> {
    pub from: &'a [f64],
    pub cost: f64,
}

/// An export's piece of the objective: a width of share, its slope in ms of queueing, and its
/// slope in moved share (-1 below the share in force, +1 above it).
struct Piece {
    width: f64,
    slope: f64,
    moved: f64,
}

/// The export's pieces in fill order. Slopes in both queueing and moved share increase, so the
/// pieces stay convex and an LP fills them in order. A `from` share splits the piece it falls in.
fn pieces(segments: Option<Vec<(f64, f64)>>, from: Option<f64>) -> Vec<Piece> {
    // Without a capacity there is no queueing: one flat piece as wide as any share can be.
    let segments = segments.unwrap_or_else(|| vec![(1.0, 0.0)]);
    let mut pieces = Vec::with_capacity(segments.len() + 1);
    let mut start = 0.0;
    for (width, slope) in segments {
        let below = from.map_or(0.0, |from| (from - start).clamp(0.0, width));
        if below > 0.0 {
            pieces.push(Piece {
                width: below,
                slope,
                moved: -1.0,
            });
        }
        if width - below > 0.0 {
            pieces.push(Piece {
                width: width - below,
                slope,
                moved: if from.is_some() { 1.0 } else { 0.0 },
            });
        }
        start += width;
    }
    pieces
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
    let mut moved = Expression::from(0.0);
    for (i, figures) in lp.figures.iter().enumerate() {
        let from = lp.moving.as_ref().map(|m| m.from[i]);
        // x = sum of piece variables, each charged at its slopes. The bounds on x are folded
        // into the pieces rather than added as constraints (which triples the solve time at
        // 200 exports): because slopes increase, the floor can be demanded of the first pieces
        // and the cap can cut the last ones, with the same optimum.
        let mut share = Expression::from(0.0);
        let (mut floor_left, mut room_left) = (lp.lo[i], lp.hi[i]);
        let mut last = (0.0, 1.0);
        for piece in pieces(figures.queue_segments(lp.demand_rps), from) {
            let width = piece.width.min(room_left);
            if width <= 0.0 {
                break;
            }
            let min = floor_left.min(width);
            let z: Variable = vars.add(variable().min(min).max(width));
            share += z;
            queueing += piece.slope * z;
            moved += piece.moved * z;
            floor_left -= min;
            room_left -= width;
            last = (piece.slope, piece.moved);
        }
        if floor_left > 0.0 {
            // The floor lies beyond the export's capacity: the floor wins, at the steepest
            // delay the curve knows.
            let z: Variable = vars.add(variable().min(floor_left).max(floor_left));
            share += z;
            queueing += last.0 * z;
            moved += last.1 * z;
        }
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
    // The scale of each objective: what sending everything to its worst export would cost.
    let scale = match (lp.objective, lp.usd_per_ms_per_million) {
        (Objective::Mixed, Some(worth)) => price_ref * 1e6 + latency_ref * worth.max(0.0),
        _ => 1.0,
    };
    let move_cost = lp.moving.as_ref().map_or(0.0, |m| m.cost.max(0.0) * scale);
    let objective: Expression = moved * move_cost
        + match lp.objective {
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

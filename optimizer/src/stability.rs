//! What keeps shares calm: the overload detector, the hot/cold rule, slow start, damping, the
//! dead band, and the projection that makes any vector a valid set of shares again.

use crate::input::{ExportInput, ExportState, LatencyTrend};

/// Aperture: overloaded when recent latency exceeds its baseline by this factor.
pub const OVERLOAD_RATIO: f64 = 1.25;
/// Aperture: the multiplier never falls below this, so an overloaded export keeps some traffic.
pub const MIN_LOAD_MULTIPLIER: f64 = 0.1;
/// Aperture: recovery per solve once the overload is gone (slow: 36 ticks from 0.1 to 1).
pub const RECOVERY_STEP: f64 = 0.025;

/// The overload detector's verdict for one export this solve.
#[derive(Debug, Clone, Copy)]
pub struct Overload {
    pub multiplier: f64,
    pub reference: f64,
}

/// Cut fast, grow slowly: multiply by setpoint/signal (at least 0.1) while overloaded, add
/// 0.025 per solve otherwise.
pub fn overload(
    trend: Option<LatencyTrend>,
    previous: Option<&ExportState>,
    previous_share: f64,
) -> Overload {
    let multiplier = previous
        .map_or(1.0, |p| p.load_multiplier)
        .clamp(MIN_LOAD_MULTIPLIER, 1.0);
    let reference = previous.map_or(0.0, |p| p.overload_reference);
    let setpoint_and_signal = trend
        .filter(|t| t.long_ms.is_finite() && t.short_ms.is_finite() && t.long_ms > 0.0)
        .map(|t| (OVERLOAD_RATIO * t.long_ms, t.short_ms));
    match setpoint_and_signal {
        Some((setpoint, signal)) if signal > setpoint => Overload {
            multiplier: (multiplier * (setpoint / signal).clamp(MIN_LOAD_MULTIPLIER, 1.0))
                .max(MIN_LOAD_MULTIPLIER),
            // The reference is the share held when this overload began.
            reference: if multiplier >= 1.0 {
                previous_share
            } else {
                reference
            },
        },
        _ => Overload {
            multiplier: (multiplier + RECOVERY_STEP).min(1.0),
            reference,
        },
    }
}

/// Prequal's hot/cold rule on requests in flight: exports above the `q` quantile are hot.
pub fn hot(exports: &[&ExportInput], q: f64) -> Vec<bool> {
    let known: Vec<f64> = exports
        .iter()
        .filter_map(|e| e.in_flight.filter(|r| r.is_finite() && *r >= 0.0))
        .collect();
    let threshold = if known.len() >= 2 {
        crate::model::quantile(&known, q)
    } else {
        None
    };
    exports
        .iter()
        .map(|e| matches!((e.in_flight, threshold), (Some(r), Some(t)) if r > t))
        .collect()
}

/// Moves `x` so it sums to 1 and each entry lies in [lo, hi], changing free entries in
/// proportion to their room. Requires sum(lo) <= 1 <= sum(hi).
pub fn fit(x: &mut [f64], lo: &[f64], hi: &[f64]) {
    for i in 0..x.len() {
        x[i] = x[i].clamp(lo[i], hi[i]);
    }
    for _ in 0..=x.len() {
        let residual = 1.0 - x.iter().sum::<f64>();
        if residual.abs() < 1e-12 {
            return;
        }
        let room: Vec<f64> = (0..x.len())
            .map(|i| {
                if residual > 0.0 {
                    hi[i] - x[i]
                } else {
                    x[i] - lo[i]
                }
            })
            .collect();
        let total: f64 = room.iter().sum();
        if total <= 1e-15 {
            return;
        }
        for i in 0..x.len() {
            let step = residual * room[i] / total;
            x[i] = (x[i] + step).clamp(lo[i], hi[i]);
        }
    }
}

/// x <- (1 - eta) x_prev + eta x*.
pub fn damp(target: &[f64], previous: &[f64], eta: f64) -> Vec<f64> {
    let eta = eta.clamp(0.0, 1.0);
    target
        .iter()
        .zip(previous)
        .map(|(t, p)| (1.0 - eta) * p + eta * t)
        .collect()
}

/// Whether every change from `previous` is below `band`.
pub fn within_dead_band(x: &[f64], previous: &[f64], band: f64) -> bool {
    x.iter().zip(previous).all(|(a, b)| (a - b).abs() < band)
}

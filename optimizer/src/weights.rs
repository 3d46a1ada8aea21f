//! Static operator weights (`WeightedRoundRobin`) turned into shares.
//!
//! The convention is Route 53's, Envoy's and DNS SRV's (reference §1): a weight is proportional,
//! and weight 0 drains an export unless no export has a positive weight, in which case the
//! drained ones share equally rather than the service going dark.

/// Shares (summing to 1) for candidates with the given weights; empty in, empty out.
///
/// Weights must be finite and non-negative; validation upstream guarantees it, and anything
/// else is treated as 0 so a bad figure can never produce a negative or NaN share.
pub fn shares_from_weights(weights: &[f64]) -> Vec<f64> {
    let clean = |w: f64| if w.is_finite() && w > 0.0 { w } else { 0.0 };
    let total: f64 = weights.iter().copied().map(clean).sum();
    if weights.is_empty() {
        Vec::new()
    } else if total > 0.0 {
        weights.iter().map(|&w| clean(w) / total).collect()
    } else {
        vec![1.0 / weights.len() as f64; weights.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_proportional_to_weights() {
        assert_eq!(shares_from_weights(&[3.0, 1.0]), [0.75, 0.25]);
    }

    #[test]
    fn zero_drains_unless_everything_is_zero() {
        assert_eq!(shares_from_weights(&[0.0, 2.0, 2.0]), [0.0, 0.5, 0.5]);
        assert_eq!(shares_from_weights(&[0.0, 0.0]), [0.5, 0.5]);
    }

    #[test]
    fn bad_figures_count_as_zero_and_empty_stays_empty() {
        assert_eq!(shares_from_weights(&[f64::NAN, -1.0, 1.0]), [0.0, 0.0, 1.0]);
        assert!(shares_from_weights(&[]).is_empty());
    }
}

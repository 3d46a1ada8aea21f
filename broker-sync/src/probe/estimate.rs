//! A smoothed estimate and a sliding window of recent samples, for one figure of one export.

use std::collections::VecDeque;
use std::time::Instant;

use aviator_optimizer::Measurement;

/// Samples kept for the percentiles: at one probe a second, about a minute of history.
const WINDOW: usize = 64;
/// EWMA weight of a new sample: Envoy's 0.3, which follows a change within a few probes.
const ALPHA: f64 = 0.3;
#[derive(Debug, Clone, Default)]
pub struct Estimator {
    ewma: Option<f64>,
    window: VecDeque<f64>,
    last: Option<Instant>,
}

impl Estimator {
    pub fn record(&mut self, ms: f64, now: Instant) {
        self.ewma = Some(match self.ewma {
            Some(old) => (1.0 - ALPHA) * old + ALPHA * ms,
            None => ms,
        });
        if self.window.len() == WINDOW {
            self.window.pop_front();
        }
        self.window.push_back(ms);
        self.last = Some(now);
    }

    /// Forgets history, e.g. when an export comes back from ejection.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    pub fn percentile(&self, q: f64) -> Option<f64> {
        let samples: Vec<f64> = self.window.iter().copied().collect();
        aviator_optimizer::quantile(&samples, q)
    }

    /// The estimate as the optimizer takes it, aged from the last sample.
    pub fn measurement(&self, now: Instant) -> Option<Measurement> {
        Some(Measurement {
            mean_ms: self.ewma?,
            p99_ms: self.percentile(0.99),
            age_s: now.saturating_duration_since(self.last?).as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_follows_new_samples_and_the_window_gives_percentiles() {
        let now = Instant::now();
        let mut e = Estimator::default();
        assert!(e.measurement(now).is_none());
        for ms in 1..=100 {
            e.record(f64::from(ms), now);
        }
        // Only the last 64 samples (37..=100) remain: p50 by nearest rank is 68, p99 is 100.
        assert_eq!(e.percentile(0.5), Some(68.0));
        assert_eq!(e.measurement(now).unwrap().p99_ms, Some(100.0));
        let mean = e.measurement(now).unwrap().mean_ms;
        assert!(mean > 95.0 && mean < 100.0, "{mean}");
    }
}

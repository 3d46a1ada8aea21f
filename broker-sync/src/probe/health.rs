//! Failure accounting for one export: consecutive failures eject it, for longer each time, and
//! a readmitted export starts again from slow start.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Health {
    consecutive_failures: u32,
    ejections: u32,
    ejected_until: Option<Instant>,
    /// When the export last became eligible (first seen, or readmitted).
    eligible_since: Instant,
}

/// Ejection settings: after `failures` in a row, out for `base` × (number of ejections),
/// at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct EjectionPolicy {
    pub failures: u32,
    pub base: Duration,
    pub max: Duration,
}

/// How long ago an established export "became eligible": longer than any slow-start window.
const ESTABLISHED: Duration = Duration::from_secs(24 * 3600);

impl Health {
    /// A new export's health. A `newcomer` (added beside exports already serving) goes through
    /// slow start; the exports found at start-up are established, or all would start slowly.
    pub fn new(now: Instant, newcomer: bool) -> Self {
        let eligible_since = if newcomer {
            now
        } else {
            now.checked_sub(ESTABLISHED).unwrap_or(now)
        };
        Self {
            consecutive_failures: 0,
            ejections: 0,
            ejected_until: None,
            eligible_since,
        }
    }

    pub fn is_ejected(&self, now: Instant) -> bool {
        self.ejected_until.is_some_and(|until| now < until)
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    pub fn ejections(&self) -> u32 {
        self.ejections
    }

    /// Seconds since the export became eligible, for slow start.
    pub fn eligible_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.eligible_since)
    }

    /// Records a success. Returns true if this readmits an export whose ejection had expired.
    pub fn succeeded(&mut self, now: Instant) -> bool {
        self.consecutive_failures = 0;
        match self.ejected_until {
            Some(until) if now >= until => {
                self.ejected_until = None;
                self.eligible_since = now;
                true
            }
            _ => false,
        }
    }

    /// Records a failure. Ejects when the failures reach the threshold and `may_eject` (the
    /// bound on ejected exports) allows it. Returns true if it ejected.
    pub fn failed(&mut self, now: Instant, policy: &EjectionPolicy, may_eject: bool) -> bool {
        self.consecutive_failures += 1;
        if self.is_ejected(now) || self.consecutive_failures < policy.failures || !may_eject {
            return false;
        }
        self.ejections += 1;
        let duration = (policy.base * self.ejections).min(policy.max);
        self.ejected_until = Some(now + duration);
        self.consecutive_failures = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: EjectionPolicy = EjectionPolicy {
        failures: 3,
        base: Duration::from_secs(10),
        max: Duration::from_secs(300),
    };

    #[test]
    fn consecutive_failures_eject_for_longer_each_time() {
        let t0 = Instant::now();
        let mut h = Health::new(t0, true);
        assert!(!h.failed(t0, &POLICY, true));
        assert!(!h.failed(t0, &POLICY, true));
        assert!(h.failed(t0, &POLICY, true));
        assert!(h.is_ejected(t0 + Duration::from_secs(9)));
        assert!(!h.is_ejected(t0 + Duration::from_secs(10)));
        // Readmitted on the first success after the ejection ends: slow start again.
        let t1 = t0 + Duration::from_secs(11);
        assert!(h.succeeded(t1));
        assert_eq!(h.eligible_for(t1), Duration::ZERO);
        for _ in 0..3 {
            h.failed(t1, &POLICY, true);
        }
        assert!(
            h.is_ejected(t1 + Duration::from_secs(19)),
            "second ejection lasts 20 s"
        );
    }

    #[test]
    fn the_bound_on_ejections_is_respected() {
        let t0 = Instant::now();
        let mut h = Health::new(t0, false);
        assert!(
            h.eligible_for(t0) > Duration::from_secs(3600),
            "established, not slow-starting"
        );
        for _ in 0..10 {
            assert!(!h.failed(t0, &POLICY, false));
        }
        assert!(!h.is_ejected(t0));
    }
}

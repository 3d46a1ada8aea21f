//! Failure accounting for one export: consecutive failed probes eject it, and consecutive
//! passing probes readmit it (an active health check's unhealthy and healthy thresholds, as
//! Envoy's and Kubernetes' readiness probes count them).

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Health {
    consecutive_failures: u32,
    /// Passing probes in a row while ejected.
    consecutive_successes: u32,
    ejections: u32,
    ejected: bool,
    /// When the export last became eligible (first seen, or readmitted).
    eligible_since: Instant,
}

/// Ejection settings: out after `failures` failed probes in a row, back after `successes`
/// passing ones in a row. Readmission waits for the probes, not for a clock: an export that
/// recovers in 2 s is back in 2 probe intervals, and one still failing stays out however long
/// that lasts. A readmitted export starts from no share and draws traffic only as the rule
/// finds it cheaper, so one that flaps never holds much.
#[derive(Debug, Clone, Copy)]
pub struct EjectionPolicy {
    pub failures: u32,
    pub successes: u32,
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
            consecutive_successes: 0,
            ejections: 0,
            ejected: false,
            eligible_since,
        }
    }

    pub fn is_ejected(&self) -> bool {
        self.ejected
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

    /// Records a passing probe. Returns true if this readmits an ejected export.
    pub fn succeeded(&mut self, now: Instant, policy: &EjectionPolicy) -> bool {
        self.consecutive_failures = 0;
        if !self.ejected {
            return false;
        }
        self.consecutive_successes += 1;
        if self.consecutive_successes < policy.successes.max(1) {
            return false;
        }
        self.ejected = false;
        self.consecutive_successes = 0;
        self.eligible_since = now;
        true
    }

    /// Records a failure. Ejects when the failures reach the threshold and `may_eject` (the
    /// bound on ejected exports) allows it. Returns true if it ejected.
    pub fn failed(&mut self, policy: &EjectionPolicy, may_eject: bool) -> bool {
        self.consecutive_successes = 0;
        self.consecutive_failures += 1;
        if self.ejected || self.consecutive_failures < policy.failures || !may_eject {
            return false;
        }
        self.ejections += 1;
        self.ejected = true;
        self.consecutive_failures = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: EjectionPolicy = EjectionPolicy {
        failures: 3,
        successes: 2,
    };

    #[test]
    fn failures_in_a_row_eject_and_passes_in_a_row_readmit() {
        let t0 = Instant::now();
        let mut h = Health::new(t0, true);
        assert!(!h.failed(&POLICY, true));
        assert!(!h.failed(&POLICY, true));
        assert!(h.failed(&POLICY, true));
        assert!(h.is_ejected());
        // Still failing: out for as long as that lasts.
        for _ in 0..10 {
            assert!(!h.failed(&POLICY, true));
        }
        assert!(h.is_ejected());
        // One pass, then a failure: the count of passes starts again.
        assert!(!h.succeeded(t0, &POLICY));
        assert!(!h.failed(&POLICY, true));
        assert!(!h.succeeded(t0, &POLICY));
        assert!(h.is_ejected());
        let t1 = t0 + Duration::from_secs(1);
        assert!(
            h.succeeded(t1, &POLICY),
            "the second pass in a row readmits"
        );
        assert!(!h.is_ejected());
        assert_eq!(h.eligible_for(t1), Duration::ZERO);
        assert_eq!(h.ejections(), 1);
        // Passes while eligible readmit nothing.
        assert!(!h.succeeded(t1, &POLICY));
        for _ in 0..3 {
            h.failed(&POLICY, true);
        }
        assert!(h.is_ejected());
        assert_eq!(h.ejections(), 2);
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
            assert!(!h.failed(&POLICY, false));
        }
        assert!(!h.is_ejected());
    }
}

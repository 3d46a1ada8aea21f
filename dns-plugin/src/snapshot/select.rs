//! Picks one cluster's records per lookup: fixed, strict rotation, or weighted-random.
//!
//! Each pick is lock-free and allocation-free: a rotation is one atomic increment, a weighted
//! pick one thread-local random number and a binary search over cumulative weights.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::Span;
use aviator_optimizer::draw;

/// One cluster's answer and the counter of how often it was given (`/metrics` reads it from
/// the snapshot, so a service's series go when the service does).
#[derive(Debug)]
pub struct Choice {
    /// The export it answers, as its index in the service's exports (a name would cost an
    /// allocation per export and snapshot).
    pub export: u32,
    pub records: Span,
    pub answered: Arc<AtomicU64>,
}

#[derive(Debug)]
pub struct Selector {
    /// Boxed, so no spare capacity is kept.
    choices: Box<[Choice]>,
    how: How,
}

#[derive(Debug)]
enum How {
    /// Always the first choice (the local cluster under `preferLocal`, or the only one).
    First,
    /// Strict round-robin: every window of n·k picks gives each of n choices k times. The
    /// counter is shared with the snapshots before and after this one, so the rotation runs on
    /// unbroken while the control loop republishes.
    Rotate(Arc<AtomicUsize>),
    /// Weighted-random: `cumulative[i]` is the sum of the integer weights of choices `0..=i`.
    Weighted { cumulative: Vec<u64> },
    /// Weighted low-discrepancy: the n-th pick lands at the fractional part of n·φ (the golden
    /// ratio), so every run of picks matches the shares closely, not just on average. A random
    /// pick with few clients can hand a small export twice its share for a while, which is
    /// exactly what hurts its tail; this cannot. The counter starts at a random point, so
    /// clusters do not move in lockstep.
    Spread {
        counter: Arc<AtomicU64>,
        cumulative: Vec<u64>,
    },
}

impl Selector {
    /// Always answers `choice`.
    pub fn fixed(choice: Choice) -> Self {
        Self {
            choices: Box::new([choice]),
            how: How::First,
        }
    }

    /// Rotates over `choices` in order, advancing `counter` (pass the previous snapshot's, from
    /// [`Selector::counter`], to keep turning across rebuilds).
    pub fn rotate(choices: Vec<Choice>, counter: Arc<AtomicUsize>) -> Self {
        let how = if choices.len() <= 1 {
            How::First
        } else {
            How::Rotate(counter)
        };
        Self {
            choices: choices.into_boxed_slice(),
            how,
        }
    }

    /// Picks at random with probability proportional to `shares`. Choices with a zero share are
    /// dropped; `shares` must be as long as `choices`.
    pub fn weighted(choices: Vec<Choice>, shares: &[f64]) -> Self {
        let (choices, cumulative) = Self::cumulative(choices, shares);
        let how = if choices.len() <= 1 {
            How::First
        } else {
            How::Weighted { cumulative }
        };
        Self {
            choices: choices.into_boxed_slice(),
            how,
        }
    }

    /// Picks in proportion to `shares` along a low-discrepancy sequence advancing `counter`
    /// (share it with the previous snapshot's, from [`Selector::spread_counter`]).
    pub fn spread(choices: Vec<Choice>, shares: &[f64], counter: Arc<AtomicU64>) -> Self {
        let (choices, cumulative) = Self::cumulative(choices, shares);
        let how = if choices.len() <= 1 {
            How::First
        } else {
            How::Spread {
                counter,
                cumulative,
            }
        };
        Self {
            choices: choices.into_boxed_slice(),
            how,
        }
    }

    /// A fresh counter for [`Selector::spread`], at a random starting point.
    pub fn new_spread_counter() -> Arc<AtomicU64> {
        Arc::new(AtomicU64::new(fastrand::u64(..)))
    }

    pub fn spread_counter(&self) -> Option<Arc<AtomicU64>> {
        match &self.how {
            How::Spread { counter, .. } => Some(counter.clone()),
            _ => None,
        }
    }

    fn cumulative(choices: Vec<Choice>, shares: &[f64]) -> (Vec<Choice>, Vec<u64>) {
        debug_assert_eq!(choices.len(), shares.len());
        let (kept, cumulative) = draw::cumulative(shares);
        let choices = choices
            .into_iter()
            .enumerate()
            .filter(|(i, _)| kept.binary_search(i).is_ok())
            .map(|(_, c)| c)
            .collect();
        (choices, cumulative)
    }

    pub fn is_empty(&self) -> bool {
        self.choices.is_empty()
    }

    pub fn choices(&self) -> &[Choice] {
        &self.choices
    }

    /// The rotation counter, to share with the next snapshot.
    pub fn counter(&self) -> Option<Arc<AtomicUsize>> {
        match &self.how {
            How::Rotate(next) => Some(next.clone()),
            _ => None,
        }
    }

    /// The records of the chosen cluster; `None` when there is nothing to choose from.
    pub fn pick(&self) -> Option<Span> {
        let index = match &self.how {
            How::First => 0,
            How::Rotate(next) => next.fetch_add(1, Ordering::Relaxed) % self.choices.len(),
            How::Weighted { cumulative } => {
                let total = cumulative.last().copied().unwrap_or(0);
                let point = fastrand::u64(0..total.max(1));
                cumulative.partition_point(|&c| c <= point)
            }
            How::Spread {
                counter,
                cumulative,
            } => draw::spread(counter.fetch_add(1, Ordering::Relaxed), cumulative),
        };
        let choice = self.choices.get(index)?;
        choice.answered.fetch_add(1, Ordering::Relaxed);
        Some(choice.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::arena::Arena;

    /// Choice `last` answers a span as long as `last` addresses, so a pick names its choice.
    fn choice(last: u8) -> Choice {
        let mut arena = Arena::default();
        let records = arena
            .run(|a| {
                for _ in 0..last {
                    a.address(5, "10.0.0.1".parse().unwrap());
                }
            })
            .unwrap();
        Choice {
            export: u32::from(last),
            records,
            answered: Arc::default(),
        }
    }

    fn picked(selector: &Selector) -> String {
        format!("10.0.0.{}", selector.pick().unwrap().count())
    }

    #[test]
    fn rotation_visits_each_choice_once_per_round() {
        let selector = Selector::rotate(vec![choice(1), choice(2), choice(3)], Arc::default());
        let got: Vec<String> = (0..6).map(|_| picked(&selector)).collect();
        assert_eq!(
            got,
            [
                "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.3"
            ]
        );
    }

    #[test]
    fn zero_shares_are_never_picked() {
        let selector = Selector::weighted(vec![choice(1), choice(2)], &[0.0, 1.0]);
        assert!((0..1000).all(|_| picked(&selector) == "10.0.0.2"));
    }

    #[test]
    fn weighted_picks_follow_the_shares() {
        fastrand::seed(7);
        let selector = Selector::weighted(vec![choice(1), choice(2)], &[0.75, 0.25]);
        let n = 40_000;
        let first = (0..n).filter(|_| picked(&selector) == "10.0.0.1").count();
        // 0.75 ± 5 standard deviations (sd = sqrt(n p (1-p)) ≈ 87).
        assert!((29_565..=30_435).contains(&first), "{first}");
    }

    #[test]
    fn spread_picks_match_the_shares_in_every_short_run() {
        let selector = Selector::spread(
            vec![choice(1), choice(2), choice(3)],
            &[0.5, 0.3, 0.2],
            Selector::new_spread_counter(),
        );
        let picks: Vec<String> = (0..1000).map(|_| picked(&selector)).collect();
        // Every window of 50 picks is within 3 of its expected count (25 / 15 / 10); a random
        // pick strays by twice that about once in twenty windows.
        for window in picks.windows(50) {
            for (ip, expected) in [("10.0.0.1", 25), ("10.0.0.2", 15), ("10.0.0.3", 10)] {
                let n = window.iter().filter(|p| *p == ip).count() as i64;
                assert!((n - expected).abs() <= 3, "{ip}: {n} in a window of 50");
            }
        }
    }

    #[test]
    fn nothing_to_choose_gives_nothing() {
        assert!(
            Selector::rotate(Vec::new(), Arc::default())
                .pick()
                .is_none()
        );
        assert!(Selector::weighted(Vec::new(), &[]).pick().is_none());
    }
}

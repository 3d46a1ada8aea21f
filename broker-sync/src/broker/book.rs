//! The last good copy of every peer's profile, with how old it is.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::ClusterProfile;

#[derive(Debug, Default)]
pub struct PeerBook {
    profiles: BTreeMap<String, ClusterProfile>,
    last_success: Option<Instant>,
}

impl PeerBook {
    /// Records a successful read: profiles read replace their previous copies; peers missing
    /// from this read keep their last copy (a peer that stops publishing is not forgotten).
    pub fn update(&mut self, profiles: Vec<ClusterProfile>, now: Instant) {
        for profile in profiles {
            self.profiles.insert(profile.cluster.clone(), profile);
        }
        self.last_success = Some(now);
    }

    pub fn profiles(&self) -> impl Iterator<Item = &ClusterProfile> {
        self.profiles.values()
    }

    /// Time since the broker was last read successfully; `None` if it never was.
    pub fn age(&self, now: Instant) -> Option<Duration> {
        self.last_success.map(|t| now.saturating_duration_since(t))
    }

    /// Whether the copy is older than `bound` (or was never read).
    pub fn is_stale(&self, now: Instant, bound: Duration) -> bool {
        self.age(now).is_none_or(|age| age > bound)
    }
}

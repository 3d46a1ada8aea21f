//! Which replica writes: both serve DNS, but only the holder of a `coordination.k8s.io` Lease
//! writes the AviatorPolicy statuses and this cluster's `ClusterCost` on the broker, so that
//! two replicas' slightly different probe figures do not flap the values or conflict.
//!
//! The rule is client-go's leader election, reduced: a lease whose holder has not renewed it
//! within its duration is free; the holder renews it every third of the duration; a replica
//! that cannot renew within the duration stops writing before anyone else may take over.
//! Writes go by resourceVersion, so two replicas taking a free lease at once cannot both win.

use k8s_openapi::jiff::Timestamp;

/// The lease's name in Aviator's namespace.
pub const NAME: &str = "aviator-writer";

/// What one replica does with the lease it read (or its absence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No lease yet: create it, held by us.
    Create,
    /// Free (expired, or released): take it.
    Take,
    /// Ours: renew it.
    Renew,
    /// Someone else's, still live.
    Follow(String),
}

/// The step for `me`, given the lease's holder and when it last renewed and for how long.
pub fn step(
    lease: Option<(Option<&str>, Option<Timestamp>, Option<i32>)>,
    me: &str,
    now: Timestamp,
) -> Step {
    let Some((holder, renewed, duration_s)) = lease else {
        return Step::Create;
    };
    let Some(holder) = holder.filter(|h| !h.is_empty()) else {
        return Step::Take;
    };
    if holder == me {
        return Step::Renew;
    }
    let live_until = renewed.and_then(|t| {
        t.checked_add(std::time::Duration::from_secs(
            u64::try_from(duration_s?).ok()?,
        ))
        .ok()
    });
    match live_until {
        Some(until) if until > now => Step::Follow(holder.to_owned()),
        _ => Step::Take,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_lease_is_followed_and_an_expired_one_taken() {
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let renewed = |s: i64| {
            Some(
                now.checked_sub(std::time::Duration::from_secs(s as u64))
                    .unwrap(),
            )
        };
        assert_eq!(step(None, "a", now), Step::Create);
        assert_eq!(
            step(Some((Some("a"), renewed(5), Some(15))), "a", now),
            Step::Renew
        );
        assert_eq!(
            step(Some((Some("b"), renewed(5), Some(15))), "a", now),
            Step::Follow("b".to_owned())
        );
        assert_eq!(
            step(Some((Some("b"), renewed(20), Some(15))), "a", now),
            Step::Take
        );
        assert_eq!(
            step(Some((None, renewed(1), Some(15))), "a", now),
            Step::Take
        );
        assert_eq!(
            step(Some((Some("b"), None, Some(15))), "a", now),
            Step::Take
        );
    }
}

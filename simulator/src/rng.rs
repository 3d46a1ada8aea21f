//! Common random numbers: every policy run of a scenario draws its arrivals, request sizes,
//! failures and probe noise from streams seeded the same way, so policies differ only by their
//! choices, not by their luck.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp1, LogNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A portable generator: the same seed gives the same numbers on every machine and release.
pub type Stream = Xoshiro256PlusPlus;

/// What a stream is for. Each purpose has its own stream, so a policy that draws more of one
/// (probe noise, say) does not shift another (arrivals) for the policies after it.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    Arrivals = 1,
    Work = 2,
    Probes = 3,
    Policy = 4,
    Connections = 5,
    Reports = 6,
}

/// The stream for `purpose` in `scenario` under `seed`.
pub fn stream(seed: u64, scenario: &str, purpose: Purpose) -> Stream {
    // FNV-1a: stable across releases, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in scenario.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let mixed = seed ^ hash.rotate_left(17) ^ (purpose as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Stream::seed_from_u64(mixed)
}

/// An exponential variate with the given mean.
pub fn exponential(rng: &mut Stream, mean: f64) -> f64 {
    let unit: f64 = Exp1.sample(rng);
    unit * mean
}

/// A lognormal variate with the given mean and coefficient of variation.
pub fn lognormal(rng: &mut Stream, mean: f64, cv: f64) -> f64 {
    match LogNormal::from_mean_cv(mean, cv) {
        Ok(d) => d.sample(rng),
        Err(_) => mean,
    }
}

/// A uniform variate in [0, 1).
pub fn unit(rng: &mut Stream) -> f64 {
    rng.random::<f64>()
}

/// A uniform 64-bit word.
pub fn word(rng: &mut Stream) -> u64 {
    rng.random::<u64>()
}

/// A uniform index below `n` (n > 0).
pub fn index(rng: &mut Stream, n: usize) -> usize {
    rng.random_range(0..n.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_repeat_for_a_seed_and_differ_by_purpose_and_scenario() {
        let draw = |mut s: Stream| (0..4).map(|_| unit(&mut s)).collect::<Vec<_>>();
        let a = draw(stream(7, "ramp", Purpose::Arrivals));
        assert_eq!(a, draw(stream(7, "ramp", Purpose::Arrivals)));
        assert_ne!(a, draw(stream(7, "ramp", Purpose::Work)));
        assert_ne!(a, draw(stream(7, "outage", Purpose::Arrivals)));
        assert_ne!(a, draw(stream(8, "ramp", Purpose::Arrivals)));
    }

    #[test]
    fn lognormal_has_the_asked_mean_and_spread() {
        let mut rng = stream(1, "t", Purpose::Work);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| lognormal(&mut rng, 20.0, 1.0)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 20.0).abs() < 0.3, "mean {mean}");
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.05,
            "cv {}",
            var.sqrt() / mean
        );
    }
}

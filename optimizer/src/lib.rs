//! Aviator's decision core: from what this cluster knows about each export of a service, the
//! share of lookups each export should get.
//!
//! The core is pure, deterministic and I/O-free: it takes plain numbers and returns plain
//! numbers, and knows neither DNS nor Kubernetes. The one exception sits beside it, behind the
//! `probe` feature: [`probe`], this cluster's own measurement of the exports. [`solve`] is the entry point; [`weights`] serves the static
//! `WeightedRoundRobin` mode; [`cost`] prices a request between two clusters.

mod belief;
pub mod cost;
pub mod draw;
pub mod explain;
pub mod input;
mod lp;
mod model;
#[cfg(feature = "probe")]
pub mod probe;
mod solve;
mod stability;
pub mod weights;

pub use belief::ServiceBelief;
pub use explain::{Bind, Decision, ExportDecision, Terms};
pub use input::{
    ExportInput, ExportState, LatencyTrend, Measurement, Objective, Policy, Probed, Problem, State,
};
pub use solve::{solve, solve_with};

//! Aviator's decision core: from what this cluster knows about each export of a service, the
//! share of lookups each export should get.
//!
//! The core is pure, deterministic and I/O-free: it takes plain numbers and returns plain
//! numbers, and knows neither DNS nor Kubernetes; measuring (probes, load reports) is the
//! sources' job (`aviator-broker`). [`solve`] is the entry point; [`weights`] serves the static
//! `WeightedRoundRobin` mode; [`cost`] prices a request between two clusters.

mod belief;
pub mod cost;
pub mod draw;
pub mod explain;
pub mod input;
mod lp;
mod model;
mod solve;
mod stability;
pub mod weights;

pub use belief::ServiceBelief;
pub use explain::{Bind, Decision, ExportDecision, Terms};
pub use input::{
    ExportInput, ExportState, LatencyTrend, LoadReport, Measurement, Objective, Policy, Probed,
    Problem, State,
};
pub use model::quantile;
pub use solve::{solve, solve_with};

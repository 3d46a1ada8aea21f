//! Aviator's decision core: from what this cluster knows about each export of a service, the
//! share of lookups each export should get.
//!
//! The core is pure, deterministic and I/O-free: it takes plain numbers and returns plain
//! numbers, and knows neither DNS nor Kubernetes; measuring (probes, load reports) is the
//! sources' job (`aviator-broker`). [`solve`] is the entry point; [`weights`] serves the static
//! `WeightedRoundRobin` mode; [`cost`] prices a request between two clusters.

pub mod cost;
pub mod draw;
pub mod explain;
mod flow;
pub mod input;
mod list_prices;
mod model;
mod solve;
pub mod weights;

pub use explain::{Bind, Decision, ExportDecision, Terms};
pub use input::{
    ExportInput, ExportState, LoadReport, MAX_OFFERED_LOAD, Measurement, Objective, Policy,
    Problem, State,
};
pub use list_prices::list_prices;
pub use model::quantile;
pub use solve::{solve, solve_with};

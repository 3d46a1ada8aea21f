//! Aviator's authoritative DNS responder for the clusterset zone, and the wiring of the
//! `aviator` binary.
//!
//! Request path: [`server`] (sockets, batches) -> [`wire`] (one query, read and answered) ->
//! [`snapshot`] (pre-rendered answers, swapped atomically by the control plane in [`app`]).

pub mod admin;
pub mod app;
pub mod cli;
pub mod demo;
pub mod metrics;
pub mod server;
pub mod snapshot;
pub mod state_metrics;
pub mod wire;

//! Helpers shared by the end-to-end tests: a running `aviator` process and a DNS client.

pub mod backend;
pub mod control_plane;
pub mod coredns;
pub mod dns;
pub mod http;
pub mod kube_api;
pub mod lighthouse_agent;
pub mod process;
pub mod submariner;

pub use dns::*;
pub use process::Aviator;

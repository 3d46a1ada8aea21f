//! The sources of Aviator's state: the standalone clusterset file (the embedded default), the
//! Kubernetes objects, the broker that shares prices and load reports between clusters, and the
//! probes that measure each export from here.
//!
//! Every source produces the same validated [`state::ClusterSet`]; nothing downstream knows which
//! source is in use.

pub mod broker;
pub mod clusterset;
pub mod decide;
pub mod kubernetes;
pub mod probe;
pub mod report;
pub mod state;

//! The sources of Aviator's state: the standalone clusterset file (the embedded default), and
//! later the Kubernetes objects and the broker that shares prices.
//!
//! Every source produces the same validated [`state::ClusterSet`]; nothing downstream knows which
//! source is in use.

pub mod clusterset;
pub mod state;

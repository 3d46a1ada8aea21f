//! The sources of Aviator's state: the standalone clusterset file (the embedded default), the
//! broker that shares prices between clusters, and later the Kubernetes objects.
//!
//! Every source produces the same validated [`state::ClusterSet`]; nothing downstream knows which
//! source is in use.

pub mod broker;
pub mod clusterset;
pub mod decide;
pub mod kubernetes;
pub mod state;

//! Aviator's decision core: from what this cluster knows about each export of a service, the
//! share of lookups each export should get.
//!
//! Pure, deterministic and I/O-free: it takes plain numbers and returns plain numbers. It knows
//! neither DNS nor Kubernetes.

pub mod weights;

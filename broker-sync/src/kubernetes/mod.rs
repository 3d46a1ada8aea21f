//! Aviator's Kubernetes side: the `AviatorPolicy` CRD operators write, the `ClusterCost` objects
//! clusters share through the broker, and the mapping of the objects Lighthouse reads
//! (ServiceImports, EndpointSlices, Submariner Gateways) into a [`ClusterSet`](crate::state::ClusterSet).
//! The watchers that keep those objects current are yet to come.

pub mod access;
pub mod crd;
pub mod lease;
pub mod lighthouse;
pub mod location;
pub mod objects;
pub mod policies;
pub mod policy;
pub mod slices;
pub mod status;
pub mod utilization;

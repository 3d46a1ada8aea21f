//! Aviator's Kubernetes objects: the `AviatorPolicy` CRD operators write and the `ClusterCost`
//! objects clusters share through the broker. (The watchers that read Lighthouse's
//! ServiceImports, EndpointSlices and Submariner's Gateways are yet to come.)

pub mod crd;

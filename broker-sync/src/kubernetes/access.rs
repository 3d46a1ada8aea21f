//! Every Kubernetes API call Aviator makes. The watchers are built from this list, and a test
//! checks that the ClusterRole in `deploy/` grants exactly these calls and nothing more.

/// One watched resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watched {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
}

/// The verbs a watcher uses: an initial (and re-) list, then a watch.
pub const WATCH_VERBS: [&str; 2] = ["list", "watch"];

pub const SERVICE_IMPORTS: Watched = Watched {
    group: "multicluster.x-k8s.io",
    version: "v1alpha1",
    kind: "ServiceImport",
    plural: "serviceimports",
};
pub const ENDPOINT_SLICES: Watched = Watched {
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
};
pub const GATEWAYS: Watched = Watched {
    group: "submariner.io",
    version: "v1",
    kind: "Gateway",
    plural: "gateways",
};
pub const AVIATOR_POLICIES: Watched = Watched {
    group: "aviator.dev",
    version: "v1alpha1",
    kind: "AviatorPolicy",
    plural: "aviatorpolicies",
};

/// Everything Aviator watches, cluster-wide.
pub const WATCHED: [Watched; 4] = [SERVICE_IMPORTS, ENDPOINT_SLICES, GATEWAYS, AVIATOR_POLICIES];

/// The reads behind this cluster's own exports' utilisation ([`super::utilization`]): the
/// Service (for its selector), its pods (for their CPU requests) and their metrics.
pub const SERVICES: Watched = Watched {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
};
pub const PODS: Watched = Watched {
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
};
pub const POD_METRICS: Watched = Watched {
    group: "metrics.k8s.io",
    version: "v1beta1",
    kind: "PodMetrics",
    plural: "pods",
};

/// Where this cluster is ([`super::location`]).
pub const NODES: Watched = Watched {
    group: "",
    version: "v1",
    kind: "Node",
    plural: "nodes",
};

/// Single reads: (resource, verb).
pub const READS: [(Watched, &str); 4] = [
    (SERVICES, "get"),
    (PODS, "list"),
    (POD_METRICS, "list"),
    (NODES, "list"),
];

/// Status writes: (group, resource/subresource, verb). Aviator replaces the status of the
/// AviatorPolicies it acts on, and writes nothing else.
pub const STATUS_WRITES: [(&str, &str, &str); 1] =
    [("aviator.dev", "aviatorpolicies/status", "update")];

/// Reads in Submariner's namespace, for the broker's credentials where Submariner keeps them
/// (`deploy/submariner`'s Role): (group, resource, verb).
pub const SUBMARINER_READS: [(&str, &str, &str); 2] = [
    ("submariner.io", "submariners", "list"),
    ("", "secrets", "get"),
];

/// Calls on the writer lease ([`super::lease`]) in Aviator's namespace (`deploy/base`'s Role):
/// (group, resource, verb).
pub const LEASE_CALLS: [(&str, &str, &str); 3] = [
    ("coordination.k8s.io", "leases", "get"),
    ("coordination.k8s.io", "leases", "create"),
    ("coordination.k8s.io", "leases", "update"),
];

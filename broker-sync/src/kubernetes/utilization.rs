//! How busy this cluster's own exports are, in Kubernetes: the CPU its ready pods use, by the
//! metrics API (`metrics.k8s.io`, which metrics-server serves), against the CPU they request.
//! The figure goes into the export's load report ([`crate::report`]), where a peer reads it.
//!
//! The pods are the exported Service's: its selector, in its namespace. A pod counts only when
//! it is ready, requests CPU in every container and has a usage sample; with none such, the
//! utilisation is unknown, never 0. [`read`] makes the three calls; the rest is pure.

use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;

use super::access;

/// One reading of an export's utilisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// CPU used over CPU requested, by the export's ready pods together (may exceed 1).
    pub utilization: f64,
    /// When the oldest usage sample in it was taken, UNIX seconds.
    pub measured_unix: f64,
}

/// Cores in a Kubernetes CPU quantity: `2`, `0.5`, `250m`, `1500u`, `12345678n`, `1e3m`.
pub fn cpu_cores(quantity: &str) -> Option<f64> {
    let q = quantity.trim();
    let (number, scale) = match q.char_indices().last()? {
        (i, 'n') => (&q[..i], 1e-9),
        (i, 'u') => (&q[..i], 1e-6),
        (i, 'm') => (&q[..i], 1e-3),
        (i, 'k') => (&q[..i], 1e3),
        _ => (q, 1.0),
    };
    number
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|c| c.is_finite() && *c >= 0.0)
}

/// The label selector (`a=b,c=d`) of a Service object, if it selects pods at all.
pub fn selector(service: &Value) -> Option<String> {
    let selector = service["spec"]["selector"].as_object()?;
    let terms: Vec<String> = selector
        .iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
        .collect();
    (!terms.is_empty()).then(|| terms.join(","))
}

/// CPU requested by a ready pod, cores; `None` if it is not ready or a container requests none.
fn requested(pod: &Value) -> Option<f64> {
    let ready = pod["status"]["conditions"]
        .as_array()?
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    if !ready {
        return None;
    }
    let containers = pod["spec"]["containers"].as_array()?;
    containers
        .iter()
        .map(|c| {
            c["resources"]["requests"]["cpu"]
                .as_str()
                .and_then(cpu_cores)
        })
        .sum::<Option<f64>>()
        .filter(|cores| *cores > 0.0)
}

/// A PodMetrics object's CPU use, cores, and when it was sampled (UNIX s).
fn used(metrics: &Value) -> Option<(f64, f64)> {
    let cores = metrics["containers"]
        .as_array()?
        .iter()
        .map(|c| c["usage"]["cpu"].as_str().and_then(cpu_cores))
        .sum::<Option<f64>>()?;
    let at: Timestamp = metrics["timestamp"].as_str()?.parse().ok()?;
    Some((cores, at.as_millisecond() as f64 / 1e3))
}

/// The utilisation of the pods in `pods` (Pod objects) by their samples in `metrics`
/// (PodMetrics objects), joined by name.
pub fn utilization(pods: &[Value], metrics: &[Value]) -> Option<Reading> {
    let usage: HashMap<&str, (f64, f64)> = metrics
        .iter()
        .filter_map(|m| Some((m["metadata"]["name"].as_str()?, used(m)?)))
        .collect();
    let mut requested_cores = 0.0;
    let mut used_cores = 0.0;
    let mut oldest = f64::INFINITY;
    for pod in pods {
        let Some(name) = pod["metadata"]["name"].as_str() else {
            continue;
        };
        let (Some(request), Some(&(cores, at))) = (requested(pod), usage.get(name)) else {
            continue;
        };
        requested_cores += request;
        used_cores += cores;
        oldest = oldest.min(at);
    }
    (requested_cores > 0.0).then(|| Reading {
        utilization: used_cores / requested_cores,
        measured_unix: oldest,
    })
}

/// Reads the utilisation of the Service `namespace/name`'s pods: its selector, its pods, their
/// metrics. `Ok(None)` when it is unknown (no selector, no ready pod with requests and a sample).
pub async fn read(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<Reading>, kube::Error> {
    let resource = |w: access::Watched| {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(w.group, w.version, w.kind),
            w.plural,
        )
    };
    let services: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resource(access::SERVICES));
    let service = serde_json::to_value(services.get(name).await?).unwrap_or_default();
    let Some(selector) = selector(&service) else {
        return Ok(None);
    };
    let params = ListParams::default().labels(&selector);
    let pods = list(client, namespace, &resource(access::PODS), &params).await?;
    let metrics = list(client, namespace, &resource(access::POD_METRICS), &params).await?;
    Ok(utilization(&pods, &metrics))
}

async fn list(
    client: &kube::Client,
    namespace: &str,
    resource: &ApiResource,
    params: &ListParams,
) -> Result<Vec<Value>, kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
    let items = api.list(params).await?.items;
    Ok(items
        .into_iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cpu_quantities_in_every_suffix() {
        assert_eq!(cpu_cores("2"), Some(2.0));
        assert_eq!(cpu_cores("0.5"), Some(0.5));
        assert_eq!(cpu_cores("250m"), Some(0.25));
        assert!((cpu_cores("1500u").unwrap() - 0.0015).abs() < 1e-12);
        assert!((cpu_cores("12345678n").unwrap() - 0.012345678).abs() < 1e-12);
        assert_eq!(cpu_cores("1e3m"), Some(1.0));
        assert_eq!(cpu_cores("-1"), None);
        assert_eq!(cpu_cores("lots"), None);
        assert_eq!(cpu_cores(""), None);
    }

    fn pod(name: &str, ready: bool, requests: &[Option<&str>]) -> Value {
        let containers: Vec<Value> = requests
            .iter()
            .map(|r| match r {
                Some(cpu) => json!({ "name": "c", "resources": { "requests": { "cpu": cpu } } }),
                None => json!({ "name": "c", "resources": {} }),
            })
            .collect();
        json!({
            "metadata": { "name": name },
            "spec": { "containers": containers },
            "status": { "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] },
        })
    }

    fn sample(name: &str, at: &str, usage: &[&str]) -> Value {
        let containers: Vec<Value> = usage
            .iter()
            .map(|cpu| json!({ "name": "c", "usage": { "cpu": cpu, "memory": "10Mi" } }))
            .collect();
        json!({ "metadata": { "name": name }, "timestamp": at, "window": "15s", "containers": containers })
    }

    #[test]
    fn ready_pods_with_requests_and_samples_make_the_figure() {
        let pods = [
            pod("a", true, &[Some("500m"), Some("500m")]),
            pod("b", true, &[Some("1")]),
            // Not ready, no request, or no sample: left out, not counted as idle.
            pod("c", false, &[Some("1")]),
            pod("d", true, &[Some("1"), None]),
            pod("e", true, &[Some("1")]),
        ];
        let metrics = [
            sample("a", "2026-12-01T00:00:10Z", &["300m", "200m"]),
            sample("b", "2026-12-01T00:00:05Z", &["1500m"]),
            sample("c", "2026-12-01T00:00:10Z", &["1"]),
            sample("d", "2026-12-01T00:00:10Z", &["1", "1"]),
        ];
        let reading = utilization(&pods, &metrics).unwrap();
        // (0.5 + 1.5) used of (1 + 1) requested; the older sample dates it.
        assert!((reading.utilization - 1.0).abs() < 1e-12, "{reading:?}");
        let at: Timestamp = "2026-12-01T00:00:05Z".parse().unwrap();
        assert_eq!(reading.measured_unix, at.as_second() as f64);
        assert_eq!(utilization(&pods[2..4], &metrics), None);
        assert_eq!(utilization(&pods, &[]), None);
    }

    #[test]
    fn a_service_without_a_selector_has_no_pods_to_read() {
        let service = json!({ "spec": { "selector": { "app": "cart", "tier": "web" } } });
        assert_eq!(selector(&service).as_deref(), Some("app=cart,tier=web"));
        assert_eq!(selector(&json!({ "spec": {} })), None);
        assert_eq!(selector(&json!({ "spec": { "selector": {} } })), None);
    }
}

//! `aviator explain <svc>.<ns>`: asks a running aviator (its `/debug/weights`) why it answers a
//! service as it does, and prints one row per cluster.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::admin::{ServiceWeights, Weights};
use crate::cli::ExplainArgs;
use aviator_optimizer::ExportDecision;

pub async fn explain(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let key = service_key(&args.service)?;
    let url = format!("http://{}/debug/weights", args.admin);
    let client = aviator_broker::probe::http_client(std::time::Duration::from_secs(5))?;
    let weights: Weights = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("cannot reach aviator's admin port at {}", args.admin))?
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("{url}: not the answer of an aviator"))?;
    let Some(service) = weights.services.get(&key) else {
        let known: Vec<&str> = weights.services.keys().map(String::as_str).collect();
        bail!(
            "{}: no Optimized or probed service \"{key}\" (known: {})",
            args.admin,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    print!("{}", table(&key, service));
    Ok(ExitCode::SUCCESS)
}

/// Accepts `<svc>.<ns>` (as in DNS names) or `<ns>/<svc>`; returns `<ns>/<svc>`.
fn service_key(text: &str) -> anyhow::Result<String> {
    let text = text
        .trim_end_matches(".svc.clusterset.local")
        .trim_end_matches(".svc");
    if let Some((namespace, name)) = text.split_once('/') {
        return Ok(format!("{namespace}/{name}"));
    }
    match text.split_once('.') {
        Some((name, namespace)) if !namespace.contains('.') => Ok(format!("{namespace}/{name}")),
        _ => bail!("\"{text}\" is not a service: write <svc>.<ns>, e.g. nginx.default"),
    }
}

pub fn table(key: &str, service: &ServiceWeights) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{key}");
    let _ = writeln!(
        out,
        "{:<12} {:>8} {:>8} {:>9} {:>9} {:<12} {:>6}  reason",
        "cluster", "rtt ms", "svc ms", "$/M req", "busy %", "health", "share"
    );
    let mut clusters: Vec<&String> = service.probes.keys().collect();
    if let Some(decision) = &service.decision {
        clusters = decision.exports.iter().map(|e| &e.cluster).collect();
    }
    for cluster in clusters {
        let probe = service.probes.get(cluster);
        let export = service
            .decision
            .as_ref()
            .and_then(|d| d.exports.iter().find(|e| &e.cluster == cluster));
        let health = match probe {
            None => "unprobed".to_owned(),
            Some(p) if p.ejected => format!("ejected x{}", p.ejections),
            Some(p) if p.consecutive_failures > 0 => format!("failing {}", p.consecutive_failures),
            Some(_) => "ok".to_owned(),
        };
        let number =
            |v: Option<f64>, scale: f64| v.map_or("-".to_owned(), |v| format!("{:.1}", v * scale));
        let rtt = export
            .map(|e| e.terms.rtt_ms)
            .or_else(|| probe.and_then(|p| p.rtt.map(|m| m.mean_ms)));
        let svc = export
            .map(|e| e.terms.service_ms)
            .or_else(|| probe.and_then(|p| p.latency.map(|m| m.mean_ms)));
        let _ = writeln!(
            out,
            "{:<12} {:>8} {:>8} {:>9} {:>9} {:<12} {:>6}  {}",
            cluster,
            number(rtt, 1.0),
            number(svc, 1.0),
            export.map_or("-".to_owned(), |e| format!(
                "{:.2}",
                e.terms.price_per_request_usd * 1e6
            )),
            number(export.and_then(|e| e.terms.utilization), 100.0),
            health,
            export.map_or("-".to_owned(), |e| format!("{:.1}%", e.share * 100.0)),
            export.map_or_else(
                || "not optimized: see its mode".to_owned(),
                ExportDecision::reason
            ),
        );
    }
    if let Some(decision) = &service.decision {
        for note in &decision.notes {
            let _ = writeln!(out, "note: {note}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_read_in_both_forms() {
        assert_eq!(service_key("cart.shop").unwrap(), "shop/cart");
        assert_eq!(
            service_key("cart.shop.svc.clusterset.local").unwrap(),
            "shop/cart"
        );
        assert_eq!(service_key("shop/cart").unwrap(), "shop/cart");
        assert!(service_key("cart").is_err());
    }
}

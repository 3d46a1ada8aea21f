//! A scenario written back as a file, everything spelled out (speeds, price tables, the RTT
//! matrix, load steps): loading it gives the same scenario.

use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};

use super::raw::*;
use super::{Change, Scenario};
use crate::goal::{Check, GoalSpec, Windows};

fn put(map: &mut Mapping, key: &str, value: impl Serialize) {
    let value = serde_yaml_ng::to_value(value).unwrap_or(Value::Null);
    map.insert(Value::String(key.to_owned()), value);
}

/// The file of `s`.
pub fn to_yaml(s: &Scenario) -> String {
    let name = |site: usize| s.sites[site].name.to_owned();
    let pair = |a: usize, b: usize| vec![name(a), name(b)];
    let mut m = Mapping::new();
    put(&mut m, "name", &s.name);
    put(&mut m, "about", &s.about);
    put(&mut m, "duration", s.duration_s);
    put(&mut m, "steadyFrom", s.steady_from_s);
    if s.steady_until_s.is_finite() {
        put(&mut m, "steadyUntil", s.steady_until_s);
    }
    put(&mut m, "plannedLoad", s.planned_load);
    put(&mut m, "controlPlaneDelay", s.control_plane_delay_s);
    put(&mut m, "sloMs", s.slo_ms);
    let clusters: Vec<RawCluster> = s
        .sites
        .iter()
        .map(|site| RawCluster {
            name: site.name.to_owned(),
            provider: site.provider.to_owned(),
            region: site.region.to_owned(),
            zone: site.zone.to_owned(),
            servers: None,
            speed: None,
            spread: None,
            speeds: site.exports().then(|| site.speeds.clone()),
            prices: Some(price_value(&site.prices)),
        })
        .collect();
    put(&mut m, "clusters", clusters);
    let clients: Vec<RawClient> = s
        .groups
        .iter()
        .map(|g| RawClient {
            cluster: name(g.site),
            demand: g.demand,
            pods: Some(g.pods as i64),
            nodes: Some(g.nodes as i64),
        })
        .collect();
    put(&mut m, "clients", clients);
    put(
        &mut m,
        "rtt",
        RawRtt {
            same_cluster: None,
            same_region: None,
            otherwise: None,
            regions: None,
            matrix: Some(s.rtt_ms.clone()),
        },
    );
    let service = s.service;
    put(
        &mut m,
        "service",
        RawService {
            mean_ms: Some(service.mean_work_ms),
            cv: Some(service.work_cv),
            request_bytes: Some(service.request_bytes),
            response_bytes: Some(service.response_bytes),
            timeout: Some(service.timeout_s),
            queue_per_server: Some(service.queue_per_server as i64),
            allocated_rps_per_server: Some(service.allocated_rps_per_server),
        },
    );
    let dns = s.dns;
    put(
        &mut m,
        "dns",
        RawDns {
            ttl: Some(dns.ttl_s),
            resolver_min_ttl: Some(dns.resolver_min_ttl_s),
            app_cache: Some(dns.app_cache_s),
            connections_per_pod: Some(dns.connections_per_pod as i64),
            connection_age: Some(dns.connection_age_s),
            pods: None,
            nodes: None,
        },
    );
    let mut load = Vec::new();
    let mut events = Vec::new();
    for &(at, change) in &s.schedule {
        let mut e = RawEvent {
            at,
            ..RawEvent::default()
        };
        match change {
            Change::Load(l) => {
                load.push(RawLoadStep { at, load: l });
                continue;
            }
            Change::Down(site) => e.down = Some(name(site)),
            Change::Up(site) => e.up = Some(name(site)),
            Change::Slowdown(site, factor) => {
                e.slowdown = Some(RawSlowdown {
                    cluster: name(site),
                    factor,
                });
            }
            Change::Partition(a, b) => e.partition = Some(pair(a, b)),
            Change::Heal(a, b) => e.heal = Some(pair(a, b)),
            Change::Rtt(a, b, ms) => {
                e.rtt = Some(RawRttChange {
                    between: pair(a, b),
                    ms,
                });
            }
            Change::Prices(site, table) => {
                e.prices = Some(RawPriceChange {
                    cluster: name(site),
                    to: price_value(&table),
                });
            }
            Change::Endpoints(site, count, speed) => {
                e.endpoints = Some(RawEndpoints {
                    cluster: name(site),
                    count: count as i64,
                    speed: Some(speed),
                });
            }
        }
        events.push(e);
    }
    put(&mut m, "load", load);
    if !events.is_empty() {
        put(&mut m, "events", events);
    }
    let windows: Vec<RawWindow> = s
        .windows
        .iter()
        .map(|w| RawWindow {
            label: w.label.clone(),
            from: w.start,
            to: w.end,
            load: w.load,
        })
        .collect();
    put(&mut m, "windows", windows);
    let policies: Vec<&str> = s.policies.iter().map(|k| k.name()).collect();
    put(&mut m, "policies", policies);
    let goals: Vec<RawGoal> = s.goals.iter().map(|g| goal(s, g)).collect();
    if !goals.is_empty() {
        put(&mut m, "goals", goals);
    }
    serde_yaml_ng::to_string(&Value::Mapping(m)).unwrap_or_default()
}

fn goal(s: &Scenario, g: &GoalSpec) -> RawGoal {
    let split = |w: &Windows| match w {
        Windows::Main => (None, None),
        Windows::Labels(labels) => (Some(labels.clone()), None),
        Windows::MinLoad(min) => (None, Some(*min)),
    };
    let mut raw = RawGoal {
        description: g.description.clone(),
        ..RawGoal::default()
    };
    match &g.check {
        Check::P99Ratio {
            policy,
            than,
            at_most,
            windows,
        }
        | Check::ErrorRatio {
            policy,
            than,
            at_most,
            windows,
        }
        | Check::CostRatio {
            policy,
            than,
            at_most,
            windows,
        } => {
            let (windows, min_load) = split(windows);
            let ratio = RawRatio {
                policy: policy.name().to_owned(),
                than: match than.as_slice() {
                    [one] => RawPolicies::One(one.name().to_owned()),
                    several => {
                        RawPolicies::Several(several.iter().map(|k| k.name().to_owned()).collect())
                    }
                },
                at_most: *at_most,
                windows,
                min_load,
            };
            match g.check {
                Check::P99Ratio { .. } => raw.p99_ratio = Some(ratio),
                Check::ErrorRatio { .. } => raw.error_ratio = Some(ratio),
                _ => raw.cost_ratio = Some(ratio),
            }
        }
        Check::P99Slo {
            policy,
            ms,
            windows,
        } => {
            let (windows, min_load) = split(windows);
            raw.p99_slo = Some(RawSlo {
                policy: policy.name().to_owned(),
                ms: *ms,
                windows,
                min_load,
            });
        }
        Check::ShareAfter {
            policy,
            site,
            from,
            settle,
            until,
            below,
            each_second,
        } => {
            raw.share_after = Some(RawShare {
                policy: policy.name().to_owned(),
                cluster: s.sites[*site].name.to_owned(),
                from: *from,
                settle: Some(*settle),
                until: Some(*until),
                below: *below,
                each_second: each_second.then_some(true),
            });
        }
        Check::Swing { policy, at_most } => {
            raw.swing = Some(RawSwing {
                policy: policy.name().to_owned(),
                at_most: *at_most,
            });
        }
        Check::Settle {
            policy,
            at,
            band,
            within,
            at_least,
        } => {
            raw.settle = Some(RawSettle {
                policy: policy.name().to_owned(),
                at: *at,
                band: *band,
                within: *within,
                at_least: *at_least,
            });
        }
    }
    raw
}

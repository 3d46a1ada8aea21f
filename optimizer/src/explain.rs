//! The optimizer's answer: per export, the share and why, in numbers and in one readable line.

use serde::{Deserialize, Serialize};

use crate::input::State;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// One entry per input export, in input order.
    pub exports: Vec<ExportDecision>,
    /// Things that affected the whole solve (an SLO that could not be met, demand over capacity).
    pub notes: Vec<String>,
    /// Expected latency of a request under these shares, ms (by the model).
    pub expected_ms: f64,
    /// Expected transfer price, USD per million requests.
    pub usd_per_million: f64,
    /// What the next solve needs: pass it back as `previous`.
    pub state: State,
}

impl Decision {
    pub fn shares(&self) -> Vec<f64> {
        self.exports.iter().map(|e| e.share).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportDecision {
    pub cluster: String,
    /// The share DNS will answer with.
    pub share: f64,
    /// The share the LP chose, before damping and the dead band.
    pub lp_share: f64,
    /// The share from the previous solve, if there was one.
    pub previous_share: Option<f64>,
    pub terms: Terms,
    /// Constraints and rules that shaped this share.
    pub binds: Vec<Bind>,
    /// One line a person can read.
    pub reason: String,
}

/// The cost terms of one export at its final share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Terms {
    pub rtt_ms: f64,
    pub service_ms: f64,
    /// Queueing delay our share adds at this export, by the model.
    pub queueing_ms: f64,
    /// (rtt + service + queueing) × expected tries.
    pub expected_ms: f64,
    pub price_per_request_usd: f64,
    /// Utilisation of our fair part of its capacity, when capacity and demand are known.
    pub utilization: Option<f64>,
    /// Our fair part of its capacity, requests/s, when known.
    pub capacity_rps: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Bind {
    /// Not ready, disconnected or ejected: share 0.
    Ineligible,
    /// The local export takes everything (preferLocal).
    PreferLocal,
    /// Held at the minimum share.
    Floor,
    /// At its capacity cap.
    Capacity,
    /// Cut by the overload detector.
    Overload,
    /// Hot by requests in flight: no more share than before.
    Hot,
    /// Still ramping up after becoming eligible.
    SlowStart,
    /// A figure was missing or stale and a neutral value stood in.
    Stale,
    /// The change was within the dead band; the previous share stands.
    DeadBand,
    /// Demand exceeds total capacity: shares follow capacity.
    OverCapacity,
}

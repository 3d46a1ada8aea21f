//! The optimizer's answer: per export, the share and why, in numbers and in one readable line.

use serde::{Deserialize, Serialize};

use crate::input::State;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// One entry per input export, in input order.
    pub exports: Vec<ExportDecision>,
    /// Things that affected the whole solve (no eligible export, figures missing everywhere).
    pub notes: Vec<String>,
    /// Mean latency of a request under these shares, ms (by the model, at the reported load).
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
    /// The share from the previous solve, if there was one.
    pub previous_share: Option<f64>,
    pub terms: Terms,
    /// Constraints and rules that shaped this share.
    pub binds: Vec<Bind>,
    /// One line a person can read.
    pub reason: String,
}

/// The figures behind one export's share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Terms {
    pub rtt_ms: f64,
    /// Service time with no queueing, ms.
    pub service_ms: f64,
    /// Mean delay its queue adds now, ms.
    pub queueing_ms: f64,
    /// (rtt + service + queueing) × expected tries.
    pub expected_ms: f64,
    pub price_per_request_usd: f64,
    /// Busy fraction of its servers by everyone's traffic, as its exporter reports.
    pub utilization: Option<f64>,
    /// What one more request there costs under the objective, ms or its price equivalent: the
    /// figure the rule compares.
    pub cost_ms: f64,
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
    /// Over the latency SLO (or Cost's target utilisation): charged for it.
    Slo,
    /// A figure was missing or stale and a neutral value stood in.
    Stale,
    /// No fresh load report from its exporter: the probes' figures stood in.
    Unreported,
}

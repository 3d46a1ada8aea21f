//! The optimizer's answer: per export, the share and why, in numbers and in one readable line.

use serde::{Deserialize, Serialize};

use crate::input::{Objective, State};

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

/// Serialized with its [`ExportDecision::reason`], which is written out only when asked for:
/// the control loop decides every `Optimized` service every tick and reads no reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", into = "WithReason")]
pub struct ExportDecision {
    pub cluster: String,
    /// The share DNS will answer with.
    pub share: f64,
    /// The share from the previous solve, if there was one.
    pub previous_share: Option<f64>,
    pub terms: Terms,
    /// Constraints and rules that shaped this share.
    pub binds: Vec<Bind>,
    /// The objective it was decided under, which names its cost.
    #[serde(default)]
    pub objective: Objective,
    /// Whether it is the deciding cluster's own export.
    #[serde(default)]
    pub local: bool,
}

impl ExportDecision {
    /// One line a person can read: the share, its figures, its cost, how it moved and what
    /// bound it.
    pub fn reason(&self) -> String {
        if self.binds.contains(&Bind::Ineligible) {
            return "not eligible: not ready, disconnected or ejected".to_owned();
        }
        if self.binds.contains(&Bind::PreferLocal) {
            return if self.local {
                "local export and preferLocal is on".to_owned()
            } else {
                "preferLocal: the local export takes every lookup".to_owned()
            };
        }
        let terms = &self.terms;
        let mut parts = vec![format!(
            "{:.0} %: {:.1} ms ({:.1} rtt + {:.1} service + {:.1} queueing{}), ${:.2}/M req",
            self.share * 100.0,
            terms.expected_ms,
            terms.rtt_ms,
            terms.service_ms,
            terms.queueing_ms,
            terms
                .utilization
                .map(|u| format!(" at {:.0} % busy", u * 100.0))
                .unwrap_or_default(),
            terms.price_per_request_usd * 1e6,
        )];
        let what = match self.objective {
            Objective::Performance => "marginal latency",
            Objective::Cost => "price-led cost",
            Objective::Mixed => "blended cost",
        };
        parts.push(format!("{what} {:.1}", terms.cost_ms));
        if let Some(before) = self.previous_share {
            let change = self.share - before;
            if change.abs() >= 0.0005 {
                parts.push(format!(
                    "{} from {:.1} % (traffic moves toward cheaper exports)",
                    if change > 0.0 { "up" } else { "down" },
                    before * 100.0
                ));
            }
        }
        for bind in &self.binds {
            parts.push(
                match bind {
                    Bind::Floor => "held at the floor share",
                    Bind::Slo => "over the latency SLO: charged for it",
                    Bind::Unreported => "no fresh load report: the probes' figures stand in",
                    Bind::Stale => "some figures stale or unknown: neutral values used",
                    Bind::Ineligible | Bind::PreferLocal => continue,
                }
                .to_owned(),
            );
        }
        parts.join("; ")
    }
}

/// An [`ExportDecision`] as written out: its fields and its reason.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WithReason {
    #[serde(flatten)]
    decision: Plain,
    reason: String,
}

/// [`ExportDecision`]'s fields, serialized as they are.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Plain {
    cluster: String,
    share: f64,
    previous_share: Option<f64>,
    terms: Terms,
    binds: Vec<Bind>,
    objective: Objective,
    local: bool,
}

impl From<ExportDecision> for WithReason {
    fn from(d: ExportDecision) -> Self {
        let reason = d.reason();
        WithReason {
            decision: Plain {
                cluster: d.cluster,
                share: d.share,
                previous_share: d.previous_share,
                terms: d.terms,
                binds: d.binds,
                objective: d.objective,
                local: d.local,
            },
            reason,
        }
    }
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

//! What the optimizer is told: per-export figures, the operator's policy, and the state the
//! previous solve left behind. Plain data, deserializable from YAML or JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::belief::ServiceBelief;

/// One figure measured over time: a point estimate, its tail, and how old it is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Measurement {
    /// Smoothed mean, milliseconds.
    pub mean_ms: f64,
    /// 99th percentile, milliseconds, when known.
    #[serde(default)]
    pub p99_ms: Option<f64>,
    /// Seconds since it was last measured; older than `Policy::max_age_s` counts as unknown.
    #[serde(default)]
    pub age_s: f64,
}

/// Aperture-style overload signal: recent latency against its long-term baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LatencyTrend {
    /// Mean over the last ~30 s, milliseconds.
    pub short_ms: f64,
    /// Mean over the last ~30 min, milliseconds.
    pub long_ms: f64,
}

/// What an exporting cluster says of its own export, through the broker: measured inside that
/// cluster, so no wide-area round trip is in it, and under everyone's traffic, not only ours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoadReport {
    /// Busy fraction of the export's servers, 0..1, when the exporter can know it.
    #[serde(default)]
    pub utilization: Option<f64>,
    /// Mean service latency seen inside the exporting cluster (queueing included), ms.
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// Fraction of requests the export refused or failed, 0..1.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Seconds since the exporter measured it; older than `Policy::report_expiry_s` is unknown.
    #[serde(default)]
    pub age_s: f64,
}

/// What this cluster's probes know of one export, as the clusterset state folds it in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probed {
    pub rtt: Option<Measurement>,
    pub latency: Option<Measurement>,
    pub latency_trend: Option<LatencyTrend>,
    pub ejected: bool,
    /// Seconds since it (re)became eligible.
    pub eligible_for_s: f64,
}

/// Everything this cluster knows about one export of the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExportInput {
    pub cluster: String,
    #[serde(default)]
    pub local: bool,
    #[serde(default = "yes")]
    pub eligible: bool,
    /// Network round trip from this cluster to the export.
    #[serde(default)]
    pub rtt: Option<Measurement>,
    /// Service latency at the export, excluding the network.
    #[serde(default)]
    pub latency: Option<Measurement>,
    /// Whether `latency` was measured under this cluster's own traffic (by probes), and so
    /// already contains the queueing that its previous share caused. Declared figures do not.
    #[serde(default)]
    pub latency_under_load: bool,
    /// Transfer price of one request and its response, USD (see [`crate::cost`]).
    #[serde(default)]
    pub price_per_request: Option<f64>,
    /// Requests per second the export can serve in all (ready endpoints × per-endpoint capacity).
    #[serde(default)]
    pub capacity_rps: Option<f64>,
    /// Servers (ready endpoints) behind the export, when known: queueing is modelled as M/M/k.
    #[serde(default)]
    pub servers: Option<u32>,
    /// Requests in flight at the export (Prequal's RIF), when reported.
    #[serde(default)]
    pub in_flight: Option<f64>,
    /// Fraction of recent requests that failed, 0..1.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Seconds since the export became eligible; `None` means long enough ago.
    #[serde(default)]
    pub eligible_for_s: Option<f64>,
    #[serde(default)]
    pub latency_trend: Option<LatencyTrend>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Objective {
    /// Minimise expected latency, queueing included.
    #[default]
    Performance,
    /// Minimise transfer price per request, within capacity and the latency SLO.
    Cost,
    /// Minimise a blend of the two.
    Mixed,
}

/// The operator's choices, with defaults explained at [`Policy::default`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Policy {
    pub objective: Objective,
    /// Mixed: weight of latency against price, 0 (all price) to 1 (all latency).
    pub tradeoff: f64,
    /// Mixed: if set, the worth of one millisecond per million requests, USD; the blend becomes
    /// price + worth × latency and `tradeoff` is ignored.
    pub usd_per_ms_per_million: Option<f64>,
    /// Send everything to the local export while it is eligible (Lighthouse's rule).
    pub prefer_local: bool,
    /// Floor share of every eligible export, so its figures stay fresh and it never starves.
    pub min_share: f64,
    /// Expected latency the Cost and Mixed objectives must stay within, when it can be met.
    pub latency_slo_ms: Option<f64>,
    /// Fraction of the way to the LP solution taken per solve, (0, 1].
    pub damping: f64,
    /// Changes smaller than this (on every export) are ignored.
    pub dead_band: f64,
    /// What moving traffic costs, as a fraction of the objective's scale per unit of share
    /// moved: the LP moves shares only for a larger expected gain.
    pub move_cost: f64,
    /// This cluster's demand for the service, requests per second, when known.
    pub demand_rps: Option<f64>,
    /// Clusters that draw on the same exports; each claims only 1/peers of their capacity.
    pub peers: u32,
    /// Utilisation of its fair capacity that Cost mode will not push an export beyond.
    pub target_utilization: f64,
    /// Figures older than this, in seconds, count as unknown.
    pub max_age_s: f64,
    /// A newly eligible export ramps up over this many seconds.
    pub slow_start_s: f64,
    /// RIF quantile above which an export is hot (Prequal).
    pub hot_quantile: f64,
    /// How many times queueing delay counts against its mean in the objectives, so they aim at
    /// the tail rather than the average.
    pub tail_weight: f64,
}

impl Default for Policy {
    /// Defaults, and why:
    /// - `tradeoff` 0.5: an even blend until the operator says otherwise.
    /// - `min_share` 0.5 %: every export keeps some traffic, so none starves and its
    ///   connections stay warm, while the floors of two far exports together stay at 1 % of
    ///   traffic and so out of the p99. It was 2 %: in the simulator's ramp, four exports' floors
    ///   sent 6 % of lookups to other regions at every load, and Aviator's p99 at 0.5x load was
    ///   146 ms against 108 ms for local-only Lighthouse (now 106 ms). Probes, not this traffic,
    ///   keep the figures fresh.
    /// - `damping` 0.5: halves the gap each tick; with a 1 s tick a move completes in about
    ///   5 s, well under the 30 s latency window, so feedback cannot oscillate. Envoy's EWMA
    ///   uses 0.3 on a similar loop; we move a little faster because DNS caching already delays.
    /// - `dead_band` 1 point: below the noise of weighted-random DNS at typical rates.
    /// - `move_cost` 0.06: a move must gain 12 % of the objective's scale per unit of share moved
    ///   (it is charged where traffic leaves and where it arrives). Service-time estimates carry
    ///   noise of about 5 %, and with 8 clusters deciding alone (the simulator's herd test) free
    ///   moves let each one chase the others' noise: shares swung 27 points a minute. With the
    ///   service time averaged over 200 readings, 0.04 still let them swing up to 10.6 points
    ///   over four seeds, and 0.06 at most 8.6. Near saturation the queueing curve's slopes
    ///   dwarf the charge, so load still spreads in time.
    /// - `peers` 1: alone unless told; set it to the number of clusters that use the service.
    /// - `target_utilization` 0.8: where M/M/k queueing delay starts to climb steeply.
    /// - `max_age_s` 30: three missed probe rounds at Prequal-like probing plus slack.
    /// - `slow_start_s` 30: Envoy's slow-start window default range.
    /// - `hot_quantile` 0.6: the paper's 0.84 herds more; 0.6 is its gentler setting.
    /// - `tail_weight` ln(100) ≈ 4.6: an exponential wait's 99th percentile is ln(100) times its
    ///   mean, so this makes the LP weigh queueing as the p99 feels it. Minimising the mean alone
    ///   happily runs a small export at 85 % utilisation, where its p99 is ruinous.
    fn default() -> Self {
        Self {
            objective: Objective::Performance,
            tradeoff: 0.5,
            usd_per_ms_per_million: None,
            prefer_local: true,
            min_share: 0.005,
            latency_slo_ms: None,
            damping: 0.5,
            dead_band: 0.01,
            move_cost: 0.06,
            demand_rps: None,
            peers: 1,
            target_utilization: 0.8,
            max_age_s: 30.0,
            slow_start_s: 30.0,
            hot_quantile: 0.6,
            tail_weight: std::f64::consts::LN_10 * 2.0,
        }
    }
}

/// What one solve leaves for the next, per export.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExportState {
    pub share: f64,
    /// Aperture's load multiplier, 1 when not overloaded.
    #[serde(default = "one")]
    pub load_multiplier: f64,
    /// The share the export had when its overload began.
    #[serde(default)]
    pub overload_reference: f64,
    /// What the model believes the export's service time is, when it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceBelief>,
}

fn one() -> f64 {
    1.0
}

/// The state of every export after a solve, keyed by cluster.
pub type State = BTreeMap<String, ExportState>;

/// A full problem, as `aviator solve` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Problem {
    #[serde(default)]
    pub policy: Policy,
    pub exports: Vec<ExportInput>,
    #[serde(default)]
    pub previous: State,
}

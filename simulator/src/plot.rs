//! The plots, as SVG: p99 against load per policy (the ramp), and each export's share of the
//! traffic over time (the outage).

use std::path::Path;

use plotters::prelude::*;

use crate::policy::PolicyKind;
use crate::report::ScenarioResult;
use crate::scenario::Change;

#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {message}")]
pub struct PlotError {
    pub path: String,
    pub message: String,
}

fn failed(path: &Path) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError {
        path: path.display().to_string(),
        message,
    }
}

const COLORS: [RGBColor; 12] = [
    RGBColor(228, 26, 28),
    RGBColor(255, 127, 0),
    RGBColor(166, 86, 40),
    RGBColor(152, 78, 163),
    RGBColor(153, 153, 153),
    RGBColor(55, 126, 184),
    RGBColor(0, 0, 0),
    RGBColor(77, 175, 74),
    RGBColor(0, 139, 139),
    RGBColor(231, 41, 138),
    RGBColor(102, 102, 0),
    RGBColor(0, 0, 139),
];

/// Writes the plot belonging to `result`'s scenario, if it has one: p99 against load for a
/// ramp; each export's share over time when something breaks or moves (an outage, a partition,
/// a change of RTT, price or endpoints; a slowdown alone draws none, as before files). Returns
/// whether it did.
pub fn draw(result: &ScenarioResult, path: &Path) -> Result<bool, PlotError> {
    let scenario = &result.scenario;
    if scenario.has_ramp() {
        return p99_against_load(result, path).map(|()| true);
    }
    let outage = scenario.schedule.iter().any(|(_, c)| {
        matches!(
            c,
            Change::Down(_)
                | Change::Partition(..)
                | Change::Rtt(..)
                | Change::Prices(..)
                | Change::Endpoints(..)
        )
    });
    // Aviator's shares, or the first policy's when it was not run.
    let kind = result
        .runs
        .iter()
        .map(|(k, _)| *k)
        .find(|&k| k == PolicyKind::AviatorPerformance)
        .or(result.runs.first().map(|(k, _)| *k));
    match kind {
        Some(kind) if outage => shares_over_time(result, kind, path).map(|()| true),
        _ => Ok(false),
    }
}

fn p99_against_load(result: &ScenarioResult, path: &Path) -> Result<(), PlotError> {
    let fail = failed(path);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let points = |kind: PolicyKind| -> Vec<(f64, f64)> {
        result
            .run(kind)
            .map(|run| {
                run.windows
                    .iter()
                    .filter_map(|w| Some((w.load?, w.p99_ms.clamp(1.0, 1e4))))
                    .collect()
            })
            .unwrap_or_default()
    };
    let loads = result.scenario.windows.iter().filter_map(|w| w.load);
    let (low, high) = loads.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| {
        (lo.min(l), hi.max(l))
    });
    let top = result
        .runs
        .iter()
        .flat_map(|(k, _)| points(*k))
        .map(|(_, y)| y)
        .fold(10.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("p99 latency against load ({})", result.scenario.name),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(low - 0.05..high + 0.05, (5.0f64..top * 1.2).log_scale())
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("load, multiple of allocated capacity")
        .y_desc("p99 ms (log)")
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    for (i, (kind, _)) in result.runs.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let width = if kind.name().starts_with("aviator") {
            3
        } else {
            1
        };
        chart
            .draw_series(LineSeries::new(points(*kind), color.stroke_width(width)))
            .map_err(|e| fail(e.to_string()))?
            .label(kind.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))
}

fn shares_over_time(
    result: &ScenarioResult,
    kind: PolicyKind,
    path: &Path,
) -> Result<(), PlotError> {
    let fail = failed(path);
    let Some(run) = result.run(kind) else {
        return Ok(());
    };
    let root = SVGBackend::new(path, (900, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let shares = run.traffic_share();
    let end = result.scenario.duration_s;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{}: share of requests per export over time ({})",
                kind.name(),
                result.scenario.name
            ),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..end, 0f64..1f64)
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("time, s")
        .y_desc("share of requests")
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let exporters = result.scenario.exporters();
    for (e, &site) in exporters.iter().enumerate() {
        let color = COLORS[(e * 3) % COLORS.len()];
        // A 3 s moving average: one-second shares at this rate are noisy.
        let series: Vec<(f64, f64)> = (0..shares.len().saturating_sub(1))
            .map(|t| {
                let from = t.saturating_sub(2);
                let mean =
                    shares[from..=t].iter().map(|s| s[e]).sum::<f64>() / (t - from + 1) as f64;
                (t as f64, mean)
            })
            .collect();
        chart
            .draw_series(LineSeries::new(series, color.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?
            .label(result.scenario.sites[site].name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))
}

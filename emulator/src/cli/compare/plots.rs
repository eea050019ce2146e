//! The comparison's SVG figures, drawn with plotters (SVG backend only: text
//! stays SVG `<text>`, no font files needed).
//!
//! - `delay_cdf.svg`: the share of the requests sent that were answered
//!   within each delay, one line per combination (all runs merged), log
//!   delay axis: a line tops out at the share answered, so the requests a
//!   policy lets time out show instead of vanishing from its distribution;
//! - `migrations_over_time.svg`: cumulative migrations against emulated time,
//!   one line per combination (mean over runs);
//! - `delay_energy.svg`: each combination's energy (the summary's
//!   `energy_j`, all four parts) against its mean delay, one point each
//!   (mean over runs);
//! - `map.svg`: device traces (thinned), access points, cloudlets and the
//!   migrations of one combination as arrows source → target, in a local
//!   metric projection.

use std::collections::BTreeMap;

use mcc_mobile_client::LatLon;
use plotters::prelude::*;

use super::jobs::{Combination, RunResult};
use super::readback::{TIME_BINS, empty_histogram};
use crate::scenario::Scenario;

/// Size of every figure, in pixels.
const SIZE: (u32, u32) = (960, 600);
/// Points per line of the CDF at most (a new point every 1/`CDF_STEPS` of
/// the requests, plus the ends).
const CDF_STEPS: f64 = 500.0;
/// Points per distinct device trace on the map at most.
const MAP_POINTS_PER_TRACE: usize = 400;
/// Cloudlets are named on the map when there are at most this many.
const MAP_NAMED_CLOUDLETS: usize = 20;

type DrawResult<T> = Result<T, String>;
/// A point of the map, (east, north) in km.
type Km = (f64, f64);

/// The series' legend at `position`, on a white, black-bordered box.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws every figure; returns (file name, SVG text) pairs.
pub fn draw_all(
    scenario: &Scenario,
    combos: &[Combination],
    results: &[Vec<RunResult>],
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let labels: Vec<String> = combos.iter().map(Combination::label).collect();
    let looks = looks(combos);
    let figure = |name: &'static str, svg: DrawResult<String>| {
        svg.map(|svg| (name, svg))
            .map_err(|e| anyhow::anyhow!("cannot draw {name}: {e}"))
    };
    Ok(vec![
        figure("delay_cdf.svg", delay_cdf(&labels, &looks, results))?,
        figure(
            "migrations_over_time.svg",
            migrations_over_time(scenario, &labels, &looks, results),
        )?,
        figure("map.svg", map(scenario, &labels, results))?,
        figure(
            "delay_energy.svg",
            delay_energy(combos, &labels, &looks, results),
        )?,
    ])
}

/// The colours lines take, in order: Okabe and Ito's palette for readers
/// with any colour vision ("Color Universal Design", 2008), its yellow last
/// as it is faint on white.
const LINE_COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(240, 228, 66),  // yellow
];

/// Dash patterns, (dash, gap) in pixels; `None` is a solid line.
const LINE_DASHES: [Option<(u32, u32)>; 4] = [None, Some((12, 6)), Some((3, 4)), Some((18, 4))];

/// How one combination's line looks: its policy gives the colour and its
/// technique the dash, so that lines that lie on each other can still be
/// told apart by the legend, and six lines (3 policies × 2 techniques)
/// read at a glance.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Look {
    colour: RGBColor,
    dash: Option<(u32, u32)>,
}

/// The look of each combination, colours by policy and dashes by
/// technique, each in order of first appearance.
fn looks(combos: &[Combination]) -> Vec<Look> {
    fn index_of<'a>(seen: &mut Vec<&'a str>, name: &'a str) -> usize {
        seen.iter().position(|n| *n == name).unwrap_or_else(|| {
            seen.push(name);
            seen.len() - 1
        })
    }
    let mut policies = Vec::new();
    let mut techniques = Vec::new();
    combos
        .iter()
        .map(|combo| Look {
            colour: LINE_COLOURS[index_of(&mut policies, &combo.policy) % LINE_COLOURS.len()],
            dash: LINE_DASHES
                [index_of(&mut techniques, combo.technique.name()) % LINE_DASHES.len()],
        })
        .collect()
}

/// The staircase (delay ms, fraction of the requests sent answered within
/// that delay) of the runs' merged delays: steps smaller than
/// 1/[`CDF_STEPS`] of the requests are merged into the next, so a line has
/// about a thousand points at most. The fraction is of the requests the
/// runs' summaries count as sent (of the answered ones when a summary
/// counts fewer), so a line ends at the share answered.
pub fn cdf_points(runs: &[RunResult]) -> Vec<(f64, f64)> {
    let mut merged = empty_histogram();
    for run in runs {
        // Same bounds and resolution: adding cannot fail.
        let _ = merged.add(&run.figures.delay_us);
    }
    let answered = merged.len();
    let sent: u64 = runs.iter().map(|run| run.summary.requests).sum();
    let total = sent.max(answered);
    let mut points = Vec::new();
    if answered == 0 {
        return points;
    }
    let mut seen = 0u64;
    let mut drawn = 0.0;
    let mut iter = merged.iter_recorded().peekable();
    while let Some(step) = iter.next() {
        seen += step.count_since_last_iteration();
        let fraction = seen as f64 / total as f64;
        if fraction - drawn >= 1.0 / CDF_STEPS || iter.peek().is_none() {
            let ms = merged.highest_equivalent(step.value_iterated_to()) as f64 / 1e3;
            points.push((ms, drawn));
            points.push((ms, fraction));
            drawn = fraction;
        }
    }
    points
}

fn delay_cdf(labels: &[String], looks: &[Look], results: &[Vec<RunResult>]) -> DrawResult<String> {
    let lines: Vec<Vec<(f64, f64)>> = results.iter().map(|r| cdf_points(r)).collect();
    let all = lines.iter().flatten().map(|p| p.0.max(1e-3));
    let lo = all.clone().fold(f64::INFINITY, f64::min);
    let hi = all.fold(0.0, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        (lo * 0.95, (hi * 1.05).max(lo * 1.1))
    } else {
        (1.0, 10.0)
    };
    // A log axis helps only when delays span more than a decade.
    let log = hi / lo > 10.0;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let builder = || {
            let mut builder = ChartBuilder::on(&root);
            builder
                .caption(
                    "Requests answered within a delay (share of all sent)",
                    ("sans-serif", 22),
                )
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(55);
            builder
        };
        // On a log axis the lines are drawn over log10(delay) on a linear
        // axis whose labels say the delay: plotters' own log axis labels only
        // round powers of ten, too few when delays span one or two decades.
        let (range, lines, scale) = if log {
            let lines = lines
                .into_iter()
                .map(|l| {
                    l.into_iter()
                        .map(|(x, y)| (x.max(1e-3).log10(), y))
                        .collect()
                })
                .collect();
            (lo.log10()..hi.log10(), lines, AxisScale::Log10)
        } else {
            (lo..hi, lines, AxisScale::Linear)
        };
        let chart = builder()
            .build_cartesian_2d(range, 0f64..1.0)
            .map_err(err)?;
        draw_lines(chart, scale, labels, looks, lines)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// How the delay axis maps delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AxisScale {
    /// x is the delay in ms.
    Linear,
    /// x is log10 of the delay in ms.
    Log10,
}

/// A delay for an axis label: one decimal (two below 1 ms), without a
/// trailing `.0`.
fn format_ms(v: f64) -> String {
    let text = if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    match text.strip_suffix(".0") {
        Some(whole) => whole.to_string(),
        None => text,
    }
}

/// Draws one line per combination on `chart`, with a mesh and a legend.
fn draw_lines<'a>(
    mut chart: ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    scale: AxisScale,
    labels: &[String],
    looks: &[Look],
    lines: Vec<Vec<(f64, f64)>>,
) -> DrawResult<()> {
    let (x_desc, label): (&str, &dyn Fn(&f64) -> String) = match scale {
        AxisScale::Linear => ("delay (ms)", &|v: &f64| format_ms(*v)),
        AxisScale::Log10 => ("delay (ms, log scale)", &|v: &f64| {
            let ms = 10f64.powf(*v);
            // Two significant digits.
            let digits = (1 - ms.log10().floor() as i32).max(0) as usize;
            format!("{ms:.digits$}")
        }),
    };
    chart
        .configure_mesh()
        .x_labels(12)
        .x_label_formatter(label)
        .x_desc(x_desc)
        .y_desc("fraction of the requests sent")
        .draw()
        .map_err(err)?;
    draw_labelled_lines(
        &mut chart,
        labels,
        looks,
        lines,
        SeriesLabelPosition::LowerRight,
    )
}

/// One coloured line per combination, and a legend at `legend`.
fn draw_labelled_lines<'a>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    labels: &[String],
    looks: &[Look],
    lines: Vec<Vec<(f64, f64)>>,
    legend: SeriesLabelPosition,
) -> DrawResult<()> {
    for ((label, look), points) in labels.iter().zip(looks).zip(lines) {
        let style = look.colour.stroke_width(2);
        let drawn = match look.dash {
            None => chart.draw_series(LineSeries::new(points, style)),
            Some((dash, gap)) => chart.draw_series(DashedLineSeries::new(points, dash, gap, style)),
        };
        let dash = look.dash;
        drawn.map_err(err)?.label(label.as_str()).legend(
            move |(x, y)| -> DynElement<'static, _, _> {
                let points = vec![(x, y), (x + 24, y)];
                match dash {
                    None => PathElement::new(points, style).into_dyn(),
                    Some((dash, gap)) => plotters::element::DashedPathElement::new(
                        points,
                        dash.min(6),
                        gap.min(3),
                        style,
                    )
                    .into_dyn(),
                }
            },
        );
    }
    draw_legend(chart, legend)
}

fn migrations_over_time(
    scenario: &Scenario,
    labels: &[String],
    looks: &[Look],
    results: &[Vec<RunResult>],
) -> DrawResult<String> {
    let duration_s = scenario.settings.duration_ns as f64 / 1e9;
    let bin_s = duration_s / TIME_BINS as f64;
    let lines: Vec<Vec<(f64, f64)>> = results
        .iter()
        .map(|runs| {
            let n = runs.len().max(1) as f64;
            let mut cumulative = 0.0;
            let mut points = vec![(0.0, 0.0)];
            for bin in 0..TIME_BINS {
                let sum: u64 = runs.iter().map(|r| r.figures.migrations_per_bin[bin]).sum();
                cumulative += sum as f64 / n;
                points.push(((bin + 1) as f64 * bin_s, cumulative));
            }
            points
        })
        .collect();
    let top = lines
        .iter()
        .filter_map(|l| l.last().map(|p| p.1))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Migrations over time (cumulative)", ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(0f64..duration_s.max(1e-9), 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("emulated time (s)")
            .y_desc("migrations started")
            .draw()
            .map_err(err)?;
        draw_labelled_lines(
            &mut chart,
            labels,
            looks,
            lines,
            SeriesLabelPosition::UpperLeft,
        )?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Marker shapes, by technique (in order of first appearance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
}

const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Triangle,
    Marker::Square,
    Marker::Cross,
];

/// Each combination's (energy in MJ, mean delay in ms), means over its
/// runs; `None` for a combination whose runs carry no energy.
pub fn delay_energy_points(results: &[Vec<RunResult>]) -> Vec<Option<(f64, f64)>> {
    results
        .iter()
        .map(|runs| {
            let energies: Option<Vec<f64>> = runs
                .iter()
                .map(|r| r.summary.energy_j.map(|e| e.total() / 1e6))
                .collect();
            let energies = energies.filter(|e| !e.is_empty())?;
            let n = energies.len() as f64;
            let delay = runs.iter().map(|r| r.summary.delay_ms.mean).sum::<f64>() / n;
            Some((energies.iter().sum::<f64>() / n, delay))
        })
        .collect()
}

/// `lo..hi` widened by 5 % each side (by 1 when it is a single value).
fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    if !(lo.is_finite() && hi.is_finite()) {
        return 0.0..1.0;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.05
    };
    (lo - pad)..(hi + pad)
}

/// One point per combination: its energy against its mean delay, colour by
/// policy and marker by technique (the trade-off a migration makes: energy
/// now for delay saved).
fn delay_energy(
    combos: &[Combination],
    labels: &[String],
    looks: &[Look],
    results: &[Vec<RunResult>],
) -> DrawResult<String> {
    let points = delay_energy_points(results);
    let known = || points.iter().flatten();
    let xs = padded(
        known().map(|p| p.0).fold(f64::INFINITY, f64::min),
        known().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max),
    );
    let ys = padded(
        known().map(|p| p.1).fold(f64::INFINITY, f64::min),
        known().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max),
    );
    let mut techniques: Vec<&str> = Vec::new();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Mean delay against energy", ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(xs, ys)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("energy of the run (MJ: cloudlets, network, devices, migrations)")
            .y_desc("mean delay of answered requests (ms)")
            .draw()
            .map_err(err)?;
        for (((combo, label), look), point) in combos.iter().zip(labels).zip(looks).zip(&points) {
            let Some(point) = *point else { continue };
            let name = combo.technique.name();
            let index = techniques
                .iter()
                .position(|t| *t == name)
                .unwrap_or_else(|| {
                    techniques.push(name);
                    techniques.len() - 1
                });
            let marker = MARKERS[index % MARKERS.len()];
            let style = look.colour.filled();
            let cross = look.colour.stroke_width(2);
            let at = std::iter::once(point);
            match marker {
                Marker::Circle => chart.draw_series(at.map(|p| Circle::new(p, 6, style))),
                Marker::Triangle => chart.draw_series(at.map(|p| TriangleMarker::new(p, 8, style))),
                Marker::Square => chart.draw_series(
                    at.map(|p| EmptyElement::at(p) + Rectangle::new([(-5, -5), (5, 5)], style)),
                ),
                Marker::Cross => chart.draw_series(at.map(|p| Cross::new(p, 6, cross))),
            }
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| -> DynElement<'static, _, _> {
                match marker {
                    Marker::Circle => Circle::new((x + 10, y), 5, style).into_dyn(),
                    Marker::Triangle => TriangleMarker::new((x + 10, y), 7, style).into_dyn(),
                    Marker::Square => {
                        Rectangle::new([(x + 5, y - 5), (x + 15, y + 5)], style).into_dyn()
                    }
                    Marker::Cross => {
                        Cross::new((x + 10, y), 5, look.colour.stroke_width(2)).into_dyn()
                    }
                }
            });
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A local metric projection (equirectangular around a centre), in km.
struct Projection {
    centre: LatLon,
    km_per_deg_lon: f64,
}

impl Projection {
    const KM_PER_DEG_LAT: f64 = 111.32;

    fn around(points: &[LatLon]) -> Self {
        let n = points.len().max(1) as f64;
        let lat = points.iter().map(|p| p.lat_deg).sum::<f64>() / n;
        let lon = points.iter().map(|p| p.lon_deg).sum::<f64>() / n;
        Self {
            centre: LatLon {
                lat_deg: lat,
                lon_deg: lon,
            },
            km_per_deg_lon: Self::KM_PER_DEG_LAT * lat.to_radians().cos(),
        }
    }

    fn km(&self, p: LatLon) -> (f64, f64) {
        (
            (p.lon_deg - self.centre.lon_deg) * self.km_per_deg_lon,
            (p.lat_deg - self.centre.lat_deg) * Self::KM_PER_DEG_LAT,
        )
    }
}

/// The combination the map shows: the one with the most migrations in its
/// first run (the first in command-line order among equals).
pub fn map_choice(results: &[Vec<RunResult>]) -> usize {
    let mut best = 0;
    let mut most = 0;
    for (i, runs) in results.iter().enumerate() {
        let migrations = runs.first().map_or(0, |r| r.summary.migrations);
        if migrations > most {
            best = i;
            most = migrations;
        }
    }
    best
}

fn map(scenario: &Scenario, labels: &[String], results: &[Vec<RunResult>]) -> DrawResult<String> {
    let world = &scenario.world;
    // Devices of one group share a trace (shifted in time): draw each once.
    let mut traces = BTreeMap::new();
    for device in &world.devices {
        let base = device.name.split('#').next().unwrap_or(&device.name);
        traces.entry(base.to_owned()).or_insert(&device.trace);
    }
    let trace_lines: Vec<Vec<LatLon>> = traces
        .values()
        .map(|trace| {
            let points = trace.points();
            let stride = points.len().div_ceil(MAP_POINTS_PER_TRACE).max(1);
            let mut line: Vec<LatLon> = points.iter().step_by(stride).map(|p| p.pos).collect();
            if let Some(last) = points.last()
                && line.last() != Some(&last.pos)
            {
                line.push(last.pos);
            }
            line
        })
        .collect();
    let aps: Vec<LatLon> = world.access_points.iter().map(|a| a.position).collect();
    let cloudlets: Vec<Option<LatLon>> = world.cloudlets.iter().map(|c| c.position).collect();
    let mut everything: Vec<LatLon> = aps.clone();
    everything.extend(cloudlets.iter().flatten());
    everything.extend(trace_lines.iter().flatten());
    let projection = Projection::around(&everything);
    let xy: Vec<(f64, f64)> = everything.iter().map(|&p| projection.km(p)).collect();
    let (mut x0, mut x1, mut y0, mut y1) = xy.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
    }
    // Same scale on both axes: widen the narrower span to the plot's aspect.
    let (plot_w, plot_h) = (f64::from(SIZE.0) - 100.0, f64::from(SIZE.1) - 110.0);
    let pad = 0.05 * (x1 - x0).max(y1 - y0).max(0.2);
    (x0, x1, y0, y1) = (x0 - pad, x1 + pad, y0 - pad, y1 + pad);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let km_per_px = ((x1 - x0) / plot_w).max((y1 - y0) / plot_h);
    let (hw, hh) = (km_per_px * plot_w / 2.0, km_per_px * plot_h / 2.0);

    let chosen = map_choice(results);
    let pairs = results
        .get(chosen)
        .and_then(|runs| runs.first())
        .map(|r| r.figures.migration_pairs.clone())
        .unwrap_or_default();
    let migrations: u64 = pairs.values().sum();
    let label = labels.get(chosen).cloned().unwrap_or_default();

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{}: traces, access points, cloudlets, migrations of {label}",
                    scenario.name
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(cx - hw..cx + hw, cy - hh..cy + hh)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("east (km)")
            .y_desc("north (km)")
            .draw()
            .map_err(err)?;
        let grey = RGBColor(150, 150, 150);
        for (i, line) in trace_lines.iter().enumerate() {
            let series = chart
                .draw_series(LineSeries::new(
                    line.iter().map(|&p| projection.km(p)),
                    grey.stroke_width(1),
                ))
                .map_err(err)?;
            if i == 0 {
                series
                    .label("device traces")
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
            }
        }
        let blue = RGBColor(40, 90, 200);
        chart
            .draw_series(
                aps.iter()
                    .map(|&p| Circle::new(projection.km(p), 3, blue.filled())),
            )
            .map_err(err)?
            .label("access points")
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, blue.filled()));
        let red = RGBColor(200, 30, 30);
        let arrows: Vec<(Km, Km, u64)> = pairs
            .iter()
            .filter_map(|(&(from, to), &count)| {
                let a = cloudlets.get(from as usize).copied().flatten()?;
                let b = cloudlets.get(to as usize).copied().flatten()?;
                Some((projection.km(a), projection.km(b), count))
            })
            .collect();
        let orange = RGBColor(230, 120, 0);
        let mut first = true;
        for ((ax, ay), (bx, by), count) in arrows {
            let width = 1 + (count as f64).log2().max(0.0).round() as u32;
            let style = orange.mix(0.8).stroke_width(width);
            let (dx, dy) = (bx - ax, by - ay);
            let length = (dx * dx + dy * dy).sqrt().max(1e-12);
            // A → B and B → A side by side: each shifted 3 px to its right.
            let shift = 3.0 * km_per_px;
            let (ox, oy) = (dy / length * shift, -dx / length * shift);
            let (ax, ay, bx, by) = (ax + ox, ay + oy, bx + ox, by + oy);
            let head = (0.3 * length).min(12.0 * km_per_px);
            let angle = dy.atan2(dx);
            let wing = |turn: f64| {
                (
                    bx - head * (angle + turn).cos(),
                    by - head * (angle + turn).sin(),
                )
            };
            let series = chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(ax, ay), (bx, by), wing(0.45), (bx, by), wing(-0.45)],
                    style,
                )))
                .map_err(err)?;
            if first {
                series
                    .label(format!("migrations of {label} ({migrations})"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(2))
                    });
                first = false;
            }
        }
        chart
            .draw_series(
                cloudlets
                    .iter()
                    .flatten()
                    .map(|&p| TriangleMarker::new(projection.km(p), 7, red.filled())),
            )
            .map_err(err)?
            .label("cloudlets")
            .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, red.filled()));
        if world.cloudlets.len() <= MAP_NAMED_CLOUDLETS {
            chart
                .draw_series(world.cloudlets.iter().filter_map(|c| {
                    let (x, y) = projection.km(c.position?);
                    Some(Text::new(
                        c.name.clone(),
                        (x + 6.0 * km_per_px, y + 6.0 * km_per_px),
                        ("sans-serif", 12).into_font().color(&red),
                    ))
                }))
                .map_err(err)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::compare::readback::RunFigures;
    use crate::output::{DelayStats, Summary};

    #[test]
    fn colours_follow_the_policy_and_dashes_the_technique() {
        use mcc_cloudlet::migration::Technique;
        let mut combos = Vec::new();
        for policy in ["ga", "nearest", "never"] {
            for technique in [Technique::Soft, Technique::PreCopy] {
                combos.push(Combination {
                    policy: policy.into(),
                    technique,
                });
            }
        }
        let looks = looks(&combos);
        for (a, la) in combos.iter().zip(&looks) {
            for (b, lb) in combos.iter().zip(&looks) {
                assert_eq!(a.policy == b.policy, la.colour == lb.colour, "{a:?} {b:?}");
                assert_eq!(
                    a.technique == b.technique,
                    la.dash == lb.dash,
                    "{a:?} {b:?}"
                );
            }
        }
        assert_eq!(looks[0].dash, None, "the first technique is solid");
    }

    fn run_with_delays_us(delays: impl IntoIterator<Item = u64>) -> RunResult {
        let mut delay_us = empty_histogram();
        for d in delays {
            delay_us.record(d).unwrap();
        }
        RunResult {
            summary: Summary {
                devices: 1,
                cloudlets: 1,
                sim_duration_s: 1.0,
                requests: 0,
                failed: 0,
                delay_ms: DelayStats::default(),
                migrations: 0,
                downtime_ms_total: 0.0,
                bytes_migrated: 0,
                sla_violations: 0,
                wall_s: 0.0,
                sim_requests_per_s: 0.0,
                ..Summary::default()
            },
            seed: 1,
            figures: RunFigures {
                delay_us,
                migrations_per_bin: vec![0; TIME_BINS],
                migration_pairs: BTreeMap::new(),
            },
        }
    }

    #[test]
    fn the_cdf_is_a_staircase_from_zero_to_one_over_the_merged_runs() {
        // 1,000 delays from 1 ms to 100 ms in one run, 1,000 at 200 ms in another.
        let a = run_with_delays_us((1..=1_000u64).map(|i| i * 100));
        let b = run_with_delays_us(std::iter::repeat_n(200_000, 1_000));
        let points = cdf_points(&[a, b]);
        assert!(
            points.len() <= 2 * CDF_STEPS as usize + 2,
            "{}",
            points.len()
        );
        assert_eq!(points.first().unwrap().1, 0.0);
        assert_eq!(points.last().unwrap().1, 1.0);
        assert!(
            points
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
        );
        // Half the requests are at most 100 ms, the rest at 200 ms (1 % delay
        // resolution; steps under 1/CDF_STEPS merge into the next one).
        let at = |ms: f64| {
            points
                .iter()
                .filter(|p| p.0 <= ms)
                .map(|p| p.1)
                .fold(0.0, f64::max)
        };
        assert!((at(101.0) - 0.5).abs() <= 1.0 / CDF_STEPS, "{}", at(101.0));
        assert!((at(50.5) - 0.25).abs() < 0.01, "{}", at(50.5));
        assert!(at(199.0) < 0.5 + 1e-9 && at(203.0) == 1.0);
        assert!(cdf_points(&[run_with_delays_us([])]).is_empty());
    }

    #[test]
    fn a_cdf_line_ends_at_the_share_of_the_requests_sent_that_were_answered() {
        // 1,000 answered of 4,000 sent, and 1,000 of 1,000 in a second run.
        let mut a = run_with_delays_us((1..=1_000u64).map(|i| i * 100));
        a.summary.requests = 4_000;
        let points = cdf_points(std::slice::from_ref(&a));
        assert_eq!(points.last().unwrap().1, 0.25);
        let mut b = run_with_delays_us(std::iter::repeat_n(200_000, 1_000));
        b.summary.requests = 1_000;
        let points = cdf_points(&[a, b]);
        assert_eq!(points.last().unwrap().1, 0.4);
    }

    #[test]
    fn the_map_shows_the_combination_with_most_migrations_first_among_equals() {
        let with = |n: u64| {
            let mut r = run_with_delays_us([]);
            r.summary.migrations = n;
            vec![r]
        };
        assert_eq!(map_choice(&[with(0), with(5), with(7), with(7)]), 2);
        assert_eq!(map_choice(&[with(0), with(0)]), 0);
    }
}

//! `mcc-emu inspect trace FILE... [--json] [--topology FILE [--sites CSV]
//! [--site-role R] [--relocate-to ...]] [--step-s S] [--hysteresis-m M]
//! [--assumed-speed-mps V]`: read trace files, and print per file the figures
//! of its traces (added up when it holds several, see [`super::trace_report`]),
//! what cleaning did and, with a topology, the handovers between its access
//! points. Readable tables, or a JSON array with one object per file.
//!
//! Every file is read and every figure computed before anything is printed:
//! a file that cannot be used stops the command with one error line and an
//! empty standard output.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use mcc_mobile_client::attach::DEFAULT_HYSTERESIS_M;
use mcc_mobile_client::trace::CleaningReport;
use mcc_mobile_client::trace::clean::{CleanOptions, DEFAULT_ASSUMED_SPEED_MPS};
use mcc_mobile_client::trace::fleet;
use mcc_mobile_client::{ReadOptions, read_trace_file};

use super::trace_report::{Attachment, FileReport, HandoverRecord};
use super::world::{SiteOptions, load_with_sites};

/// Default sampling step for handovers, in seconds.
pub const DEFAULT_STEP_S: f64 = 1.0;

const AFTER_HELP: &str = "\
A file holding several traces (GPX tracks or routes, CSV devices) is reported
as one: points, duration_s and length_km are summed over its traces,
mean_speed_mps is the summed length over the summed duration, max_speed_mps
the highest of the traces', bbox ([min_lon, min_lat, max_lon, max_lat]) the
union of their boxes, and cleaning the sum of their cleaning reports; traces
says how many there are and per_trace lists each one's own figures.
longest_gap_s is the longest time between two consecutive fixes of any trace
(a vehicle that stopped reporting); with --max-gap-s S, gaps_over_max counts
the gaps longer than S seconds.

With --topology, a device follows each trace from its first to its last point,
sampled every --step-s seconds, and attaches to the nearest access point of
the topology in range (each with its own coverage radius), switching only to
one closer by more than --hysteresis-m metres; handovers lists every change
{trace, t_s, from, to} with access point ids (null = detached). The device
starts detached, so its first attachment is a handover from null.";

/// Arguments of `mcc-emu inspect trace`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct TraceArgs {
    /// Trace files: .gpx (GPX 1.0/1.1), .plt (GeoLife), .csv/.tsv/.txt
    /// (MovingPandas GeoLife export, device_id,time,lat,lon columns, the
    /// CapMetro archive, or the headerless Dublin Bus SIRI feed).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print a JSON array, one object per file.
    #[arg(long)]
    pub json: bool,
    /// Topology (.toml, .graphml, or a .csv site list) whose access points
    /// the traces attach to; each file then also reports its handovers.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// A site list to hang off the topology.
    #[command(flatten)]
    pub sites: SiteOptions,
    /// Sampling step along a trace for handovers, in seconds.
    #[arg(
        long,
        value_name = "S",
        default_value_t = DEFAULT_STEP_S,
        requires = "topology",
        allow_negative_numbers = true
    )]
    pub step_s: f64,
    /// Hysteresis margin for handovers, in metres.
    #[arg(
        long,
        value_name = "M",
        default_value_t = DEFAULT_HYSTERESIS_M,
        requires = "topology",
        allow_negative_numbers = true
    )]
    pub hysteresis_m: f64,
    /// Speed given to points without a time, in m/s.
    #[arg(
        long,
        value_name = "V",
        default_value_t = DEFAULT_ASSUMED_SPEED_MPS,
        allow_negative_numbers = true
    )]
    pub assumed_speed_mps: f64,
    /// Count the gaps longer than this between consecutive fixes of a
    /// trace (a vehicle that stopped reporting), in seconds.
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub max_gap_s: Option<f64>,
}

/// Checks the numeric options and the ones that only make sense with
/// `--topology`, before any file is read.
fn check_options(args: &TraceArgs) -> anyhow::Result<()> {
    if args.topology.is_none() && args.sites.any() {
        bail!("--sites, --site-role and --relocate-to need --topology FILE");
    }
    let (s, m, v) = (args.step_s, args.hysteresis_m, args.assumed_speed_mps);
    if !(s.is_finite() && s > 0.0) {
        bail!("--step-s {s}: must be a number of seconds > 0");
    }
    if !(m.is_finite() && m >= 0.0) {
        bail!("--hysteresis-m {m}: must be a number of metres >= 0");
    }
    if !(v.is_finite() && v > 0.0) {
        bail!("--assumed-speed-mps {v}: must be a speed in m/s > 0");
    }
    if let Some(g) = args.max_gap_s
        && !(g.is_finite() && g > 0.0)
    {
        bail!("--max-gap-s {g}: must be a number of seconds > 0");
    }
    Ok(())
}

/// The reports on every file of `args`, or the first problem.
fn reports(args: &TraceArgs) -> anyhow::Result<(Vec<FileReport>, Vec<String>)> {
    check_options(args)?;
    let mut warnings = Vec::new();
    let attachment = match &args.topology {
        None => None,
        Some(file) => {
            let loaded = load_with_sites(file, &args.sites)?;
            warnings.extend(loaded.warnings);
            let (attachment, unlocated) = Attachment::new(
                &file.display().to_string(),
                &loaded.topology,
                args.step_s,
                args.hysteresis_m,
            )?;
            if !unlocated.is_empty() {
                warnings.push(format!(
                    "{}: access point(s) without coordinates left out of attachment: {}",
                    file.display(),
                    unlocated.join(", ")
                ));
            }
            Some(attachment)
        }
    };
    let options = ReadOptions {
        clean: CleanOptions {
            assumed_speed_mps: args.assumed_speed_mps,
        },
        csv: None,
    };
    let mut reports = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let traces = read_trace_file(file, &options)?;
        let name = file.display().to_string();
        let mut report = FileReport::new(&name, &traces)?;
        report.gaps_over_max = args
            .max_gap_s
            .map(|g| traces.iter().map(|t| fleet::gaps_over(t, g)).sum());
        if let Some(attachment) = &attachment {
            let mut handovers = Vec::new();
            for trace in &traces {
                handovers.extend(attachment.handovers(trace)?);
            }
            report.handovers = Some(handovers);
        }
        reports.push(report);
    }
    Ok((reports, warnings))
}

/// `h:mm:ss` (rounded to the second).
fn hms(seconds: f64) -> String {
    let total = seconds.round().max(0.0) as u64;
    format!("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
}

/// Right-aligned columns after a left-aligned first one, two spaces apart.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from("  ");
        for (c, cell) in row.iter().enumerate() {
            let w = widths.get(c).copied().unwrap_or(0);
            if c == 0 {
                let _ = write!(line, "{cell:<w$}");
            } else {
                let _ = write!(line, "  {cell:>w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A table row of figures.
fn figures_row(
    label: String,
    points: usize,
    duration_s: f64,
    length_km: f64,
    mean: f64,
    max: f64,
) -> Vec<String> {
    vec![
        label,
        points.to_string(),
        hms(duration_s),
        format!("{length_km:.3}"),
        format!("{mean:.2}"),
        format!("{max:.2}"),
    ]
}

/// The label of trace `name` in the tables of `file`: its `#id`, or its
/// whole name when the file is the trace.
fn trace_label(file: &str, name: &str) -> String {
    match name.strip_prefix(file) {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => name.to_string(),
    }
}

fn cleaning_line(c: &CleaningReport) -> String {
    let notes: Vec<String> = [
        (c.out_of_order, "out of order (sorted)"),
        (c.duplicate_times_dropped, "repeated time(s) dropped"),
        (c.empty_segments_skipped, "empty segment(s) skipped"),
        (c.empty_traces_skipped, "track(s) without a point skipped"),
        (c.times_interpolated, "time(s) interpolated"),
        (c.times_from_assumed_speed, "time(s) from the assumed speed"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let notes = if notes.is_empty() {
        "nothing to fix".to_string()
    } else {
        notes.join(", ")
    };
    format!("  cleaning: {} point(s) read; {notes}\n", c.points_read)
}

fn handover_lines(file: &str, handovers: &[HandoverRecord]) -> String {
    let mut out = format!("  handovers: {}\n", handovers.len());
    let mut rows = vec![vec![
        "trace".to_string(),
        "t".to_string(),
        "t_s".to_string(),
        "from".to_string(),
        "to".to_string(),
    ]];
    let name = |ap: &Option<String>| ap.clone().unwrap_or_else(|| "-".to_string());
    for h in handovers {
        rows.push(vec![
            trace_label(file, &h.trace),
            hms(h.t_s),
            format!("{:.1}", h.t_s),
            name(&h.from),
            name(&h.to),
        ]);
    }
    if !handovers.is_empty() {
        for line in table(&rows).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// The readable report on one file.
fn readable(r: &FileReport) -> String {
    let mut out = format!("{}: {} trace(s)\n", r.file, r.traces);
    let mut rows = vec![vec![
        "trace".to_string(),
        "points".to_string(),
        "duration".to_string(),
        "length_km".to_string(),
        "mean_mps".to_string(),
        "max_mps".to_string(),
    ]];
    let singles = r
        .per_trace
        .iter()
        .flatten()
        .map(|s| {
            figures_row(
                trace_label(&r.file, &s.file),
                s.points,
                s.duration_s,
                s.length_km,
                s.mean_speed_mps,
                s.max_speed_mps,
            )
        })
        .collect::<Vec<_>>();
    let total_label = if singles.is_empty() { "all" } else { "total" };
    rows.extend(singles);
    rows.push(figures_row(
        total_label.to_string(),
        r.points,
        r.duration_s,
        r.length_km,
        r.mean_speed_mps,
        r.max_speed_mps,
    ));
    out.push_str(&table(&rows));
    let [w, s, e, n] = r.bbox;
    let _ = writeln!(out, "  bbox: lon {w:.6} .. {e:.6}, lat {s:.6} .. {n:.6}");
    out.push_str(&cleaning_line(&r.cleaning));
    let _ = write!(out, "  longest gap between fixes: {}", hms(r.longest_gap_s));
    match r.gaps_over_max {
        Some(n) => {
            let _ = writeln!(out, "; {n} gap(s) over --max-gap-s");
        }
        None => out.push('\n'),
    }
    if let Some(h) = &r.handovers {
        out.push_str(&handover_lines(&r.file, h));
    }
    out
}

/// Runs `mcc-emu inspect trace`.
pub fn run(args: TraceArgs) -> anyhow::Result<()> {
    let (reports, warnings) = reports(&args)?;
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&reports)?;
        json.push('\n');
        json
    } else {
        let mut text: String = reports.iter().map(readable).collect();
        if !warnings.is_empty() {
            let _ = writeln!(text, "warnings ({}):", warnings.len());
            for w in &warnings {
                let _ = writeln!(text, "  - {w}");
            }
        }
        text
    };
    if args.json {
        for w in &warnings {
            eprintln!("mcc-emu: warning: {w}");
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to standard output")
}

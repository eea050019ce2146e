//! What the plots need from one run, read back from its CSV files after it
//! finished: streaming, into fixed-size figures, so memory stays flat
//! whatever the number of requests.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use hdrhistogram::Histogram;

use crate::scenario::Scenario;

/// Time bins of the migrations-over-time figure.
pub const TIME_BINS: usize = 240;
/// The longest delay the CDF tells apart: one day, in microseconds.
const MAX_TRACKED_US: u64 = 86_400_000_000;

/// One run's figures.
#[derive(Debug, Clone)]
pub struct RunFigures {
    /// Delays of the answered requests in microseconds (two significant
    /// digits: 1 % resolution, a few tens of KiB whatever the count).
    pub delay_us: Histogram<u64>,
    /// Migrations started in each of [`TIME_BINS`] equal slices of the run.
    pub migrations_per_bin: Vec<u64>,
    /// Migrations per (source, target) cloudlet index.
    pub migration_pairs: BTreeMap<(u32, u32), u64>,
}

/// An empty delay histogram of the resolution [`RunFigures`] uses.
pub fn empty_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKED_US, 2).expect("constant bounds are valid")
}

/// Reads `requests.csv` and `migrations.csv` in `dir`, written by a run of
/// `scenario`.
pub fn read_run(dir: &Path, scenario: &Scenario) -> anyhow::Result<RunFigures> {
    let mut delay_us = empty_histogram();
    let requests = dir.join("requests.csv");
    each_row(&requests, &["total_ms", "outcome"], |line, fields| {
        if fields[1] == b"ok" {
            let ms = number(fields[0])
                .with_context(|| format!("{}:{line}: column total_ms", requests.display()))?;
            delay_us.saturating_record((ms * 1e3).round().max(1.0) as u64);
        }
        Ok(())
    })?;

    let duration_s = scenario.settings.duration_ns as f64 / 1e9;
    let mut migrations_per_bin = vec![0u64; TIME_BINS];
    let mut migration_pairs = BTreeMap::new();
    let hosts: std::collections::HashMap<&[u8], u32> = scenario
        .world
        .cloudlets
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_bytes(), i as u32))
        .collect();
    let migrations = dir.join("migrations.csv");
    each_row(&migrations, &["time_s", "from", "to"], |line, fields| {
        let at = |what: &str| format!("{}:{line}: column {what}", migrations.display());
        let time_s = number(fields[0]).with_context(|| at("time_s"))?;
        let bin = if duration_s > 0.0 {
            ((time_s / duration_s * TIME_BINS as f64) as usize).min(TIME_BINS - 1)
        } else {
            0
        };
        migrations_per_bin[bin] += 1;
        let host = |i: usize, what: &str| {
            hosts
                .get(fields[i])
                .copied()
                .ok_or_else(|| anyhow::anyhow!("not a cloudlet of the scenario"))
                .with_context(|| at(what))
        };
        *migration_pairs
            .entry((host(1, "from")?, host(2, "to")?))
            .or_insert(0) += 1;
        Ok(())
    })?;
    Ok(RunFigures {
        delay_us,
        migrations_per_bin,
        migration_pairs,
    })
}

/// Calls `row(line, fields)` for every data row of the CSV file `path`, with
/// the fields of the columns named `columns`, in that order.
fn each_row(
    path: &Path,
    columns: &[&str],
    mut row: impl FnMut(u64, &[&[u8]]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header = reader
        .byte_headers()
        .with_context(|| format!("cannot read {}", path.display()))?
        .clone();
    assert!(columns.len() <= 4, "at most four columns are read back");
    let indexes: Vec<usize> = columns
        .iter()
        .map(|name| {
            header
                .iter()
                .position(|h| h == name.as_bytes())
                .ok_or_else(|| anyhow::anyhow!("{}: no column {name}", path.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut record = csv::ByteRecord::new();
    let mut line = 1;
    loop {
        let more = reader
            .read_byte_record(&mut record)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if !more {
            return Ok(());
        }
        line += 1;
        let mut fields: [&[u8]; 4] = [b""; 4];
        for (field, &i) in fields.iter_mut().zip(&indexes) {
            *field = record.get(i).ok_or_else(|| {
                anyhow::anyhow!("{}:{line}: the row is too short", path.display())
            })?;
        }
        row(line, &fields[..indexes.len()])?;
    }
}

/// A finite decimal number.
fn number(field: &[u8]) -> anyhow::Result<f64> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{:?} is not a number",
                String::from_utf8_lossy(field).into_owned()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_column_name_and_bad_numbers_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, "a,total_ms,outcome\n1,2.5,ok\n2,3.0,timed_out\n").unwrap();
        let mut seen = Vec::new();
        each_row(&path, &["outcome", "total_ms"], |line, f| {
            seen.push((line, f[0].to_vec(), number(f[1])?));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![(2, b"ok".to_vec(), 2.5), (3, b"timed_out".to_vec(), 3.0)]
        );

        std::fs::write(&path, "total_ms,outcome\n2.5,ok\nfast,ok\n").unwrap();
        let err = each_row(&path, &["total_ms"], |line, f| {
            number(f[0]).with_context(|| format!("line {line}"))?;
            Ok(())
        })
        .unwrap_err();
        assert_eq!(format!("{err:#}"), "line 3: \"fast\" is not a number");

        let err = each_row(&path, &["nope"], |_, _| Ok(())).unwrap_err();
        assert!(format!("{err}").ends_with("no column nope"), "{err}");
    }
}

//! Site lists from CSV: the EUA format (`SITE_ID,LATITUDE,LONGITUDE,NAME,...`)
//! and iFogSim2's tiered format (`ID,Latitude,Longitude,Block,Level,Parent,...`),
//! told apart by the header (column names are matched case-insensitively).
//!
//! A [`SiteSet`] is only the list; [`super::combine`] turns it into nodes and
//! links and hangs it off a backbone.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use mcc_mobile_client::position::LatLon;

use super::error::{LoadError, line_of, read_text};

/// Which CSV layout a site file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteFormat {
    /// EUA (Edge User Allocation) cell-site list: `SITE_ID`, `LATITUDE`,
    /// `LONGITUDE`, optional `NAME`.
    Eua,
    /// iFogSim2 tiered resources: `ID`, `Latitude`, `Longitude`, `Level`
    /// (0 cloud, 1 proxy/cloudlet, 2 edge/cell), `Parent` (-1 for roots),
    /// optional `Details` used as the name.
    Tiered,
}

/// One row of a site file.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// `SITE_ID` or `ID` as written.
    pub id: String,
    /// `NAME` or `Details` (empty when the file has none).
    pub name: String,
    /// Where the site is.
    pub position: LatLon,
    /// Tier (tiered format only): 0 cloud, 1 cloudlet, 2 access level.
    pub level: Option<u8>,
    /// Parent site id (tiered format only; `None` for roots).
    pub parent: Option<String>,
    /// 1-based line in the file, for errors found later.
    pub line: u64,
}

/// The sites of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSet {
    /// The file they came from.
    pub file: PathBuf,
    /// Its layout.
    pub format: SiteFormat,
    /// Rows in file order.
    pub sites: Vec<Site>,
}

/// What a site becomes (EUA sites; the leaf level of a tiered file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteRole {
    /// An access point only.
    AccessPoint,
    /// A cloudlet only.
    Cloudlet,
    /// An access point with a co-located cloudlet behind it.
    Both,
}

impl FromStr for SiteRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "access-point" => Ok(SiteRole::AccessPoint),
            "cloudlet" => Ok(SiteRole::Cloudlet),
            "both" => Ok(SiteRole::Both),
            other => Err(format!(
                "site role {other:?} is not one of access-point, cloudlet, both"
            )),
        }
    }
}

impl SiteRole {
    /// The role a format gets when none is asked for: `both` for EUA (a
    /// cloudlet at every cell site, as in edge-user-allocation studies),
    /// `access-point` for the leaves of a tiered file (its level 1 already
    /// holds the cloudlets).
    pub fn default_for(format: SiteFormat) -> SiteRole {
        match format {
            SiteFormat::Eua => SiteRole::Both,
            SiteFormat::Tiered => SiteRole::AccessPoint,
        }
    }
}

/// Column positions found in the header.
struct Columns {
    format: SiteFormat,
    id: usize,
    lat: usize,
    lon: usize,
    name: Option<usize>,
    level: Option<usize>,
    parent: Option<usize>,
}

fn columns(header: &csv::StringRecord, file: &Path) -> Result<Columns, LoadError> {
    let find = |name: &str| {
        header.iter().position(|h| {
            h.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(name)
        })
    };
    let (format, name_col, needed): (_, _, &[&str]) = if find("SITE_ID").is_some() {
        (
            SiteFormat::Eua,
            "NAME",
            &["SITE_ID", "LATITUDE", "LONGITUDE"],
        )
    } else if find("LEVEL").is_some() || find("PARENT").is_some() {
        (
            SiteFormat::Tiered,
            "DETAILS",
            &["ID", "LATITUDE", "LONGITUDE", "LEVEL", "PARENT"],
        )
    } else {
        return Err(LoadError::line(
            file,
            1,
            "unknown site header: expected EUA (SITE_ID,LATITUDE,LONGITUDE,NAME,...) \
             or iFogSim tiered (ID,Latitude,Longitude,Block,Level,Parent,...)",
        ));
    };
    let format_name = match format {
        SiteFormat::Eua => "EUA",
        SiteFormat::Tiered => "iFogSim tiered",
    };
    let mut found = Vec::new();
    for name in needed {
        found.push(find(name).ok_or_else(|| {
            LoadError::line(
                file,
                1,
                format!(
                    "the header has no {name} column (the {format_name} format needs {})",
                    needed.join(", ")
                ),
            )
        })?);
    }
    Ok(Columns {
        format,
        id: found[0],
        lat: found[1],
        lon: found[2],
        name: find(name_col),
        level: found.get(3).copied(),
        parent: found.get(4).copied(),
    })
}

/// The line a record starting at byte `pos` is on. With CRLF files csv puts
/// the record start on the `\n` of the previous line, so skip line breaks.
fn record_line(text: &str, pos: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut at = pos as usize;
    while bytes.get(at).is_some_and(|b| *b == b'\n' || *b == b'\r') {
        at += 1;
    }
    line_of(bytes, at)
}

/// Loads an EUA or iFogSim tiered site CSV.
pub fn load_sites(file: &Path) -> Result<SiteSet, LoadError> {
    parse_sites(&read_text(file)?, file)
}

/// Parses site CSV text; `file` names it in errors.
pub fn parse_sites(text: &str, file: &Path) -> Result<SiteSet, LoadError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| {
        // Lines from byte offsets: csv's own line count is off with CRLF files.
        let line = e
            .position()
            .map(|p| record_line(text, p.byte()))
            .unwrap_or(1);
        let reason = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("{len} fields where the header has {expected_len}")
            }
            _ => e.to_string(),
        };
        LoadError::line(file, line, reason)
    };
    let header = reader.headers().map_err(csv_error)?.clone();
    let cols = columns(&header, file)?;
    let mut sites = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record
            .position()
            .map(|p| record_line(text, p.byte()))
            .unwrap_or(0);
        let field = |ix: usize, name: &str| {
            record
                .get(ix)
                .map(str::trim)
                .ok_or_else(|| LoadError::line(file, line, format!("no {name} field")))
        };
        let id = field(cols.id, "id")?.to_string();
        if id.is_empty() {
            return Err(LoadError::line(file, line, "empty site id"));
        }
        if let Some(first) = seen.insert(id.clone(), line) {
            return Err(LoadError::line(
                file,
                line,
                format!("site id {id:?} already used on line {first}"),
            ));
        }
        let coordinate = |ix: usize, name: &str| -> Result<f64, LoadError> {
            let v = field(ix, name)?;
            v.parse::<f64>().map_err(|_| {
                LoadError::line(
                    file,
                    line,
                    format!("{name} {v:?} of site {id} is not a number"),
                )
            })
        };
        let (lat, lon) = (
            coordinate(cols.lat, "latitude")?,
            coordinate(cols.lon, "longitude")?,
        );
        let position = LatLon::new(lat, lon)
            .map_err(|e| LoadError::line(file, line, format!("site {id}: {e}")))?;
        let level = match cols.level {
            Some(ix) => {
                let v = field(ix, "Level")?;
                match v.parse::<u8>() {
                    Ok(level @ 0..=2) => Some(level),
                    _ => {
                        return Err(LoadError::line(
                            file,
                            line,
                            format!(
                                "Level {v:?} of site {id} is not 0 (cloud), 1 (cloudlet) or 2 (access)"
                            ),
                        ));
                    }
                }
            }
            None => None,
        };
        let parent = match cols.parent {
            Some(ix) => {
                let v = field(ix, "Parent")?;
                (v != "-1" && !v.is_empty()).then(|| v.to_string())
            }
            None => None,
        };
        let name = match cols.name {
            Some(ix) => record.get(ix).unwrap_or("").trim().to_string(),
            None => String::new(),
        };
        sites.push(Site {
            id,
            name,
            position,
            level,
            parent,
            line,
        });
    }
    if sites.is_empty() {
        return Err(LoadError::file(
            file,
            "no sites: the file has a header but no rows",
        ));
    }
    Ok(SiteSet {
        file: file.to_path_buf(),
        format: cols.format,
        sites,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../topologies/sites")
            .join(name)
    }

    #[test]
    fn eua_file_loads() {
        let set = load_sites(&shipped("site-optus-melbCBD.csv")).unwrap();
        assert_eq!(set.format, SiteFormat::Eua);
        assert_eq!(set.sites.len(), 125);
        let first = &set.sites[0];
        assert_eq!(first.id, "10003026");
        assert_eq!(
            (first.position.lat_deg, first.position.lon_deg),
            (-37.81517, 144.97476)
        );
        assert!(first.name.starts_with("Spring and Flinders"));
        assert_eq!(first.line, 2);
        assert!(
            set.sites
                .iter()
                .all(|s| s.level.is_none() && s.parent.is_none())
        );
    }

    #[test]
    fn tiered_file_loads() {
        let set = load_sites(&shipped("ifogsim-edgeResources-melbCBD.csv")).unwrap();
        assert_eq!(set.format, SiteFormat::Tiered);
        assert_eq!(set.sites.len(), 131);
        let count = |l| set.sites.iter().filter(|s| s.level == Some(l)).count();
        assert_eq!((count(0), count(1), count(2)), (1, 12, 118));
        assert_eq!(set.sites[0].parent, None);
        assert_eq!(set.sites[0].name, "DataCenter");
        assert_eq!(set.sites[1].parent.as_deref(), Some("0"));
    }

    #[test]
    fn crafted_bad_files_fail_with_file_line_and_reason() {
        let bad = |name: &str| {
            let file = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/data/bad")
                .join(name);
            load_sites(&file).unwrap_err().to_string()
        };
        let e = bad("topo-missing-column.csv");
        assert!(
            e.contains("topo-missing-column.csv:1: the header has no LONGITUDE column"),
            "{e}"
        );
        let e = bad("topo-short-row.csv");
        assert!(
            e.contains("topo-short-row.csv:3: 2 fields where the header has 4"),
            "{e}"
        );
        let e = bad("topo-nonnumeric-coords.csv");
        assert!(
            e.contains("topo-nonnumeric-coords.csv:3: longitude \"east\" of site 10003027"),
            "{e}"
        );
        let e = bad("topo-latitude-123.csv");
        assert!(
            e.contains("topo-latitude-123.csv:3: site 1: latitude 123"),
            "{e}"
        );
        assert!(bad("topo-garbage.csv").contains("topo-garbage.csv:1: byte 0 is not UTF-8"));
    }

    #[test]
    fn bad_rows_are_named() {
        let p = Path::new("s.csv");
        let e = parse_sites("SITE_ID,LATITUDE,NAME\n1,2,x\n", p)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s.csv:1: the header has no LONGITUDE column"),
            "{e}"
        );
        let e = parse_sites(
            "SITE_ID,LATITUDE,LONGITUDE\n1,-37.8,144.9\n2,north,144.9\n",
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("s.csv:3: latitude \"north\" of site 2 is not a number"),
            "{e}"
        );
        let e = parse_sites("SITE_ID,LATITUDE,LONGITUDE\n1,123,144.9\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.csv:2: site 1: latitude 123"), "{e}");
        let e = parse_sites("SITE_ID,LATITUDE,LONGITUDE\n1,1,1\n1,2,2\n", p)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s.csv:3: site id \"1\" already used on line 2"),
            "{e}"
        );
        let e = parse_sites("SITE_ID,LATITUDE,LONGITUDE\n1,1\n", p)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s.csv:2: 2 fields where the header has 3"),
            "{e}"
        );
        let e = parse_sites("ID,Latitude,Longitude,Level,Parent\n0,1,1,7,-1\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Level \"7\""), "{e}");
        let e = parse_sites("a,b,c\n1,2,3\n", p).unwrap_err().to_string();
        assert!(e.contains("unknown site header"), "{e}");
        let e = parse_sites("SITE_ID,LATITUDE,LONGITUDE\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no sites"), "{e}");
    }
}

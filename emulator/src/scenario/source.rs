//! Where a scenario's files come from: the disk (relative to the scenario
//! file's folder) or the copies embedded in the binary for the default
//! scenario.

use std::path::{Path, PathBuf};

/// A place files named in a scenario are read from.
pub trait FileSource {
    /// The path a name in the scenario stands for (for messages and readers).
    fn path_of(&self, name: &str) -> PathBuf;
    /// The text of the file `name`.
    fn read(&self, name: &str) -> Result<String, String>;
    /// The names matching `pattern` (a `*` in the last part matches any run of
    /// characters), in sorted order; a pattern without `*` names one file.
    fn glob(&self, pattern: &str) -> Result<Vec<String>, String>;
}

/// Files on disk, relative to a base folder.
#[derive(Debug, Clone)]
pub struct DiskSource {
    base: PathBuf,
}

impl DiskSource {
    /// Files relative to `base` (absolute names are taken as they are).
    pub fn new(base: &Path) -> Self {
        Self {
            base: base.to_path_buf(),
        }
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = parts.collect();
    let Some(last) = parts.pop() else {
        return rest.is_empty();
    };
    for part in parts {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl FileSource for DiskSource {
    fn path_of(&self, name: &str) -> PathBuf {
        self.base.join(name)
    }

    fn read(&self, name: &str) -> Result<String, String> {
        let path = self.path_of(name);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn glob(&self, pattern: &str) -> Result<Vec<String>, String> {
        if !pattern.contains('*') {
            return Ok(vec![pattern.to_string()]);
        }
        let (dir, file_pattern) = match pattern.rsplit_once('/') {
            Some((dir, file)) => (dir, file),
            None => ("", pattern),
        };
        if dir.contains('*') {
            return Err(format!(
                "{pattern}: `*` is only allowed in the file name, not in folders"
            ));
        }
        let folder = self.path_of(dir);
        let entries =
            std::fs::read_dir(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| wildcard_match(file_pattern, name))
            .map(|name| {
                if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                }
            })
            .collect();
        names.sort();
        Ok(names)
    }
}

/// Files compiled into the binary, by name.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedSource {
    files: &'static [(&'static str, &'static str)],
}

impl EmbeddedSource {
    /// A source over `(name, contents)` pairs.
    pub const fn new(files: &'static [(&'static str, &'static str)]) -> Self {
        Self { files }
    }
}

impl FileSource for EmbeddedSource {
    fn path_of(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("<embedded>/topologies/{name}"))
    }

    fn read(&self, name: &str) -> Result<String, String> {
        self.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| (*text).to_string())
            .ok_or_else(|| format!("{name}: not among the embedded files"))
    }

    fn glob(&self, pattern: &str) -> Result<Vec<String>, String> {
        let mut names: Vec<String> = self
            .files
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| wildcard_match(pattern, n))
            .map(str::to_string)
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_runs_of_characters() {
        assert!(wildcard_match("traces/*.plt", "traces/geolife-000.plt"));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a*b*c", "a-b-c"));
        assert!(!wildcard_match("traces/*.plt", "traces/bus.gpx"));
        assert!(!wildcard_match("a*a", "a"));
        assert!(wildcard_match("exact.gpx", "exact.gpx"));
        assert!(!wildcard_match("exact.gpx", "exact.gpxx"));
    }

    #[test]
    fn disk_globs_are_sorted_and_relative_to_the_base() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        for name in ["b.plt", "a.plt", "c.gpx"] {
            std::fs::write(dir.path().join("t").join(name), "x").unwrap();
        }
        let source = DiskSource::new(dir.path());
        assert_eq!(source.glob("t/*.plt").unwrap(), vec!["t/a.plt", "t/b.plt"]);
        assert!(source.glob("*/a.plt").is_err());
    }
}

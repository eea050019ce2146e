//! The node list file: which `cloudlet` node serves which cloudlet when the
//! nodes of a real-clock run live on other hosts. `mcc-emu run --clock real
//! --spawn remote --nodes FILE` reads it to reach the nodes, and `cloudlet
//! --node-list FILE --index I` to learn its own name and port, so one file
//! written once (by a Slurm job, or a Kubernetes ConfigMap) serves both ends
//! (docs/cluster.md).
//!
//! One node a line, `NAME ADDRESS`: the cloudlet's name in the topology and
//! the gRPC address its node serves on, `http://HOST:PORT` (a host name or
//! an IP address; IPv6 in brackets). Blank lines and `#` comments are
//! skipped:
//!
//! ```text
//! # cloudlet   address
//! cl-city      http://node07.cluster:50051
//! cl-campus    http://node08.cluster:50051
//! ```

use std::path::Path;

/// Longest node list file read, in bytes (a million nodes fit).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// One line of a node list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEntry {
    /// The cloudlet's name (the node's host id).
    pub name: String,
    /// Its gRPC address, `http://HOST:PORT`.
    pub address: String,
    /// The port of the address.
    pub port: u16,
    /// Its line in the file, from 1.
    pub line: usize,
}

/// Parses a node list; an error names the line and what is wrong with it.
pub fn parse(text: &str) -> Result<Vec<NodeEntry>, String> {
    let mut entries: Vec<NodeEntry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        let [name, address] = fields[..] else {
            return Err(format!(
                "line {line}: expected `NAME http://HOST:PORT`, got {} field(s): {content:?}",
                fields.len()
            ));
        };
        let port = port_of(address).map_err(|e| format!("line {line}: {address:?}: {e}"))?;
        if let Some(earlier) = entries.iter().find(|e| e.name == name) {
            return Err(format!(
                "line {line}: cloudlet {name} is listed twice (line {} too)",
                earlier.line
            ));
        }
        if let Some(earlier) = entries.iter().find(|e| e.address == address) {
            return Err(format!(
                "line {line}: address {address} is cloudlet {}'s too (line {}): one node per address",
                earlier.name, earlier.line
            ));
        }
        entries.push(NodeEntry {
            name: name.to_owned(),
            address: address.to_owned(),
            port,
            line,
        });
    }
    if entries.is_empty() {
        return Err("lists no node (one `NAME http://HOST:PORT` a line)".to_owned());
    }
    Ok(entries)
}

/// Reads and parses the node list at `path`; an error names the file.
pub fn read(path: &Path) -> anyhow::Result<Vec<NodeEntry>> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("node list {shown}: {e}"))?
        .len();
    if size > MAX_FILE_BYTES {
        anyhow::bail!("node list {shown}: {size} bytes, more than the {MAX_FILE_BYTES} read");
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("node list {shown}: {e}"))?;
    parse(&text).map_err(|e| anyhow::anyhow!("node list {shown}: {e}"))
}

/// The port of `http://HOST:PORT`, after checking that form.
fn port_of(address: &str) -> Result<u16, String> {
    let rest = address
        .strip_prefix("http://")
        .ok_or("not an http:// address (nodes serve plain gRPC)")?;
    let uri: tonic::codegen::http::Uri = address.parse().map_err(|e| format!("not a URI: {e}"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err("no host".to_owned());
    }
    if !matches!(uri.path(), "" | "/") || rest.contains('?') {
        return Err("a node address has no path or query".to_owned());
    }
    match uri.port_u16() {
        Some(0) | None => Err("give the node's port, 1..=65535 (http://HOST:PORT)".to_owned()),
        Some(port) => Ok(port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_read_with_comments_and_blank_lines_skipped() {
        let entries = parse(
            "# cloudlet address\n\ncl-a  http://node7.cluster:50051  # rack 1\n\
             cl-b\thttp://[::1]:6000\ncl-c http://10.0.0.3:50051/\n",
        )
        .unwrap();
        let got: Vec<(&str, &str, u16, usize)> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.address.as_str(), e.port, e.line))
            .collect();
        assert_eq!(
            got,
            [
                ("cl-a", "http://node7.cluster:50051", 50051, 3),
                ("cl-b", "http://[::1]:6000", 6000, 4),
                ("cl-c", "http://10.0.0.3:50051/", 50051, 5),
            ]
        );
    }

    #[test]
    fn bad_lines_are_refused_naming_the_line() {
        let refused = |text: &str, want: &str| {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        };
        refused(
            "cl-a\n",
            "line 1: expected `NAME http://HOST:PORT`, got 1 field(s)",
        );
        refused(
            "cl-a http://h:1 extra\n",
            "line 1: expected `NAME http://HOST:PORT`, got 3",
        );
        refused("\ncl-a h:50051\n", "line 2: \"h:50051\": not an http://");
        refused("cl-a https://h:50051\n", "not an http://");
        refused("cl-a http://h\n", "give the node's port");
        refused("cl-a http://h:0\n", "give the node's port");
        refused("cl-a http://h:70000\n", "line 1");
        refused("cl-a http://h:1/x\n", "no path or query");
        refused(
            "cl-a http://h:1\ncl-a http://g:1\n",
            "line 2: cloudlet cl-a is listed twice (line 1 too)",
        );
        refused(
            "cl-a http://h:1\ncl-b http://h:1\n",
            "line 2: address http://h:1 is cloudlet cl-a's too (line 1)",
        );
        refused("# nothing\n\n", "lists no node");
    }
}

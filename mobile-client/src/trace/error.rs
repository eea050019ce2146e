//! The one error type every trace reader returns: which file, which line, why.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::position::InvalidCoordinate;

/// A trace file that could not be read, with the place and the reason.
///
/// Displayed as `file:line: reason` (or `file: reason` when no line applies).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceError {
    /// The file being read.
    pub file: PathBuf,
    /// The 1-based line the problem is on, when it has one.
    pub line: Option<u64>,
    /// What was wrong.
    pub kind: TraceErrorKind,
}

/// What was wrong with a trace file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TraceErrorKind {
    /// The file could not be opened or read.
    #[error("cannot read the file: {0}")]
    Io(String),
    /// The file is not UTF-8 text (binary data, or another encoding).
    #[error("not UTF-8 text (byte {byte_offset} is invalid); is this a trace file?")]
    NotText {
        /// Offset of the first invalid byte.
        byte_offset: usize,
    },
    /// The file holds nothing to read.
    #[error("the file is empty")]
    Empty,
    /// The XML is malformed.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// The CSV is malformed (for example an unterminated quote).
    #[error("malformed CSV: {0}")]
    Csv(String),
    /// The XML ended before the elements opened at the given line were closed.
    #[error("the file ends inside <{element}> (opened on line {opened_line}); is it truncated?")]
    Truncated {
        /// The innermost element left open.
        element: String,
        /// Where it was opened.
        opened_line: u64,
    },
    /// A required attribute, column or field is missing.
    #[error("missing {0}")]
    Missing(String),
    /// A field that should be a number is not one.
    #[error("{field} {value:?} is not a number")]
    BadNumber {
        /// Which field.
        field: String,
        /// The text found.
        value: String,
    },
    /// A latitude or longitude off the globe.
    #[error("{0}")]
    BadCoordinate(#[from] InvalidCoordinate),
    /// A time that does not parse in the expected format.
    #[error("time {value:?} is not {expected}")]
    BadTime {
        /// The text found.
        value: String,
        /// The format(s) expected.
        expected: String,
    },
    /// A line with fewer fields than the format needs.
    #[error("{found} fields, expected at least {expected}")]
    ShortLine {
        /// Fields needed.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// A trace (track, route, device) with no usable point.
    #[error("{0} has no usable point")]
    NoPoints(String),
    /// The file's format could not be told from its name or header.
    #[error("unknown trace format: {0}")]
    UnknownFormat(String),
    /// A reading option that makes no sense (for example a negative speed).
    #[error("bad option: {0}")]
    BadOption(String),
}

impl TraceError {
    /// An error in `file` at `line` (1-based, if any).
    pub fn new(file: &Path, line: Option<u64>, kind: TraceErrorKind) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            kind,
        }
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.kind),
            None => write!(f, "{}: {}", self.file.display(), self.kind),
        }
    }
}

impl std::error::Error for TraceError {}

/// The 1-based line that byte `offset` of `text` is on.
pub(crate) fn line_of_offset(text: &str, offset: usize) -> u64 {
    let end = offset.min(text.len());
    let newlines = text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    newlines as u64 + 1
}

/// Turns byte offsets into line numbers for offsets that only grow, counting
/// each byte once (a streaming reader asks for the line of every element).
#[derive(Debug, Default)]
pub(crate) struct LineCounter {
    offset: usize,
    line: u64,
}

impl LineCounter {
    /// The 1-based line of byte `offset` of `text`; offsets below the last one
    /// asked for are counted from the start.
    pub(crate) fn line_at(&mut self, text: &str, offset: usize) -> u64 {
        let end = offset.min(text.len());
        if end < self.offset {
            return line_of_offset(text, end);
        }
        let bytes = text.as_bytes().get(self.offset..end).unwrap_or(&[]);
        self.line += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        self.offset = end;
        self.line + 1
    }
}

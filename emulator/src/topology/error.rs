//! [`LoadError`]: why a topology or site file cannot be used, naming the
//! file, the place in it and the reason, in one line.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole (empty, unreadable...).
    File,
    /// A 1-based line.
    Line(u64),
    /// A 1-based line and a named element, field or record.
    LineAndElement(u64, String),
    /// A named element, field or record whose line is not known.
    Element(String),
}

/// A file that cannot be used as a topology or site list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// Where in it.
    pub location: Location,
    /// What is wrong (and, where it helps, what would be right).
    pub reason: String,
}

impl LoadError {
    /// An error at `location` of `file`.
    pub fn new(file: &Path, location: Location, reason: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            location,
            reason: reason.into(),
        }
    }

    /// An error about `file` as a whole.
    pub fn file(file: &Path, reason: impl Into<String>) -> Self {
        Self::new(file, Location::File, reason)
    }

    /// An error at a 1-based line.
    pub fn line(file: &Path, line: u64, reason: impl Into<String>) -> Self {
        Self::new(file, Location::Line(line), reason)
    }

    /// An error at a line, in a named element.
    pub fn element(
        file: &Path,
        line: u64,
        element: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::new(file, Location::LineAndElement(line, element.into()), reason)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        // One line, whatever the reason says.
        let reason = self.reason.replace(['\n', '\r'], " ");
        match &self.location {
            Location::File => write!(f, "{file}: {reason}"),
            Location::Line(line) => write!(f, "{file}:{line}: {reason}"),
            Location::LineAndElement(line, element) => {
                write!(f, "{file}:{line}: {element}: {reason}")
            }
            Location::Element(element) => write!(f, "{file}: {element}: {reason}"),
        }
    }
}

/// The 1-based line of byte offset `pos` in `text`.
pub fn line_of(text: &[u8], pos: usize) -> u64 {
    let end = pos.min(text.len());
    text[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// Line numbers of increasing byte offsets in one text, counting only the
/// bytes since the previous offset (a streaming reader asks for every event).
#[derive(Debug)]
pub struct LineCounter<'a> {
    text: &'a [u8],
    pos: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    /// A counter at the start of `text`.
    pub fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
        }
    }

    /// The 1-based line of byte offset `pos` (any offset; cheap when offsets
    /// increase).
    pub fn line_at(&mut self, pos: usize) -> u64 {
        let pos = pos.min(self.text.len());
        if pos < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        self.line += self.text[self.pos..pos]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.pos = pos;
        self.line
    }
}

/// Reads a file as UTF-8 text; a missing, unreadable, empty or non-text file
/// is an error naming it (and the line of the first invalid byte).
pub fn read_text(file: &Path) -> Result<String, LoadError> {
    let bytes =
        std::fs::read(file).map_err(|e| LoadError::file(file, format!("cannot read: {e}")))?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(LoadError::file(file, "the file is empty"));
    }
    match String::from_utf8(bytes) {
        Ok(text) => {
            if let Some(pos) = text.find('\0') {
                return Err(LoadError::line(
                    file,
                    line_of(text.as_bytes(), pos),
                    "NUL byte: this is a binary file, not text",
                ));
            }
            Ok(text)
        }
        Err(e) => {
            let pos = e.utf8_error().valid_up_to();
            Err(LoadError::line(
                file,
                line_of(e.as_bytes(), pos),
                format!("byte {pos} is not UTF-8 text (is this a binary file?)"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        assert_eq!(line_of(b"a\nb\nc", 0), 1);
        assert_eq!(line_of(b"a\nb\nc", 2), 2);
        assert_eq!(line_of(b"a\nb\nc", 99), 3);
    }

    #[test]
    fn line_counter_agrees_with_line_of() {
        let text = b"a\nbb\n\nccc\n";
        let mut c = LineCounter::new(text);
        for pos in [0, 1, 2, 5, 6, 3, 9, 20] {
            assert_eq!(c.line_at(pos), line_of(text, pos), "{pos}");
        }
    }

    #[test]
    fn messages_are_one_line() {
        let e = LoadError::element(Path::new("x.toml"), 3, "link 2", "bad\nthing");
        assert_eq!(e.to_string(), "x.toml:3: link 2: bad thing");
    }
}

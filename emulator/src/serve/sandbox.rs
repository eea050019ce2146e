//! The files a remote caller may make `serve` read: only those inside the
//! folder given with `--scenarios DIR`, never a path out of it (`..`, an
//! absolute path, a symbolic link pointing elsewhere), only regular files,
//! each at most [`MAX_FILE_BYTES`]. Without `--scenarios`, no file at all:
//! LoadScenario takes inline TOML naming no file, RegisterDevice positions.
//!
//! What a refusal or a file that does not parse tells the caller never
//! holds the file's contents ([`redact`]): the name, the key and the line,
//! and the full reason goes to serve's stderr.

use std::cell::RefCell;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::scenario::source::{FileSource, wildcard_match};

/// Largest file a remote caller may make `serve` read: 64 MiB (the largest
/// file the repository ships, a trace, is under 5 MB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The folder remote callers' file names are confined to (canonical).
#[derive(Debug, Clone)]
pub struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    /// The sandbox of folder `dir`, which must exist.
    pub fn new(dir: &Path) -> Result<Self, String> {
        let root = dir
            .canonicalize()
            .map_err(|e| format!("--scenarios {}: {e}", dir.display()))?;
        if !root.is_dir() {
            return Err(format!("--scenarios {}: not a folder", dir.display()));
        }
        Ok(Self { root })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The real path of `name` if it is inside the folder (after following
    /// every symbolic link); an error naming `name` otherwise.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, String> {
        let relative = Path::new(name);
        if name.is_empty()
            || relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "{name:?}: only names inside the scenarios folder are accepted (no absolute \
                 path, no `..`)"
            ));
        }
        let real = self
            .root
            .join(relative)
            .canonicalize()
            .map_err(|_| format!("{name:?}: no such file in the scenarios folder"))?;
        if !real.starts_with(&self.root) {
            return Err(format!(
                "{name:?}: leads out of the scenarios folder (a symbolic link); refused"
            ));
        }
        Ok(real)
    }

    /// The text of `name`: a regular file inside the folder, at most
    /// [`MAX_FILE_BYTES`].
    pub fn read(&self, name: &str) -> Result<String, String> {
        let path = self.resolve(name)?;
        let meta = std::fs::metadata(&path).map_err(|_| format!("{name:?}: cannot be read"))?;
        if !meta.is_file() {
            return Err(format!("{name:?}: not a regular file"));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(format!(
                "{name:?}: {} bytes; files of at most {MAX_FILE_BYTES} bytes (64 MiB) are read",
                meta.len()
            ));
        }
        let file = std::fs::File::open(&path).map_err(|_| format!("{name:?}: cannot be read"))?;
        // A file that grew since: never more than the cap.
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| format!("{name:?}: cannot be read"))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(format!(
                "{name:?}: over {MAX_FILE_BYTES} bytes (64 MiB); refused"
            ));
        }
        String::from_utf8(bytes).map_err(|_| format!("{name:?}: not UTF-8 text"))
    }
}

/// The message for a remote caller when serve was given no `--scenarios`.
pub const NO_FILES: &str = "this serve reads no file for its callers (start it with \
     --scenarios DIR to allow names inside DIR)";

/// Scenario files for a remote caller: inside the sandbox, or none. Keeps
/// the names it read, for [`redact`].
pub struct SandboxSource<'a> {
    sandbox: Option<&'a Sandbox>,
    read: RefCell<Vec<String>>,
}

impl<'a> SandboxSource<'a> {
    /// Files of `sandbox`; none without one.
    pub fn new(sandbox: Option<&'a Sandbox>) -> Self {
        Self {
            sandbox,
            read: RefCell::new(Vec::new()),
        }
    }

    /// Whether any file was read.
    pub fn read_any(&self) -> bool {
        !self.read.borrow().is_empty()
    }
}

impl FileSource for SandboxSource<'_> {
    fn path_of(&self, name: &str) -> PathBuf {
        // Shown in messages and trace names: the caller's own name.
        PathBuf::from(name)
    }

    fn read(&self, name: &str) -> Result<String, String> {
        let sandbox = self
            .sandbox
            .ok_or_else(|| format!("{name:?}: {NO_FILES}"))?;
        let text = sandbox.read(name)?;
        self.read.borrow_mut().push(name.to_owned());
        Ok(text)
    }

    fn glob(&self, pattern: &str) -> Result<Vec<String>, String> {
        let sandbox = self
            .sandbox
            .ok_or_else(|| format!("{pattern:?}: {NO_FILES}"))?;
        if !pattern.contains('*') {
            return Ok(vec![pattern.to_owned()]);
        }
        let (dir, file_pattern) = pattern.rsplit_once('/').unwrap_or((".", pattern));
        if dir.contains('*') {
            return Err(format!(
                "{pattern}: `*` is only allowed in the file name, not in folders"
            ));
        }
        let folder = sandbox.resolve(dir)?;
        let entries =
            std::fs::read_dir(&folder).map_err(|_| format!("{dir:?}: cannot be listed"))?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| wildcard_match(file_pattern, name))
            .map(|name| {
                if dir == "." {
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

/// What a remote caller is told of a scenario error `message` (the full
/// text goes to serve's stderr): as it is when no file was read (the error
/// is about the caller's own TOML), otherwise only the key it names, since
/// a reader's message may quote what it read.
pub fn redact(message: &str, read_any: bool) -> String {
    if !read_any {
        return message.to_owned();
    }
    let key = message
        .split_once("key `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(key, _)| key);
    match key {
        Some(key) => format!(
            "key `{key}`: a file it names could not be used (the reason is in serve's log; \
             file contents are never sent to callers)"
        ),
        None => "the scenario could not be used (the reason is in serve's log; file contents \
                 are never sent to callers)"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> (tempfile::TempDir, Sandbox) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("inside")).unwrap();
        std::fs::write(dir.path().join("inside/a.gpx"), "x").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "s3cret").unwrap();
        let sandbox = Sandbox::new(&dir.path().join("inside")).unwrap();
        (dir, sandbox)
    }

    #[test]
    fn names_inside_are_read_and_every_way_out_is_refused() {
        let (dir, sandbox) = sandbox();
        assert_eq!(sandbox.read("a.gpx").unwrap(), "x");
        assert_eq!(sandbox.read("./a.gpx").unwrap(), "x");
        for name in ["../secret.txt", "/etc/passwd", "", "a/../../secret.txt"] {
            let e = sandbox.read(name).unwrap_err();
            assert!(!e.contains("s3cret"), "{e}");
            assert!(e.contains("scenarios folder"), "{name}: {e}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                dir.path().join("secret.txt"),
                dir.path().join("inside/link.txt"),
            )
            .unwrap();
            let e = sandbox.read("link.txt").unwrap_err();
            assert!(e.contains("leads out"), "{e}");
            std::os::unix::fs::symlink("/dev/zero", dir.path().join("inside/zero.toml")).unwrap();
            assert!(sandbox.read("zero.toml").is_err());
        }
    }

    #[test]
    fn without_a_sandbox_nothing_is_read() {
        let source = SandboxSource::new(None);
        let e = source.read("a.gpx").unwrap_err();
        assert!(e.contains("--scenarios DIR"), "{e}");
        assert!(source.glob("*.gpx").is_err());
        assert!(!source.read_any());
    }

    #[test]
    fn errors_after_a_file_was_read_keep_only_the_key() {
        let message = "x.toml: key `devices[0].trace`: t.csv:3: bad latitude \"s3cret\"";
        let told = redact(message, true);
        assert!(
            told.contains("devices[0].trace") && !told.contains("s3cret"),
            "{told}"
        );
        assert_eq!(redact(message, false), message);
    }
}

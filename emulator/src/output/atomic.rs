//! Output files that appear all at once, or not at all.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A set of output files in one folder, written under temporary names and
/// renamed to their final names by [`AtomicOutputs::commit`].
///
/// Dropping it without committing removes the temporary files and leaves
/// whatever the folder held before untouched.
#[derive(Debug)]
pub struct AtomicOutputs {
    dir: PathBuf,
    pending: Vec<(PathBuf, PathBuf)>,
    /// Files of an earlier run that this set does not have, removed on
    /// commit so that they are not read as this run's.
    stale: Vec<PathBuf>,
    committed: bool,
}

impl AtomicOutputs {
    /// Prepares `dir` (creating it if needed) for a new set of outputs.
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output folder {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            pending: Vec::new(),
            stale: Vec::new(),
            committed: false,
        })
    }

    /// The folder the outputs go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the temporary file that becomes `name` on commit.
    pub fn create(&mut self, name: &str) -> anyhow::Result<File> {
        let final_path = self.dir.join(name);
        let temp_path = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&temp_path)
            .with_context(|| format!("cannot create {}", temp_path.display()))?;
        self.pending.push((temp_path, final_path));
        Ok(file)
    }

    /// Marks `name` as not part of this set: a file of that name left by an
    /// earlier run is removed on commit (and kept if the set is dropped).
    pub fn omit(&mut self, name: &str) {
        self.stale.push(self.dir.join(name));
    }

    /// Writes a whole small file (such as the summary) the same way.
    pub fn write(&mut self, name: &str, contents: &[u8]) -> anyhow::Result<()> {
        use std::io::Write;
        let mut file = self.create(name)?;
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {name} in {}", self.dir.display()))
    }

    /// Renames every temporary file to its final name.
    pub fn commit(mut self) -> anyhow::Result<()> {
        for stale in &self.stale {
            match fs::remove_file(stale) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => {
                    return Err(err).with_context(|| format!("cannot remove {}", stale.display()));
                }
                _ => {}
            }
        }
        for (temp, final_path) in &self.pending {
            fs::rename(temp, final_path).with_context(|| {
                format!("cannot move {} to {}", temp.display(), final_path.display())
            })?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicOutputs {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (temp, _) in &self.pending {
            match fs::remove_file(temp) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => eprintln!("mcc-emu: cannot remove {}: {err}", temp.display()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut outputs = AtomicOutputs::new(dir.path()).unwrap();
        outputs.write("summary.json", b"{}").unwrap();
        assert!(!dir.path().join("summary.json").exists());
        outputs.commit().unwrap();
        assert_eq!(fs::read(dir.path().join("summary.json")).unwrap(), b"{}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_abandoned_run_keeps_the_previous_outputs() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("requests.csv"), b"old").unwrap();
        {
            let mut outputs = AtomicOutputs::new(dir.path()).unwrap();
            outputs.write("requests.csv", b"new, half written").unwrap();
        }
        assert_eq!(fs::read(dir.path().join("requests.csv")).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

//! File-system helpers shared by everything that writes results users must not lose: one way to
//! write a file atomically (`AtomicFile`, `write_atomically`), and a test hook that makes the
//! N-th commit of this thread fail, standing in for a kill at that instant.

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::error::{Error, Result};

/// Temporary files end with this, so a run directory's leftovers of a killed process are known.
pub const TMP_SUFFIX: &str = ".stsm-tmp";

thread_local! {
    /// Commits of this thread left before the injected failure (None: no failure armed).
    static COMMITS_BEFORE_FAILURE: Cell<Option<usize>> = const { Cell::new(None) };
    /// Commits this thread has made (or attempted), for tests that enumerate write points.
    static COMMITS: Cell<usize> = const { Cell::new(0) };
}

/// Tests only: the `n`-th next commit point of this thread (0: the very next one) fails as if
/// the process were killed just before it; `None` disarms. Commit points are `AtomicFile`
/// renames and appends to `metrics.jsonl`.
#[doc(hidden)]
pub fn fail_commit_after(n: Option<usize>) {
    COMMITS_BEFORE_FAILURE.with(|c| c.set(n));
}

/// Tests only: how many commit points this thread has reached so far.
#[doc(hidden)]
pub fn commits_so_far() -> usize {
    COMMITS.with(|c| c.get())
}

/// Every commit point calls this first; it fails when a test armed a failure for this one.
pub(crate) fn commit_point(path: &Path) -> Result<()> {
    COMMITS.with(|c| c.set(c.get() + 1));
    let fire = COMMITS_BEFORE_FAILURE.with(|c| match c.get() {
        Some(0) => {
            c.set(None);
            true
        }
        Some(n) => {
            c.set(Some(n - 1));
            false
        }
        None => false,
    });
    if fire {
        return Err(Error::io(
            path,
            std::io::Error::other("injected failure (test hook) before this write"),
        ));
    }
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A file being written under a fresh random name beside its destination, created with
/// `create_new` (so a planted symlink or file at that name is never followed or truncated),
/// renamed over the destination by `commit`, and removed if dropped uncommitted (every error
/// path).
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let dir = parent_dir(path);
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        if path.is_dir() {
            return Err(Error::data(path, "is a directory; expected a file name to write"));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut rng = rand::thread_rng();
        let mut last_err = None;
        for _ in 0..16 {
            let tmp = dir.join(format!(".{name}.{:016x}{TMP_SUFFIX}", rng.gen::<u64>()));
            match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        path: path.to_path_buf(),
                        tmp,
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(Error::io(&tmp, e)),
            }
        }
        Err(Error::io(
            dir,
            last_err.unwrap_or_else(|| std::io::Error::other("no free temporary name")),
        ))
    }

    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until commit")
    }

    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes to disk, renames over the destination and syncs the directory.
    pub fn commit(mut self) -> Result<PathBuf> {
        let mut file = self.file.take().expect("open until commit");
        let synced = file.flush().and_then(|_| file.sync_all());
        drop(file);
        synced.map_err(|e| Error::io(&self.tmp, e))?;
        commit_point(&self.path)?;
        fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        self.tmp = PathBuf::new();
        // Make the rename itself durable; not every platform lets a directory be opened.
        if let Ok(d) = File::open(parent_dir(&self.path)) {
            let _ = d.sync_all();
        }
        Ok(self.path.clone())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `path` so that it is either absent/old or complete (see `AtomicFile`): a crash or
/// Ctrl-C mid-write never leaves a truncated file under the final name.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    write(f.file()).map_err(|e| Error::io(f.tmp_path(), e))?;
    f.commit().map(|_| ())
}

/// Removes temporary files a killed process left in `dir` (names ending in `TMP_SUFFIX`).
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().ends_with(TMP_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Refuses anything but a regular file (a device such as /dev/zero or a FIFO is never-ending).
pub fn ensure_regular_file(path: &Path) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::data(
            path,
            "is not a regular file (a directory, device or pipe); give a file",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_symlink_is_never_followed_and_failures_leave_nothing() {
        let dir = std::env::temp_dir().join(format!("stsm-fsutil-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.json");
        write_atomically(&target, |f| f.write_all(b"one")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"one");
        // A failing writer leaves the old file and no temporary.
        let err = write_atomically(&target, |_| Err(std::io::Error::other("disk full")));
        assert!(err.is_err());
        assert_eq!(fs::read(&target).unwrap(), b"one");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}

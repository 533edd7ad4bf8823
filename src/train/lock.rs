//! The run directory's lock: one `train` process at a time writes a run. The lock file holds the
//! holder's PID; a lock whose process no longer runs (killed, power loss) is stale and taken over.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const LOCK_FILE: &str = ".lock";

/// Held while a run directory is being written; dropping it releases the lock.
pub struct RunLock {
    path: PathBuf,
}

/// Whether process `pid` exists (signal 0 checks without sending anything).
fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl RunLock {
    /// Takes the lock of `dir` (created if needed), or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        // Two tries: the second follows the removal of a stale lock.
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    write!(f, "{}", std::process::id())
                        .and_then(|_| f.sync_all())
                        .map_err(|e| Error::io(&path, e))?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path).unwrap_or_default();
                    match holder.trim().parse::<i32>() {
                        Ok(pid) if process_alive(pid) => {
                            return Err(Error::data(
                                dir,
                                format!(
                                    "is in use by another train process (PID {pid}); wait for it to end or stop it \
                                     (its lock is {})",
                                    path.display()
                                ),
                            ))
                        }
                        _ => {
                            eprintln!(
                                "note: {}: removing a stale lock (process {} no longer runs)",
                                path.display(),
                                holder.trim()
                            );
                            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                        }
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::data(&path, "could not take the run directory's lock"))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

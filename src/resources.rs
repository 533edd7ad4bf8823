//! The up-front check that a request fits in memory: a batch or a frame size that cannot fit is
//! an error giving the size it needs, before anything is allocated, rather than a process the
//! out-of-memory killer ends minutes later.

use crate::error::{Error, Result};

/// Bytes of memory available to new allocations (Linux `MemAvailable`); None where unknown.
pub fn available_memory() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn gib(bytes: u128) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// Refuses `what` when it needs more than `bytes` of memory than is available. `bytes` is None
/// when computing it overflowed, which no machine has either.
pub fn ensure_fits(op: &'static str, what: &str, bytes: Option<u128>) -> Result<()> {
    let Some(available) = available_memory() else {
        return Ok(());
    };
    match bytes {
        Some(b) if b <= available => Ok(()),
        Some(b) => Err(Error::argument(
            op,
            format!(
                "{what} needs at least {:.1} GiB of memory, but {:.1} GiB is available; ask for less",
                gib(b),
                gib(available)
            ),
        )),
        None => Err(Error::argument(
            op,
            format!(
                "{what} needs more memory than can be counted ({:.1} GiB is available); ask for less",
                gib(available)
            ),
        )),
    }
}

/// `factors` multiplied without overflow (None if it overflows u128).
pub fn product(factors: &[usize]) -> Option<u128> {
    factors.iter().try_fold(1u128, |acc, &f| acc.checked_mul(f as u128))
}

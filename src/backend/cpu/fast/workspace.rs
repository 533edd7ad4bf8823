//! Per-thread scratch buffers, reused across calls and layers instead of reallocated per call.

use std::cell::RefCell;

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer grown to at least `len` elements. Contents are
/// whatever the last user left: callers overwrite before reading.
pub fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        f(&mut buf[..len])
    })
}

/// Bytes currently held by this thread's scratch buffer (for memory reports).
pub fn scratch_bytes() -> usize {
    SCRATCH.with(|cell| cell.borrow().capacity() * std::mem::size_of::<f32>())
}

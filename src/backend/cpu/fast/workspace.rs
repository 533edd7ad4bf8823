//! Per-thread scratch buffers, reused across calls and layers instead of reallocated per call.

use std::cell::RefCell;

thread_local! {
    static SCRATCH_F32: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static SCRATCH_F64: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Element types with a per-thread scratch buffer.
pub trait Scratch: Copy + Default + 'static {
    /// Runs `f` with this thread's scratch buffer grown to at least `len` elements. Contents are
    /// whatever the last user left: callers overwrite before reading. Not re-entrant: `f` must
    /// not call back into `with_scratch` (nor into rayon, which could run another task here).
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

fn grow<T: Copy + Default, R>(cell: &RefCell<Vec<T>>, len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let mut buf = cell.borrow_mut();
    if buf.len() < len {
        buf.resize(len, T::default());
    }
    f(&mut buf[..len])
}

impl Scratch for f32 {
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
        SCRATCH_F32.with(|cell| grow(cell, len, f))
    }
}

impl Scratch for f64 {
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
        SCRATCH_F64.with(|cell| grow(cell, len, f))
    }
}

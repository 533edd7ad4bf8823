//! Process-wide CPU compute settings: the thread count and flushing denormals to zero.

use crate::error::{Error, Result};

/// Sets flush-to-zero and denormals-are-zero on the calling thread. Denormal floats (tiny
/// activations and gradients early in training) are handled by slow microcode paths: in a
/// PyTorch reference of this training they made early epochs 10–20× slower.
pub fn flush_denormals_on_this_thread() {
    #[cfg(target_arch = "x86_64")]
    // Safety: reads and writes this thread's MXCSR; FTZ (bit 15) and DAZ (bit 6) only change how
    // denormals are treated, and no Rust code relies on denormal results.
    unsafe {
        let mut mxcsr: u32 = 0;
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut mxcsr, options(nostack));
        mxcsr |= (1 << 15) | (1 << 6);
        std::arch::asm!("ldmxcsr [{}]", in(reg) &mxcsr, options(nostack));
    }
}

/// Builds the global compute thread pool with `threads` threads (default: `RAYON_NUM_THREADS`,
/// else one per core), each flushing denormals. Call once, before any compute.
pub fn init_cpu_threads(threads: Option<usize>) -> Result<usize> {
    if threads == Some(0) {
        return Err(Error::argument("--threads", "must be at least 1"));
    }
    flush_denormals_on_this_thread();
    let mut builder = rayon::ThreadPoolBuilder::new().start_handler(|_| flush_denormals_on_this_thread());
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    builder
        .build_global()
        .map_err(|e| Error::argument("--threads", format!("cannot start the compute threads: {e}")))?;
    Ok(rayon::current_num_threads())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn denormals_flush_to_zero_after_the_call() {
        std::thread::spawn(|| {
            let tiny = std::hint::black_box(f32::MIN_POSITIVE);
            assert!(tiny / 4.0 > 0.0, "denormal result before FTZ");
            flush_denormals_on_this_thread();
            assert_eq!(std::hint::black_box(tiny) / 4.0, 0.0, "denormal result after FTZ");
        })
        .join()
        .unwrap();
    }
}

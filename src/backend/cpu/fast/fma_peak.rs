//! A short FMA-chain probe: the f32 multiply-add rate each SIMD level reaches on this machine
//! with the compute threads, so a benchmark table can say what the machine's peak is. Each
//! thread runs independent accumulator chains (enough to cover the FMA latency on two ports)
//! for a fixed count, so the rate is the FMA units' throughput, not memory's.

use std::time::Instant;

use rayon::prelude::*;

use super::isa::CpuIsa;

/// FMA steps per chain per round.
const STEPS: usize = 1 << 22;

/// GFLOP/s (2 per lane per FMA) of `level`'s widest FMA on all compute threads together, best
/// of three rounds; None where the level has no FMA (portable) or the CPU lacks it.
pub fn gflops(level: CpuIsa) -> Option<f64> {
    if !level.supported() || level == CpuIsa::Portable {
        return None;
    }
    let threads = rayon::current_num_threads();
    let mut best = f64::INFINITY;
    let mut flops_per_thread = 0.0;
    for _ in 0..3 {
        let start = Instant::now();
        let per_thread: Vec<f64> = (0..threads)
            .into_par_iter()
            .map(|t| {
                // Safety: the level is supported (checked above).
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    match level {
                        CpuIsa::Avx512 => chains::avx512(STEPS, t as f32),
                        _ => chains::avx2(STEPS, t as f32),
                    }
                }
                #[cfg(not(target_arch = "x86_64"))]
                (0.0, 0.0)
            })
            .map(|(flops, sink)| {
                std::hint::black_box(sink);
                flops
            })
            .collect();
        best = best.min(start.elapsed().as_secs_f64());
        flops_per_thread = per_thread.iter().sum::<f64>();
    }
    Some(flops_per_thread / best / 1e9)
}

#[cfg(target_arch = "x86_64")]
mod chains {
    use std::arch::x86_64::*;

    /// Independent accumulator chains: two FMA ports × 4-cycle latency need 8; 12 (AVX2) and
    /// 24 (AVX-512) leave room for a 5- or 6-cycle latency, within the register file.
    const YMM_CHAINS: usize = 12;
    const ZMM_CHAINS: usize = 24;

    /// (flops done, a value depending on every chain, so nothing is optimised away).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(steps: usize, seed: f32) -> (f64, f32) {
        let (m, a) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc: [__m256; YMM_CHAINS] = std::array::from_fn(|i| _mm256_set1_ps(seed + i as f32));
        for _ in 0..steps {
            for r in acc.iter_mut() {
                *r = _mm256_fmadd_ps(*r, m, a);
            }
        }
        let mut sum = _mm256_setzero_ps();
        for r in acc {
            sum = _mm256_add_ps(sum, r);
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
        ((steps * YMM_CHAINS * 8 * 2) as f64, lanes.iter().sum())
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(steps: usize, seed: f32) -> (f64, f32) {
        let (m, a) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc: [__m512; ZMM_CHAINS] = std::array::from_fn(|i| _mm512_set1_ps(seed + i as f32));
        for _ in 0..steps {
            for r in acc.iter_mut() {
                *r = _mm512_fmadd_ps(*r, m, a);
            }
        }
        let mut sum = _mm512_setzero_ps();
        for r in acc {
            sum = _mm512_add_ps(sum, r);
        }
        ((steps * ZMM_CHAINS * 16 * 2) as f64, _mm512_reduce_add_ps(sum))
    }
}

//! AVX-512 row kernels for tiling windows of width 2: `avx2.rs`'s kernels with sixteen windows
//! per 512-bit vector, the taps split by two-source permutes and the rows' tails handled by
//! lane masks. Same visiting order and comparison rule, so values and argmax agree with the
//! portable loops, the AVX2 kernels and the reference, bit for bit.
//!
//! Safe to call only where the CPU has AVX-512 F (`isa::CpuIsa::Avx512.supported()`), hence
//! `#[target_feature]`; slice bounds are checked once per row, and the raw loads and stores stay
//! inside them. Outputs are only written, never read, so they may be uninitialised.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

/// Windows per vector: sixteen f32 (or u32) lanes.
const LANES: usize = 16;

/// (start, windows) of the chunks that cover a row of `ow` windows, as in `avx2.rs`: whole
/// vectors, the last moved back to end at `ow` (it rewrites its predecessor's last windows with
/// the same values); only rows of fewer than 16 windows take a masked chunk.
fn chunks(ow: usize) -> impl Iterator<Item = (usize, usize)> {
    let last = match ow % LANES {
        0 => None,
        _ if ow > LANES => Some((ow - LANES, LANES)),
        _ => Some((0, ow)),
    };
    (0..ow / LANES).map(|k| (k * LANES, LANES)).chain(last)
}

/// The first `n` lanes (all for n ≥ 16).
fn first_lanes(n: usize) -> __mmask16 {
    if n >= LANES {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// The lanes where candidate `v` replaces the current best `b`: `v > b`, or `v` is NaN and `b`
/// is not (as `avx2::beats`).
#[inline]
#[target_feature(enable = "avx512f")]
fn beats(v: __m512, b: __m512) -> __mmask16 {
    _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(v, b) & _mm512_cmp_ps_mask::<_CMP_ORD_Q>(b, b)
}

/// The 32 floats of 16 width-2 windows at `p`, split into (left taps, right taps) in window
/// order; only the first `n` windows are read when `n < 16` (other lanes are 0).
///
/// Safety: `p .. p + 2n` must be readable.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn load_pairs(p: *const f32, n: usize) -> (__m512, __m512) {
    let (a, b) = if n == LANES {
        (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(LANES)))
    } else {
        (
            _mm512_maskz_loadu_ps(first_lanes(2 * n), p),
            _mm512_maskz_loadu_ps(first_lanes((2 * n).saturating_sub(LANES)), p.add(LANES)),
        )
    };
    // Index i < 16 picks a's lane i, 16 + i b's lane i.
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    (_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b))
}

/// Lane i's left tap sits at 2i within a chunk.
#[inline]
#[target_feature(enable = "avx512f")]
fn two_i() -> __m512i {
    _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
}

/// `avx2::max_row_w2` sixteen windows at a time: `best`, `arg` (ow windows) become the max and
/// its plane index over the window rows `first_row + dt·t_step + dh·h_step` of the plane `xp`,
/// visited in (dt, dh) order.
#[target_feature(enable = "avx512f")]
pub fn max_row_w2(
    xp: &[f32],
    first_row: usize,
    [kt, kh]: [usize; 2],
    [t_step, h_step]: [usize; 2],
    best: &mut [MaybeUninit<f32>],
    arg: &mut [MaybeUninit<u32>],
) {
    let ow = best.len();
    assert_eq!(arg.len(), ow);
    assert!(kt > 0 && kh > 0);
    let last_row = first_row + (kt - 1) * t_step + (kh - 1) * h_step;
    assert!(last_row + 2 * ow <= xp.len(), "window rows outside the plane");
    assert!(xp.len() <= u32::MAX as usize, "argmax is a u32 plane index");
    let one = _mm512_set1_epi32(1);
    for (c, n) in chunks(ow) {
        let (mut v, mut at) = (_mm512_setzero_ps(), _mm512_setzero_si512());
        for dt in 0..kt {
            for dh in 0..kh {
                let r = first_row + dt * t_step + dh * h_step + 2 * c;
                // Safety: r + 2n ≤ last_row + 2·ow ≤ xp.len(), asserted above.
                let (left, right) = unsafe { load_pairs(xp.as_ptr().add(r), n) };
                let right_wins = beats(right, left);
                let row_v = _mm512_mask_blend_ps(right_wins, left, right);
                // Plane index: r + 2i, plus 1 where the right tap won.
                let left_at = _mm512_add_epi32(_mm512_set1_epi32(r as i32), two_i());
                let row_at = _mm512_mask_add_epi32(left_at, right_wins, left_at, one);
                if dt == 0 && dh == 0 {
                    (v, at) = (row_v, row_at);
                } else {
                    let take = beats(row_v, v);
                    v = _mm512_mask_blend_ps(take, v, row_v);
                    at = _mm512_mask_blend_epi32(take, at, row_at);
                }
            }
        }
        // Safety: c + n ≤ ow = best.len() = arg.len(); MaybeUninit<T> has T's layout.
        unsafe {
            let (pb, pa) = (
                best.as_mut_ptr().add(c) as *mut f32,
                arg.as_mut_ptr().add(c) as *mut i32,
            );
            let mask = first_lanes(n);
            _mm512_mask_storeu_ps(pb, mask, v);
            _mm512_mask_storeu_epi32(pa, mask, at);
        }
    }
}

/// `avx2::spread_w2` sixteen windows at a time: each window row `first_row + dt·t_step +
/// dh·h_step` of the plane `gxp` gets, over its first 2·ow elements, each window's gradient `gy`
/// at the tap its argmax names and zero at the other.
#[target_feature(enable = "avx512f")]
pub fn spread_w2(
    gxp: &mut [MaybeUninit<f32>],
    first_row: usize,
    [kt, kh]: [usize; 2],
    [t_step, h_step]: [usize; 2],
    gy: &[f32],
    arg: &[u32],
) {
    let ow = gy.len();
    assert_eq!(arg.len(), ow);
    assert!(kt > 0 && kh > 0);
    let last_row = first_row + (kt - 1) * t_step + (kh - 1) * h_step;
    assert!(last_row + 2 * ow <= gxp.len(), "window rows outside the plane");
    assert!(gxp.len() <= u32::MAX as usize, "argmax is a u32 plane index");
    for (c, n) in chunks(ow) {
        let mask = first_lanes(n);
        // Safety: c + n ≤ ow = gy.len() = arg.len().
        let (d, a) = unsafe {
            (
                _mm512_maskz_loadu_ps(mask, gy.as_ptr().add(c)),
                _mm512_maskz_loadu_epi32(mask, arg.as_ptr().add(c) as *const i32),
            )
        };
        // The argmax relative to each window's first tap (row first_row, left).
        let tap = _mm512_sub_epi32(
            a,
            _mm512_add_epi32(_mm512_set1_epi32((first_row + 2 * c) as i32), two_i()),
        );
        for dt in 0..kt {
            for dh in 0..kh {
                let row = dt * t_step + dh * h_step;
                let left_tap = _mm512_set1_epi32(row as i32);
                let right_tap = _mm512_set1_epi32(row as i32 + 1);
                let left = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(tap, left_tap), d);
                let right = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(tap, right_tap), d);
                // Safety: first_row + row + 2(c + n) ≤ last_row + 2·ow ≤ gxp.len().
                unsafe {
                    store_pairs(
                        gxp.as_mut_ptr().add(first_row + row + 2 * c) as *mut f32,
                        n,
                        left,
                        right,
                    )
                };
            }
        }
    }
}

/// Stores 16 windows' (left, right) taps interleaved back to x order at `p`: 32 floats, or the
/// first `n` windows' 2n when `n < 16`.
///
/// Safety: `p .. p + 2n` must be writable.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn store_pairs(p: *mut f32, n: usize, left: __m512, right: __m512) {
    let lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    let first8 = _mm512_permutex2var_ps(left, lo_idx, right);
    let last8 = _mm512_permutex2var_ps(left, hi_idx, right);
    _mm512_mask_storeu_ps(p, first_lanes(2 * n), first8);
    _mm512_mask_storeu_ps(p.add(LANES), first_lanes((2 * n).saturating_sub(LANES)), last8);
}

//! AVX2 row kernels for tiling windows of width 2 (every C3D and VGG pool but pool5): eight
//! windows per 256-bit vector. Same visiting order and comparison as the portable loops — within
//! a window the earlier tap wins unless the later one is larger or the first NaN — so values and
//! argmax agree with them, and with the reference, bit for bit.
//!
//! The functions are safe to call only where the CPU has AVX2 (`is_x86_feature_detected!`), which
//! is why they carry `#[target_feature]`; slice bounds are checked once per row up front, and the
//! raw loads and stores below stay inside them. Outputs are only written, never read, so they may
//! be uninitialised.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

/// Windows per vector: eight f32 (or u32) lanes.
const LANES: usize = 8;

/// (start, windows) of the chunks that cover a row of `ow` windows: whole vectors of 8, the last
/// one moved back to end at `ow` where that leaves a remainder. It overlaps its predecessor, whose
/// last windows are computed and written again with the same values — cheaper than masked loads
/// and stores, which only rows of fewer than 8 windows need.
fn chunks(ow: usize) -> impl Iterator<Item = (usize, usize)> {
    let last = match ow % LANES {
        0 => None,
        _ if ow > LANES => Some((ow - LANES, LANES)),
        _ => Some((0, ow)),
    };
    (0..ow / LANES).map(|k| (k * LANES, LANES)).chain(last)
}

/// Lanes `i < n` all ones, the rest zero (all ones for n ≥ 8): the mask of a row narrower than
/// one vector.
#[inline]
#[target_feature(enable = "avx2")]
fn first_lanes(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

/// All ones in the lanes where candidate `v` replaces the current best `b`: `v > b`, or `v` is
/// NaN and `b` is not. `!(v <= b)` (unordered compare) is `v > b || v or b is NaN`; anding with
/// "b is a number" leaves exactly that rule.
#[inline]
#[target_feature(enable = "avx2")]
fn beats(v: __m256, b: __m256) -> __m256 {
    _mm256_and_ps(_mm256_cmp_ps::<_CMP_NLE_UQ>(v, b), _mm256_cmp_ps::<_CMP_ORD_Q>(b, b))
}

/// The 16 floats of 8 width-2 windows at `p`, split into (left taps, right taps) in window
/// order. Only the first `n` windows are read when `n < 8` (masked loads; other lanes are 0).
///
/// Safety: `p .. p + 2n` must be readable.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_pairs(p: *const f32, n: usize) -> (__m256, __m256) {
    let (a, b) = if n == LANES {
        (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(LANES)))
    } else {
        (
            _mm256_maskload_ps(p, first_lanes(2 * n)),
            _mm256_maskload_ps(p.add(LANES), first_lanes((2 * n).saturating_sub(LANES))),
        )
    };
    // a = x0..x7, b = x8..x15. The in-lane shuffles give [x0 x2 x8 x10 | x4 x6 x12 x14] (even)
    // and the odd taps alike; swapping the middle 64-bit quarters restores window order.
    const WINDOW_ORDER: i32 = 0b11_01_10_00;
    let left = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
    let right = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
    (
        _mm256_castpd_ps(_mm256_permute4x64_pd::<WINDOW_ORDER>(_mm256_castps_pd(left))),
        _mm256_castpd_ps(_mm256_permute4x64_pd::<WINDOW_ORDER>(_mm256_castps_pd(right))),
    )
}

/// Forward of one output row for kernel width 2: `best`, `arg` (ow windows) become the max and
/// its plane index over the window rows `first_row + dt·t_step + dh·h_step` (dt < kt, dh < kh)
/// of the plane `xp`, visited in (dt, dh) order. Each chunk of 8 windows is reduced over all its
/// rows in registers and stored once.
#[target_feature(enable = "avx2")]
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
    // Lane i's left tap sits at 2i within the chunk.
    let two_i = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (c, n) in chunks(ow) {
        let (mut v, mut at) = (_mm256_setzero_ps(), _mm256_setzero_si256());
        for dt in 0..kt {
            for dh in 0..kh {
                let r = first_row + dt * t_step + dh * h_step + 2 * c;
                // Safety: r + 2n ≤ last_row + 2·ow ≤ xp.len(), asserted above.
                let (left, right) = unsafe { load_pairs(xp.as_ptr().add(r), n) };
                let right_wins = beats(right, left);
                let row_v = _mm256_blendv_ps(left, right, right_wins);
                // Plane index: r + 2i, plus 1 where the right tap won (its mask's sign bit).
                let row_at = _mm256_add_epi32(
                    _mm256_add_epi32(_mm256_set1_epi32(r as i32), two_i),
                    _mm256_srli_epi32::<31>(_mm256_castps_si256(right_wins)),
                );
                if dt == 0 && dh == 0 {
                    (v, at) = (row_v, row_at);
                } else {
                    let take = beats(row_v, v);
                    v = _mm256_blendv_ps(v, row_v, take);
                    at = _mm256_castps_si256(_mm256_blendv_ps(
                        _mm256_castsi256_ps(at),
                        _mm256_castsi256_ps(row_at),
                        take,
                    ));
                }
            }
        }
        // Safety: c + n ≤ ow = best.len() = arg.len().
        unsafe {
            // MaybeUninit<T> has T's layout.
            let (pb, pa) = (
                best.as_mut_ptr().add(c) as *mut f32,
                arg.as_mut_ptr().add(c) as *mut i32,
            );
            if n == LANES {
                _mm256_storeu_ps(pb, v);
                _mm256_storeu_si256(pa as *mut __m256i, at);
            } else {
                let mask = first_lanes(n);
                _mm256_maskstore_ps(pb, mask, v);
                _mm256_maskstore_epi32(pa, mask, at);
            }
        }
    }
}

/// Backward of one output row for kernel width 2: each window row `first_row + dt·t_step +
/// dh·h_step` (dt < kt, dh < kh) of the plane `gxp` gets, over its first 2·ow elements, each
/// window's gradient `gy` at the tap its argmax names and zero at the other. gy and argmax are
/// loaded once per chunk of 8 windows for all the rows.
#[target_feature(enable = "avx2")]
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
    let two_i = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (c, n) in chunks(ow) {
        // Safety: c + n ≤ ow = gy.len() = arg.len().
        let (d, a) = unsafe {
            let (pd, pa) = (gy.as_ptr().add(c), arg.as_ptr().add(c));
            if n == LANES {
                (_mm256_loadu_ps(pd), _mm256_loadu_si256(pa as *const __m256i))
            } else {
                let mask = first_lanes(n);
                (
                    _mm256_maskload_ps(pd, mask),
                    _mm256_maskload_epi32(pa as *const i32, mask),
                )
            }
        };
        // The argmax relative to each window's first tap (row first_row, left): dt·t_step +
        // dh·h_step + dw for the tap that won.
        let tap = _mm256_sub_epi32(
            a,
            _mm256_add_epi32(_mm256_set1_epi32((first_row + 2 * c) as i32), two_i),
        );
        for dt in 0..kt {
            for dh in 0..kh {
                let row = dt * t_step + dh * h_step;
                let left_tap = _mm256_set1_epi32(row as i32);
                let left = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(tap, left_tap)), d);
                let right_tap = _mm256_add_epi32(left_tap, _mm256_set1_epi32(1));
                let right = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(tap, right_tap)), d);
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

/// Stores 8 windows' (left, right) taps interleaved back to x order at `p`: 16 floats, or the
/// first `n` windows' 2n when `n < 8` (masked stores).
///
/// Safety: `p .. p + 2n` must be writable.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_pairs(p: *mut f32, n: usize, left: __m256, right: __m256) {
    // unpack gives [l0 r0 l1 r1 | l4 r4 l5 r5] and [l2 r2 l3 r3 | l6 r6 l7 r7]; the 128-bit
    // halves then pair up as windows 0-3 and 4-7.
    let (lo, hi) = (_mm256_unpacklo_ps(left, right), _mm256_unpackhi_ps(left, right));
    let first4 = _mm256_permute2f128_ps::<0x20>(lo, hi);
    let last4 = _mm256_permute2f128_ps::<0x31>(lo, hi);
    if n == LANES {
        _mm256_storeu_ps(p, first4);
        _mm256_storeu_ps(p.add(LANES), last4);
    } else {
        _mm256_maskstore_ps(p, first_lanes(2 * n), first4);
        _mm256_maskstore_ps(p.add(LANES), first_lanes((2 * n).saturating_sub(LANES)), last4);
    }
}

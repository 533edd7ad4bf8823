//! B panels of a stride-1 packed convolution (`packed_conv.rs`) read from a zero-padded copy of
//! the input, with two vector loads and a blend per 8 columns and no branches.
//!
//! In the padded input xp (C, T + 2pt, H + 2ph, W + 2pw), tap (c, dt, dh, dw) of output position
//! (zt, zh, zw) is at `tap_offset(c, dt, dh, dw) + base(zt, zh, zw)`, both sums of strides: the
//! padding is read as the zeros it holds, and 8 consecutive positions of one output row are 8
//! consecutive floats. With output rows of at least 7 (C3D's conv5 has rows of 7), a vector of 8
//! positions spans at most two rows, so it is a blend of two unaligned loads whose offsets and
//! mask depend on the panel alone: they are worked out once per block, and each k of a slab
//! costs one table lookup.
//!
//! The panels hold exactly what `tap_run`'s im2col writes (the input's values, zero on the
//! padding); only columns past the block differ, and the tile never stores those. Results are
//! bit-identical to the other B packing.

use crate::backend::cpu::fast::microkernel::{tile_width, LANES, NR};
use crate::tensor::geometry::Conv3dGeometry;

/// Floats after the last sample's padded copy: a vector load starting at a block's last real
/// position may read up to LANES − 1 floats past it.
const SLACK: usize = 2 * LANES;

/// The padded extents (T + 2pt, H + 2ph, W + 2pw) of `g`'s input.
fn padded_extents(g: &Conv3dGeometry) -> [usize; 3] {
    [0, 1, 2].map(|a| g.input[a] + 2 * g.padding[a])
}

/// Whether `g` can take its B panels from a padded input: stride 1 everywhere and output rows of
/// at least LANES − 1, so that the lanes past a vector's first row all fit in the next row.
pub fn applies(g: &Conv3dGeometry) -> bool {
    g.stride == [1; 3] && g.output[2] + 1 >= LANES
}

/// Copies x (N, C, T, H, W) into `xp` as (N, C, T + 2pt, H + 2ph, W + 2pw) with zeros on the
/// padding, plus `SLACK` zeros at the end. `xp` is a buffer kept across calls.
pub fn pad_input(g: &Conv3dGeometry, x: &[f32], xp: &mut Vec<f32>) {
    use rayon::prelude::*;
    let [it, ih, iw] = g.input;
    let [pt, ph, pw] = g.padding;
    let [tp, hp, wp] = padded_extents(g);
    let planes = g.batch * g.in_channels;
    xp.clear();
    xp.resize(planes * tp * hp * wp + SLACK, 0.0);
    xp[..planes * tp * hp * wp]
        .par_chunks_mut(tp * hp * wp)
        .zip(x.par_chunks(it * ih * iw))
        .for_each(|(dst, src)| {
            for (t, frame) in src.chunks(ih * iw).enumerate() {
                for (h, row) in frame.chunks(iw).enumerate() {
                    let at = ((t + pt) * hp + h + ph) * wp + pw;
                    dst[at..at + iw].copy_from_slice(row);
                }
            }
        });
}

/// Length of one sample's padded copy (C, T + 2pt, H + 2ph, W + 2pw).
pub fn sample_len(g: &Conv3dGeometry) -> usize {
    g.in_channels * padded_extents(g).iter().product::<usize>()
}

/// Offset in the padded input of output position p of sample n, for tap offset 0.
pub fn position_base(g: &Conv3dGeometry, n: usize, p: usize) -> usize {
    let [_, oh, ow] = g.output;
    let [_, hp, wp] = padded_extents(g);
    n * sample_len(g) + ((p / (oh * ow)) * hp + (p / ow) % oh) * wp + p % ow
}

/// Offset in a padded sample of tap k of a slab ordered as in `packed_conv.rs`, k = (dt·C + c)·
/// KH·KW + dh·KW + dw, for k in k0 .. k1.
pub fn tap_offsets(g: &Conv3dGeometry, k0: usize, k1: usize) -> Vec<usize> {
    let [tp, hp, wp] = padded_extents(g);
    let [_, kh, kw] = g.kernel;
    let c = g.in_channels;
    (k0..k1)
        .map(|k| {
            let (dtc, hw) = (k / (kh * kw), k % (kh * kw));
            let (dt, ch) = (dtc / c, dtc % c);
            ((ch * tp + dt) * hp + hw / kw) * wp + hw % kw
        })
        .collect()
}

/// Where one vector of 8 block columns reads: lanes below `split` at `first + lane`, the others
/// at `second + lane` (offsets in the padded input, for tap offset 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VectorSource {
    first: usize,
    second: usize,
    split: usize,
}

/// The sources of every vector of a block of `cols` columns, panel by panel (NR / LANES vectors
/// a panel; a last, 8-wide panel has one); `base(q)` is column q's `position_base`. The block's
/// columns must be whole output rows of at least LANES − 1 positions, or parts of them (a block
/// may join rows of several samples), so that every vector spans at most two rows.
pub fn block_sources(cols: usize, base: impl Fn(usize) -> usize) -> Vec<VectorSource> {
    let vectors = (0..cols.div_ceil(NR))
        .map(|j| tile_width((cols - j * NR).min(NR)) / LANES)
        .sum();
    (0..vectors)
        .map(|v| {
            let q0 = v * LANES;
            let valid = (cols - q0).min(LANES);
            // Lanes past the block repeat the first row's addressing (their values are never
            // stored); a row change inside the vector starts the second source.
            let first = base(q0);
            let split = (1..valid).find(|&l| base(q0 + l) != first + l).unwrap_or(valid);
            let second = if split < valid { base(q0 + split) - split } else { first };
            debug_assert!(
                (split..valid).all(|l| base(q0 + l) == second + l),
                "a vector spans three rows"
            );
            VectorSource { first, second, split }
        })
        .collect()
}

/// Writes B panels `panels` of one slab for a block: panel j (at j·NR·depth in `b`, with rows of
/// `tile_width` of its columns) holds xp[tap_offsets[kk] + position] for each kk of the slab.
/// `sources` is `block_sources` of the block, `xp` the padded input.
///
/// # Safety
/// `xp` must hold every float the sources and offsets address (the padded samples and `SLACK`
/// floats after them), and `b` every panel written.
pub unsafe fn fill(
    xp: *const f32,
    taps: &[usize],
    sources: &[VectorSource],
    cols: usize,
    panels: (usize, usize),
    b: *mut f32,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::backend::cpu::fast::microkernel::has_avx2_fma() {
        return fill_avx2(xp, taps, sources, cols, panels, b);
    }
    fill_portable(xp, taps, sources, cols, panels, b)
}

/// `fill` lane by lane (CPUs without AVX2, and the check on the AVX2 one).
unsafe fn fill_portable(
    xp: *const f32,
    taps: &[usize],
    sources: &[VectorSource],
    cols: usize,
    panels: (usize, usize),
    b: *mut f32,
) {
    let depth = taps.len();
    for j in panels.0..panels.1 {
        let width = tile_width((cols - j * NR).min(NR));
        let dst = b.add(j * NR * depth);
        for v in 0..width / LANES {
            let s = sources[j * (NR / LANES) + v];
            for (kk, &tap) in taps.iter().enumerate() {
                for lane in 0..LANES {
                    let from = if lane < s.split { s.first } else { s.second };
                    *dst.add(kk * width + v * LANES + lane) = *xp.add(from + tap + lane);
                }
            }
        }
    }
}

/// `fill` with two loads and a blend per vector.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_avx2(
    xp: *const f32,
    taps: &[usize],
    sources: &[VectorSource],
    cols: usize,
    panels: (usize, usize),
    b: *mut f32,
) {
    use std::arch::x86_64::*;
    let depth = taps.len();
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for j in panels.0..panels.1 {
        let width = tile_width((cols - j * NR).min(NR));
        let dst = b.add(j * NR * depth);
        for v in 0..width / LANES {
            let s = sources[j * (NR / LANES) + v];
            // Lanes ≥ split take the second source (blendv selects on the sign bit).
            let mask = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lanes, _mm256_set1_epi32(s.split as i32 - 1)));
            let (first, second) = (xp.add(s.first), xp.add(s.second));
            for (kk, &tap) in taps.iter().enumerate() {
                let lo = _mm256_loadu_ps(first.add(tap));
                let hi = _mm256_loadu_ps(second.add(tap));
                _mm256_storeu_ps(dst.add(kk * width + v * LANES), _mm256_blendv_ps(lo, hi, mask));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::geometry::Conv3dOptions;
    use crate::tensor::Shape;

    fn geometry(input: [usize; 5], padding: [usize; 3]) -> Conv3dGeometry {
        Conv3dGeometry::new(
            &Shape::new(&input).unwrap(),
            &Shape::new(&[4, input[1], 3, 3, 3]).unwrap(),
            &Conv3dOptions {
                stride: [1; 3],
                padding,
            },
        )
        .unwrap()
    }

    /// The sources address, lane by lane, the padded index of each position worked out by hand:
    /// output 3 × 10 × 10 at padding 1 has padded rows of 12, frames of 12 × 12 = 144.
    #[test]
    fn vectors_that_cross_rows_and_frames_split_there() {
        let g = geometry([1, 2, 3, 10, 10], [1; 3]);
        assert_eq!(g.output, [3, 10, 10]);
        let sources = block_sources(16, |q| position_base(&g, 0, 96 + q));
        // Positions 96..104: (0, 9, 6..10) then (1, 0, 0..4).
        assert_eq!(
            sources[0],
            VectorSource {
                first: 9 * 12 + 6,
                second: 144 - 4,
                split: 4
            }
        );
        // Positions 104..112: (1, 0, 4..10) then (1, 1, 0..2).
        assert_eq!(
            sources[1],
            VectorSource {
                first: 144 + 4,
                second: 144 + 12 - 6,
                split: 6
            }
        );
        // A block of 5 columns: one 8-wide panel, lanes past the block keep the first source.
        let short = block_sources(5, |q| position_base(&g, 0, q));
        assert_eq!(
            short,
            vec![VectorSource {
                first: 0,
                second: 0,
                split: 5
            }]
        );
    }

    /// Panels filled from a small padded input (both the dispatched and the lane-by-lane
    /// fill) hold, for every tap of every block column, the input value indexed directly, or
    /// zero on the padding; output rows of 11 and of 7, the shortest `applies` takes.
    #[test]
    fn panels_hold_every_tap() {
        for (input, padding) in [([2, 3, 4, 9, 11], [1, 2, 1]), ([2, 3, 2, 7, 7], [1, 1, 1])] {
            let g = geometry(input, padding);
            assert!(applies(&g));
            let [it, ih, iw] = g.input;
            let x: Vec<f32> = (0..g.batch * g.in_channels * it * ih * iw)
                .map(|i| i as f32 + 1.0)
                .collect();
            let mut xp = Vec::new();
            pad_input(&g, &x, &mut xp);
            let [ot, oh, ow] = g.output;
            let p = ot * oh * ow;
            let (k0, k1) = (5, g.in_channels * 27 - 3);
            let taps = tap_offsets(&g, k0, k1);
            let depth = k1 - k0;
            // Blocks as the (sample, position) of each column: a whole sample, parts of one, and
            // the last rows of sample 0 joined to the first of sample 1.
            let range = |n: usize, from: usize, len: usize| (from..from + len).map(move |q| (n, q));
            let blocks: Vec<Vec<(usize, usize)>> = vec![
                range(0, 0, p).collect(),
                range(1, 13, 21).collect(),
                range(1, p - 9, 9).collect(),
                range(0, p - 2 * ow, 2 * ow).chain(range(1, 0, 3 * ow)).collect(),
            ];
            for block in blocks {
                let cols = block.len();
                let sources = block_sources(cols, |q| position_base(&g, block[q].0, block[q].1));
                let panels = cols.div_ceil(NR);
                let mut fast = vec![f32::NAN; panels * NR * depth];
                let mut plain = fast.clone();
                unsafe {
                    fill(xp.as_ptr(), &taps, &sources, cols, (0, panels), fast.as_mut_ptr());
                    fill_portable(xp.as_ptr(), &taps, &sources, cols, (0, panels), plain.as_mut_ptr());
                }
                for (col, &(n, pos)) in block.iter().enumerate().take(cols) {
                    let (j, q) = (col / NR, col % NR);
                    let width = tile_width((cols - j * NR).min(NR));
                    let (zt, zh, zw) = (pos / (oh * ow), (pos / ow) % oh, pos % ow);
                    for kk in 0..depth {
                        let k = k0 + kk;
                        let (dt, ch, dh, dw) = (k / 9 / 3, k / 9 % 3, k % 9 / 3, k % 3);
                        // Input coordinates, still shifted by the padding.
                        let (t, h, w) = (zt + dt, zh + dh, zw + dw);
                        let inside = (padding[0]..padding[0] + it).contains(&t)
                            && (padding[1]..padding[1] + ih).contains(&h)
                            && (padding[2]..padding[2] + iw).contains(&w);
                        let want = if inside {
                            let (t, h, w) = (t - padding[0], h - padding[1], w - padding[2]);
                            x[(((n * g.in_channels + ch) * it + t) * ih + h) * iw + w]
                        } else {
                            0.0
                        };
                        let at = j * NR * depth + kk * width + q;
                        assert_eq!(fast[at], want, "{input:?} n {n} column {col} position {pos} tap {k}");
                        assert_eq!(
                            plain[at], want,
                            "portable {input:?}: n {n} column {col} position {pos} tap {k}"
                        );
                    }
                }
            }
        }
    }
}

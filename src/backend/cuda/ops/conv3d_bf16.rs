//! Launchers of kernels/conv3d_bf16.cu: conv3d forward, input gradient and weight gradient on
//! bf16 tensor cores over channels-last tensors (layouts from `super::bf16`). Each picks a
//! tile configuration for its GEMM's shape and cuts K into slices when the tiles alone would
//! leave most of a large GPU idle; slices are summed in a fixed order by a second kernel.

use super::bf16::padded_channels;
use super::common::{self as c, empty, ptr};
use crate::backend::cuda::launcher::{KernelLauncher, LaunchConfig};
use crate::backend::cuda::params::{as_bytes, Conv3dBf16Params, StsmDiv};
use crate::error::{Error, Result};
use crate::tensor::geometry::Conv3dGeometry;
use crate::tensor::{DType, Tensor};
use std::sync::Arc;

/// A block tile of the GEMM output (kernels/conv3d_bf16.cu's TileConfig instances).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tile {
    /// 128×128, 8 warps of 64×32: large GEMMs.
    T128x128,
    /// 128×64, 4 warps of 64×32: GEMMs at most 64 wide (conv1a's 64 outputs).
    T128x64,
    /// 64×64, 4 warps of 32×32: GEMMs with few tiles (small batches, conv5).
    T64x64,
}

impl Tile {
    pub const ALL: [Tile; 3] = [Tile::T128x128, Tile::T128x64, Tile::T64x64];

    pub fn rows(self) -> usize {
        match self {
            Tile::T128x128 | Tile::T128x64 => 128,
            Tile::T64x64 => 64,
        }
    }
    pub fn cols(self) -> usize {
        match self {
            Tile::T128x128 => 128,
            Tile::T128x64 | Tile::T64x64 => 64,
        }
    }
    pub fn threads(self) -> u32 {
        match self {
            Tile::T128x128 => 256,
            Tile::T128x64 | Tile::T64x64 => 128,
        }
    }
    fn suffix(self) -> &'static str {
        match self {
            Tile::T128x128 => "128x128",
            Tile::T128x64 => "128x64",
            Tile::T64x64 => "64x64",
        }
    }
    fn tiles(self, rows: usize, cols: usize) -> usize {
        rows.div_ceil(self.rows()) * cols.div_ceil(self.cols())
    }
}

/// How one GEMM runs: its tile and the number of K slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub tile: Tile,
    pub splits: usize,
}

/// Streaming multiprocessors of the H100 the kernels are sized for.
const SMS: usize = 132;
/// Work items that fill it about twice (a second wave hides the first's tail).
const TARGET_ITEMS: usize = 2 * SMS;
/// A K slice of fewer 32-wide steps costs more in partial traffic than it gains.
const MIN_SLICE_STEPS: usize = 8;

/// The plan for a rows × cols GEMM with `steps` 32-wide K steps: the largest tile that still
/// gives a full wave of tiles (narrow GEMMs skip the 128-wide one), else the smallest tile and
/// enough K slices to reach about two waves.
pub fn plan(rows: usize, cols: usize, steps: usize) -> Plan {
    let candidates: &[Tile] = if cols <= 64 {
        &[Tile::T128x64, Tile::T64x64]
    } else {
        &Tile::ALL
    };
    let tile = candidates
        .iter()
        .copied()
        .find(|t| t.tiles(rows, cols) >= SMS)
        .unwrap_or(Tile::T64x64);
    let tiles = tile.tiles(rows, cols);
    let splits = if tiles >= SMS {
        1
    } else {
        TARGET_ITEMS.div_ceil(tiles).clamp(1, (steps / MIN_SLICE_STEPS).max(1))
    };
    Plan { tile, splits }
}

fn check(t: &Tensor, dtype: DType, dims: &[usize], op: &'static str, what: &str) -> Result<()> {
    if t.dtype() != dtype || t.dims() != dims {
        return Err(Error::shape(
            op,
            format!(
                "{what} must be {dtype:?} with dims {dims:?}, got {:?} with shape {}",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    c::fits_i32(t, op)
}

fn taps(g: &Conv3dGeometry) -> usize {
    g.kernel.iter().product()
}

/// Channels-last dims of the input and output with padded channels.
fn x_dims(g: &Conv3dGeometry) -> [usize; 5] {
    let [t, h, w] = g.input;
    [g.batch, t, h, w, padded_channels(g.in_channels)]
}
fn y_dims(g: &Conv3dGeometry) -> [usize; 5] {
    let [t, h, w] = g.output;
    [g.batch, t, h, w, padded_channels(g.out_channels)]
}

/// The geometry part of the parameters, with the row grid (T', H', W') or (T, H, W).
fn params(g: &Conv3dGeometry, row_grid: [usize; 3], vecs: usize, op: &'static str) -> Result<Conv3dBf16Params> {
    let i = |v: usize| c::i32_of(v, op);
    let (cp, opad) = (padded_channels(g.in_channels), padded_channels(g.out_channels));
    // Every index the kernels form stays below the largest operand's element count.
    for n in [
        x_dims(g).iter().product::<usize>(),
        y_dims(g).iter().product(),
        g.out_channels * taps(g) * cp,
        g.in_channels * taps(g) * opad,
    ] {
        i(n)?;
    }
    Ok(Conv3dBf16Params {
        batch: i(g.batch)?,
        in_ch: i(g.in_channels)?,
        out_ch: i(g.out_channels)?,
        in_chp: i(cp)?,
        out_chp: i(opad)?,
        in_t: i(g.input[0])?,
        in_h: i(g.input[1])?,
        in_w: i(g.input[2])?,
        k_t: i(g.kernel[0])?,
        k_h: i(g.kernel[1])?,
        k_w: i(g.kernel[2])?,
        s_t: i(g.stride[0])?,
        s_h: i(g.stride[1])?,
        s_w: i(g.stride[2])?,
        p_t: i(g.padding[0])?,
        p_h: i(g.padding[1])?,
        p_w: i(g.padding[2])?,
        out_t: i(g.output[0])?,
        out_h: i(g.output[1])?,
        out_w: i(g.output[2])?,
        div_vecs: StsmDiv::new(vecs),
        div_kw: StsmDiv::new(g.kernel[2]),
        div_kh: StsmDiv::new(g.kernel[1]),
        div_w: StsmDiv::new(row_grid[2]),
        div_h: StsmDiv::new(row_grid[1]),
        div_t: StsmDiv::new(row_grid[0]),
        div_st: StsmDiv::new(g.stride[0]),
        div_sh: StsmDiv::new(g.stride[1]),
        div_sw: StsmDiv::new(g.stride[2]),
        ..Default::default()
    })
}

/// Fills in the plan's slicing and launches `<base>_<tile>` over every work item.
fn launch_gemm(
    l: &Arc<dyn KernelLauncher>,
    base: &str,
    mut p: Conv3dBf16Params,
    (rows, cols, steps): (usize, usize, usize),
    plan: Plan,
    op: &'static str,
) -> Result<Conv3dBf16Params> {
    let splits = plan.splits.clamp(1, steps.max(1));
    let split_steps = steps.div_ceil(splits).max(1);
    let tiles_n = cols.div_ceil(plan.tile.cols());
    let tiles = rows.div_ceil(plan.tile.rows()) * tiles_n;
    let items = c::i32_of(tiles * splits, op)?;
    p.k_splits = c::i32_of(splits, op)?;
    p.split_steps = c::i32_of(split_steps, op)?;
    p.div_tiles_n = StsmDiv::new(tiles_n);
    p.div_tiles = StsmDiv::new(tiles);
    let cfg = LaunchConfig::linear(items.max(1) as u32, plan.tile.threads(), 0);
    let name = format!("{base}_{}", plan.tile.suffix());
    // SAFETY: the callers allocate every tensor p points to with the dims derived from the
    // same geometry, and the partial workspace for `splits` slices when it is used.
    unsafe { l.launch(&name, &cfg, as_bytes(&p))? };
    Ok(p)
}

/// What the forward and input gradient return: the bf16 channels-last result (pad channels
/// 0) and, when asked (tests), the same values in fp32 before rounding, channels unpadded.
pub struct Bf16Output {
    pub bf16: Tensor,
    pub f32: Option<Tensor>,
}

/// y = relu?(conv3d(x, w) + b): x (N, T, H, W, Cp) bf16, w (O, taps, Cp) bf16 from
/// `bf16::forward_weights`, b (O) f32. y (N, T', H', W', Op) bf16.
pub fn forward(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    g: &Conv3dGeometry,
    relu: bool,
    keep_f32: bool,
) -> Result<Bf16Output> {
    let (rows, cols, steps) = forward_gemm(g);
    forward_with(x, w, bias, g, relu, keep_f32, plan(rows, cols, steps))
}

/// The forward GEMM's rows, columns and K steps.
pub fn forward_gemm(g: &Conv3dGeometry) -> (usize, usize, usize) {
    let rows = g.batch * g.output.iter().product::<usize>();
    let k = taps(g) * padded_channels(g.in_channels);
    (rows, padded_channels(g.out_channels), k.div_ceil(32))
}

/// `forward` with a given plan (tests cover every tile and slicing).
#[allow(clippy::too_many_arguments)]
pub fn forward_with(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    g: &Conv3dGeometry,
    relu: bool,
    keep_f32: bool,
    plan: Plan,
) -> Result<Bf16Output> {
    const OP: &str = "conv3d_bf16";
    check(x, DType::BF16, &x_dims(g), OP, "input (N, T, H, W, Cp)")?;
    let cp = padded_channels(g.in_channels);
    check(
        w,
        DType::BF16,
        &[g.out_channels, taps(g), cp],
        OP,
        "weight (O, taps, Cp)",
    )?;
    if let Some(b) = bias {
        check(b, DType::F32, &[g.out_channels], OP, "bias (O)")?;
    }
    let l = c::launcher(x, OP)?;
    let (rows, cols, steps) = forward_gemm(g);
    let y = empty(&l, &y_dims(g), DType::BF16)?;
    let (y32, splits, partial) =
        f32_copy_and_workspace(&l, g, g.output, g.out_channels, keep_f32, plan, (rows, cols, steps))?;
    let p = Conv3dBf16Params {
        x: ptr(x, OP)?,
        w: ptr(w, OP)?,
        b: c::opt_ptr(bias, OP)?,
        out: ptr(&y, OP)?,
        out_f32: c::opt_ptr(y32.as_ref(), OP)?,
        partial: c::opt_ptr(partial.as_ref(), OP)?,
        relu: relu as i32,
        ..params(g, g.output, cp / 8, OP)?
    };
    c::i32_of(splits * rows * cols, OP)?;
    let p = launch_gemm(&l, "conv3d_fwd_bf16", p, (rows, cols, steps), plan, OP)?;
    if splits > 1 {
        // SAFETY: as in launch_gemm; the reduction reads the partials and writes y (and y32).
        unsafe { l.launch("conv3d_fwd_bf16_splitk_store", &c::flat(rows * cols), as_bytes(&p))? };
    }
    Ok(Bf16Output { bf16: y, f32: y32 })
}

/// What the forward and input-gradient launchers allocate beside their bf16 output: the
/// test-only fp32 copy (N, T, H, W, channels) when `keep_f32`, the number of K slices, and the
/// split-K workspace (slices, GEMM rows, GEMM cols) f32 when there is more than one slice.
fn f32_copy_and_workspace(
    l: &Arc<dyn KernelLauncher>,
    g: &Conv3dGeometry,
    [t, h, w]: [usize; 3],
    channels: usize,
    keep_f32: bool,
    plan: Plan,
    (rows, cols, steps): (usize, usize, usize),
) -> Result<(Option<Tensor>, usize, Option<Tensor>)> {
    let copy = keep_f32
        .then(|| empty(l, &[g.batch, t, h, w, channels], DType::F32))
        .transpose()?;
    let splits = plan.splits.clamp(1, steps.max(1));
    let partial = (splits > 1)
        .then(|| empty(l, &[splits, rows, cols], DType::F32))
        .transpose()?;
    Ok((copy, splits, partial))
}

/// The input gradient's GEMM rows, columns and K steps.
pub fn x_backward_gemm(g: &Conv3dGeometry) -> (usize, usize, usize) {
    let rows = g.batch * g.input.iter().product::<usize>();
    let k = taps(g) * padded_channels(g.out_channels);
    (rows, padded_channels(g.in_channels), k.div_ceil(32))
}

/// gx = conv3d input gradient, gathered: gy (N, T', H', W', Op) bf16, w (C, taps, Op) bf16
/// from `bf16::x_backward_weights`. gx (N, T, H, W, Cp) bf16.
pub fn x_backward(gy: &Tensor, w: &Tensor, g: &Conv3dGeometry, keep_f32: bool) -> Result<Bf16Output> {
    let (rows, cols, steps) = x_backward_gemm(g);
    x_backward_with(gy, w, g, keep_f32, plan(rows, cols, steps))
}

pub fn x_backward_with(gy: &Tensor, w: &Tensor, g: &Conv3dGeometry, keep_f32: bool, plan: Plan) -> Result<Bf16Output> {
    const OP: &str = "conv3d_bf16_x_backward";
    check(gy, DType::BF16, &y_dims(g), OP, "output gradient (N, T', H', W', Op)")?;
    let opad = padded_channels(g.out_channels);
    check(
        w,
        DType::BF16,
        &[g.in_channels, taps(g), opad],
        OP,
        "weight (C, taps, Op)",
    )?;
    let l = c::launcher(gy, OP)?;
    let (rows, cols, steps) = x_backward_gemm(g);
    let gx = empty(&l, &x_dims(g), DType::BF16)?;
    let (gx32, splits, partial) =
        f32_copy_and_workspace(&l, g, g.input, g.in_channels, keep_f32, plan, (rows, cols, steps))?;
    let p = Conv3dBf16Params {
        gy: ptr(gy, OP)?,
        w: ptr(w, OP)?,
        out: ptr(&gx, OP)?,
        out_f32: c::opt_ptr(gx32.as_ref(), OP)?,
        partial: c::opt_ptr(partial.as_ref(), OP)?,
        ..params(g, g.input, opad / 8, OP)?
    };
    c::i32_of(splits * rows * cols, OP)?;
    let p = launch_gemm(&l, "conv3d_xbwd_bf16", p, (rows, cols, steps), plan, OP)?;
    if splits > 1 {
        // SAFETY: as in forward_with.
        unsafe { l.launch("conv3d_xbwd_bf16_splitk_store", &c::flat(rows * cols), as_bytes(&p))? };
    }
    Ok(Bf16Output { bf16: gx, f32: gx32 })
}

/// The weight gradient's GEMM rows, columns and K steps.
pub fn weight_backward_gemm(g: &Conv3dGeometry) -> (usize, usize, usize) {
    let positions = g.batch * g.output.iter().product::<usize>();
    (
        g.out_channels,
        taps(g) * padded_channels(g.in_channels),
        positions.div_ceil(32),
    )
}

/// gw (O, C, KT, KH, KW) f32 from gy (N, T', H', W', Op) bf16 and x (N, T, H, W, Cp) bf16:
/// fp32 partial products per K slice, summed in slice order (deterministic, no atomics).
pub fn weight_backward(gy: &Tensor, x: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
    let (rows, cols, steps) = weight_backward_gemm(g);
    weight_backward_with(gy, x, g, plan(rows, cols, steps))
}

pub fn weight_backward_with(gy: &Tensor, x: &Tensor, g: &Conv3dGeometry, plan: Plan) -> Result<Tensor> {
    const OP: &str = "conv3d_bf16_weight_backward";
    check(gy, DType::BF16, &y_dims(g), OP, "output gradient (N, T', H', W', Op)")?;
    check(x, DType::BF16, &x_dims(g), OP, "input (N, T, H, W, Cp)")?;
    let l = c::launcher(gy, OP)?;
    let (rows, cols, steps) = weight_backward_gemm(g);
    let splits = plan.splits.clamp(1, steps.max(1));
    let gw = empty(&l, &g.weight_dims(), DType::F32)?;
    let partial = empty(&l, &[splits, rows, cols], DType::F32)?;
    let p = Conv3dBf16Params {
        gy: ptr(gy, OP)?,
        x: ptr(x, OP)?,
        out_f32: ptr(&gw, OP)?,
        partial: ptr(&partial, OP)?,
        ..params(g, g.output, padded_channels(g.in_channels) / 8, OP)?
    };
    c::i32_of(splits * rows * cols, OP)?;
    let p = launch_gemm(&l, "conv3d_wbwd_bf16", p, (rows, cols, steps), plan, OP)?;
    // SAFETY: as in forward_with; the reduction reads the partials and writes gw.
    unsafe { l.launch("conv3d_wbwd_bf16_reduce", &c::flat(gw.numel()), as_bytes(&p))? };
    Ok(gw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_follow_the_shape_class() {
        // conv2a at batch 32: 32·16·56·56 rows × 128 columns: big tiles, no slices.
        let p = plan(32 * 16 * 56 * 56, 128, 27 * 64 / 32);
        assert_eq!(
            p,
            Plan {
                tile: Tile::T128x128,
                splits: 1
            }
        );
        // conv1a: 64 output channels: the 64-wide tile.
        assert_eq!(plan(32 * 16 * 112 * 112, 64, 27).tile, Tile::T128x64);
        // conv5a at batch 1: 98 positions × 512: 16 small tiles, K sliced towards two waves.
        let p = plan(98, 512, 27 * 512 / 32);
        assert_eq!(p.tile, Tile::T64x64);
        assert_eq!(p.splits, TARGET_ITEMS.div_ceil(16));
        // A short K is never sliced below MIN_SLICE_STEPS steps.
        assert_eq!(plan(10, 8, 9).splits, 1);
    }
}

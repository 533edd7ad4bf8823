//! Launchers of kernels/bf16.cu: f32 <-> bf16 on the device, and the layouts the tensor-core
//! convolutions read (channels-last activations with channels padded to a multiple of 8, and
//! the two GEMM weight layouts, made once per step).

use super::common::{self as c, empty, ptr};
use crate::backend::cuda::params::{as_bytes, Bf16LayoutParams};
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// A channel count rounded up to whole 16-byte vectors of bf16.
pub fn padded_channels(channels: usize) -> usize {
    channels.div_ceil(8) * 8
}

fn expect(t: &Tensor, dtype: DType, rank: usize, op: &'static str, what: &str) -> Result<()> {
    if t.dtype() != dtype || t.rank() != rank {
        return Err(Error::type_mismatch(
            op,
            format!(
                "{what} must be a rank-{rank} {dtype:?} tensor, got {:?} with shape {}",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    c::fits_i32(t, op)
}

fn run(
    src: &Tensor,
    dims: &[usize],
    dtype: DType,
    kernel: &str,
    p: Bf16LayoutParams,
    op: &'static str,
) -> Result<Tensor> {
    let l = c::launcher(src, op)?;
    let dst = empty(&l, dims, dtype)?;
    let n = dst.numel();
    c::i32_of(n, op)?;
    let p = Bf16LayoutParams {
        src: ptr(src, op)?,
        dst: ptr(&dst, op)?,
        n: n as i64,
        ..p
    };
    // SAFETY: every kernel of bf16.cu writes dst's n elements and reads src within the shape
    // the caller derived p's sizes from.
    unsafe { l.launch(kernel, &c::flat(n), as_bytes(&p))? };
    Ok(dst)
}

/// Any f32 tensor rounded to bf16 (nearest even; NaN becomes 0x7FFF), same dims.
pub fn f32_to_bf16(x: &Tensor) -> Result<Tensor> {
    const OP: &str = "to_bf16";
    expect(x, DType::F32, x.rank(), OP, "input")?;
    run(
        x,
        x.dims(),
        DType::BF16,
        "convert_f32_to_bf16",
        Bf16LayoutParams::default(),
        OP,
    )
}

/// Any bf16 tensor widened to f32 (exact), same dims.
pub fn bf16_to_f32(x: &Tensor) -> Result<Tensor> {
    const OP: &str = "to_f32";
    expect(x, DType::BF16, x.rank(), OP, "input")?;
    run(
        x,
        x.dims(),
        DType::F32,
        "convert_bf16_to_f32",
        Bf16LayoutParams::default(),
        OP,
    )
}

fn dims5(t: &Tensor) -> [usize; 5] {
    let d = t.dims();
    [d[0], d[1], d[2], d[3], d[4]]
}

/// Activations (N, C, T, H, W) f32 -> (N, T, H, W, Cp) bf16, pad channels 0.
pub fn to_channels_last(x: &Tensor) -> Result<Tensor> {
    const OP: &str = "to_channels_last_bf16";
    expect(x, DType::F32, 5, OP, "activations (N, C, T, H, W)")?;
    let [n, ch, t, h, w] = dims5(x);
    let cp = padded_channels(ch);
    let p = Bf16LayoutParams {
        outer: c::i32_of(n, OP)?,
        channels: c::i32_of(ch, OP)?,
        channels_p: c::i32_of(cp, OP)?,
        inner: c::i32_of(t * h * w, OP)?,
        ..Default::default()
    };
    run(x, &[n, t, h, w, cp], DType::BF16, "to_channels_last_bf16", p, OP)
}

/// Channels-last (N, T, H, W, Cp) bf16 -> (N, C, T, H, W) f32 for the first `channels`.
pub fn from_channels_last(x: &Tensor, channels: usize) -> Result<Tensor> {
    const OP: &str = "from_channels_last_bf16";
    expect(x, DType::BF16, 5, OP, "activations (N, T, H, W, Cp)")?;
    let [n, t, h, w, cp] = dims5(x);
    if channels == 0 || padded_channels(channels) != cp {
        return Err(Error::shape(
            OP,
            format!("{channels} channels do not pad to the {cp} of {}", x.shape()),
        ));
    }
    let p = Bf16LayoutParams {
        outer: c::i32_of(n, OP)?,
        channels: c::i32_of(channels, OP)?,
        channels_p: c::i32_of(cp, OP)?,
        inner: c::i32_of(t * h * w, OP)?,
        ..Default::default()
    };
    run(x, &[n, channels, t, h, w], DType::F32, "from_channels_last_bf16", p, OP)
}

/// Forward GEMM weights: (O, C, KT, KH, KW) f32 -> (O, KT·KH·KW, Cp) bf16, pad channels 0.
pub fn forward_weights(w: &Tensor) -> Result<Tensor> {
    const OP: &str = "conv3d_bf16_forward_weights";
    expect(w, DType::F32, 5, OP, "weight (O, C, KT, KH, KW)")?;
    let [o, ch, kt, kh, kw] = dims5(w);
    let (taps, cp) = (kt * kh * kw, padded_channels(ch));
    let p = Bf16LayoutParams {
        outer: c::i32_of(o, OP)?,
        channels: c::i32_of(ch, OP)?,
        channels_p: c::i32_of(cp, OP)?,
        inner: c::i32_of(taps, OP)?,
        ..Default::default()
    };
    run(w, &[o, taps, cp], DType::BF16, "to_channels_last_bf16", p, OP)
}

/// Input-gradient GEMM weights: (O, C, KT, KH, KW) f32 -> (C, KT·KH·KW, Op) bf16, pad 0.
pub fn x_backward_weights(w: &Tensor) -> Result<Tensor> {
    const OP: &str = "conv3d_bf16_x_backward_weights";
    expect(w, DType::F32, 5, OP, "weight (O, C, KT, KH, KW)")?;
    let [o, ch, kt, kh, kw] = dims5(w);
    let (taps, op) = (kt * kh * kw, padded_channels(o));
    let p = Bf16LayoutParams {
        outer: c::i32_of(o, OP)?,
        channels: c::i32_of(o, OP)?,
        channels_p: c::i32_of(op, OP)?,
        inner: c::i32_of(taps, OP)?,
        ..Default::default()
    };
    run(w, &[ch, taps, op], DType::BF16, "weight_to_xgemm_bf16", p, OP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_pad_to_whole_vectors() {
        assert_eq!(padded_channels(3), 8);
        assert_eq!(padded_channels(8), 8);
        assert_eq!(padded_channels(9), 16);
        assert_eq!(padded_channels(512), 512);
    }
}

//! The f32 SGD update of the fast path, one vector of parameters at a time at the AVX2 and
//! AVX-512 levels. Each element gets the reference's formula (`reference::optim::
//! sgd_step_into`) with the same roundings in the same order (separate multiplies and adds, no
//! FMA), so the bits equal the reference's at every level and for any split into chunks.

use super::isa::{self, CpuIsa};
use crate::backend::cpu::reference;
use crate::backend::optim::SgdStep;
use crate::tensor::Float;

/// The float types the fast SGD update runs in: f32 vectorised here, f64 on the reference loop.
pub trait SgdFloat: Float {
    /// `reference::optim::sgd_step_into`, with the same bits.
    fn step_into(p: &[Self], g: &[Self], buf: Option<&[Self]>, h: &SgdStep, new_p: &mut [Self], new_buf: &mut [Self]) {
        reference::optim::sgd_step_into(p, g, buf, h, new_p, new_buf)
    }
}

impl SgdFloat for f64 {}

impl SgdFloat for f32 {
    fn step_into(p: &[f32], g: &[f32], buf: Option<&[f32]>, h: &SgdStep, new_p: &mut [f32], new_buf: &mut [f32]) {
        step_into(p, g, buf, h, new_p, new_buf)
    }
}

/// `reference::optim::sgd_step_into` for f32 (all slices of one length), vectorised at the
/// active ISA level; the last elements that fill no vector take the reference loop.
pub fn step_into(p: &[f32], g: &[f32], buf: Option<&[f32]>, h: &SgdStep, new_p: &mut [f32], new_buf: &mut [f32]) {
    let n = p.len();
    assert!(
        g.len() == n && new_p.len() == n && new_buf.len() == n && buf.is_none_or(|b| b.len() == n),
        "sgd step: slices of different lengths"
    );
    #[cfg(target_arch = "x86_64")]
    // Safety: the level is this CPU's (`isa::set_active` checks), and every slice holds n floats.
    let done = unsafe {
        match isa::active() {
            CpuIsa::Avx512 => simd::avx512(p, g, buf, h, new_p, new_buf),
            CpuIsa::Avx2 => simd::avx2(p, g, buf, h, new_p, new_buf),
            CpuIsa::Portable => 0,
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    reference::optim::sgd_step_into(
        &p[done..],
        &g[done..],
        buf.map(|b| &b[done..]),
        h,
        &mut new_p[done..],
        &mut new_buf[done..],
    );
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::SgdStep;

    /// A kernel over the whole vectors of the slices, returning how many elements it did:
    /// d = g·scale + wd·p; b = mu·buf + (1 − damp)·d (d without a buffer); step = d (mu = 0),
    /// d + mu·b (Nesterov) or b; p' = p − lr·step, buf' = b.
    macro_rules! kernel {
        ($name:ident, $feature:literal, $lanes:expr, $load:ident, $store:ident, $set1:ident, $mul:ident, $add:ident, $sub:ident) => {
            #[target_feature(enable = $feature)]
            pub unsafe fn $name(
                p: &[f32],
                g: &[f32],
                buf: Option<&[f32]>,
                h: &SgdStep,
                new_p: &mut [f32],
                new_buf: &mut [f32],
            ) -> usize {
                let n = p.len() / $lanes * $lanes;
                let (lr, wd, mu, damp, scale) = (
                    h.lr as f32,
                    h.weight_decay as f32,
                    h.momentum as f32,
                    h.dampening as f32,
                    h.grad_scale as f32,
                );
                let (vlr, vwd, vmu, vkeep, vscale) = ($set1(lr), $set1(wd), $set1(mu), $set1(1.0 - damp), $set1(scale));
                for i in (0..n).step_by($lanes) {
                    let pv = $load(p.as_ptr().add(i));
                    let d = $add($mul($load(g.as_ptr().add(i)), vscale), $mul(vwd, pv));
                    let b = match buf {
                        Some(bb) => $add($mul(vmu, $load(bb.as_ptr().add(i))), $mul(vkeep, d)),
                        None => d,
                    };
                    let step = if mu == 0.0 {
                        d
                    } else if h.nesterov {
                        $add(d, $mul(vmu, b))
                    } else {
                        b
                    };
                    $store(new_p.as_mut_ptr().add(i), $sub(pv, $mul(vlr, step)));
                    $store(new_buf.as_mut_ptr().add(i), b);
                }
                n
            }
        };
    }

    kernel!(
        avx2,
        "avx2",
        8,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_set1_ps,
        _mm256_mul_ps,
        _mm256_add_ps,
        _mm256_sub_ps
    );
    kernel!(
        avx512,
        "avx512f",
        16,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_set1_ps,
        _mm512_mul_ps,
        _mm512_add_ps,
        _mm512_sub_ps
    );
}

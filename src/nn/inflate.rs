//! 2D → 3D inflation (Carreira & Zisserman's trick, as the paper's VGG-3D): every 2D conv kernel
//! is repeated along time and divided by the temporal size, so a static video gives the 2D
//! network's activations away from the temporal borders; or, with `center`, placed in the middle
//! time slice with zeros elsewhere. Biases and fully connected layers are copied unchanged.

use super::checkpoint::{Checkpoint, CheckpointMeta};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InflateOptions {
    /// Temporal kernel size KT (odd, so "same" padding keeps the length).
    pub time_kernel: usize,
    /// Middle-slice init instead of repeat-and-divide.
    pub center: bool,
    /// Clip length the inflated model is configured for.
    pub frames: usize,
}

/// (O, I, KH, KW) or (O, I, 1, KH, KW) -> (O, I, KT, KH, KW).
pub fn inflate_conv_weight(name: &str, w: &Tensor, opts: &InflateOptions) -> Result<Tensor> {
    let (o, i, kh, kw) = match *w.dims() {
        [o, i, kh, kw] | [o, i, 1, kh, kw] => (o, i, kh, kw),
        _ => {
            return Err(Error::shape(
                "inflate",
                format!(
                    "{name}: expected a 2D conv weight (O, I, KH, KW) or (O, I, 1, KH, KW), got {}",
                    w.shape()
                ),
            ))
        }
    };
    let kt = opts.time_kernel;
    let plane = kh * kw;
    let src = w.to_f64_vec()?;
    let mut out = vec![0.0; o * i * kt * plane];
    for (oi, kernel) in src.chunks(plane).enumerate() {
        for t in 0..kt {
            let dst = &mut out[(oi * kt + t) * plane..][..plane];
            if !opts.center {
                dst.iter_mut().zip(kernel).for_each(|(d, &s)| *d = s / kt as f64);
            } else if t == kt / 2 {
                dst.copy_from_slice(kernel);
            }
        }
    }
    Tensor::from_vec(&[o, i, kt, kh, kw], out)?.to_dtype(w.dtype())
}

/// The named tensors of an inflated checkpoint, and its metadata when the 2D one had some.
pub type InflatedCheckpoint = (Vec<(String, Tensor)>, Option<CheckpointMeta>);

/// Inflates every conv weight of a 2D checkpoint (rank 4, or rank 5 with KT = 1) and copies the
/// rest. Our own 2D checkpoints carry a config, which becomes the 3D model's config.
pub fn inflate_checkpoint(ckpt: &Checkpoint, opts: &InflateOptions) -> Result<InflatedCheckpoint> {
    if opts.time_kernel.is_multiple_of(2) || opts.time_kernel == 0 {
        return Err(Error::argument(
            "inflate",
            format!("--time-kernel {} must be odd", opts.time_kernel),
        ));
    }
    let is_2d_conv = |t: &Tensor| t.rank() == 4 || (t.rank() == 5 && t.dims()[2] == 1);
    let mut tensors = Vec::with_capacity(ckpt.tensors.len());
    let mut inflated = 0;
    for (name, t) in &ckpt.tensors {
        if is_2d_conv(t) {
            tensors.push((name.clone(), inflate_conv_weight(name, t, opts)?));
            inflated += 1;
        } else {
            tensors.push((name.clone(), t.clone()));
        }
    }
    if inflated == 0 {
        return Err(Error::argument(
            "inflate",
            "the checkpoint holds no 2D conv weight to inflate",
        ));
    }
    let meta = ckpt.meta.clone().map(|mut m| {
        m.model.conv_kernel[0] = opts.time_kernel;
        m.model.input[0] = opts.frames;
        m.model.preset = match m.model.preset.strip_suffix("2d") {
            Some(stem) => format!("{stem}3d"),
            None => "custom".into(),
        };
        let how = if opts.center { "center" } else { "repeat / KT" };
        m.notes
            .insert("inflated".into(), format!("2D -> 3D, KT = {}, {how}", opts.time_kernel));
        m
    });
    Ok((tensors, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_divides_and_center_places_the_middle_slice() {
        let w = Tensor::from_vec(&[1, 1, 1, 2], vec![3.0f64, 6.0]).unwrap();
        let opts = InflateOptions {
            time_kernel: 3,
            center: false,
            frames: 16,
        };
        let r = inflate_conv_weight("w", &w, &opts).unwrap();
        assert_eq!(r.dims(), [1, 1, 3, 1, 2]);
        assert_eq!(r.to_vec::<f64>().unwrap(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
        let c = inflate_conv_weight("w", &w, &InflateOptions { center: true, ..opts }).unwrap();
        assert_eq!(c.to_vec::<f64>().unwrap(), vec![0.0, 0.0, 3.0, 6.0, 0.0, 0.0]);
    }

    #[test]
    fn a_3d_kernel_is_not_a_2d_conv() {
        let w = Tensor::from_vec(&[1, 1, 3, 1, 1], vec![1f32; 3]).unwrap();
        let err = inflate_conv_weight(
            "conv1.weight",
            &w,
            &InflateOptions {
                time_kernel: 3,
                center: false,
                frames: 16,
            },
        );
        assert!(err.unwrap_err().to_string().contains("conv1.weight"));
    }
}

//! Validated shapes of the windowed ops (conv3d, pooling). Built once from the tensors and the
//! options; every backend (reference loops, fast CPU, CUDA launchers) indexes with these.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::tensor::Shape;

/// Per-axis (T, H, W) stride and zero padding of a 3D convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv3dOptions {
    pub stride: [usize; 3],
    pub padding: [usize; 3],
}

impl Default for Conv3dOptions {
    fn default() -> Self {
        Conv3dOptions {
            stride: [1; 3],
            padding: [0; 3],
        }
    }
}

/// Per-axis (T, H, W) window of a 3D pooling op, with PyTorch's ceil-mode rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool3dOptions {
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    pub ceil_mode: bool,
}

impl Pool3dOptions {
    /// Kernel = stride, no padding, floor mode: the usual non-overlapping pool.
    pub fn new(kernel: [usize; 3]) -> Self {
        Pool3dOptions {
            kernel,
            stride: kernel,
            padding: [0; 3],
            ceil_mode: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv3dGeometry {
    pub batch: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    /// Input (T, H, W).
    pub input: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    /// Output (T, H, W).
    pub output: [usize; 3],
}

impl Conv3dGeometry {
    /// `x`: (N, C, T, H, W); `w`: (O, C, KT, KH, KW).
    pub fn new(x: &Shape, w: &Shape, opts: &Conv3dOptions) -> Result<Self> {
        const OP: &str = "conv3d";
        let [n, c, t, h, wd] = x.expect_rank::<5>(OP, "input (N, C, T, H, W)")?;
        let [o, wc, kt, kh, kw] = w.expect_rank::<5>(OP, "weight (O, C, KT, KH, KW)")?;
        if wc != c {
            return Err(Error::shape(
                OP,
                format!("input {x} has {c} channels but weight {w} expects {wc}"),
            ));
        }
        let kernel = [kt, kh, kw];
        let input = [t, h, wd];
        check_positive(OP, "kernel", kernel)?;
        check_positive(OP, "stride", opts.stride)?;
        let mut output = [0; 3];
        for a in 0..3 {
            let padded = input[a] + 2 * opts.padding[a];
            if padded < kernel[a] {
                return Err(Error::shape(
                    OP,
                    format!(
                        "kernel {:?} is larger than the padded input (input {x}, padding {:?})",
                        kernel, opts.padding
                    ),
                ));
            }
            output[a] = (padded - kernel[a]) / opts.stride[a] + 1;
        }
        if n == 0 || c == 0 || o == 0 {
            return Err(Error::shape(OP, format!("empty tensor: input {x}, weight {w}")));
        }
        Ok(Conv3dGeometry {
            batch: n,
            in_channels: c,
            out_channels: o,
            input,
            kernel,
            stride: opts.stride,
            padding: opts.padding,
            output,
        })
    }

    pub fn input_dims(&self) -> [usize; 5] {
        let [t, h, w] = self.input;
        [self.batch, self.in_channels, t, h, w]
    }

    pub fn weight_dims(&self) -> [usize; 5] {
        let [t, h, w] = self.kernel;
        [self.out_channels, self.in_channels, t, h, w]
    }

    pub fn output_dims(&self) -> [usize; 5] {
        let [t, h, w] = self.output;
        [self.batch, self.out_channels, t, h, w]
    }

    /// Multiply-adds of the forward pass over all kernel taps, padding included.
    pub fn macs(&self) -> u64 {
        let out: usize = self.output.iter().product();
        let k: usize = self.kernel.iter().product();
        (self.batch * self.out_channels * out * self.in_channels * k) as u64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool3dGeometry {
    /// N·C: pooling treats every (sample, channel) plane alike.
    pub planes: usize,
    pub batch: usize,
    pub channels: usize,
    pub input: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    pub output: [usize; 3],
}

impl Pool3dGeometry {
    /// `x`: (N, C, T, H, W). Output sizes follow PyTorch: floor or ceil of
    /// (in + 2p - k) / s, plus one, and in ceil mode the last window must start inside the
    /// input or its left padding.
    pub fn new(op: &'static str, x: &Shape, opts: &Pool3dOptions) -> Result<Self> {
        let [n, c, t, h, w] = x.expect_rank::<5>(op, "input (N, C, T, H, W)")?;
        check_positive(op, "kernel", opts.kernel)?;
        check_positive(op, "stride", opts.stride)?;
        let input = [t, h, w];
        let mut output = [0; 3];
        for a in 0..3 {
            let (k, s, p) = (opts.kernel[a], opts.stride[a], opts.padding[a]);
            if 2 * p > k {
                return Err(Error::argument(
                    op,
                    format!(
                        "padding {:?} must be at most half the kernel {:?}",
                        opts.padding, opts.kernel
                    ),
                ));
            }
            let padded = input[a] + 2 * p;
            if padded < k {
                return Err(Error::shape(
                    op,
                    format!(
                        "kernel {:?} is larger than the padded input {x} (padding {:?})",
                        opts.kernel, opts.padding
                    ),
                ));
            }
            let span = padded - k;
            let mut out = if opts.ceil_mode { span.div_ceil(s) } else { span / s } + 1;
            if opts.ceil_mode && (out - 1) * s >= input[a] + p {
                out -= 1;
            }
            output[a] = out;
        }
        Ok(Pool3dGeometry {
            planes: n * c,
            batch: n,
            channels: c,
            input,
            kernel: opts.kernel,
            stride: opts.stride,
            padding: opts.padding,
            output,
        })
    }

    pub fn input_dims(&self) -> [usize; 5] {
        let [t, h, w] = self.input;
        [self.batch, self.channels, t, h, w]
    }

    pub fn output_dims(&self) -> [usize; 5] {
        let [t, h, w] = self.output;
        [self.batch, self.channels, t, h, w]
    }

    /// The window of output position `o` along axis `a`: (start, end) clipped to the input,
    /// and the window's length counted over the padded input (avg pooling's divisor with
    /// `count_include_pad`).
    pub fn window(&self, a: usize, o: usize) -> (usize, usize, usize) {
        let start = (o * self.stride[a]) as isize - self.padding[a] as isize;
        let end_padded = (start + self.kernel[a] as isize).min((self.input[a] + self.padding[a]) as isize);
        let padded_len = (end_padded - start) as usize;
        let lo = start.max(0) as usize;
        let hi = (end_padded.max(0) as usize).min(self.input[a]);
        (lo, hi.max(lo), padded_len)
    }
}

fn check_positive(op: &'static str, what: &str, v: [usize; 3]) -> Result<()> {
    if v.contains(&0) {
        return Err(Error::argument(
            op,
            format!("{what} {v:?} must be positive on every axis"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(d: &[usize]) -> Shape {
        Shape::new(d).unwrap()
    }

    #[test]
    fn conv_output_size_hand_worked() {
        // T: (5 + 2 - 3)/2 + 1 = 3; H: (7 + 0 - 2)/1 + 1 = 6; W: (6 + 4 - 1)/3 + 1 = 4.
        let g = Conv3dGeometry::new(
            &shape(&[2, 3, 5, 7, 6]),
            &shape(&[4, 3, 3, 2, 1]),
            &Conv3dOptions {
                stride: [2, 1, 3],
                padding: [1, 0, 2],
            },
        )
        .unwrap();
        assert_eq!(g.output, [3, 6, 4]);
    }

    #[test]
    fn conv_channel_mismatch_names_both_shapes() {
        let err = Conv3dGeometry::new(
            &shape(&[1, 3, 4, 4, 4]),
            &shape(&[2, 4, 3, 3, 3]),
            &Conv3dOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("(1, 3, 4, 4, 4)") && err.contains("(2, 4, 3, 3, 3)"),
            "{err}"
        );
    }

    #[test]
    fn pool_ceil_mode_rule_matches_pytorch() {
        // in 5, k 2, s 2, p 0: floor -> 2, ceil -> 3 (last window starts at 4 < 5).
        let mut o = Pool3dOptions::new([2, 2, 2]);
        let x = shape(&[1, 1, 5, 5, 5]);
        assert_eq!(Pool3dGeometry::new("p", &x, &o).unwrap().output, [2, 2, 2]);
        o.ceil_mode = true;
        assert_eq!(Pool3dGeometry::new("p", &x, &o).unwrap().output, [3, 3, 3]);
        // in 4, k 2, s 2, p 1, ceil: ceil((4+2-2)/2)+1 = 3; last start (3-1)*2 = 4 >= 4+1? no -> 3.
        // in 3, k 2, s 2, p 1, ceil: ceil((3+2-2)/2)+1 = 3; last start 4 >= 3+1 -> dropped -> 2.
        o.padding = [1, 1, 1];
        assert_eq!(
            Pool3dGeometry::new("p", &shape(&[1, 1, 4, 4, 4]), &o).unwrap().output,
            [3, 3, 3]
        );
        assert_eq!(
            Pool3dGeometry::new("p", &shape(&[1, 1, 3, 3, 3]), &o).unwrap().output,
            [2, 2, 2]
        );
    }

    #[test]
    fn c3d_pool5_shape() {
        // C3D pool5: kernel 2x2x2, stride 2, padding (0,1,1) on a 2x7x7 map -> 1x4x4.
        let o = Pool3dOptions {
            kernel: [2; 3],
            stride: [2; 3],
            padding: [0, 1, 1],
            ceil_mode: false,
        };
        let g = Pool3dGeometry::new("max_pool3d", &shape(&[1, 512, 2, 7, 7]), &o).unwrap();
        assert_eq!(g.output, [1, 4, 4]);
    }

    #[test]
    fn pool_padding_over_half_kernel_is_rejected() {
        let o = Pool3dOptions {
            kernel: [2; 3],
            stride: [2; 3],
            padding: [0, 2, 0],
            ceil_mode: false,
        };
        let err = Pool3dGeometry::new("max_pool3d", &shape(&[1, 1, 4, 4, 4]), &o)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most half"), "{err}");
    }

    #[test]
    fn window_divisor_counts_padding_but_not_ceil_overhang() {
        // in 5, k 3, s 2, p 1, ceil: out = ceil(4/2)+1 = 3 windows: [-1,2), [1,4), [3,6).
        let o = Pool3dOptions {
            kernel: [3; 3],
            stride: [2; 3],
            padding: [1; 3],
            ceil_mode: true,
        };
        let g = Pool3dGeometry::new("avg_pool3d", &shape(&[1, 1, 5, 5, 5]), &o).unwrap();
        assert_eq!(g.output[0], 3);
        assert_eq!(g.window(0, 0), (0, 2, 3)); // one padded tap counted
        assert_eq!(g.window(0, 1), (1, 4, 3));
        assert_eq!(g.window(0, 2), (3, 5, 3)); // [3, 6) reaches into the right padding (5 + 1)
    }
}

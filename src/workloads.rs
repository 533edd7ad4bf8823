//! The performance workloads, defined once: C3D's layer shapes, its pools and whole training
//! steps. `cargo bench`, `stsm-engine bench` and `scripts/bench-vs-torch` (which reads
//! `stsm-engine bench --list`) all run exactly these. FLOPs are 2 × multiply-adds over all kernel
//! taps, padding included.

use rand::SeedableRng;
use serde::Serialize;

use crate::autograd::Tape;
use crate::error::{Error, Result};
use crate::nn::layers::Module;
use crate::nn::{Model, ModelConfig};
use crate::ops::{Conv3dGeometry, Conv3dOptions, Pool3dGeometry, Pool3dOptions};
use crate::optim::{ParamGroup, Sgd};
use crate::tensor::{DType, Device, Tensor};
use crate::{backend, Var};

/// Nominal fp32 peak of the 2-core development machine (AVX2 + FMA; see DESIGN.md's performance
/// anchors), GFLOP/s. Every "% of peak" figure (`stsm-engine bench`, `cargo bench`) uses it.
pub const PEAK_GFLOPS: f64 = 205.0;

/// A bf16 8192³ matrix product through PyTorch on this workplace's H100, GFLOP/s (DESIGN.md):
/// the tensor-core ceiling the device benchmarks state their rate against.
pub const H100_BF16_MATMUL_GFLOPS: f64 = 798_000.0;

/// What a workload computes; serialised for the PyTorch side of the comparison script.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Spec {
    /// 3×3×3 conv, padding 1, bias. `backward`: also the weight and bias gradients, and the input
    /// gradient when `input_grad`.
    Conv {
        input: [usize; 5],
        out_channels: usize,
        backward: bool,
        input_grad: bool,
    },
    /// Max pool forward + backward.
    MaxPool {
        input: [usize; 5],
        kernel: [usize; 3],
        padding: [usize; 3],
    },
    /// One SGD-momentum step (forward with dropout, cross-entropy, backward, update).
    TrainStep {
        model: String,
        batch: usize,
        classes: usize,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct Workload {
    pub name: String,
    pub spec: Spec,
    /// Floating-point operations (convs, train steps), or bytes read + written (pools).
    pub work: f64,
    /// "GFLOP/s" or "GB/s".
    pub unit: &'static str,
}

const C3D_CONVS: [(&str, usize, usize, [usize; 3]); 8] = [
    ("conv1a", 3, 64, [16, 112, 112]),
    ("conv2a", 64, 128, [16, 56, 56]),
    ("conv3a", 128, 256, [8, 28, 28]),
    ("conv3b", 256, 256, [8, 28, 28]),
    ("conv4a", 256, 512, [4, 14, 14]),
    ("conv4b", 512, 512, [4, 14, 14]),
    ("conv5a", 512, 512, [2, 7, 7]),
    ("conv5b", 512, 512, [2, 7, 7]),
];

fn conv_flops(input: [usize; 5], outs: usize) -> f64 {
    let [n, c, t, h, w] = input;
    2.0 * (n * outs * t * h * w * c * 27) as f64
}

/// One C3D layer at `batch`: its forward, and forward + backward (weight and bias gradients, and
/// the input gradient except for the first layer, whose input is the clip).
fn conv_pair(name: &str, ins: usize, outs: usize, [t, h, w]: [usize; 3], batch: usize) -> [Workload; 2] {
    let input = [batch, ins, t, h, w];
    let fwd = conv_flops(input, outs);
    let first = name.starts_with("conv1a");
    let conv = |backward: bool, phase: &str, work: f64| Workload {
        name: format!("{name}-{phase}-b{batch}"),
        spec: Spec::Conv {
            input,
            out_channels: outs,
            backward,
            input_grad: backward && !first,
        },
        work,
        unit: "GFLOP/s",
    };
    [
        conv(false, "fwd", fwd),
        conv(true, "fwdbwd", fwd * if first { 2.0 } else { 3.0 }),
    ]
}

/// Every C3D conv layer at `batch`, forward and forward + backward (`stsm-engine bench
/// --batch N`). `tiny` shrinks each layer for the emulated device and smoke tests: channels ÷ 16
/// (conv1a keeps its 3 input channels) and T, H, W ÷ 8, rounded up; names end in `-tiny`.
pub fn c3d_convs(batch: usize, tiny: bool) -> Vec<Workload> {
    let mut list = Vec::new();
    for (name, ins, outs, thw) in C3D_CONVS {
        if tiny {
            let ins = if ins == 3 { 3 } else { ins.div_ceil(16) };
            let thw = thw.map(|d| d.div_ceil(8));
            list.extend(conv_pair(&format!("{name}-tiny"), ins, outs.div_ceil(16), thw, batch));
        } else {
            list.extend(conv_pair(name, ins, outs, thw, batch));
        }
    }
    list
}

/// Every workload, in a stable order.
pub fn all() -> Vec<Workload> {
    let mut list = Vec::new();
    for (name, ins, outs, thw) in C3D_CONVS {
        for batch in [1, 4] {
            list.extend(conv_pair(name, ins, outs, thw, batch));
        }
    }
    for (name, input, kernel) in [
        ("pool1", [1, 64, 16, 112, 112], [1, 2, 2]),
        ("pool2", [1, 128, 16, 56, 56], [2, 2, 2]),
    ] {
        let elems: usize = input.iter().product();
        let out = elems / kernel.iter().product::<usize>();
        // Forward reads x, writes y + argmax; backward reads gy + argmax, writes gx.
        let bytes = 4.0 * (elems + 2 * out + 2 * out + elems) as f64;
        list.push(Workload {
            name: format!("{name}-fwdbwd"),
            spec: Spec::MaxPool {
                input,
                kernel,
                padding: [0; 3],
            },
            work: bytes,
            unit: "GB/s",
        });
    }
    for (model, batch, flops) in [("tiny-c3d", 8, 0.0), ("c3d", 1, 0.0)] {
        let config = ModelConfig::preset(model, 7).expect("preset exists");
        let fwd: f64 = crate::nn::model::describe(&config)
            .map(|r| r.iter().map(|l| 2.0 * l.macs as f64).sum())
            .unwrap_or(flops);
        list.push(Workload {
            name: format!("{model}-step-b{batch}"),
            spec: Spec::TrainStep {
                model: model.into(),
                batch,
                classes: 7,
            },
            work: 3.0 * fwd * batch as f64,
            unit: "GFLOP/s",
        });
    }
    list
}

impl Spec {
    fn kind(&self) -> &'static str {
        match self {
            Spec::Conv { .. } => "a conv",
            Spec::MaxPool { .. } => "a max pool",
            Spec::TrainStep { .. } => "a training step",
        }
    }
}

impl Workload {
    /// Its rate for one run of `seconds`, in `unit` (GFLOP/s or GB/s).
    pub fn rate(&self, seconds: f64) -> f64 {
        self.work / seconds / 1e9
    }

    /// `rate` as a percentage of [`PEAK_GFLOPS`]; None for byte-counted workloads (pools).
    pub fn percent_of_peak(&self, rate: f64) -> Option<f64> {
        (self.unit == "GFLOP/s").then(|| 100.0 * rate / PEAK_GFLOPS)
    }
}

pub fn find(name: &str) -> Result<Workload> {
    find_in(all(), name)
}

/// The workload called `name` in `list`; the error lists the names there are.
pub fn find_in(list: Vec<Workload>, name: &str) -> Result<Workload> {
    let names: Vec<String> = list.iter().map(|w| w.name.clone()).collect();
    list.into_iter().find(|w| w.name == name).ok_or_else(|| {
        Error::argument(
            "bench",
            format!("unknown workload {name:?}; known: {}", names.join(", ")),
        )
    })
}

/// The number format the device kernels compute in: fp32, or bf16 operands with fp32
/// accumulation (the tensor-core kernels, on channels-last activations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Fp32,
    Bf16,
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Precision, String> {
        match s {
            "fp32" => Ok(Precision::Fp32),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(format!("unknown precision {s:?}: expected fp32 or bf16")),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        })
    }
}

fn random(dims: &[usize], seed: u64) -> Result<Tensor> {
    use rand::Rng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n: usize = dims.iter().product();
    Tensor::from_vec(dims, (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
}

/// Builds the inputs once and returns a closure that runs the workload one time.
pub fn prepare(w: &Workload) -> Result<Box<dyn FnMut() -> Result<()>>> {
    prepare_on(w, Device::Cpu, Precision::Fp32)
}

/// [`prepare`] on `device` in `precision`. Conv and pool workloads run anywhere in fp32 (the
/// inputs are copied to the device once, here); bf16 is the tensor-core conv kernels on a CUDA
/// (or emulated) device; training steps run on the CPU.
pub fn prepare_on(w: &Workload, device: Device, precision: Precision) -> Result<Box<dyn FnMut() -> Result<()>>> {
    let on_device = |t: Tensor| t.to_device(device);
    match (&w.spec, precision) {
        (spec @ Spec::Conv { .. }, Precision::Bf16) if device != Device::Cpu => prepare_conv_bf16(spec, &on_device),
        (_, Precision::Bf16) => Err(Error::argument(
            "--precision",
            format!(
                "{}: bf16 runs the conv workloads on --device cuda or cuda-emu, not {} on {device}",
                w.name,
                w.spec.kind()
            ),
        )),
        (Spec::TrainStep { .. }, _) if device != Device::Cpu => Err(Error::argument(
            "--device",
            format!("{}: training-step workloads run on the CPU only", w.name),
        )),
        (spec, Precision::Fp32) => prepare_fp32(spec, &on_device),
    }
}

/// A conv workload on the bf16 tensor-core kernels: activations channels-last bf16, made once
/// here (as the previous layer's bf16 epilogue would hand them over); the weights converted to
/// the GEMM layouts inside each run, as a training step does once; forward with the fused
/// bias + ReLU epilogue; backward: the input gradient (gather form) and the weight gradient.
/// The bias gradient, a reduction of gy that no bf16 kernel computes yet, is not timed.
fn prepare_conv_bf16(
    spec: &Spec,
    on_device: &dyn Fn(Tensor) -> Result<Tensor>,
) -> Result<Box<dyn FnMut() -> Result<()>>> {
    use crate::backend::cuda::ops::{bf16, conv3d_bf16};
    let Spec::Conv {
        input,
        out_channels,
        backward,
        input_grad,
    } = spec
    else {
        return Err(Error::argument("--precision", "bf16 runs conv workloads only"));
    };
    let x32 = on_device(random(input, 1)?)?;
    let wt = on_device(random(&[*out_channels, input[1], 3, 3, 3], 2)?)?;
    let b = on_device(random(&[*out_channels], 3)?)?;
    let g = Conv3dGeometry::new(
        x32.shape(),
        wt.shape(),
        &Conv3dOptions {
            stride: [1; 3],
            padding: [1; 3],
        },
    )?;
    let x = bf16::to_channels_last(&x32)?;
    let gy = bf16::to_channels_last(&on_device(random(&g.output_dims(), 4)?)?)?;
    let (backward, input_grad) = (*backward, *input_grad);
    Ok(Box::new(move || {
        conv3d_bf16::forward(&x, &bf16::forward_weights(&wt)?, Some(&b), &g, true, false)?;
        if backward {
            if input_grad {
                conv3d_bf16::x_backward(&gy, &bf16::x_backward_weights(&wt)?, &g, false)?;
            }
            conv3d_bf16::weight_backward(&gy, &x, &g)?;
        }
        Ok(())
    }))
}

fn prepare_fp32(spec: &Spec, on_device: &dyn Fn(Tensor) -> Result<Tensor>) -> Result<Box<dyn FnMut() -> Result<()>>> {
    match spec {
        Spec::Conv {
            input,
            out_channels,
            backward,
            input_grad,
        } => {
            let x = on_device(random(input, 1)?)?;
            let wt = on_device(random(&[*out_channels, input[1], 3, 3, 3], 2)?)?;
            let b = on_device(random(&[*out_channels], 3)?)?;
            let g = Conv3dGeometry::new(
                x.shape(),
                wt.shape(),
                &Conv3dOptions {
                    stride: [1; 3],
                    padding: [1; 3],
                },
            )?;
            let gy = on_device(random(&g.output_dims(), 4)?)?;
            let (backward, input_grad) = (*backward, *input_grad);
            Ok(Box::new(move || {
                let be = backend::of(&x);
                be.conv3d_forward(&x, &wt, Some(&b), &g)?;
                if backward {
                    if input_grad {
                        be.conv3d_x_backward(&gy, &wt, &g)?;
                    }
                    be.conv3d_weight_backward(&gy, &x, &g)?;
                    be.conv3d_bias_backward(&gy, &g)?;
                }
                Ok(())
            }))
        }
        Spec::MaxPool { input, kernel, padding } => {
            let x = on_device(random(input, 5)?)?;
            let opts = Pool3dOptions {
                kernel: *kernel,
                stride: *kernel,
                padding: *padding,
                ceil_mode: false,
            };
            let g = Pool3dGeometry::new("max_pool3d", x.shape(), &opts)?;
            let gy = on_device(random(&g.output_dims(), 6)?)?;
            Ok(Box::new(move || {
                let be = backend::of(&x);
                let (_, argmax) = be.max_pool3d_forward(&x, &g)?;
                be.max_pool3d_backward(&gy, &argmax, &g)?;
                Ok(())
            }))
        }
        Spec::TrainStep { model, batch, classes } => {
            let config = ModelConfig::preset(model, *classes)?;
            let net = Model::seeded(config.clone(), DType::F32, 7)?;
            let group = ParamGroup {
                name: "all".into(),
                params: net.parameters(),
                lr: 1e-3,
                weight_decay: 5e-4,
            };
            let mut sgd = Sgd::new(vec![group], 0.9, 0.0, false)?;
            let [t, h, wd] = config.input;
            let x = random(&[*batch, 3, t, h, wd], 8)?;
            let labels: Vec<usize> = (0..*batch).map(|i| i % classes).collect();
            let mut step = 0u64;
            Ok(Box::new(move || {
                let tape = Tape::new();
                step += 1;
                let logits: Var = net.clip_logits(&tape.constant(x.clone()), true, step)?;
                logits.cross_entropy(&labels)?.backward()?;
                sgd.step(1)
            }))
        }
    }
}

/// Peak resident memory of this process since it started or since the last successful
/// [`reset_peak_rss`], in bytes (Linux; None elsewhere).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak-resident-memory mark to the current resident size (Linux ≥ 4.0: writes "5" to
/// /proc/self/clear_refs), so that [`peak_rss_bytes`] then reports the peak of what runs next.
/// Returns false where that is not possible; the mark then still counts from process start.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

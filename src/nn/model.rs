//! Builds C3D and VGG-3D (and their small variants) from a `ModelConfig`, runs them, and
//! describes them (output shapes, parameters, FLOPs) without computing anything.

use rand::Rng;

use super::config::{Family, ModelConfig};
use super::layers::{Conv3d, LayerInit, Linear, Module};
use crate::autograd::{Param, Var};
use crate::error::{Error, Result};
use crate::ops::{Conv3dGeometry, Conv3dOptions, Pool3dGeometry};
use crate::tensor::Shape;

pub struct Model {
    config: ModelConfig,
    convs: Vec<Conv3d>,
    /// C3D: fc6, fc7, fc8. VGG-3D: fc6, fc7 (torchvision's classifier.0 / .3), head.1, head.3.
    fcs: Vec<Linear>,
}

/// One row of `Model::describe`: a layer's output shape for one clip and its cost.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSummary {
    pub name: String,
    pub kind: &'static str,
    /// Output shape for a batch of one clip; VGG-3D's per-frame layers show (T, features).
    pub output: Vec<usize>,
    pub params: usize,
    /// Multiply-adds per clip (FLOPs = 2 × MACs).
    pub macs: u64,
}

/// Distinct dropout masks per layer from one step seed.
fn layer_seed(seed: u64, layer: u64) -> u64 {
    seed ^ (layer + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Model {
    pub fn new<R: Rng>(config: ModelConfig, li: &mut LayerInit<'_, R>) -> Result<Model> {
        config.validate()?;
        let summary = describe(&config)?;
        let opts = Conv3dOptions {
            stride: [1; 3],
            padding: config.conv_padding(),
        };
        let mut convs = Vec::new();
        let mut ins = config.in_channels;
        let all_channels = config.blocks.iter().flat_map(|b| b.channels.iter().copied());
        for (name, outs) in config.conv_names().iter().zip(all_channels) {
            convs.push(Conv3d::new(name, [ins, outs], config.conv_kernel, opts, true, li)?);
            ins = outs;
        }
        let flat = summary
            .iter()
            .find(|s| s.kind == "flatten")
            .map(|s| *s.output.last().unwrap_or(&0))
            .unwrap_or(0);
        let widths = match config.head_hidden {
            None => vec![flat, config.fc_width, config.fc_width, config.classes],
            Some(h) => vec![flat, config.fc_width, config.fc_width, h, config.classes],
        };
        let fcs = config
            .fc_names()
            .iter()
            .zip(widths.windows(2))
            .map(|(name, w)| Linear::new(name, w[0], w[1], true, li))
            .collect::<Result<_>>()?;
        Ok(Model { config, convs, fcs })
    }

    /// A model with He-initialised weights drawn from `seed` (ChaCha8). Callers that then load a
    /// checkpoint may pass any seed: the init only builds the layers.
    pub fn seeded(config: ModelConfig, dtype: crate::tensor::DType, seed: u64) -> Result<Model> {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Model::new(
            config,
            &mut LayerInit {
                init: super::Init::HeNormal,
                dtype,
                rng: &mut rng,
            },
        )
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn check_input(&self, x: &Var) -> Result<()> {
        let shape = Shape::new(x.dims())?;
        let [_, c, t, h, w] = shape.expect_rank::<5>("model", "input clips (N, C, T, H, W)")?;
        let [ct, ch, cw] = self.config.input;
        // VGG-3D is fully convolutional over time (whole videos at inference); C3D is not.
        let time_ok = self.config.family == Family::Vgg3d || t == ct;
        if c != self.config.in_channels || h != ch || w != cw || !time_ok {
            return Err(Error::shape(
                "model",
                format!(
                    "{} expects clips (N, {}, {}, {ch}, {cw}), got {shape}",
                    self.config.preset,
                    self.config.in_channels,
                    if self.config.family == Family::Vgg3d {
                        "T".to_string()
                    } else {
                        ct.to_string()
                    },
                ),
            ));
        }
        Ok(())
    }

    /// The conv stack: (N, C, T, H, W) -> (N, C', T', H', W').
    pub fn features(&self, x: &Var) -> Result<Var> {
        self.check_input(x)?;
        let mut convs = self.convs.iter();
        let mut x = x.clone();
        for block in &self.config.blocks {
            for _ in &block.channels {
                let conv = convs
                    .next()
                    .ok_or_else(|| Error::argument("model", "fewer convs than the config lists"))?;
                x = conv.forward(&x)?.relu()?;
            }
            x = x.max_pool3d(&block.pool)?;
        }
        Ok(x)
    }

    /// Clip logits (N, classes). VGG-3D: the max over the clip's per-frame logits.
    pub fn clip_logits(&self, x: &Var, training: bool, seed: u64) -> Result<Var> {
        match self.config.family {
            Family::C3d => {
                let mut h = self.features(x)?.flatten(1, 4)?;
                for (i, fc) in self.fcs[..2].iter().enumerate() {
                    h = fc
                        .forward(&h)?
                        .relu()?
                        .dropout(self.config.dropout, layer_seed(seed, i as u64), training)?;
                }
                self.fcs[2].forward(&h)
            }
            Family::Vgg3d => self.frame_logits(x, training, seed)?.temporal_max(),
        }
    }

    /// VGG-3D's per-frame logits (N, classes, T): fc6, fc7 and the head applied to every frame.
    pub fn frame_logits(&self, x: &Var, training: bool, seed: u64) -> Result<Var> {
        if self.config.family != Family::Vgg3d {
            return Err(Error::argument(
                "model",
                format!("{} has no per-frame logits (C3D pools time)", self.config.preset),
            ));
        }
        let f = self.features(x)?;
        let [n, c, t, h, w] = [f.dims()[0], f.dims()[1], f.dims()[2], f.dims()[3], f.dims()[4]];
        let p = self.config.dropout;
        let mut z = f.permute(&[0, 2, 1, 3, 4])?.reshape(&[n * t, c * h * w])?;
        for (i, fc) in self.fcs[..2].iter().enumerate() {
            z = fc
                .forward(&z)?
                .relu()?
                .dropout(p, layer_seed(seed, i as u64), training)?;
        }
        if self.config.double_dropout {
            z = z.dropout(p, layer_seed(seed, 2), training)?;
        }
        let z = self.fcs[3].forward(&self.fcs[2].forward(&z)?.relu()?)?;
        z.reshape(&[n, t, self.config.classes])?.permute(&[0, 2, 1])
    }

    /// Output shapes, parameters and multiply-adds of every layer for one clip.
    pub fn describe(&self) -> Result<Vec<LayerSummary>> {
        describe(&self.config)
    }
}

impl Module for Model {
    fn parameters(&self) -> Vec<Param> {
        self.convs
            .iter()
            .flat_map(Module::parameters)
            .chain(self.fcs.iter().flat_map(Module::parameters))
            .collect()
    }
}

/// Walks the config's shapes with the same geometry the ops use.
pub fn describe(config: &ModelConfig) -> Result<Vec<LayerSummary>> {
    let mut rows = Vec::new();
    let [t, h, w] = config.input;
    let mut dims = vec![1, config.in_channels, t, h, w];
    let opts = Conv3dOptions {
        stride: [1; 3],
        padding: config.conv_padding(),
    };
    let mut names = config.conv_names().into_iter();
    for (b, block) in config.blocks.iter().enumerate() {
        for &outs in &block.channels {
            let k = config.conv_kernel;
            let g = Conv3dGeometry::new(
                &Shape::new(&dims)?,
                &Shape::new(&[outs, dims[1], k[0], k[1], k[2]])?,
                &opts,
            )?;
            dims = g.output_dims().to_vec();
            rows.push(LayerSummary {
                name: names.next().unwrap_or_default(),
                kind: "conv3d+relu",
                output: dims.clone(),
                params: g.weight_dims().iter().product::<usize>() + outs,
                macs: g.macs(),
            });
        }
        let g = Pool3dGeometry::new("model", &Shape::new(&dims)?, &block.pool)?;
        dims = g.output_dims().to_vec();
        rows.push(LayerSummary {
            name: format!("pool{}", b + 1),
            kind: "max_pool3d",
            output: dims.clone(),
            params: 0,
            macs: 0,
        });
    }
    let (frames, flat) = match config.family {
        Family::C3d => (1, dims[1..].iter().product::<usize>()),
        Family::Vgg3d => {
            if config
                .blocks
                .iter()
                .any(|b| b.pool.kernel[0] != 1 || b.pool.stride[0] != 1)
            {
                return Err(Error::argument(
                    "model config",
                    "vgg3d pools must not pool time (per-frame head)",
                ));
            }
            (dims[2], dims[1] * dims[3] * dims[4])
        }
    };
    let per_frame = |n: usize| {
        if config.family == Family::Vgg3d {
            vec![frames, n]
        } else {
            vec![1, n]
        }
    };
    rows.push(LayerSummary {
        name: "flatten".into(),
        kind: "flatten",
        output: per_frame(flat),
        params: 0,
        macs: 0,
    });
    let mut widths = vec![flat, config.fc_width, config.fc_width];
    widths.extend(config.head_hidden);
    widths.push(config.classes);
    for (name, win) in config.fc_names().iter().zip(widths.windows(2)) {
        rows.push(LayerSummary {
            name: name.to_string(),
            kind: "linear",
            output: per_frame(win[1]),
            params: win[0] * win[1] + win[1],
            macs: (frames * win[0] * win[1]) as u64,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(name: &str) -> (usize, f64) {
        let rows = describe(&ModelConfig::preset(name, 7).unwrap()).unwrap();
        (
            rows.iter().map(|r| r.params).sum(),
            rows.iter().map(|r| 2.0 * r.macs as f64).sum::<f64>() / 1e9,
        )
    }

    #[test]
    fn c3d_has_78m_parameters_and_77_gflop() {
        // Tran et al.: fc6 sees 512×1×4×4 = 8192 features.
        let rows = describe(&ModelConfig::preset("c3d", 7).unwrap()).unwrap();
        assert_eq!(rows.iter().find(|r| r.name == "flatten").unwrap().output, vec![1, 8192]);
        let (params, gflop) = totals("c3d");
        assert!((77_000_000..79_000_000).contains(&params), "{params}");
        assert!((76.0..78.5).contains(&gflop), "{gflop}");
    }

    #[test]
    fn tiny_c3d_fc6_sees_576_features() {
        let rows = describe(&ModelConfig::preset("tiny-c3d", 7).unwrap()).unwrap();
        assert_eq!(rows.iter().find(|r| r.name == "flatten").unwrap().output, vec![1, 576]);
    }

    #[test]
    fn vgg3d_fc6_sees_25088_features_per_frame() {
        let rows = describe(&ModelConfig::preset("vgg3d", 7).unwrap()).unwrap();
        assert_eq!(
            rows.iter().find(|r| r.name == "flatten").unwrap().output,
            vec![16, 25088]
        );
        // torchvision vgg16: 14.7 M conv parameters in 2D; inflating ×3 in time gives ≈ 44 M.
        let conv: usize = rows
            .iter()
            .filter(|r| r.kind.starts_with("conv"))
            .map(|r| r.params)
            .sum();
        assert!((43_000_000..45_000_000).contains(&conv), "{conv}");
    }
}

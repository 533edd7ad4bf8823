//! Architectures as data: a serialisable config (stored in checkpoint metadata) and the named
//! presets. One builder (`nn::model`) turns any config into layers, so presets are not twins.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ops::Pool3dOptions;

/// The two families of the paper. They differ in parameter names and in what follows the convs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Tran et al. 2015: temporal pooling in the network, flatten, fc6 → fc7 → fc8 on the clip.
    C3d,
    /// Inflated VGG-16 (configuration D, no batch norm): no temporal pooling; fc6/fc7 and a small
    /// head applied per frame; clip score = max over the clip's frames.
    Vgg3d,
}

/// Conv channels of one block, followed by one max-pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Block {
    pub channels: Vec<usize>,
    pub pool: Pool3dOptions,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The preset this came from ("c3d", "tiny-vgg3d", ...), or "custom".
    pub preset: String,
    pub family: Family,
    pub in_channels: usize,
    /// Clip size (T, H, W) the model is built for (fc6's input size depends on it).
    pub input: [usize; 3],
    /// Conv kernel (KT, KH, KW); padding is KT/2, KH/2, KW/2 ("same"), stride 1.
    pub conv_kernel: [usize; 3],
    pub blocks: Vec<Block>,
    /// Width of fc6 and fc7.
    pub fc_width: usize,
    /// VGG-3D's per-frame head: fc7 → dropout → Linear(fc_width → head_hidden) → ReLU → Linear.
    pub head_hidden: Option<usize>,
    pub classes: usize,
    pub dropout: f64,
    /// Reproduce the reference's two stacked Dropout(0.5) on fc7's output (VGG-3D only).
    #[serde(default)]
    pub double_dropout: bool,
}

/// The preset names `--model` accepts.
pub const PRESETS: [&str; 5] = ["c3d", "vgg3d", "tiny-c3d", "tiny-vgg3d", "tiny-vgg2d"];

fn pool(kernel: [usize; 3], padding: [usize; 3]) -> Pool3dOptions {
    Pool3dOptions {
        kernel,
        stride: kernel,
        padding,
        ceil_mode: false,
    }
}

fn c3d_blocks(ch: [usize; 8]) -> Vec<Block> {
    let p = pool([2, 2, 2], [0; 3]);
    vec![
        Block {
            channels: vec![ch[0]],
            pool: pool([1, 2, 2], [0; 3]),
        },
        Block {
            channels: vec![ch[1]],
            pool: p,
        },
        Block {
            channels: vec![ch[2], ch[3]],
            pool: p,
        },
        Block {
            channels: vec![ch[4], ch[5]],
            pool: p,
        },
        Block {
            channels: vec![ch[6], ch[7]],
            pool: pool([2, 2, 2], [0, 1, 1]),
        },
    ]
}

fn vgg_blocks(div: usize) -> Vec<Block> {
    let p = pool([1, 2, 2], [0; 3]);
    [
        [64, 64].as_slice(),
        &[128, 128],
        &[256, 256, 256],
        &[512, 512, 512],
        &[512, 512, 512],
    ]
    .iter()
    .map(|chs| Block {
        channels: chs.iter().map(|c| c / div).collect(),
        pool: p,
    })
    .collect()
}

impl ModelConfig {
    /// A named preset with `classes` outputs.
    pub fn preset(name: &str, classes: usize) -> Result<ModelConfig> {
        let base = |family, input, conv_kernel, blocks, fc_width, head_hidden| ModelConfig {
            preset: name.to_string(),
            family,
            in_channels: 3,
            input,
            conv_kernel,
            blocks,
            fc_width,
            head_hidden,
            classes,
            dropout: 0.5,
            double_dropout: false,
        };
        let config = match name {
            "c3d" => base(
                Family::C3d,
                [16, 112, 112],
                [3; 3],
                c3d_blocks([64, 128, 256, 256, 512, 512, 512, 512]),
                4096,
                None,
            ),
            "tiny-c3d" => base(
                Family::C3d,
                [16, 64, 64],
                [3; 3],
                c3d_blocks([8, 16, 32, 32, 32, 32, 64, 64]),
                256,
                None,
            ),
            "vgg3d" => base(Family::Vgg3d, [16, 224, 224], [3; 3], vgg_blocks(1), 4096, Some(128)),
            "tiny-vgg3d" => base(Family::Vgg3d, [16, 64, 64], [3; 3], vgg_blocks(8), 256, Some(128)),
            // The 2D counterpart of tiny-vgg3d (temporal kernel 1, single frames) for pretraining.
            "tiny-vgg2d" => base(Family::Vgg3d, [1, 64, 64], [1, 3, 3], vgg_blocks(8), 256, Some(128)),
            other => {
                return Err(Error::argument(
                    "model",
                    format!("unknown model {other:?}; choose one of {}", PRESETS.join(", ")),
                ))
            }
        };
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::argument("model config", format!("{}: {msg}", self.preset)));
        if self.classes == 0 {
            return bad("classes must be at least 1".into());
        }
        if self.blocks.is_empty()
            || self
                .blocks
                .iter()
                .any(|b| b.channels.is_empty() || b.channels.contains(&0))
        {
            return bad("every block needs at least one conv with a positive channel count".into());
        }
        if self.conv_kernel.iter().any(|&k| k % 2 == 0) {
            return bad(format!(
                "conv kernel {:?} must be odd on every axis (same padding)",
                self.conv_kernel
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        if (self.family == Family::Vgg3d) != self.head_hidden.is_some() {
            return bad("a per-frame head (head_hidden) goes with the vgg3d family only".into());
        }
        Ok(())
    }

    pub fn conv_padding(&self) -> [usize; 3] {
        self.conv_kernel.map(|k| k / 2)
    }

    /// How many frames on each side one output frame sees (the temporal receptive field's
    /// half-width): the halo a chunk of frames needs so its interior outputs equal a one-pass
    /// run over the whole video (13 for VGG-3D's 13 temporal-kernel-3 convs). None when the
    /// network pools or strides over time, so its outputs are not per frame (C3D).
    pub fn temporal_halo(&self) -> Option<usize> {
        if self
            .blocks
            .iter()
            .any(|b| b.pool.kernel[0] != 1 || b.pool.stride[0] != 1)
        {
            return None;
        }
        // Kernels are odd ("same" padding): each conv reaches KT / 2 frames either way.
        Some(self.conv_padding()[0] * self.blocks.iter().map(|b| b.channels.len()).sum::<usize>())
    }

    /// Parameter-name prefixes of the convs, in order: C3D's `conv1`, `conv2`, `conv3a`,
    /// `conv3b`, ...; torchvision VGG's `features.N` (N counts conv, ReLU and pool modules).
    pub fn conv_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut module = 0;
        for (b, block) in self.blocks.iter().enumerate() {
            for i in 0..block.channels.len() {
                names.push(match self.family {
                    Family::C3d if block.channels.len() == 1 => format!("conv{}", b + 1),
                    Family::C3d => format!("conv{}{}", b + 1, (b'a' + i as u8) as char),
                    Family::Vgg3d => format!("features.{module}"),
                });
                module += 2; // conv + ReLU
            }
            module += 1; // pool
        }
        names
    }

    /// Names of the fully connected layers after the convs, in order.
    pub fn fc_names(&self) -> Vec<&'static str> {
        match self.family {
            Family::C3d => vec!["fc6", "fc7", "fc8"],
            Family::Vgg3d => vec!["classifier.0", "classifier.3", "head.1", "head.3"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c3d_names_follow_the_pytorch_port() {
        let c = ModelConfig::preset("c3d", 7).unwrap();
        assert_eq!(
            c.conv_names(),
            ["conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b"]
        );
    }

    #[test]
    fn vgg_names_follow_torchvision_features_indices() {
        let c = ModelConfig::preset("vgg3d", 7).unwrap();
        let expected = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28].map(|i| format!("features.{i}"));
        assert_eq!(c.conv_names(), expected);
    }

    #[test]
    fn temporal_halo_counts_the_temporal_convs() {
        // The reference notes: 13 temporal-kernel-3 convs, so ±13 frames of context.
        assert_eq!(ModelConfig::preset("vgg3d", 7).unwrap().temporal_halo(), Some(13));
        assert_eq!(ModelConfig::preset("tiny-vgg2d", 7).unwrap().temporal_halo(), Some(0));
        assert_eq!(ModelConfig::preset("c3d", 7).unwrap().temporal_halo(), None);
    }

    #[test]
    fn unknown_preset_lists_the_choices() {
        let err = ModelConfig::preset("resnet", 7).unwrap_err().to_string();
        assert!(err.contains("tiny-c3d") && err.contains("resnet"), "{err}");
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = ModelConfig::preset("tiny-vgg3d", 5).unwrap();
        let back: ModelConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}

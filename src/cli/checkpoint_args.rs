//! Flags that describe a checkpoint without stsm-engine metadata (e.g. converted from PyTorch
//! with scripts/convert-torch.py), shared by `predict` and `eval`.

use clap::Args;

use crate::data::augment::REFERENCE_MEAN;
use crate::error::{Error, Result};
use crate::nn::checkpoint::{CheckpointMeta, Preprocessing};
use crate::nn::ModelConfig;

#[derive(Args, Debug)]
pub struct BareCheckpointArgs {
    /// For a checkpoint without metadata: the model preset its tensors fit (e.g. tiny-vgg3d).
    #[arg(long, requires = "class_names")]
    model: Option<String>,
    /// For a checkpoint without metadata: class names in label order, comma-separated.
    #[arg(long, value_delimiter = ',', requires = "model")]
    class_names: Vec<String>,
    /// For a checkpoint without metadata: frames are resized to this square size...
    #[arg(long, requires = "model")]
    resize: Option<usize>,
    /// ...then centre-cropped to this one, the model's input size (default: the preset's).
    #[arg(long, requires = "model")]
    crop: Option<usize>,
}

impl BareCheckpointArgs {
    /// The metadata these flags describe (reference normalisation: mean subtraction, std 1), or
    /// None when no --model was given.
    pub fn meta(&self) -> Result<Option<CheckpointMeta>> {
        let Some(preset) = &self.model else {
            return Ok(None);
        };
        let mut model = ModelConfig::preset(preset, self.class_names.len())?;
        let crop = self.crop.unwrap_or(model.input[1]);
        let resize = self.resize.unwrap_or(crop);
        if crop > resize {
            return Err(Error::argument(
                "--crop",
                format!("{crop} is larger than --resize {resize}"),
            ));
        }
        model.input = [model.input[0], crop, crop];
        Ok(Some(CheckpointMeta {
            model,
            classes: self.class_names.clone(),
            preprocessing: Some(Preprocessing {
                resize: [resize; 2],
                crop: [crop; 2],
                mean: REFERENCE_MEAN,
                std: [1.0; 3],
            }),
            sampling_gamma: None,
            pooling_gamma: None,
            notes: Default::default(),
        }))
    }
}

//! A checkpoint made ready for inference: the model with its weights, the class names, the
//! evaluation preprocessing and the γ it was trained with, all from the checkpoint's metadata,
//! and the data sources it is scored on (a pack, or a frame-folder root's split).

use std::path::Path;
use std::sync::Arc;

use crate::data::{discover_split, AugmentConfig, FolderSource, Interp, Pack, VideoSource};
use crate::error::{Error, Result};
use crate::nn::checkpoint::{self, CheckpointMeta};
use crate::nn::layers::Module;
use crate::nn::Model;
use crate::tensor::{DType, Device};

pub struct LoadedModel {
    pub model: Model,
    pub meta: CheckpointMeta,
    /// Evaluation preprocessing: resize, centre crop, normalisation.
    pub augment: AugmentConfig,
}

impl LoadedModel {
    /// Loads `path` onto `device`. A checkpoint written by stsm-engine carries its metadata; one
    /// converted from PyTorch needs `bare` (model, classes, preprocessing) instead. A tensor that
    /// is missing, unexpected or mis-shaped is an error naming it.
    pub fn load(path: &Path, bare: Option<CheckpointMeta>, device: Device) -> Result<LoadedModel> {
        let ckpt = checkpoint::load(path)?;
        let meta = match (ckpt.meta.clone(), bare) {
            (Some(_), Some(_)) => {
                return Err(Error::data(
                    path,
                    "has stsm-engine metadata (model, classes, preprocessing); drop --model and --class-names",
                ))
            }
            (Some(meta), None) | (None, Some(meta)) => meta,
            (None, None) => {
                return Err(Error::data(
                    path,
                    "has no stsm-engine metadata; say what it holds with --model PRESET --class-names A,B,...",
                ))
            }
        };
        // Weights come from the checkpoint; the seed only builds the layers.
        let model = Model::seeded(meta.model.clone(), DType::F32, 0)?;
        ckpt.load_into(&model.parameters(), &[], path)?;
        model.to_device(device)?;
        let pre = meta
            .preprocessing
            .as_ref()
            .ok_or_else(|| Error::data(path, "metadata lacks preprocessing (resize, crop, mean, std)"))?;
        let augment = AugmentConfig {
            mean: pre.mean,
            std: pre.std,
            ..AugmentConfig::scaled(pre.resize[0], pre.crop[0])
        };
        Ok(LoadedModel { model, meta, augment })
    }

    /// The pooling γ the checkpoint was trained with (1 when it does not say).
    pub fn default_gamma(&self) -> f64 {
        self.meta.pooling_gamma.unwrap_or(1.0)
    }

    /// F: the clip length the model was trained on.
    pub fn clip_len(&self) -> usize {
        self.meta.model.input[0]
    }

    /// The videos of `data` — a pack file, or the `split` folder of a frame-folder root
    /// (ROOT/<split>/<Class>/<video>/) — checked to have this checkpoint's classes.
    pub fn open_data(&self, data: &Path, split: &str) -> Result<Arc<dyn VideoSource>> {
        let source: Arc<dyn VideoSource> = if data.is_dir() {
            let discovery = discover_split(data, split, Some(&self.meta.classes))?;
            for w in &discovery.warnings {
                eprintln!("warning: {w}");
            }
            Arc::new(FolderSource::new(discovery, None, Interp::Bilinear)?)
        } else {
            Arc::new(Pack::open(data)?)
        };
        if source.classes() != self.meta.classes.as_slice() {
            return Err(Error::data(
                data,
                format!(
                    "classes {:?} differ from the checkpoint's {:?}",
                    source.classes(),
                    self.meta.classes
                ),
            ));
        }
        Ok(source)
    }
}

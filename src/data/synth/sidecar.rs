//! The synthetic benchmark's ground truth, written beside the frames as JSON, and the
//! statistics that check its defining property (the expression fills little of each video).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::synth::SynthConfig;
use crate::error::{Error, Result};

/// A half-open frame range [start, end).
pub type Range = [usize; 2];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distractor {
    pub start: usize,
    pub end: usize,
    /// Class whose deformation is shown (never the video's own).
    pub class: usize,
    /// Peak intensity of the distractor (below the true apex's 1).
    pub peak: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoTruth {
    pub id: String,
    pub split: String,
    pub class: String,
    pub label: usize,
    pub subject: String,
    pub frames: usize,
    /// Frames of the expressive segment [start, end): intensity > 0 exactly there.
    pub segment: Range,
    /// The frame of peak intensity (1.0).
    pub apex: usize,
    /// Expression intensity per frame, in [0, 1].
    pub intensity: Vec<f32>,
    pub occluded: Vec<Range>,
    pub distractors: Vec<Distractor>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub generator: String,
    pub config: SynthConfig,
    pub classes: Vec<String>,
    pub videos: Vec<VideoTruth>,
}

impl GroundTruth {
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::data(path, e.to_string()))?;
        crate::fsutil::write_atomically(path, |f| std::io::Write::write_all(f, &json))
    }

    pub fn load(path: &Path) -> Result<GroundTruth> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::data(path, format!("not a ground-truth file: {e}")))
    }
}

impl VideoTruth {
    /// Fraction of the video's frames with a visible expression.
    pub fn informative_fraction(&self) -> f64 {
        self.intensity.iter().filter(|&&i| i > 0.0).count() as f64 / self.frames as f64
    }

    /// Fraction of the valid starts of a `clip`-frame window (uniformly drawn, as in the
    /// baseline) whose clip contains the apex. A video no longer than a clip has one start, 0,
    /// and that clip holds every frame.
    pub fn apex_hit_fraction(&self, clip: usize) -> f64 {
        if self.frames <= clip {
            return 1.0;
        }
        let starts = self.frames - clip + 1;
        let hits = (0..starts).filter(|&s| s <= self.apex && self.apex < s + clip).count();
        hits as f64 / starts as f64
    }
}

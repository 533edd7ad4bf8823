//! An evaluation of scored videos: accuracy, confusion matrix, per-class recall, mean loss, and
//! for binary tasks ROC-AUC and the equal-error-rate accuracy (positive class = label 1, score =
//! pooled logit of class 1 minus class 0).

use serde::Serialize;

use super::evaluate::{check_finite_scores, score_videos, ScoringConfig};
use super::metrics::{class_metrics, eer_accuracy, roc_auc, ClassMetrics};
use super::pooling::Pooling;
use super::scorer::video_loss;
use crate::data::VideoSource;
use crate::error::Result;
use crate::nn::Model;

#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub videos: usize,
    pub classes: Vec<String>,
    pub loss: f64,
    pub metrics: ClassMetrics,
    pub roc_auc: Option<f64>,
    /// (threshold, accuracy) at the equal-error-rate point.
    pub eer: Option<(f64, f64)>,
    /// Softmax pooling γ; +∞ (null in JSON) is max pooling.
    pub pooling_gamma: f64,
}

pub fn evaluate(model: &Model, source: &dyn VideoSource, videos: &[usize], s: &ScoringConfig) -> Result<EvalReport> {
    let scores = score_videos(model, source, videos, s)?;
    for (p, &v) in scores.iter().zip(videos) {
        check_finite_scores(model, s.gamma, p, &format!("video {}", source.videos()[v].id))?;
    }
    let labels: Vec<usize> = videos.iter().map(|&v| source.videos()[v].label).collect();
    let predicted: Vec<usize> = scores
        .iter()
        .map(|p| {
            p.iter()
                .enumerate()
                .fold(0, |best, (k, &v)| if v > p[best] { k } else { best })
        })
        .collect();
    let loss = scores
        .iter()
        .zip(&labels)
        .map(|(p, &y)| video_loss(p, y).0)
        .sum::<f64>()
        / videos.len().max(1) as f64;
    let classes = source.classes().to_vec();
    let metrics = class_metrics(&predicted, &labels, classes.len())?;
    let (roc_auc, eer) = if classes.len() == 2 {
        let margin: Vec<f64> = scores.iter().map(|p| p[1] - p[0]).collect();
        let positive: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
        (roc_auc(&margin, &positive).ok(), eer_accuracy(&margin, &positive).ok())
    } else {
        (None, None)
    };
    Ok(EvalReport {
        videos: videos.len(),
        classes,
        loss,
        metrics,
        roc_auc,
        eer,
        pooling_gamma: s.gamma,
    })
}

impl EvalReport {
    /// A plain-text summary: accuracy, per-class recall and the confusion matrix.
    pub fn text(&self) -> String {
        let pooling = Pooling::from_gamma(self.pooling_gamma).map_or_else(|e| e.to_string(), |p| p.to_string());
        let mut out = format!(
            "{} videos, pooling {pooling}: accuracy {:.2} %, mean loss {:.4}\n",
            self.videos,
            100.0 * self.metrics.accuracy,
            self.loss
        );
        if let (Some(auc), Some((t, acc))) = (self.roc_auc, self.eer) {
            out += &format!(
                "ROC-AUC {auc:.4}; at the equal-error-rate threshold {t:.4}: accuracy {:.2} %\n",
                100.0 * acc
            );
        }
        let width = self.classes.iter().map(|c| c.len()).max().unwrap_or(5).max(6);
        out += &format!(
            "{:<width$}  recall  confusion (rows: true, columns: predicted)\n",
            "class"
        );
        for (k, name) in self.classes.iter().enumerate() {
            let recall = self.metrics.recall[k]
                .map(|r| format!("{:5.1} %", 100.0 * r))
                .unwrap_or_else(|| "    -  ".into());
            let row: Vec<String> = self.metrics.confusion[k].iter().map(|n| format!("{n:4}")).collect();
            out += &format!("{name:<width$}  {recall}  {}\n", row.join(""));
        }
        out
    }
}

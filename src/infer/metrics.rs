//! Video-level metrics of the paper's tables: rank-1 accuracy, the confusion matrix and per-class
//! recall; for binary tasks (pain / no pain) ROC-AUC and the accuracy at the ROC equal-error-rate
//! point.

use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub accuracy: f64,
    /// confusion[true][predicted] counts.
    pub confusion: Vec<Vec<usize>>,
    /// Recall per class (None for a class with no videos).
    pub recall: Vec<Option<f64>>,
}

/// `predicted` and `labels` index `classes` classes.
pub fn class_metrics(predicted: &[usize], labels: &[usize], classes: usize) -> Result<ClassMetrics> {
    if predicted.len() != labels.len() || labels.is_empty() {
        return Err(Error::argument(
            "metrics",
            format!("{} predictions for {} labels", predicted.len(), labels.len()),
        ));
    }
    let mut confusion = vec![vec![0; classes]; classes];
    for (&p, &y) in predicted.iter().zip(labels) {
        if p >= classes || y >= classes {
            return Err(Error::argument(
                "metrics",
                format!("class {} outside 0..{classes}", p.max(y)),
            ));
        }
        confusion[y][p] += 1;
    }
    let correct: usize = (0..classes).map(|k| confusion[k][k]).sum();
    let recall = confusion
        .iter()
        .enumerate()
        .map(|(k, row)| {
            let total: usize = row.iter().sum();
            (total > 0).then(|| row[k] as f64 / total as f64)
        })
        .collect();
    Ok(ClassMetrics {
        accuracy: correct as f64 / labels.len() as f64,
        confusion,
        recall,
    })
}

/// Area under the ROC curve of `scores` for `positive` flags: the probability that a random
/// positive scores above a random negative, ties counting one half.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Result<f64> {
    let (pos, neg) = split(scores, positive)?;
    let mut wins = 0.0;
    for &p in &pos {
        for &n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Ok(wins / (pos.len() * neg.len()) as f64)
}

fn split(scores: &[f64], positive: &[bool]) -> Result<(Vec<f64>, Vec<f64>)> {
    if scores.len() != positive.len() {
        return Err(Error::argument(
            "roc",
            format!("{} scores for {} labels", scores.len(), positive.len()),
        ));
    }
    if scores.iter().any(|s| s.is_nan()) {
        return Err(Error::argument("roc", "a score is NaN"));
    }
    let pos: Vec<f64> = scores
        .iter()
        .zip(positive)
        .filter(|(_, &p)| p)
        .map(|(&s, _)| s)
        .collect();
    let neg: Vec<f64> = scores
        .iter()
        .zip(positive)
        .filter(|(_, &p)| !p)
        .map(|(&s, _)| s)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return Err(Error::argument(
            "roc",
            "ROC needs at least one positive and one negative video",
        ));
    }
    Ok((pos, neg))
}

/// The equal-error-rate operating point: among thresholds at every distinct score (predict
/// positive when score ≥ threshold), the one where the false-positive rate and the false-negative
/// rate are closest (the first, lowest threshold on ties); returns (threshold, accuracy there).
pub fn eer_accuracy(scores: &[f64], positive: &[bool]) -> Result<(f64, f64)> {
    let (pos, neg) = split(scores, positive)?;
    let mut thresholds: Vec<f64> = scores.to_vec();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let mut best = (f64::INFINITY, thresholds[0], 0.0);
    for &t in &thresholds {
        let fnr = pos.iter().filter(|&&s| s < t).count() as f64 / pos.len() as f64;
        let fpr = neg.iter().filter(|&&s| s >= t).count() as f64 / neg.len() as f64;
        let correct = pos.iter().filter(|&&s| s >= t).count() + neg.iter().filter(|&&s| s < t).count();
        let gap = (fpr - fnr).abs();
        if gap < best.0 {
            best = (gap, t, correct as f64 / scores.len() as f64);
        }
    }
    Ok((best.1, best.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_and_recall_by_hand() {
        // labels 0,0,1,1,2 ; predicted 0,1,1,1,0 -> 3 of 5 right; recall 1/2, 1, 0.
        let m = class_metrics(&[0, 1, 1, 1, 0], &[0, 0, 1, 1, 2], 3).unwrap();
        assert_eq!(m.accuracy, 0.6);
        assert_eq!(m.confusion, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]);
        assert_eq!(m.recall, vec![Some(0.5), Some(1.0), Some(0.0)]);
        assert_eq!(class_metrics(&[0], &[0], 2).unwrap().recall, vec![Some(1.0), None]);
    }

    #[test]
    fn auc_counts_ties_as_half() {
        // positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5) (0.9>0.1) (0.5=0.5 -> ½) (0.5>0.1)
        // = 3.5 / 4.
        let auc = roc_auc(&[0.9, 0.5, 0.5, 0.1], &[true, true, false, false]).unwrap();
        assert_eq!(auc, 0.875);
        // Perfect and reversed rankings.
        assert_eq!(roc_auc(&[2.0, 1.0], &[true, false]).unwrap(), 1.0);
        assert_eq!(roc_auc(&[1.0, 2.0], &[true, false]).unwrap(), 0.0);
        // All tied: chance.
        assert_eq!(roc_auc(&[1.0; 4], &[true, false, true, false]).unwrap(), 0.5);
    }

    #[test]
    fn eer_point_by_hand() {
        // Positives 0.8, 0.6, 0.3; negatives 0.7, 0.2, 0.1.
        // t = 0.6: FNR 1/3 (0.3 < 0.6), FPR 1/3 (0.7) -> equal; accuracy (2 + 2) / 6.
        let (t, acc) = eer_accuracy(
            &[0.8, 0.6, 0.3, 0.7, 0.2, 0.1],
            &[true, true, true, false, false, false],
        )
        .unwrap();
        assert_eq!((t, acc), (0.6, 4.0 / 6.0));
        // With a tie across classes at the threshold both sides count it as positive.
        let (t, acc) = eer_accuracy(&[0.5, 0.5, 0.9, 0.1], &[true, false, true, false]).unwrap();
        // t = 0.5: FNR 0, FPR 1/2 (gap ½); t = 0.9: FNR ½, FPR 0 (gap ½); t = 0.1: FPR 1 -> first best 0.5.
        assert_eq!((t, acc), (0.5, 0.75));
    }

    #[test]
    fn one_class_only_is_an_error() {
        assert!(roc_auc(&[0.1, 0.2], &[true, true])
            .unwrap_err()
            .to_string()
            .contains("at least one positive"));
    }
}

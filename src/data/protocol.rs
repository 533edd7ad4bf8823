//! Evaluation protocols: stratified hold-out validation (the reference's 20 % per class),
//! subject-independent k-fold (BioVid) and leave-one-subject-out (UNBC-McMaster). A split lists
//! video ids and is saved as JSON so an evaluation can be repeated exactly.

use std::collections::BTreeMap;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::frames::natural_cmp;
use crate::data::source::VideoMeta;
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    pub name: String,
    /// Video ids used for training.
    pub train: Vec<String>,
    /// Video ids held out (validation or test).
    pub held_out: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub protocol: String,
    pub seed: u64,
    pub folds: Vec<Fold>,
}

impl Split {
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::data(path, e.to_string()))?;
        crate::fsutil::write_atomically(path, |f| std::io::Write::write_all(f, json.as_bytes()))
    }

    pub fn load(path: &Path) -> Result<Split> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::data(path, format!("not a split file: {e}")))
    }

    /// Indices into `videos` of fold `fold`'s (train, held-out) sets; an id the dataset lacks is an
    /// error (the split belongs to another dataset).
    pub fn indices(&self, fold: usize, videos: &[VideoMeta]) -> Result<(Vec<usize>, Vec<usize>)> {
        let f = self
            .folds
            .get(fold)
            .ok_or_else(|| Error::argument("split", format!("fold {fold} of {}", self.folds.len())))?;
        let by_id: BTreeMap<&str, usize> = videos.iter().enumerate().map(|(i, v)| (v.id.as_str(), i)).collect();
        let lookup = |ids: &[String]| -> Result<Vec<usize>> {
            ids.iter()
                .map(|id| {
                    by_id
                        .get(id.as_str())
                        .copied()
                        .ok_or_else(|| Error::argument("split", format!("video `{id}` is not in the dataset")))
                })
                .collect()
        };
        Ok((lookup(&f.train)?, lookup(&f.held_out)?))
    }
}

/// Per class, shuffle the videos and hold out the first floor(fraction * n), like the reference
/// (int(0.2 * n) per emotion).
pub fn stratified_holdout(videos: &[VideoMeta], fraction: f64, seed: u64) -> Result<Split> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(Error::argument("holdout", "fraction must lie in [0, 1)"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut by_class: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for v in videos {
        by_class.entry(v.label).or_default().push(&v.id);
    }
    let mut fold = Fold {
        name: format!("holdout-{fraction}"),
        train: Vec::new(),
        held_out: Vec::new(),
    };
    for ids in by_class.values_mut() {
        ids.shuffle(&mut rng);
        let n_val = (fraction * ids.len() as f64) as usize;
        fold.held_out.extend(ids[..n_val].iter().map(|s| s.to_string()));
        fold.train.extend(ids[n_val..].iter().map(|s| s.to_string()));
    }
    Ok(Split {
        protocol: "stratified-holdout".into(),
        seed,
        folds: vec![fold],
    })
}

/// Videos grouped by subject, subjects in natural order; every video must name its subject.
fn by_subject(videos: &[VideoMeta]) -> Result<Vec<(String, Vec<String>)>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in videos {
        let s = v.subject.as_ref().ok_or_else(|| {
            Error::argument(
                "protocol",
                format!("video `{}` has no subject (use a CSV manifest)", v.id),
            )
        })?;
        map.entry(s.clone()).or_default().push(v.id.clone());
    }
    let mut groups: Vec<(String, Vec<String>)> = map.into_iter().collect();
    groups.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    Ok(groups)
}

fn folds_from_groups(groups: &[(String, Vec<String>)], assignment: &[usize], k: usize, prefix: &str) -> Vec<Fold> {
    (0..k)
        .map(|f| {
            let mut fold = Fold {
                name: format!("{prefix}{f}"),
                train: Vec::new(),
                held_out: Vec::new(),
            };
            for (g, (_, ids)) in groups.iter().enumerate() {
                let dst = if assignment[g] == f {
                    &mut fold.held_out
                } else {
                    &mut fold.train
                };
                dst.extend(ids.iter().cloned());
            }
            fold
        })
        .collect()
}

/// k folds with no subject in two folds. Subjects are shuffled, then placed largest first into the
/// fold with the fewest videos so far, which keeps folds close in size.
pub fn subject_kfold(videos: &[VideoMeta], k: usize, seed: u64) -> Result<Split> {
    let mut groups = by_subject(videos)?;
    if k < 2 || k > groups.len() {
        return Err(Error::argument(
            "kfold",
            format!("k = {k} needs 2 <= k <= {} subjects", groups.len()),
        ));
    }
    groups.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&g| std::cmp::Reverse(groups[g].1.len()));
    let mut sizes = vec![0usize; k];
    let mut assignment = vec![0usize; groups.len()];
    for g in order {
        let f = (0..k).min_by_key(|&f| sizes[f]).expect("k >= 2");
        assignment[g] = f;
        sizes[f] += groups[g].1.len();
    }
    Ok(Split {
        protocol: format!("subject-{k}-fold"),
        seed,
        folds: folds_from_groups(&groups, &assignment, k, "fold-"),
    })
}

/// One fold per subject, holding out all of that subject's videos.
pub fn leave_one_subject_out(videos: &[VideoMeta]) -> Result<Split> {
    let groups = by_subject(videos)?;
    if groups.len() < 2 {
        return Err(Error::argument("loso", "needs at least two subjects"));
    }
    let assignment: Vec<usize> = (0..groups.len()).collect();
    let mut folds = folds_from_groups(&groups, &assignment, groups.len(), "");
    for (fold, (subject, _)) in folds.iter_mut().zip(&groups) {
        fold.name = format!("subject-{subject}");
    }
    Ok(Split {
        protocol: "leave-one-subject-out".into(),
        seed: 0,
        folds,
    })
}

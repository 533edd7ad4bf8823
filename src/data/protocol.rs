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
                format!(
                    "video `{}` has no subject; subject-independent protocols need one per video: \
                     give --data a manifest CSV `path,label,subject[,split]` (its subject column), \
                     or a pack made from one (`stsm-engine pack` of a manifest)",
                    v.id
                ),
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

/// How a run's videos are split into training and test: the data's own train/test splits
/// (`holdout`), subject-independent k-fold over every split's videos pooled (`kfold:K`), or
/// leave-one-subject-out (`loso`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Holdout,
    KFold(usize),
    Loso,
}

impl Protocol {
    pub fn parse(text: &str) -> Result<Protocol> {
        let bad = || {
            Error::argument(
                "--protocol",
                format!("`{text}` is not a protocol; use holdout, kfold:K (K >= 2, e.g. kfold:8) or loso"),
            )
        };
        match text.trim() {
            "holdout" => Ok(Protocol::Holdout),
            "loso" => Ok(Protocol::Loso),
            other => {
                let k = other.strip_prefix("kfold:").ok_or_else(bad)?;
                match k.parse::<usize>() {
                    Ok(k) if k >= 2 => Ok(Protocol::KFold(k)),
                    _ => Err(bad()),
                }
            }
        }
    }

    /// The folds of `videos` (which must all name their subject); `seed` deals subjects to k-fold
    /// folds. Holdout has no folds here (the data's splits are used).
    pub fn split(&self, videos: &[VideoMeta], seed: u64) -> Result<Split> {
        match *self {
            Protocol::Holdout => Err(Error::argument(
                "--protocol",
                "holdout uses the data's own train/test splits, not folds",
            )),
            Protocol::KFold(k) => subject_kfold(videos, k, seed),
            Protocol::Loso => leave_one_subject_out(videos),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Protocol::Holdout => write!(f, "holdout"),
            Protocol::KFold(k) => write!(f, "kfold:{k}"),
            Protocol::Loso => write!(f, "loso"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(id: &str, label: usize, subject: &str) -> VideoMeta {
        VideoMeta {
            id: id.into(),
            label,
            subject: Some(subject.into()),
            split: None,
            frames: 8,
            width: 4,
            height: 4,
        }
    }

    /// 7 subjects with 1 to 4 videos each, two classes.
    fn videos() -> Vec<VideoMeta> {
        let mut out = Vec::new();
        for s in 0..7 {
            for k in 0..(1 + s % 4) {
                out.push(video(&format!("v{s}-{k}"), k % 2, &format!("p{s}")));
            }
        }
        out
    }

    fn subjects_of(ids: &[String], all: &[VideoMeta]) -> std::collections::BTreeSet<String> {
        ids.iter()
            .map(|id| all.iter().find(|v| &v.id == id).unwrap().subject.clone().unwrap())
            .collect()
    }

    #[test]
    fn no_subject_is_on_both_sides_and_every_video_is_tested_once() {
        let all = videos();
        for protocol in [
            Protocol::KFold(2),
            Protocol::KFold(3),
            Protocol::KFold(7),
            Protocol::Loso,
        ] {
            for seed in 0..4 {
                let split = protocol.split(&all, seed).unwrap();
                let mut tested: Vec<String> = Vec::new();
                for fold in &split.folds {
                    let train = subjects_of(&fold.train, &all);
                    let test = subjects_of(&fold.held_out, &all);
                    assert!(train.is_disjoint(&test), "{protocol} seed {seed} {}", fold.name);
                    assert_eq!(fold.train.len() + fold.held_out.len(), all.len());
                    tested.extend(fold.held_out.iter().cloned());
                }
                tested.sort();
                let mut ids: Vec<String> = all.iter().map(|v| v.id.clone()).collect();
                ids.sort();
                assert_eq!(tested, ids, "{protocol}: each video is tested exactly once");
            }
        }
        assert_eq!(Protocol::Loso.split(&all, 0).unwrap().folds.len(), 7);
    }

    #[test]
    fn protocol_strings_and_their_errors() {
        assert_eq!(Protocol::parse("kfold:8").unwrap(), Protocol::KFold(8));
        assert_eq!(Protocol::parse("loso").unwrap(), Protocol::Loso);
        assert_eq!(Protocol::parse("holdout").unwrap(), Protocol::Holdout);
        for bad in ["kfold", "kfold:1", "kfold:x", "8-fold", ""] {
            let err = Protocol::parse(bad).unwrap_err().to_string();
            assert!(err.contains("kfold:K"), "{bad}: {err}");
        }
        let err = Protocol::KFold(8).split(&videos(), 0).unwrap_err().to_string();
        assert!(err.contains("k = 8") && err.contains("7 subjects"), "{err}");
        let mut anonymous = videos();
        anonymous[2].subject = None;
        let err = Protocol::Loso.split(&anonymous, 0).unwrap_err().to_string();
        assert!(err.contains("no subject") && err.contains("manifest"), "{err}");
    }
}

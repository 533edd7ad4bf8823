//! Frame-folder datasets: the AFEW layout `ROOT/<split>/<Class>/<video_id>/*.png|jpg`.
//! Discovery lists videos and their frame files (in natural order) without decoding any image.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One video as found on disk: its frame files in temporal order and its labels.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoEntry {
    /// Unique across the whole dataset (the folder name in the AFEW layout); the key of the
    /// per-video sampling state, so duplicates are an error.
    pub id: String,
    /// Index into the dataset's class list.
    pub label: usize,
    /// Subject (actor, patient) for subject-independent protocols; `None` when unknown.
    pub subject: Option<String>,
    /// Split named by the layout or manifest (`train`, `val`, ...), if any.
    pub split: Option<String>,
    pub frames: Vec<PathBuf>,
}

/// The result of scanning a dataset: videos plus the warnings worth showing to the user.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// Class names; a label is an index into this list.
    pub classes: Vec<String>,
    pub videos: Vec<VideoEntry>,
    pub warnings: Vec<String>,
}

/// File extensions counted as frames (lower-cased).
const FRAME_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

pub fn is_frame_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| FRAME_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// Natural ("human") order: runs of digits compare by numeric value, so `frame2.png` sorts before
/// `frame10.png` and unpadded frame numbers keep their temporal order. The reference sorts
/// lexicographically, which silently scrambles unpadded names. Ties (e.g. `01` vs `1`) fall back
/// to plain string order so the sort is total and deterministic.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            // Compare the digit runs as numbers of any length: strip leading zeros, then a longer
            // run is larger, and equal lengths compare digit by digit.
            let na = trim_zeros(&ab[si..i]);
            let nb = trim_zeros(&bb[sj..j]);
            let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            let ord = ab[i].cmp(&bb[j]);
            if ord != Ordering::Equal {
                return ord;
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j)).then_with(|| a.cmp(b))
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let first = digits.iter().position(|&d| d != b'0').unwrap_or(digits.len());
    &digits[first..]
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        entries.push(entry.map_err(|e| Error::io(dir, e))?.path());
    }
    entries.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    Ok(entries)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The frame files of one video folder, in natural order.
pub fn list_frames(video_dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(read_dir_sorted(video_dir)?
        .into_iter()
        .filter(|p| p.is_file() && is_frame_file(p))
        .collect())
}

/// The class folders of a split folder. A symbolic link among them is refused: it would add a
/// class (or count one class's videos twice) without anyone seeing it in a listing.
fn class_folders(split_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in read_dir_sorted(split_dir)? {
        let link = std::fs::symlink_metadata(&p).map_err(|e| Error::io(&p, e))?;
        if link.file_type().is_symlink() && p.is_dir() {
            return Err(Error::data(
                &p,
                "is a symbolic link to a folder inside a split; class folders must be real folders \
                 (replace the link by the folder, or remove it)",
            ));
        }
        if p.is_dir() {
            out.push(p);
        }
    }
    Ok(out)
}

/// The class names of an AFEW-layout root: the class folders of all its splits, in alphabetical
/// order (the reference's label order: Angry 0 ... Surprise 6). Taking every split keeps labels
/// the same in a split that lacks a class.
pub fn classes_of_root(root: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for split in read_dir_sorted(root)?.into_iter().filter(|p| p.is_dir()) {
        names.extend(class_folders(&split)?.iter().map(|p| file_name(p)));
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Scans `root/<split>/<Class>/<video_id>/`. Classes are those of `classes_of_root`, unless
/// `classes` is given, in which case every folder must name one of them. Empty video folders are skipped with a
/// warning; a video id seen twice (in any class) is an error.
pub fn discover_split(root: &Path, split: &str, classes: Option<&[String]>) -> Result<Discovery> {
    let split_dir = root.join(split);
    if !split_dir.is_dir() {
        return Err(Error::data(&split_dir, "split folder not found"));
    }
    let class_dirs = class_folders(&split_dir)?;
    let class_names: Vec<String> = match classes {
        Some(list) => list.to_vec(),
        None => classes_of_root(root)?,
    };
    let mut out = Discovery {
        classes: class_names.clone(),
        ..Default::default()
    };
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for class_dir in &class_dirs {
        let name = file_name(class_dir);
        let label = class_names.iter().position(|c| *c == name).ok_or_else(|| {
            Error::data(
                class_dir,
                format!("class `{name}` is not in the class list {class_names:?}"),
            )
        })?;
        for video_dir in read_dir_sorted(class_dir)?.into_iter().filter(|p| p.is_dir()) {
            let id = file_name(&video_dir);
            if let Some(first) = seen.get(&id) {
                return Err(Error::data(
                    &video_dir,
                    format!(
                        "duplicate video id `{id}` (also at {}); ids must be unique",
                        first.display()
                    ),
                ));
            }
            seen.insert(id.clone(), video_dir.clone());
            let frames = list_frames(&video_dir)?;
            if frames.is_empty() {
                out.warnings
                    .push(format!("{}: no frames, video skipped", video_dir.display()));
                continue;
            }
            out.videos.push(VideoEntry {
                id,
                label,
                subject: None,
                split: Some(split.to_string()),
                frames,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_handles_unpadded_numbers() {
        let mut names = vec!["f10.png", "f2.png", "f1.png", "f01.png", "f100.png", "g.png", "f2a.png"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            vec!["f01.png", "f1.png", "f2.png", "f2a.png", "f10.png", "f100.png", "g.png"]
        );
    }

    #[test]
    fn natural_order_matches_lexicographic_for_padded_names() {
        let mut names: Vec<String> = (0..120).rev().map(|i| format!("{i:05}.png")).collect();
        let mut lex = names.clone();
        lex.sort();
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, lex);
    }
}

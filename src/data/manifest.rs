//! CSV manifests `path,label,subject[,split]` for datasets whose protocol needs subjects
//! (UNBC-McMaster leave-one-subject-out, BioVid k-fold). `path` is a frame folder or a video
//! file (.mp4 .avi .mkv .webm .mov), relative to the manifest's own folder unless absolute; the
//! video id is the folder's name or the file's name without its extension. A first line that
//! starts with `path,` is a header. Fields are plain (no quoting): ids and class names in these
//! datasets have no commas.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::data::frames::{list_frames, natural_cmp, video_file_id, Discovery, Media, VideoEntry};
use crate::data::video_file::is_video_file;
use crate::error::{Error, Result};

/// One parsed manifest row, before the frame folder is listed.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestRow {
    pub path: PathBuf,
    pub label: String,
    pub subject: String,
    pub split: Option<String>,
}

pub fn parse_manifest(text: &str, manifest_path: &Path) -> Result<Vec<ManifestRow>> {
    let base = manifest_path.parent().unwrap_or(Path::new("."));
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (n == 0 && line.starts_with("path,")) {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if !(3..=4).contains(&fields.len()) || fields[..3].iter().any(|f| f.is_empty()) {
            return Err(Error::data(
                manifest_path,
                format!("line {}: expected `path,label,subject[,split]`, got `{line}`", n + 1),
            ));
        }
        let path = Path::new(fields[0]);
        rows.push(ManifestRow {
            path: if path.is_absolute() {
                path.to_path_buf()
            } else {
                base.join(path)
            },
            label: fields[1].to_string(),
            subject: fields[2].to_string(),
            split: fields.get(3).filter(|s| !s.is_empty()).map(|s| s.to_string()),
        });
    }
    Ok(rows)
}

/// Reads a manifest and lists each video's frames. With `classes`, a label must be one of those
/// names (or an index into the list) and anything else is an error; without, the class list is
/// the labels seen, in natural order. `split` keeps only rows of that split. Duplicate video ids
/// are an error; videos with no frames are skipped with a warning.
pub fn load_manifest(manifest_path: &Path, classes: Option<&[String]>, split: Option<&str>) -> Result<Discovery> {
    let text = std::fs::read_to_string(manifest_path).map_err(|e| Error::io(manifest_path, e))?;
    let rows = parse_manifest(&text, manifest_path)?;
    // The class list comes from every row, before the split filter, so a split that lacks a
    // class still gets the same labels as the others.
    let class_names: Vec<String> = match classes {
        Some(list) => list.to_vec(),
        None => {
            let mut names: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
            names.sort_by(|a, b| natural_cmp(a, b));
            names.dedup();
            names
        }
    };
    let mut out = Discovery {
        classes: class_names.clone(),
        ..Default::default()
    };
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    // Labels and ids are checked on every row (ids must be unique across splits); only the rows
    // of the requested split are listed.
    for row in rows {
        let label = class_names
            .iter()
            .position(|c| *c == row.label)
            .or_else(|| {
                row.label
                    .parse::<usize>()
                    .ok()
                    .filter(|&i| classes.is_some() && i < class_names.len())
            })
            .ok_or_else(|| {
                Error::data(
                    manifest_path,
                    format!(
                        "video {}: label `{}` is not in the class list {class_names:?}",
                        row.path.display(),
                        row.label
                    ),
                )
            })?;
        let is_video = is_video_file(&row.path) && !row.path.is_dir();
        let id = if is_video {
            video_file_id(&row.path)
        } else {
            row.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        if let Some(first) = seen.get(&id) {
            return Err(Error::data(
                manifest_path,
                format!(
                    "duplicate video id `{id}` ({} and {}); ids must be unique",
                    first.display(),
                    row.path.display()
                ),
            ));
        }
        seen.insert(id.clone(), row.path.clone());
        if split.is_some() && row.split.as_deref() != split {
            continue;
        }
        let media = if is_video {
            // Existence and kind are checked when it is decoded, with the other bad files.
            Media::File(row.path.clone())
        } else {
            if !row.path.is_dir() {
                return Err(Error::data(
                    &row.path,
                    "video folder named in the manifest does not exist (nor is it a video file: \
                     .mp4 .avi .mkv .webm .mov)",
                ));
            }
            let frames = list_frames(&row.path)?;
            if frames.is_empty() {
                out.warnings
                    .push(format!("{}: no frames, video skipped", row.path.display()));
                continue;
            }
            Media::Frames(frames)
        };
        out.videos.push(VideoEntry {
            id,
            label,
            subject: Some(row.subject),
            split: row.split,
            media,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_relative_paths_and_optional_split() {
        let text = "path,label,subject,split\nv/a,Pain,s1,train\n/abs/b,NoPain,s2\n\n# comment\n";
        let rows = parse_manifest(text, Path::new("/data/m.csv")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].path, PathBuf::from("/data/v/a"));
        assert_eq!(rows[0].split.as_deref(), Some("train"));
        assert_eq!(rows[1].path, PathBuf::from("/abs/b"));
        assert_eq!(rows[1].split, None);
    }

    #[test]
    fn rejects_malformed_rows_naming_the_line() {
        let err = parse_manifest("a,b\n", Path::new("m.csv")).unwrap_err().to_string();
        assert!(err.contains("m.csv") && err.contains("line 1"), "{err}");
    }
}

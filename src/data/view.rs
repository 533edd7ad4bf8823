//! Datasets seen through a view: several sources pooled into one (a subject-independent protocol
//! deals the subjects of every split to folds), and a class map that keeps, renames and merges
//! classes (`BL1=NoPain,PA4=Pain`). A view re-labels videos; frames are read from the sources.

use std::sync::Arc;

use crate::data::source::{VideoMeta, VideoSource};
use crate::error::{Error, Result};

/// Videos drawn from other sources, each with its own (new) label.
pub struct SourceView {
    classes: Vec<String>,
    videos: Vec<VideoMeta>,
    /// (source, video in that source) of each of `videos`.
    origin: Vec<(usize, usize)>,
    sources: Vec<Arc<dyn VideoSource>>,
}

impl SourceView {
    /// Every video of every source, in order; the sources must share one class list.
    pub fn pooled(sources: Vec<Arc<dyn VideoSource>>) -> Result<SourceView> {
        let classes = sources.first().map(|s| s.classes().to_vec()).unwrap_or_default();
        let mut videos = Vec::new();
        let mut origin = Vec::new();
        for (s, source) in sources.iter().enumerate() {
            if source.classes() != classes.as_slice() {
                return Err(Error::argument(
                    "data",
                    format!(
                        "cannot pool splits with different classes: {classes:?} and {:?}",
                        source.classes()
                    ),
                ));
            }
            for (v, meta) in source.videos().iter().enumerate() {
                if let Some(dup) = videos.iter().find(|m: &&VideoMeta| m.id == meta.id) {
                    return Err(Error::argument(
                        "data",
                        format!("video id `{}` appears in two splits; ids must be unique", dup.id),
                    ));
                }
                videos.push(meta.clone());
                origin.push((s, v));
            }
        }
        Ok(SourceView {
            classes,
            videos,
            origin,
            sources,
        })
    }

    /// The videos of `source` whose class `map` keeps, labelled with the map's classes.
    pub fn mapped(source: Arc<dyn VideoSource>, map: &ClassMap) -> Result<SourceView> {
        let relabel = map.relabel(source.classes())?;
        let mut videos = Vec::new();
        let mut origin = Vec::new();
        for (v, meta) in source.videos().iter().enumerate() {
            if let Some(label) = relabel[meta.label] {
                videos.push(VideoMeta { label, ..meta.clone() });
                origin.push((0, v));
            }
        }
        Ok(SourceView {
            classes: map.classes(),
            videos,
            origin,
            sources: vec![source],
        })
    }
}

impl VideoSource for SourceView {
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn videos(&self) -> &[VideoMeta] {
        &self.videos
    }
    fn frame<'a>(&'a self, video: usize, t: usize, scratch: &'a mut Vec<u8>) -> Result<&'a [u8]> {
        self.check_frame(video, t)?;
        let (s, v) = self.origin[video];
        self.sources[s].frame(v, t, scratch)
    }
    fn drain_warnings(&self) -> Vec<String> {
        self.sources.iter().flat_map(|s| s.drain_warnings()).collect()
    }
}

/// `FROM=TO` pairs: the classes kept, each under its new name; several `FROM` may share a `TO`
/// (merged). The new classes are the `TO` names in order of first appearance.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassMap {
    pairs: Vec<(String, String)>,
}

impl ClassMap {
    pub fn parse(text: &str) -> Result<ClassMap> {
        let bad = |msg: String| Error::argument("--class-map", msg);
        let mut pairs: Vec<(String, String)> = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (from, to) = item
                .split_once('=')
                .map(|(a, b)| (a.trim(), b.trim()))
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .ok_or_else(|| bad(format!("`{item}` is not FROM=TO (e.g. BL1=NoPain,PA4=Pain)")))?;
            if pairs.iter().any(|(f, _)| f == from) {
                return Err(bad(format!("class `{from}` is mapped twice")));
            }
            pairs.push((from.to_string(), to.to_string()));
        }
        let map = ClassMap { pairs };
        if map.classes().len() < 2 {
            return Err(bad(format!(
                "`{text}` gives {} class(es); classification needs at least two",
                map.classes().len()
            )));
        }
        Ok(map)
    }

    /// The classes after the map.
    pub fn classes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, to) in &self.pairs {
            if !out.contains(to) {
                out.push(to.clone());
            }
        }
        out
    }

    /// For each of `classes` (the data's), its new label, or None when dropped. A `FROM` the data
    /// lacks is an error naming the data's classes.
    pub fn relabel(&self, classes: &[String]) -> Result<Vec<Option<usize>>> {
        for (from, _) in &self.pairs {
            if !classes.contains(from) {
                return Err(Error::argument(
                    "--class-map",
                    format!("names class `{from}`, which the data does not have; its classes are {classes:?}"),
                ));
            }
        }
        let new = self.classes();
        Ok(classes
            .iter()
            .map(|c| {
                self.pairs
                    .iter()
                    .find(|(from, _)| from == c)
                    .and_then(|(_, to)| new.iter().position(|n| n == to))
            })
            .collect())
    }
}

impl std::fmt::Display for ClassMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items: Vec<String> = self.pairs.iter().map(|(a, b)| format!("{a}={b}")).collect();
        write!(f, "{}", items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_renames_and_merges_in_order_of_first_appearance() {
        let map = ClassMap::parse("BL1=NoPain, PA3=Pain,PA4=Pain").unwrap();
        assert_eq!(map.classes(), ["NoPain", "Pain"]);
        let data: Vec<String> = ["BL1", "PA1", "PA3", "PA4"].iter().map(|s| s.to_string()).collect();
        assert_eq!(map.relabel(&data).unwrap(), [Some(0), None, Some(1), Some(1)]);
        assert_eq!(map.to_string(), "BL1=NoPain,PA3=Pain,PA4=Pain");
    }

    #[test]
    fn unknown_class_and_malformed_maps_are_errors() {
        let map = ClassMap::parse("BL1=NoPain,PA5=Pain").unwrap();
        let err = map
            .relabel(&["BL1".to_string(), "PA4".to_string()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("PA5") && err.contains("PA4"), "{err}");
        assert!(ClassMap::parse("BL1").is_err());
        assert!(ClassMap::parse("BL1=A,PA4=A").is_err());
        assert!(ClassMap::parse("BL1=A,BL1=B").is_err());
    }
}

//! The one interface the clip builder and loader read frames through, with its frame-folder
//! implementation (decode on every read). The packed implementation is in `pack.rs`.

use std::collections::HashSet;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::data::frames::Discovery;
use crate::data::image_io::{image_size, load_rgb, resize, Frame, Interp};
use crate::error::{Error, Result};

/// What a loader needs to know about a video without reading its frames.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoMeta {
    pub id: String,
    pub label: usize,
    pub subject: Option<String>,
    pub split: Option<String>,
    /// Number of frames.
    pub frames: usize,
    /// Every frame of the video is (height, width, 3) u8.
    pub width: usize,
    pub height: usize,
}

/// A dataset of videos whose frames can be read one at a time. Shared by loader threads.
pub trait VideoSource: Send + Sync {
    fn classes(&self) -> &[String];
    fn videos(&self) -> &[VideoMeta];
    /// Frame `t` of video `video` as (H, W, 3) u8 bytes, H and W from its `VideoMeta`. A packed
    /// source returns a slice of its memory map; a decoding source fills `scratch`.
    fn frame<'a>(&'a self, video: usize, t: usize, scratch: &'a mut Vec<u8>) -> Result<&'a [u8]>;

    /// Warnings collected while reading (e.g. frames of mixed sizes), emptied; a source that
    /// has none returns nothing.
    fn drain_warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// Bounds check shared by implementations, so a bad request is an error and not a panic.
    fn check_frame(&self, video: usize, t: usize) -> Result<&VideoMeta> {
        let meta = self.videos().get(video).ok_or_else(|| {
            Error::argument(
                "frame",
                format!("video {video} out of range ({} videos)", self.videos().len()),
            )
        })?;
        if t >= meta.frames {
            return Err(Error::argument(
                "frame",
                format!("frame {t} out of range: video {} has {} frames", meta.id, meta.frames),
            ));
        }
        Ok(meta)
    }
}

/// Frames decoded from image files on every read (no preprocessing step; slower than a pack).
pub struct FolderSource {
    classes: Vec<String>,
    videos: Vec<VideoMeta>,
    paths: Vec<Vec<std::path::PathBuf>>,
    interp: Interp,
    /// Videos already warned about for mixed frame sizes: one warning per video, not per frame.
    warned: Mutex<HashSet<usize>>,
    warnings: Mutex<Vec<String>>,
}

impl FolderSource {
    /// `size` = (width, height) every frame is resized to; `None` keeps each video at the size of
    /// its first frame (read from the image header only).
    pub fn new(discovery: Discovery, size: Option<(usize, usize)>, interp: Interp) -> Result<FolderSource> {
        let mut videos = Vec::with_capacity(discovery.videos.len());
        let mut paths = Vec::with_capacity(discovery.videos.len());
        for v in discovery.videos {
            if v.frames.is_empty() {
                return Err(Error::argument(
                    "frame-folders",
                    format!("video {} has no frames", v.id),
                ));
            }
            let (width, height) = match size {
                Some(s) => s,
                None => image_size(&v.frames[0])?,
            };
            videos.push(VideoMeta {
                id: v.id,
                label: v.label,
                subject: v.subject,
                split: v.split,
                frames: v.frames.len(),
                width,
                height,
            });
            paths.push(v.frames);
        }
        Ok(FolderSource {
            classes: discovery.classes,
            videos,
            paths,
            interp,
            warned: Mutex::new(HashSet::new()),
            warnings: Mutex::new(discovery.warnings),
        })
    }

    /// Warnings collected so far (from discovery and from mixed-size frames), emptied.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn decode(&self, video: usize, t: usize) -> Result<Frame> {
        let meta = &self.videos[video];
        let frame = load_rgb(&self.paths[video][t])?;
        if frame.width == meta.width && frame.height == meta.height {
            return Ok(frame);
        }
        let first_time = self.warned.lock().unwrap_or_else(|e| e.into_inner()).insert(video);
        if first_time {
            self.warnings.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
                "video {}: frames of mixed sizes ({} is {}x{}), resized to {}x{}",
                meta.id,
                self.paths[video][t].display(),
                frame.width,
                frame.height,
                meta.width,
                meta.height
            ));
        }
        Ok(resize(&frame, meta.width, meta.height, self.interp))
    }
}

impl VideoSource for FolderSource {
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn videos(&self) -> &[VideoMeta] {
        &self.videos
    }
    fn drain_warnings(&self) -> Vec<String> {
        self.take_warnings()
    }
    fn frame<'a>(&'a self, video: usize, t: usize, scratch: &'a mut Vec<u8>) -> Result<&'a [u8]> {
        self.check_frame(video, t)?;
        *scratch = self.decode(video, t)?.data;
        Ok(scratch.as_slice())
    }
}

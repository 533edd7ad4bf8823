//! The packed dataset: every frame decoded and resized once, stored as raw (H, W, 3) u8, read by
//! training through a memory map without copying.
//!
//! File layout (little-endian):
//! ```text
//! [0, 64)        header: magic "STSMPK01", version u32, reserved u32, data_offset u64,
//!                data_len u64, index_offset u64, index_len u64, data_crc32 u32, index_crc32 u32
//! [64, 64+D)     frame bytes, video after video, frame after frame
//! [index_offset) JSON index: classes and, per video, id, label, subject, split, offset (from the
//!                start of the data), frames, width, height
//! ```
//! The writer fills a temporary file, writes the header last, fsyncs and renames, so an
//! interrupted pack never leaves a file under the final name, and a truncated file fails the
//! magic or checksum test.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use crate::data::source::{VideoMeta, VideoSource};
use crate::error::{Error, Result};
use crate::fsutil::AtomicFile;

const MAGIC: &[u8; 8] = b"STSMPK01";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 64;

/// Re-packing is the fix for every integrity failure; say so in each such message.
const REPACK: &str = "the pack is corrupt or incomplete; re-pack it with `stsm-engine pack`";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackIndex {
    pub classes: Vec<String>,
    pub videos: Vec<PackedVideo>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackedVideo {
    #[serde(flatten)]
    pub meta: VideoMeta,
    /// Byte offset of the video's first frame from the start of the data region.
    pub offset: u64,
}

struct Header {
    data_offset: u64,
    data_len: u64,
    index_offset: u64,
    index_len: u64,
    data_crc: u32,
    index_crc: u32,
}

impl Header {
    fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[16..24].copy_from_slice(&self.data_offset.to_le_bytes());
        b[24..32].copy_from_slice(&self.data_len.to_le_bytes());
        b[32..40].copy_from_slice(&self.index_offset.to_le_bytes());
        b[40..48].copy_from_slice(&self.index_len.to_le_bytes());
        b[48..52].copy_from_slice(&self.data_crc.to_le_bytes());
        b[52..56].copy_from_slice(&self.index_crc.to_le_bytes());
        b
    }

    fn parse(b: &[u8], path: &Path) -> Result<Header> {
        if b.len() < HEADER_LEN || &b[0..8] != MAGIC {
            return Err(Error::data(
                path,
                format!("not a stsm-engine pack (bad magic); {REPACK}"),
            ));
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if u32_at(8) != VERSION {
            return Err(Error::data(
                path,
                format!("pack version {} (expected {VERSION}); {REPACK}", u32_at(8)),
            ));
        }
        Ok(Header {
            data_offset: u64_at(16),
            data_len: u64_at(24),
            index_offset: u64_at(32),
            index_len: u64_at(40),
            data_crc: u32_at(48),
            index_crc: u32_at(52),
        })
    }
}

/// Streams videos into a temporary file; `finish` makes it a pack under the final name.
pub struct PackWriter {
    path: PathBuf,
    tmp_path: PathBuf,
    /// The temporary file (removed if the writer is dropped unfinished) and a buffered handle
    /// on the same open file.
    target: AtomicFile,
    file: Option<BufWriter<File>>,
    classes: Vec<String>,
    videos: Vec<PackedVideo>,
    data_len: u64,
    crc: crc32fast::Hasher,
}

impl PackWriter {
    pub fn create(path: &Path, classes: Vec<String>) -> Result<PackWriter> {
        let mut target = AtomicFile::create(path)?;
        let tmp_path = target.tmp_path().to_path_buf();
        let file = target.file().try_clone().map_err(|e| Error::io(&tmp_path, e))?;
        let mut file = BufWriter::with_capacity(1 << 20, file);
        // A zero header until `finish`: a file cut short here has no magic.
        file.write_all(&[0u8; HEADER_LEN])
            .map_err(|e| Error::io(&tmp_path, e))?;
        Ok(PackWriter {
            path: path.to_path_buf(),
            tmp_path,
            target,
            file: Some(file),
            classes,
            videos: Vec::new(),
            data_len: 0,
            crc: crc32fast::Hasher::new(),
        })
    }

    /// Starts a video; its frames follow through `push_frame`, `meta.frames` of them.
    pub fn begin_video(&mut self, mut meta: VideoMeta) {
        meta.frames = 0;
        self.videos.push(PackedVideo {
            meta,
            offset: self.data_len,
        });
    }

    /// Appends one (H, W, 3) frame of the current video.
    pub fn push_frame(&mut self, bytes: &[u8]) -> Result<()> {
        let video = self
            .videos
            .last_mut()
            .ok_or_else(|| Error::argument("pack", "push_frame before begin_video"))?;
        if bytes.len() != video.meta.width * video.meta.height * 3 {
            return Err(Error::shape(
                "pack",
                format!(
                    "frame of {} bytes for a {}x{} video",
                    bytes.len(),
                    video.meta.width,
                    video.meta.height
                ),
            ));
        }
        video.meta.frames += 1;
        self.crc.update(bytes);
        self.data_len += bytes.len() as u64;
        let file = self.file.as_mut().expect("open until finish");
        file.write_all(bytes).map_err(|e| Error::io(&self.tmp_path, e))
    }

    /// Writes index and header, fsyncs, and renames the temporary file to the final name.
    pub fn finish(mut self) -> Result<PathBuf> {
        let index = PackIndex {
            classes: std::mem::take(&mut self.classes),
            videos: std::mem::take(&mut self.videos),
        };
        let json = serde_json::to_vec(&index).map_err(|e| Error::data(&self.path, format!("index: {e}")))?;
        let header = Header {
            data_offset: HEADER_LEN as u64,
            data_len: self.data_len,
            index_offset: HEADER_LEN as u64 + self.data_len,
            index_len: json.len() as u64,
            data_crc: self.crc.clone().finalize(),
            index_crc: crc32fast::hash(&json),
        };
        let tmp = self.tmp_path.clone();
        let io = |e| Error::io(&tmp, e);
        let mut file = self
            .file
            .take()
            .expect("open until finish")
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        file.write_all(&json).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(&header.to_bytes()).map_err(io)?;
        drop(file);
        self.target.commit()
    }
}

/// A pack opened for reading. Frames are slices of the memory map.
pub struct Pack {
    path: PathBuf,
    map: Mmap,
    data_offset: usize,
    classes: Vec<String>,
    metas: Vec<VideoMeta>,
    offsets: Vec<usize>,
}

impl Pack {
    /// Opens and verifies a pack: header, index checksum, bounds of every video, and the data
    /// checksum (one pass over the file, cheap next to decoding images: ~25 ms for the default
    /// synthetic training set).
    pub fn open(path: &Path) -> Result<Pack> {
        Pack::open_with(path, true)
    }

    /// `verify_data: false` skips only the frame-data checksum (header, index checksum and
    /// bounds are always checked), for packs too large to read through at every start.
    pub fn open_with(path: &Path, verify_data: bool) -> Result<Pack> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the map is read-only; packs are written once under a temporary name and never
        // modified in place, so the file does not change under us in normal use.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let h = Header::parse(&map, path)?;
        let len = map.len() as u64;
        let data_end = h.data_offset.checked_add(h.data_len);
        let index_end = h.index_offset.checked_add(h.index_len);
        if h.data_offset != HEADER_LEN as u64 || data_end != Some(h.index_offset) || index_end != Some(len) {
            return Err(Error::data(
                path,
                format!("header does not match the file length {len}; {REPACK}"),
            ));
        }
        let index_bytes = &map[h.index_offset as usize..];
        if crc32fast::hash(index_bytes) != h.index_crc {
            return Err(Error::data(path, format!("index checksum mismatch; {REPACK}")));
        }
        let data = &map[HEADER_LEN..h.index_offset as usize];
        if verify_data && crc32fast::hash(data) != h.data_crc {
            return Err(Error::data(path, format!("frame data checksum mismatch; {REPACK}")));
        }
        let index: PackIndex =
            serde_json::from_slice(index_bytes).map_err(|e| Error::data(path, format!("index: {e}; {REPACK}")))?;
        let mut metas = Vec::with_capacity(index.videos.len());
        let mut offsets = Vec::with_capacity(index.videos.len());
        for v in index.videos {
            let m = &v.meta;
            // Checked: a crafted index with valid checksums may hold any sizes.
            let bytes = m
                .frames
                .checked_mul(m.width)
                .and_then(|n| n.checked_mul(m.height))
                .and_then(|n| n.checked_mul(3))
                .and_then(|n| u64::try_from(n).ok());
            let end = bytes.and_then(|b| v.offset.checked_add(b));
            if end.is_none_or(|end| end > h.data_len) || m.label >= index.classes.len() {
                return Err(Error::data(
                    path,
                    format!("index entry of video {} is out of bounds; {REPACK}", m.id),
                ));
            }
            offsets.push(v.offset as usize);
            metas.push(v.meta);
        }
        Ok(Pack {
            path: path.to_path_buf(),
            map,
            data_offset: HEADER_LEN,
            classes: index.classes,
            metas,
            offsets,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frame `t` of `video`, borrowed from the map: no copy.
    pub fn frame_bytes(&self, video: usize, t: usize) -> Result<&[u8]> {
        let m = self.check_frame(video, t)?;
        let size = m.width * m.height * 3;
        let start = self.data_offset + self.offsets[video] + t * size;
        Ok(&self.map[start..start + size])
    }
}

impl VideoSource for Pack {
    fn classes(&self) -> &[String] {
        &self.classes
    }
    fn videos(&self) -> &[VideoMeta] {
        &self.metas
    }
    fn frame<'a>(&'a self, video: usize, t: usize, _scratch: &'a mut Vec<u8>) -> Result<&'a [u8]> {
        self.frame_bytes(video, t)
    }
}

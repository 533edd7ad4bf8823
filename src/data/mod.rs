//! Video data: datasets of frame folders, video files (through FFmpeg) or CSV manifests, a packed memory-mapped format, clips
//! with padding, clip-consistent augmentation, a prefetching loader, the synthetic FER benchmark
//! and subject-independent evaluation protocols.

pub mod augment;
pub mod clip;
pub mod color;
pub mod frames;
pub mod image_io;
pub mod loader;
pub mod manifest;
pub mod pack;
pub mod packer;
pub mod protocol;
pub mod source;
pub mod synth;
pub mod video_file;
pub mod view;

pub use augment::{AugParams, AugmentConfig, ClipTransform};
pub use clip::{read_clip, read_video, ClipSpec, Padding};
pub use frames::{discover_split, Discovery, Media, VideoEntry};
pub use image_io::{Frame, Interp};
pub use loader::{AugMode, Batch, ClipRequest, Loader, LoaderConfig};
pub use manifest::load_manifest;
pub use pack::{Pack, PackWriter};
pub use packer::{pack_dataset, PackOptions, PackReport};
pub use protocol::{Fold, Split};
pub use source::{FolderSource, VideoMeta, VideoSource};
pub use view::{ClassMap, SourceView};

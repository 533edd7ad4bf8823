//! The batch loader: background threads read, augment and stack clips into (N, 3, F, H, W)
//! batches ahead of the consumer, through bounded queues, so the training step does not wait for
//! decoding. Batches arrive in request order whatever the number of threads, and each clip's
//! augmentation depends only on (seed, epoch, video), so a run is reproducible.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::augment::{mix_seed, AugParams, AugmentConfig, ClipTransform};
use crate::data::clip::{read_clip_into, ClipSpec};
use crate::data::source::VideoSource;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// One clip to load: which video, from which frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClipRequest {
    pub video: usize,
    pub start: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AugMode {
    /// Random augmentation drawn from (seed, epoch, video).
    Train { seed: u64, epoch: u64 },
    /// Deterministic resize + centre crop.
    Eval,
}

#[derive(Clone, Debug)]
pub struct LoaderConfig {
    pub batch: usize,
    /// Background threads; 0 loads on the consumer's thread (useful for debugging and timing).
    pub workers: usize,
    /// Batches each worker may hold ready ahead of the consumer (the queue bound).
    pub prefetch: usize,
    pub spec: ClipSpec,
    pub augment: AugmentConfig,
    pub mode: AugMode,
    /// Drop a last incomplete batch (the reference does, in training).
    pub drop_last: bool,
}

#[derive(Debug)]
pub struct Batch {
    /// (N, 3, F, H, W) f32.
    pub clips: Tensor,
    pub labels: Vec<usize>,
    pub videos: Vec<usize>,
    pub starts: Vec<usize>,
}

/// Loads one batch synchronously: the work a background thread does.
pub fn load_batch(source: &dyn VideoSource, requests: &[ClipRequest], cfg: &LoaderConfig) -> Result<Batch> {
    let (w, h) = cfg.augment.crop;
    let per_clip = 3 * cfg.spec.len * h * w;
    let mut data = vec![0f32; requests.len() * per_clip];
    let mut labels = Vec::with_capacity(requests.len());
    for (r, out) in requests.iter().zip(data.chunks_exact_mut(per_clip)) {
        let meta = source
            .videos()
            .get(r.video)
            .ok_or_else(|| Error::argument("loader", format!("video {} out of range", r.video)))?;
        let params = match cfg.mode {
            AugMode::Train { seed, epoch } => AugParams::draw(&cfg.augment, seed, epoch, r.video as u64),
            AugMode::Eval => AugParams::eval(&cfg.augment),
        };
        let transform = ClipTransform::new(&cfg.augment, &params, meta.width, meta.height)?;
        read_clip_into(source, r.video, r.start, cfg.spec, &transform, out)?;
        labels.push(meta.label);
    }
    Ok(Batch {
        clips: Tensor::from_vec(&[requests.len(), 3, cfg.spec.len, h, w], data)?,
        labels,
        videos: requests.iter().map(|r| r.video).collect(),
        starts: requests.iter().map(|r| r.start).collect(),
    })
}

/// An iterator of batches filled by background threads.
pub struct Loader {
    source: Arc<dyn VideoSource>,
    batches: Arc<Vec<Vec<ClipRequest>>>,
    cfg: Arc<LoaderConfig>,
    receivers: Vec<Receiver<Result<Batch>>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    failed: bool,
}

impl Loader {
    pub fn new(source: Arc<dyn VideoSource>, requests: Vec<ClipRequest>, cfg: LoaderConfig) -> Result<Loader> {
        if cfg.batch == 0 || (cfg.workers > 0 && cfg.prefetch == 0) {
            return Err(Error::argument("loader", "batch and prefetch must be at least 1"));
        }
        cfg.augment.validate()?;
        let mut batches: Vec<Vec<ClipRequest>> = requests.chunks(cfg.batch).map(|c| c.to_vec()).collect();
        if cfg.drop_last && batches.last().is_some_and(|b| b.len() < cfg.batch) {
            batches.pop();
        }
        let batches = Arc::new(batches);
        let cfg = Arc::new(cfg);
        let mut receivers = Vec::new();
        let mut handles = Vec::new();
        for w in 0..cfg.workers {
            // One bounded queue per worker: worker w makes batches w, w + W, ..., so reading the
            // queues round-robin returns batches in order without a reorder buffer.
            let (tx, rx) = sync_channel(cfg.prefetch);
            let (source, batches, cfg2) = (source.clone(), batches.clone(), cfg.clone());
            let handle = std::thread::Builder::new()
                .name(format!("loader-{w}"))
                .spawn(move || {
                    for b in (w..batches.len()).step_by(cfg2.workers) {
                        let result = load_batch(source.as_ref(), &batches[b], &cfg2);
                        let failed = result.is_err();
                        // A closed queue means the consumer is gone: stop.
                        if tx.send(result).is_err() || failed {
                            return;
                        }
                    }
                })
                .map_err(|e| Error::io("loader thread", e))?;
            receivers.push(rx);
            handles.push(handle);
        }
        Ok(Loader {
            source,
            batches,
            cfg,
            receivers,
            handles,
            next: 0,
            failed: false,
        })
    }

    /// Number of batches this loader yields.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}

impl Iterator for Loader {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        if self.failed || self.next >= self.batches.len() {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let result = if self.receivers.is_empty() {
            load_batch(self.source.as_ref(), &self.batches[i], &self.cfg)
        } else {
            self.receivers[i % self.receivers.len()]
                .recv()
                .unwrap_or_else(|_| Err(Error::argument("loader", "a loader thread stopped unexpectedly")))
        };
        self.failed = result.is_err();
        Some(result)
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the queues first makes blocked workers return; then wait for them.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// One epoch of the uniform baseline: every video once, in a shuffled order, with a start drawn
/// uniformly from the valid starts (0 for videos no longer than a clip). Deterministic in
/// (seed, epoch).
pub fn uniform_epoch(source: &dyn VideoSource, spec: ClipSpec, seed: u64, epoch: u64) -> Vec<ClipRequest> {
    let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(seed, epoch, u64::MAX));
    let mut requests: Vec<ClipRequest> = source
        .videos()
        .iter()
        .enumerate()
        .map(|(video, m)| ClipRequest {
            video,
            start: if m.frames > spec.len {
                rng.gen_range(0..=m.frames - spec.len)
            } else {
                0
            },
        })
        .collect();
    requests.shuffle(&mut rng);
    requests
}

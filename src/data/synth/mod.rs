//! The synthetic FER benchmark: videos of drawn faces whose class is a facial deformation shown
//! during a short expressive segment (onset -> apex -> offset) among neutral frames, so that where
//! in the video a model looks matters. Everything is deterministic from the seed. The knobs are
//! documented in docs/synth.md.

pub mod classes;
pub mod face;
pub mod sidecar;
mod writer;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::augment::mix_seed;
use crate::data::image_io::Frame;
use crate::error::{Error, Result};
use classes::{class_delta, intensity_at, CLASS_NAMES};
use face::{render, Camera, Occluder, Subject};
pub use sidecar::{Distractor, GroundTruth, VideoTruth};
pub use writer::{encode_videos, generate, SynthReport, SYNTH_FPS};

/// Every knob of the generator; `Default` is the benchmark (see docs/synth.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthConfig {
    pub seed: u64,
    /// Number of classes, 1 to 7 (the first of Angry, Disgust, Fear, Happy, Sad, Surprise, Talk).
    pub classes: usize,
    pub videos_per_class: usize,
    /// Subjects in all; the last `test_subjects` (after a seeded shuffle) appear only in `test`.
    pub subjects: usize,
    pub test_subjects: usize,
    /// Frames are `size` x `size`.
    pub size: usize,
    /// Video length drawn uniformly in [min_frames, max_frames].
    pub min_frames: usize,
    pub max_frames: usize,
    /// The expressive segment covers a fraction of the video drawn in [min, max] (never more than
    /// `segment_max_fraction`, never fewer than `min_segment_frames` frames).
    pub segment_min_fraction: f64,
    pub segment_max_fraction: f64,
    pub min_segment_frames: usize,
    /// Probability that a video has an occluded range, and that range's length as a fraction.
    pub occlusion_prob: f64,
    pub occlusion_fraction: [f64; 2],
    /// Probability of a segment showing another class at a lower peak intensity.
    pub distractor_prob: f64,
    pub distractor_peak: f32,
    pub distractor_fraction: [f64; 2],
    /// Standard deviation of the per-frame head motion (face units; the face is ~1.3 wide).
    pub camera_jitter: f32,
    /// Standard deviation of per-pixel Gaussian noise (on the [0, 1] scale).
    pub noise: f32,
    /// Probability per frame that a blink starts.
    pub blink_rate: f64,
    /// Still images per class (plus as many neutral ones) for 2D pretraining.
    pub stills_per_class: usize,
    /// Multiplies every deformation (1 = the table in docs/synth.md): the difficulty knob. Above
    /// about 1.5 faces start to look like caricatures; below 0.5 expressions are faint.
    pub expression_scale: f32,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 0,
            classes: 7,
            videos_per_class: 40,
            subjects: 24,
            test_subjects: 6,
            size: 72,
            min_frames: 24,
            max_frames: 128,
            segment_min_fraction: 0.15,
            segment_max_fraction: 0.30,
            min_segment_frames: 5,
            occlusion_prob: 0.3,
            occlusion_fraction: [0.1, 0.25],
            distractor_prob: 0.3,
            distractor_peak: 0.5,
            distractor_fraction: [0.08, 0.2],
            camera_jitter: 0.01,
            noise: 0.02,
            blink_rate: 0.02,
            stills_per_class: 40,
            expression_scale: 1.0,
        }
    }
}

impl SynthConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(Error::argument("synth", msg.to_string()));
        if self.classes == 0 || self.classes > CLASS_NAMES.len() {
            return bad("classes must be 1 to 7");
        }
        if self.subjects == 0 || self.test_subjects >= self.subjects {
            return bad("need at least one training subject (test_subjects < subjects)");
        }
        if !(0.0..=3.0).contains(&self.expression_scale) {
            return bad("expression_scale must lie in [0, 3]");
        }
        if self.size < 16 {
            return bad("size must be at least 16");
        }
        if self.min_frames == 0 || self.min_frames > self.max_frames {
            return bad("need 1 <= min_frames <= max_frames");
        }
        let (f0, f1) = (self.segment_min_fraction, self.segment_max_fraction);
        if !(0.0 < f0 && f0 <= f1 && f1 <= 1.0) {
            return bad("need 0 < segment_min_fraction <= segment_max_fraction <= 1");
        }
        if self.min_segment_frames < 2 || ((f1 * self.min_frames as f64) as usize) < self.min_segment_frames {
            return bad("the shortest video cannot hold min_segment_frames (>= 2) within segment_max_fraction");
        }
        let fractions = [self.occlusion_fraction, self.distractor_fraction];
        if fractions.iter().any(|f| !(0.0 <= f[0] && f[0] <= f[1] && f[1] <= 1.0)) {
            return bad("occlusion and distractor fractions must be ranges within [0, 1]");
        }
        Ok(())
    }

    pub fn class_names(&self) -> Vec<String> {
        CLASS_NAMES[..self.classes].iter().map(|s| s.to_string()).collect()
    }
}

/// Splits subjects: (train subjects, test subjects), deterministic in the seed.
fn subject_split(cfg: &SynthConfig) -> (Vec<usize>, Vec<usize>) {
    let mut ids: Vec<usize> = (0..cfg.subjects).collect();
    ids.shuffle(&mut ChaCha8Rng::seed_from_u64(mix_seed(cfg.seed, 1, 0)));
    let test = ids.split_off(cfg.subjects - cfg.test_subjects);
    (ids, test)
}

pub fn subject_name(s: usize) -> String {
    format!("s{s:02}")
}

fn subject_appearance(cfg: &SynthConfig, s: usize) -> Subject {
    Subject::draw(&mut ChaCha8Rng::seed_from_u64(mix_seed(cfg.seed, 2, s as u64)))
}

/// Plans every video: class, subject, split, length, segment, occlusions, distractors.
pub fn plan(cfg: &SynthConfig) -> Result<Vec<VideoTruth>> {
    cfg.validate()?;
    let (train_subjects, test_subjects) = subject_split(cfg);
    let n_test = if test_subjects.is_empty() {
        0
    } else {
        ((cfg.videos_per_class * cfg.test_subjects) as f64 / cfg.subjects as f64)
            .round()
            .max(1.0) as usize
    };
    let mut videos = Vec::new();
    for class in 0..cfg.classes {
        for k in 0..cfg.videos_per_class {
            let index = videos.len();
            let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(cfg.seed, 3, index as u64));
            let (split, pool) = if k < n_test {
                ("test", &test_subjects)
            } else {
                ("train", &train_subjects)
            };
            let subject = pool[rng.gen_range(0..pool.len())];
            videos.push(plan_video(cfg, &mut rng, index, class, subject, split));
        }
    }
    Ok(videos)
}

fn plan_video(
    cfg: &SynthConfig,
    rng: &mut ChaCha8Rng,
    index: usize,
    class: usize,
    subject: usize,
    split: &str,
) -> VideoTruth {
    let frames = rng.gen_range(cfg.min_frames..=cfg.max_frames);
    let max_len = ((cfg.segment_max_fraction * frames as f64) as usize).max(1);
    let drawn = (rng.gen_range(cfg.segment_min_fraction..=cfg.segment_max_fraction) * frames as f64).round() as usize;
    let len = drawn.clamp(cfg.min_segment_frames.min(max_len), max_len);
    let start = rng.gen_range(0..=frames - len);
    let end = start + len;
    // Onset takes a quarter to a half of the segment, like expressions that rise faster than
    // they fade.
    let apex = start + rng.gen_range(len / 4..=(len / 2).max(len / 4));
    let intensity = (0..frames).map(|t| intensity_at(t, start, apex, end)).collect();
    let span =
        |rng: &mut ChaCha8Rng, f: [f64; 2]| ((rng.gen_range(f[0]..=f[1]) * frames as f64).round() as usize).max(1);
    let mut occluded = Vec::new();
    if rng.gen_bool(cfg.occlusion_prob) {
        let n = span(rng, cfg.occlusion_fraction).min(frames);
        let s = rng.gen_range(0..=frames - n);
        occluded.push([s, s + n]);
    }
    let mut distractors = Vec::new();
    if cfg.classes > 1 && rng.gen_bool(cfg.distractor_prob) {
        let n = span(rng, cfg.distractor_fraction).max(3);
        // Outside the true segment: try a few places, give up if the video has no room.
        for _ in 0..20 {
            if n > frames {
                break;
            }
            let s = rng.gen_range(0..=frames - n);
            if s + n <= start || s >= end {
                let other = (class + rng.gen_range(1..cfg.classes)) % cfg.classes;
                distractors.push(Distractor {
                    start: s,
                    end: s + n,
                    class: other,
                    peak: cfg.distractor_peak,
                });
                break;
            }
        }
    }
    VideoTruth {
        id: format!("v{index:05}"),
        split: split.to_string(),
        class: CLASS_NAMES[class].to_string(),
        label: class,
        subject: subject_name(subject),
        frames,
        segment: [start, end],
        apex,
        intensity,
        occluded,
        distractors,
    }
}

/// Gaussian noise by Box-Muller (rand 0.8 has no normal distribution without rand_distr).
fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

fn to_frame(rgb: &[f32], size: usize, noise: f32, rng: &mut ChaCha8Rng) -> Frame {
    let data = rgb
        .iter()
        .map(|&v| {
            let n = if noise > 0.0 { noise * gaussian(rng) } else { 0.0 };
            ((v + n) * 255.0).round().clamp(0.0, 255.0) as u8
        })
        .collect();
    Frame {
        width: size,
        height: size,
        data,
    }
}

fn parse_subject(truth: &VideoTruth) -> Result<usize> {
    truth
        .subject
        .trim_start_matches('s')
        .parse()
        .map_err(|_| Error::argument("synth", format!("subject `{}` is not a synth subject", truth.subject)))
}

/// Renders the frames of planned video `index` (its position in `plan`). Deterministic: the same
/// config and plan always give the same bytes.
pub fn render_video(cfg: &SynthConfig, index: usize, truth: &VideoTruth) -> Result<Vec<Frame>> {
    cfg.validate()?;
    if truth.intensity.len() != truth.frames || truth.label >= cfg.classes {
        return Err(Error::argument(
            "synth",
            format!("video {}: truth does not match the config", truth.id),
        ));
    }
    let subject = subject_appearance(cfg, parse_subject(truth)?);
    let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(cfg.seed, 4, index as u64));
    let occluders: Vec<Occluder> = truth.occluded.iter().map(|_| draw_occluder(&mut rng)).collect();
    let zoom = rng.gen_range(0.92..1.08);
    let (mut dx, mut dy) = (0.0f32, 0.0f32);
    let mut blink_left = 0usize;
    let (start, end) = (truth.segment[0], truth.segment[1]);
    let mut out = Vec::with_capacity(truth.frames);
    for t in 0..truth.frames {
        // Head motion: a random walk pulled back to the centre so it never drifts away.
        dx = 0.9 * dx + cfg.camera_jitter * gaussian(&mut rng);
        dy = 0.9 * dy + cfg.camera_jitter * gaussian(&mut rng);
        let phase = if end > start + 1 {
            (t.saturating_sub(start)) as f32 / (end - start - 1) as f32
        } else {
            0.5
        };
        let mut e = subject.rest.add(
            &class_delta(truth.label, cfg.expression_scale * truth.intensity[t], phase.min(1.0)),
            1.0,
        );
        for d in &truth.distractors {
            if (d.start..d.end).contains(&t) {
                let apex = d.start + (d.end - d.start) / 3;
                let k = d.peak * intensity_at(t, d.start, apex, d.end);
                let p = (t - d.start) as f32 / (d.end - d.start).max(1) as f32;
                e = e.add(&class_delta(d.class, cfg.expression_scale * k, p), 1.0);
            }
        }
        if blink_left == 0 && rng.gen_bool(cfg.blink_rate) {
            blink_left = 3;
        }
        if blink_left > 0 {
            e.eye_open *= [0.5, 0.05, 0.5][3 - blink_left];
            blink_left -= 1;
        }
        let occ = truth
            .occluded
            .iter()
            .position(|r| (r[0]..r[1]).contains(&t))
            .map(|i| &occluders[i]);
        let cam = Camera { dx, dy, zoom };
        let rgb = render(&subject, &e, &cam, occ, cfg.size);
        out.push(to_frame(&rgb, cfg.size, cfg.noise, &mut rng));
    }
    Ok(out)
}

/// An occluder over the eyes, the mouth, or a diagonal-ish half of the face.
fn draw_occluder(rng: &mut ChaCha8Rng) -> Occluder {
    let g = rng.gen_range(0.3f32..0.8);
    let colour = [g, g * rng.gen_range(0.8..1.1), g * rng.gen_range(0.7..1.0)];
    let (x0, y0, x1, y1) = match rng.gen_range(0..3) {
        0 => (-0.7, -0.35, 0.7, 0.05),
        1 => (-0.5, 0.2, 0.5, 0.75),
        _ => {
            let left = rng.gen_bool(0.5);
            if left {
                (-0.8, -0.5, 0.05, 0.8)
            } else {
                (-0.05, -0.5, 0.8, 0.8)
            }
        }
    };
    Occluder { x0, y0, x1, y1, colour }
}

/// A still image for 2D pretraining: `class` near its apex, or neutral (`None`).
pub fn render_still(cfg: &SynthConfig, subject: usize, class: Option<usize>, rng: &mut ChaCha8Rng) -> Frame {
    let s = subject_appearance(cfg, subject);
    let e = match class {
        // Phase 1/6 puts Talk's jaw at its widest; the other classes ignore the phase.
        Some(c) => s.rest.add(
            &class_delta(c, cfg.expression_scale * rng.gen_range(0.75..=1.0), 1.0 / 6.0),
            1.0,
        ),
        None => s.rest,
    };
    let cam = Camera {
        dx: 2.0 * cfg.camera_jitter * gaussian(rng),
        dy: 2.0 * cfg.camera_jitter * gaussian(rng),
        zoom: rng.gen_range(0.92..1.08),
    };
    let rgb = render(&s, &e, &cam, None, cfg.size);
    to_frame(&rgb, cfg.size, cfg.noise, rng)
}

/// Training subjects (the stills are drawn from these only).
pub fn train_subjects(cfg: &SynthConfig) -> Vec<usize> {
    subject_split(cfg).0
}

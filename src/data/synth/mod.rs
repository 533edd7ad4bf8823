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
use classes::{class_delta, intensity_at, pain_grimace, CLASS_NAMES};
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
    /// The pain-detection stand-in (BioVid-like or UNBC-like) instead of the expression
    /// benchmark; `classes` and `videos_per_class` are then unused. Omitted from the serialized
    /// config when None, so the expression benchmark's cache keys are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pain: Option<PainConfig>,
}

/// Knobs of the pain stand-in (docs/synth.md): classes BL1 (no stimulus), PA3 and PA4 (heat
/// stimuli); a stimulus at `onset` is followed, after a latency, by a grimace whose peak is the
/// level's peak times the subject's reactivity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PainConfig {
    /// Videos of BL1, PA3 and PA4 (0 leaves a class out).
    pub class_videos: [usize; 3],
    /// Frame of the stimulus onset.
    pub onset: usize,
    /// Frames from the onset to the start of the grimace, drawn in [min, max].
    pub latency: [usize; 2],
    /// Grimace length in frames, drawn in [min, max] (cut at the video's end).
    pub grimace_frames: [usize; 2],
    /// Peak intensity of the grimace for PA3 and PA4 (times the subject's reactivity).
    pub peak: [f32; 2],
    /// Share of subjects who barely react (BioVid's non-reactors): reactivity drawn in
    /// `non_reactor_reactivity`; the others in `reactivity`.
    pub non_reactor_fraction: f64,
    pub non_reactor_reactivity: [f32; 2],
    pub reactivity: [f32; 2],
}

impl Default for PainConfig {
    fn default() -> Self {
        PainConfig::biovid()
    }
}

pub const PAIN_CLASSES: [&str; 3] = ["BL1", "PA3", "PA4"];

impl PainConfig {
    /// BioVid-like: 5.5 s windows as 64 frames, onset at frame 12, grimace 2–24 frames later.
    pub fn biovid() -> PainConfig {
        PainConfig {
            class_videos: [144, 144, 144],
            onset: 12,
            latency: [2, 24],
            grimace_frames: [12, 24],
            peak: [0.55, 1.0],
            non_reactor_fraction: 0.25,
            non_reactor_reactivity: [0.0, 0.15],
            reactivity: [0.6, 1.0],
        }
    }

    /// UNBC-like: no PA3, more BL1 (No Pain) than PA4 (Pain), the stimulus anywhere in the first
    /// third of longer, variable-length sequences.
    pub fn unbc() -> PainConfig {
        PainConfig {
            class_videos: [60, 0, 36],
            onset: 8,
            latency: [0, 40],
            grimace_frames: [16, 40],
            non_reactor_fraction: 0.1,
            ..PainConfig::biovid()
        }
    }
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
            pain: None,
        }
    }
}

impl SynthConfig {
    /// The BioVid-like pain stand-in: 48 subjects (6 for the test split), fixed 64-frame videos.
    pub fn pain_biovid() -> SynthConfig {
        SynthConfig {
            subjects: 48,
            test_subjects: 8,
            size: 36,
            min_frames: 64,
            max_frames: 64,
            stills_per_class: 250,
            pain: Some(PainConfig::biovid()),
            ..SynthConfig::default()
        }
    }

    /// The UNBC-like stand-in: 10 subjects, 48–200 frames, No Pain (BL1) : Pain (PA4) = 60 : 36.
    pub fn pain_unbc() -> SynthConfig {
        SynthConfig {
            subjects: 10,
            test_subjects: 2,
            size: 36,
            min_frames: 48,
            max_frames: 200,
            stills_per_class: 250,
            pain: Some(PainConfig::unbc()),
            ..SynthConfig::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(Error::argument("synth", msg.to_string()));
        if let Some(p) = &self.pain {
            if p.class_videos.iter().filter(|&&n| n > 0).count() < 2 {
                return bad("pain: class_videos needs videos in at least two classes");
            }
            if p.onset + 2 > self.min_frames || p.latency[0] > p.latency[1] || p.grimace_frames[0] > p.grimace_frames[1]
            {
                return bad("pain: need onset + 2 <= min_frames, latency and grimace_frames as [min, max] ranges");
            }
            if p.grimace_frames[0] < 2 || !(0.0..=1.0).contains(&p.non_reactor_fraction) {
                return bad("pain: grimace_frames at least 2, non_reactor_fraction in [0, 1]");
            }
        }
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
        // (The pain stand-in sizes its grimace in frames: `PainConfig::grimace_frames`.)
        if self.pain.is_none()
            && (self.min_segment_frames < 2 || ((f1 * self.min_frames as f64) as usize) < self.min_segment_frames)
        {
            return bad("the shortest video cannot hold min_segment_frames (>= 2) within segment_max_fraction");
        }
        let fractions = [self.occlusion_fraction, self.distractor_fraction];
        if fractions.iter().any(|f| !(0.0 <= f[0] && f[0] <= f[1] && f[1] <= 1.0)) {
            return bad("occlusion and distractor fractions must be ranges within [0, 1]");
        }
        Ok(())
    }

    pub fn class_names(&self) -> Vec<String> {
        if self.pain.is_some() {
            return PAIN_CLASSES.iter().map(|s| s.to_string()).collect();
        }
        CLASS_NAMES[..self.classes].iter().map(|s| s.to_string()).collect()
    }

    /// Videos of class `class` (pain: its `class_videos`; else `videos_per_class`).
    fn videos_of(&self, class: usize) -> usize {
        self.pain
            .as_ref()
            .map_or(self.videos_per_class, |p| p.class_videos[class])
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
    let n_test = |count: usize| {
        if test_subjects.is_empty() || count == 0 {
            0
        } else {
            ((count * cfg.test_subjects) as f64 / cfg.subjects as f64)
                .round()
                .max(1.0) as usize
        }
    };
    let mut videos = Vec::new();
    for class in 0..cfg.class_names().len() {
        let n_test = n_test(cfg.videos_of(class));
        for k in 0..cfg.videos_of(class) {
            let index = videos.len();
            let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(cfg.seed, 3, index as u64));
            let (split, pool) = if k < n_test {
                ("test", &test_subjects)
            } else {
                ("train", &train_subjects)
            };
            let subject = pool[rng.gen_range(0..pool.len())];
            videos.push(match &cfg.pain {
                Some(p) => plan_pain_video(cfg, p, &mut rng, index, class, subject, split),
                None => plan_video(cfg, &mut rng, index, class, subject, split),
            });
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

/// How strongly subject `s` shows pain, in [0, 1]: a few barely react at all.
pub fn reactivity(cfg: &SynthConfig, p: &PainConfig, s: usize) -> f32 {
    let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(cfg.seed, 6, s as u64));
    let range = if rng.gen_bool(p.non_reactor_fraction) {
        p.non_reactor_reactivity
    } else {
        p.reactivity
    };
    rng.gen_range(range[0]..=range[1].max(range[0]))
}

/// A pain-task video: BL1 neutral throughout (blinks, jitter, maybe a talking distractor); PA3 and
/// PA4 a grimace starting a random latency after the stimulus onset, its peak the level's peak
/// times the subject's reactivity. A BL1 video's segment is empty ([0, 0]).
fn plan_pain_video(
    cfg: &SynthConfig,
    p: &PainConfig,
    rng: &mut ChaCha8Rng,
    index: usize,
    class: usize,
    subject: usize,
    split: &str,
) -> VideoTruth {
    let frames = rng.gen_range(cfg.min_frames..=cfg.max_frames);
    let (mut start, mut end, mut apex) = (0, 0, 0);
    let mut intensity = vec![0.0f32; frames];
    if class > 0 {
        start = (p.onset + rng.gen_range(p.latency[0]..=p.latency[1])).min(frames - 2);
        end = (start + rng.gen_range(p.grimace_frames[0]..=p.grimace_frames[1])).min(frames);
        let len = end - start;
        apex = start + rng.gen_range(len / 4..=(len / 2).max(len / 4));
        let peak = p.peak[class - 1] * reactivity(cfg, p, subject);
        for (t, v) in intensity.iter_mut().enumerate() {
            *v = peak * intensity_at(t, start, apex, end);
        }
    }
    let mut distractors = Vec::new();
    // Talking (the expression benchmark's last class) outside any grimace.
    if rng.gen_bool(cfg.distractor_prob) {
        let n = ((rng.gen_range(cfg.distractor_fraction[0]..=cfg.distractor_fraction[1]) * frames as f64).round()
            as usize)
            .clamp(3, frames);
        for _ in 0..20 {
            let s = rng.gen_range(0..=frames - n);
            if class == 0 || s + n <= start || s >= end {
                distractors.push(Distractor {
                    start: s,
                    end: s + n,
                    class: CLASS_NAMES.len() - 1,
                    peak: cfg.distractor_peak,
                });
                break;
            }
        }
    }
    VideoTruth {
        id: format!("v{index:05}"),
        split: split.to_string(),
        class: PAIN_CLASSES[class].to_string(),
        label: class,
        subject: subject_name(subject),
        frames,
        segment: [start, end],
        apex,
        intensity,
        occluded: Vec::new(),
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
    if truth.intensity.len() != truth.frames || truth.label >= cfg.class_names().len() {
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
        let k = cfg.expression_scale * truth.intensity[t];
        let delta = match cfg.pain {
            Some(_) => pain_grimace(k),
            None => class_delta(truth.label, k, phase.min(1.0)),
        };
        let mut e = subject.rest.add(&delta, 1.0);
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
        Some(_) if cfg.pain.is_some() => s
            .rest
            .add(&pain_grimace(cfg.expression_scale * rng.gen_range(0.75..=1.0)), 1.0),
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

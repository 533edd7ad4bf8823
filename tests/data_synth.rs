//! The synthetic benchmark's defining property, read from its sidecar, and the evaluation
//! protocols.

use std::collections::{BTreeSet, HashMap};

use stsm_engine::data::protocol::{leave_one_subject_out, stratified_holdout, subject_kfold, Split};
use stsm_engine::data::source::VideoMeta;
use stsm_engine::data::synth::{generate, plan, GroundTruth, SynthConfig};

#[test]
fn default_benchmark_hides_the_apex_from_most_uniform_clips() {
    let cfg = SynthConfig::default();
    let videos = plan(&cfg).unwrap();
    assert_eq!(videos.len(), cfg.classes * cfg.videos_per_class);
    let mut hit = 0.0;
    for v in &videos {
        assert_eq!(v.intensity.len(), v.frames);
        assert!((cfg.min_frames..=cfg.max_frames).contains(&v.frames));
        // Intensity is positive exactly on the segment and peaks (1.0) at the apex.
        for (t, &i) in v.intensity.iter().enumerate() {
            assert_eq!(
                i > 0.0,
                (v.segment[0]..v.segment[1]).contains(&t),
                "video {} frame {t}",
                v.id
            );
        }
        assert_eq!(v.intensity[v.apex], 1.0);
        let frac = v.informative_fraction();
        assert!(frac <= 0.30, "video {}: informative fraction {frac}", v.id);
        for d in &v.distractors {
            assert!(
                d.end <= v.segment[0] || d.start >= v.segment[1],
                "distractor overlaps the segment"
            );
            assert_ne!(d.class, v.label);
        }
        hit += v.apex_hit_fraction(16);
    }
    let mean_hit = hit / videos.len() as f64;
    assert!(
        mean_hit <= 0.5,
        "on average {mean_hit} of uniform 16-frame clips contain the apex"
    );
    // Subject-independent: no subject in both splits.
    let train: BTreeSet<&str> = videos
        .iter()
        .filter(|v| v.split == "train")
        .map(|v| v.subject.as_str())
        .collect();
    let test: BTreeSet<&str> = videos
        .iter()
        .filter(|v| v.split == "test")
        .map(|v| v.subject.as_str())
        .collect();
    assert!(train.is_disjoint(&test) && !test.is_empty());
}

#[test]
fn apex_hit_fraction_by_hand() {
    let mut v = plan(&SynthConfig::default()).unwrap().remove(0);
    // 40 frames, apex at 5: starts 0..=24 (25 of them); those holding frame 5 are 0..=5.
    v.frames = 40;
    v.apex = 5;
    assert!((v.apex_hit_fraction(16) - 6.0 / 25.0).abs() < 1e-12);
    v.frames = 12;
    assert_eq!(v.apex_hit_fraction(16), 1.0);
}

#[test]
fn sidecar_round_trips_and_stills_avoid_test_subjects() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        classes: 2,
        videos_per_class: 4,
        subjects: 4,
        test_subjects: 2,
        size: 16,
        min_frames: 20,
        max_frames: 24,
        stills_per_class: 3,
        ..SynthConfig::default()
    };
    let report = generate(&cfg, tmp.path(), 1, false).unwrap();
    let loaded = GroundTruth::load(&tmp.path().join("ground_truth.json")).unwrap();
    assert_eq!(loaded, report.truth);
    let test_subjects: BTreeSet<String> = loaded
        .videos
        .iter()
        .filter(|v| v.split == "test")
        .map(|v| v.subject.clone())
        .collect();
    let labels = std::fs::read_to_string(tmp.path().join("stills/labels.csv")).unwrap();
    let rows: Vec<&str> = labels.lines().skip(1).collect();
    assert_eq!(rows.len(), 3 * 3, "3 stills for each of 2 classes and Neutral");
    for row in rows {
        let fields: Vec<&str> = row.split(',').collect();
        assert!(!test_subjects.contains(fields[2]), "still from a test subject: {row}");
        assert!(tmp.path().join("stills").join(fields[0]).is_file());
    }
    // Generation is deterministic: the same seed plans the same videos.
    assert_eq!(plan(&cfg).unwrap(), loaded.videos);
    // A non-empty output folder is refused.
    assert!(generate(&cfg, tmp.path(), 1, false).is_err());
}

fn meta(id: &str, label: usize, subject: &str) -> VideoMeta {
    VideoMeta {
        id: id.into(),
        label,
        subject: Some(subject.into()),
        split: None,
        frames: 20,
        width: 8,
        height: 8,
    }
}

/// 3 classes with 10, 7 and 3 videos, over 5 subjects of uneven size.
fn dataset() -> Vec<VideoMeta> {
    let mut v = Vec::new();
    for (label, n) in [(0, 10), (1, 7), (2, 3)] {
        for k in 0..n {
            let subject = format!("p{}", (k * 7 + label) % 5);
            v.push(meta(&format!("c{label}-{k}"), label, &subject));
        }
    }
    v
}

#[test]
fn stratified_holdout_takes_a_fifth_of_each_class() {
    let videos = dataset();
    let split = stratified_holdout(&videos, 0.2, 888).unwrap();
    let f = &split.folds[0];
    let label: HashMap<&str, usize> = videos.iter().map(|v| (v.id.as_str(), v.label)).collect();
    let count = |ids: &[String], c: usize| ids.iter().filter(|id| label[id.as_str()] == c).count();
    // int(0.2 * n): 2 of 10, 1 of 7, 0 of 3.
    assert_eq!(
        [count(&f.held_out, 0), count(&f.held_out, 1), count(&f.held_out, 2)],
        [2, 1, 0]
    );
    assert_eq!(f.train.len() + f.held_out.len(), videos.len());
    assert_eq!(
        stratified_holdout(&videos, 0.2, 888).unwrap(),
        split,
        "same seed, same split"
    );
}

#[test]
fn subject_kfold_and_loso_never_share_a_subject() {
    let videos = dataset();
    let subject: HashMap<&str, &str> = videos
        .iter()
        .map(|v| (v.id.as_str(), v.subject.as_deref().unwrap()))
        .collect();
    for split in [
        subject_kfold(&videos, 3, 1).unwrap(),
        leave_one_subject_out(&videos).unwrap(),
    ] {
        let mut held_out_total = 0;
        for f in &split.folds {
            let tr: BTreeSet<&str> = f.train.iter().map(|id| subject[id.as_str()]).collect();
            let te: BTreeSet<&str> = f.held_out.iter().map(|id| subject[id.as_str()]).collect();
            assert!(tr.is_disjoint(&te), "{}: subject in train and held out", f.name);
            assert_eq!(f.train.len() + f.held_out.len(), videos.len());
            held_out_total += f.held_out.len();
        }
        assert_eq!(held_out_total, videos.len(), "every video held out exactly once");
    }
    assert_eq!(leave_one_subject_out(&videos).unwrap().folds.len(), 5);
    assert!(subject_kfold(&videos, 6, 1).is_err(), "more folds than subjects");
    let no_subject = vec![VideoMeta {
        subject: None,
        ..meta("x", 0, "")
    }];
    assert!(leave_one_subject_out(&no_subject).is_err());
}

#[test]
fn split_file_round_trip_reproduces_indices() {
    let tmp = tempfile::tempdir().unwrap();
    let videos = dataset();
    let split = subject_kfold(&videos, 2, 5).unwrap();
    let path = tmp.path().join("split.json");
    split.save(&path).unwrap();
    let loaded = Split::load(&path).unwrap();
    assert_eq!(loaded, split);
    let (train, test) = loaded.indices(1, &videos).unwrap();
    assert_eq!(train.len() + test.len(), videos.len());
    assert!(loaded.indices(0, &videos[..3]).is_err(), "ids missing from the dataset");
}

/// Fraction of the pixels of two frames that differ by more than 40 grey levels in a channel.
fn frame_diff(a: &stsm_engine::data::image_io::Frame, b: &stsm_engine::data::image_io::Frame) -> f64 {
    let changed = a.data.chunks(3).zip(b.data.chunks(3));
    changed
        .filter(|(p, q)| p.iter().zip(*q).any(|(&x, &y)| x.abs_diff(y) > 40))
        .count() as f64
        / (a.width * a.height) as f64
}

#[test]
fn the_apex_is_visibly_different_from_neutral_frames() {
    use stsm_engine::data::synth::render_video;
    // No noise, jitter or blinks, so frame differences come from the expression only.
    let cfg = SynthConfig {
        videos_per_class: 1,
        test_subjects: 0,
        size: 48,
        noise: 0.0,
        camera_jitter: 0.0,
        blink_rate: 0.0,
        occlusion_prob: 0.0,
        distractor_prob: 0.0,
        ..SynthConfig::default()
    };
    for (i, v) in plan(&cfg).unwrap().iter().enumerate() {
        let frames = render_video(&cfg, i, v).unwrap();
        let neutral = if v.segment[0] > 0 { 0 } else { v.frames - 1 };
        let other_neutral = if v.segment[0] > 1 { 1 } else { v.frames - 2 };
        assert_eq!(
            frame_diff(&frames[neutral], &frames[other_neutral]),
            0.0,
            "{}: neutral frames differ",
            v.class
        );
        // Talk's apex may fall between two jaw openings: take the segment's most different frame.
        let peak = (v.segment[0]..v.segment[1])
            .map(|t| frame_diff(&frames[t], &frames[neutral]))
            .fold(0.0, f64::max);
        eprintln!("{}: {:.2} % of pixels changed at the peak", v.class, 100.0 * peak);
        assert!(
            peak > 0.005,
            "{}: expression barely visible ({:.2} % of pixels changed)",
            v.class,
            100.0 * peak
        );
    }
}

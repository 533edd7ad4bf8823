//! The public plotting API end to end: files are written, decode as PNGs of the documented size,
//! bad input is an error (and leaves no file), NaN input is drawn around rather than refused.

use std::path::Path;

use stsm_engine::report::{
    sampling_map, sampling_maps, training_curves, window_scores, EpochPoint, SamplingTrace, WindowScoresPlot,
};

fn epochs(n: usize) -> Vec<EpochPoint> {
    (1..=n)
        .map(|e| EpochPoint {
            epoch: e,
            phase: match e {
                1..=3 => "warm-up",
                4..=8 => "exploration",
                _ => "exploitation",
            }
            .into(),
            train_loss: 2.0 / e as f64,
            train_acc: 1.0 - 1.0 / e as f64,
            val_loss: (e % 2 == 0).then(|| 2.1 / e as f64 + 0.2),
            val_acc: (e % 2 == 0).then(|| 0.9 - 1.0 / e as f64),
            lr: 0.01,
        })
        .collect()
}

fn trace(id: &str, len: usize) -> SamplingTrace {
    let n = len - 16 + 1;
    SamplingTrace {
        video_id: id.into(),
        video_len: len,
        clip_len: 16,
        picks: (1..=12)
            .map(|e| {
                let phase = if e <= 3 {
                    "warm-up"
                } else if e <= 8 {
                    "exploration"
                } else {
                    "exploitation"
                };
                (e, (e * 37) % n, phase.to_string())
            })
            .collect(),
        final_scores: (0..n).map(|s| (s as f32 / 10.0).sin()).collect(),
        truth: Some((len / 3, len / 2)),
        apex: Some(len / 2 - 3),
    }
}

/// K classes over a video of `len` frames, windows of 16 frames every `stride`; class c peaks at
/// a different time, mean-pooling weights.
fn scores_plot(k: usize, len: usize, stride: usize) -> WindowScoresPlot {
    let starts: Vec<usize> = (0..=len.saturating_sub(16)).step_by(stride).collect();
    let w = starts.len();
    let scores: Vec<Vec<f64>> = (0..k)
        .map(|c| starts.iter().map(|&s| ((s as f64 / 40.0) + c as f64).sin()).collect())
        .collect();
    let pooled: Vec<f64> = scores.iter().map(|r| r.iter().sum::<f64>() / w as f64).collect();
    WindowScoresPlot {
        title: format!("video {len}"),
        classes: (0..k).map(|c| format!("class {c}")).collect(),
        starts,
        window_len: 16,
        video_len: len,
        scores,
        weights: vec![vec![1.0 / w as f64; w]; k],
        pooled,
        predicted: k / 2,
        pooling: "mean".into(),
    }
}

fn png_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).expect("a decodable PNG");
    assert_eq!(image::ImageFormat::from_path(path).unwrap(), image::ImageFormat::Png);
    (img.width(), img.height())
}

/// Nothing but the expected files: write_atomically's temporaries must be gone.
fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn training_curves_writes_a_1000_by_820_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/curves.png");
    training_curves(&epochs(30), "run 1", &path).unwrap();
    assert_eq!(png_size(&path), (1000, 820));
    assert_eq!(files_in(&dir.path().join("sub")), ["curves.png"]);
}

#[test]
fn sampling_map_writes_a_1000_by_900_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("map.png");
    sampling_map(&trace("a", 150), &path).unwrap();
    assert_eq!(png_size(&path), (1000, 900));
}

#[test]
fn sampling_maps_grid_is_two_maps_wide() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.png");
    sampling_maps(&[trace("a", 150)], &one).unwrap();
    assert_eq!(png_size(&one), (1000, 900));
    let three = dir.path().join("three.png");
    sampling_maps(&[trace("a", 150), trace("b", 40), trace("c", 400)], &three).unwrap();
    assert_eq!(png_size(&three), (2000, 1800));
}

#[test]
fn window_scores_writes_a_1000_by_820_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/scores.png");
    window_scores(&scores_plot(5, 300, 4), &path).unwrap();
    assert_eq!(png_size(&path), (1000, 820));
    assert_eq!(files_in(&dir.path().join("sub")), ["scores.png"]);
}

#[test]
fn window_scores_draws_one_window_many_classes_and_long_videos() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("one.png", scores_plot(3, 16, 1)),     // W = 1
        ("short.png", scores_plot(2, 5, 1)),    // a video shorter than its one (padded) window
        ("ten.png", scores_plot(10, 200, 2)),   // a colour per class
        ("many.png", scores_plot(101, 200, 8)), // the best 10 drawn
        ("long.png", scores_plot(4, 6000, 1)),  // thousands of windows
    ];
    for (name, plot) in &cases {
        let path = dir.path().join(name);
        window_scores(plot, &path).unwrap();
        assert_eq!(png_size(&path), (1000, 820), "{name}");
    }
}

#[test]
fn nan_values_are_drawn_around() {
    let dir = tempfile::tempdir().unwrap();
    let mut pts = epochs(10);
    pts[2].train_loss = f64::NAN;
    pts[3].val_loss = Some(f64::NAN);
    pts[5].train_acc = f64::INFINITY;
    training_curves(&pts, "nan", &dir.path().join("c.png")).unwrap();
    for p in &mut pts {
        p.train_loss = f64::NAN;
        p.val_loss = None;
    }
    training_curves(&pts, "all nan", &dir.path().join("c2.png")).unwrap();

    let mut t = trace("n", 100);
    t.final_scores[7] = f32::NAN;
    t.final_scores[8] = f32::INFINITY;
    sampling_map(&t, &dir.path().join("m.png")).unwrap();
    t.final_scores.iter_mut().for_each(|v| *v = f32::NAN);
    sampling_map(&t, &dir.path().join("m2.png")).unwrap();

    let mut p = scores_plot(3, 100, 2);
    p.scores[1][7] = f64::NAN;
    p.scores[0][3] = f64::INFINITY;
    p.pooled[2] = f64::NAN;
    window_scores(&p, &dir.path().join("w.png")).unwrap();
    p.scores.iter_mut().flatten().for_each(|v| *v = f64::NAN);
    p.weights.iter_mut().flatten().for_each(|v| *v = f64::NAN);
    window_scores(&p, &dir.path().join("w2.png")).unwrap();
}

#[test]
fn bad_input_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    assert!(training_curves(&[], "empty", &p("a.png")).is_err());
    assert!(sampling_maps(&[], &p("b.png")).is_err());
    let many: Vec<SamplingTrace> = (0..33).map(|i| trace(&i.to_string(), 50)).collect();
    assert!(sampling_maps(&many, &p("c.png")).is_err());

    let mut t = trace("z", 50);
    t.video_len = 0;
    let msg = sampling_map(&t, &p("d.png")).unwrap_err().to_string();
    assert!(msg.contains("zero frames"), "{msg}");
    let mut t = trace("z", 50);
    t.final_scores.push(0.0);
    assert!(sampling_map(&t, &p("e.png")).is_err());
    // One bad trace spoils the grid rather than being silently dropped.
    assert!(sampling_maps(&[trace("ok", 50), t], &p("f.png")).is_err());
    let mut t = trace("z", 50);
    t.picks.push((13, 35, "exploitation".into()));
    assert!(sampling_map(&t, &p("g.png")).is_err());

    // Each inconsistency is refused with the field it is in.
    type Spoil = fn(&mut WindowScoresPlot);
    let bad: [(&str, Spoil); 7] = [
        ("classes", |w| w.classes.clear()),
        ("starts", |w| w.starts.swap(0, 1)),
        ("window_len", |w| w.window_len = 0),
        ("scores", |w| {
            w.scores[1].pop();
        }),
        ("weights", |w| w.weights.truncate(2)),
        ("pooled", |w| w.pooled.push(0.0)),
        ("predicted", |w| w.predicted = 3),
    ];
    for (field, spoil) in bad {
        let mut w = scores_plot(3, 100, 2);
        spoil(&mut w);
        let msg = window_scores(&w, &p("h.png")).unwrap_err().to_string();
        assert!(msg.contains(field), "{field}: {msg}");
    }

    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn committed_example_images_are_small_pngs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images");
    for (name, size) in [
        ("training_curves.png", (1000, 820)),
        ("sampling_map.png", (1000, 900)),
        ("sampling_maps.png", (2000, 1800)),
        ("window_scores.png", (1000, 820)),
    ] {
        let path = dir.join(name);
        assert_eq!(png_size(&path), size, "{name}");
        let bytes = std::fs::metadata(&path).unwrap().len();
        assert!(bytes < 100 * 1024, "{name} is {bytes} bytes");
    }
}

//! Clips, augmentation and the loader, against hand-worked values and a step-by-step
//! implementation of the augmentation written here independently of the composed one.

use std::path::Path;
use std::sync::Arc;

use stsm_engine::data::augment::{AugParams, AugmentConfig, ClipTransform, Jitter};
use stsm_engine::data::clip::{read_clip, read_video, ClipSpec, Padding};
use stsm_engine::data::image_io::Frame;
use stsm_engine::data::loader::{load_batch, uniform_epoch, AugMode, ClipRequest, Loader, LoaderConfig};
use stsm_engine::data::pack::{Pack, PackWriter};
use stsm_engine::data::source::{VideoMeta, VideoSource};

fn frame(w: usize, h: usize, f: impl Fn(usize, usize, usize) -> u8) -> Frame {
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                data.push(f(x, y, c));
            }
        }
    }
    Frame::new(w, h, data).unwrap()
}

/// A pack of videos given as frame lists, all frames the same size.
fn make_pack(path: &Path, videos: &[Vec<Frame>]) -> Pack {
    let mut w = PackWriter::create(path, vec!["A".into(), "B".into()]).unwrap();
    for (i, frames) in videos.iter().enumerate() {
        w.begin_video(VideoMeta {
            id: format!("v{i}"),
            label: i % 2,
            subject: None,
            split: None,
            frames: 0,
            width: frames[0].width,
            height: frames[0].height,
        });
        for f in frames {
            w.push_frame(&f.data).unwrap();
        }
    }
    w.finish().unwrap();
    Pack::open(path).unwrap()
}

fn plain(w: usize, h: usize) -> AugmentConfig {
    AugmentConfig::identity(w, h)
}

/// Runs a transform on one frame and returns planes (3, H*W).
fn run(cfg: &AugmentConfig, p: &AugParams, f: &Frame) -> Vec<f32> {
    let t = ClipTransform::new(cfg, p, f.width, f.height).unwrap();
    let plane = t.plane();
    let mut out = vec![0f32; 3 * plane];
    t.apply(&f.data, &mut out, plane, &mut Vec::new()).unwrap();
    out
}

fn no_aug() -> AugParams {
    AugParams {
        flip: false,
        angle_deg: 0.0,
        crop_x: 0,
        crop_y: 0,
        jitter: vec![],
    }
}

#[test]
fn eval_centre_crop_and_flip_by_hand() {
    // 4x4 image, red = 10 * (4y + x): centre 2x2 crop starts at (1, 1).
    let f = frame(4, 4, |x, y, c| if c == 0 { (10 * (4 * y + x)) as u8 } else { 0 });
    let cfg = AugmentConfig {
        crop: (2, 2),
        ..plain(4, 4)
    };
    let out = run(&cfg, &AugParams::eval(&cfg), &f);
    let red: Vec<f32> = out[..4].iter().map(|v| v * 255.0).collect();
    let want = [50.0, 60.0, 90.0, 100.0];
    assert!(red.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-3), "{red:?}");
    // Flip: the same crop of the mirrored image.
    let out = run(
        &cfg,
        &AugParams {
            flip: true,
            crop_x: 1,
            crop_y: 1,
            ..no_aug()
        },
        &f,
    );
    let red: Vec<f32> = out[..4].iter().map(|v| v * 255.0).collect();
    let want = [60.0, 50.0, 100.0, 90.0];
    assert!(red.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-3), "{red:?}");
}

#[test]
fn rotation_by_180_degrees_reverses_both_axes_and_corners_go_black() {
    let f = frame(5, 3, |x, y, c| (x * 40 + y * 7 + c) as u8);
    let cfg = plain(5, 3);
    let out = run(
        &cfg,
        &AugParams {
            angle_deg: 180.0,
            ..no_aug()
        },
        &f,
    );
    for y in 0..3 {
        for x in 0..5 {
            let want = f.data[((2 - y) * 5 + (4 - x)) * 3] as f32 / 255.0;
            assert!((out[y * 5 + x] - want).abs() < 1e-6);
        }
    }
    // 45 degrees on a white square: the corners come from outside the image (black), the
    // centre stays white.
    let white = frame(9, 9, |_, _, _| 255);
    let cfg = AugmentConfig {
        mean: [0.5; 3],
        std: [0.5; 3],
        ..plain(9, 9)
    };
    let out = run(
        &cfg,
        &AugParams {
            angle_deg: 45.0,
            ..no_aug()
        },
        &white,
    );
    assert_eq!(out[0], -1.0, "corner: (0 - 0.5) / 0.5");
    assert_eq!(out[4 * 9 + 4], 1.0, "centre: (1 - 0.5) / 0.5");
}

/// The augmentation done step by step on whole images, in float, as the reference does it
/// (flip -> rotate with nearest and black corners -> bilinear resize -> crop).
fn stepwise(f: &Frame, cfg: &AugmentConfig, p: &AugParams) -> Vec<f32> {
    let (w, h) = (f.width, f.height);
    let px = |img: &[f32], x: usize, y: usize, c: usize| img[(y * w + x) * 3 + c];
    let src: Vec<f32> = f.data.iter().map(|&b| b as f32).collect();
    let mut flipped = src.clone();
    if p.flip {
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    flipped[(y * w + x) * 3 + c] = px(&src, w - 1 - x, y, c);
                }
            }
        }
    }
    let mut rotated = vec![0f32; w * h * 3];
    let (s, co) = p.angle_deg.to_radians().sin_cos();
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 + 0.5 - w as f32 / 2.0, y as f32 + 0.5 - h as f32 / 2.0);
            let sx = (co * dx - s * dy + w as f32 / 2.0).floor();
            let sy = (s * dx + co * dy + h as f32 / 2.0).floor();
            if sx >= 0.0 && sy >= 0.0 && (sx as usize) < w && (sy as usize) < h {
                for c in 0..3 {
                    rotated[(y * w + x) * 3 + c] = px(&flipped, sx as usize, sy as usize, c);
                }
            }
        }
    }
    let (rw, rh) = cfg.resize;
    let mut resized = vec![0f32; rw * rh * 3];
    for y in 0..rh {
        for x in 0..rw {
            let fy = ((y as f32 + 0.5) * h as f32 / rh as f32 - 0.5).clamp(0.0, (h - 1) as f32);
            let fx = ((x as f32 + 0.5) * w as f32 / rw as f32 - 0.5).clamp(0.0, (w - 1) as f32);
            let (x0, y0) = (fx as usize, fy as usize);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
            for c in 0..3 {
                let top = px(&rotated, x0, y0, c) * (1.0 - ax) + px(&rotated, x1, y0, c) * ax;
                let bot = px(&rotated, x0, y1, c) * (1.0 - ax) + px(&rotated, x1, y1, c) * ax;
                resized[(y * rw + x) * 3 + c] = top * (1.0 - ay) + bot * ay;
            }
        }
    }
    let (cw, ch) = cfg.crop;
    let mut out = vec![0f32; 3 * cw * ch];
    for c in 0..3 {
        for y in 0..ch {
            for x in 0..cw {
                let v = resized[((y + p.crop_y) * rw + x + p.crop_x) * 3 + c] / 255.0;
                out[c * cw * ch + y * cw + x] = (v - cfg.mean[c]) / cfg.std[c];
            }
        }
    }
    out
}

#[test]
fn composed_geometry_matches_the_step_by_step_pipeline() {
    let f = frame(23, 17, |x, y, c| ((x * 13 + y * 29 + c * 71) % 256) as u8);
    let cfg = AugmentConfig {
        brightness: 0.0,
        contrast: 0.0,
        saturation: 0.0,
        hue: 0.0,
        ..AugmentConfig {
            resize: (19, 21),
            crop: (15, 16),
            ..AugmentConfig::scaled(19, 15)
        }
    };
    for video in 0..12 {
        let p = AugParams::draw(&cfg, 3, 1, video);
        assert!(p.jitter.is_empty());
        let got = run(&cfg, &p, &f);
        let want = stepwise(&f, &cfg, &p);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!((a - b).abs() < 1e-4, "video {video} {p:?}: element {i}: {a} vs {b}");
        }
    }
}

#[test]
fn colour_jitter_is_chained_by_hand() {
    // Two grey pixels 51 and 153 (0.2 and 0.6). Brightness 0.5 -> 0.1, 0.3; then contrast 0.5
    // around their mean grey 0.2 -> 0.15, 0.25. (Unchained, the contrast would see the original
    // frame and give 0.3, 0.5.)
    let f = frame(2, 1, |x, _, _| if x == 0 { 51 } else { 153 });
    let p = AugParams {
        jitter: vec![(Jitter::Brightness, 0.5), (Jitter::Contrast, 0.5)],
        ..no_aug()
    };
    let out = run(&plain(2, 1), &p, &f);
    for c in 0..3 {
        assert!(
            (out[c * 2] - 0.15).abs() < 1e-6 && (out[c * 2 + 1] - 0.25).abs() < 1e-6,
            "{out:?}"
        );
    }
}

#[test]
fn training_draws_are_deterministic_and_apply_all_four_jitters() {
    let cfg = AugmentConfig::scaled(72, 64);
    let a = AugParams::draw(&cfg, 888, 4, 17);
    assert_eq!(a, AugParams::draw(&cfg, 888, 4, 17));
    let others = [
        AugParams::draw(&cfg, 888, 5, 17),
        AugParams::draw(&cfg, 888, 4, 18),
        AugParams::draw(&cfg, 1, 4, 17),
    ];
    assert!(others.iter().all(|o| *o != a));
    let mut kinds: Vec<String> = a.jitter.iter().map(|(k, _)| format!("{k:?}")).collect();
    kinds.sort();
    assert_eq!(kinds, ["Brightness", "Contrast", "Hue", "Saturation"]);
    assert!(a.angle_deg.abs() <= 20.0 && a.crop_x <= 8 && a.crop_y <= 8);
}

#[test]
fn every_frame_of_a_clip_gets_the_same_augmentation_and_padding_follows_the_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let still = frame(12, 10, |x, y, c| (x * 19 + y * 11 + c * 50) as u8);
    let distinct: Vec<Frame> = (0..3)
        .map(|t| frame(12, 10, move |x, _, c| (t * 60 + x + c) as u8))
        .collect();
    let pack = make_pack(&tmp.path().join("p"), &[vec![still.clone(); 6], distinct.clone()]);
    let cfg = AugmentConfig::scaled(12, 8);
    let p = AugParams::draw(&cfg, 0, 0, 0);
    let spec = ClipSpec {
        len: 6,
        padding: Padding::Black,
    };
    let clip = read_clip(&pack, 0, 0, spec, &cfg, &p).unwrap();
    assert_eq!(clip.dims(), &[3, 6, 8, 8]);
    let v = clip.to_vec::<f32>().unwrap();
    for c in 0..3 {
        for t in 1..6 {
            assert_eq!(
                v[(c * 6) * 64..(c * 6 + 1) * 64],
                v[(c * 6 + t) * 64..(c * 6 + t + 1) * 64]
            );
        }
    }
    // Padding of the 3-frame video to 5 frames, without augmentation.
    let ident = AugmentConfig {
        mean: [0.1, 0.2, 0.3],
        std: [0.5, 0.5, 0.5],
        ..plain(12, 10)
    };
    let frame_plane = |clip: &[f32], t: usize, c: usize| clip[(c * 5 + t) * 120..(c * 5 + t + 1) * 120].to_vec();
    let expect = |f: &Frame, c: usize| -> Vec<f32> {
        f.data
            .chunks(3)
            .map(|px| (px[c] as f32 / 255.0 - ident.mean[c]) / ident.std[c])
            .collect()
    };
    for (padding, tail) in [(Padding::RepeatLast, [2, 2]), (Padding::Loop, [0, 1])] {
        let spec = ClipSpec { len: 5, padding };
        let clip = read_clip(&pack, 1, 0, spec, &ident, &AugParams::eval(&ident))
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        for c in 0..3 {
            for (t, f) in distinct.iter().enumerate() {
                assert_eq!(frame_plane(&clip, t, c), expect(f, c));
            }
            assert_eq!(frame_plane(&clip, 3, c), expect(&distinct[tail[0]], c), "{padding:?}");
            assert_eq!(frame_plane(&clip, 4, c), expect(&distinct[tail[1]], c), "{padding:?}");
        }
    }
    // The whole 3-frame video, unpadded, for inference.
    let whole = read_video(&pack, 1, &ident).unwrap();
    assert_eq!(whole.dims(), &[3, 3, 10, 12]);
    let whole = whole.to_vec::<f32>().unwrap();
    for c in 0..3 {
        for (t, f) in distinct.iter().enumerate() {
            assert_eq!(whole[(c * 3 + t) * 120..(c * 3 + t + 1) * 120], expect(f, c)[..]);
        }
    }
    let spec = ClipSpec {
        len: 5,
        padding: Padding::Black,
    };
    let clip = read_clip(&pack, 1, 0, spec, &ident, &AugParams::eval(&ident))
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    for c in 0..3 {
        let black = (0.0 - ident.mean[c]) / ident.std[c];
        assert!(frame_plane(&clip, 3, c)
            .iter()
            .chain(&frame_plane(&clip, 4, c))
            .all(|&x| x == black));
    }
}

#[test]
fn loader_threads_give_the_same_batches_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let videos: Vec<Vec<Frame>> = (0..7)
        .map(|v| {
            (0..(10 + 3 * v))
                .map(|t| frame(10, 10, move |x, y, c| (v * 30 + t * 3 + x + y + c) as u8))
                .collect()
        })
        .collect();
    let pack: Arc<dyn VideoSource> = Arc::new(make_pack(&tmp.path().join("p"), &videos));
    let spec = ClipSpec {
        len: 8,
        padding: Padding::Black,
    };
    let requests = uniform_epoch(pack.as_ref(), spec, 5, 2);
    let mut seen: Vec<usize> = requests.iter().map(|r| r.video).collect();
    seen.sort();
    assert_eq!(seen, (0..7).collect::<Vec<_>>());
    assert!(requests.iter().all(|r| r.start + 8 <= videos[r.video].len()));
    let cfg = |workers| LoaderConfig {
        batch: 2,
        workers,
        prefetch: 2,
        spec,
        augment: AugmentConfig::scaled(10, 8),
        mode: AugMode::Train { seed: 1, epoch: 2 },
        drop_last: true,
    };
    let threaded: Vec<_> = Loader::new(pack.clone(), requests.clone(), cfg(3))
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(threaded.len(), 3, "7 clips in batches of 2, last dropped");
    for (i, b) in threaded.iter().enumerate() {
        let want = load_batch(pack.as_ref(), &requests[2 * i..2 * i + 2], &cfg(0)).unwrap();
        assert_eq!(b.clips.dims(), &[2, 3, 8, 8, 8]);
        assert_eq!(b.clips.to_vec::<f32>().unwrap(), want.clips.to_vec::<f32>().unwrap());
        assert_eq!(
            b.labels,
            requests[2 * i..2 * i + 2]
                .iter()
                .map(|r| r.video % 2)
                .collect::<Vec<_>>()
        );
    }
    // A loader dropped half-way stops its threads; a bad request surfaces as an error.
    let mut partial = Loader::new(pack.clone(), requests.clone(), cfg(2)).unwrap();
    assert!(partial.next().unwrap().is_ok());
    drop(partial);
    let bad = vec![ClipRequest { video: 0, start: 500 }];
    let mut l = Loader::new(
        pack,
        bad,
        LoaderConfig {
            drop_last: false,
            ..cfg(1)
        },
    )
    .unwrap();
    assert!(l.next().unwrap().is_err());
    assert!(l.next().is_none());
}

#[test]
fn invalid_augmentation_settings_are_errors_not_panics() {
    let bad = [
        AugmentConfig {
            crop: (80, 64),
            ..AugmentConfig::scaled(72, 64)
        },
        AugmentConfig {
            max_rotation_deg: f32::NAN,
            ..AugmentConfig::scaled(72, 64)
        },
        AugmentConfig {
            hue: 0.7,
            ..AugmentConfig::scaled(72, 64)
        },
        AugmentConfig {
            std: [1.0, 0.0, 1.0],
            ..AugmentConfig::scaled(72, 64)
        },
    ];
    for cfg in bad {
        let p = AugParams::draw(&cfg, 0, 0, 0);
        assert!(ClipTransform::new(&cfg, &p, 72, 72).is_err(), "{cfg:?}");
        assert!(ClipTransform::new(&cfg, &AugParams::eval(&cfg), 72, 72).is_err());
    }
    let cfg = AugmentConfig::scaled(72, 64);
    let t = ClipTransform::new(&cfg, &AugParams::eval(&cfg), 72, 72).unwrap();
    assert!(
        t.apply(&[0u8; 10], &mut vec![0.0; 3 * 4096], 4096, &mut Vec::new())
            .is_err(),
        "wrong frame size"
    );
    assert!(t.apply_black(&mut [0.0; 100], 4096).is_err(), "output too short");
}

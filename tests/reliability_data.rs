//! Data a run reads is what is on disk now, degenerate datasets are refused with what to change,
//! warnings reach the user, and a crafted pack is an error, not a panic (issue 22).

mod common;

use std::path::Path;

use common::reliability::{engine, frame_root, scratch, text, write_video};
use common::train_run::tiny_c3d;
use stsm_engine::data::Pack;
use stsm_engine::train::{self, TrainConfig};

const CLASSES: [&str; 2] = ["Angry", "Happy"];

/// tiny-c3d on the frame-folder root `root`, one validation video per class of 4.
fn on_root(root: &Path) -> TrainConfig {
    TrainConfig {
        data: Some(root.to_path_buf()),
        val_fraction: 0.25,
        epochs: 1,
        ..tiny_c3d(&root.join("unused-synth"))
    }
}

fn load_err(c: &TrainConfig) -> String {
    match train::dataset::load(c) {
        Ok(d) => panic!(
            "accepted: {} classes {:?}, {} train / {} val videos, {} test",
            d.classes.len(),
            d.classes,
            d.train_videos.len(),
            d.val_videos.len(),
            d.test.videos().len()
        ),
        Err(e) => e.to_string(),
    }
}

/// Finding 5: the pack cached in ROOT/.train.stsmpack follows the folder: a video added and a
/// class deleted after the first run are what the next run trains on.
#[test]
fn a_cached_pack_is_rebuilt_when_its_folder_changes() {
    let root = scratch("stale");
    frame_root(&root, &[("train", 4), ("test", 1)], &["Angry", "Happy", "Sad"]);
    let c = on_root(&root);
    let first = train::dataset::load(&c).unwrap();
    assert_eq!(first.train.videos().len(), 12);
    assert!(root.join(".train.stsmpack").exists());

    write_video(&root.join("train/Angry/late"), 4, 8, 77);
    for split in ["train", "test"] {
        std::fs::remove_dir_all(root.join(split).join("Sad")).unwrap();
    }
    let second = train::dataset::load(&c).unwrap();
    assert_eq!(second.classes, CLASSES.map(String::from).to_vec());
    assert_eq!(second.train.videos().len(), 9);
    assert!(second.train.videos().iter().any(|v| v.id == "late"));
    assert_eq!(second.test.videos().len(), 2);

    // Frames replaced in place (same names) are new data too.
    write_video(&root.join("train/Happy/Happy-train-0"), 6, 8, 5);
    let third = train::dataset::load(&c).unwrap();
    let v = third.train.videos().iter().find(|v| v.id == "Happy-train-0").unwrap();
    assert_eq!(v.frames, 6);
    let _ = std::fs::remove_dir_all(&root);
}

/// Finding 5 (read-only data): `--data` also takes a pack; its test split's pack is found beside.
#[test]
fn a_pack_is_accepted_as_training_data() {
    let root = scratch("as-pack");
    frame_root(&root, &[("train", 4), ("test", 1)], &CLASSES);
    let packs = root.join("packs");
    std::fs::create_dir_all(&packs).unwrap();
    for split in ["train", "test"] {
        let out = engine(&[
            "pack",
            "--root",
            root.to_str().unwrap(),
            "--split",
            split,
            "--out",
            packs.join(format!("{split}.stsmpack")).to_str().unwrap(),
            "--quiet",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let c = TrainConfig {
        data: Some(packs.join("train.stsmpack")),
        ..on_root(&root)
    };
    let d = train::dataset::load(&c).unwrap();
    assert_eq!((d.train.videos().len(), d.test.videos().len()), (8, 2));
    assert_eq!((d.train_videos.len(), d.val_videos.len()), (6, 2));
    let _ = std::fs::remove_dir_all(&root);
}

/// Finding 8: an empty validation hold-out, an empty test split, a single class, an empty class
/// folder and a symlinked folder inside a split are each refused, saying what to change.
#[test]
fn degenerate_splits_are_refused_saying_what_to_change() {
    let root = scratch("degenerate");
    let ok = root.join("ok");
    frame_root(&ok, &[("train", 4), ("test", 1)], &CLASSES);
    assert!(train::dataset::load(&on_root(&ok)).is_ok());

    // 0.1 of 4 videos per class holds none out (0 would ask for no validation, and is honoured).
    let no_val = TrainConfig {
        val_fraction: 0.1,
        ..on_root(&ok)
    };
    let err = load_err(&no_val);
    assert!(err.contains("validation") && err.contains("val_fraction"), "{err}");

    let no_test = root.join("no-test");
    frame_root(&no_test, &[("train", 4)], &CLASSES);
    for class in CLASSES {
        std::fs::create_dir_all(no_test.join("test").join(class)).unwrap();
    }
    let err = load_err(&on_root(&no_test));
    assert!(err.contains("test split") && err.contains("no videos"), "{err}");

    let one = root.join("one-class");
    frame_root(&one, &[("train", 4), ("test", 1)], &["Angry"]);
    let err = load_err(&on_root(&one));
    assert!(err.contains("at least two classes"), "{err}");

    let empty_class = root.join("empty-class");
    frame_root(&empty_class, &[("train", 4), ("test", 1)], &CLASSES);
    std::fs::create_dir_all(empty_class.join("train/Neutral")).unwrap();
    let err = load_err(&on_root(&empty_class));
    assert!(err.contains("Neutral") && err.contains("no training videos"), "{err}");

    let linked = root.join("linked");
    frame_root(&linked, &[("train", 4), ("test", 1)], &CLASSES);
    std::os::unix::fs::symlink(linked.join("train/Angry"), linked.join("train/Angry2")).unwrap();
    let err = load_err(&on_root(&linked));
    assert!(err.contains("Angry2") && err.contains("symbolic link"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}

/// Finding 12: a pack whose checksums are right but whose index holds absurd sizes is an
/// error naming the file (no arithmetic overflow).
#[test]
fn a_crafted_pack_with_absurd_sizes_is_an_error() {
    let dir = scratch("crafted-pack");
    let data = vec![7u8; 48];
    let index = serde_json::json!({
        "classes": ["a", "b"],
        "videos": [{
            "id": "v", "label": 0, "subject": null, "split": null,
            "frames": 1usize << 40, "width": 1usize << 40, "height": 3, "offset": 0
        }]
    });
    let index = serde_json::to_vec(&index).unwrap();
    let mut header = [0u8; 64];
    header[0..8].copy_from_slice(b"STSMPK01");
    header[8..12].copy_from_slice(&1u32.to_le_bytes());
    let fields = [64u64, data.len() as u64, 64 + data.len() as u64, index.len() as u64];
    for (i, v) in fields.iter().enumerate() {
        header[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    header[48..52].copy_from_slice(&crc32fast::hash(&data).to_le_bytes());
    header[52..56].copy_from_slice(&crc32fast::hash(&index).to_le_bytes());
    let path = dir.join("crafted.stsmpack");
    std::fs::write(&path, [header.as_slice(), &data, &index].concat()).unwrap();
    let err = Pack::open(&path).err().expect("a crafted pack opened").to_string();
    assert!(
        err.contains("crafted.stsmpack") && err.contains("out of bounds"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 9: what reading the data has to say reaches the user of `train --data`, `eval --data
/// ROOT` and `predict`, not only of `pack`.
#[test]
fn warnings_from_reading_data_reach_every_command() {
    let root = scratch("warnings");
    frame_root(&root, &[("train", 4), ("test", 1)], &CLASSES);
    std::fs::create_dir_all(root.join("train/Happy/blank")).unwrap();
    std::fs::create_dir_all(root.join("test/Happy/blank-test")).unwrap();
    let run = root.join("run");
    let c = TrainConfig {
        synth_cache: root.join("synth"),
        ..on_root(&root)
    };
    let config = root.join("tiny.toml");
    std::fs::write(&config, toml::to_string(&c).unwrap()).unwrap();
    let out = engine(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--device",
        "cpu",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("blank: no frames, video skipped"), "train: {stderr}");

    let best = run.join("best.safetensors");
    let out = engine(&[
        "eval",
        "--checkpoint",
        best.to_str().unwrap(),
        "--data",
        root.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("blank-test: no frames, video skipped"),
        "eval: {}",
        text(&out.stderr)
    );

    // A video whose frames change size midway is resized, and predict says so.
    let mixed = root.join("mixed");
    write_video(&mixed, 3, 8, 1);
    let odd = root.join("odd");
    write_video(&odd, 1, 12, 2);
    std::fs::rename(odd.join("1.png"), mixed.join("4.png")).unwrap();
    let out = engine(&[
        "predict",
        "--checkpoint",
        best.to_str().unwrap(),
        "--video",
        mixed.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("mixed sizes"),
        "predict: {}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&root);
}

//! The paper's pipeline on the synthetic benchmark: `train` with no `--init` pretrains the 2D
//! counterpart on the benchmark's stills (once, cached), inflates it and starts from it, its last
//! layer cut down to the videos' classes (the stills add Neutral); it can be turned off, and an
//! explicit `--init` is left alone.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use stsm_engine::data::synth::SynthConfig;
use stsm_engine::nn::checkpoint;
use stsm_engine::tensor::Device;
use stsm_engine::train::config::PretrainSettings;
use stsm_engine::train::{self, RunOptions, TrainConfig};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stsm-pretrain-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tiny(cache: &Path) -> TrainConfig {
    TrainConfig {
        synth_cache: cache.to_path_buf(),
        synth: SynthConfig {
            classes: 3,
            videos_per_class: 4,
            subjects: 4,
            test_subjects: 1,
            size: 36,
            min_frames: 18,
            max_frames: 24,
            stills_per_class: 3,
            ..SynthConfig::default()
        },
        model: "tiny-vgg3d".into(),
        clip_len: 4,
        warmup_epochs: 1,
        exploration_epochs: 2,
        epochs: 1,
        batch: 4,
        // 3 training videos per class: too few to hold one out, so no validation.
        val_fraction: 0.0,
        resize: 36,
        crop: 32,
        workers: 1,
        // No step at all: the run's weights stay what it started from.
        lr_head: 0.0,
        lr_backbone: 0.0,
        wd_head: 0.0,
        wd_backbone: 0.0,
        pretrain: PretrainSettings {
            epochs: 1,
            batch: 8,
            ..PretrainSettings::default()
        },
        ..TrainConfig::default()
    }
}

fn run(c: &TrainConfig, out: &Path) -> TrainConfig {
    let opts = RunOptions {
        out: out.to_path_buf(),
        resume: false,
        progress: false,
        device: Device::Cpu,
        interrupt_after_batches: None,
    };
    let s = train::run(c, &opts, &AtomicBool::new(false)).unwrap();
    assert!(s.finished, "{s:?}");
    let text = std::fs::read_to_string(out.join("config.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn values(path: &Path) -> std::collections::BTreeMap<String, Vec<f32>> {
    checkpoint::load(path)
        .unwrap()
        .tensors
        .into_iter()
        .filter(|(k, _)| !k.starts_with("momentum/"))
        .map(|(k, t)| (k, t.to_vec::<f32>().unwrap()))
        .collect()
}

#[test]
fn default_train_pretrains_inflates_and_starts_from_it() {
    let cache = temp_dir("cache");
    let c = tiny(&cache);
    let saved = run(&c, &cache.join("a"));
    let init = saved.init.clone().expect("the run names its initialisation");
    assert!(saved.reinit.is_empty(), "{:?}", saved.reinit);
    let dir = init.parent().unwrap();
    assert!(dir.starts_with(&cache) && dir.join("COMPLETE").exists(), "{init:?}");
    assert!(dir.file_name().unwrap().to_string_lossy().starts_with("pretrain-"));

    // Inflation: every 3D conv kernel holds the 2D one in its middle time slice, zeros elsewhere.
    let (flat, inflated) = (values(&dir.join("2d.safetensors")), values(&init));
    let w2 = &flat["features.0.weight"]; // (8, 3, 1, 3, 3)
    let w3 = &inflated["features.0.weight"]; // (8, 3, 3, 3, 3)
    assert_eq!((w2.len(), w3.len()), (8 * 3 * 9, 8 * 3 * 27));
    for oi in 0..8 * 3 {
        for t in 0..3 {
            for k in 0..9 {
                let expected = if t == 1 { w2[oi * 9 + k] } else { 0.0 };
                assert_eq!(w3[oi * 27 + t * 9 + k], expected);
            }
        }
    }
    // The last layer keeps the 2D rows of Angry, Disgust, Fear (the stills' classes are those and
    // Neutral, in alphabetical order: Neutral is row 3 and is dropped).
    let meta2 = checkpoint::load(&dir.join("2d.safetensors")).unwrap().meta.unwrap();
    assert_eq!(meta2.classes, ["Angry", "Disgust", "Fear", "Neutral"]);
    assert_eq!(flat["head.3.weight"].len(), 4 * 128);
    assert_eq!(inflated["head.3.weight"], flat["head.3.weight"][..3 * 128].to_vec());
    assert_eq!(inflated["head.3.bias"], flat["head.3.bias"][..3].to_vec());
    // The run started from exactly these weights (lr 0 keeps them).
    let last = values(&cache.join("a").join("last.safetensors"));
    assert_eq!(last.len(), inflated.len());
    for (name, v) in &last {
        assert_eq!(&inflated[name], v, "{name} is not the inflated pretrained tensor");
    }

    // A second run with the same settings reuses the cache.
    let stamp = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let before = stamp(&dir.join("2d.safetensors"));
    let again = run(&c, &cache.join("b"));
    assert_eq!(again.init.as_deref(), Some(init.as_path()));
    assert_eq!(stamp(&dir.join("2d.safetensors")), before);

    // Turned off: no init. An explicit init is kept as given.
    let off = TrainConfig {
        pretrain: PretrainSettings {
            enabled: false,
            ..c.pretrain.clone()
        },
        ..c.clone()
    };
    assert_eq!(run(&off, &cache.join("c")).init, None);
    let own = TrainConfig {
        init: Some(cache.join("a").join("best.safetensors")),
        reinit: vec![],
        ..c.clone()
    };
    let kept = run(&own, &cache.join("d"));
    assert_eq!(kept.init, own.init);
    assert!(kept.reinit.is_empty());
    let _ = std::fs::remove_dir_all(cache);
}

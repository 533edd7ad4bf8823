//! An inflated VGG reproduces its 2D network per frame on a static video, away from the
//! temporal borders: each of the 13 temporal-kernel-3 convs widens the zero-padding's reach by
//! one frame, so frames 13 .. T−13 must match exactly (up to rounding).

use rand::SeedableRng;
use stsm_engine::nn::checkpoint::{self, Checkpoint};
use stsm_engine::nn::inflate::{inflate_checkpoint, InflateOptions};
use stsm_engine::nn::layers::{LayerInit, Module};
use stsm_engine::nn::{Init, Model, ModelConfig};
use stsm_engine::{DType, Tape, Tensor};

const FRAMES: usize = 29;
const REACH: usize = 13;

fn model(config: ModelConfig, seed: u64) -> Model {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut li = LayerInit {
        init: Init::HeNormal,
        dtype: DType::F64,
        rng: &mut rng,
    };
    Model::new(config, &mut li).unwrap()
}

/// A 3-channel 64×64 frame with some structure (so every conv sees non-trivial input).
fn frame() -> Vec<f64> {
    (0..3 * 64 * 64)
        .map(|i| ((i * 7919 % 257) as f64 / 128.0 - 1.0) * 0.5)
        .collect()
}

/// (1, 3, T, 64, 64): the frame repeated T times.
fn static_video(t: usize) -> Tensor {
    let f = frame();
    let mut data = Vec::with_capacity(3 * t * f.len() / 3);
    for c in 0..3 {
        for _ in 0..t {
            data.extend_from_slice(&f[c * 4096..(c + 1) * 4096]);
        }
    }
    Tensor::from_vec(&[1, 3, t, 64, 64], data).unwrap()
}

#[test]
fn inflated_vgg_matches_2d_per_frame_in_interior_frames() {
    let net2d = model(ModelConfig::preset("tiny-vgg2d", 5).unwrap(), 11);
    let tape = Tape::no_grad();
    let logits2d = net2d
        .frame_logits(&tape.constant(static_video(1)), false, 0)
        .unwrap()
        .value()
        .to_f64_vec()
        .unwrap();

    // Through the files and the command's code path: save 2D, inflate, load into a 3D model.
    let dir = std::env::temp_dir().join(format!("stsm-inflate-{}", std::process::id()));
    let (src, dst) = (dir.join("2d.safetensors"), dir.join("3d.safetensors"));
    let config2d = net2d.config().clone();
    let meta = checkpoint::CheckpointMeta {
        model: config2d,
        classes: (0..5).map(|i| format!("class{i}")).collect(),
        preprocessing: None,
        sampling_gamma: None,
        pooling_gamma: None,
        notes: Default::default(),
    };
    checkpoint::save_params(&src, &net2d.parameters(), Some(&meta)).unwrap();
    let back = checkpoint::load(&src).unwrap();
    for p in net2d.parameters() {
        let t = &back.tensors[p.name()];
        assert_eq!(t.dtype(), DType::F64, "{}", p.name());
        assert_eq!(
            t.to_vec::<f64>().unwrap(),
            p.value().to_vec::<f64>().unwrap(),
            "{}",
            p.name()
        );
    }
    let opts = InflateOptions {
        time_kernel: 3,
        center: false,
        frames: 16,
    };
    let (tensors, meta3d) = inflate_checkpoint(&checkpoint::load(&src).unwrap(), &opts).unwrap();
    checkpoint::save(&dst, &tensors, meta3d.as_ref()).unwrap();
    let loaded: Checkpoint = checkpoint::load(&dst).unwrap();
    let config3d = loaded.meta.as_ref().unwrap().model.clone();
    assert_eq!(config3d, ModelConfig::preset("tiny-vgg3d", 5).unwrap());
    let net3d = model(config3d, 99);
    loaded.load_into(&net3d.parameters(), &[], &dst).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let logits3d = net3d
        .frame_logits(&tape.constant(static_video(FRAMES)), false, 0)
        .unwrap();
    assert_eq!(logits3d.dims(), [1, 5, FRAMES]);
    let v = logits3d.value().to_f64_vec().unwrap();
    for class in 0..5 {
        let want = logits2d[class];
        for t in REACH..FRAMES - REACH {
            let got = v[class * FRAMES + t];
            // f64 weights survive the checkpoint; what remains is w/3·3 rounding and summation order.
            assert!(
                (got - want).abs() <= 1e-9 * (1.0 + want.abs()),
                "class {class} frame {t}: {got} vs 2D {want}"
            );
        }
        // The border frames differ (zero temporal padding), which is what makes the test bite.
        assert!(
            (v[class * FRAMES] - want).abs() > 1e-6,
            "class {class}: first frame unexpectedly equal"
        );
    }
}

//! `report` on a small finished directory written by hand (issue 20): its numbers are computed
//! here independently, and a run that has not finished is left out and named.

use std::path::Path;

use stsm_engine::sampling::SamplerKind;
use stsm_engine::train::metrics::{append, EpochMetrics};
use stsm_engine::train::report;
use stsm_engine::train::TrainConfig;

/// A finished two-class run: `scores` are (s0, s1) per test video with its label; validation
/// losses per epoch decide the best epoch.
fn write_run(dir: &Path, sampler: SamplerKind, seed: u64, videos: &[(f64, f64, usize)], val_losses: &[f64]) {
    std::fs::create_dir_all(dir).unwrap();
    let c = TrainConfig {
        sampler,
        seed,
        ..TrainConfig::default()
    };
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&c).unwrap()).unwrap();
    for (i, &loss) in val_losses.iter().enumerate() {
        let m = EpochMetrics {
            epoch: i + 1,
            phase: "exploitation".into(),
            train_loss: 1.0,
            train_acc: 0.5,
            val_loss: Some(loss),
            val_acc: Some(0.5),
            lr_head: 1e-3,
            lr_backbone: 1e-4,
            clips_per_s: 1.0,
            seconds: 1.0,
            on_segment_rate: Some(0.5),
            apex_rate: Some(0.25),
            starts: Vec::new(),
        };
        append(&dir.join("metrics.jsonl"), &m).unwrap();
    }
    let correct = videos
        .iter()
        .filter(|(s0, s1, label)| (s1 > s0) == (*label == 1))
        .count();
    let per_video: Vec<serde_json::Value> = videos
        .iter()
        .enumerate()
        .map(|(i, (s0, s1, label))| serde_json::json!({"id": format!("v{i}"), "label": label, "scores": [s0, s1]}))
        .collect();
    let test = serde_json::json!({
        "test_loss": 0.5,
        "test_acc": correct as f64 / videos.len() as f64,
        "videos": videos.len(),
        "classes": ["NoPain", "Pain"],
        "per_video": per_video,
    });
    std::fs::write(dir.join("test.json"), serde_json::to_vec(&test).unwrap()).unwrap();
}

/// The probability that a positive outscores a negative, ties one half, by counting pairs.
fn auc_by_pairs(videos: &[(f64, f64, usize)]) -> f64 {
    let margin = |v: &(f64, f64, usize)| v.1 - v.0;
    let (mut wins, mut pairs) = (0.0, 0.0);
    for p in videos.iter().filter(|v| v.2 == 1) {
        for n in videos.iter().filter(|v| v.2 == 0) {
            pairs += 1.0;
            wins += if margin(p) > margin(n) {
                1.0
            } else if margin(p) == margin(n) {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / pairs
}

#[test]
fn report_renders_the_tables_of_a_small_finished_directory() {
    let root = std::env::temp_dir().join(format!("stsm-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // Uniform: 2 of 4 right (seed 0), 3 of 4 (seed 1); softmax γ=2: 3 of 4, 4 of 4.
    let u0 = [(0.0, 1.0, 1), (0.0, 2.0, 0), (1.0, 0.0, 0), (1.0, 0.5, 1)];
    let u1 = [(0.0, 1.0, 1), (0.0, 0.5, 1), (1.0, 0.0, 0), (0.0, 0.2, 0)];
    let s0 = [(0.0, 1.0, 1), (0.0, 3.0, 1), (1.0, 0.0, 0), (0.3, 0.2, 1)];
    let s1 = [(0.0, 1.0, 1), (0.0, 3.0, 1), (1.0, 0.0, 0), (2.0, 0.0, 0)];
    let softmax = SamplerKind::Softmax { gamma: 2.0 };
    write_run(
        &root.join("uniform-g0-s0"),
        SamplerKind::Uniform,
        0,
        &u0,
        &[0.9, 0.7, 0.8],
    );
    write_run(
        &root.join("uniform-g0-s1"),
        SamplerKind::Uniform,
        1,
        &u1,
        &[0.9, 0.8, 0.6, 0.7],
    );
    write_run(&root.join("softmax-g2-s0"), softmax, 0, &s0, &[0.5, 0.6]);
    write_run(&root.join("softmax-g2-s1"), softmax, 1, &s1, &[0.9, 0.4, 0.5]);
    // An unfinished run: settings but no test record.
    let unfinished = root.join("softmax-g2-s2");
    std::fs::create_dir_all(&unfinished).unwrap();
    std::fs::write(
        unfinished.join("config.json"),
        serde_json::to_vec(&TrainConfig {
            sampler: softmax,
            seed: 2,
            ..TrainConfig::default()
        })
        .unwrap(),
    )
    .unwrap();

    let md = report::write(&root).unwrap();
    assert_eq!(std::fs::read_to_string(root.join("report.md")).unwrap(), md);
    assert!(md.contains("Partial: 4 of 5") && md.contains("softmax-g2-s2"), "{md}");
    // Uniform: accuracies 50, 75 -> 62.5 ± 17.7; best epochs 2 and 3 -> 2.5.
    let sd = (2.0f64 * 12.5 * 12.5).sqrt();
    let (auc_u0, auc_u1) = (auc_by_pairs(&u0), auc_by_pairs(&u1));
    assert_eq!((auc_u0, auc_u1), (0.5, 1.0));
    let uniform_row = format!(
        "| tiny-vgg3d | uniform | - | 0 | 2/2 | 62.5 ± {sd:.1} | 2.5 | 0.50 | 0.25 | {:.1} | {:.1} |",
        100.0 * (auc_u0 + auc_u1) / 2.0,
        100.0 * (auc_u0 + auc_u1) / 2.0
    );
    assert!(md.contains(&uniform_row), "{uniform_row}\n{md}");
    // Softmax: 75, 100 -> 87.5 ± 17.7; best epochs 1 and 2 -> 1.5.
    let (auc_s0, auc_s1) = (auc_by_pairs(&s0), auc_by_pairs(&s1));
    let softmax_row = format!(
        "| tiny-vgg3d | softmax | 2 | 2 | 2/2 | 87.5 ± {sd:.1} | 1.5 | 0.50 | 0.25 | {:.1} |",
        100.0 * (auc_s0 + auc_s1) / 2.0
    );
    assert!(md.contains(&softmax_row), "{softmax_row}\n{md}");
    // Paired by seed: gaps +25, +25 -> mean +25.0, s.e. 0, 2 wins.
    assert!(md.contains("| 2 | 2 / 0 / 0 | +25.0 ± 0.0 |"), "{md}");
    // Table 1 and Tables 3–5 layouts.
    assert!(
        md.contains(&format!(
            "| tiny-vgg3d | 0 (uniform) | 62.5 ± {sd:.1} | 2.5 | 62.5 ± {sd:.1} | 2.5 |"
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!("| tiny-vgg3d | 2 | - | - | 87.5 ± {sd:.1} | 1.5 |")),
        "{md}"
    );
    assert!(md.contains("| baseline (uniform) | tiny-vgg3d | 62.5 ±"), "{md}");
    let _ = std::fs::remove_dir_all(&root);
}

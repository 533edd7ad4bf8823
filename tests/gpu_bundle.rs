//! The GPU bundle's parts that can be checked without a GPU (scripts/gpu-check.sh): its run.sh
//! stops with one line where there is no GPU, and its final table (scripts/gpu_table.py, plain
//! Python) computes the engine/PyTorch ratios, TFLOP/s and floors from the runs' JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stsm-gpu-bundle-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn has_nvidia_smi() -> bool {
    Command::new("nvidia-smi").arg("-L").output().is_ok()
}

#[test]
fn run_sh_without_a_gpu_fails_with_one_line() {
    if has_nvidia_smi() {
        eprintln!("SKIP: this machine has nvidia-smi");
        return;
    }
    let out_dir = temp_dir("run");
    let out = Command::new("bash")
        .arg(repo().join("scripts/gpu-bundle-run.sh"))
        .env("OUT", &out_dir)
        .output()
        .expect("run bash");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.lines().count(), 1, "one line, no stack trace:\n{text}");
    assert!(text.starts_with("gpu-check: no GPU here"), "{text}");
    let saved = std::fs::read_to_string(out_dir.join("failure.txt")).unwrap();
    assert_eq!(saved, text);
    std::fs::remove_dir_all(&out_dir).unwrap();
}

#[test]
fn the_table_gives_ratios_tflops_and_floors_from_one_card() {
    let dir = temp_dir("table");
    let list = Command::new(env!("CARGO_BIN_EXE_stsm-engine"))
        .args(["bench", "--list", "--batch", "32"])
        .output()
        .unwrap();
    assert!(list.status.success());
    std::fs::write(dir.join("workloads-b32.json"), &list.stdout).unwrap();
    let engine = |precision: &str, ms: f64| {
        format!(
            r#"{{"device": "cuda:0", "precision": "{precision}", "timer": "device events",
                "results": [{{"name": "conv3b-fwd-b32", "best_ms": {ms}}}]}}"#
        )
    };
    std::fs::write(dir.join("engine-bf16-b32.json"), engine("bf16", 2.0)).unwrap();
    std::fs::write(dir.join("engine-fp32-b32.json"), engine("fp32", 20.0)).unwrap();
    std::fs::write(
        dir.join("torch-b32.json"),
        r#"{"results": [{"name": "conv3b-fwd-b32", "precision": "bf16", "best_ms": 1.5},
                        {"name": "conv3b-fwd-b32", "precision": "fp32", "best_ms": 4.0}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("steps.tsv"),
        "test-gpu_vs_cpu\tpass\t12\nengine-bf16-b32\ttimeout (90 s)\t90\n",
    )
    .unwrap();
    let out = Command::new("python3")
        .arg(repo().join("scripts/gpu_table.py"))
        .args(["--gpu", "H100", "--steps"])
        .arg(dir.join("steps.tsv"))
        .arg("--workloads")
        .arg(dir.join("workloads-b32.json"))
        .arg("--engine")
        .args([dir.join("engine-bf16-b32.json"), dir.join("engine-fp32-b32.json")])
        .arg("--torch")
        .args([dir.join("torch-b32.json"), dir.join("torch-b16.json")])
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("engine-bf16-b32") && text.contains("timeout (90 s)"),
        "{text}"
    );
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("conv3b-fwd-b32 "))
        .unwrap_or_else(|| panic!("{text}"))
        .split_whitespace()
        .collect();
    // conv3b at batch 32: 2 · 32 · 256 · (8·28·28) · 256 · 27 = 710.28 GFLOP.
    // bf16: 2 ms vs 1.5 ms: ratio 0.75, 355.1 TFLOP/s = 45 % of 798, 54 % of 660; floor:
    // 710.28e9 / 798e12 s = 0.890 ms (its 209 MB at 3 TB/s would take 0.070 ms).
    // fp32: 20 ms vs 4 ms: ratio 0.20, 35.5 TFLOP/s.
    assert_eq!(
        row,
        [
            "conv3b-fwd-b32",
            "|",
            "2.000",
            "1.500",
            "0.75",
            "355.1",
            "45",
            "54",
            "0.890",
            "|",
            "20.000",
            "4.000",
            "0.20",
            "35.5"
        ]
    );
    // No run at all for a workload: dashes, and a line naming the file that was missing.
    let empty = text.lines().find(|l| l.starts_with("conv2a-fwd-b32 ")).unwrap();
    assert_eq!(empty.split_whitespace().filter(|c| *c == "-").count(), 10, "{empty}");
    assert!(
        text.contains("bf16 conv2a-conv4b at batch 32: ratio min 0.75"),
        "{text}"
    );
    assert!(
        text.contains("missing or unreadable") && text.contains("torch-b16.json"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_torch_script_explains_itself_without_torch() {
    // CI never installs PyTorch: the script must at least parse and print its usage.
    let out = Command::new("python3")
        .arg(repo().join("scripts/torch_gpu_layers.py"))
        .arg("--help")
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("--workloads") && text.contains("channels-last"), "{text}");
}

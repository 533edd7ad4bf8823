//! `train --device` as a user runs it where the device cannot be used: a clear error naming
//! --device before any work (no run directory, no synthetic data).

use std::path::PathBuf;
use std::process::Command;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stsm-cli-device-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `train --device DEVICE` into a fresh directory; returns success, the output, and
/// whether the run directory was created.
fn train_on(device: &str) -> (bool, String, bool) {
    let dir = temp_dir(device);
    let out = Command::new(env!("CARGO_BIN_EXE_stsm-engine"))
        .args(["train", "--quiet", "--device", device, "--out"])
        .arg(dir.join("run"))
        // Were the device not checked first, the run would stop at the missing data rather
        // than generate the synthetic benchmark and train.
        .arg("--data")
        .arg(dir.join("no-such-data"))
        .output()
        .expect("run stsm-engine");
    let created = dir.exists();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        created,
    )
}

#[test]
fn cuda_without_a_gpu_is_an_error_naming_device() {
    if stsm_engine::backend::cuda::device::launcher_for(stsm_engine::tensor::Device::Cuda(0)).is_ok() {
        eprintln!("SKIP: this machine has a usable CUDA GPU");
        return;
    }
    let (ok, text, created) = train_on("cuda");
    assert!(!ok, "{text}");
    assert!(
        text.contains("--device") && text.contains("cuda:0 cannot be used here"),
        "{text}"
    );
    assert!(!created, "nothing is written before the device is checked:\n{text}");
}

#[cfg(not(feature = "cuda-emulation"))]
#[test]
fn cuda_emu_needs_the_feature() {
    let (ok, text, created) = train_on("cuda-emu");
    assert!(!ok, "{text}");
    assert!(
        text.contains("--device") && text.contains("--features cuda-emulation"),
        "{text}"
    );
    assert!(!created, "nothing is written before the device is checked:\n{text}");
}

#[test]
fn an_unknown_device_lists_the_choices() {
    let (ok, text, _) = train_on("gpu");
    assert!(!ok, "{text}");
    assert!(text.contains("cuda:N") && text.contains("auto"), "{text}");
}

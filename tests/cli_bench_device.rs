//! `stsm-engine bench --device D --precision P --batch N`: the C3D conv layers at a chosen batch,
//! on a device. On the emulated device (`--features cuda-emulation`, stage cuda-emu) at the
//! `--tiny` sizes; the GPU bundle (scripts/gpu-check.sh) runs the same command at batch 16 and
//! 32 on a real GPU.

use std::process::Command;

use serde_json::Value;

/// Runs `stsm-engine ARGS`: success, stdout, stderr.
fn engine(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stsm-engine"))
        .args(args)
        .output()
        .expect("run stsm-engine");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
}

fn named<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn batch_lists_every_c3d_layer_at_that_batch() {
    let (ok, out, err) = engine(&["bench", "--list", "--batch", "16"]);
    assert!(ok, "{err}");
    let list = json(&out);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 16, "8 layers, forward and forward + backward");
    // conv2a: 64 -> 128 channels on 16x56x56, 27 taps: 2 * 16 * 128 * 50176 * 64 * 27.
    let fwd = named(list, "conv2a-fwd-b16");
    assert_eq!(fwd["work"], 355_140_108_288.0);
    assert_eq!(fwd["spec"]["input"], serde_json::json!([16, 64, 16, 56, 56]));
    // Forward + backward: the input and weight gradients cost a forward each...
    assert_eq!(named(list, "conv2a-fwdbwd-b16")["work"], 3.0 * 355_140_108_288.0);
    // ...except conv1a's, whose input is the clip: no input gradient.
    let first = named(list, "conv1a-fwdbwd-b16");
    assert_eq!(first["spec"]["input_grad"], false);
    assert_eq!(
        first["work"],
        2.0 * 2.0 * 16.0 * 64.0 * (16.0 * 112.0 * 112.0) * 3.0 * 27.0
    );

    let (ok, out, err) = engine(&["bench", "--list", "--batch", "2", "--tiny"]);
    assert!(ok, "{err}");
    let tiny = json(&out);
    let tiny = tiny.as_array().unwrap();
    assert_eq!(tiny.len(), 16);
    // Channels / 16 (conv1a keeps 3 inputs), T, H, W / 8 rounded up.
    let c2 = named(tiny, "conv2a-tiny-fwd-b2");
    assert_eq!(c2["spec"]["input"], serde_json::json!([2, 4, 2, 7, 7]));
    assert_eq!(c2["spec"]["out_channels"], 8);
    assert_eq!(
        named(tiny, "conv1a-tiny-fwd-b2")["spec"]["input"],
        serde_json::json!([2, 3, 2, 14, 14])
    );
    assert_eq!(
        named(tiny, "conv5b-tiny-fwd-b2")["spec"]["input"],
        serde_json::json!([2, 32, 1, 1, 1])
    );
}

#[test]
fn options_that_do_not_fit_are_errors_naming_them() {
    let (ok, _, err) = engine(&[
        "bench",
        "--batch",
        "1",
        "--tiny",
        "--precision",
        "bf16",
        "conv2a-tiny-fwd-b1",
    ]);
    assert!(!ok && err.contains("--precision") && err.contains("cuda"), "{err}");
    let (ok, _, err) = engine(&["bench", "--batch", "0"]);
    assert!(!ok && err.contains("--batch"), "{err}");
    let (ok, _, err) = engine(&["bench", "--batch", "1", "conv2a-fwd-b4"]);
    assert!(
        !ok && err.contains("unknown workload") && err.contains("conv2a-fwd-b1"),
        "{err}"
    );
}

#[cfg(not(feature = "cuda-emulation"))]
#[test]
fn the_emulated_device_needs_the_feature() {
    let (ok, _, err) = engine(&["bench", "--device", "cuda-emu", "--batch", "1", "--tiny"]);
    assert!(
        !ok && err.contains("--device") && err.contains("--features cuda-emulation"),
        "{err}"
    );
}

#[cfg(feature = "cuda-emulation")]
#[test]
fn fp32_conv_layers_run_on_the_emulated_device() {
    let (ok, out, err) = engine(&[
        "bench",
        "--device",
        "cuda-emu",
        "--precision",
        "fp32",
        "--batch",
        "1",
        "--tiny",
        "--repeat",
        "1",
        "--json",
        "conv2a-tiny-fwd-b1",
        "conv2a-tiny-fwdbwd-b1",
    ]);
    assert!(ok, "{err}");
    let report = json(&out);
    assert_eq!(report["device"], "cuda-emu");
    assert_eq!(report["precision"], "fp32");
    // The emulator keeps no device clock.
    assert_eq!(report["timer"], "host clock");
    let results = report["results"].as_array().unwrap();
    // conv2a tiny: 4 -> 8 channels on 2x7x7, 27 taps, batch 1.
    let fwd_flops = 2.0 * 8.0 * 98.0 * 4.0 * 27.0;
    for (r, flops) in results.iter().zip([fwd_flops, 3.0 * fwd_flops]) {
        let ms = r["best_ms"].as_f64().unwrap();
        let rate = r["rate"].as_f64().unwrap();
        assert!(ms > 0.0, "{r}");
        assert!((rate * ms * 1e6 / flops - 1.0).abs() < 1e-9, "{r}");
    }
}

#[cfg(feature = "cuda-emulation")]
#[test]
fn bf16_conv_layers_run_on_the_emulated_device() {
    let (ok, out, err) = engine(&[
        "bench",
        "--device",
        "cuda-emu",
        "--precision",
        "bf16",
        "--batch",
        "1",
        "--tiny",
        "--repeat",
        "1",
        "--json",
        "conv1a-tiny-fwdbwd-b1",
        "conv3b-tiny-fwdbwd-b1",
    ]);
    assert!(ok, "{err}");
    let report = json(&out);
    assert_eq!(
        (&report["device"], &report["precision"]),
        (&"cuda-emu".into(), &"bf16".into())
    );
    let results = report["results"].as_array().unwrap();
    // conv3b tiny: 16 -> 16 channels on 1x4x4, 27 taps, batch 1; three GEMMs of that size.
    let flops = 3.0 * 2.0 * 16.0 * 16.0 * 16.0 * 27.0;
    let r = &results[1];
    assert_eq!(r["name"], "conv3b-tiny-fwdbwd-b1");
    let (ms, rate) = (r["best_ms"].as_f64().unwrap(), r["rate"].as_f64().unwrap());
    assert!(ms > 0.0 && (rate * ms * 1e6 / flops - 1.0).abs() < 1e-9, "{r}");
}

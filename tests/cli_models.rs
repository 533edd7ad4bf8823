//! The model commands as a user runs them.

use std::process::Command;

fn engine(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stsm-engine"))
        .args(args)
        .output()
        .expect("run stsm-engine");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn info_reports_c3d_size_and_cost() {
    let (ok, text) = engine(&["info", "--model", "c3d"]);
    assert!(ok, "{text}");
    // Tran et al.'s C3D with a 7-way fc8: 78.0 M parameters, 77.1 GFLOP per 16×112×112 clip.
    assert!(text.contains("78,024,455 parameters (78.0 M), 77.1 GFLOP"), "{text}");
    assert!(text.contains("pool5") && text.contains("[1, 512, 1, 4, 4]"), "{text}");
}

#[test]
fn unknown_model_is_an_error_listing_the_presets() {
    let (ok, text) = engine(&["info", "--model", "resnet50"]);
    assert!(!ok);
    assert!(
        text.contains("error: model: invalid argument: unknown model \"resnet50\"") && text.contains("tiny-vgg3d"),
        "{text}"
    );
}

#[test]
fn inflate_rejects_a_missing_file_naming_it() {
    let (ok, text) = engine(&[
        "inflate",
        "--from",
        "/nonexistent/2d.safetensors",
        "--to",
        "/tmp/x.safetensors",
    ]);
    assert!(!ok);
    assert!(text.contains("/nonexistent/2d.safetensors"), "{text}");
}

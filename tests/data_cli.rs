//! `stsm-engine synth` and `stsm-engine pack` end to end through the binary.

use std::process::Command;

use stsm_engine::data::pack::Pack;
use stsm_engine::data::source::VideoSource;

fn engine(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stsm-engine"))
        .args(args)
        .output()
        .expect("run stsm-engine")
}

#[test]
fn synth_then_pack_from_root_and_from_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("synth");
    let out_s = out.to_str().unwrap();
    let small = [
        "--classes",
        "2",
        "--videos-per-class",
        "3",
        "--subjects",
        "4",
        "--test-subjects",
        "1",
    ];
    let sizes = [
        "--size",
        "20",
        "--min-frames",
        "20",
        "--max-frames",
        "26",
        "--stills-per-class",
        "1",
        "--quiet",
    ];
    let r = engine(&[&["synth", "--out", out_s][..], &small, &sizes].concat());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(stdout.contains("6 videos"), "{stdout}");

    let pack = tmp.path().join("train.stsmpack");
    let root = out.join("videos");
    let r = engine(&[
        "pack",
        "--root",
        root.to_str().unwrap(),
        "--split",
        "train",
        "--out",
        pack.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let train = Pack::open(&pack).unwrap();
    assert_eq!(train.classes(), ["Angry", "Disgust"]);

    // The manifest route keeps subjects, and can resize.
    let pack = tmp.path().join("test.stsmpack");
    let manifest = out.join("manifest.csv");
    let r = engine(&[
        "pack",
        "--manifest",
        manifest.to_str().unwrap(),
        "--split",
        "test",
        "--size",
        "12x10",
        "--out",
        pack.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let test = Pack::open(&pack).unwrap();
    assert_eq!(train.videos().len() + test.videos().len(), 6);
    assert!(test
        .videos()
        .iter()
        .all(|v| v.subject.is_some() && (v.width, v.height) == (12, 10)));

    // Errors name the problem and exit non-zero.
    let r = engine(&[
        "pack",
        "--root",
        root.to_str().unwrap(),
        "--split",
        "nope",
        "--out",
        "x.stsmpack",
    ]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("nope"));
}

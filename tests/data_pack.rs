//! Frame folders -> pack -> memory map: the bit-exact round trip from the synthetic benchmark,
//! and one test per bad-input case.

use std::path::Path;

use stsm_engine::data::frames::discover_split;
use stsm_engine::data::image_io::{save_png, Frame, Interp};
use stsm_engine::data::manifest::load_manifest;
use stsm_engine::data::pack::{Pack, PackWriter};
use stsm_engine::data::packer::{pack_dataset, PackOptions};
use stsm_engine::data::source::{FolderSource, VideoMeta, VideoSource};
use stsm_engine::data::synth::{generate, render_video, SynthConfig};

fn tiny_synth() -> SynthConfig {
    SynthConfig {
        seed: 7,
        classes: 3,
        videos_per_class: 3,
        subjects: 4,
        test_subjects: 1,
        size: 24,
        min_frames: 20,
        max_frames: 30,
        stills_per_class: 2,
        ..SynthConfig::default()
    }
}

/// A frame whose every pixel differs, so any misplaced byte shows.
fn pattern(w: usize, h: usize, salt: u8) -> Frame {
    let data = (0..w * h * 3)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect();
    Frame::new(w, h, data).unwrap()
}

fn write_video(dir: &Path, frames: &[Frame]) {
    std::fs::create_dir_all(dir).unwrap();
    for (t, f) in frames.iter().enumerate() {
        save_png(&dir.join(format!("{t}.png")), f).unwrap();
    }
}

fn quiet() -> PackOptions {
    PackOptions::default()
}

#[test]
fn synth_frames_pack_round_trip_is_bit_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_synth();
    let report = generate(&cfg, &tmp.path().join("synth"), 2, false).unwrap();
    let root = tmp.path().join("synth/videos");
    let mut checked = 0;
    for split in ["train", "test"] {
        let disc = discover_split(&root, split, None).unwrap();
        assert_eq!(disc.classes, cfg.class_names());
        let out = tmp.path().join(format!("{split}.stsmpack"));
        let packed = pack_dataset(&disc, &out, &quiet()).unwrap();
        assert!(packed.warnings.is_empty(), "{:?}", packed.warnings);
        let pack = Pack::open(&out).unwrap();
        assert_eq!(pack.videos().len(), disc.videos.len());
        for (v, meta) in pack.videos().iter().enumerate() {
            // Compare with frames rendered afresh from the ground truth: the pack, the PNGs and
            // the generator all agree bit for bit.
            let index = report.truth.videos.iter().position(|t| t.id == meta.id).unwrap();
            let truth = &report.truth.videos[index];
            assert_eq!(
                (meta.label, meta.frames, meta.width),
                (truth.label, truth.frames, cfg.size)
            );
            let source = render_video(&cfg, index, truth).unwrap();
            for (t, frame) in source.iter().enumerate() {
                assert_eq!(
                    pack.frame_bytes(v, t).unwrap(),
                    frame.data.as_slice(),
                    "video {} frame {t}",
                    meta.id
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, report.videos);
}

#[test]
fn manifest_and_unpadded_natural_order() {
    let tmp = tempfile::tempdir().unwrap();
    // 12 frames named 0.png .. 11.png: lexicographic order would put 10 and 11 after 1.
    let frames: Vec<Frame> = (0..12).map(|i| pattern(5, 4, i as u8)).collect();
    write_video(&tmp.path().join("clips/a1"), &frames);
    write_video(&tmp.path().join("clips/b7"), &frames[..3]);
    let manifest = tmp.path().join("m.csv");
    std::fs::write(
        &manifest,
        "path,label,subject,split\nclips/a1,Pain,s1,train\nclips/b7,NoPain,s2,test\n",
    )
    .unwrap();
    let disc = load_manifest(&manifest, None, None).unwrap();
    assert_eq!(disc.classes, vec!["NoPain", "Pain"]);
    assert_eq!(disc.videos[0].subject.as_deref(), Some("s1"));
    let src = FolderSource::new(disc, None, Interp::Bilinear).unwrap();
    let mut scratch = Vec::new();
    for (t, f) in frames.iter().enumerate() {
        assert_eq!(src.frame(0, t, &mut scratch).unwrap(), f.data.as_slice());
    }
    // A split keeps the class list of the whole manifest (the test split has no `Pain`).
    let test = load_manifest(&manifest, None, Some("test")).unwrap();
    assert_eq!((test.videos.len(), test.videos[0].label), (1, 0));
    assert_eq!(test.classes, vec!["NoPain", "Pain"]);
    let train = load_manifest(&manifest, None, Some("train")).unwrap();
    assert_eq!((train.videos.len(), train.videos[0].label), (1, 1));
}

#[test]
fn corrupt_image_names_the_file_or_is_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("train/Happy/v1");
    write_video(&dir, &[pattern(4, 4, 1), pattern(4, 4, 2), pattern(4, 4, 3)]);
    std::fs::write(dir.join("1.png"), b"not a png at all").unwrap();
    let disc = discover_split(tmp.path(), "train", None).unwrap();
    let out = tmp.path().join("p.stsmpack");
    let err = pack_dataset(&disc, &out, &quiet()).unwrap_err().to_string();
    assert!(err.contains("1.png"), "{err}");
    assert!(!out.exists(), "a failed pack must leave no file");
    let report = pack_dataset(
        &disc,
        &out,
        &PackOptions {
            skip_bad: true,
            ..quiet()
        },
    )
    .unwrap();
    assert_eq!((report.bad_frames, report.frames), (1, 2));
    let pack = Pack::open(&out).unwrap();
    assert_eq!(pack.frame_bytes(0, 1).unwrap(), pattern(4, 4, 3).data.as_slice());
}

#[test]
fn mixed_frame_sizes_are_resized_with_one_warning_per_video() {
    let tmp = tempfile::tempdir().unwrap();
    write_video(
        &tmp.path().join("train/Sad/v1"),
        &[pattern(6, 4, 0), pattern(3, 2, 0), pattern(12, 8, 0)],
    );
    write_video(&tmp.path().join("train/Sad/v2"), &[pattern(6, 4, 0), pattern(6, 4, 1)]);
    let disc = discover_split(tmp.path(), "train", None).unwrap();
    let out = tmp.path().join("p.stsmpack");
    let report = pack_dataset(&disc, &out, &quiet()).unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("v1") && report.warnings[0].contains("mixed sizes"));
    let pack = Pack::open(&out).unwrap();
    assert_eq!(
        (pack.videos()[0].width, pack.videos()[0].height, pack.videos()[0].frames),
        (6, 4, 3)
    );
    // The frame-folder source resizes the same way and warns once for the video.
    let src = FolderSource::new(
        discover_split(tmp.path(), "train", None).unwrap(),
        None,
        Interp::Bilinear,
    )
    .unwrap();
    let mut scratch = Vec::new();
    for t in 0..3 {
        let bytes = src.frame(0, t, &mut scratch).unwrap().to_vec();
        assert_eq!(bytes.as_slice(), pack.frame_bytes(0, t).unwrap());
    }
    assert_eq!(src.take_warnings().len(), 1);
}

#[test]
fn empty_video_folder_is_skipped_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    write_video(&tmp.path().join("train/Fear/full"), &[pattern(4, 4, 0)]);
    std::fs::create_dir_all(tmp.path().join("train/Fear/empty")).unwrap();
    std::fs::write(tmp.path().join("train/Fear/empty/notes.txt"), "no frames here").unwrap();
    let disc = discover_split(tmp.path(), "train", None).unwrap();
    assert_eq!(disc.videos.len(), 1);
    assert_eq!(disc.warnings.len(), 1);
    assert!(disc.warnings[0].contains("empty"), "{:?}", disc.warnings);
}

#[test]
fn duplicate_video_ids_are_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    write_video(&tmp.path().join("train/Angry/007"), &[pattern(4, 4, 0)]);
    write_video(&tmp.path().join("train/Happy/007"), &[pattern(4, 4, 0)]);
    let err = discover_split(tmp.path(), "train", None).unwrap_err().to_string();
    assert!(err.contains("duplicate video id `007`"), "{err}");
    std::fs::write(
        tmp.path().join("m.csv"),
        "train/Angry/007,Angry,s1\ntrain/Happy/007,Happy,s2\n",
    )
    .unwrap();
    let err = load_manifest(&tmp.path().join("m.csv"), None, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("duplicate video id"), "{err}");
}

#[test]
fn label_outside_the_class_list_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    write_video(&tmp.path().join("train/Angry/v1"), &[pattern(4, 4, 0)]);
    write_video(&tmp.path().join("train/Bored/v2"), &[pattern(4, 4, 0)]);
    let classes: Vec<String> = vec!["Angry".into(), "Happy".into()];
    let err = discover_split(tmp.path(), "train", Some(&classes))
        .unwrap_err()
        .to_string();
    assert!(err.contains("Bored"), "{err}");
    std::fs::write(
        tmp.path().join("m.csv"),
        "train/Angry/v1,Angry,s1\ntrain/Bored/v2,Bored,s1\n",
    )
    .unwrap();
    let err = load_manifest(&tmp.path().join("m.csv"), Some(&classes), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("m.csv") && err.contains("Bored"), "{err}");
    // An index past the list is also outside it.
    std::fs::write(tmp.path().join("n.csv"), "train/Angry/v1,5,s1\n").unwrap();
    assert!(load_manifest(&tmp.path().join("n.csv"), Some(&classes), None).is_err());
}

fn small_pack(path: &Path) {
    let mut w = PackWriter::create(path, vec!["A".into()]).unwrap();
    w.begin_video(VideoMeta {
        id: "v".into(),
        label: 0,
        subject: None,
        split: None,
        frames: 0,
        width: 4,
        height: 4,
    });
    w.push_frame(&pattern(4, 4, 9).data).unwrap();
    w.push_frame(&pattern(4, 4, 8).data).unwrap();
    w.finish().unwrap();
}

#[test]
fn corrupt_pack_fails_its_checksum_and_says_to_repack() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("p.stsmpack");
    small_pack(&path);
    assert_eq!(
        Pack::open(&path).unwrap().frame_bytes(0, 1).unwrap(),
        pattern(4, 4, 8).data.as_slice()
    );
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[64 + 20] ^= 0x40; // one bit of frame data
    std::fs::write(&path, &bytes).unwrap();
    let err = Pack::open(&path).err().expect("corrupt pack must not open").to_string();
    assert!(err.contains("checksum") && err.contains("re-pack"), "{err}");
    // A truncated file is refused too.
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let err = Pack::open(&path)
        .err()
        .expect("truncated pack must not open")
        .to_string();
    assert!(err.contains("re-pack"), "{err}");
}

#[test]
fn interrupted_pack_leaves_nothing_that_looks_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("p.stsmpack");
    {
        let mut w = PackWriter::create(&path, vec!["A".into()]).unwrap();
        w.begin_video(VideoMeta {
            id: "v".into(),
            label: 0,
            subject: None,
            split: None,
            frames: 0,
            width: 4,
            height: 4,
        });
        w.push_frame(&pattern(4, 4, 9).data).unwrap();
        // Dropped before finish: as if an error stopped the packing.
    }
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "temporary file left behind"
    );
    // A temporary file cut short (process killed) has a zero header: it is no pack.
    std::fs::write(&path, vec![0u8; 200]).unwrap();
    let err = Pack::open(&path).err().expect("not a pack").to_string();
    assert!(err.contains("magic"), "{err}");
}

#[test]
fn a_split_missing_a_class_keeps_the_labels_of_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    write_video(&tmp.path().join("train/Angry/a"), &[pattern(4, 4, 0)]);
    write_video(&tmp.path().join("train/Happy/b"), &[pattern(4, 4, 0)]);
    write_video(&tmp.path().join("val/Happy/c"), &[pattern(4, 4, 0)]);
    let val = discover_split(tmp.path(), "val", None).unwrap();
    assert_eq!(val.classes, vec!["Angry", "Happy"]);
    assert_eq!(val.videos[0].label, 1);
}

#[test]
fn jpeg_frames_are_read_and_pack_skipping_the_data_check_still_checks_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("train/Happy/j1");
    std::fs::create_dir_all(&dir).unwrap();
    // A smooth image (JPEG is lossy; smooth content keeps the error small).
    let smooth = {
        let data = (0..16 * 8)
            .flat_map(|i| [(i % 16 * 12) as u8, (i / 16 * 20) as u8, 128])
            .collect();
        Frame::new(16, 8, data).unwrap()
    };
    for name in ["f2.jpg", "f10.JPEG"] {
        image::save_buffer_with_format(
            dir.join(name),
            &smooth.data,
            16,
            8,
            image::ColorType::Rgb8,
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    }
    let disc = discover_split(tmp.path(), "train", None).unwrap();
    let names: Vec<_> = disc.videos[0]
        .files()
        .iter()
        .map(|p| p.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["f2.jpg", "f10.JPEG"]);
    let out = tmp.path().join("p.stsmpack");
    pack_dataset(&disc, &out, &quiet()).unwrap();
    let pack = Pack::open(&out).unwrap();
    let got = pack.frame_bytes(0, 1).unwrap();
    let max_err = got
        .iter()
        .zip(&smooth.data)
        .map(|(&a, &b)| (a as i32 - b as i32).abs())
        .max()
        .unwrap();
    assert!(max_err <= 12, "JPEG error {max_err}");
    // Corrupt one data byte: the unverified open accepts it, the normal open does not; a corrupt
    // index is refused by both.
    let mut bytes = std::fs::read(&out).unwrap();
    bytes[70] ^= 1;
    std::fs::write(&out, &bytes).unwrap();
    assert!(Pack::open(&out).is_err());
    assert!(Pack::open_with(&out, false).is_ok());
    let n = bytes.len();
    bytes[n - 5] ^= 1;
    std::fs::write(&out, &bytes).unwrap();
    let err = Pack::open_with(&out, false).err().expect("corrupt index").to_string();
    assert!(err.contains("index checksum") && err.contains("re-pack"), "{err}");
}

//! Diagnostic: how informative a finished softmax run's score tables w are on the synthetic
//! benchmark. Per training video: the probability softmax(γ·w) puts on clip starts that overlap
//! the expressive segment (resp. contain the apex), against a uniform draw's; and whether
//! argmax w overlaps the segment. args: run directory
use stsm_engine::train::{dataset, TrainConfig};

fn main() -> stsm_engine::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("run dir"));
    let c: TrainConfig = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let data = dataset::load(&c)?;
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("last.json")).unwrap()).unwrap();
    let videos = state["sampler"]["videos"].as_array().unwrap();
    let gamma = c.sampling_gamma();
    let f = c.clip_len;
    let (mut seg_p, mut seg_u, mut apex_p, mut apex_u, mut argmax_on, mut n) = (0.0, 0.0, 0.0, 0.0, 0usize, 0usize);
    for (i, v) in videos.iter().enumerate() {
        let w: Vec<f64> = v["table"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let id = &data.train.videos()[data.train_videos[i]].id;
        let Some(t) = data.truth.get(id) else { continue };
        let (s, e) = t.segment;
        let m = w.iter().cloned().fold(f64::MIN, f64::max);
        let p: Vec<f64> = w.iter().map(|x| (gamma * (x - m)).exp()).collect();
        let z: f64 = p.iter().sum();
        let on = |st: usize| st < e && st + f > s;
        let hit = |st: usize| st <= t.apex && t.apex < st + f;
        let nw = w.len() as f64;
        seg_p += (0..w.len()).filter(|&k| on(k)).map(|k| p[k] / z).sum::<f64>();
        seg_u += (0..w.len()).filter(|&k| on(k)).count() as f64 / nw;
        apex_p += (0..w.len()).filter(|&k| hit(k)).map(|k| p[k] / z).sum::<f64>();
        apex_u += (0..w.len()).filter(|&k| hit(k)).count() as f64 / nw;
        let am = (0..w.len()).max_by(|&a, &b| w[a].total_cmp(&w[b])).unwrap();
        argmax_on += on(am) as usize;
        n += 1;
    }
    let n_f = n as f64;
    println!(
        "{n} videos, γ {gamma}: P(on segment) softmax(γw) {:.2} vs uniform {:.2}; P(apex in clip) {:.2} vs {:.2}; argmax w on segment {:.2}",
        seg_p / n_f, seg_u / n_f, apex_p / n_f, apex_u / n_f, argmax_on as f64 / n_f
    );
    Ok(())
}

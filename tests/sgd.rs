//! SGD against closed forms. On f(x) = ½·a·x² − b·x with weight decay wd, heavy-ball momentum μ
//! and learning rate η, the error e = x − x* (x* = b / A, A = a + wd) and the momentum buffer v
//! follow the linear recurrence v' = μ·v + A·e, e' = e − η·v', whose characteristic polynomial is
//! λ² − (1 + μ − ηA)·λ + μ. So e_k = c₁λ₁ᵏ + c₂λ₂ᵏ (real roots) or rᵏ(C·cos kθ + D·sin kθ)
//! (complex roots), with c's fixed by e₀ and e₁ = (1 − ηA)·e₀.

use stsm_engine::nn::layers::{LayerInit, Module};
use stsm_engine::nn::tiny::TinyNet;
use stsm_engine::nn::Init;
use stsm_engine::optim::{ParamGroup, Sgd};
use stsm_engine::{DType, Param, Tape, Tensor};

/// e_k from the closed form for the recurrence above.
fn closed_form_error(e0: f64, a: f64, lr: f64, momentum: f64, k: i32) -> f64 {
    let trace = 1.0 + momentum - lr * a;
    let disc = trace * trace - 4.0 * momentum;
    let e1 = (1.0 - lr * a) * e0;
    if disc > 0.0 {
        let (l1, l2) = ((trace + disc.sqrt()) / 2.0, (trace - disc.sqrt()) / 2.0);
        let c1 = (e1 - l2 * e0) / (l1 - l2);
        let c2 = e0 - c1;
        c1 * l1.powi(k) + c2 * l2.powi(k)
    } else {
        let r = momentum.sqrt();
        let theta = (trace / (2.0 * r)).acos();
        let d = (e1 / r - e0 * theta.cos()) / theta.sin();
        r.powi(k) * (e0 * (k as f64 * theta).cos() + d * (k as f64 * theta).sin())
    }
}

/// Runs `steps` SGD steps on independent 1-D quadratics, one parameter (and group) each.
/// problems: (a, b, x0, lr, weight_decay).
fn run_quadratics(problems: &[(f64, f64, f64, f64, f64)], momentum: f64, steps: i32) -> Vec<f64> {
    let params: Vec<Param> = problems
        .iter()
        .enumerate()
        .map(|(i, p)| Param::new(format!("x{i}"), Tensor::from_vec(&[1], vec![p.2]).unwrap()))
        .collect();
    let groups = problems
        .iter()
        .zip(&params)
        .enumerate()
        .map(|(i, (p, param))| ParamGroup {
            name: format!("g{i}"),
            params: vec![param.clone()],
            lr: p.3,
            weight_decay: p.4,
        })
        .collect();
    let mut sgd = Sgd::new(groups, momentum, 0.0, false).unwrap();
    for _ in 0..steps {
        for ((a, b, ..), param) in problems.iter().zip(&params) {
            let x = param.value().item().unwrap();
            param
                .accumulate_grad(&Tensor::from_vec(&[1], vec![a * x - b]).unwrap())
                .unwrap();
        }
        sgd.step(1).unwrap();
    }
    params.iter().map(|p| p.value().item().unwrap()).collect()
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
        "{what}: got {got}, closed form {want}"
    );
}

#[test]
fn plain_sgd_matches_geometric_decay() {
    // No momentum: e_k = (1 − ηA)^k e₀.
    let (a, b, x0, lr, wd) = (3.0, 1.5, 2.0, 0.1, 0.05);
    let x = run_quadratics(&[(a, b, x0, lr, wd)], 0.0, 25)[0];
    let x_star = b / (a + wd);
    assert_close(x - x_star, (1.0 - lr * (a + wd)).powi(25) * (x0 - x_star), "plain SGD");
}

#[test]
fn momentum_matches_closed_form_with_real_and_complex_roots() {
    // Group 0: μ = 0.1, ηA = 0.2 -> discriminant 0.41 > 0 (real roots).
    // Group 1 shares μ but ηA = 1.2 -> (−0.1)² − 0.4 < 0 (complex roots, oscillating).
    let problems = [(2.0, 1.0, 3.0, 0.1, 0.0), (4.0, -2.0, -1.0, 0.25, 0.8)];
    let momentum = 0.1;
    let steps = 40;
    let x = run_quadratics(&problems, momentum, steps);
    for (i, &(a, b, x0, lr, wd)) in problems.iter().enumerate() {
        let big_a = a + wd;
        let x_star = b / big_a;
        let want = closed_form_error(x0 - x_star, big_a, lr, momentum, steps);
        assert_close(x[i] - x_star, want, &format!("group {i}"));
    }
}

#[test]
fn heavy_momentum_complex_roots() {
    let (a, b, x0, lr, wd) = (1.0, 0.5, -4.0, 0.3, 1e-3);
    let momentum = 0.9;
    let x = run_quadratics(&[(a, b, x0, lr, wd)], momentum, 60)[0];
    let big_a = a + wd;
    let x_star = b / big_a;
    assert_close(
        x - x_star,
        closed_form_error(x0 - x_star, big_a, lr, momentum, 60),
        "μ = 0.9",
    );
}

#[test]
fn nesterov_and_dampening_first_two_steps_by_hand() {
    // Nesterov, μ = 0.5, η = 0.1, gradient g = x (a = 1, b = 0), x0 = 1:
    // step 1: d = 1, buf = 1, update = d + μ·buf = 1.5 -> x1 = 0.85.
    // step 2: d = 0.85, buf = 0.5·1 + 0.85 = 1.35, update = 0.85 + 0.675 = 1.525 -> x2 = 0.6975.
    let p = Param::new("x", Tensor::from_vec(&[1], vec![1.0f64]).unwrap());
    let group = ParamGroup {
        name: "g".into(),
        params: vec![p.clone()],
        lr: 0.1,
        weight_decay: 0.0,
    };
    let mut sgd = Sgd::new(vec![group], 0.5, 0.0, true).unwrap();
    for want in [0.85, 0.6975] {
        p.accumulate_grad(&p.value()).unwrap();
        sgd.step(1).unwrap();
        assert_close(p.value().item().unwrap(), want, "nesterov");
    }
    // Dampening 0.5, μ = 0.5, η = 1: step 1 buf = d = 1 (no dampening on the first step) -> x = 0;
    // step 2 with g = 2: buf = 0.5·1 + 0.5·2 = 1.5 -> x = −1.5.
    let q = Param::new("y", Tensor::from_vec(&[1], vec![1.0f64]).unwrap());
    let group = ParamGroup {
        name: "g".into(),
        params: vec![q.clone()],
        lr: 1.0,
        weight_decay: 0.0,
    };
    let mut sgd = Sgd::new(vec![group], 0.5, 0.5, false).unwrap();
    for (g, want) in [(1.0, 0.0), (2.0, -1.5)] {
        q.accumulate_grad(&Tensor::from_vec(&[1], vec![g]).unwrap()).unwrap();
        sgd.step(1).unwrap();
        assert_close(q.value().item().unwrap(), want, "dampening");
    }
}

#[test]
fn params_without_gradient_are_left_alone() {
    let p = Param::new("x", Tensor::from_vec(&[2], vec![1.0f64, 2.0]).unwrap());
    let group = ParamGroup {
        name: "g".into(),
        params: vec![p.clone()],
        lr: 0.1,
        weight_decay: 0.5,
    };
    Sgd::new(vec![group], 0.9, 0.0, false).unwrap().step(1).unwrap();
    assert_eq!(p.value().to_vec::<f64>().unwrap(), vec![1.0, 2.0]);
}

#[test]
fn invalid_hyper_parameters_are_rejected_with_the_group_name() {
    let p = Param::new("x", Tensor::from_vec(&[1], vec![0.0f64]).unwrap());
    let bad = ParamGroup {
        name: "head".into(),
        params: vec![p],
        lr: -1.0,
        weight_decay: 0.0,
    };
    let err = Sgd::new(vec![bad], 0.9, 0.0, false).err().unwrap().to_string();
    assert!(err.contains("head") && err.contains("lr"), "{err}");
    assert!(Sgd::new(vec![], 1.0, 0.0, false).is_err());
}

fn tiny_net(seed: u64) -> TinyNet {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut li = LayerInit {
        init: Init::HeNormal,
        dtype: DType::F64,
        rng: &mut rng,
    };
    TinyNet::new([2, 4, 4], 3, 0.0, &mut li).unwrap()
}

fn batch(n: usize, offset: usize) -> (Tensor, Vec<usize>) {
    let per = 3 * 2 * 4 * 4;
    let data = (0..n * per)
        .map(|i| (((i + offset * per) * 37 % 101) as f64 / 50.0) - 1.0)
        .collect();
    let labels = (0..n).map(|i| (i + offset) % 3).collect();
    (Tensor::from_vec(&[n, 3, 2, 4, 4], data).unwrap(), labels)
}

#[test]
fn accumulated_micro_batches_average_to_the_full_batch_step() {
    // Three micro-batches of 2 with step(3) must equal one batch of 6 with step(1): the mean of
    // three batch means of equal size is the mean over all six clips.
    let (a, b) = (tiny_net(5), tiny_net(5));
    let groups = |net: &TinyNet| {
        vec![ParamGroup {
            name: "all".into(),
            params: net.parameters(),
            lr: 0.05,
            weight_decay: 1e-3,
        }]
    };
    let (mut sgd_a, mut sgd_b) = (
        Sgd::new(groups(&a), 0.9, 0.0, false).unwrap(),
        Sgd::new(groups(&b), 0.9, 0.0, false).unwrap(),
    );
    for round in 0..2 {
        for micro in 0..3 {
            let (x, y) = batch(2, round * 6 + micro * 2);
            let tape = Tape::new();
            a.forward(&tape.constant(x), false, 0)
                .unwrap()
                .cross_entropy(&y)
                .unwrap()
                .backward()
                .unwrap();
        }
        sgd_a.step(3).unwrap();
        let (x, y) = batch(6, round * 6);
        let tape = Tape::new();
        b.forward(&tape.constant(x), false, 0)
            .unwrap()
            .cross_entropy(&y)
            .unwrap()
            .backward()
            .unwrap();
        sgd_b.step(1).unwrap();
    }
    for (pa, pb) in a.parameters().iter().zip(b.parameters()) {
        let (va, vb) = (pa.value().to_vec::<f64>().unwrap(), pb.value().to_vec::<f64>().unwrap());
        let worst = va.iter().zip(&vb).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-12, "{}: differs by {worst}", pa.name());
    }
}

#[test]
fn layers_name_their_parameters_like_pytorch() {
    let names: Vec<String> = tiny_net(0).parameters().iter().map(|p| p.name().to_string()).collect();
    assert_eq!(
        names,
        [
            "conv1.weight",
            "conv1.bias",
            "conv2.weight",
            "conv2.bias",
            "fc.weight",
            "fc.bias"
        ]
    );
}

#[test]
fn reference_preset_step_equals_the_authors_summed_losses() {
    // The authors summed 8 batch-mean losses (no division) and stepped with head lr 5e-4 / wd 1e-3
    // and backbone lr 2.5e-6 / wd 1e-4. The `reference` preset averages the 8 micro-batches, so it
    // uses lr × 8 and wd ÷ 8: 8·lr · (Σg/8 + wd/8 · p) = lr · (Σg + wd · p), momentum alike.
    let preset = stsm_engine::train::TrainConfig::reference();
    assert_eq!(preset.accumulate, 8);
    let groups = |net: &TinyNet, lrs: [f64; 2], wds: [f64; 2]| {
        let params = net.parameters();
        let (head, backbone): (Vec<_>, Vec<_>) = params.into_iter().partition(|p| p.name().starts_with("fc."));
        vec![
            ParamGroup {
                name: "head".into(),
                params: head,
                lr: lrs[0],
                weight_decay: wds[0],
            },
            ParamGroup {
                name: "backbone".into(),
                params: backbone,
                lr: lrs[1],
                weight_decay: wds[1],
            },
        ]
    };
    let (authors, ours) = (tiny_net(9), tiny_net(9));
    let mut sgd_authors = Sgd::new(groups(&authors, [5e-4, 2.5e-6], [1e-3, 1e-4]), 0.9, 0.0, false).unwrap();
    let mut sgd_ours = Sgd::new(
        groups(
            &ours,
            [preset.lr_head, preset.lr_backbone],
            [preset.wd_head, preset.wd_backbone],
        ),
        0.9,
        0.0,
        false,
    )
    .unwrap();
    for round in 0..3 {
        for micro in 0..8 {
            let (x, y) = batch(4, round * 32 + micro * 4);
            for net in [&authors, &ours] {
                let tape = Tape::new();
                net.forward(&tape.constant(x.clone()), false, 0)
                    .unwrap()
                    .cross_entropy(&y)
                    .unwrap()
                    .backward()
                    .unwrap();
            }
        }
        sgd_authors.step(1).unwrap(); // the summed gradient, as is
        sgd_ours.step(preset.accumulate).unwrap(); // averaged over the 8 micro-batches
    }
    for (a, b) in authors.parameters().iter().zip(ours.parameters()) {
        let (va, vb) = (a.value().to_vec::<f64>().unwrap(), b.value().to_vec::<f64>().unwrap());
        let worst = va
            .iter()
            .zip(&vb)
            .map(|(x, y)| (x - y).abs() / (1.0 + x.abs()))
            .fold(0.0, f64::max);
        assert!(worst < 1e-13, "{}: differs by {worst}", a.name());
    }
    // And the step is not trivially zero: the parameters moved.
    let moved = tiny_net(9).parameters()[0].value().to_vec::<f64>().unwrap();
    assert_ne!(moved, ours.parameters()[0].value().to_vec::<f64>().unwrap());
}

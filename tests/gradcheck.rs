//! Gradient checks: every op's backward rule against central finite differences in f64, on
//! small odd non-cubic shapes; a tiny 3D CNN end to end with all weights as `Param`s; and the
//! autograd tape's bookkeeping (accumulation, no-grad tapes, misuse errors).
//!
//! Method: L = Σ r·y for a seeded random r; analytic ∂L/∂x from `backward_with(r)`, numeric
//! from (L(x+ε) − L(x−ε)) / 2ε with ε = 1e-6, every element of every input compared with
//! |a − n| ≤ 1e-7 + 1e-6·max(|a|, |n|). Inputs are random permutations of values spaced
//! ≥ 1e-3 apart (none near 0), so no max tie or relu kink is within reach of ε.

mod common;

use common::*;
use stsm_engine::ops::{Conv3dOptions, Pool3dOptions};
use stsm_engine::{DType, Param, Tape, Tensor, Var};

/// The odd, non-cubic input shape (N, C, T, H, W).
const X: [usize; 5] = [2, 3, 5, 7, 6];

// ---------------------------------------------------------------- the checker itself

/// y = x² recorded with a caller-supplied backward rule (a stand-in for a buggy op).
fn square_with_rule(x: &Var, rule: fn(&[f64], &[f64]) -> Vec<f64>) -> stsm_engine::Result<Var> {
    let xs = vals(x.value());
    let y = Tensor::from_vec(x.dims(), xs.iter().map(|v| v * v).collect::<Vec<f64>>())?;
    let dims = x.dims().to_vec();
    Ok(x.tape().record("square", y, &[x], move |gy, _| {
        Ok(vec![Some(Tensor::from_vec(&dims, rule(&vals(gy), &xs))?)])
    }))
}

#[test]
fn checker_accepts_a_correct_rule() {
    gradcheck("square, correct", &[distinct(&[3, 5], 500)], |v| {
        square_with_rule(&v[0], |g, x| g.iter().zip(x).map(|(g, x)| 2.0 * x * g).collect())
    });
}

#[test]
#[should_panic(expected = "the tolerance")]
fn checker_rejects_a_rule_missing_a_factor() {
    gradcheck("square, missing factor 2", &[distinct(&[3, 5], 501)], |v| {
        square_with_rule(&v[0], |g, x| g.iter().zip(x).map(|(g, x)| x * g).collect())
    });
}

#[test]
#[should_panic(expected = "element 7 of 15")]
fn checker_rejects_one_element_off_by_1e_5() {
    gradcheck("square, one element off", &[distinct(&[3, 5], 502)], |v| {
        square_with_rule(&v[0], |g, x| {
            let mut d: Vec<f64> = g.iter().zip(x).map(|(g, x)| 2.0 * x * g).collect();
            d[7] += 1e-5;
            d
        })
    });
}

#[test]
#[should_panic(expected = "all zero")]
fn checker_rejects_an_objective_that_ignores_the_input() {
    gradcheck("zero", &[distinct(&[3, 5], 503)], |v| v[0].scale(0.0));
}

// ---------------------------------------------------------------- conv3d

#[test]
fn conv3d_with_bias_stride_and_padding() {
    // T: (5 + 2 - 3)/2 + 1 = 3; H: (7 - 2)/1 + 1 = 6; W: (6 + 4 - 3)/3 + 1 = 3.
    let opts = Conv3dOptions {
        stride: [2, 1, 3],
        padding: [1, 0, 2],
    };
    let inputs = [distinct(&X, 1), distinct(&[4, 3, 3, 2, 3], 2), distinct(&[4], 3)];
    gradcheck("conv3d+bias", &inputs, |v| v[0].conv3d(&v[1], Some(&v[2]), &opts));
}

#[test]
fn conv3d_without_bias() {
    let opts = Conv3dOptions {
        stride: [1, 2, 2],
        padding: [2, 1, 0],
    };
    let inputs = [distinct(&X, 4), distinct(&[2, 3, 2, 3, 4], 5)];
    gradcheck("conv3d no bias", &inputs, |v| v[0].conv3d(&v[1], None, &opts));
}

#[test]
fn conv3d_stride_larger_than_kernel() {
    // Stride 3 with kernel 2 skips input elements: their gradient must be exactly zero.
    let opts = Conv3dOptions {
        stride: [2, 3, 3],
        padding: [0, 1, 0],
    };
    let inputs = [distinct(&X, 6), distinct(&[3, 3, 1, 2, 2], 7), distinct(&[3], 8)];
    gradcheck("conv3d stride > kernel", &inputs, |v| {
        v[0].conv3d(&v[1], Some(&v[2]), &opts)
    });
}

#[test]
fn conv3d_gradient_of_input_only_and_weight_only() {
    // Only some inputs need a gradient: the rule must skip the others and still be right.
    let opts = Conv3dOptions {
        stride: [1, 1, 2],
        padding: [1, 1, 1],
    };
    let (x, w, b) = (distinct(&X, 9), distinct(&[2, 3, 3, 3, 2], 10), distinct(&[2], 11));
    let (w2, b2) = (w.clone(), b.clone());
    gradcheck("conv3d, x only", std::slice::from_ref(&x), move |v| {
        let t = v[0].tape();
        v[0].conv3d(&t.constant(w2.clone()), Some(&t.constant(b2.clone())), &opts)
    });
    let (x2, w2) = (x.clone(), w.clone());
    gradcheck("conv3d, w only", &[w], move |v| {
        let t = v[0].tape();
        t.constant(x.clone()).conv3d(&v[0], Some(&t.constant(b.clone())), &opts)
    });
    gradcheck("conv3d, bias only", &[distinct(&[2], 12)], move |v| {
        let t = v[0].tape();
        t.constant(x2.clone())
            .conv3d(&t.constant(w2.clone()), Some(&v[0]), &opts)
    });
}

// ---------------------------------------------------------------- pooling

fn pool_configs() -> Vec<(&'static str, Pool3dOptions)> {
    vec![
        (
            "overlapping k3 s2 p1",
            Pool3dOptions {
                kernel: [3, 3, 3],
                stride: [2, 2, 2],
                padding: [1, 1, 1],
                ceil_mode: false,
            },
        ),
        (
            "mixed k(2,3,2) s(1,2,3) p(1,1,0) ceil",
            Pool3dOptions {
                kernel: [2, 3, 2],
                stride: [1, 2, 3],
                padding: [1, 1, 0],
                ceil_mode: true,
            },
        ),
        (
            "k(3,2,2) s2 ceil partial windows",
            Pool3dOptions {
                kernel: [3, 2, 2],
                stride: [2, 2, 2],
                padding: [0, 0, 0],
                ceil_mode: true,
            },
        ),
        (
            "k3 s2 p1 ceil overhang",
            Pool3dOptions {
                kernel: [3, 3, 3],
                stride: [2, 2, 2],
                padding: [1, 1, 1],
                ceil_mode: true,
            },
        ),
        (
            "gaps k(1,2,2) s(1,3,3)",
            Pool3dOptions {
                kernel: [1, 2, 2],
                stride: [1, 3, 3],
                padding: [0, 1, 0],
                ceil_mode: false,
            },
        ),
    ]
}

#[test]
fn max_pool3d_all_configurations() {
    for (i, (name, opts)) in pool_configs().into_iter().enumerate() {
        let x = distinct(&X, 20 + i as u64);
        gradcheck(&format!("max_pool3d {name}"), &[x], |v| v[0].max_pool3d(&opts));
    }
}

#[test]
fn avg_pool3d_all_configurations_both_count_include_pad() {
    for (i, (name, opts)) in pool_configs().into_iter().enumerate() {
        for cip in [true, false] {
            let x = distinct(&X, 30 + i as u64);
            gradcheck(&format!("avg_pool3d {name} cip={cip}"), &[x], |v| {
                v[0].avg_pool3d(&opts, cip)
            });
        }
    }
}

// ---------------------------------------------------------------- dense and elementwise

#[test]
fn linear_with_and_without_bias() {
    let inputs = [distinct(&[3, 7], 40), distinct(&[5, 7], 41), distinct(&[5], 42)];
    gradcheck("linear+bias", &inputs, |v| v[0].linear(&v[1], Some(&v[2])));
    gradcheck("linear no bias", &inputs[..2], |v| v[0].linear(&v[1], None));
    // Only the weight, only the bias.
    let (x, b) = (inputs[0].clone(), inputs[2].clone());
    gradcheck("linear, w only", &inputs[1..2], |v| {
        let t = v[0].tape();
        t.constant(x.clone()).linear(&v[0], Some(&t.constant(b.clone())))
    });
    let w = inputs[1].clone();
    gradcheck("linear, bias only", &inputs[2..], |v| {
        let t = v[0].tape();
        t.constant(x.clone()).linear(&t.constant(w.clone()), Some(&v[0]))
    });
}

#[test]
fn relu() {
    gradcheck("relu", &[distinct(&X, 50)], |v| v[0].relu());
}

#[test]
fn dropout_fixed_seed_is_deterministic_and_differentiable() {
    for (p, seed) in [(0.3, 7u64), (0.5, 123), (0.0, 1)] {
        gradcheck(&format!("dropout p={p}"), &[distinct(&X, 51)], |v| {
            v[0].dropout(p, seed, true)
        });
    }
    // Evaluation mode is the identity, gradient included.
    gradcheck("dropout eval", &[distinct(&X, 52)], |v| v[0].dropout(0.5, 3, false));
}

#[test]
fn add_and_scale() {
    let inputs = [distinct(&X, 53), distinct(&X, 54)];
    gradcheck("add", &inputs, |v| v[0].add(&v[1]));
    gradcheck("scale", &inputs[..1], |v| v[0].scale(-2.75));
    gradcheck("add of scaled", &inputs, |v| v[0].scale(0.5)?.add(&v[1].scale(3.0)?));
}

// ---------------------------------------------------------------- layout

#[test]
fn reshape_and_flatten() {
    gradcheck("reshape", &[distinct(&X, 60)], |v| v[0].reshape(&[6, 35, 6]));
    gradcheck("flatten(1,4)", &[distinct(&X, 61)], |v| v[0].flatten(1, 4));
    gradcheck("flatten(2,3)", &[distinct(&X, 62)], |v| v[0].flatten(2, 3));
}

#[test]
fn permute() {
    for (i, perm) in [[0, 2, 1, 3, 4], [4, 0, 3, 1, 2], [1, 2, 3, 4, 0]].iter().enumerate() {
        gradcheck(&format!("permute {perm:?}"), &[distinct(&X, 63 + i as u64)], |v| {
            v[0].permute(perm)
        });
    }
    // VGG-3D's per-frame flatten: (N, C, T, H, W) -> (N, T, C, H, W) -> (N·T, C·H·W).
    gradcheck("permute then flatten", &[distinct(&X, 66)], |v| {
        v[0].permute(&[0, 2, 1, 3, 4])?.flatten(2, 4)?.flatten(0, 1)
    });
}

// ---------------------------------------------------------------- temporal

#[test]
fn sliding_max_several_windows() {
    for k in [1, 2, 4, 11] {
        gradcheck(
            &format!("sliding_max k={k}"),
            &[distinct(&[2, 3, 11], 70 + k as u64)],
            |v| v[0].sliding_max(k),
        );
    }
}

#[test]
fn temporal_max() {
    gradcheck("temporal_max", &[distinct(&[2, 3, 9], 80)], |v| v[0].temporal_max());
}

#[test]
fn temporal_softmax_pool_gammas() {
    for gamma in [0.0, 0.5, 1.0, 10.0] {
        gradcheck(
            &format!("temporal_softmax_pool γ={gamma}"),
            &[distinct(&[2, 3, 8], 90)],
            |v| v[0].temporal_softmax_pool(gamma),
        );
    }
    // Scores of a wider spread (as real class scores are) with a large γ.
    gradcheck(
        "temporal_softmax_pool wide scores",
        &[distinct_scaled(&[2, 3, 7], 91, 4.0)],
        |v| v[0].temporal_softmax_pool(2.0),
    );
}

// ---------------------------------------------------------------- losses

#[test]
fn log_softmax() {
    gradcheck("log_softmax", &[distinct_scaled(&[4, 5], 100, 3.0)], |v| {
        v[0].log_softmax()
    });
}

#[test]
fn cross_entropy() {
    gradcheck("cross_entropy", &[distinct_scaled(&[4, 5], 101, 3.0)], |v| {
        v[0].cross_entropy(&[0, 4, 2, 4])
    });
    // Single sample, single class: the gradient of a constant loss is zero — only the shape
    // and the absence of NaN are checked here.
    let tape = Tape::new();
    let x = tape.leaf(t64(&[1, 1], &[2.5]));
    let grads = x.cross_entropy(&[0]).unwrap().backward().unwrap();
    assert_eq!(vals(grads.get(&x).unwrap()), vec![0.0]);
}

// ---------------------------------------------------------------- a tiny 3D CNN end to end

struct TinyCnn {
    params: Vec<Param>,
    final_max: bool,
    dropout: bool,
}

impl TinyCnn {
    /// conv(2→3, k3, pad 1, stride (1,2,1)) → relu → max_pool(k2, s(2,1,2), ceil) →
    /// conv(3→4, k2) → [dropout] → avg_pool(k2, s2, p1) or max_pool(k2, s1) → flatten →
    /// linear → cross-entropy.
    fn new(final_max: bool, dropout: bool, seed: u64) -> TinyCnn {
        let flat = if final_max { 4 } else { 4 * 8 };
        let shapes: [(&str, Vec<usize>, f64); 6] = [
            ("conv1.w", vec![3, 2, 3, 3, 3], 0.5),
            ("conv1.b", vec![3], 0.2),
            ("conv2.w", vec![4, 3, 2, 2, 2], 0.5),
            ("conv2.b", vec![4], 0.2),
            ("fc.w", vec![5, flat], 1.0),
            ("fc.b", vec![5], 0.2),
        ];
        let params = shapes
            .into_iter()
            .enumerate()
            .map(|(i, (name, dims, scale))| Param::new(name, distinct_scaled(&dims, seed + i as u64, scale)))
            .collect();
        TinyCnn {
            params,
            final_max,
            dropout,
        }
    }

    fn loss(&self, x: &Var, p: &[Var], labels: &[usize]) -> stsm_engine::Result<Var> {
        let conv1 = Conv3dOptions {
            stride: [1, 2, 1],
            padding: [1, 1, 1],
        };
        let pool1 = Pool3dOptions {
            kernel: [2, 2, 2],
            stride: [2, 1, 2],
            padding: [0, 0, 0],
            ceil_mode: true,
        };
        // (2, 2, 5, 7, 6) -> conv1 (2, 3, 5, 4, 6) -> pool1 (2, 3, 3, 3, 3) -> conv2 (2, 4, 2, 2, 2).
        let mut h = x
            .conv3d(&p[0], Some(&p[1]), &conv1)?
            .relu()?
            .max_pool3d(&pool1)?
            .conv3d(&p[2], Some(&p[3]), &Conv3dOptions::default())?;
        if self.dropout {
            h = h.dropout(0.25, 99, true)?;
        }
        h = if self.final_max {
            h.max_pool3d(&Pool3dOptions::new([2, 2, 2]))? // -> (2, 4, 1, 1, 1)
        } else {
            let opts = Pool3dOptions {
                kernel: [2, 2, 2],
                stride: [2, 2, 2],
                padding: [1, 1, 1],
                ceil_mode: false,
            };
            h.avg_pool3d(&opts, false)? // -> (2, 4, 2, 2, 2)
        };
        assert_eq!(h.dims()[..2], [2, 4]);
        h.flatten(1, 4)?.linear(&p[4], Some(&p[5]))?.cross_entropy(labels)
    }

    fn check(&self, what: &str) {
        let labels = [3, 1];
        let x = distinct(&[2, 2, 5, 7, 6], 200);

        let tape = Tape::new();
        let xv = tape.leaf(x.clone());
        let pv: Vec<Var> = self.params.iter().map(|p| tape.param(p)).collect();
        let loss = self.loss(&xv, &pv, &labels).unwrap();
        assert_eq!(loss.dims(), &[] as &[usize]);
        let grads = loss.backward().unwrap();

        let mut inputs = vec![x];
        inputs.extend(self.params.iter().map(Param::value));
        let objective = |ts: &[Tensor]| {
            let tape = Tape::no_grad();
            let v: Vec<Var> = ts.iter().map(|t| tape.constant(t.clone())).collect();
            self.loss(&v[0], &v[1..], &labels).unwrap().value().item().unwrap()
        };
        assert_eq!(
            objective(&inputs),
            loss.value().item().unwrap(),
            "{what}: no-grad forward differs"
        );

        let gx = grads.get(&xv).expect("input gradient");
        assert_grad_close(
            &format!("{what}: input"),
            &vals(gx),
            &numeric_gradient(&inputs, 0, &objective),
        );
        for (i, (p, v)) in self.params.iter().zip(&pv).enumerate() {
            let g = p
                .grad()
                .unwrap_or_else(|| panic!("{what}: {} got no gradient", p.name()));
            assert_eq!(g.dims(), p.value().dims());
            assert_eq!(
                vals(&g),
                vals(grads.get(v).unwrap()),
                "{what}: Param::grad vs Gradients::get"
            );
            let numeric = numeric_gradient(&inputs, i + 1, &objective);
            assert_grad_close(&format!("{what}: {}", p.name()), &vals(&g), &numeric);
        }
    }
}

#[test]
fn tiny_cnn_avg_pool_head_end_to_end() {
    TinyCnn::new(false, false, 300).check("tiny cnn (avg head)");
}

#[test]
fn tiny_cnn_max_pool_head_with_dropout_end_to_end() {
    TinyCnn::new(true, true, 310).check("tiny cnn (max head, dropout)");
}

#[test]
fn tiny_cnn_in_f32_agrees_with_f64() {
    // The working dtype runs the same rules: loss and every gradient within f32 precision,
    // and dropout draws the same mask in both dtypes.
    let net = TinyCnn::new(false, true, 320);
    let x = distinct(&[2, 2, 5, 7, 6], 321);
    let run = |dtype| {
        let tape = Tape::new();
        let xv = tape.constant(x.to_dtype(dtype).unwrap());
        let pv: Vec<Var> = net
            .params
            .iter()
            .map(|p| tape.leaf(p.value().to_dtype(dtype).unwrap()))
            .collect();
        let loss = net.loss(&xv, &pv, &[3, 1]).unwrap();
        assert_eq!(loss.value().dtype(), dtype);
        let grads = loss.backward().unwrap();
        let g: Vec<Vec<f64>> = pv.iter().map(|v| vals(grads.get(v).unwrap())).collect();
        (loss.value().item().unwrap(), g)
    };
    let (l64, g64) = run(DType::F64);
    let (l32, g32) = run(DType::F32);
    assert!(
        (l64 - l32).abs() < 1e-5 * (1.0 + l64.abs()),
        "loss f64 {l64} vs f32 {l32}"
    );
    for (i, (a, b)) in g32.iter().zip(&g64).enumerate() {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 1e-3, "{}: zero gradient", net.params[i].name());
        assert_all_close(net.params[i].name(), a, b, 1e-4 * scale);
    }
}

// ---------------------------------------------------------------- accumulation

#[test]
fn var_used_twice_accumulates() {
    // y = x + x: ∂L/∂x = 2r exactly.
    let x = distinct(&[3, 4], 400);
    let r = uniform(&[3, 4], 401);
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let grads = xv.add(&xv).unwrap().backward_with(r.clone()).unwrap();
    let expected: Vec<f64> = vals(&r).iter().map(|v| 2.0 * v).collect();
    assert_eq!(vals(grads.get(&xv).unwrap()), expected);

    // Two different paths from one value: relu(x) + 3x, and a diamond through two convs.
    gradcheck("relu(x) + 3x", &[distinct(&X, 402)], |v| {
        v[0].relu()?.add(&v[0].scale(3.0)?)
    });
    let opts = Conv3dOptions {
        stride: [1, 1, 1],
        padding: [1, 1, 1],
    };
    let inputs = [
        distinct(&X, 403),
        distinct(&[3, 3, 3, 3, 3], 404),
        distinct(&[3, 3, 1, 1, 1], 405),
    ];
    gradcheck("diamond", &inputs, |v| {
        let h = v[0].conv3d(&v[1], None, &opts)?;
        h.relu()?.add(&h.conv3d(&v[2], None, &Conv3dOptions::default())?)
    });
}

#[test]
fn shared_weight_param_in_two_convs_gets_the_sum() {
    let opts = Conv3dOptions {
        stride: [2, 1, 1],
        padding: [1, 0, 1],
    };
    let (x1, x2) = (distinct(&X, 410), distinct(&X, 411));
    let w = Param::new("shared", distinct(&[4, 3, 2, 3, 2], 412));
    let y_dims = stsm_engine::ops::conv3d::conv3d(&x1, &w.value(), None, &opts)
        .unwrap()
        .dims()
        .to_vec();
    let r = uniform(&y_dims, 413);

    // Each conv alone.
    let single = |x: &Tensor| {
        let tape = Tape::new();
        let wv = tape.leaf(w.value());
        let y = tape.constant(x.clone()).conv3d(&wv, None, &opts).unwrap();
        vals(y.backward_with(r.clone()).unwrap().get(&wv).unwrap())
    };
    let expected: Vec<f64> = single(&x1).iter().zip(single(&x2)).map(|(a, b)| a + b).collect();

    // Both, with the Param entered on the tape twice (two leaves feeding one Param)...
    let tape = Tape::new();
    let y = tape
        .constant(x1.clone())
        .conv3d(&tape.param(&w), None, &opts)
        .unwrap()
        .add(&tape.constant(x2.clone()).conv3d(&tape.param(&w), None, &opts).unwrap())
        .unwrap();
    y.backward_with(r.clone()).unwrap();
    assert_all_close("param entered twice", &vals(&w.grad().unwrap()), &expected, 1e-12);

    // ...and entered once, its Var used by both convs.
    w.zero_grad();
    assert!(w.grad().is_none());
    let tape = Tape::new();
    let wv = tape.param(&w);
    let y = tape
        .constant(x1.clone())
        .conv3d(&wv, None, &opts)
        .unwrap()
        .add(&tape.constant(x2.clone()).conv3d(&wv, None, &opts).unwrap())
        .unwrap();
    let grads = y.backward_with(r.clone()).unwrap();
    assert_all_close("var used twice", &vals(&w.grad().unwrap()), &expected, 1e-12);
    assert_all_close("Gradients::get", &vals(grads.get(&wv).unwrap()), &expected, 1e-12);

    // And against finite differences of the summed objective.
    gradcheck("shared weight", &[x1, x2, w.value()], |v| {
        v[0].conv3d(&v[2], None, &opts)?.add(&v[1].conv3d(&v[2], None, &opts)?)
    });
}

#[test]
fn param_grad_accumulates_across_backward_calls_until_zero_grad() {
    let p = Param::new("w", distinct(&[5, 4], 420));
    let x = distinct(&[3, 4], 421);
    let step = || {
        let tape = Tape::new();
        let loss = tape
            .constant(x.clone())
            .linear(&tape.param(&p), None)
            .unwrap()
            .cross_entropy(&[0, 1, 4])
            .unwrap();
        loss.backward().unwrap();
    };
    step();
    let once = vals(&p.grad().unwrap());
    assert!(once.iter().any(|v| v.abs() > 1e-3));
    step();
    let twice: Vec<f64> = once.iter().map(|v| 2.0 * v).collect();
    assert_all_close("two backward calls", &vals(&p.grad().unwrap()), &twice, 1e-12);
    p.zero_grad();
    assert!(p.grad().is_none());
    step();
    assert_all_close("after zero_grad", &vals(&p.grad().unwrap()), &once, 0.0);
}

#[test]
fn gradient_of_an_unused_leaf_is_absent_and_constants_get_none() {
    let tape = Tape::new();
    let a = tape.leaf(distinct(&[2, 3], 430));
    let unused = tape.leaf(distinct(&[2, 3], 431));
    let c = tape.constant(distinct(&[2, 3], 432));
    let grads = a.add(&c).unwrap().backward_with(uniform(&[2, 3], 433)).unwrap();
    assert!(grads.get(&a).is_some());
    assert!(grads.get(&unused).is_none());
    assert!(grads.get(&c).is_none());
}

// ---------------------------------------------------------------- tape misuse

#[test]
fn no_grad_tape_computes_but_cannot_backward() {
    let opts = Conv3dOptions {
        stride: [1, 2, 1],
        padding: [1, 1, 0],
    };
    let (x, w) = (distinct(&X, 440), distinct(&[2, 3, 3, 3, 3], 441));
    let run = |tape: &Tape| {
        let y = tape
            .leaf(x.clone())
            .conv3d(&tape.leaf(w.clone()), None, &opts)
            .unwrap()
            .relu()
            .unwrap()
            .max_pool3d(&Pool3dOptions::new([1, 2, 2]))
            .unwrap();
        (y.value().clone(), y)
    };
    let (with_grad, _) = run(&Tape::new());
    let tape = Tape::no_grad();
    assert!(!tape.is_recording());
    let (without, y) = run(&tape);
    assert_eq!(vals(&with_grad), vals(&without));
    assert!(vals(&without).iter().any(|&v| v > 0.0));
    assert!(!y.requires_grad());
    assert!(!tape.leaf(x.clone()).requires_grad());

    let err = err_msg(y.backward_with(uniform(y.dims(), 442)));
    assert!(err.starts_with("autograd:"), "{err}");
    let scalar = y.flatten(0, 4).unwrap().reshape(&[1, y.value().numel()]).unwrap();
    let loss = scalar.cross_entropy(&[0]).unwrap();
    assert!(loss.backward().is_err());
    assert!(loss.value().item().unwrap().is_finite());
}

#[test]
fn backward_twice_on_one_tape_is_an_error() {
    let tape = Tape::new();
    let x = tape.leaf(distinct(&[2, 4], 450));
    let loss = x.cross_entropy(&[1, 3]).unwrap();
    assert!(loss.backward().is_ok());
    let err = err_msg(loss.backward());
    assert!(err.contains("already ran"), "{err}");
    // Also from another output of the same (consumed) tape.
    let other = x.scale(2.0).unwrap();
    assert!(other.backward_with(uniform(&[2, 4], 451)).is_err());
}

#[test]
fn backward_from_a_non_scalar_is_an_error() {
    let tape = Tape::new();
    let x = tape.leaf(distinct(&[2, 3], 460));
    let y = x.relu().unwrap();
    let err = err_msg(y.backward());
    assert!(err.contains("one-element") && err.contains("(2, 3)"), "{err}");
    // The failed call did not consume the tape: backward_with still works.
    assert!(y.backward_with(uniform(&[2, 3], 461)).is_ok());
}

#[test]
fn backward_with_a_wrong_shaped_gradient_is_an_error() {
    let tape = Tape::new();
    let y = tape.leaf(distinct(&[2, 3], 470)).relu().unwrap();
    let err = err_msg(y.backward_with(uniform(&[3, 2], 471)));
    assert!(err.contains("(3, 2)") && err.contains("(2, 3)"), "{err}");
}

#[test]
fn mixing_tapes_is_an_error() {
    let (a, b) = (Tape::new(), Tape::new());
    let x = a.leaf(distinct(&[2, 3], 480));
    let y = b.leaf(distinct(&[2, 3], 481));
    let err = err_msg(x.add(&y));
    assert!(err.contains("different tapes"), "{err}");
}

#[test]
fn backward_with_a_gradient_of_another_dtype_is_an_error() {
    // An f32 upstream gradient for an f64 output must be rejected up front (as a wrong shape
    // is), not turned into an f32 gradient for an f64 leaf.
    let tape = Tape::new();
    let x = tape.leaf(distinct(&[2, 3], 490));
    let y = x.scale(2.0).unwrap();
    let r = Tensor::full(&[2, 3], 1.0f32).unwrap();
    match y.backward_with(r) {
        Err(e) => assert!(e.to_string().contains("F32"), "{e}"),
        Ok(grads) => panic!(
            "accepted an F32 gradient for an F64 output; the leaf's gradient came back as {:?}",
            grads.get(&x).unwrap().dtype()
        ),
    }
}

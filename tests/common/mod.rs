//! Shared helpers of the integration tests: a tiny seeded generator (no rand dependency in
//! tests), inputs with well-separated distinct values, and a central-difference gradient
//! checker in f64.
#![allow(dead_code)]

/// CUDA backend cases shared by the emulator and GPU suites.
pub mod kernel_cases;
/// Inputs of the reliability tests (frame folders, the binary with a time limit).
pub mod reliability;
pub mod tiny;
/// Small training runs of the synthetic benchmark.
pub mod train_run;

use stsm_engine::{Tape, Tensor, Var};

/// splitmix64: small, seeded, good enough to draw test data.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Minimum spacing between the values `distinct` draws: far larger than the finite-difference
/// step, so no max/relu kink (tie, zero crossing) lies within reach of a perturbation.
pub const SPACING: f64 = 1e-3;

/// A tensor whose elements are a random permutation of distinct values spread over about
/// [-scale, scale]: pairwise at least `SPACING · scale` apart and none closer than half
/// that to zero.
pub fn distinct_scaled(dims: &[usize], seed: u64, scale: f64) -> Tensor {
    let n: usize = dims.iter().product();
    let step = (2.0 / n as f64).max(SPACING);
    let mut ranks: Vec<usize> = (0..n).collect();
    SplitMix64::new(seed).shuffle(&mut ranks);
    let data = ranks
        .iter()
        .map(|&k| (k as f64 + 0.5 - n as f64 / 2.0) * step * scale)
        .collect();
    Tensor::from_vec(dims, data).unwrap()
}

pub fn distinct(dims: &[usize], seed: u64) -> Tensor {
    distinct_scaled(dims, seed, 1.0)
}

/// Uniform values in [-1, 1) (used for the upstream gradient r).
pub fn uniform(dims: &[usize], seed: u64) -> Tensor {
    let n: usize = dims.iter().product();
    let mut rng = SplitMix64::new(seed);
    Tensor::from_vec(dims, (0..n).map(|_| rng.range(-1.0, 1.0)).collect::<Vec<f64>>()).unwrap()
}

/// An f64 tensor from literals.
pub fn t64(dims: &[usize], data: &[f64]) -> Tensor {
    Tensor::from_vec(dims, data.to_vec()).unwrap()
}

pub fn vals(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec().unwrap()
}

/// Asserts `actual` equals `expected` elementwise within `tol` (absolute), naming `what`.
pub fn assert_all_close(what: &str, actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: length differs");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol && a.is_finite() == e.is_finite(),
            "{what}: element {i}: got {a}, expected {e} (tol {tol})\n  actual:   {actual:?}\n  expected: {expected:?}"
        );
    }
}

/// Finite-difference step and tolerance: |analytic − numeric| ≤ ATOL + RTOL · max(|a|, |n|).
pub const EPS: f64 = 1e-6;
pub const RTOL: f64 = 1e-6;
pub const ATOL: f64 = 1e-7;

/// Central differences of `objective` with respect to every element of `inputs[which]`.
pub fn numeric_gradient(inputs: &[Tensor], which: usize, objective: &dyn Fn(&[Tensor]) -> f64) -> Vec<f64> {
    let base = vals(&inputs[which]);
    let dims = inputs[which].dims().to_vec();
    let mut moved = inputs.to_vec();
    let mut at = |j: usize, delta: f64| {
        let mut data = base.clone();
        data[j] += delta;
        moved[which] = Tensor::from_vec(&dims, data).unwrap();
        objective(&moved)
    };
    (0..base.len())
        .map(|j| (at(j, EPS) - at(j, -EPS)) / (2.0 * EPS))
        .collect()
}

/// Compares an analytic gradient with a numeric one on every element; also requires the
/// gradient to be non-trivial (some element clearly non-zero), so a rule returning zeros
/// cannot pass against an objective that ignores the input.
pub fn assert_grad_close(what: &str, analytic: &[f64], numeric: &[f64]) {
    assert_eq!(analytic.len(), numeric.len(), "{what}: gradient length");
    let mut worst = (0.0f64, 0usize);
    for (j, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        let excess = (a - n).abs() / (ATOL + RTOL * a.abs().max(n.abs()));
        assert!(excess.is_finite(), "{what}: element {j}: analytic {a}, numeric {n}");
        if excess > worst.0 {
            worst = (excess, j);
        }
    }
    let (excess, j) = worst;
    assert!(
        excess <= 1.0,
        "{what}: element {j} of {}: analytic {} vs numeric {} (error {:.3e}, {excess:.2}x the tolerance)",
        analytic.len(),
        analytic[j],
        numeric[j],
        (analytic[j] - numeric[j]).abs(),
    );
    let largest = numeric.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        largest > 1e-3,
        "{what}: the numeric gradient is all zero; the check proves nothing"
    );
}

/// Σ r·y.
pub fn dot(r: &Tensor, y: &Tensor) -> f64 {
    vals(r).iter().zip(vals(y)).map(|(a, b)| a * b).sum()
}

/// Gradient check of `f` at `inputs` for every input: the objective is L = Σ r·f(inputs)
/// with a seeded random r; the analytic gradient comes from `backward_with(r)`, the numeric
/// one from central differences evaluated on a no-grad tape.
pub fn gradcheck(what: &str, inputs: &[Tensor], f: impl Fn(&[Var]) -> stsm_engine::Result<Var>) {
    gradcheck_inputs(what, inputs, &(0..inputs.len()).collect::<Vec<_>>(), f)
}

/// As `gradcheck`, checking only the inputs listed in `checked` (the others are still leaves).
pub fn gradcheck_inputs(
    what: &str,
    inputs: &[Tensor],
    checked: &[usize],
    f: impl Fn(&[Var]) -> stsm_engine::Result<Var>,
) {
    let tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().map(|t| tape.leaf(t.clone())).collect();
    let y = f(&vars).unwrap_or_else(|e| panic!("{what}: forward failed: {e}"));
    let seed = what
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    let r = uniform(y.dims(), seed);
    let grads = y.backward_with(r.clone()).unwrap();

    let objective = |ts: &[Tensor]| {
        let tape = Tape::no_grad();
        let vars: Vec<Var> = ts.iter().map(|t| tape.constant(t.clone())).collect();
        dot(&r, f(&vars).unwrap().value())
    };
    for &i in checked {
        let analytic = grads
            .get(&vars[i])
            .unwrap_or_else(|| panic!("{what}: no gradient for input {i}"));
        assert_eq!(analytic.dims(), inputs[i].dims(), "{what}: gradient shape of input {i}");
        let numeric = numeric_gradient(inputs, i, &objective);
        assert_grad_close(&format!("{what}, input {i}"), &vals(analytic), &numeric);
    }
}

/// The message of an expected error (`Var` and `Gradients` are not `Debug`, so no unwrap_err).
pub fn err_msg<T>(r: stsm_engine::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error, got Ok"),
        Err(e) => e.to_string(),
    }
}

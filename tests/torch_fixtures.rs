//! PyTorch parity without PyTorch: replays the cases in `tests/fixtures/torch/*.json`
//! (written by `scripts/torch_fixtures.py` from PyTorch's float64 conv3d / max_pool3d /
//! avg_pool3d and its autograd) through our ops and our tape, forward and backward.
//!
//! Every case runs twice: in f64 against the fixture at 1e-10 (abs + rel), and in f32 (inputs
//! rounded from the fixture) at 1e-4. A missing or empty fixture file is a failure, not a skip.
//! All mismatches of a file are gathered and reported together, each naming the case, the
//! quantity, the dtype and the worst element.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use stsm_engine::ops::conv3d::conv3d;
use stsm_engine::ops::pool3d::{avg_pool3d, max_pool3d};
use stsm_engine::ops::{Conv3dOptions, Pool3dOptions};
use stsm_engine::{DType, Tape, Tensor};

/// A tensor as the fixture stores it: shape and row-major float64 data.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Data {
    shape: Vec<usize>,
    data: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    kernel: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    #[serde(default)]
    ceil_mode: Option<bool>,
    #[serde(default)]
    count_include_pad: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile<C> {
    op: String,
    #[allow(dead_code)]
    generator: String,
    torch_version: String,
    #[allow(dead_code)]
    seed: u64,
    dtype: String,
    cases: Vec<C>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConvCase {
    name: String,
    input: Data,
    weight: Data,
    bias: Option<Data>,
    options: Options,
    output: Data,
    grad_output: Data,
    grad_input: Data,
    grad_weight: Data,
    grad_bias: Option<Data>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaxPoolCase {
    name: String,
    input: Data,
    options: Options,
    output: Data,
    /// PyTorch's `return_indices`: flat index within each (T, H, W) plane.
    indices: Vec<u32>,
    grad_output: Data,
    grad_input: Data,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AvgPoolCase {
    name: String,
    input: Data,
    options: Options,
    output: Data,
    grad_output: Data,
    grad_input: Data,
}

trait Named {
    fn name(&self) -> &str;
}

macro_rules! named {
    ($($t:ty),*) => {$(
        impl Named for $t {
            fn name(&self) -> &str {
                &self.name
            }
        }
    )*};
}
named!(ConvCase, MaxPoolCase, AvgPoolCase);

/// Reads and validates one fixture file; panics (fails the test) if it is missing or empty.
fn load<C: DeserializeOwned + Named>(file: &str, op: &str) -> Vec<C> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torch")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read fixture {}: {e}; regenerate it with scripts/make-torch-fixtures.sh",
            path.display()
        )
    });
    let parsed: FixtureFile<C> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {} does not parse: {e}", path.display()));
    assert_eq!(parsed.op, op, "fixture {} holds op {:?}", path.display(), parsed.op);
    assert_eq!(parsed.dtype, "float64", "fixture {} must be float64", path.display());
    assert!(!parsed.cases.is_empty(), "fixture {} has no cases", path.display());
    let mut names = HashSet::new();
    for c in &parsed.cases {
        assert!(
            names.insert(c.name().to_string()),
            "fixture {}: duplicate case name {}",
            path.display(),
            c.name()
        );
    }
    eprintln!(
        "{}: {} cases from PyTorch {}",
        path.display(),
        parsed.cases.len(),
        parsed.torch_version
    );
    parsed.cases
}

/// The two precisions every case runs in, with their tolerances (absolute and relative).
const PRECISIONS: [(DType, f64); 2] = [(DType::F64, 1e-10), (DType::F32, 1e-4)];

/// Ok: the worst scaled error |got - want| / (1 + |want|) of a check (0 for exact checks).
type Outcome = Result<f64, String>;

/// Builds a tensor of `dtype` from fixture data (checking the data fits the shape).
fn tensor(d: &Data, dtype: DType, case: &str, what: &str) -> Result<Tensor, String> {
    let t = Tensor::from_vec(&d.shape, d.data.clone()).map_err(|e| format!("{case}: fixture {what}: {e}"))?;
    t.to_dtype(dtype)
        .map_err(|e| format!("{case}: {what} to {dtype:?}: {e}"))
}

/// Row-major multi-index of flat position `i` in `dims`.
fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for (a, &d) in dims.iter().enumerate().rev() {
        idx[a] = i % d;
        i /= d;
    }
    idx
}

/// Compares `got` with the fixture `want` elementwise: |got - want| <= tol * (1 + |want|).
/// On failure the message names the case, the quantity, the dtype and the worst element.
fn compare(case: &str, what: &str, got: Option<&Tensor>, want: &Data, dtype: DType, tol: f64) -> Outcome {
    let ctx = format!("{case}: {what} ({dtype:?})");
    let got = got.ok_or_else(|| format!("{ctx}: no value (gradient missing?)"))?;
    if got.dims() != want.shape.as_slice() {
        return Err(format!("{ctx}: shape {:?}, PyTorch has {:?}", got.dims(), want.shape));
    }
    if got.dtype() != dtype {
        return Err(format!("{ctx}: came back as {:?}", got.dtype()));
    }
    let values = got.to_f64_vec().map_err(|e| format!("{ctx}: {e}"))?;
    let mut worst: Option<(usize, f64)> = None;
    let mut bad = 0usize;
    for (i, (&g, &w)) in values.iter().zip(&want.data).enumerate() {
        let score = (g - w).abs() / (tol * (1.0 + w.abs()));
        // A NaN score (NaN in our output) must count as a failure too.
        let failed = score.is_nan() || score > 1.0;
        bad += failed as usize;
        let worse = match worst {
            None => true,
            Some((_, s)) => score.is_nan() && !s.is_nan() || score > s,
        };
        if worse {
            worst = Some((i, score));
        }
    }
    if bad == 0 {
        return Ok(worst.map_or(0.0, |(_, s)| s * tol));
    }
    let (i, _) = worst.expect("a failing element exists");
    Err(format!(
        "{ctx}: {bad} of {} elements off; worst at {:?} (flat {i}): got {:e}, PyTorch {:e}, |diff| {:e} (tolerance {tol:e} * (1 + |PyTorch|))",
        values.len(),
        unravel(i, &want.shape),
        values[i],
        want.data[i],
        (values[i] - want.data[i]).abs(),
    ))
}

fn pool_options(case: &str, o: &Options) -> Result<Pool3dOptions, String> {
    Ok(Pool3dOptions {
        kernel: o.kernel,
        stride: o.stride,
        padding: o.padding,
        ceil_mode: o
            .ceil_mode
            .ok_or_else(|| format!("{case}: fixture options lack ceil_mode"))?,
    })
}

/// Runs one closure per case and precision, gathering every failure; panics with all of them.
fn run_all<C: Named>(op: &str, cases: &[C], run: impl Fn(&C, DType, f64) -> Vec<Outcome>) {
    let mut failures = Vec::new();
    let mut checks = 0;
    let mut worst = [0f64; PRECISIONS.len()];
    for case in cases {
        for (p, (dtype, tol)) in PRECISIONS.into_iter().enumerate() {
            for outcome in run(case, dtype, tol) {
                checks += 1;
                match outcome {
                    Ok(err) => worst[p] = worst[p].max(err),
                    Err(msg) => failures.push(msg),
                }
            }
        }
    }
    if !failures.is_empty() {
        let mut report = format!("{op}: {} of {checks} checks disagree with PyTorch:\n", failures.len());
        for f in &failures {
            writeln!(report, "  - {f}").unwrap();
        }
        panic!("{report}");
    }
    eprintln!(
        "{op}: {} cases, {checks} checks agree with PyTorch; worst |diff| / (1 + |PyTorch|): {:?} {:e}, {:?} {:e}",
        cases.len(),
        PRECISIONS[0].0,
        worst[0],
        PRECISIONS[1].0,
        worst[1]
    );
}

fn conv_case(c: &ConvCase, dtype: DType, tol: f64) -> Result<Vec<Outcome>, String> {
    let name = c.name.as_str();
    if c.bias.is_some() != c.grad_bias.is_some() {
        return Err(format!("{name}: fixture has bias without grad_bias or the reverse"));
    }
    let o = &c.options;
    if c.weight.shape.get(2..) != Some(o.kernel.as_slice()) {
        return Err(format!(
            "{name}: fixture kernel {:?} does not match weight {:?}",
            o.kernel, c.weight.shape
        ));
    }
    if o.ceil_mode.is_some() || o.count_include_pad.is_some() {
        return Err(format!("{name}: conv3d fixture carries pooling options"));
    }
    let opts = Conv3dOptions {
        stride: o.stride,
        padding: o.padding,
    };
    let x = tensor(&c.input, dtype, name, "input")?;
    let w = tensor(&c.weight, dtype, name, "weight")?;
    let b = c.bias.as_ref().map(|b| tensor(b, dtype, name, "bias")).transpose()?;
    let gy = tensor(&c.grad_output, dtype, name, "grad_output")?;
    let mut out = Vec::new();

    let y = conv3d(&x, &w, b.as_ref(), &opts).map_err(|e| format!("{name}: conv3d forward ({dtype:?}): {e}"))?;
    out.push(compare(name, "output", Some(&y), &c.output, dtype, tol));

    let tape = Tape::new();
    let (xv, wv) = (tape.leaf(x), tape.leaf(w));
    let bv = b.map(|b| tape.leaf(b));
    let yv = xv
        .conv3d(&wv, bv.as_ref(), &opts)
        .map_err(|e| format!("{name}: Var::conv3d ({dtype:?}): {e}"))?;
    out.push(compare(name, "taped output", Some(yv.value()), &c.output, dtype, tol));
    let grads = yv
        .backward_with(gy)
        .map_err(|e| format!("{name}: backward ({dtype:?}): {e}"))?;
    out.push(compare(name, "grad_input", grads.get(&xv), &c.grad_input, dtype, tol));
    out.push(compare(name, "grad_weight", grads.get(&wv), &c.grad_weight, dtype, tol));
    if let (Some(bv), Some(want)) = (&bv, &c.grad_bias) {
        out.push(compare(name, "grad_bias", grads.get(bv), want, dtype, tol));
    }
    Ok(out)
}

fn max_pool_case(c: &MaxPoolCase, dtype: DType, tol: f64) -> Result<Vec<Outcome>, String> {
    let name = c.name.as_str();
    if c.options.count_include_pad.is_some() {
        return Err(format!("{name}: max_pool3d fixture carries count_include_pad"));
    }
    let opts = pool_options(name, &c.options)?;
    let x = tensor(&c.input, dtype, name, "input")?;
    let gy = tensor(&c.grad_output, dtype, name, "grad_output")?;
    let mut out = Vec::new();

    let (y, argmax) = max_pool3d(&x, &opts).map_err(|e| format!("{name}: max_pool3d forward ({dtype:?}): {e}"))?;
    out.push(compare(name, "output", Some(&y), &c.output, dtype, tol));
    out.push(compare_indices(name, dtype, &argmax, &c.indices));

    let tape = Tape::new();
    let xv = tape.leaf(x);
    let yv = xv
        .max_pool3d(&opts)
        .map_err(|e| format!("{name}: Var::max_pool3d ({dtype:?}): {e}"))?;
    out.push(compare(name, "taped output", Some(yv.value()), &c.output, dtype, tol));
    let grads = yv
        .backward_with(gy)
        .map_err(|e| format!("{name}: backward ({dtype:?}): {e}"))?;
    out.push(compare(name, "grad_input", grads.get(&xv), &c.grad_input, dtype, tol));
    Ok(out)
}

/// Our argmax must pick exactly PyTorch's element (the fixtures have no ties, even in f32).
fn compare_indices(case: &str, dtype: DType, argmax: &Tensor, want: &[u32]) -> Outcome {
    let ctx = format!("{case}: argmax ({dtype:?})");
    let got = argmax.to_vec::<u32>().map_err(|e| format!("{ctx}: {e}"))?;
    if got.len() != want.len() {
        return Err(format!("{ctx}: {} indices, PyTorch has {}", got.len(), want.len()));
    }
    let wrong: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    match wrong.first() {
        None => Ok(0.0),
        Some(&i) => Err(format!(
            "{ctx}: {} of {} differ; first at {:?} (flat {i}): got {}, PyTorch {}",
            wrong.len(),
            got.len(),
            unravel(i, argmax.dims()),
            got[i],
            want[i]
        )),
    }
}

fn avg_pool_case(c: &AvgPoolCase, dtype: DType, tol: f64) -> Result<Vec<Outcome>, String> {
    let name = c.name.as_str();
    let opts = pool_options(name, &c.options)?;
    let include = c
        .options
        .count_include_pad
        .ok_or_else(|| format!("{name}: avg_pool3d fixture lacks count_include_pad"))?;
    let x = tensor(&c.input, dtype, name, "input")?;
    let gy = tensor(&c.grad_output, dtype, name, "grad_output")?;
    let mut out = Vec::new();

    let y = avg_pool3d(&x, &opts, include).map_err(|e| format!("{name}: avg_pool3d forward ({dtype:?}): {e}"))?;
    out.push(compare(name, "output", Some(&y), &c.output, dtype, tol));

    let tape = Tape::new();
    let xv = tape.leaf(x);
    let yv = xv
        .avg_pool3d(&opts, include)
        .map_err(|e| format!("{name}: Var::avg_pool3d ({dtype:?}): {e}"))?;
    out.push(compare(name, "taped output", Some(yv.value()), &c.output, dtype, tol));
    let grads = yv
        .backward_with(gy)
        .map_err(|e| format!("{name}: backward ({dtype:?}): {e}"))?;
    out.push(compare(name, "grad_input", grads.get(&xv), &c.grad_input, dtype, tol));
    Ok(out)
}

/// Turns a case runner's setup error into one failed check.
fn flatten(r: Result<Vec<Outcome>, String>) -> Vec<Outcome> {
    r.unwrap_or_else(|e| vec![Err(e)])
}

#[test]
fn conv3d_matches_pytorch() {
    let cases: Vec<ConvCase> = load("conv3d.json", "conv3d");
    run_all("conv3d", &cases, |c, dtype, tol| flatten(conv_case(c, dtype, tol)));
}

#[test]
fn max_pool3d_matches_pytorch() {
    let cases: Vec<MaxPoolCase> = load("max_pool3d.json", "max_pool3d");
    run_all("max_pool3d", &cases, |c, dtype, tol| {
        flatten(max_pool_case(c, dtype, tol))
    });
}

#[test]
fn avg_pool3d_matches_pytorch() {
    let cases: Vec<AvgPoolCase> = load("avg_pool3d.json", "avg_pool3d");
    run_all("avg_pool3d", &cases, |c, dtype, tol| {
        flatten(avg_pool_case(c, dtype, tol))
    });
}

#[test]
fn comparison_reports_case_and_worst_element() {
    let want = Data {
        shape: vec![1, 1, 1, 2, 2],
        data: vec![1.0, 2.0, 3.0, 4.0],
    };
    let close = Tensor::from_vec(&[1, 1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0 + 1e-12]).unwrap();
    assert!(compare("demo", "output", Some(&close), &want, DType::F64, 1e-10).is_ok());
    let off = Tensor::from_vec(&[1, 1, 1, 2, 2], vec![1.0, 2.5, 3.0, 4.1]).unwrap();
    let msg = compare("demo", "output", Some(&off), &want, DType::F64, 1e-10).unwrap_err();
    assert!(
        msg.contains("demo") && msg.contains("2 of 4") && msg.contains("[0, 0, 0, 0, 1]"),
        "{msg}"
    );
    let nan = Tensor::from_vec(&[1, 1, 1, 2, 2], vec![1.0, 2.0, f64::NAN, 4.0]).unwrap();
    let msg = compare("demo", "output", Some(&nan), &want, DType::F64, 1e-10).unwrap_err();
    assert!(msg.contains("[0, 0, 0, 1, 0]"), "{msg}");
}

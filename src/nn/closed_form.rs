//! A deterministic initialiser that Rust and Python compute identically, so full-size models can
//! be compared with PyTorch without committing their weights: element i of the tensor called
//! `name` is a uniform value in [-1, 1) taken from 24 bits of splitmix64((h(name) << 32) ^ i),
//! with h the 32-bit FNV-1a hash of the name. 24-bit values are exact in f32, so both sides hold
//! bit-identical tensors. (A smooth pattern such as sin(φ·i) is no good: it cancels inside each
//! filter and the signal dies within three layers.) `scripts/torch-parity.py` implements the same.

use super::model::Model;
use crate::error::Result;
use crate::nn::layers::Module;
use crate::tensor::Tensor;

/// 32-bit FNV-1a of the name's UTF-8 bytes.
pub fn name_hash(name: &str) -> u32 {
    name.bytes()
        .fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The raw values in [-1, 1) for `numel` elements of tensor `name`.
pub fn pattern(name: &str, numel: usize) -> Vec<f64> {
    let key = (name_hash(name) as u64) << 32;
    (0..numel as u64)
        .map(|i| (splitmix64_mix(key ^ i) >> 40) as f64 / 8_388_608.0 - 1.0)
        .collect()
}

/// A weight of `dims` (fan-in = numel / dims[0]) scaled to keep activations O(1) through ReLUs
/// (uniform amplitude √(6 / fan_in): He variance 2 / fan_in); a bias (rank 1) gets amplitude 0.01.
pub fn tensor(name: &str, dims: &[usize]) -> Result<Tensor> {
    let numel: usize = dims.iter().product();
    let amp = if dims.len() == 1 {
        0.01
    } else {
        (6.0 * dims[0] as f64 / numel as f64).sqrt()
    };
    let values: Vec<f32> = pattern(name, numel).iter().map(|v| (v * amp) as f32).collect();
    Tensor::from_vec(dims, values)
}

/// Fills every parameter of `model`, each on its own shape. (Inflated VGG weights, equal along
/// time, would make the two frames of the parity clip compute identical activations, leaving the
/// clip score's max over frames a tie that rounding decides; inflation has its own test.)
pub fn fill(model: &Model) -> Result<()> {
    for p in model.parameters() {
        let value = tensor(p.name(), p.value().dims())?;
        p.set_value(value.to_dtype(p.value().dtype())?)?;
    }
    Ok(())
}

/// The parity input clip: the pattern of the name "input" (quasi-random; a smooth input makes
/// near-ties in max pooling common, where rounding rather than semantics picks the winner).
pub fn input(dims: &[usize]) -> Result<Tensor> {
    let n: usize = dims.iter().product();
    Tensor::from_vec(dims, pattern("input", n).iter().map(|&v| v as f32).collect())
}

/// Indices of the sampled gradient entries compared per tensor: (k · 2654435761) mod numel.
pub fn sample_indices(numel: usize) -> Vec<usize> {
    (1..=8u64)
        .map(|k| ((k * 2_654_435_761) % numel as u64) as usize)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(name_hash(""), 0x811c9dc5);
        assert_eq!(name_hash("a"), 0xe40c292c);
        assert_eq!(name_hash("foobar"), 0xbf9cf968);
    }

    #[test]
    fn pattern_is_uniform_and_exact_in_f32() {
        let v = pattern("conv1.weight", 100_000);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0 / 3.0).abs() < 0.01,
            "mean {mean}, var {var}"
        );
        assert!(v.iter().all(|&x| (-1.0..1.0).contains(&x) && x as f32 as f64 == x));
    }
}

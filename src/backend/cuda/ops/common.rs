//! What every launcher needs: device pointers of input tensors, output allocation, 32-bit
//! size checks, launch-shape choices, and the typed launch call.

use std::sync::Arc;

use crate::backend::cuda::device;
use crate::backend::cuda::launcher::{DevicePtr, KernelLauncher, LaunchConfig};
use crate::backend::cuda::params::{as_bytes, KernelFloat, KernelParams};
use crate::error::{Error, Result};
use crate::tensor::{CudaStorage, DType, Storage, Tensor};

/// Threads per block of flat grid-stride kernels and block reductions (a multiple of 32).
pub const BLOCK: u32 = 256;
/// Threads per block of the tiled GEMM (GEMM_THREADS in kernels/gemm.cuh).
pub const GEMM_THREADS: u32 = 256;
/// Tile edge of the GEMM output (GEMM_BM = GEMM_BN in kernels/gemm.cuh).
pub const GEMM_TILE: usize = 32;
/// Grid-stride kernels need no more blocks than this to fill any current GPU.
pub const MAX_GRID: usize = 65_535;

pub fn storage<'a>(t: &'a Tensor, op: &'static str) -> Result<&'a CudaStorage> {
    match t.storage() {
        Storage::Cuda(s) => Ok(s),
        Storage::Cpu(_) => Err(Error::type_mismatch(
            op,
            format!("tensor {} is on the CPU but the op runs on CUDA", t.shape()),
        )),
    }
}

pub fn ptr(t: &Tensor, op: &'static str) -> Result<DevicePtr> {
    Ok(storage(t, op)?.buffer.ptr())
}

pub fn opt_ptr(t: Option<&Tensor>, op: &'static str) -> Result<DevicePtr> {
    t.map_or(Ok(0), |t| ptr(t, op))
}

pub fn launcher(t: &Tensor, op: &'static str) -> Result<Arc<dyn KernelLauncher>> {
    Ok(Arc::clone(storage(t, op)?.buffer.launcher()))
}

/// An uninitialised device tensor (every kernel writes all of its output).
pub fn empty(l: &Arc<dyn KernelLauncher>, dims: &[usize], dtype: DType) -> Result<Tensor> {
    let len = dims.iter().product();
    Tensor::from_cuda(dims, device::alloc(l, dtype, len)?)
}

/// The tensor's element count as the kernels' 32-bit index type.
pub fn fits_i32(t: &Tensor, op: &'static str) -> Result<()> {
    i32_of(t.numel(), op)?;
    Ok(())
}

pub fn i32_of(v: usize, op: &'static str) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::argument(op, format!("size {v} exceeds the CUDA kernels' 32-bit indexing")))
}

/// Blocks for a grid-stride loop over `n` items with `per_block` items per block.
pub fn grid_for(n: usize, per_block: usize) -> u32 {
    n.div_ceil(per_block.max(1)).clamp(1, MAX_GRID) as u32
}

/// A flat grid-stride launch over `n` elements.
pub fn flat(n: usize) -> LaunchConfig {
    LaunchConfig::linear(grid_for(n, BLOCK as usize), BLOCK, 0)
}

/// A launch of the tiled GEMM computing an M×N output.
pub fn gemm(m: usize, n: usize) -> LaunchConfig {
    let tiles = m.div_ceil(GEMM_TILE) * n.div_ceil(GEMM_TILE);
    LaunchConfig::linear(tiles.clamp(1, MAX_GRID) as u32, GEMM_THREADS, 0)
}

/// One block per row (or channel) with a block reduction: dynamic shared memory holds one
/// element per warp.
pub fn per_row<T: KernelFloat>(rows: usize) -> LaunchConfig {
    let scratch = per_row_scratch(std::mem::size_of::<T>());
    LaunchConfig::linear(rows.clamp(1, MAX_GRID) as u32, BLOCK, scratch)
}

fn per_row_scratch(element_bytes: usize) -> u32 {
    ((BLOCK / 32) as usize * element_bytes) as u32
}

/// The kernels (without dtype suffix) launched with [`per_row`].
const PER_ROW_KERNELS: [&str; 7] = [
    "conv3d_bbwd",
    "linear_bbwd",
    "window_pool_fwd",
    "log_softmax_fwd",
    "log_softmax_bwd",
    "cross_entropy_fwd",
    "cross_entropy_bwd",
];

/// The most dynamic shared memory the launchers request for entry point `kernel`, in bytes.
/// The SASS report (`scripts/sass-report.sh`) adds it to the static amount; [`launch`] refuses
/// a request above it, so this table cannot fall behind a launcher unnoticed.
pub fn max_dynamic_shared_bytes(kernel: &str) -> u32 {
    let Some((base, suffix)) = kernel.rsplit_once('_') else {
        return 0;
    };
    let element_bytes = match suffix {
        "f32" => 4,
        "f64" => 8,
        _ => return 0,
    };
    if PER_ROW_KERNELS.contains(&base) {
        per_row_scratch(element_bytes)
    } else {
        0
    }
}

/// `<base>_<dtype>`, the entry-point naming convention.
pub fn kernel<T: KernelFloat>(base: &str) -> String {
    format!("{base}_{}", T::SUFFIX)
}

/// Launches `base`'s instantiation for T with `params`.
///
/// # Safety
/// Every pointer in `params` must belong to a live tensor of the launcher's device, sized for
/// what the kernel touches under these parameters (each launcher derives both from the same
/// checked geometry).
pub unsafe fn launch<T: KernelFloat, P: KernelParams>(
    l: &Arc<dyn KernelLauncher>,
    base: &str,
    cfg: LaunchConfig,
    params: &P,
) -> Result<()> {
    let name = kernel::<T>(base);
    let most = max_dynamic_shared_bytes(&name);
    if cfg.shared_bytes > most {
        return Err(Error::cuda(
            name,
            format!(
                "requests {} bytes of dynamic shared memory; max_dynamic_shared_bytes lists {most}",
                cfg.shared_bytes
            ),
        ));
    }
    l.launch(&name, &cfg, as_bytes(params))
}

/// Calls `$f::<f32>` or `$f::<f64>` by the dtype of `$t`; other dtypes are an error naming `$op`.
macro_rules! by_dtype {
    ($op:expr, $t:expr, $f:ident, ($($arg:expr),*)) => {
        match $t.dtype() {
            $crate::tensor::DType::F32 => $f::<f32>($($arg),*),
            $crate::tensor::DType::F64 => $f::<f64>($($arg),*),
            other => Err($crate::error::Error::type_mismatch(
                $op,
                format!("expected a float tensor, got {other:?}"),
            )),
        }
    };
}
pub(crate) use by_dtype;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_shared_memory_per_kernel() {
        // 8 warps of 256 threads, one element each.
        assert_eq!(max_dynamic_shared_bytes("log_softmax_fwd_f32"), 32);
        assert_eq!(max_dynamic_shared_bytes("conv3d_bbwd_f64"), 64);
        assert_eq!(max_dynamic_shared_bytes("conv3d_fwd_f32"), 0);
        assert_eq!(max_dynamic_shared_bytes("no_such_thing"), 0);
        assert_eq!(
            per_row::<f64>(3).shared_bytes,
            max_dynamic_shared_bytes("linear_bbwd_f64")
        );
    }
}

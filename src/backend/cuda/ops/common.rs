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
    let scratch = (BLOCK / 32) as usize * std::mem::size_of::<T>();
    LaunchConfig::linear(rows.clamp(1, MAX_GRID) as u32, BLOCK, scratch as u32)
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
    l.launch(&kernel::<T>(base), &cfg, as_bytes(params))
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

//! Element types. Floats (f32 for work, f64 for the reference and gradient checks), bf16 for
//! the tensor-core operands and activations of the CUDA path (storage only: no CPU arithmetic;
//! conversions in `super::bf16`), and u32 for index tensors such as max-pooling's argmax.

use std::fmt::Debug;

use super::storage::CpuStorage;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
    BF16,
    U32,
}

impl DType {
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 | DType::U32 => 4,
            DType::F64 => 8,
            DType::BF16 => 2,
        }
    }
}

/// Any element a tensor can hold.
pub trait Scalar: Copy + Send + Sync + Debug + PartialEq + 'static {
    const DTYPE: DType;
    fn wrap(data: Vec<Self>) -> CpuStorage;
    fn slice(storage: &CpuStorage) -> Option<&[Self]>;
}

/// Floating-point elements: what every numeric op is generic over.
pub trait Float: Scalar + num_traits::Float + num_traits::FromPrimitive + Default + std::iter::Sum {
    fn from_f64_lossy(v: f64) -> Self;
    fn to_f64_lossless(self) -> f64;
}

impl Scalar for f32 {
    const DTYPE: DType = DType::F32;
    fn wrap(data: Vec<Self>) -> CpuStorage {
        CpuStorage::F32(data)
    }
    fn slice(storage: &CpuStorage) -> Option<&[Self]> {
        match storage {
            CpuStorage::F32(v) => Some(v),
            _ => None,
        }
    }
}

impl Scalar for f64 {
    const DTYPE: DType = DType::F64;
    fn wrap(data: Vec<Self>) -> CpuStorage {
        CpuStorage::F64(data)
    }
    fn slice(storage: &CpuStorage) -> Option<&[Self]> {
        match storage {
            CpuStorage::F64(v) => Some(v),
            _ => None,
        }
    }
}

impl Scalar for u32 {
    const DTYPE: DType = DType::U32;
    fn wrap(data: Vec<Self>) -> CpuStorage {
        CpuStorage::U32(data)
    }
    fn slice(storage: &CpuStorage) -> Option<&[Self]> {
        match storage {
            CpuStorage::U32(v) => Some(v),
            _ => None,
        }
    }
}

impl Scalar for half::bf16 {
    const DTYPE: DType = DType::BF16;
    fn wrap(data: Vec<Self>) -> CpuStorage {
        CpuStorage::BF16(data)
    }
    fn slice(storage: &CpuStorage) -> Option<&[Self]> {
        match storage {
            CpuStorage::BF16(v) => Some(v),
            _ => None,
        }
    }
}

impl Float for f32 {
    fn from_f64_lossy(v: f64) -> Self {
        v as f32
    }
    fn to_f64_lossless(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    fn from_f64_lossy(v: f64) -> Self {
        v
    }
    fn to_f64_lossless(self) -> f64 {
        self
    }
}

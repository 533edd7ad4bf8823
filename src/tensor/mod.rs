//! Contiguous, immutable tensors with a runtime shape. Cloning is cheap (the storage is shared);
//! every op returns a new tensor.

pub mod device_memory;
mod dtype;
pub mod geometry;
mod shape;
mod storage;

use std::sync::Arc;

pub use dtype::{DType, Float, Scalar};
pub use shape::{Shape, MAX_DIMS};
pub use storage::{CpuStorage, CudaStorage, Device, Storage};

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct Tensor {
    shape: Shape,
    storage: Arc<Storage>,
}

impl Tensor {
    /// A CPU tensor holding `data` in row-major order.
    pub fn from_vec<T: Scalar>(dims: &[usize], data: Vec<T>) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        if shape.numel() != data.len() {
            return Err(Error::shape(
                "tensor",
                format!("shape {shape} needs {} elements, got {}", shape.numel(), data.len()),
            ));
        }
        Ok(Tensor {
            shape,
            storage: Arc::new(Storage::Cpu(T::wrap(data))),
        })
    }

    pub fn scalar<T: Scalar>(value: T) -> Tensor {
        Tensor {
            shape: Shape::new(&[]).expect("rank 0"),
            storage: Arc::new(Storage::Cpu(T::wrap(vec![value]))),
        }
    }

    pub fn full<T: Scalar>(dims: &[usize], value: T) -> Result<Tensor> {
        let n = Shape::new(dims)?.numel();
        Tensor::from_vec(dims, vec![value; n])
    }

    pub fn zeros(dims: &[usize], dtype: DType) -> Result<Tensor> {
        match dtype {
            DType::F32 => Tensor::full(dims, 0f32),
            DType::F64 => Tensor::full(dims, 0f64),
            DType::U32 => Tensor::full(dims, 0u32),
        }
    }

    /// Ones of the same shape, dtype and device.
    pub fn ones_like(&self) -> Result<Tensor> {
        match self.dtype() {
            DType::F32 => Tensor::full(self.dims(), 1f32),
            DType::F64 => Tensor::full(self.dims(), 1f64),
            DType::U32 => Tensor::full(self.dims(), 1u32),
        }?
        .to_device(self.device())
    }

    /// A tensor over host storage holding exactly `dims`' element count.
    pub fn from_cpu(dims: &[usize], storage: CpuStorage) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        if shape.numel() != storage.len() {
            return Err(Error::shape(
                "tensor",
                format!("shape {shape} needs {} elements, got {}", shape.numel(), storage.len()),
            ));
        }
        Ok(Tensor {
            shape,
            storage: Arc::new(Storage::Cpu(storage)),
        })
    }

    /// A tensor over device storage holding exactly `dims`' element count.
    pub fn from_cuda(dims: &[usize], storage: CudaStorage) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        if shape.numel() != storage.len {
            return Err(Error::shape(
                "tensor",
                format!(
                    "shape {shape} needs {} elements, device buffer holds {}",
                    shape.numel(),
                    storage.len
                ),
            ));
        }
        Ok(Tensor {
            shape,
            storage: Arc::new(Storage::Cuda(storage)),
        })
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }

    pub fn device(&self) -> Device {
        self.storage.device()
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The elements as a slice; an error naming `op` if the tensor is not a CPU tensor of `T`.
    pub fn as_slice<T: Scalar>(&self, op: &'static str) -> Result<&[T]> {
        match self.storage.as_ref() {
            Storage::Cpu(s) => T::slice(s).ok_or_else(|| {
                Error::type_mismatch(
                    op,
                    format!(
                        "expected a {:?} tensor, got {:?} with shape {}",
                        T::DTYPE,
                        s.dtype(),
                        self.shape
                    ),
                )
            }),
            Storage::Cuda(_) => Err(Error::type_mismatch(
                op,
                format!(
                    "tensor {} lives on {}; copy it to the CPU with to_device(Device::Cpu)",
                    self.shape,
                    self.device()
                ),
            )),
        }
    }

    /// A copy of the elements on the host.
    pub fn to_vec<T: Scalar>(&self) -> Result<Vec<T>> {
        if let Storage::Cuda(_) = self.storage.as_ref() {
            return self.to_device(Device::Cpu)?.to_vec();
        }
        Ok(self.as_slice::<T>("to_vec")?.to_vec())
    }

    /// The value of a one-element tensor, as f64.
    pub fn item(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::shape(
                "item",
                format!("expected one element, got shape {}", self.shape),
            ));
        }
        Ok(self.to_f64_vec()?[0])
    }

    /// All elements widened to f64 (for tests, reports and comparisons).
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        match self.storage.as_ref() {
            Storage::Cpu(CpuStorage::F32(v)) => Ok(v.iter().map(|&x| x as f64).collect()),
            Storage::Cpu(CpuStorage::F64(v)) => Ok(v.clone()),
            Storage::Cpu(CpuStorage::U32(v)) => Ok(v.iter().map(|&x| x as f64).collect()),
            Storage::Cuda(_) => self.to_device(Device::Cpu)?.to_f64_vec(),
        }
    }

    /// The same elements with a new shape of equal size (no copy).
    pub fn reshape(&self, dims: &[usize]) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        if shape.numel() != self.numel() {
            return Err(Error::shape(
                "reshape",
                format!(
                    "cannot reshape {} ({} elements) to {shape} ({} elements)",
                    self.shape,
                    self.numel(),
                    shape.numel()
                ),
            ));
        }
        Ok(Tensor {
            shape,
            storage: Arc::clone(&self.storage),
        })
    }

    /// Converts between float types (f32 <-> f64) on the same device; a no-op clone when
    /// already `dtype`.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let wide = self.to_f64_vec()?;
        match dtype {
            DType::F32 => Tensor::from_vec(self.dims(), wide.iter().map(|&x| x as f32).collect()),
            DType::F64 => Tensor::from_vec(self.dims(), wide),
            DType::U32 => Err(Error::type_mismatch("to_dtype", "conversion to u32 is not supported")),
        }?
        .to_device(self.device())
    }

    /// Checks that `self` and `other` agree in dtype and device; `op` names the caller.
    pub fn expect_same_type(&self, other: &Tensor, op: &'static str, what: &str) -> Result<()> {
        if self.dtype() != other.dtype() || self.device() != other.device() {
            return Err(Error::type_mismatch(
                op,
                format!(
                    "{what}: {:?} on {} does not match {:?} on {}",
                    other.dtype(),
                    other.device(),
                    self.dtype(),
                    self.device()
                ),
            ));
        }
        Ok(())
    }

    /// Checks the element type is a float (f32 or f64).
    pub fn expect_float(&self, op: &'static str, what: &str) -> Result<()> {
        match self.dtype() {
            DType::F32 | DType::F64 => Ok(()),
            other => Err(Error::type_mismatch(
                op,
                format!("{what} must be a float tensor, got {other:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_checks_the_element_count() {
        let err = Tensor::from_vec(&[2, 3], vec![0f32; 5]).unwrap_err().to_string();
        assert!(err.contains("(2, 3) needs 6 elements, got 5"), "{err}");
    }

    #[test]
    fn reshape_shares_storage_and_checks_size() {
        let t = Tensor::from_vec(&[2, 3], (0..6).map(|x| x as f32).collect()).unwrap();
        let r = t.reshape(&[3, 2]).unwrap();
        assert_eq!(r.to_vec::<f32>().unwrap(), t.to_vec::<f32>().unwrap());
        assert!(t.reshape(&[4, 2]).is_err());
    }

    #[test]
    fn wrong_dtype_access_is_an_error_naming_the_op() {
        let t = Tensor::from_vec(&[2], vec![1f32, 2.0]).unwrap();
        let err = t.as_slice::<f64>("conv3d").unwrap_err().to_string();
        assert!(err.starts_with("conv3d:") && err.contains("F64"), "{err}");
    }

    #[test]
    fn dtype_round_trip() {
        let t = Tensor::from_vec(&[3], vec![0.5f32, -1.25, 3.0]).unwrap();
        let back = t.to_dtype(DType::F64).unwrap().to_dtype(DType::F32).unwrap();
        assert_eq!(back.to_vec::<f32>().unwrap(), vec![0.5, -1.25, 3.0]);
    }
}

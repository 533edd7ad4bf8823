//! CPU backends: `reference` (plain loops, the oracle) and `fast` (multi-threaded).

/// Runs `$body` with `$T` bound to the float type of `$t`; other dtypes are an error naming `$op`.
macro_rules! with_float {
    ($op:expr, $t:expr, |$T:ident| $body:expr) => {
        match $t.dtype() {
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            other => Err($crate::error::Error::type_mismatch(
                $op,
                format!("expected a float tensor, got {other:?}"),
            )),
        }
    };
}

pub mod fast;
pub mod reference;

use crate::error::Result;
use crate::tensor::{Scalar, Tensor};

/// The elements of an optional tensor (a bias), as a slice of `T`.
fn optional<'a, T: Scalar>(t: Option<&'a Tensor>, op: &'static str) -> Result<Option<&'a [T]>> {
    t.map(|b| b.as_slice::<T>(op)).transpose()
}

/// (rows, last) of a tensor whose last axis is the one an op works along.
pub(crate) fn rows_and_last(t: &Tensor) -> (usize, usize) {
    let last = t.dims().last().copied().unwrap_or(1);
    (t.numel() / last.max(1), last)
}

pub(crate) fn with_last_dim(t: &Tensor, last: usize) -> Vec<usize> {
    let mut dims = t.dims().to_vec();
    if let Some(d) = dims.last_mut() {
        *d = last;
    }
    dims
}

//! Runtime shapes of up to five dimensions, in the engine's (N, C, T, H, W) convention.

use std::fmt;

use crate::error::{Error, Result};

pub const MAX_DIMS: usize = 5;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Shape(Vec<usize>);

impl Shape {
    pub fn new(dims: &[usize]) -> Result<Self> {
        if dims.len() > MAX_DIMS {
            return Err(Error::shape(
                "shape",
                format!("{} dimensions {dims:?}; at most {MAX_DIMS} are supported", dims.len()),
            ));
        }
        Ok(Shape(dims.to_vec()))
    }

    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements; 1 for a scalar (rank 0).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut strides = vec![1; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * self.0[i + 1];
        }
        strides
    }

    /// The dims as a fixed array when the rank is exactly `R`, else an error naming `op`.
    pub fn expect_rank<const R: usize>(&self, op: &'static str, what: &str) -> Result<[usize; R]> {
        <[usize; R]>::try_from(self.0.as_slice())
            .map_err(|_| Error::shape(op, format!("{what} must have {R} dimensions, got shape {self}")))
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, ")")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_are_row_major() {
        let s = Shape::new(&[2, 3, 5, 7, 6]).unwrap();
        assert_eq!(s.strides(), vec![3 * 5 * 7 * 6, 5 * 7 * 6, 7 * 6, 6, 1]);
        assert_eq!(s.numel(), 2 * 3 * 5 * 7 * 6);
        assert_eq!(s.to_string(), "(2, 3, 5, 7, 6)");
    }

    #[test]
    fn more_than_five_dims_is_an_error() {
        let err = Shape::new(&[1, 1, 1, 1, 1, 1]).unwrap_err().to_string();
        assert!(err.contains("at most 5"), "{err}");
    }

    #[test]
    fn scalar_has_one_element() {
        assert_eq!(Shape::new(&[]).unwrap().numel(), 1);
    }
}

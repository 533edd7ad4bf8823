//! The ops, one file per family. Each file holds the argument checks (errors name the op and
//! the shapes), the tensor-level functions that dispatch to the tensor's backend, and the `Var`
//! method that records the op and its backward rule on the tape.

pub mod arith;
pub mod conv3d;
pub mod dropout;
pub mod layout;
pub mod linear;
pub mod loss;
pub mod pool3d;
pub mod relu;
pub mod temporal;

/// The geometry of the windowed ops lives with the tensor types, below the backends that index
/// with it; callers keep naming it `ops::geometry`.
pub use crate::tensor::geometry;
pub use geometry::{Conv3dGeometry, Conv3dOptions, Pool3dGeometry, Pool3dOptions};

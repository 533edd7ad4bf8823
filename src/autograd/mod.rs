//! Our own reverse-mode automatic differentiation: a tape of backward rules and named
//! trainable parameters. The ops themselves (and their rules) live in `crate::ops`.

mod param;
mod tape;

pub use param::Param;
pub use tape::{BackwardFn, Gradients, Tape, Var};

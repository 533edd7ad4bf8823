//! CPU backends: `reference` (plain loops, the oracle) and `fast` (multi-threaded f32).

pub mod fast;
pub mod reference;

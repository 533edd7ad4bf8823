//! CPU backends: `reference` (plain loops, the oracle).

pub mod reference;

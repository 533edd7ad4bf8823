//! Layers, initialisation and models.

pub mod init;
pub mod layers;
pub mod tiny;

pub use init::Init;
pub use layers::{Conv3d, LayerInit, Linear, Module};

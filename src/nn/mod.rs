//! Layers, initialisation and models.

pub mod checkpoint;
pub mod closed_form;
pub mod config;
pub mod inflate;
pub mod init;
pub mod layers;
pub mod model;
pub mod parity;
pub mod tiny;

pub use config::{Family, ModelConfig};
pub use init::Init;
pub use layers::{Conv3d, LayerInit, Linear, Module};
pub use model::Model;

//! Layers and models.

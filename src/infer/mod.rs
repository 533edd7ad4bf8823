//! Scoring whole videos: sliding windows and temporal softmax pooling.

pub mod evaluate;
pub mod loaded;
pub mod metrics;
pub mod pooling;
pub mod report;
pub mod scorer;

//! Scoring whole videos: sliding windows and temporal softmax pooling.

pub mod scorer;

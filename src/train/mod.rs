//! Training: the temporal stochastic softmax loop, its schedules and the run directory.

pub mod schedule;

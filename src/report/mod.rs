//! Pictures for people: training curves, sampling maps and per-window class scores as PNG files,
//! drawn with our own small raster canvas and built-in bitmap font, so reports need no plotting
//! library and no fonts installed on the machine.

pub mod axes;
pub mod canvas;
mod curves;
mod font;
pub mod legend;
pub mod palette;
pub mod plots;
mod sampling;
mod text;
mod window_scores;

pub use plots::{
    sampling_map, sampling_maps, training_curves, window_scores, EpochPoint, SamplingTrace, WindowScoresPlot,
};

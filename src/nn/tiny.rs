//! The smallest composed 3D CNN: conv → relu → max-pool → conv → relu → max-pool → dropout →
//! linear. Used by the `demo` command and by end-to-end tests of every backend.

use rand::Rng;

use super::layers::{Conv3d, LayerInit, Linear, Module};
use crate::autograd::{Param, Var};
use crate::error::{Error, Result};
use crate::ops::{Conv3dOptions, Pool3dOptions};

pub struct TinyNet {
    conv1: Conv3d,
    conv2: Conv3d,
    fc: Linear,
    dropout: f64,
}

impl TinyNet {
    /// Input clips (N, 3, T, H, W) with T even and H, W multiples of 4.
    pub fn new<R: Rng>(input: [usize; 3], classes: usize, dropout: f64, li: &mut LayerInit<'_, R>) -> Result<TinyNet> {
        let [t, h, w] = input;
        if t % 2 != 0 || h % 4 != 0 || w % 4 != 0 || t == 0 || h == 0 {
            return Err(Error::argument(
                "tiny-net",
                format!("input {input:?} needs T even and H, W multiples of 4"),
            ));
        }
        let same = Conv3dOptions {
            stride: [1; 3],
            padding: [1; 3],
        };
        Ok(TinyNet {
            conv1: Conv3d::new("conv1", [3, 4], [3; 3], same, true, li)?,
            conv2: Conv3d::new("conv2", [4, 8], [3; 3], same, true, li)?,
            fc: Linear::new("fc", 8 * (t / 2) * (h / 4) * (w / 4), classes, true, li)?,
            dropout,
        })
    }

    /// Logits (N, classes). `seed` draws the dropout mask when `training`.
    pub fn forward(&self, x: &Var, training: bool, seed: u64) -> Result<Var> {
        let x = self
            .conv1
            .forward(x)?
            .relu()?
            .max_pool3d(&Pool3dOptions::new([1, 2, 2]))?;
        let x = self
            .conv2
            .forward(&x)?
            .relu()?
            .max_pool3d(&Pool3dOptions::new([2, 2, 2]))?;
        let x = x.flatten(1, 4)?.dropout(self.dropout, seed, training)?;
        self.fc.forward(&x)
    }
}

impl Module for TinyNet {
    fn parameters(&self) -> Vec<Param> {
        [self.conv1.parameters(), self.conv2.parameters(), self.fc.parameters()].concat()
    }
}

//! The trainable layers the models are built from. Each owns named `Param`s (PyTorch names such
//! as `conv1.weight`) and applies itself to a `Var` on the caller's tape.

use rand::Rng;

use super::init::{self, Init};
use crate::autograd::{Param, Var};
use crate::error::Result;
use crate::ops::Conv3dOptions;
use crate::tensor::{DType, Device};

/// Anything holding parameters; `parameters()` lists them in a stable order.
pub trait Module {
    fn parameters(&self) -> Vec<Param>;

    /// Moves every parameter to `device` (inputs must then be sent there too).
    fn to_device(&self, device: Device) -> Result<()> {
        for p in self.parameters() {
            p.set_value(p.value().to_device(device)?)?;
        }
        Ok(())
    }

    /// Where the parameters live (the CPU for a module without any).
    fn device(&self) -> Device {
        self.parameters().first().map_or(Device::Cpu, |p| p.value().device())
    }
}

pub struct Conv3d {
    pub weight: Param,
    pub bias: Option<Param>,
    pub options: Conv3dOptions,
}

/// What a layer needs to create its parameters.
pub struct LayerInit<'a, R: Rng> {
    pub init: Init,
    pub dtype: DType,
    pub rng: &'a mut R,
}

impl Conv3d {
    /// `name.weight` of shape (out, in, KT, KH, KW) and `name.bias` of shape (out).
    pub fn new<R: Rng>(
        name: &str,
        channels: [usize; 2],
        kernel: [usize; 3],
        options: Conv3dOptions,
        with_bias: bool,
        li: &mut LayerInit<'_, R>,
    ) -> Result<Conv3d> {
        let [ins, outs] = channels;
        let fan_in = ins * kernel.iter().product::<usize>();
        let w = init::weight(
            li.init,
            &[outs, ins, kernel[0], kernel[1], kernel[2]],
            fan_in,
            li.dtype,
            li.rng,
        )?;
        let bias = with_bias
            .then(|| init::bias(li.init, outs, fan_in, li.dtype, li.rng).map(|b| Param::new(format!("{name}.bias"), b)))
            .transpose()?;
        Ok(Conv3d {
            weight: Param::new(format!("{name}.weight"), w),
            bias,
            options,
        })
    }

    pub fn forward(&self, x: &Var) -> Result<Var> {
        let tape = x.tape();
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        x.conv3d(&tape.param(&self.weight), bias.as_ref(), &self.options)
    }
}

impl Module for Conv3d {
    fn parameters(&self) -> Vec<Param> {
        std::iter::once(self.weight.clone()).chain(self.bias.clone()).collect()
    }
}

pub struct Linear {
    pub weight: Param,
    pub bias: Option<Param>,
}

impl Linear {
    /// `name.weight` of shape (out, in) and `name.bias` of shape (out).
    pub fn new<R: Rng>(
        name: &str,
        ins: usize,
        outs: usize,
        with_bias: bool,
        li: &mut LayerInit<'_, R>,
    ) -> Result<Linear> {
        let w = init::weight(li.init, &[outs, ins], ins, li.dtype, li.rng)?;
        let bias = with_bias
            .then(|| init::bias(li.init, outs, ins, li.dtype, li.rng).map(|b| Param::new(format!("{name}.bias"), b)))
            .transpose()?;
        Ok(Linear {
            weight: Param::new(format!("{name}.weight"), w),
            bias,
        })
    }

    pub fn forward(&self, x: &Var) -> Result<Var> {
        let tape = x.tape();
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        x.linear(&tape.param(&self.weight), bias.as_ref())
    }
}

impl Module for Linear {
    fn parameters(&self) -> Vec<Param> {
        std::iter::once(self.weight.clone()).chain(self.bias.clone()).collect()
    }
}

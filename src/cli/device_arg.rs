//! `--device` of the commands that train (train, pretrain, sweep): a `Device` as `demo` and
//! `predict` parse it, or `auto`, which picks a GPU only when this machine has a usable one.

use std::fmt;
use std::str::FromStr;

use crate::backend::cuda::device;
use crate::tensor::Device;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceArg {
    /// The first CUDA GPU if there is a usable one, else the CPU.
    Auto,
    Exact(Device),
}

impl FromStr for DeviceArg {
    type Err = String;

    /// `auto`, or anything `Device` parses (cpu, cuda, cuda:N, cuda-emu).
    fn from_str(s: &str) -> Result<DeviceArg, String> {
        if s == "auto" {
            return Ok(DeviceArg::Auto);
        }
        s.parse()
            .map(DeviceArg::Exact)
            .map_err(|e: String| format!("{e}, or auto"))
    }
}

impl fmt::Display for DeviceArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceArg::Auto => write!(f, "auto"),
            DeviceArg::Exact(d) => write!(f, "{d}"),
        }
    }
}

impl DeviceArg {
    /// The device to use, printing which one `auto` chose and why. An explicit device is
    /// returned as given; the library checks that it is usable before doing any work.
    pub fn resolve(self) -> Device {
        match self {
            DeviceArg::Exact(d) => d,
            DeviceArg::Auto => {
                let (d, why) = device::auto();
                println!("device: {d} (auto: {why})");
                d
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_auto_and_every_device() {
        assert_eq!("auto".parse(), Ok(DeviceArg::Auto));
        assert_eq!("cpu".parse(), Ok(DeviceArg::Exact(Device::Cpu)));
        assert_eq!("cuda".parse(), Ok(DeviceArg::Exact(Device::Cuda(0))));
        assert_eq!("cuda:1".parse(), Ok(DeviceArg::Exact(Device::Cuda(1))));
        assert_eq!("cuda-emu".parse(), Ok(DeviceArg::Exact(Device::CudaEmu)));
        let err = "gpu".parse::<DeviceArg>().unwrap_err();
        assert!(err.contains("cuda:N") && err.contains("auto"), "{err}");
    }
}

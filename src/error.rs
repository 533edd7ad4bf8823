//! The one error type of the library. Every variant names the operation (or file) and says
//! what was expected, so a message read on the command line tells the user what to fix.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Tensor shapes that do not fit together.
    #[error("{op}: {msg}")]
    Shape { op: &'static str, msg: String },

    /// An option or argument out of its valid range (stride 0, dropout p > 1, ...).
    #[error("{op}: invalid argument: {msg}")]
    Argument { op: &'static str, msg: String },

    /// A tensor of the wrong element type or on the wrong device for this operation.
    #[error("{op}: {msg}")]
    Type { op: &'static str, msg: String },

    /// A misuse of the autograd tape (backward twice, from a non-scalar, in no-grad mode...).
    #[error("autograd: {0}")]
    Autograd(String),

    /// A CUDA failure: NVRTC compilation (with the kernel file and the compiler log), a driver
    /// call, a launch, or an allocation beyond the device's free memory.
    #[error("cuda: {context}: {msg}")]
    Cuda { context: String, msg: String },

    /// Bad input data: an unreadable image, a malformed manifest, a corrupt pack. Names the file
    /// so the user knows what to fix or re-create.
    #[error("{path}: {msg}")]
    Data { path: PathBuf, msg: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn shape(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Shape { op, msg: msg.into() }
    }
    pub fn argument(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Argument { op, msg: msg.into() }
    }
    pub fn type_mismatch(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Type { op, msg: msg.into() }
    }
    pub fn cuda(context: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Cuda {
            context: context.into(),
            msg: msg.into(),
        }
    }
    pub fn data(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            msg: msg.into(),
        }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

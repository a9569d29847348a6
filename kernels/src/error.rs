//! The one error type of the library. Every message says what is wrong and, where there is
//! something to do about it, what to do next.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("unknown {what} `{given}`: valid ones are {valid}")]
    Unknown {
        what: &'static str,
        given: String,
        valid: String,
    },
    #[error("parameter --{name} = {value}: {reason}")]
    InvalidParam {
        name: String,
        value: String,
        reason: String,
    },
    #[error("input: {0}")]
    Input(String),
    #[error("reading {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("writing {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    /// An environment variable the library reads (`HARNESS_*`) holds a value it does not
    /// accept: refused rather than replaced by a default, so that a typo never goes unseen.
    #[error("environment variable {name}=`{value}`: {reason}")]
    Environment {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("{0}")]
    Failed(String),
    /// Setup found that this problem cannot be done here, for a reason outside the code
    /// (an external worker answered `"skip": true`): the gate records the variant as
    /// skipped with this reason, not as failed.
    #[error("skipped: {0}")]
    Skipped(String),
}

impl KernelError {
    pub fn invalid(name: &str, value: impl ToString, reason: impl Into<String>) -> KernelError {
        KernelError::InvalidParam {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

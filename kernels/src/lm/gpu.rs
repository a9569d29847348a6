//! `lm/*/gpu-f32`, `lm/*/gpu-f64` — WGSL, one invocation per fit (Gpufit's design). Waits
//! for the shared GPU plumbing (`kernels/src/gpu/`).

use super::LmProblem;
use crate::error::KernelError;
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant};

pub enum Gpu {
    F32,
    F64,
}

impl Variant<LmProblem> for Gpu {
    fn name(&self) -> &'static str {
        match self {
            Gpu::F32 => "gpu-f32",
            Gpu::F64 => "gpu-f64",
        }
    }
    fn strategy(&self) -> Strategy {
        Strategy::Gpu
    }
    fn precision(&self) -> Precision {
        match self {
            Gpu::F32 => Precision::F32,
            Gpu::F64 => Precision::F64,
        }
    }
    fn idea(&self) -> &'static str {
        "one GPU invocation per fit, the whole LM loop in registers (Gpufit's design)"
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, _p: &LmProblem) -> Availability {
        Availability::Skipped("GPU variant not written yet".into())
    }
    fn prepare(&self, _p: &LmProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Err(KernelError::Gpu("GPU variant not written yet".into()))
    }
}

//! `laue/*/gpu-f32`, `laue/*/gpu-f64` — wgpu compute shader. Being written.

use super::LaueProblem;
use crate::error::KernelError;
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant};

pub enum Gpu {
    F32,
    F64,
}

impl Variant<LaueProblem> for Gpu {
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
        "one GPU invocation per output point"
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, _p: &LaueProblem) -> Availability {
        Availability::Skipped("not implemented yet".into())
    }
    fn prepare(&self, _p: &LaueProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Err(KernelError::Gpu("not implemented yet".into()))
    }
}

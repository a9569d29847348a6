//! `psf/aia/gpu-*` — wgpu compute shaders. Waiting for the shared GPU plumbing.

use super::PsfProblem;
use crate::error::KernelError;
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant};

pub enum Gpu {
    F32,
    F64,
    WindowedF32,
    WindowedF64,
}

impl Variant<PsfProblem> for Gpu {
    fn name(&self) -> &'static str {
        match self {
            Gpu::F32 => "gpu-f32",
            Gpu::F64 => "gpu-f64",
            Gpu::WindowedF32 => "gpu-windowed-f32",
            Gpu::WindowedF64 => "gpu-windowed-f64",
        }
    }
    fn strategy(&self) -> Strategy {
        Strategy::Gpu
    }
    fn precision(&self) -> Precision {
        match self {
            Gpu::F32 | Gpu::WindowedF32 => Precision::F32,
            Gpu::F64 | Gpu::WindowedF64 => Precision::F64,
        }
    }
    fn idea(&self) -> &'static str {
        match self {
            Gpu::F32 | Gpu::F64 => "one GPU invocation per pixel, looping over every spike",
            Gpu::WindowedF32 | Gpu::WindowedF64 => {
                "one GPU invocation per pixel, only the spikes whose window covers it"
            }
        }
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, _p: &PsfProblem) -> Availability {
        Availability::Skipped("the shared GPU plumbing is not merged yet".into())
    }
    fn prepare(&self, _p: &PsfProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Err(KernelError::Gpu(
            "the shared GPU plumbing is not merged yet".into(),
        ))
    }
}

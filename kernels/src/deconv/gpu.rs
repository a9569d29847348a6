//! `deconv/*/gpu-f32`, `deconv/*/gpu-f64` — every iteration on the device: image and PSF
//! spectrum uploaded once, only the result downloaded, the FFT from the shared WGSL FFT
//! (`kernels/src/gpu/fft.rs`). That FFT is being written for the PSF kernel; until it is in
//! this build the variants are registered and skip with the reason.

use super::DeconvProblem;
use crate::error::KernelError;
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant};

pub enum Gpu {
    F32,
    F64,
}

const NOT_YET: &str = "GPU FFT not available yet: the shared WGSL FFT (kernels/src/gpu/fft.rs) \
                       is not in this build";

impl Variant<DeconvProblem> for Gpu {
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
        "every iteration on the GPU: data uploaded once, FFT passes in WGSL, only the result downloaded"
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, p: &DeconvProblem) -> Availability {
        if !p.availability().is_ready() {
            return p.availability();
        }
        Availability::Skipped(NOT_YET.into())
    }
    fn prepare(&self, _p: &DeconvProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Err(KernelError::Gpu(NOT_YET.into()))
    }
}

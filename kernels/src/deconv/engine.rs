//! Richardson–Lucy for a stream of images that share one shape, one PSF and one iteration
//! count: the per-image step that the `pipeline` kernel schedules. This is the one door
//! other kernels use; the variants' own state stays private to their files.
//!
//! An [`Engine`] is made once from the stack's first image (FFT plans, the PSF spectrum,
//! every buffer), then for each image: [`Engine::load`], [`Prepared::run`],
//! [`Engine::estimate`]. The GPU side (the f32 WGSL deconvolution that deconv's `gpu-f32`
//! dispatches) is shared through [`gpu`].

use super::DeconvProblem;
use super::{fft, parallel};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Prepared, Stage};

/// A deconvolution state reused image after image.
pub trait Engine: Prepared {
    /// Makes `image` the next problem: the same shape, PSF and iterations as the first.
    fn load(&mut self, image: &DeconvProblem);
    /// The deconvolved image of the last run, row-major.
    fn estimate(&self) -> &[f64];
}

/// aiapy's algorithm on one thread, in f64: deconv's `fft` variant.
pub struct OneThread(fft::Run<f64>);

impl OneThread {
    pub fn new(first: &DeconvProblem) -> Self {
        OneThread(fft::Run::new(first))
    }
}

/// The FFT passes fused and spread over the current rayon pool, in f64: deconv's
/// `parallel` variant.
pub struct Threaded(parallel::Run<f64>);

impl Threaded {
    pub fn new(first: &DeconvProblem) -> Self {
        Threaded(parallel::Run::new(first))
    }
}

macro_rules! engine {
    ($ty:ident) => {
        impl Engine for $ty {
            fn load(&mut self, image: &DeconvProblem) {
                self.0.load(image)
            }
            fn estimate(&self) -> &[f64] {
                self.0.estimate()
            }
        }

        impl Prepared for $ty {
            fn run(&mut self) -> Result<(), KernelError> {
                self.0.run()
            }
            fn output(&self) -> Result<Output, KernelError> {
                self.0.output()
            }
            fn stages(&self) -> Vec<Stage> {
                self.0.stages()
            }
        }
    };
}

engine!(OneThread);
engine!(Threaded);

/// The f32 GPU deconvolution's pieces, for pipelines that keep several images in flight:
/// which path a size takes ([`gpu::Path`]); the fused shared-memory steps
/// ([`gpu::Fused`], bound to one image's [`gpu::FusedBuffers`], with the scaled half
/// spectrum [`gpu::scaled_transfer`]); the Stockham fallback's dispatch sequence
/// ([`gpu::Iterations`], [`gpu::ImageBuffers`], the full PSF spectrum
/// [`gpu::full_spectrum`]); the shaders' f32 range ([`gpu::F32_MAX`]).
pub mod gpu {
    pub use super::super::NonFinite;
    pub use super::super::gpu::Path;
    pub(crate) use super::super::gpu::{F32_MAX, ImageBuffers, Iterations, full_spectrum};
    pub use super::super::gpu_shared::fused_fits;
    pub(crate) use super::super::gpu_shared::{Fused, FusedBuffers, scaled_transfer};
}

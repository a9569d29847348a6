//! Richardson–Lucy for a stream of images that share one shape, one PSF and one iteration
//! count: the per-image step that the `pipeline` kernel schedules. This is the one door
//! other kernels use; the variants' own state stays private to their files.
//!
//! An [`Engine`] is made once from the stack's first image (FFT plans, the PSF spectrum,
//! every buffer), then for each image: [`Engine::load`], [`Prepared::run`],
//! [`Engine::estimate`]. The GPU side (the f32 WGSL deconvolution that deconv's `gpu-f32`
//! dispatches) is shared through [`gpu`].

use super::DeconvProblem;
use super::{fft, lanes};
use crate::check::Output;
use crate::error::KernelError;
use crate::fft2d::lanes::in_lanes;
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

/// Columns and rows in SIMD lanes, the passes spread over the current rayon pool, in
/// f64: deconv's `lanes` variant (threads inside one image).
pub struct Lanes(lanes::Run<f64>);

impl Lanes {
    pub fn new(first: &DeconvProblem) -> Self {
        Lanes(lanes::Run::new(first))
    }
}

/// deconv's `lanes` arithmetic on the calling thread only (each pass one piece, never
/// handed to the pool), in f64. Output equal to [`Lanes`]'s to the bit. On one thread it
/// took 0.40–0.46 of [`OneThread`]'s time at 256², 512² and 1024² (`harness compare
/// --kernel deconv --variant fft,lanes --threads 1`): see [`Worker`].
pub struct LanesOneThread(lanes::Run<f64>);

impl LanesOneThread {
    pub fn new(first: &DeconvProblem) -> Self {
        LanesOneThread(lanes::Run::with_tasks(first, 1))
    }
}

/// The one-thread engine of a worker that owns whole images: [`LanesOneThread`] where
/// both sides stay in SIMD lanes ([`in_lanes`]: no prime factor above 7), else
/// [`OneThread`]. Where a side has a larger prime factor the lanes fall back to rustfft
/// one lane at a time: at 254² (2·127) that took 1.10× `fft`'s time on one thread, where
/// at 256² it took 0.40×.
pub struct Worker {
    engine: Box<dyn Engine>,
    name: &'static str,
}

impl Worker {
    pub fn new(first: &DeconvProblem) -> Self {
        let (engine, name): (Box<dyn Engine>, _) =
            match in_lanes(first.rows()) && in_lanes(first.cols()) {
                true => (Box::new(LanesOneThread::new(first)), "lanes"),
                false => (Box::new(OneThread::new(first)), "fft"),
            };
        Worker { engine, name }
    }

    /// The engine it is, for tests and reports: `lanes` or `fft`.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl Engine for Worker {
    fn load(&mut self, image: &DeconvProblem) {
        self.engine.load(image)
    }
    fn estimate(&self) -> &[f64] {
        self.engine.estimate()
    }
}

impl Prepared for Worker {
    fn run(&mut self) -> Result<(), KernelError> {
        self.engine.run()
    }
    fn output(&self) -> Result<Output, KernelError> {
        self.engine.output()
    }
    fn stages(&self) -> Vec<Stage> {
        self.engine.stages()
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
engine!(Lanes);
engine!(LanesOneThread);

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
    pub use super::super::gpu_shared::{Columns, fused_fits, largest_binding};
    pub(crate) use super::super::gpu_shared::{Fused, FusedBuffers, scaled_transfer};
}

//! Numerical kernels from real scientific codes, each in every strategy (naive loops, SIMD,
//! threads, FFT, GPU, and algorithmic variants), behind one trait so that a harness can
//! validate every variant against references before timing it.
//!
//! | kernel | what | source |
//! |---|---|---|
//! | [`laue`] | 2-D Laue diffraction of square, circular and strained crystals | ESRF/silx course "Optimization of compute-bound Python code" |
//! | [`psf`] | SDO/AIA point-spread function: 1200 diffraction spikes of two filter meshes, composite by FFT | aiapy 0.10.2 `aiapy.psf.psf` (after `aia_calc_psf.pro`) |
//! | [`lm`] | batched Levenberg–Marquardt: Gpufit's 2-D Gaussian benchmark, ODMR Lorentzian dips | Gpufit (Przybylski et al. 2017), QDMPy |
//! | [`deconv`] | Richardson–Lucy deconvolution of solar images with a PSF | `aiapy.psf.deconvolve` (aiapy 0.10) |
//! | [`pipeline`] | a stack of images through one PSF and deconvolution: threads over images, inside images, GPU overlapped | issue 9 |
//!
//! Layers:
//! - the framework: [`variant`] (the one trait, [`VariantInfo`] built by [`variant!`]),
//!   [`kernel`] (what a kernel declares, and the type-erased [`Instance`]), [`params`],
//!   [`check`] (comparison with a reference, tolerances), [`gate`] (the one lifecycle:
//!   probe → prepare → one run → validate, before anyone times), [`registry`];
//! - the engines the kernels share: [`fft2d`] (2-D real FFTs, the SIMD-lane FFT), [`gpu`]
//!   (wgpu plumbing and the WGSL FFT), [`simd`];
//! - the kernels: one folder each, one file per variant (`naive.rs` is the oracle). Cargo features: `gpu` (wgpu compute shaders, Vulkan only) and
//!   `library` (third-party solvers used as comparison variants); both on by default.

pub mod check;
pub mod error;
pub mod fft2d;
pub mod gate;
pub mod gpu;
pub mod io;
pub mod kernel;
pub mod params;
pub mod registry;
pub mod simd;
#[macro_use]
pub mod variant;

pub mod deconv;
pub mod laue;
pub mod lm;
pub mod pipeline;
pub mod psf;

pub use check::{Check, Comparison, Output, RelativeTolerance, Tolerance};
pub use error::KernelError;
pub use kernel::{Case, DynKernel, Instance, Kernel, Reference, VariantRef};
pub use params::{ParamKind, ParamSpec, Params};
pub use variant::{
    Availability, Event, NotApplicable, Precision, Prepared, Stage, Strategy, Variant, VariantInfo,
    Work,
};

/// Naive (oracle) variants estimate their run time and skip themselves above this, with the
/// estimate as the reason. Override with `HARNESS_NAIVE_LIMIT_S`.
pub fn naive_time_limit_s() -> f64 {
    std::env::var("HARNESS_NAIVE_LIMIT_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60.0)
}

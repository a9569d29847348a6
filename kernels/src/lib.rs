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
//!   probe → prepare → one run → validate, before anyone times), [`registry`], [`memory`]
//!   (what the process may still allocate, for the checks made before building);
//! - the engines the kernels share: [`fft2d`] (2-D real FFTs, the SIMD-lane FFT), [`gpu`]
//!   (wgpu plumbing and the WGSL FFT), [`simd`];
//! - the kernels: one folder each, one file per variant (`naive.rs` is the oracle).
//!
//! Cargo features: `gpu` (wgpu compute shaders, Vulkan only) and
//! `library` (third-party solvers used as comparison variants); both on by default.

pub mod check;
pub mod error;
pub mod external;
pub mod fft2d;
pub mod gate;
pub mod gpu;
pub mod io;
pub mod kernel;
pub mod memory;
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
pub use kernel::{Case, DynKernel, GpuScale, Instance, Kernel, Reference, VariantRef};
pub use params::{ParamKind, ParamSpec, Params};
pub use variant::{
    Availability, Event, NotApplicable, Precision, Prepared, Stage, Strategy, Variant, VariantInfo,
    Work,
};

/// Naive (oracle) variants (and GPU variants on a software adapter) estimate their run time
/// and skip themselves above this, with the estimate as the reason. Override with
/// `HARNESS_NAIVE_LIMIT_S`, a positive finite number of seconds; unset, 60.
///
/// Parsed strictly: `nan` (false against every estimate: it would lift the limit), `inf`,
/// zero, negative numbers, units (`60s`) and an empty value are an error, never the default.
/// The function neither panics nor caches (the variable is read at each call, as cheap as
/// before): the probes that use it return an [`Availability`], and turn the error into
/// `Skipped` with its message, so every time-limited variant says what to fix; a program
/// checks the value once, before it builds or runs anything, with [`check_environment`].
pub fn naive_time_limit_s() -> Result<f64, KernelError> {
    const NAME: &str = "HARNESS_NAIVE_LIMIT_S";
    let Some(value) = std::env::var_os(NAME) else {
        return Ok(60.0);
    };
    let value = value.to_string_lossy();
    match value.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Ok(seconds),
        _ => Err(KernelError::Environment {
            name: NAME,
            value: value.into_owned(),
            reason: "expected a positive number of seconds (e.g. 60); unset it for the default \
                     60 s"
                .into(),
        }),
    }
}

/// Checks every environment variable the library reads (`HARNESS_NAIVE_LIMIT_S`,
/// `HARNESS_REQUIRE_GPU`, `HARNESS_REFERENCES`, `HARNESS_MEMORY_LIMIT`, `HARNESS_GPU_FAULT`,
/// `HARNESS_GPU_MAX_BINDING`, `HARNESS_GPU_MAX_WORKGROUP_STORAGE`), so that a program
/// can refuse a bad value once, before anything is built or run, rather than meet it later
/// as a skip reason, a failed validation or a memory check switched off.
pub fn check_environment() -> Result<(), KernelError> {
    naive_time_limit_s()?;
    gate::Policy::from_env()?;
    io::references_dir()?;
    memory::limit_from_env()?;
    gpu::faults::fault_from_env()?;
    gpu::faults::max_binding_from_env()?;
    gpu::faults::max_workgroup_storage_from_env()?;
    Ok(())
}

//! GPU plumbing shared by every kernel: adapter and device (wgpu, **Vulkan only**), buffers,
//! a pipeline cache, dispatch over the 65 535-workgroup limit, chunking for the storage
//! binding limit, error scopes, and timestamp queries.
//!
//! Kernels use the small API of this module, never `wgpu` directly, so that they compile
//! unchanged without the `gpu` cargo feature: the build without it (submodule `stub`) has the same
//! names and every call answers "built without the `gpu` feature". This module is the one
//! place with `#[cfg(feature = "gpu")]`.
//!
//! The life of a GPU variant:
//!
//! ```text
//! prepare:  ctx = gpu::context()?                     one device per process
//!           ctx.pipeline(name, wgsl, entry, bindings)  compiled once, cached by name
//!           ctx.storage_from(..), ctx.readback(..)     uploads, scratch, readback space
//!           ctx.bind(&pipeline, &[..]), Timer::new(ctx, stages)
//! run:      let mut enc = ctx.encoder(label, Some(&mut timer));
//!           enc.stage("compute"); enc.dispatch(&pipeline, &bind, workgroups);
//!           enc.stage("download"); enc.download(&out, &readback);
//!           enc.submit()?;                             waits for the device
//!           timer.time("download", || readback.read_into(&mut host))?;
//! stages:   timer.stages()                             upload / compute / download
//! ```
//!
//! Why Vulkan only: with `Backends::all()`, a machine without a Vulkan driver silently falls
//! back to OpenGL through EGL, which has no f64 shaders and hides the missing driver. A
//! software adapter (Mesa lavapipe, device type `Cpu`) is always reported as such.

#[cfg(feature = "gpu")]
mod device;
#[cfg(feature = "gpu")]
pub use device::*;

#[cfg(not(feature = "gpu"))]
mod stub;
#[cfg(not(feature = "gpu"))]
pub use stub::*;

use std::ops::Range;

use crate::error::KernelError;

/// What the harness records about the GPU adapter (a software adapter such as lavapipe
/// must never pass for a real GPU).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    /// wgpu's device type: DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu (software), Other.
    pub device_type: String,
    pub backend: String,
    pub driver: String,
    /// True for a software rasteriser (lavapipe/llvmpipe: device type Cpu).
    pub software: bool,
    pub shader_f64: bool,
    pub timestamps: bool,
    /// The fault injected by `HARNESS_GPU_FAULT` ([`faults`]), or empty: a run with one is
    /// a test of the harness, never a measurement of the adapter.
    pub injected_fault: String,
    /// The binding limit `HARNESS_GPU_MAX_BINDING` imposed (bytes), or `None`.
    pub lowered_max_binding: Option<u64>,
    /// The workgroup-memory limit `HARNESS_GPU_MAX_WORKGROUP_STORAGE` imposed (bytes), or
    /// `None`.
    pub lowered_max_workgroup_storage: Option<u64>,
}

/// The adapter the GPU variants would use, or why there is none.
pub fn adapter() -> Result<AdapterSummary, String> {
    context()
        .map(|c| c.summary().clone())
        .map_err(|e| e.to_string())
}

/// Why a GPU operation failed. The message says what to do where there is something to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GpuError(pub String);

impl From<GpuError> for KernelError {
    fn from(e: GpuError) -> Self {
        KernelError::Gpu(e.0)
    }
}

/// What a pipeline's binding `i` (group 0, binding i) is, in the order of the WGSL
/// declarations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binding {
    /// `var<storage, read>`
    ReadOnly,
    /// `var<storage, read_write>`
    ReadWrite,
    /// `var<uniform>`
    Uniform,
}

/// The (x, y, z) workgroup grid for `workgroups` workgroups when one dimension holds at most
/// `max_per_dim` (65 535 in WebGPU). The grid may hold up to x − 1 more workgroups than
/// asked: shaders recover the flat index with [`WGSL_FLAT_WORKGROUP`] and return when the
/// item is past the end.
pub fn grid(workgroups: u32, max_per_dim: u32) -> [u32; 3] {
    let x = workgroups.clamp(1, max_per_dim);
    let rest = workgroups.div_ceil(x).max(1);
    let y = rest.min(max_per_dim);
    let z = rest.div_ceil(y);
    [x, y, z]
}

/// WGSL helper to prepend to a shader: the flat workgroup index of a grid made by [`grid`].
/// Use with `@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>`:
/// `let i = flat_workgroup(wid, nwg) * WG + lid.x; if (i >= n) { return; }`.
pub const WGSL_FLAT_WORKGROUP: &str = "
fn flat_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}
";

/// Splits `len` elements of `elem_bytes` each into ranges that fit one storage binding of
/// at most `max_binding_bytes`, every range starting at a multiple of `offset_alignment`
/// bytes (binding offsets must be aligned). Use [`GpuContext::chunks`] for this device's
/// limits (lavapipe binds at most 128 MiB).
pub fn chunk_ranges(
    len: usize,
    elem_bytes: usize,
    max_binding_bytes: u64,
    offset_alignment: u64,
) -> Vec<Range<usize>> {
    let elem = elem_bytes.max(1) as u64;
    let align = offset_alignment.max(1);
    // The chunk size in bytes is a multiple of both the element size and the alignment.
    let step = lcm(elem, align);
    let chunk_bytes = (max_binding_bytes / step * step).max(step);
    let chunk = (chunk_bytes / elem) as usize;
    (0..len)
        .step_by(chunk.max(1))
        .map(|s| s..(s + chunk).min(len))
        .collect()
}

fn lcm(a: u64, b: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    a / gcd(a, b) * b
}

pub mod ceilings;
pub mod faults;
pub mod fft;
pub mod fft_four_step;
pub mod fft_shared;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_every_workgroup_within_the_limit() {
        for w in [0u32, 1, 7, 65_535, 65_536, 1 << 20, 70_000 * 3, u32::MAX] {
            let [x, y, z] = grid(w, 65_535);
            assert!(
                x <= 65_535 && y <= 65_535 && z <= 65_535,
                "{w}: {x} {y} {z}"
            );
            let total = x as u64 * y as u64 * z as u64;
            assert!(total >= w as u64, "{w}: {x}·{y}·{z} < w");
            assert!(total < w as u64 + x as u64 * y as u64 + x as u64 || w == 0);
        }
        assert_eq!(grid(100, 65_535), [100, 1, 1]);
    }

    #[test]
    fn chunks_fit_the_binding_and_are_aligned() {
        let max = 128 << 20;
        let ranges = chunk_ranges(100_000_000, 12, max, 256);
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, 100_000_000);
        for w in ranges.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        for r in &ranges {
            assert!((r.len() * 12) as u64 <= max);
            assert_eq!((r.start * 12) % 256, 0);
        }
        assert_eq!(chunk_ranges(10, 4, max, 256), vec![0..10]);
        assert!(chunk_ranges(0, 4, max, 256).is_empty());
    }
}

//! `pipeline/deconv-stack/gpu-overlapped` — the device never waits for a transfer: three
//! sets of image buffers, so that while the device deconvolves image m, image m+1 (and
//! m+2) are already staged and submitted behind it and image m−1 is being read back. The
//! PSF spectrum stays on the device for the whole stack (uploaded in setup).
//!
//! wgpu exposes one queue: the device-side copies of an image still run between the
//! previous image's dispatches and its own, and cannot overlap compute on a copy engine.
//! What this variant removes is every host round trip from the device's path: staging,
//! mapping, reading back and widening all happen while the device has queued work.
//! Compare the `compute` lane of its timeline with `gpu-serial`'s: the gaps between
//! images are the host's turns there.
//!
//! f32, with deconv's `gpu-f32` tolerance (see `gpu-serial`). Same arithmetic as
//! `gpu-serial`: its output is bit-identical to it.

use super::PipelineProblem;
use super::device::unavailable;
use super::gpu_serial::OnGpu;
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

/// Images in flight: one computing, one queued behind it, one being staged or read back.
pub const SLOTS: usize = 3;

pub struct GpuOverlapped;

const INFO: VariantInfo = variant!(
    "gpu-overlapped",
    Gpu,
    F32,
    "three images in flight: the next is staged and queued, the last read back, while one computes"
);

impl Variant<PipelineProblem> for GpuOverlapped {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &PipelineProblem) -> Availability {
        unavailable(p, p.len()).unwrap_or(Availability::Ready)
    }
    fn prepare(&self, p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(OnGpu::new(p, SLOTS.min(p.len()))?))
    }
}

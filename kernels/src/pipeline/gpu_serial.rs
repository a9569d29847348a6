//! `pipeline/deconv-stack/gpu-serial` — upload, deconvolve, download, next: deconv's f32
//! GPU deconvolution (see [`super::device`]) with one set of image buffers, so the device
//! waits while the host stages each image and reads each result back, and the host waits
//! while the device computes. The PSF spectrum is uploaded once, in setup.
//!
//! f32: real GPUs run f64 slowly or not at all, and `deconv/*/gpu-f32` is the variant a
//! pipeline would use; the tolerance is that variant's (f32 single-image bound).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::device::{GpuStack, unavailable};
use super::{Clock, PipelineProblem, Stack, Timeline};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Availability, Event, Prepared, Stage, Variant, VariantInfo};

pub struct GpuSerial;

const INFO: VariantInfo = variant!(
    "gpu-serial",
    Gpu,
    F32,
    "upload, deconvolve, download, next: device and host take turns waiting"
);

impl Variant<PipelineProblem> for GpuSerial {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &PipelineProblem) -> Availability {
        unavailable(p, p.len()).unwrap_or(Availability::Ready)
    }
    fn prepare(&self, p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(OnGpu::new(p, 1)?))
    }
}

/// A [`GpuStack`] running the whole stack (`gpu-serial` with one slot, `gpu-overlapped`
/// with several).
pub(super) struct OnGpu {
    pub(super) problem: PipelineProblem,
    pub(super) gpu: GpuStack,
    pub(super) stack: Stack,
    pub(super) timeline: Timeline,
}

impl OnGpu {
    pub(super) fn new(p: &PipelineProblem, slots: usize) -> Result<OnGpu, KernelError> {
        Ok(OnGpu {
            gpu: GpuStack::new(p, slots)?,
            stack: Stack::new(p),
            timeline: Timeline::default(),
            problem: p.clone(),
        })
    }
}

impl Prepared for OnGpu {
    fn run(&mut self) -> Result<(), KernelError> {
        self.timeline.clear();
        let clock = Clock::start();
        let next = AtomicUsize::new(0);
        let k = self.problem.len();
        let claim = || Some(next.fetch_add(1, Ordering::Relaxed)).filter(|&m| m < k);
        self.gpu.process(
            &self.problem.images,
            claim,
            &self.stack,
            &self.timeline,
            clock,
        )
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(&self.stack))
    }
    /// Totals of the timeline's lanes (host clocks; see [`super::device`]).
    fn stages(&self) -> Vec<Stage> {
        self.timeline.stages(&["upload", "compute", "download"])
    }
    fn events(&self) -> Vec<Event> {
        self.timeline.events()
    }
}

//! The GPU side shared by `gpu-serial`, `gpu-overlapped` and `hybrid`: deconv's f32 GPU
//! deconvolution (`deconv/*/gpu-f32`: the shared WGSL FFT, deconv's `gpu.wgsl` steps, the
//! same dispatch sequence) with the PSF spectrum uploaded once and kept on the device, and
//! `slots` sets of per-image buffers so that several images can be in flight.
//!
//! One image's life: **upload** (clip and round to f32 on the host, `queue.write_buffer`
//! into the slot's image buffer; the device copy runs at the head of the next submission),
//! **compute** (one submission: reset the state, every iteration, copy the result and the
//! state into the slot's readback buffers), **download** (map the readback buffer once its
//! submission alone has finished, copy out, widen to f64).
//!
//! [`GpuStack::process`] keeps up to `slots` images submitted: while the device computes
//! image m, the host stages m+1 … m+slots−1 and reads back m−1. wgpu has one queue, so the
//! device-side copies still take their turn between dispatches; what overlaps is everything
//! the host does, and the device always has the next image queued when one finishes.
//!
//! Timeline (host clocks): `upload` = clip, convert and write; `compute` = from the later of
//! its submission and the previous image's observed end, to when the host saw it finish
//! (the host is usually already waiting for it, so this is close; otherwise late);
//! `download` = map, copy and widen.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Clock, PipelineProblem, Stack, Timeline};
use crate::deconv::DeconvProblem;
use crate::deconv::engine::gpu::{F32_MAX, ImageBuffers, Iterations, NonFinite, full_spectrum};
use crate::error::KernelError;
use crate::gpu::fft::{GpuFft, GpuMultiply, Shape};
use crate::gpu::{self, Buffer, Readback, Submission};
use crate::variant::{Availability, Precision};

/// Seconds per pixel and iteration on lavapipe in f32 (deconv/gpu.rs's measurement).
const SOFTWARE_SECONDS_PER_PIXEL_ITERATION: f64 = 3e-7;

/// Why the GPU variants cannot run this problem here, if they cannot (deconv's `gpu-f32`
/// probe, for the `images_on_gpu` images the variant may put on the device: the whole stack,
/// or for `hybrid` one calibration image, after which its tail rule keeps a slow device out).
pub fn unavailable(p: &PipelineProblem, images_on_gpu: usize) -> Option<Availability> {
    if !p.availability().is_ready() {
        return Some(p.availability());
    }
    let first = p.first();
    let (r, c) = (first.rows(), first.cols());
    if !r.is_power_of_two() || !c.is_power_of_two() {
        return Some(Availability::NotApplicable(format!(
            "the shared GPU FFT takes power-of-two sides; these images are {r}×{c}"
        )));
    }
    let ctx = match gpu::context() {
        Ok(c) => c,
        Err(e) => return Some(Availability::Skipped(e.to_string())),
    };
    if let Err(e) = ctx.check_binding("the complex image", (r * c) as u64 * 8) {
        return Some(Availability::Skipped(e.to_string()));
    }
    if ctx.summary().software {
        let estimate = (r * c * first.iterations.max(1) * images_on_gpu) as f64
            * SOFTWARE_SECONDS_PER_PIXEL_ITERATION;
        let limit = match crate::naive_time_limit_s() {
            Ok(limit) => limit,
            Err(e) => return Some(Availability::Skipped(e.to_string())),
        };
        if estimate > limit {
            return Some(Availability::Skipped(format!(
                "estimated {estimate:.0} s for {images_on_gpu} image(s) on the software adapter {} \
                 at {r}×{c} (limit {limit:.0} s, HARNESS_NAIVE_LIMIT_S)",
                ctx.summary().name
            )));
        }
    }
    None
}

/// One image's buffers on the device, and its host staging.
struct Slot {
    image: Buffer,
    estimate: Buffer,
    state: Buffer,
    /// deconv's GPU dispatch sequence, bound to this slot's buffers.
    iterations: Iterations,
    estimate_back: Readback,
    state_back: Readback,
    /// The clipped image in f32 (upload), then the result (download).
    host: Vec<f32>,
    /// Kept alive: bound above.
    _buffers: [Buffer; 2],
}

/// The PSF spectrum on the device and `slots` images' worth of buffers.
pub struct GpuStack {
    fft: GpuFft,
    multiply: GpuMultiply,
    slots: Vec<Slot>,
    state_reset: Buffer,
    cols: usize,
    iterations: usize,
    /// Kept alive: bound in every slot.
    _spectrum: Buffer,
}

impl GpuStack {
    pub fn new(p: &PipelineProblem, slots: usize) -> Result<GpuStack, KernelError> {
        // What cannot work at all (the time estimate for the whole stack is the probes' call:
        // `hybrid` puts one image here when the device is slow).
        if let Some(why) = unavailable(p, 1) {
            return Err(KernelError::Gpu(why.reason().to_string()));
        }
        let ctx = gpu::context()?;
        let first = p.first();
        let (r, c) = (first.rows(), first.cols());
        let len = r * c;
        let fft = GpuFft::new(ctx, Precision::F32, Shape::Grid { rows: r, cols: c })?;
        let multiply = GpuMultiply::new(ctx, Precision::F32)?;
        // P = rfft2(k) in f64 on the host, rounded once to f32: uploaded once, for all images.
        let spectrum: Vec<[f32; 2]> = full_spectrum(&first.transfer(), r, c)
            .into_iter()
            .map(|z| [z.re as f32, z.im as f32])
            .collect();
        let spectrum = ctx.storage_from("pipeline psf spectrum", &spectrum)?;
        let state_reset =
            ctx.storage_from("pipeline state reset", &[1u32, u32::MAX, u32::MAX, 0])?;
        let real_bytes = (len * 4) as u64;
        let slots = (0..slots.max(1))
            .map(|s| -> Result<Slot, KernelError> {
                let image = ctx.storage(&format!("pipeline image {s}"), real_bytes)?;
                let estimate = ctx.storage(&format!("pipeline estimate {s}"), real_bytes)?;
                let work = ctx.storage(&format!("pipeline work {s}"), fft.bytes())?;
                let state = ctx.storage(&format!("pipeline state {s}"), 16)?;
                let params = ctx.uniform_from("pipeline params", &[[len as u32, 0, 0, 0]])?;
                let iterations = Iterations::new(
                    "f32",
                    F32_MAX,
                    &fft,
                    &multiply,
                    &spectrum,
                    len,
                    &ImageBuffers {
                        params: &params,
                        image: &image,
                        estimate: &estimate,
                        work: &work,
                        state: &state,
                    },
                )?;
                Ok(Slot {
                    iterations,
                    estimate_back: ctx.readback(&format!("pipeline back {s}"), real_bytes)?,
                    state_back: ctx.readback(&format!("pipeline state back {s}"), 16)?,
                    host: vec![0.0; len],
                    image,
                    estimate,
                    state,
                    _buffers: [work, params],
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GpuStack {
            fft,
            multiply,
            slots,
            state_reset,
            cols: c,
            iterations: first.iterations,
            _spectrum: spectrum,
        })
    }

    /// Host → device: the clipped image, in f32, into slot `s`.
    fn upload(&mut self, s: usize, image: &DeconvProblem) -> Result<(), KernelError> {
        let slot = &mut self.slots[s];
        image.clip_into(&mut slot.host);
        gpu::context()?.write(&slot.image, 0, &slot.host)?;
        Ok(())
    }

    /// One submission: deconv's gpu-f32 dispatch sequence for slot `s`, then the copies to
    /// its readback buffers. Does not wait.
    fn submit(&self, s: usize) -> Result<Submission, KernelError> {
        let ctx = gpu::context()?;
        let slot = &self.slots[s];
        let mut enc = ctx.encoder("pipeline image", None);
        enc.copy(&self.state_reset, 0, &slot.state, 0, 16);
        slot.iterations
            .encode(&mut enc, &self.fft, &self.multiply, self.iterations);
        enc.download(&slot.estimate, &slot.estimate_back);
        enc.download(&slot.state, &slot.state_back);
        Ok(enc.submit_async()?)
    }

    /// Device → host once `submission` (slot `s`, image `image`) has finished; the first
    /// non-finite ratio, if any, as deconv's GPU variant reports it.
    fn download(
        &mut self,
        s: usize,
        submission: &Submission,
        image: &DeconvProblem,
        m: usize,
        stack: &Stack,
    ) -> Result<Option<NonFinite>, KernelError> {
        let slot = &mut self.slots[s];
        slot.estimate_back
            .read_into_after(submission, &mut slot.host)?;
        let mut state = [0u32; 4];
        slot.state_back.read_into_after(submission, &mut state)?;
        stack.store(m, &slot.host);
        Ok((state[1] != u32::MAX).then(|| {
            let pixel = state[2] as usize;
            let value = image.clipped_image()[pixel];
            NonFinite {
                iteration: state[1] as usize,
                row: pixel / self.cols,
                col: pixel % self.cols,
                image: value,
                // x/0 is inf, 0/0 NaN (the device's value is not kept).
                ratio: if value == 0.0 {
                    f64::NAN
                } else {
                    f64::INFINITY
                },
            }
        }))
    }

    /// Deconvolves the images that `claim` hands out (indices into `images`, until it
    /// returns None), keeping up to `slots` of them submitted at once. Stores each result
    /// in `stack` and its upload / compute / download intervals in `timeline`. Fails with
    /// the first image (in order of completion) whose ratio was not finite.
    pub fn process(
        &mut self,
        images: &[DeconvProblem],
        mut claim: impl FnMut() -> Option<usize>,
        stack: &Stack,
        timeline: &Timeline,
        clock: Clock,
    ) -> Result<(), KernelError> {
        self.process_counting(images, |_| claim(), stack, timeline, clock)
    }

    /// [`GpuStack::process`], telling `claim` how many images are in flight when it asks
    /// (`hybrid`'s rule weighs them). `claim` is asked whenever a slot is free: after
    /// each finished image, and again until it returns None or every slot is in flight;
    /// a None with nothing in flight ends the call.
    pub fn process_counting(
        &mut self,
        images: &[DeconvProblem],
        mut claim: impl FnMut(usize) -> Option<usize>,
        stack: &Stack,
        timeline: &Timeline,
        clock: Clock,
    ) -> Result<(), KernelError> {
        let ctx = gpu::context()?;
        // (image, slot, submission, submitted at)
        let mut in_flight: VecDeque<(usize, usize, Submission, Instant)> = VecDeque::new();
        let mut free: Vec<usize> = (0..self.slots.len()).rev().collect();
        let mut last_end = clock.0;
        let mut failed = None;
        loop {
            // Keep the device fed: stage and submit until every slot is in flight.
            while let Some(&s) = free.last() {
                let Some(m) = claim(in_flight.len()) else {
                    break;
                };
                free.pop();
                let start = Instant::now();
                self.upload(s, &images[m])?;
                timeline.push(clock.event("upload", m, start));
                in_flight.push_back((m, s, self.submit(s)?, Instant::now()));
            }
            let Some((m, s, submission, submitted)) = in_flight.pop_front() else {
                break;
            };
            ctx.wait_for(&submission)?;
            let compute = clock.event("compute", m, submitted.max(last_end));
            last_end = Instant::now();
            timeline.push(compute);
            let start = Instant::now();
            let bad = self.download(s, &submission, &images[m], m, stack)?;
            timeline.push(clock.event("download", m, start));
            if let Some(bad) = bad {
                failed.get_or_insert((m, bad));
            }
            free.push(s);
        }
        match failed {
            Some((m, bad)) => Err(KernelError::Failed(format!("image {m}: {}", bad.error()))),
            None => Ok(()),
        }
    }
}

//! The GPU side shared by `gpu-serial`, `gpu-overlapped` and `hybrid`: deconv's f32 GPU
//! deconvolution (`deconv/*/gpu-f32`: the same plan, shaders and dispatch sequence) with the
//! PSF spectrum uploaded once and kept on the device, and `slots` sets of per-image buffers
//! so that several images can be in flight.
//!
//! Which deconvolution runs is deconv's own plan ([`Path`]): the fused shared-memory
//! iteration (`deconv/gpu_shared`: 4 global-memory passes per iteration over the half
//! spectrum) where the sides fit the adapter's workgroup memory, else the Stockham fallback
//! (`deconv/gpu`: complex FFT passes and separate element-wise steps, 4·(FFT passes) + 4).
//! [`GpuStack::path`] says which one a stack was built with, so that a test counts its
//! passes; [`GpuStack::stockham`] forces the fallback (tests compare the two).
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
use crate::deconv::engine::gpu::{
    Columns, F32_MAX, Fused, FusedBuffers, ImageBuffers, Iterations, NonFinite, Path,
    full_spectrum, largest_binding, scaled_transfer,
};
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
    let (what, bytes) = largest_binding(ctx, Precision::F32, r, c, true);
    if let Err(e) = ctx.check_binding(what, bytes) {
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

/// One image's buffers on the device, and its host staging (both paths).
struct Slot {
    image: Buffer,
    estimate: Buffer,
    state: Buffer,
    estimate_back: Readback,
    state_back: Readback,
    /// The clipped image in f32 (upload), then the result (download).
    host: Vec<f32>,
}

/// The device's deconvolution for the whole stack: what every slot shares (the PSF
/// spectrum, the plans) and each slot's dispatch sequence, bound to that slot's buffers.
enum Engine {
    Fused(FusedEngine),
    /// Boxed: much larger than the fused engine.
    Stockham(Box<StockhamEngine>),
}

/// deconv's fused shared-memory iteration, one per slot.
struct FusedEngine {
    steps: Vec<Fused>,
    /// Kept alive: bound above (P/(R·C), the parameters, each slot's half spectrum).
    _buffers: Vec<Buffer>,
}

/// deconv's Stockham fallback: one FFT plan and product, each slot's element-wise steps.
struct StockhamEngine {
    fft: GpuFft,
    multiply: GpuMultiply,
    steps: Vec<Iterations>,
    /// Kept alive: bound above (P, the parameters, each slot's complex work array).
    _buffers: Vec<Buffer>,
}

impl Engine {
    /// The plan this engine runs (its pass count comes from the FFT it holds).
    fn path(&self) -> Path {
        match self {
            Engine::Fused(f) => match f.steps[0].columns() {
                Columns::Whole => Path::Fused,
                Columns::FourStep(split) => Path::FusedFourStep { split },
            },
            Engine::Stockham(s) => Path::Stockham {
                fft_passes: s.fft.global_passes(),
            },
        }
    }

    /// Every iteration of slot `s`'s image (the caller resets its state first).
    fn encode(&self, s: usize, enc: &mut gpu::Encoder, iterations: usize) {
        match self {
            Engine::Fused(f) => f.steps[s].encode(enc, iterations),
            Engine::Stockham(st) => st.steps[s].encode(enc, &st.fft, &st.multiply, iterations),
        }
    }

    /// The fused engine over `slots` (deconv's `gpu-f32` on the fused path, per slot).
    fn fused(first: &DeconvProblem, slots: &[Slot]) -> Result<Engine, KernelError> {
        let ctx = gpu::context()?;
        let (r, c) = (first.rows(), first.cols());
        // P/(R·C) in f64 on the host, rounded once to f32: uploaded once, for all images.
        let transfer: Vec<[f32; 2]> = scaled_transfer(&first.transfer(), r, c)
            .into_iter()
            .map(|z| [z.re as f32, z.im as f32])
            .collect();
        let transfer = ctx.storage_from("pipeline psf half spectrum", &transfer)?;
        let params = ctx.uniform_from(
            "pipeline fused params",
            &[[r, c, c / 2 + 1, 0].map(|v| v as u32)],
        )?;
        let mut steps = Vec::with_capacity(slots.len());
        let mut buffers = Vec::with_capacity(slots.len() + 2);
        for (s, slot) in slots.iter().enumerate() {
            let bytes = (r * (c / 2 + 1)) as u64 * 8;
            let spectrum = ctx.storage(&format!("pipeline half spectrum {s}"), bytes)?;
            let bound = FusedBuffers {
                params: &params,
                image: &slot.image,
                estimate: &slot.estimate,
                spectrum: &spectrum,
                state: &slot.state,
                transfer: &transfer,
            };
            steps.push(Fused::new(Precision::F32, F32_MAX, r, c, &bound)?);
            buffers.push(spectrum);
        }
        buffers.extend([transfer, params]);
        Ok(Engine::Fused(FusedEngine {
            steps,
            _buffers: buffers,
        }))
    }

    /// The Stockham engine over `slots` (deconv's `gpu-stockham-f32`, per slot).
    fn stockham(first: &DeconvProblem, slots: &[Slot]) -> Result<Engine, KernelError> {
        let ctx = gpu::context()?;
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
        let params = ctx.uniform_from("pipeline params", &[[len as u32, 0, 0, 0]])?;
        let mut steps = Vec::with_capacity(slots.len());
        let mut buffers = Vec::with_capacity(slots.len() + 2);
        for (s, slot) in slots.iter().enumerate() {
            let work = ctx.storage(&format!("pipeline work {s}"), fft.bytes())?;
            let bound = ImageBuffers {
                params: &params,
                image: &slot.image,
                estimate: &slot.estimate,
                work: &work,
                state: &slot.state,
            };
            let iterations =
                Iterations::new("f32", F32_MAX, &fft, &multiply, &spectrum, len, &bound)?;
            steps.push(iterations);
            buffers.push(work);
        }
        buffers.extend([spectrum, params]);
        Ok(Engine::Stockham(Box::new(StockhamEngine {
            fft,
            multiply,
            steps,
            _buffers: buffers,
        })))
    }
}

/// The PSF spectrum on the device and `slots` images' worth of buffers.
pub struct GpuStack {
    engine: Engine,
    slots: Vec<Slot>,
    state_reset: Buffer,
    cols: usize,
    iterations: usize,
}

impl GpuStack {
    /// `slots` images in flight, on deconv's plan for this size: the fused path where it
    /// fits, else the Stockham fallback.
    pub fn new(p: &PipelineProblem, slots: usize) -> Result<GpuStack, KernelError> {
        GpuStack::build(p, slots, false)
    }

    /// [`GpuStack::new`] on the Stockham fallback whatever the size (to compare the two).
    pub fn stockham(p: &PipelineProblem, slots: usize) -> Result<GpuStack, KernelError> {
        GpuStack::build(p, slots, true)
    }

    /// The plan the stack runs, with its global-memory passes per iteration.
    pub fn path(&self) -> Path {
        self.engine.path()
    }

    fn build(p: &PipelineProblem, slots: usize, stockham: bool) -> Result<GpuStack, KernelError> {
        // What cannot work at all (the time estimate for the whole stack is the probes' call:
        // `hybrid` puts one image here when the device is slow).
        if let Some(why) = unavailable(p, 1) {
            return Err(KernelError::Gpu(why.reason().to_string()));
        }
        let ctx = gpu::context()?;
        let first = p.first();
        let (r, c) = (first.rows(), first.cols());
        let real_bytes = (r * c * 4) as u64;
        let slots = (0..slots.max(1))
            .map(|s| -> Result<Slot, KernelError> {
                Ok(Slot {
                    image: ctx.storage(&format!("pipeline image {s}"), real_bytes)?,
                    estimate: ctx.storage(&format!("pipeline estimate {s}"), real_bytes)?,
                    state: ctx.storage(&format!("pipeline state {s}"), 16)?,
                    estimate_back: ctx.readback(&format!("pipeline back {s}"), real_bytes)?,
                    state_back: ctx.readback(&format!("pipeline state back {s}"), 16)?,
                    host: vec![0.0; r * c],
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let engine = match Path::plan(ctx, Precision::F32, r, c, stockham)? {
            Path::Fused | Path::FusedFourStep { .. } => Engine::fused(first, &slots)?,
            Path::Stockham { .. } => Engine::stockham(first, &slots)?,
        };
        Ok(GpuStack {
            engine,
            slots,
            state_reset: ctx
                .storage_from("pipeline state reset", &[1u32, u32::MAX, u32::MAX, 0])?,
            cols: c,
            iterations: first.iterations,
        })
    }

    /// Host → device: the clipped image, in f32, into slot `s`.
    fn upload(&mut self, s: usize, image: &DeconvProblem) -> Result<(), KernelError> {
        let slot = &mut self.slots[s];
        image.clip_into(&mut slot.host);
        gpu::context()?.write(&slot.image, 0, &slot.host)?;
        Ok(())
    }

    /// One submission: deconv's gpu-f32 dispatch sequence (this stack's path) for slot
    /// `s`, then the copies to its readback buffers. Does not wait.
    fn submit(&self, s: usize) -> Result<Submission, KernelError> {
        let ctx = gpu::context()?;
        let slot = &self.slots[s];
        let mut enc = ctx.encoder("pipeline image", None);
        enc.copy(&self.state_reset, 0, &slot.state, 0, 16);
        self.engine.encode(s, &mut enc, self.iterations);
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

//! `pipeline/deconv-stack/hybrid` — CPU threads and the GPU take images from one queue (a
//! shared counter): a host thread drives the GPU exactly as `gpu-overlapped` does, while
//! rayon workers (one fewer than the pool's threads, at least one) deconvolve other images
//! as `threads-over-images` does. Whoever is free takes the next image, so the faster side
//! does more of them; the timeline shows who did which.
//!
//! On a software adapter (lavapipe) the "GPU" runs on the same cores as the CPU workers, so
//! the two compete; with a real GPU they add up.
//!
//! Precision: images done on the CPU are f64, those on the GPU f32; the stack is held to the
//! f32 bound (its worst member). Which image goes where depends on timing, so the output is
//! not reproducible bit for bit — only within that bound.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::device::{GpuStack, unavailable};
use super::gpu_overlapped::SLOTS;
use super::{Clock, GPU_PRECISION, PipelineProblem, Stack, Timeline};
use crate::check::Output;
use crate::deconv::fft::Run;
use crate::error::KernelError;
use crate::variant::{Availability, Event, Precision, Prepared, Stage, Strategy, Variant};

pub struct Hybrid;

impl Variant<PipelineProblem> for Hybrid {
    fn name(&self) -> &'static str {
        "hybrid"
    }
    fn strategy(&self) -> Strategy {
        Strategy::Gpu
    }
    fn precision(&self) -> Precision {
        GPU_PRECISION
    }
    fn idea(&self) -> &'static str {
        "CPU workers and the GPU take images from one shared counter, whoever is free"
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, p: &PipelineProblem) -> Availability {
        unavailable(p).unwrap_or(Availability::Ready)
    }
    fn prepare(&self, p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        let workers = rayon::current_num_threads().saturating_sub(1).max(1);
        Ok(Box::new(Both {
            gpu: Mutex::new(GpuStack::new(p, SLOTS.min(p.len()))?),
            engines: (0..workers).map(|_| Run::new(p.first())).collect(),
            stack: Stack::new(p),
            timeline: Timeline::default(),
            problem: p.clone(),
        }))
    }
}

struct Both {
    problem: PipelineProblem,
    /// In a Mutex so that the GPU thread can borrow it mutably next to the CPU workers.
    gpu: Mutex<GpuStack>,
    engines: Vec<Run<f64>>,
    stack: Stack,
    timeline: Timeline,
}

impl Prepared for Both {
    fn run(&mut self) -> Result<(), KernelError> {
        self.timeline.clear();
        let clock = Clock::start();
        let next = AtomicUsize::new(0);
        let k = self.problem.len();
        let claim = || Some(next.fetch_add(1, Ordering::Relaxed)).filter(|&m| m < k);
        let (images, stack, timeline) = (&self.problem.images, &self.stack, &self.timeline);
        let gpu = &self.gpu;
        let cpu_failed = Mutex::new(None);
        let gpu_result = std::thread::scope(|scope| {
            let driver = scope.spawn(|| {
                let mut gpu = gpu.lock().unwrap_or_else(|e| e.into_inner());
                gpu.process(images, claim, stack, timeline, clock)
            });
            self.engines.par_iter_mut().for_each(|engine| {
                while let Some(m) = claim() {
                    let start = std::time::Instant::now();
                    engine.load(&images[m]);
                    if let Err(e) = engine.run() {
                        let mut f = cpu_failed.lock().unwrap_or_else(|e| e.into_inner());
                        f.get_or_insert((m, e));
                    }
                    stack.store(m, engine.estimate());
                    timeline.push(clock.event("cpu", m, start));
                }
            });
            driver
                .join()
                .unwrap_or_else(|_| Err(KernelError::Failed("the GPU thread panicked".into())))
        });
        gpu_result?;
        match cpu_failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some((m, e)) => Err(KernelError::Failed(format!("image {m}: {e}"))),
            None => Ok(()),
        }
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(&self.stack))
    }
    /// Totals of the GPU lanes and of the CPU workers' time (host clocks).
    fn stages(&self) -> Vec<Stage> {
        self.timeline
            .stages(&["upload", "compute", "download", "cpu"])
    }
    fn events(&self) -> Vec<Event> {
        self.timeline.events()
    }
}

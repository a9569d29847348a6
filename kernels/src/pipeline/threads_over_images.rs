//! `pipeline/deconv-stack/threads-over-images` — the joblib / process-pool pattern without
//! the processes: one worker per rayon thread, each with its own one-thread deconvolution
//! state (made in setup), taking the next image from a shared counter until the stack is
//! done. Images are independent, so there is no synchronisation but the counter.
//!
//! Each worker's engine is the best one-thread engine for the shape ([`Worker`]):
//! deconv's `lanes` arithmetic kept on the worker's own thread where both sides have no
//! prime factor above 7 — on one thread it takes 0.40–0.46 of the time of deconv's `fft`
//! (rustfft, one step per pass, which this variant ran until issue 20) at 256², 512² and
//! 1024² — and `fft` elsewhere (at 254² the lanes, falling back to rustfft one lane at a
//! time, took 1.10× its time). With lanes its output is `threads-inside-image`'s to the
//! bit (the same arithmetic, whatever the thread count), within the f64 tolerance of
//! `serial`; with `fft` it is `serial`'s to the bit.
//!
//! The price is memory: every worker holds a full image's FFT state (and its working set
//! leaves the cache to the other workers), where `threads-inside-image` shares one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::{Clock, PipelineProblem, Stack, Timeline};
use crate::check::Output;
use crate::deconv::engine::{Engine, Worker};
use crate::error::KernelError;
use crate::variant::{Availability, Event, Prepared, Variant, VariantInfo};

pub struct ThreadsOverImages;

const INFO: VariantInfo = variant!(
    "threads-over-images",
    Parallel,
    F64,
    "rayon workers take whole images from a shared counter, each image on one thread \
     (deconv's lanes arithmetic, or fft at sides with a prime factor above 7)"
);

impl Variant<PipelineProblem> for ThreadsOverImages {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &PipelineProblem) -> Availability {
        p.availability()
    }
    fn prepare(&self, p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        // One state per thread of the pool the harness installed (more would sit idle).
        let workers = rayon::current_num_threads().clamp(1, p.len());
        Ok(Box::new(Over {
            problem: p.clone(),
            engines: (0..workers).map(|_| Worker::new(p.first())).collect(),
            stack: Stack::new(p),
            timeline: Timeline::default(),
        }))
    }
}

struct Over {
    problem: PipelineProblem,
    engines: Vec<Worker>,
    stack: Stack,
    timeline: Timeline,
}

impl Prepared for Over {
    fn run(&mut self) -> Result<(), KernelError> {
        self.timeline.clear();
        let clock = Clock::start();
        let next = AtomicUsize::new(0);
        let failed = Mutex::new(None);
        let (images, stack, timeline) = (&self.problem.images, &self.stack, &self.timeline);
        self.engines.par_iter_mut().for_each(|engine| {
            loop {
                let m = next.fetch_add(1, Ordering::Relaxed);
                let Some(image) = images.get(m) else { break };
                let start = std::time::Instant::now();
                engine.load(image);
                if let Err(e) = engine.run() {
                    // Keep the first image's error (by index), as serial would report it.
                    let mut f = failed.lock().unwrap_or_else(|e| e.into_inner());
                    if f.as_ref().is_none_or(|(k, _)| m < *k) {
                        *f = Some((m, e));
                    }
                }
                stack.store(m, engine.estimate());
                timeline.push(clock.event("cpu", m, start));
            }
        });
        match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some((m, e)) => Err(KernelError::Failed(format!("image {m}: {e}"))),
            None => Ok(()),
        }
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(&self.stack))
    }
    fn events(&self) -> Vec<Event> {
        self.timeline.events()
    }
}

//! `pipeline/deconv-stack/hybrid` — CPU threads and the GPU take images from one queue: a
//! host thread drives the GPU exactly as `gpu-overlapped` does (up to 3 images in flight),
//! while rayon workers (one per thread of the pool) deconvolve other images as
//! `threads-over-images` does (its one-thread engine, [`Worker`]). The timeline shows who
//! did which.
//!
//! ## Who takes the next image: the tail rule
//!
//! "Whoever is free takes the next image" ends the stack with a tail whenever one side is
//! much slower per image than the other: the slow side takes one of the last images and
//! the fast side, done, waits for it. On this machine's software GPU (lavapipe; the quick
//! suite's 6 images of 128², 10 iterations, 2 cores) the GPU took 2 of the 6 images and
//! finished at 154 ms, while the CPU had done the other 4 by 27 ms. On a real GPU it is the
//! other way round: a CPU worker that takes the last 1024² image makes the GPU wait.
//!
//! So each side knows its time per image, and a worker takes the next image only if it
//! would finish it no later than the other side would finish every image still unclaimed,
//! this one included ([`claim`]):
//!
//! ```text
//! take  ⇔  me.finish(1) ≤ other.finish(remaining)
//! side.finish(n) = ⌈(committed + n) / lanes⌉ × per_image
//! ```
//!
//! `committed` is what a side has taken and not finished, counted as whole images. A GPU
//! with 3 images in flight has committed to all 3: a 4th would be done after 4 g (one queue,
//! one lane). A CPU worker asks for itself: one free lane, so it would be done in c. Seen
//! from the GPU, the CPU side is every worker still taking images, with the images they
//! hold. Why this is the right question: if it holds, taking the image cannot end the stack
//! later than leaving it (the other side would need until `other.finish(remaining)`
//! anyway); if it fails, taking it makes this worker the last to finish, later than the
//! other side would have on its own. One greedy step, asked again at every claim.
//!
//! With lavapipe's numbers (each side alone in `prepare`, quick suite; the CPU workers then
//! ran deconv's `fft`, about 2× slower per image than today's lanes): the GPU takes
//! ~90 ms per image, a CPU worker ~1.7 ms. The GPU's first question is 90 ms against
//! ⌈6 / 2⌉ × 1.7 = 5.1 ms for the two CPU workers to do all six: it declines, and the
//! hybrid is `threads-over-images` — its timeline has no GPU lane, and the run takes
//! ~16 ms instead of ~150. (At 256², 25 iterations: 580 ms against 44 ms, the same.) The
//! GPU would join in only for a stack of more than ~100 such images. The other way round,
//! with a GPU 40× faster than a CPU worker, a CPU worker takes an image only while the GPU
//! has 40 or more (held and unclaimed) to go: the CPU helps with long stacks and stays out
//! of the tail, and for a stack of 40 or fewer the hybrid is the GPU alone.
//!
//! A worker that declines with nothing in hand stops: within a run the times per image are
//! fixed, and the other side's finish only comes closer as images go, so the answer would
//! not change. A GPU that declines with images in flight asks again as each one finishes.
//! A side that has stopped has no lanes left (its finish is infinite), so the last side
//! still running takes every image left: none is left behind, and each is done once.
//!
//! Times per image: each side deconvolves one image alone in `prepare` (after setup has
//! built plans and pipelines; `prepare` is timed apart from the runs, so this costs the
//! runs nothing), and after every run the times that run measured replace them, so that
//! contention between the two sides counts: a CPU image's time, averaged; the GPU's time
//! from its first upload to its last download, per image (its throughput with images in
//! flight). A side that did no image in a run keeps its time.
//!
//! On a software adapter (lavapipe) the "GPU" runs on the same cores as the CPU workers, so
//! the two compete; with a real GPU they add up.
//!
//! Precision: images done on the CPU are f64, those on the GPU f32; the stack is held to the
//! f32 bound (its worst member). Which image goes where depends on timing, so the output is
//! not reproducible bit for bit — only within that bound.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use rayon::prelude::*;

use super::device::{GpuStack, unavailable};
use super::gpu_overlapped::SLOTS;
use super::{Clock, PipelineProblem, Stack, Timeline};
use crate::check::Output;
use crate::deconv::engine::{Engine, Worker};
use crate::error::KernelError;
use crate::variant::{Availability, Event, Prepared, Stage, Variant, VariantInfo};

/// One side of the machine as the rule sees it when a worker asks for an image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Side {
    /// Seconds one lane takes per image.
    pub per_image: f64,
    /// Images it works on at once: CPU workers still taking images; 1 for the GPU (one
    /// queue: images in flight wait their turn); 0 once it has stopped.
    pub lanes: usize,
    /// Images it has taken and not finished, counted whole.
    pub committed: usize,
}

impl Side {
    /// Seconds from now until it would be done with what it holds and `more` images;
    /// infinite with no lanes.
    pub fn finish(&self, more: usize) -> f64 {
        if self.lanes == 0 {
            return f64::INFINITY;
        }
        (self.committed + more).div_ceil(self.lanes) as f64 * self.per_image
    }
}

/// The tail rule: whether `me` should take the next of `remaining` unclaimed images — if it
/// would finish it no later than `other` would finish all of them (ties take: equal sides
/// share the stack as a plain shared counter does).
pub fn claim(me: Side, other: Side, remaining: usize) -> bool {
    remaining > 0 && me.finish(1) <= other.finish(remaining)
}

/// Seconds per image on each side: the rule's inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerImage {
    /// One CPU worker, one image.
    pub cpu: f64,
    /// The GPU, one image (its throughput when several are in flight).
    pub gpu: f64,
}

impl PerImage {
    /// What a run's timeline measured, side by side (None for a side that did no image):
    /// the mean `cpu` interval; the GPU's first upload to last download over its images.
    pub fn measured(events: &[Event]) -> (Option<f64>, Option<f64>) {
        let seconds = |e: &Event| e.end.saturating_sub(e.start).as_secs_f64();
        let cpu: Vec<f64> = events
            .iter()
            .filter(|e| e.lane == "cpu")
            .map(seconds)
            .collect();
        let cpu = (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64);
        let on_gpu = events.iter().filter(|e| e.lane == "compute").count();
        let first = events
            .iter()
            .filter(|e| e.lane == "upload")
            .map(|e| e.start)
            .min();
        let last = events
            .iter()
            .filter(|e| e.lane == "download")
            .map(|e| e.end)
            .max();
        let gpu = match (first, last) {
            (Some(a), Some(b)) if on_gpu > 0 => {
                Some(b.saturating_sub(a).as_secs_f64() / on_gpu as f64)
            }
            _ => None,
        };
        (cpu, gpu)
    }
}

pub struct Hybrid;

const INFO: VariantInfo = variant!(
    "hybrid",
    Gpu,
    F32,
    "CPU workers and the GPU share one queue; each takes the next image only if it would \
         finish it no later than the other side would finish all that is left"
);

impl Variant<PipelineProblem> for Hybrid {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &PipelineProblem) -> Availability {
        unavailable(p, 1).unwrap_or(Availability::Ready)
    }
    fn prepare(&self, p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        let mut both = Both::new(p)?;
        both.per_image = both.calibrate();
        Ok(Box::new(both))
    }
}

impl Hybrid {
    /// `prepare` with the rule's times given instead of measured, for tests: a GPU given
    /// 0 s per image takes every image, one given far more than the CPU takes none.
    pub fn prepare_with(
        p: &PipelineProblem,
        per_image: PerImage,
    ) -> Result<Box<dyn Prepared>, KernelError> {
        let mut both = Both::new(p)?;
        both.per_image = per_image;
        Ok(Box::new(both))
    }
}

struct Both {
    problem: PipelineProblem,
    /// In a Mutex so that the GPU thread can borrow it mutably next to the CPU workers.
    gpu: Mutex<GpuStack>,
    engines: Vec<Worker>,
    stack: Stack,
    timeline: Timeline,
    /// The rule's times: from `calibrate`, then from the last run.
    per_image: PerImage,
}

impl Both {
    fn new(p: &PipelineProblem) -> Result<Both, KernelError> {
        // One worker per pool thread: the GPU's host thread sleeps while the device works
        // (its staging and widening are a small share of an image), and when the rule
        // keeps the GPU out the CPU side is the whole of threads-over-images.
        let workers = rayon::current_num_threads().clamp(1, p.len());
        Ok(Both {
            gpu: Mutex::new(GpuStack::new(p, SLOTS.min(p.len()))?),
            engines: (0..workers).map(|_| Worker::new(p.first())).collect(),
            stack: Stack::new(p),
            timeline: Timeline::default(),
            problem: p.clone(),
            per_image: PerImage { cpu: 0.0, gpu: 0.0 },
        })
    }

    /// One image per side, alone, timed (the first of the stack), into scratch space: the
    /// run's stack keeps NaN until a run writes it, so a missed image still shows.
    fn calibrate(&mut self) -> PerImage {
        let one = PipelineProblem {
            images: self.problem.images[..1].to_vec(),
            label: String::new(),
            missing: None,
        };
        // A failing image is the run's to report (with its index); this needs only the time.
        let start = Instant::now();
        self.engines[0].load(one.first());
        let _ = self.engines[0].run();
        let cpu = start.elapsed().as_secs_f64();
        let mut once = Some(0);
        let gpu = self.gpu.get_mut().unwrap_or_else(|e| e.into_inner());
        let start = Instant::now();
        let _ = gpu.process(
            &one.images,
            || once.take(),
            &Stack::new(&one),
            &Timeline::default(),
            Clock::start(),
        );
        PerImage {
            cpu,
            gpu: start.elapsed().as_secs_f64(),
        }
    }
}

/// The shared queue: the next unclaimed image and what each side holds. Behind one lock, so
/// that each decision sees one consistent state and takes the image in the same breath
/// (claims are once per image: the lock is never contended for long).
struct Queue {
    next: usize,
    len: usize,
    per_image: PerImage,
    cpu_lanes: usize,
    cpu_busy: usize,
    gpu_lanes: usize,
    gpu_busy: usize,
}

impl Queue {
    fn remaining(&self) -> usize {
        self.len - self.next
    }
    fn take(&mut self) -> usize {
        self.next += 1;
        self.next - 1
    }
    fn cpu(&self) -> Side {
        Side {
            per_image: self.per_image.cpu,
            lanes: self.cpu_lanes,
            committed: self.cpu_busy,
        }
    }
    fn gpu(&self) -> Side {
        Side {
            per_image: self.per_image.gpu,
            lanes: self.gpu_lanes,
            committed: self.gpu_busy,
        }
    }

    /// A CPU worker, free (its last image, if `finished`, is stored), asks for the next.
    /// None: it stops.
    fn cpu_next(&mut self, finished: bool) -> Option<usize> {
        if finished {
            self.cpu_busy -= 1;
        }
        let me = Side {
            lanes: 1,
            committed: 0,
            ..self.cpu()
        };
        if claim(me, self.gpu(), self.remaining()) {
            self.cpu_busy += 1;
            Some(self.take())
        } else {
            self.cpu_lanes -= 1;
            None
        }
    }

    /// The GPU driver, with `in_flight` images submitted, asks for another. None with
    /// nothing in flight: it stops.
    fn gpu_next(&mut self, in_flight: usize) -> Option<usize> {
        self.gpu_busy = in_flight;
        if claim(self.gpu(), self.cpu(), self.remaining()) {
            self.gpu_busy += 1;
            Some(self.take())
        } else {
            if in_flight == 0 {
                self.gpu_lanes = 0;
            }
            None
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Prepared for Both {
    fn run(&mut self) -> Result<(), KernelError> {
        self.timeline.clear();
        let clock = Clock::start();
        let k = self.problem.len();
        let queue = Mutex::new(Queue {
            next: 0,
            len: k,
            per_image: self.per_image,
            cpu_lanes: self.engines.len(),
            cpu_busy: 0,
            gpu_lanes: 1,
            gpu_busy: 0,
        });
        let (images, stack, timeline) = (&self.problem.images, &self.stack, &self.timeline);
        let gpu = &self.gpu;
        let cpu_failed = Mutex::new(None);
        let gpu_result = std::thread::scope(|scope| {
            let driver = scope.spawn(|| {
                let mut gpu = lock(gpu);
                let result = gpu.process_counting(
                    images,
                    |in_flight| lock(&queue).gpu_next(in_flight),
                    stack,
                    timeline,
                    clock,
                );
                // Stopped (or failed): the CPU workers take whatever is left.
                let mut q = lock(&queue);
                (q.gpu_lanes, q.gpu_busy) = (0, 0);
                result
            });
            self.engines.par_iter_mut().for_each(|engine| {
                let mut finished = false;
                loop {
                    // Its own statement: the lock is not held while the image is computed.
                    let next = lock(&queue).cpu_next(finished);
                    let Some(m) = next else { break };
                    let start = Instant::now();
                    engine.load(&images[m]);
                    if let Err(e) = engine.run() {
                        lock(&cpu_failed).get_or_insert((m, e));
                    }
                    stack.store(m, engine.estimate());
                    timeline.push(clock.event("cpu", m, start));
                    finished = true;
                }
            });
            driver
                .join()
                .unwrap_or_else(|_| Err(KernelError::Failed("the GPU thread panicked".into())))
        });
        gpu_result?;
        if let Some((m, e)) = cpu_failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(KernelError::Failed(format!("image {m}: {e}")));
        }
        let left = lock(&queue).remaining();
        if left > 0 {
            return Err(KernelError::Failed(format!(
                "hybrid left {left} image(s) unclaimed: the last side running must take them all"
            )));
        }
        // The next run decides with what this one measured.
        let (cpu, gpu) = PerImage::measured(&self.timeline.events());
        self.per_image.cpu = cpu.unwrap_or(self.per_image.cpu);
        self.per_image.gpu = gpu.unwrap_or(self.per_image.gpu);
        Ok(())
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

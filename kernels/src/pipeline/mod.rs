//! A stack of images through one PSF and Richardson–Lucy deconvolution (issue 9): the
//! question a solar-telescope pipeline asks — which way of using the machine gives the most
//! images per second?
//!
//! ```text
//! psf  = AIA PSF of --channel on the R × C grid           once (crate::psf::compute_psf)
//! for each image m of the stack:
//!     out[m] = deconvolve(image[m], psf, iterations)      exactly deconv's problem
//! ```
//!
//! The stack (case `deconv-stack`): `--images` synthetic scenes
//! ([`crate::deconv::scene::synthetic`], seeds `seed, seed+1, …`), then `--trace` copies of
//! the TRACE 171 Å image's central R × C (as deconv's `trace` case reads it). Without the
//! TRACE file the stack is the synthetic images only and the problem's label says so. The
//! bench size of the issue is the default (16 synthetic 1024² images + 4 TRACE copies, 25
//! iterations); the quick suite is small.
//!
//! Images are R × C as in deconv ([`deconv::shape`]): `--n` sets both sides,
//! `--rows`/`--cols` either one. The AIA PSF is computed on square grids, so a rectangle
//! takes a Gaussian `--sigma`. Every CPU variant works at any R × C; the GPU variants need
//! power-of-two sides (their FFT's) and report n/a otherwise, as deconv's `gpu` does.
//!
//! The variants differ only in how they schedule the images; each image's arithmetic is one
//! of deconv's own variants, reused, not rewritten:
//!
//! | variant | schedule | per image |
//! |---|---|---|
//! | `serial` (the oracle) | one image after another | `deconv/*/fft` (one thread) |
//! | `threads-over-images` | rayon workers take images from a shared counter | one-thread `deconv/*/lanes` (`fft` where a side has a prime factor > 7) |
//! | `threads-inside-image` | one image after another | `deconv/*/lanes` (all threads) |
//! | `gpu-serial` | upload, deconvolve, download, next | `deconv/*/gpu-f32`'s plan and shaders (fused shared-memory FFTs; Stockham where a side does not fit) |
//! | `gpu-overlapped` | 3 slots in flight: upload m+1, download m−1 around m | same |
//! | `hybrid` | a GPU thread and CPU workers share one queue, with a tail rule | threads-over-images' and `gpu-f32` |
//!
//! Validation: every image of every variant against `serial`, with the single-image
//! deconvolution's tolerance for the variant's precision ([`crate::deconv::tolerance`]).
//! `serial` itself is `deconv/*/fft` image by image (tests/pipeline.rs checks it bit for
//! bit), which tests/deconv.rs checks against naive and against aiapy's output; no
//! reference file of its own is needed.
//!
//! Timelines: every variant records, per image, when each lane worked on it
//! ([`crate::variant::Event`]: `cpu`, or `upload` / `compute` / `download` for the GPU), from
//! host clocks. The device-busy fraction of a GPU variant is the union of its `compute`
//! intervals over the run's wall time.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ndarray::{ArrayD, IxDyn};

use crate::check::{Output, Tolerance};
use crate::deconv::engine::Engine;
use crate::deconv::{self, Deconv, DeconvProblem, Source, scene};
use crate::error::KernelError;
use crate::fft2d::Float;
use crate::kernel::{Case, GpuScale, Kernel};
use crate::params::{ParamKind, ParamSpec, Params};
use crate::variant::{Availability, Event, NotApplicable, Stage, Variant, VariantInfo, Work};

pub mod device;
pub mod gpu_overlapped;
pub mod gpu_serial;
pub mod hybrid;
pub mod serial;
pub mod threads_inside_image;
pub mod threads_over_images;

/// The stack: one deconvolution problem per image, all sharing one PSF (`Arc`).
#[derive(Clone, Debug)]
pub struct PipelineProblem {
    pub images: Vec<DeconvProblem>,
    /// What the stack is, in words (says when the TRACE image is missing).
    pub label: String,
    /// Why there is nothing to deconvolve, if so: every variant skips.
    pub missing: Option<String>,
}

impl PipelineProblem {
    pub fn len(&self) -> usize {
        self.images.len()
    }
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
    /// The first image (every image has its shape, PSF and iterations).
    pub fn first(&self) -> &DeconvProblem {
        &self.images[0]
    }
    pub fn pixels(&self) -> usize {
        self.first().pixels()
    }
    pub fn iterations(&self) -> usize {
        self.first().iterations
    }

    pub fn availability(&self) -> Availability {
        match &self.missing {
            Some(why) => Availability::Skipped(why.clone()),
            None => Availability::Ready,
        }
    }

    /// The output array name of image `m`: `deconvolved_00`, `deconvolved_01`, ...
    pub fn name(&self, m: usize) -> String {
        let width = (self.len().max(2) - 1).to_string().len().max(2);
        format!("deconvolved_{m:0width$}")
    }

    /// Every image's deconvolution, one named R × C array each, so that each image is
    /// checked against its own peak (a faint image is not judged on a bright one's scale).
    pub fn output(&self, stack: &Stack) -> Output {
        let shape = [self.first().rows(), self.first().cols()];
        Output {
            arrays: stack
                .images
                .iter()
                .enumerate()
                .map(|(m, image)| {
                    let image = image.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let array =
                        ArrayD::from_shape_vec(IxDyn(&shape), image).expect("one value per pixel");
                    (self.name(m), array)
                })
                .collect(),
        }
    }
}

/// The deconvolved stack, written by whichever worker took each image (one lock per
/// image: never contended, each image has one writer per run).
pub struct Stack {
    images: Vec<Mutex<Vec<f64>>>,
}

impl Stack {
    /// Room for every image, made in `prepare` (NaN until a run writes it).
    pub fn new(p: &PipelineProblem) -> Stack {
        Stack {
            images: (0..p.len())
                .map(|_| Mutex::new(vec![f64::NAN; p.pixels()]))
                .collect(),
        }
    }

    /// Stores image `m`'s result, widened to f64.
    pub fn store<T: Float>(&self, m: usize, image: &[T]) {
        let mut out = self.images[m].lock().unwrap_or_else(|e| e.into_inner());
        for (o, v) in out.iter_mut().zip(image) {
            *o = v.to_f64().unwrap_or(f64::NAN);
        }
    }
}

/// One image at a time through a single-image engine whose buffers and PSF spectrum were
/// made once in `prepare` (deconv's `fft` or `lanes` state): `serial` and
/// `threads-inside-image` differ only in the engine.
pub struct OneAtATime<E> {
    pub problem: PipelineProblem,
    pub engine: E,
    pub stack: Stack,
    pub timeline: Timeline,
}

impl<E> OneAtATime<E> {
    pub fn new(p: &PipelineProblem, engine: E) -> OneAtATime<E> {
        OneAtATime {
            problem: p.clone(),
            engine,
            stack: Stack::new(p),
            timeline: Timeline::default(),
        }
    }
}

impl<E: Engine> crate::variant::Prepared for OneAtATime<E> {
    fn run(&mut self) -> Result<(), KernelError> {
        self.timeline.clear();
        let clock = Clock::start();
        for (m, image) in self.problem.images.iter().enumerate() {
            let start = Instant::now();
            self.engine.load(image);
            self.engine.run()?;
            self.stack.store(m, self.engine.estimate());
            self.timeline.push(clock.event("cpu", m, start));
        }
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(&self.stack))
    }
    fn events(&self) -> Vec<Event> {
        self.timeline.events()
    }
}

/// The clock of one run: events are times from its start.
#[derive(Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Clock {
        Clock(Instant::now())
    }
    /// The interval `[start, now]` of `lane` for image `m`.
    pub fn event(&self, lane: &'static str, image: usize, start: Instant) -> Event {
        Event {
            lane,
            image,
            start: start.saturating_duration_since(self.0),
            end: Instant::now().saturating_duration_since(self.0),
        }
    }
}

/// The timeline of one run, pushed to by every worker.
#[derive(Default)]
pub struct Timeline(Mutex<Vec<Event>>);

impl Timeline {
    pub fn clear(&self) {
        self.lock().clear();
    }
    pub fn push(&self, e: Event) {
        self.lock().push(e);
    }
    /// The events, ordered by start.
    pub fn events(&self) -> Vec<Event> {
        let mut out = self.lock().clone();
        out.sort_by_key(|e| (e.start, e.image));
        out
    }
    /// Total time per lane (`upload`, `compute`, `download`), for [`crate::Prepared::stages`].
    pub fn stages(&self, lanes: &[&'static str]) -> Vec<Stage> {
        let events = self.lock();
        lanes
            .iter()
            .map(|&lane| Stage {
                name: lane,
                time: events
                    .iter()
                    .filter(|e| e.lane == lane)
                    .map(|e| e.end.saturating_sub(e.start))
                    .sum(),
            })
            .collect()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Event>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The kernel's declaration.
pub struct Pipeline;

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n",
        help: "image side (synthetic scenes and the TRACE crop); power of two for the GPU variants",
        kind: ParamKind::Int { min: 2, max: 4096 },
        default: 1024.0,
        is_size: true,
    },
    ParamSpec {
        name: "rows",
        help: "image rows R for rectangular R×C images (0: n); the AIA PSF is square, so give \
               --sigma with it",
        kind: ParamKind::Int {
            min: 0,
            max: deconv::MAX_SIDE,
        },
        default: 0.0,
        is_size: false,
    },
    ParamSpec {
        name: "cols",
        help: "image columns C for rectangular R×C images (0: n)",
        kind: ParamKind::Int {
            min: 0,
            max: deconv::MAX_SIDE,
        },
        default: 0.0,
        is_size: false,
    },
    ParamSpec {
        name: "images",
        help: "synthetic images in the stack (seeds seed, seed+1, ...)",
        kind: ParamKind::Int { min: 0, max: 4096 },
        default: 16.0,
        is_size: true,
    },
    ParamSpec {
        name: "trace",
        help: "copies of the TRACE 171 Å image's central R×C appended to the stack (0: none; \
               skipped, and said so, when the file is missing)",
        kind: ParamKind::Int { min: 0, max: 4096 },
        default: 4.0,
        is_size: false,
    },
    ParamSpec {
        name: "iterations",
        help: "Richardson–Lucy iterations per image (aiapy's default 25)",
        kind: ParamKind::Int { min: 0, max: 1000 },
        default: 25.0,
        is_size: false,
    },
    ParamSpec {
        name: "channel",
        help: "AIA channel (Å) whose PSF, computed once, deconvolves every image",
        kind: ParamKind::Choice(deconv::CHANNELS),
        default: 171.0,
        is_size: false,
    },
    ParamSpec {
        name: "sigma",
        help: "0: the AIA PSF of --channel (even n ≥ 16); > 0: a Gaussian PSF of this width (px)",
        kind: ParamKind::Float {
            min: 0.0,
            max: 100.0,
        },
        default: 0.0,
        is_size: false,
    },
    ParamSpec {
        name: "seed",
        help: "seed of the first synthetic image",
        kind: ParamKind::Int {
            min: 0,
            max: 2_147_483_647,
        },
        default: 1.0,
        is_size: false,
    },
];

const CASES: &[Case] = &[Case {
    name: "deconv-stack",
    about: "one PSF, then K synthetic images (+ the TRACE image repeated) deconvolved: images/s",
}];

impl Kernel for Pipeline {
    type Problem = PipelineProblem;
    const NAME: &'static str = "pipeline";
    const ABOUT: &'static str = "A stack of images through one PSF and Richardson–Lucy \
        deconvolution (aiapy.psf.deconvolve per image): serial, threads over images, threads \
        inside an image, GPU serial, GPU with transfers overlapped, CPU+GPU hybrid.";

    fn cases() -> &'static [Case] {
        CASES
    }

    fn params() -> &'static [ParamSpec] {
        PARAMS
    }

    fn problem(
        _case: &str,
        p: &Params,
        inputs: &[ArrayD<f64>],
    ) -> Result<PipelineProblem, KernelError> {
        if !inputs.is_empty() {
            return Err(KernelError::Input(
                "pipeline/deconv-stack generates its stack (--images, --trace); to deconvolve \
                 your own image use deconv (--input image.npy)"
                    .into(),
            ));
        }
        let (n, images, copies) = (p.usize("n")?, p.usize("images")?, p.usize("trace")?);
        let (rows, cols) = deconv::shape(p)?;
        let seed = p.usize("seed")? as u64;
        if images + copies == 0 {
            return Err(KernelError::invalid(
                "images",
                "0",
                "the stack is empty: give --images or --trace at least 1",
            ));
        }
        square_or_gaussian(rows, cols, p.get("sigma")?)?;
        // deconv's own problem for the first synthetic image: its PSF (computed once) and
        // its parameters; every other image shares that PSF.
        let single = Params::defaults(Deconv::params())
            .with("n", n as f64)
            .with("rows", rows as f64)
            .with("cols", cols as f64)
            .with("iterations", p.get("iterations")?)
            .with("channel", p.get("channel")?)
            .with("sigma", p.get("sigma")?)
            .with("seed", seed as f64);
        let base = Deconv::problem("synthetic", &single, &[])?;
        let size = shape_label(rows, cols);
        let (mut stack, mut label) = synthetic_stack(&base, images, seed, &size);
        let mut missing = None;
        if copies > 0 {
            missing = append_trace(&base, copies, &size, &mut stack, &mut label)?;
        }
        label += &format!(", {} iterations, {}", base.iterations, base.psf_label);
        if stack.is_empty() {
            // Keeps first() valid; every variant skips with `missing`.
            stack.push(base);
        }
        Ok(PipelineProblem {
            images: stack,
            label,
            missing,
        })
    }

    fn variants() -> Vec<Box<dyn Variant<PipelineProblem>>> {
        vec![
            Box::new(serial::Serial),
            // The pipeline's strategies schedule whole images; SIMD and FFTs act inside one
            // image's deconvolution, which is deconv's business.
            Box::new(NotApplicable::new(
                variant!(
                    "vectorised",
                    Vectorised,
                    F64,
                    "n/a: SIMD is inside one image's deconvolution, not in how images are scheduled"
                ),
                "SIMD acts inside one image's deconvolution (see deconv/*/vectorised; every \
                 variant here already runs deconv's vectorised element-wise passes): the \
                 pipeline only schedules whole images",
            )),
            Box::new(NotApplicable::new(
                variant!(
                    "fft",
                    Fft,
                    F64,
                    "n/a: every variant already uses FFTs; the pipeline varies the schedule"
                ),
                "every pipeline variant already deconvolves each image with FFTs (deconv's \
                 fft, lanes and GPU FFT code): the strategies here differ only in how \
                 images are scheduled",
            )),
            Box::new(threads_over_images::ThreadsOverImages),
            Box::new(threads_inside_image::ThreadsInsideImage),
            Box::new(gpu_serial::GpuSerial),
            Box::new(gpu_overlapped::GpuOverlapped),
            Box::new(hybrid::Hybrid),
        ]
    }

    /// deconv's work per image, times the number of images; items = images (images/s).
    fn work(p: &PipelineProblem) -> Work {
        let one = Deconv::work(p.first());
        let k = p.len() as f64;
        Work {
            flops: k * one.flops,
            bytes: k * one.bytes,
            items: k,
        }
    }

    /// Each image as the single-image deconvolution of the same precision: the same
    /// arithmetic (deconv's variants, reused), so the same bound.
    fn tolerance(p: &PipelineProblem, v: &VariantInfo) -> Tolerance {
        deconv::tolerance(p.iterations(), p.pixels(), v.precision)
    }

    /// None: `serial` is deconv's `fft` variant image by image (checked bit for bit in
    /// tests/pipeline.rs), which deconv's tests check against naive and aiapy's output.
    fn reference_files(_p: &PipelineProblem) -> Vec<(String, std::path::PathBuf)> {
        Vec::new()
    }

    fn oracles() -> &'static [&'static str] {
        &["serial"]
    }

    fn suite() -> Vec<(&'static str, Params)> {
        // Quick: 4 synthetic 128² images + 2 TRACE copies, 10 iterations (well under a
        // second per variant on 2 cores). The issue's 16 × 1024² is the default problem:
        // `harness bench --kernel pipeline --case deconv-stack`.
        let d = Params::defaults(PARAMS);
        vec![(
            "deconv-stack",
            d.with("n", 128.0)
                .with("images", 4.0)
                .with("trace", 2.0)
                .with("iterations", 10.0),
        )]
    }

    fn gpu_suite(scale: GpuScale) -> Vec<(&'static str, Params)> {
        // 64 images of 1024²: long enough a stream that overlapping transfers with compute
        // shows. No TRACE copies: the device machine has no ../shared to read them from.
        let (n, images, iterations) = match scale {
            GpuScale::Device => (1024.0, 64.0, 25.0),
            GpuScale::Tiny => (32.0, 4.0, 5.0),
        };
        let d = Params::defaults(PARAMS);
        vec![(
            "deconv-stack",
            d.with("n", n)
                .with("images", images)
                .with("trace", 0.0)
                .with("iterations", iterations),
        )]
    }

    fn memory_estimate(_case: &str, p: &Params) -> Option<u64> {
        // Inputs and outputs of every image in f64, plus per-worker FFT state (~6 images).
        let (rows, cols) = deconv::shape(p).ok()?;
        let k = (p.usize("images").ok()? + p.usize("trace").ok()?) as u64;
        Some((2 * k + 6) * (rows * cols) as u64 * 8)
    }
}

/// `images` synthetic scenes blurred by `base`'s PSF (seeds `seed`, `seed`+1, ...; the
/// first is `base` itself), and their description.
fn synthetic_stack(
    base: &DeconvProblem,
    images: usize,
    seed: u64,
    size: &str,
) -> (Vec<DeconvProblem>, String) {
    let kernel = deconv::roll(&base.psf);
    let stack = (0..images as u64)
        .map(|k| match k {
            0 => base.clone(),
            k => base.with_image(
                Source::Synthetic { seed: seed + k },
                Arc::new(scene::synthetic(seed + k, &kernel)),
            ),
        })
        .collect();
    let label = match images {
        0 => String::new(),
        1 => format!("1 synthetic {size} (seed {seed})"),
        k => format!(
            "{k} synthetic {size} (seeds {seed}–{})",
            seed + k as u64 - 1
        ),
    };
    (stack, label)
}

/// Appends `copies` of the TRACE crop to the stack. A missing or unreadable file is not an
/// error: the synthetic images go on alone, and the label says why; returns the reason
/// there is nothing at all to deconvolve when the stack is then empty.
fn append_trace(
    base: &DeconvProblem,
    copies: usize,
    size: &str,
    stack: &mut Vec<DeconvProblem>,
    label: &mut String,
) -> Result<Option<String>, KernelError> {
    match scene::trace_crop(&scene::trace_path(), base.rows(), base.cols()) {
        Ok(trace) => {
            let trace = base.with_image(Source::Trace, Arc::new(trace));
            stack.extend(std::iter::repeat_n(trace, copies));
            if !label.is_empty() {
                *label += " + ";
            }
            *label += &format!("{copies} × TRACE 171 Å (central {size})");
            Ok(None)
        }
        Err(e @ KernelError::Read { .. }) => {
            *label += &format!(" (TRACE image missing, synthetic only: {e})");
            Ok(stack
                .is_empty()
                .then(|| format!("no images: --images is 0 and {e}")))
        }
        Err(e) => Err(e),
    }
}

/// The AIA PSF (`--sigma 0`) is computed on square grids only: a rectangle needs a Gaussian.
/// Said here, in the pipeline's words (deconv's message offers a PSF `--input`, which the
/// pipeline does not take).
fn square_or_gaussian(rows: usize, cols: usize, sigma: f64) -> Result<(), KernelError> {
    if rows == cols || sigma > 0.0 {
        return Ok(());
    }
    Err(KernelError::invalid(
        "sigma",
        sigma,
        format!(
            "the AIA PSF is computed on square grids and the images are {rows}×{cols}: give \
             a Gaussian PSF width with --sigma (e.g. --sigma 2)"
        ),
    ))
}

/// `1024²` for a square, `1200×1920` for a rectangle (R × C).
fn shape_label(rows: usize, cols: usize) -> String {
    match rows == cols {
        true => format!("{rows}²"),
        false => format!("{rows}×{cols}"),
    }
}

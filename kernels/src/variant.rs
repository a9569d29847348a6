//! The one trait every variant implements, and the small types around it.
//!
//! A variant is a way of computing a kernel's problem (`P`): naive loops, SIMD, threads, an
//! FFT, a GPU shader or another algorithm. Its life has two timed phases:
//!
//! 1. [`Variant::prepare`] — setup: FFT plans, shader compilation, uploads, scratch space.
//!    Timed on its own, never inside the benchmark loop.
//! 2. [`Prepared::run`] — the work the benchmark times. GPU variants wait for the device
//!    before returning, so the time is the device's too.
//!
//! Thread count belongs to the caller: variants use the current rayon pool, and the harness
//! installs a pool of the size it is measuring.

use std::fmt;
use std::time::Duration;

use crate::check::Output;
use crate::error::KernelError;

/// The family of optimisation a variant demonstrates; a column of every report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Loops that read like the formula: the oracle.
    Naive,
    /// Single thread, data-parallel (SIMD, tables instead of per-term libm calls).
    Vectorised,
    /// rayon threads on top of the vectorised inner code.
    Parallel,
    /// A fast Fourier transform.
    Fft,
    /// A wgpu compute shader.
    Gpu,
    /// A different algorithm for the same result (factorised, separable, windowed, ...).
    Algorithmic,
    /// A third-party library a user would pick instead.
    Library,
    /// A learner's own variant (workshop mode).
    Exercise,
}

impl Strategy {
    /// Every strategy a kernel case must list, as a variant or as "n/a" with a reason.
    pub const STANDARD: [Strategy; 5] = [
        Strategy::Naive,
        Strategy::Vectorised,
        Strategy::Parallel,
        Strategy::Fft,
        Strategy::Gpu,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Naive => "naive",
            Strategy::Vectorised => "vectorised",
            Strategy::Parallel => "parallel",
            Strategy::Fft => "fft",
            Strategy::Gpu => "gpu",
            Strategy::Algorithmic => "algorithmic",
            Strategy::Library => "library",
            Strategy::Exercise => "exercise",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Floating-point precision of a variant's arithmetic; a column of every report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    F64,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a variant can run here, on this problem. Never a crash: a missing GPU or CPU
/// feature is `Skipped`, a strategy that the maths rules out is `NotApplicable`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    Ready,
    /// The machine lacks something (no GPU adapter, no f64 shaders, too slow at this size).
    Skipped(String),
    /// The strategy cannot apply to this case, whatever the machine.
    NotApplicable(String),
}

impl Availability {
    pub fn is_ready(&self) -> bool {
        matches!(self, Availability::Ready)
    }

    /// `ok`, `skipped` or `n/a`: the status column.
    pub fn label(&self) -> &'static str {
        match self {
            Availability::Ready => "ok",
            Availability::Skipped(_) => "skipped",
            Availability::NotApplicable(_) => "n/a",
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Availability::Ready => "",
            Availability::Skipped(r) | Availability::NotApplicable(r) => r,
        }
    }
}

/// The nominal work of one run, from the formula (not from the variant), so that every
/// variant of a problem is measured against the same yardstick. Algorithmic variants that
/// skip work therefore show "effective" rates above what the hardware could do by brute force.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Work {
    /// Floating-point operations of one run, as each kernel's docs define them.
    pub flops: f64,
    /// Bytes that must cross the memory bus at least once (inputs read + outputs written).
    pub bytes: f64,
    /// Independent items (output points, fits, images): throughput per second in reports.
    pub items: f64,
}

/// A named stage of a run measured inside the variant (GPU upload/compute/download from
/// timestamp queries, or per-stage CPU timings such as PSF spikes vs composite).
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: &'static str,
    pub time: Duration,
}

/// One interval of a pipeline's timeline: what one lane did for one image during the last
/// run, in time from the start of that run (host clock, `Instant`). Lanes: `"upload"`
/// (host → device), `"compute"` (the device deconvolving), `"download"` (device → host,
/// mapped and copied out), `"cpu"` (a CPU thread deconvolving the image).
///
/// The report draws these for the pipeline kernel's variants. The device-busy fraction of a
/// GPU variant is the length of the union of its `compute` intervals divided by the run's
/// wall time: a ratio, not a duration, so it is computed from the events and never
/// reported as a [`Stage`].
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub lane: &'static str,
    /// The image's index in the stack.
    pub image: usize,
    pub start: Duration,
    pub end: Duration,
}

/// One way of computing a kernel's problem `P`.
pub trait Variant<P>: Send + Sync {
    /// Short stable name, unique within its kernel: the last part of the id
    /// `kernel/case/name` used in the CLI and as the CSV key.
    fn name(&self) -> &'static str;
    fn strategy(&self) -> Strategy;
    fn precision(&self) -> Precision;
    /// The one idea this variant teaches, in a sentence (shown by `harness list`).
    fn idea(&self) -> &'static str;
    /// The source file (`file!()`): lets tests check that every variant file is registered
    /// and lets learners find the code.
    fn file(&self) -> &'static str;
    /// Capability probe. Must be cheap and must not panic.
    fn probe(&self, problem: &P) -> Availability;
    /// Setup, timed apart: everything that does not have to be redone for each run.
    fn prepare(&self, problem: &P) -> Result<Box<dyn Prepared>, KernelError>;
}

/// A variant bound to one problem, its setup done.
pub trait Prepared: Send {
    /// The timed work. Must leave the result ready for [`Prepared::output`] (GPU: on the
    /// host, so that download is part of what is timed).
    fn run(&mut self) -> Result<(), KernelError>;
    /// The result of the last run. Not timed.
    fn output(&self) -> Result<Output, KernelError>;
    /// Stages measured inside the last run, if the variant measures any.
    fn stages(&self) -> Vec<Stage> {
        Vec::new()
    }
    /// The timeline of the last run (per image and lane), for variants that process a
    /// stack of items (the pipeline kernel); empty for the others. See [`Event`].
    fn events(&self) -> Vec<Event> {
        Vec::new()
    }
}

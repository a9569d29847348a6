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
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Loops that read like the formula: the oracle (and the default of a result row
    /// before its variant is known).
    #[default]
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
    /// A peer implementation in Python (`scripts/peers/`, an external variant), run outside this crate: it
    /// appears in result rows and reports, never in a kernel's table. Also the strategy of
    /// an external variant registered with the label `python`.
    Python,
    /// An implementation outside this crate, run as a worker process (`external.toml`,
    /// docs/external.md); its own label (jax, c++, ...) is in the row's `runtime` column.
    External,
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
            Strategy::Python => "python",
            Strategy::External => "external",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Floating-point precision of a variant's arithmetic; a column of every report.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    /// The oracles' precision (and the default of a result row before its variant is known).
    #[default]
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

impl Precision {
    /// This precision's entry of an f64/f32 pair (`[f64, f32]`, as [`variant_pair!`](crate::variant_pair!) makes).
    pub fn pick<T>(self, pair: &[T; 2]) -> &T {
        match self {
            Precision::F64 => &pair[0],
            Precision::F32 => &pair[1],
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
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

/// What a variant is, in one value: its stable name, the strategy it demonstrates, its
/// arithmetic's precision, the one idea it teaches and its source file. Built in one line
/// with [`variant!`](crate::variant!) (which records `file!()`), or two at once for an
/// f64/f32 pair with [`variant_pair!`](crate::variant_pair!).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VariantInfo {
    /// Short stable name, unique within its kernel: the last part of the id
    /// `kernel/case/name` used in the CLI and as the CSV key.
    pub name: &'static str,
    pub strategy: Strategy,
    pub precision: Precision,
    /// The one idea this variant teaches, in a sentence (shown by `harness list`).
    pub idea: &'static str,
    /// The source file (`file!()`): lets tests check that every variant file is registered
    /// and lets learners find the code.
    pub file: &'static str,
}

/// A variant's identity in one line: `variant!("parallel", Parallel, F64, "rows over
/// threads")` is the [`VariantInfo`] of the file it is written in.
#[macro_export]
macro_rules! variant {
    ($name:expr, $strategy:ident, $precision:ident, $idea:expr $(,)?) => {
        $crate::VariantInfo {
            name: $name,
            strategy: $crate::Strategy::$strategy,
            precision: $crate::Precision::$precision,
            idea: $idea,
            file: file!(),
        }
    };
}

/// The two precisions of one variant, one description: `variant_pair!("fft", "fft-f32",
/// Fft, "...")` is `[f64 info, f32 info]`, indexed by [`Precision::pick`].
#[macro_export]
macro_rules! variant_pair {
    ($f64:expr, $f32:expr, $strategy:ident, $idea:expr $(,)?) => {
        [
            $crate::variant!($f64, $strategy, F64, $idea),
            $crate::variant!($f32, $strategy, F32, $idea),
        ]
    };
}

/// One way of computing a kernel's problem `P`.
pub trait Variant<P>: Send + Sync {
    /// Name, strategy, precision, idea and file ([`variant!`](crate::variant!)).
    fn info(&self) -> &VariantInfo;
    /// Capability probe: can it run here, on this problem? Must be cheap and must not
    /// panic. Ready unless the variant says otherwise.
    fn probe(&self, problem: &P) -> Availability {
        let _ = problem;
        Availability::Ready
    }
    /// Setup, timed apart: everything that does not have to be redone for each run.
    fn prepare(&self, problem: &P) -> Result<Box<dyn Prepared>, KernelError>;
}

/// The output `oracle` gives on `problem` before it has run, zeroed: the array names and
/// shapes every variant of the kernel must produce. A workshop exercise starts from it.
pub fn zeroed_output<P>(oracle: &dyn Variant<P>, problem: &P) -> Result<Output, KernelError> {
    let mut output = oracle.prepare(problem)?.output()?;
    for (_, array) in &mut output.arrays {
        array.fill(0.0);
    }
    Ok(output)
}

/// A standard strategy that cannot apply to a kernel (an FFT where nothing is a
/// convolution): listed as `n/a` with its reason, never silently absent. Written in the
/// kernel's table, `NotApplicable::new(variant!("fft", Fft, F64, "n/a: ..."), "why")`.
pub struct NotApplicable {
    info: VariantInfo,
    reason: &'static str,
}

impl NotApplicable {
    pub const fn new(info: VariantInfo, reason: &'static str) -> Self {
        NotApplicable { info, reason }
    }
}

impl<P> Variant<P> for NotApplicable {
    fn info(&self) -> &VariantInfo {
        &self.info
    }
    fn probe(&self, _: &P) -> Availability {
        Availability::NotApplicable(self.reason.into())
    }
    fn prepare(&self, _: &P) -> Result<Box<dyn Prepared>, KernelError> {
        Err(KernelError::Failed(format!(
            "{} is not applicable: {}",
            self.info.name, self.reason
        )))
    }
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
    /// Runs `count` times back to back and returns the seconds per run measured by the
    /// variant's own clock, for variants that run in another process (an external worker:
    /// the harness's clock would add the pipe's round trip to every run). None (the
    /// default): the harness times [`Prepared::run`] itself.
    fn run_self_timed(&mut self, count: u64) -> Option<Result<f64, KernelError>> {
        let _ = count;
        None
    }
}

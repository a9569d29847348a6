//! Time estimates before a variant runs, so that the quick suite skips what would take
//! minutes (a dense PSF on the software Vulkan driver at 4096² took 212 s for one run) and
//! says so, with the estimate, instead of leaving a reader at a silent terminal.
//!
//! An estimate is a measured time per run scaled by the problem's nominal work
//! (`Work.flops`, the same yardstick for every variant): from the closest earlier valid row
//! of the same variant in this run (same case first, then any case of the kernel), or, for
//! the variants no formula covers (GPU variants on a software adapter, workshop exercises),
//! from a small calibration problem of the same case at two sizes (the size parameter an
//! eighth of the job's, then doubled, on while a run is too short to measure more than
//! fixed costs), whose difference separates the fixed cost from the time per unit of work.
//! An external worker that no smaller problem can calibrate (aiapy's PSF fixes N = 4096 and
//! refuses the rest) is estimated from the `seconds_per_run` its registration declares, if
//! any: without it the quick suite ran aiapy's PSF, 209 s a run, and took twice as long.
//! Naive variants keep their own estimate in their probe (`HARNESS_NAIVE_LIMIT_S`). Small
//! problems measure fixed costs too, so estimates err on the long side.

use kernels::gate::{self, Policy};
use kernels::{Instance, Strategy, VariantRef};
use tracing::debug;

use crate::cmd::plan::Job;
use crate::render::fmt::fmt_time;

/// The quick suite's limit on one run's estimated time, in seconds.
pub const QUICK_LIMIT_S: f64 = 5.0;

/// A calibration problem must be at least this many times less work than the job, or it
/// would cost about as much as what it is meant to avoid.
const CALIBRATION_SHRINK: f64 = 4.0;

/// One measured run time and the work it did.
struct Measured {
    kernel: &'static str,
    case: String,
    variant: &'static str,
    threads: usize,
    flops: f64,
    seconds: f64,
    /// The share of `seconds` that does not grow with the work (dispatches, copies of
    /// parameters), from two calibration sizes; 0 for a row.
    overhead: f64,
    /// Where it comes from, for the reason: `n=512` or `a calibration at n=64`.
    from: String,
    /// Declared in the registration, not measured: a constant, whatever the work.
    declared: bool,
}

impl Measured {
    /// `1.20 s at n=512`, or the declaration it comes from.
    fn source(&self) -> String {
        match self.declared {
            true => self.from.clone(),
            false => format!("{} at {}", fmt_time(Some(self.seconds)), self.from),
        }
    }
}

/// What the bench knows of run times so far, and what it skipped for time.
pub(super) struct Estimates {
    /// Seconds per run above which a variant is skipped (None: `--suite full`).
    pub limit: Option<f64>,
    /// Whether the GPU adapter is a software one (lavapipe: the shaders run on these cores).
    software_gpu: bool,
    measured: Vec<Measured>,
    /// `kernel/case/variant [params] · t thread(s): estimated N s`, in order.
    pub skipped: Vec<String>,
}

impl Estimates {
    pub fn new(limit: Option<f64>, software_gpu: bool) -> Estimates {
        Estimates {
            limit,
            software_gpu,
            measured: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Remembers a valid row's median for the estimates of larger problems.
    pub fn record(&mut self, job: &Job, instance: &dyn Instance, v: VariantRef, t: usize, s: f64) {
        let flops = instance.work().flops;
        if flops > 0.0 && s > 0.0 {
            self.measured.push(Measured {
                kernel: job.kernel.name(),
                case: job.case.clone(),
                variant: v.name(),
                threads: t,
                flops,
                seconds: s,
                overhead: 0.0,
                from: job.params.to_string(),
                declared: false,
            });
        }
    }

    /// The reason to skip `v` on this problem at `t` threads, when its estimated time per
    /// run exceeds the limit; None when it may run (or nothing is known to estimate from).
    pub fn skip(
        &mut self,
        job: &Job,
        instance: &dyn Instance,
        v: VariantRef,
        t: usize,
        pool: &rayon::ThreadPool,
    ) -> Option<String> {
        let limit = self.limit?;
        let flops = instance.work().flops;
        if flops <= 0.0 {
            return None;
        }
        let id = format!(
            "{}/{}/{} [{}] · {t} thread(s)",
            job.kernel.name(),
            job.case,
            v.name(),
            job.params
        );
        if self.closest(job, v, t, flops).is_none() && self.calibrated(v) {
            let calibrated = pool
                .install(|| calibrate(job, v, t, flops))
                .or_else(|| declared(job, v, t, flops));
            let Some(m) = calibrated else {
                debug!(
                    "estimate: {id}: none (no smaller problem to calibrate on ran, and no \
                     seconds_per_run is declared)"
                );
                return None;
            };
            self.measured.push(m);
        }
        let Some(m) = self.closest(job, v, t, flops) else {
            debug!("estimate: {id}: none (nothing measured yet to scale from)");
            return None;
        };
        let estimate = m.overhead + (m.seconds - m.overhead) * flops / m.flops;
        debug!(
            "estimate: {id}: {} per run (from {}, of which {} fixed), limit {}: {}",
            fmt_time(Some(estimate)),
            m.source(),
            fmt_time(Some(m.overhead)),
            fmt_time(Some(limit)),
            if estimate <= limit { "runs" } else { "skipped" }
        );
        if estimate <= limit {
            return None;
        }
        let reason = format!(
            "estimated {} per run (from {}; limit {}: --suite full or --time-limit S to run it)",
            fmt_time(Some(estimate)),
            m.source(),
            fmt_time(Some(limit)),
        );
        self.skipped.push(format!(
            "{}/{}/{} [{}] · {t} thread(s): estimated {}",
            job.kernel.name(),
            job.case,
            v.name(),
            job.params,
            fmt_time(Some(estimate))
        ));
        Some(reason)
    }

    /// Variants that get a calibration run when no earlier row tells their speed.
    fn calibrated(&self, v: VariantRef) -> bool {
        match v.info.strategy {
            Strategy::Gpu => self.software_gpu,
            // Workers: one small run tells their speed (the course's pure-Python loops
            // would take minutes at the sizes the Rust variants run).
            Strategy::Exercise | Strategy::External | Strategy::Python => true,
            _ => false,
        }
    }

    /// The measurement to scale from: the same case's largest below this work, else the
    /// same kernel's latest (another case: the same code on other data).
    fn closest(&self, job: &Job, v: VariantRef, t: usize, flops: f64) -> Option<&Measured> {
        let same = |m: &&Measured| {
            m.kernel == job.kernel.name() && m.variant == v.name() && m.threads == t
        };
        self.measured
            .iter()
            .filter(same)
            .filter(|m| m.case == job.case && m.flops <= flops)
            .max_by(|a, b| a.flops.total_cmp(&b.flops))
            .or_else(|| self.measured.iter().rfind(same))
    }
}

/// The run time an external variant's registration declares (`seconds_per_run`), for a
/// worker no smaller problem could calibrate: the same at every size it runs.
fn declared(job: &Job, v: VariantRef, t: usize, flops: f64) -> Option<Measured> {
    let seconds = crate::external::declared_seconds_per_run(job.kernel.name(), v.name())?;
    Some(Measured {
        kernel: job.kernel.name(),
        case: job.case.clone(),
        variant: v.name(),
        threads: t,
        flops,
        seconds,
        overhead: seconds,
        from: format!("seconds_per_run = {seconds} in its registration"),
        declared: true,
    })
}

/// Calibration runs shorter than this mostly measure fixed costs (a dispatch, a copy): the
/// calibration problem doubles in size until one run lasts this long.
const CALIBRATION_MIN_S: f64 = 0.05;

/// Times `v` on the job's case with the size parameter an eighth of the job's, then twice
/// that (doubling on, at most to half the job's, while a run is too short to tell work from
/// fixed costs): the last two sizes give the fixed cost and the time per unit of work. None
/// when there is no such smaller problem or it does not run (the job itself then runs, and
/// its row says why if it fails).
fn calibrate(job: &Job, v: VariantRef, t: usize, flops: f64) -> Option<Measured> {
    let spec = job.kernel.params().iter().find(|p| p.is_size)?;
    let size = job.params.get(spec.name).ok()?;
    let min = match spec.kind {
        kernels::ParamKind::Int { min, .. } => min as f64,
        _ => return None,
    };
    let mut small = (size / 8.0).floor().max(min);
    let mut points: Vec<Measured> = Vec::new();
    while small < size {
        let Some(m) = calibrate_at(job, v, t, flops, spec.name, small) else {
            break;
        };
        // Done with two sizes of which the last runs long enough, or when doubling would
        // pass half the job's size.
        let done = (!points.is_empty() && m.seconds >= CALIBRATION_MIN_S) || 4.0 * small > size;
        points.push(m);
        if done {
            break;
        }
        small *= 2.0;
    }
    let mut last = points.pop()?;
    if let Some(before) = points.pop()
        && last.flops > before.flops
    {
        // t = overhead + rate · flops through the two points; noise (a slope ≤ 0) leaves
        // the whole of the time proportional to the work.
        let rate = (last.seconds - before.seconds) / (last.flops - before.flops);
        if rate > 0.0 {
            last.overhead = (last.seconds - rate * last.flops).clamp(0.0, last.seconds);
        }
    }
    Some(last)
}

/// One calibration: the job's case at `name` = `small`, if it is enough smaller in work;
/// the time of one run after a warm-up run (shader compilation, page faults).
fn calibrate_at(
    job: &Job,
    v: VariantRef,
    t: usize,
    flops: f64,
    name: &str,
    small: f64,
) -> Option<Measured> {
    let params = job.params.clone().with(name, small);
    if job
        .kernel
        .memory_estimate(&job.case, &params)
        .is_some_and(|b| crate::cmd::plan::memory_available().is_some_and(|a| b > a))
    {
        return None;
    }
    let instance = job.kernel.instance(&job.case, &params, &[]).ok()?;
    let small_flops = instance.work().flops;
    if !(small_flops > 0.0 && small_flops * CALIBRATION_SHRINK <= flops) {
        return None;
    }
    let v = instance.variant(v.name()).ok()?;
    let (mut prepared, _) = gate::setup(instance.as_ref(), v, Policy::default(), &mut ()).ok()?;
    gate::run_guarded(prepared.as_mut()).0.ok()?;
    let (result, elapsed) = gate::run_guarded(prepared.as_mut());
    result.ok()?;
    debug!(
        "calibration: {}/{}/{} at {name}={small}: {} per run",
        job.kernel.name(),
        job.case,
        v.name(),
        fmt_time(Some(elapsed.as_secs_f64()))
    );
    Some(Measured {
        kernel: job.kernel.name(),
        case: job.case.clone(),
        variant: v.name(),
        threads: t,
        flops: small_flops,
        seconds: elapsed.as_secs_f64(),
        overhead: 0.0,
        from: format!("a calibration at {name}={small}"),
        declared: false,
    })
}

//! Timing a prepared variant: warm-up until stable, then samples until a time budget and a
//! minimum count. Setup is timed elsewhere (by the caller, around `prepare`); here only
//! `run` is timed.
//!
//! Warm-up runs batches of about a fiftieth of the budget and stops when two successive
//! batch medians agree within [`STABLE`] (caches, page faults, clocks, lazy compilation
//! settled), or at a cap of [`WARMUP_SHARE`] of the budget (then the row says so).
//! Short runs are grouped into samples of several runs so that every sample lasts at least
//! a [`TARGET_SAMPLES`]-th of the budget, as criterion does: the timer's own cost and
//! resolution stay negligible, and the statistics work on a few hundred samples.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use kernels::Prepared;

use kernels::gate::panic_message;

/// Successive warm-up batch medians within this relative difference count as stable.
pub const STABLE: f64 = 0.05;
/// At most this share of the budget goes to warm-up.
pub const WARMUP_SHARE: f64 = 0.3;
/// Aim for about this many samples within the budget.
pub const TARGET_SAMPLES: f64 = 200.0;
/// Never more samples than this (a sub-microsecond run on a long budget).
pub const MAX_SAMPLES: usize = 5000;

/// How long and how much to sample.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Seconds of timed runs to aim for.
    pub budget: f64,
    pub min_samples: usize,
}

/// What the timing produced.
#[derive(Clone, Debug, Default)]
pub struct Measurement {
    /// Seconds per run, one value per sample (a sample's total over its run count).
    pub samples: Vec<f64>,
    pub iters_per_sample: u64,
    /// Runs and seconds spent warming up (the validation run included).
    pub warmup_runs: u64,
    pub warmup_s: f64,
    /// Whether warm-up reached two agreeing batches before its cap.
    pub warmup_stable: bool,
    /// Whether there was time to check (one run below a quarter of the budget).
    pub warmup_checked: bool,
    /// Relative difference of the last two warm-up batch medians.
    pub warmup_change: Option<f64>,
    /// The run was stopped (Ctrl-C) before the budget was spent.
    pub interrupted: bool,
}

/// Runs `iters` times, timed together; a panic becomes an error with its message. A
/// variant with its own clock (an external worker) times the batch itself: its seconds.
pub fn run_batch(prepared: &mut dyn Prepared, iters: u64) -> Result<f64, String> {
    let own = catch_unwind(AssertUnwindSafe(|| prepared.run_self_timed(iters)));
    match own {
        Ok(Some(Ok(per_run))) => return Ok(per_run * iters as f64),
        Ok(Some(Err(e))) => return Err(e.to_string()),
        Ok(None) => {}
        Err(p) => return Err(format!("panicked: {}", panic_message(&p))),
    }
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| {
        for _ in 0..iters {
            prepared.run()?;
        }
        Ok::<(), kernels::KernelError>(())
    }));
    let elapsed = start.elapsed().as_secs_f64();
    match result {
        Ok(Ok(())) => Ok(elapsed),
        Ok(Err(e)) => Err(e.to_string()),
        Err(p) => Err(format!("panicked: {}", panic_message(&p))),
    }
}

/// Warm-up then samples. `first` is the validation run's time (it is the first warm-up
/// run). A variant whose single run exceeds the budget keeps that run as its only sample
/// rather than running for minutes. `stop` ends sampling early (Ctrl-C); `progress` hears
/// the fraction of the budget spent.
pub fn measure(
    prepared: &mut dyn Prepared,
    first: f64,
    cfg: Config,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(f64, &str),
) -> Result<Measurement, String> {
    let mut m = warm_up(prepared, first, cfg.budget, stop, progress)?;
    if first >= cfg.budget {
        m.samples.push(first);
        return Ok(m);
    }
    let iters = m.iters_per_sample;
    let mut timed = 0.0;
    m.samples.reserve(TARGET_SAMPLES as usize + cfg.min_samples);
    while (m.samples.len() < cfg.min_samples.max(1) || timed < cfg.budget)
        && m.samples.len() < MAX_SAMPLES
    {
        if stop.load(Ordering::Relaxed) {
            m.interrupted = true;
            break;
        }
        let t = run_batch(prepared, iters)?;
        m.samples.push(t / iters as f64);
        timed += t;
        progress(timed / cfg.budget, "sampling");
        // A very slow variant stops at three budgets even below the minimum count.
        if timed >= 3.0 * cfg.budget {
            break;
        }
    }
    Ok(m)
}

/// The warm-up alone (shared by [`measure`] and the interleaved rounds of
/// [`super::rounds`]): batches of about budget/50, individually timed runs, until two
/// successive batch medians agree, at least two batches (a comparison) unless one run is
/// already a quarter of the budget (no time to check; the measurement says so), at most
/// [`WARMUP_SHARE`] of the budget. The measurement has no samples yet; its
/// `iters_per_sample` makes each sample last at least budget / [`TARGET_SAMPLES`] at the
/// time per run the warm-up settled at (1 when one run exceeds the budget: no warm-up).
pub fn warm_up(
    prepared: &mut dyn Prepared,
    first: f64,
    budget: f64,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(f64, &str),
) -> Result<Measurement, String> {
    let mut m = Measurement {
        warmup_runs: 1,
        warmup_s: first,
        iters_per_sample: 1,
        ..Measurement::default()
    };
    if first >= budget {
        return Ok(m);
    }
    let batch_time = budget / 50.0;
    let mut estimate = first;
    let mut previous: Option<f64> = None;
    let checkable = first < budget / 4.0;
    let mut batches = 0;
    while checkable
        && (m.warmup_s < WARMUP_SHARE * budget || batches < 2)
        && !stop.load(Ordering::Relaxed)
    {
        let runs = ((batch_time / estimate).ceil() as u64).clamp(1, 10_000);
        let mut times = Vec::with_capacity(runs as usize);
        for _ in 0..runs {
            times.push(run_batch(prepared, 1)?);
        }
        batches += 1;
        m.warmup_runs += runs;
        m.warmup_s += times.iter().sum::<f64>();
        let med = super::stats::median(&times);
        estimate = med.max(1e-9);
        progress(m.warmup_s / budget, "warm-up");
        tracing::trace!("warm-up batch {batches}: {runs} run(s), median {med:.3e} s");
        if let Some(p) = previous {
            let change = (med - p).abs() / p;
            m.warmup_change = Some(change);
            if change <= STABLE {
                m.warmup_stable = true;
                break;
            }
        }
        previous = Some(med);
    }
    m.warmup_checked = checkable;
    // Samples of `iters` runs each, each lasting at least budget / TARGET_SAMPLES.
    m.iters_per_sample = ((budget / TARGET_SAMPLES / estimate).ceil() as u64).max(1);
    tracing::trace!(
        "warm-up: {} run(s) in {:.3e} s, stable {}; samples of {} run(s) each",
        m.warmup_runs,
        m.warmup_s,
        m.warmup_stable,
        m.iters_per_sample
    );
    Ok(m)
}

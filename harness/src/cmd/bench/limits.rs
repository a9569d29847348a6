//! The limits a bench checks before it starts (each refusal one line, exit code 2, no run
//! folder made), and the closing lines on the time it took and what it skipped for time.

use anyhow::{Result, bail};

use super::estimate::Estimates;
use crate::cli::BenchArgs;
use crate::cmd::plan::{self, Plan};
use crate::measure::timing::{MAX_SAMPLES, WARMUP_SHARE};

/// Hours a selection may be estimated to run before `--yes` is needed.
pub const MAX_HOURS_WITHOUT_YES: f64 = 2.0;

/// `--budget`, `--min-samples`, `--noisy` and `--time-limit` within sane bounds.
pub(super) fn check_options(args: &BenchArgs) -> Result<()> {
    crate::cmd::check_seconds("--budget", args.budget)?;
    if args.min_samples == 0 || args.min_samples > MAX_SAMPLES {
        bail!(
            "--min-samples {}: give between 1 and {MAX_SAMPLES} (the most samples a row takes)",
            args.min_samples
        );
    }
    if !(args.noisy > 0.0 && args.noisy <= 10.0) {
        bail!(
            "--noisy {}: give a spread (interquartile range / median) above 0 and at most 10",
            args.noisy
        );
    }
    if let Some(s) = args.time_limit
        && !(s > 0.0 && s.is_finite())
    {
        bail!("--time-limit {s}: give a positive number of seconds (or --suite full for no limit)");
    }
    Ok(())
}

/// Refuses a selection whose rows would take more than [`MAX_HOURS_WITHOUT_YES`] without
/// `--yes`. The estimate is a lower bound: every row spends its budget and the warm-up's
/// share of it; setup, validation and slow variants come on top.
pub(super) fn check_duration(args: &BenchArgs, rows: u64) -> Result<()> {
    let seconds = rows as f64 * args.budget * (1.0 + WARMUP_SHARE);
    if seconds > MAX_HOURS_WITHOUT_YES * 3600.0 && !args.yes {
        bail!(
            "this selection would run for at least {:.1} h ({rows} rows × --budget {} s and \
             warm-up): narrow it, lower --budget, or add --yes to start anyway",
            seconds / 3600.0,
            args.budget
        );
    }
    Ok(())
}

/// Every job's memory estimate against what is available, before the first starts (the
/// jobs run one at a time, so each must fit on its own). Kernels without an estimate from
/// their parameters are checked on their built problem as each job starts.
pub(super) fn check_memory(plan: &Plan) -> Result<()> {
    for job in &plan.jobs {
        plan::check_memory(job)?;
    }
    Ok(())
}

/// `4 min 05 s`, `12.3 s`.
pub fn fmt_duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let s = seconds.round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// The run's total time and, when something was skipped for time, what and how to run it.
pub(super) fn print_time(seconds: f64, estimates: &Estimates) {
    println!("\nbench took {}", fmt_duration(seconds));
    if estimates.skipped.is_empty() {
        return;
    }
    let limit = estimates.limit.unwrap_or(f64::INFINITY);
    println!(
        "skipped for time ({} row(s) estimated over {} per run; `--suite full` runs them, \
         `--time-limit S` sets another limit):",
        estimates.skipped.len(),
        fmt_duration(limit)
    );
    for s in &estimates.skipped {
        println!("  {s}");
    }
}

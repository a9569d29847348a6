//! The limits a bench checks before it starts (each refusal one line, exit code 2, no run
//! folder made), and the closing lines on the time it took and what it skipped for time.

use anyhow::{Result, bail};

use super::estimate::Estimates;
use crate::cli::BenchArgs;
use crate::cmd::plan::{self, Plan};
use crate::measure::timing::{MAX_SAMPLES, WARMUP_SHARE};
use crate::render::fmt::fmt_number;

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
            fmt_number(args.noisy)
        );
    }
    if let Some(s) = args.limits.time_limit
        && !(s > 0.0 && s.is_finite())
    {
        bail!(
            "--time-limit {}: give a positive number of seconds (or --suite full for no limit)",
            fmt_number(s)
        );
    }
    Ok(())
}

/// Refuses a selection whose rows would take more than [`MAX_HOURS_WITHOUT_YES`] without
/// `--yes`. `rows` are all the selection's rows, `naive_rows_per_job` the naive variant's
/// (one per base thread count). The estimate is a lower bound: every row spends its budget
/// and the warm-up's share of it, except the naive ones, which take what their own
/// estimate says ([`naive_row_seconds`]); setup, validation and other slow variants come
/// on top.
pub(super) fn check_duration(
    args: &BenchArgs,
    plan: &Plan,
    rows: u64,
    naive_rows_per_job: usize,
) -> Result<()> {
    let row = args.budget * (1.0 + WARMUP_SHARE);
    let naive = naive_seconds(plan, args.budget)?;
    let seconds =
        rows as f64 * row + naive_rows_per_job as f64 * naive.iter().map(|&s| s - row).sum::<f64>();
    if seconds > MAX_HOURS_WITHOUT_YES * 3600.0 && !args.yes {
        let naive_h = naive_rows_per_job as f64 * naive.iter().sum::<f64>() / 3600.0;
        bail!(
            "this selection would run for at least {:.1} h ({rows} rows × --budget {} s and \
             warm-up, the naive variant's own estimates in place of its rows' budgets: {:.1} h \
             of them): narrow it, lower --budget, or add --yes to start anyway",
            seconds / 3600.0,
            fmt_number(args.budget),
            naive_h,
        );
    }
    Ok(())
}

/// Seconds each job's naive row takes at least, for the jobs that have one selected and
/// an estimate of it ([`kernels::Kernel::naive_seconds`]).
fn naive_seconds(plan: &Plan, budget: f64) -> Result<Vec<f64>> {
    if !plan.wants(NAIVE) {
        return Ok(Vec::new());
    }
    let limit = kernels::naive_time_limit_s()?;
    Ok(plan
        .jobs
        .iter()
        .filter(|j| j.kernel.variants().iter().any(|v| v.name == NAIVE))
        .filter_map(|j| j.kernel.naive_seconds(&j.case, &j.params))
        .map(|run| naive_row_seconds(run, budget, limit))
        .collect())
}

/// The oracle's name, whose run time kernels estimate from the parameters.
const NAIVE: &str = "naive";

/// Seconds a naive row takes at least when one run takes `run`: nothing when that is over
/// the naive limit (its probe skips it); one run when that exceeds the budget (the
/// validation run is then the only sample); else that run and at least the budget of
/// samples (see [`crate::measure::timing::measure`]).
fn naive_row_seconds(run: f64, budget: f64, limit: f64) -> f64 {
    if run > limit {
        0.0
    } else if run >= budget {
        run
    } else {
        run + budget
    }
}

/// Every job's memory estimate against what is available, before the first starts (the
/// jobs run one at a time, so each must fit on its own). Every kernel of the registry
/// estimates from its parameters ([`kernels::Kernel::memory_estimate`]); one without an
/// estimate (a test's) is checked on its built problem as its job starts.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_naive_row_takes_its_run_and_the_budget_unless_it_skips() {
        // Over the limit: skipped by its probe, no time.
        assert_eq!(naive_row_seconds(100.0, 1.0, 60.0), 0.0);
        // Longer than the budget: the validation run is the only sample.
        assert_eq!(naive_row_seconds(50.0, 1.0, 60.0), 50.0);
        // Shorter: that run, then samples until the budget is spent.
        assert_eq!(naive_row_seconds(0.5, 1.0, 60.0), 1.5);
    }
}

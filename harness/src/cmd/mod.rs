//! The commands, one module each, all the same shape: a plan ([`plan`]: which problems and
//! variants), then per variant the one lifecycle, [`kernels::gate`] (probe → guarded
//! prepare → one guarded run → validation against the reference), and only then the
//! command's own work (timing, sampling, saving) and its sinks (terminal, CSV, run folder).
//!
//! The arguments of every command are in [`crate::cli`].

pub mod bench;
pub mod choose;
pub mod compare;
pub mod list;
pub mod plan;
pub mod profile;
pub mod report;
pub mod run;
pub mod validate;
pub mod workshop;

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kernels::gate::{self, Admission, Policy, References, Validation, Watch};
use kernels::{Instance, VariantRef};
use tracing::{debug, warn};

use crate::cli::{Cmd, ReportArgs};
use plan::{Job, Plan};

/// Runs a parsed command: its exit code, or the error that stopped it.
pub fn execute(command: Option<Cmd>, params: &BTreeMap<String, Vec<String>>) -> Result<ExitCode> {
    let as_code = |r: Result<bool>| {
        r.map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        })
    };
    match command {
        Some(Cmd::List(select)) => as_code(list::list(&select, params)),
        Some(Cmd::Validate(args)) => as_code(validate::validate_cmd(&args, params)),
        Some(Cmd::Bench(args)) => bench::bench(&args, params),
        Some(Cmd::Compare(args)) => compare::compare(&args, params),
        Some(Cmd::Profile(args)) => as_code(profile::profile_cmd(&args, params)),
        Some(Cmd::Run(args)) => as_code(run::run(&args, params)),
        Some(Cmd::Plan(args)) => as_code(choose::plan_cmd(&args, params)),
        Some(Cmd::Report(args)) => as_code(report::report_cmd(&args)),
        Some(Cmd::CheckPng(args)) => as_code(report::check_png(&args)),
        Some(Cmd::NewVariant(a)) => workshop::new_variant(&a).map(|_| ExitCode::SUCCESS),
        Some(Cmd::RemoveVariant(a)) => workshop::remove_variant(&a).map(|_| ExitCode::SUCCESS),
        Some(Cmd::Explain(a)) => workshop::explain(&a).map(|_| ExitCode::SUCCESS),
        // The main job: validate and time the default suite, then report on that run.
        None => {
            let start = std::time::Instant::now();
            bench::bench(&bench::default_args(), params).and_then(|code| {
                let args = ReportArgs {
                    runs: Vec::new(),
                    root: "reports".into(),
                    out: "reports".into(),
                };
                report::report_cmd(&args)?;
                println!(
                    "main job (bench + report): {}",
                    bench::fmt_duration(start.elapsed().as_secs_f64())
                );
                Ok(code)
            })
        }
    }
}

/// Longest time a single variant may be given (`bench --budget`, `profile --seconds`): an
/// hour per variant already makes a selection of a few dozen variants run for a day.
pub const MAX_SECONDS: f64 = 3600.0;

/// Refuses a per-variant time outside (0, [`MAX_SECONDS`]] (zero, negative, nan, inf or a
/// run that would never end), before anything starts.
pub fn check_seconds(flag: &str, seconds: f64) -> Result<()> {
    if !(seconds > 0.0 && seconds <= MAX_SECONDS) {
        anyhow::bail!(
            "{flag} {}: give a number of seconds above 0 and at most {MAX_SECONDS:.0}",
            crate::render::fmt::fmt_number(seconds)
        );
    }
    Ok(())
}

/// The variants of `instance` selected by `--variant` (all when none was given), resolved
/// once, in the kernel's order.
pub fn selected(instance: &dyn Instance, plan: &Plan) -> Vec<VariantRef> {
    instance
        .variants()
        .into_iter()
        .filter(|v| plan.wants(v.name()))
        .collect()
}

/// Builds a job's problem for validation or timing, refusing one that would need more
/// memory than the machine has (estimated before the problem is built when the kernel
/// can, and from its nominal bytes before any variant allocates).
pub fn instance_of(job: &Job) -> Result<Box<dyn Instance>> {
    plan::check_memory(job)?;
    let instance = build(job)?;
    plan::check_instance_memory(instance.as_ref())?;
    Ok(instance)
}

/// Builds a job's problem without the memory checks.
fn build(job: &Job) -> Result<Box<dyn Instance>> {
    job.kernel
        .instance(&job.case, &job.params, &[])
        .with_context(|| format!("{}/{} {}", job.kernel.name(), job.case, job.params))
}

/// The gate's rules from the environment (`HARNESS_REQUIRE_GPU`). [`crate::main`] refuses a
/// malformed value before any command starts ([`kernels::check_environment`]); a library
/// caller that skipped that check gets the rule off, with a warning.
pub fn policy() -> Policy {
    Policy::from_env().unwrap_or_else(|e| {
        warn!("{e}; the GPU is not required");
        Policy::default()
    })
}

/// [`gate::admit`] under the environment's [`policy`], with its outcome logged at debug
/// (and so in the run folder's `run.log`): the probe's verdict, and for a variant that ran,
/// the reference it was compared with and what the comparison found.
pub fn admit(
    instance: &dyn Instance,
    variant: VariantRef,
    refs: &mut References<'_>,
    watch: &mut dyn Watch,
) -> Admission {
    let admission = gate::admit(instance, variant, refs, policy(), watch);
    log_admission(instance, variant, &admission);
    admission
}

fn log_admission(instance: &dyn Instance, variant: VariantRef, admission: &Admission) {
    let id = format!(
        "{}/{}/{} [{}]",
        instance.kernel(),
        instance.case(),
        variant.name(),
        instance.params()
    );
    let secs = |d: std::time::Duration| crate::render::fmt::fmt_time(Some(d.as_secs_f64()));
    match admission {
        Admission::NotRun(a) => debug!("probe: {id}: {}: {}", a.label(), a.reason()),
        Admission::Failed(f) => {
            debug!("gate: {id}: failed ({:?}): {}", f.phase, f.reason);
            if let Some(v) = &f.validation {
                debug!("reference: {id}: {}", reference_line(v));
            }
        }
        Admission::Valid(a) => {
            debug!(
                "probe: {id}: ready · setup {} · first run {}",
                secs(a.setup),
                secs(a.first_run)
            );
            debug!("reference: {id}: {}", reference_line(&a.validation));
        }
    }
}

/// `references/laue-square-n8.npy: error 1.2e-16 (tolerance 1e-12)`; the oracle said so.
fn reference_line(v: &Validation) -> String {
    let oracle = if v.oracle {
        " (this variant is the oracle)"
    } else {
        ""
    };
    format!("{}{oracle}: {}", v.reference, v.summary())
}

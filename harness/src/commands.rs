//! The small commands: `list`, `validate` and `run` (`bench` and `report` have their own
//! modules).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::{Context, Result, bail};
use kernels::{Availability, Instance, Strategy};

use crate::cli::{RunArgs, Select, ValidateArgs};
use crate::jobs::{self, Job, Plan};
use crate::report::format::fmt_time;
use crate::validate::{self, References, run_guarded};

/// The variants of `instance` selected by `--variant` (all when none was given).
pub fn selected(instance: &dyn Instance, plan: &Plan) -> Vec<&'static str> {
    instance
        .variants()
        .into_iter()
        .map(|v| v.name)
        .filter(|n| plan.variant.as_deref().is_none_or(|want| want == *n))
        .collect()
}

/// Builds a job's problem for validation or timing, refusing one that would need more
/// memory than the machine has (estimated before the problem is built when the kernel
/// can, and from its nominal bytes before any variant allocates).
pub fn instance_of(job: &Job) -> Result<Box<dyn Instance>> {
    jobs::check_memory(job)?;
    let instance = build(job)?;
    jobs::check_instance_memory(instance.as_ref())?;
    Ok(instance)
}

fn build(job: &Job) -> Result<Box<dyn Instance>> {
    job.kernel
        .instance(&job.case, &job.params, &[])
        .with_context(|| format!("{}/{} {}", job.kernel.name(), job.case, job.params))
}

/// With `HARNESS_REQUIRE_GPU=1` (CI), a GPU variant that is skipped is a failure: the
/// software adapter must be there and work.
pub fn gpu_required() -> bool {
    std::env::var("HARNESS_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

pub fn list(select: &Select, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    let plan = jobs::plan(select, params)?;
    let mut last_kernel = "";
    for job in &plan.jobs {
        let k = job.kernel;
        if k.name() != last_kernel {
            last_kernel = k.name();
            println!("\n{} — {}", k.name(), k.about());
            for p in k.params() {
                println!("    --{:<14} {} (default {})", p.name, p.help, p.default);
            }
        }
        // Listing builds the problem but runs nothing: no memory check.
        let instance = build(job)?;
        println!("  {}/{}  [{}]", k.name(), job.case, job.params);
        for v in instance.variants() {
            if plan.variant.as_deref().is_some_and(|want| want != v.name) {
                continue;
            }
            let a = instance.probe(v.name)?;
            println!(
                "    {:<34} {:<12} {:<4} {:<8} {}",
                format!("{}/{}/{}", k.name(), job.case, v.name),
                v.strategy.as_str(),
                v.precision.as_str(),
                a.label(),
                if a.is_ready() { v.idea } else { a.reason() }
            );
        }
    }
    Ok(true)
}

pub fn validate_cmd(args: &ValidateArgs, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    let plan = jobs::plan(&args.select, params)?;
    validate_plan(
        &plan,
        args.reference.as_deref(),
        &mut std::io::stdout().lock(),
    )
}

/// Validates every selected variant of every job, one line each on `out`. A variant that
/// fails, errs or panics is reported as FAILED with why, and the next one runs.
pub fn validate_plan(
    plan: &Plan,
    reference: Option<&std::path::Path>,
    out: &mut dyn std::io::Write,
) -> Result<bool> {
    let mut all_ok = true;
    for job in &plan.jobs {
        let instance = match instance_of(job) {
            Ok(i) => i,
            Err(e) => {
                writeln!(out, "FAILED {e:#}")?;
                all_ok = false;
                continue;
            }
        };
        let mut refs = References::new(instance.as_ref(), reference)?;
        writeln!(out, "{}/{} [{}]", job.kernel.name(), job.case, job.params)?;
        for name in selected(instance.as_ref(), plan) {
            let id = format!("{}/{}/{name}", job.kernel.name(), job.case);
            let info = instance.info(name)?;
            match instance.probe(name)? {
                Availability::Ready => {}
                a => {
                    let strict = info.strategy == Strategy::Gpu
                        && kernels::testing::missing_gpu_is_failure(&a);
                    all_ok &= !strict;
                    let label = if strict {
                        "FAILED (GPU required)"
                    } else {
                        a.label()
                    };
                    writeln!(out, "  {id:<36} {label:<8} {}", a.reason())?;
                    continue;
                }
            }
            let outcome = (|| -> Result<validate::Validation, String> {
                let mut prepared = catch_unwind(AssertUnwindSafe(|| instance.prepare(name)))
                    .map_err(|p| format!("setup panicked: {}", validate::panic_message(&p)))?
                    .map_err(|e| format!("setup: {e}"))?;
                run_guarded(prepared.as_mut()).0?;
                Ok(validate::validate(
                    instance.as_ref(),
                    &mut refs,
                    name,
                    prepared.as_ref(),
                ))
            })();
            let (ok, text, reference) = match outcome {
                Ok(v) => (v.passed(), v.summary(), v.reference),
                Err(e) => (false, e, String::new()),
            };
            all_ok &= ok;
            writeln!(
                out,
                "  {id:<36} {:<8} {text}{}",
                if ok { "ok" } else { "FAILED" },
                if reference.is_empty() {
                    String::new()
                } else {
                    format!(" [reference: {reference}]")
                }
            )?;
        }
    }
    Ok(all_ok)
}

pub fn run(args: &RunArgs, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    let plan = jobs::plan(&args.select, params)?;
    let variant = plan
        .variant
        .clone()
        .context("--variant is required: which variant should run?")?;
    let job = match plan.jobs.as_slice() {
        [job] => job,
        _ => bail!(
            "the selection matches {} problems: give --case (and one value per parameter) to run one",
            plan.jobs.len()
        ),
    };
    let inputs = args
        .input
        .iter()
        .map(|p| kernels::io::read_f64(p))
        .collect::<Result<Vec<_>, _>>()?;
    jobs::check_memory(job)?;
    let instance = job
        .kernel
        .instance(&job.case, &job.params, &inputs)
        .with_context(|| format!("{}/{}", job.kernel.name(), job.case))?;
    jobs::check_instance_memory(instance.as_ref())?;
    let mut prepared = instance.prepare(&variant)?;
    let (result, time) = run_guarded(prepared.as_mut());
    result.map_err(anyhow::Error::msg)?;
    let output = prepared.output()?;
    for (i, (name, array)) in output.arrays.iter().enumerate() {
        let path = if i == 0 {
            args.save.clone()
        } else {
            let stem = args.save.file_stem().unwrap_or_default().to_string_lossy();
            args.save.with_file_name(format!("{stem}.{name}.npy"))
        };
        kernels::io::write_f64(&path, array)?;
        println!(
            "wrote {} ({name}, shape {:?})",
            path.display(),
            array.shape()
        );
    }
    println!(
        "{}/{}/{variant} [{}]: {}",
        job.kernel.name(),
        job.case,
        job.params,
        fmt_time(Some(time.as_secs_f64()))
    );
    Ok(true)
}

//! `harness validate`: check variants against their references; exit code 1 if any fails.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::Result;
use kernels::{Availability, Instance, Strategy};

use super::plan::{self, Job, Plan};
use super::{instance_of, selected};
use crate::cli::ValidateArgs;
use crate::lifecycle::{self, References, run_guarded};

pub fn validate_cmd(args: &ValidateArgs, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    let plan = plan::plan(&args.select, params)?;
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
            all_ok &= admit(instance.as_ref(), &mut refs, job, name, out)?;
        }
    }
    Ok(all_ok)
}

// LIFECYCLE: replaced by kernels::gate
/// Probe, prepare (a panic caught), one guarded run, validation: one line on `out`, and
/// whether the variant passed (a variant that cannot run here passes unless it is a GPU
/// variant and the GPU is required).
fn admit(
    instance: &dyn Instance,
    refs: &mut References<'_>,
    job: &Job,
    name: &str,
    out: &mut dyn std::io::Write,
) -> Result<bool> {
    let id = format!("{}/{}/{name}", job.kernel.name(), job.case);
    let info = instance.info(name)?;
    match instance.probe(name)? {
        Availability::Ready => {}
        a => {
            let strict =
                info.strategy == Strategy::Gpu && kernels::testing::missing_gpu_is_failure(&a);
            let label = if strict {
                "FAILED (GPU required)"
            } else {
                a.label()
            };
            writeln!(out, "  {id:<36} {label:<8} {}", a.reason())?;
            return Ok(!strict);
        }
    }
    let outcome = (|| -> Result<lifecycle::Validation, String> {
        let mut prepared = catch_unwind(AssertUnwindSafe(|| instance.prepare(name)))
            .map_err(|p| format!("setup panicked: {}", lifecycle::panic_message(&p)))?
            .map_err(|e| format!("setup: {e}"))?;
        run_guarded(prepared.as_mut()).0?;
        Ok(lifecycle::validate(instance, refs, name, prepared.as_ref()))
    })();
    let (ok, text, reference) = match outcome {
        Ok(v) => (v.passed(), v.summary(), v.reference),
        Err(e) => (false, e, String::new()),
    };
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
    Ok(ok)
}

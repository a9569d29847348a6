//! `harness validate`: check variants against their references; exit code 1 if any fails.

use std::collections::BTreeMap;

use anyhow::Result;
use kernels::gate::{Admission, Phase, References};
use kernels::{Instance, VariantRef};

use super::plan::{self, Job, Plan};
use super::{instance_of, selected};
use crate::cli::ValidateArgs;

pub fn validate_cmd(args: &ValidateArgs, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    let plan = plan::plan_suite(&args.select, params, args.suite)?;
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
        for variant in selected(instance.as_ref(), plan) {
            all_ok &= admit(instance.as_ref(), &mut refs, job, variant, out)?;
        }
    }
    Ok(all_ok)
}

/// One variant through the gate: one line on `out`, and whether it passed (a variant that
/// cannot run here passes, unless it is a GPU variant and the GPU is required).
fn admit(
    instance: &dyn Instance,
    refs: &mut References<'_>,
    job: &Job,
    variant: VariantRef,
    out: &mut dyn std::io::Write,
) -> Result<bool> {
    let id = format!("{}/{}/{}", job.kernel.name(), job.case, variant.name());
    let (ok, label, text, reference) = match super::admit(instance, variant, refs, &mut ()) {
        Admission::NotRun(a) => {
            writeln!(out, "  {id:<36} {:<8} {}", a.label(), a.reason())?;
            return Ok(true);
        }
        Admission::Failed(f) if f.phase == Phase::GpuRequired => {
            writeln!(
                out,
                "  {id:<36} {:<8} {}",
                "FAILED (GPU required)", f.reason
            )?;
            return Ok(false);
        }
        Admission::Failed(f) => {
            let reference = f.validation.map(|v| v.reference).unwrap_or_default();
            (false, "FAILED", f.reason, reference)
        }
        Admission::Valid(a) => (true, "ok", a.validation.summary(), a.validation.reference),
    };
    let reference = if reference.is_empty() {
        String::new()
    } else {
        format!(" [reference: {reference}]")
    };
    writeln!(out, "  {id:<36} {label:<8} {text}{reference}")?;
    Ok(ok)
}

//! The one lifecycle every variant goes through before anyone times or profiles it:
//!
//! probe → prepare (guarded, timed apart) → one run (guarded) → compare with the reference →
//! only then is the prepared variant handed back.
//!
//! `harness validate`, `bench`, `run`, `profile` and the criterion benches all call
//! [`admit`]; none of them prepares a variant itself. A panic anywhere in a variant (its
//! setup, its run, its output) becomes a [`Failure`] of that variant with the panic's
//! message, never the end of the run. The reference is resolved here too ([`References`]:
//! the user's file, the committed file, or the kernel's oracle computed on the spot), and so
//! is the one rule about GPUs ([`Policy::require_gpu`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::check::{Check, Output};
use crate::error::KernelError;
use crate::kernel::{Instance, Reference, VariantRef};
use crate::variant::{Availability, Prepared, Strategy};

/// Rules of the gate that come from the caller's environment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// A GPU variant skipped because no adapter could be opened is a failure, not a skip
    /// (CI sets `HARNESS_REQUIRE_GPU=1`: the software adapter must be there and work). A
    /// GPU variant skipped for another reason while the adapter works (no f64 shaders, a
    /// size beyond the binding limit) keeps its reason and is not failed.
    pub require_gpu: bool,
}

impl Policy {
    /// `HARNESS_REQUIRE_GPU=1` (or `true`) turns [`Policy::require_gpu`] on; `0`, `false` or
    /// unset leave it off. Any other value (`yes`, `2`, an empty value) is an error rather
    /// than off: CI that sets the variable with a typo would otherwise pass without ever
    /// running a GPU variant.
    pub fn from_env() -> Result<Policy, KernelError> {
        const NAME: &str = "HARNESS_REQUIRE_GPU";
        let require_gpu = match std::env::var_os(NAME) {
            None => false,
            Some(v) if v == "1" || v == "true" => true,
            Some(v) if v == "0" || v == "false" => false,
            Some(v) => {
                return Err(KernelError::Environment {
                    name: NAME,
                    value: v.to_string_lossy().into_owned(),
                    reason: "expected 1 (a GPU variant without an adapter fails) or 0 (it is \
                             skipped), or unset it"
                        .into(),
                });
            }
        };
        Ok(Policy { require_gpu })
    }

    /// Whether a variant that is not ready must count as a failure under this policy.
    pub fn fails(&self, variant: VariantRef, availability: &Availability) -> bool {
        self.require_gpu
            && variant.info.strategy == Strategy::Gpu
            && matches!(availability, Availability::Skipped(_))
            && crate::gpu::adapter().is_err()
    }
}

/// Hooks around the guarded steps, for callers that measure them (the bench counts bytes
/// allocated and the resident peak over setup and the first run). All default to nothing.
pub trait Watch {
    fn before_prepare(&mut self) {}
    fn after_prepare(&mut self) {}
    fn after_first_run(&mut self) {}
}

impl Watch for () {}

/// Which step a variant failed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Skipped for want of a GPU adapter while [`Policy::require_gpu`] is on.
    GpuRequired,
    /// `prepare` returned an error or panicked.
    Setup,
    /// The first run returned an error or panicked.
    Run,
    /// There was nothing to compare (no output, no reference) or the output differs from
    /// the reference beyond the tolerance.
    Validation,
}

/// Why a variant may not be timed, in one line, with what the validation found if it got
/// that far.
#[derive(Debug)]
pub struct Failure {
    pub phase: Phase,
    pub reason: String,
    /// Setup's time, when setup finished.
    pub setup: Option<Duration>,
    /// The comparison, when the variant produced an output.
    pub validation: Option<Validation>,
}

/// A variant that passed: prepared, run once, and equal to the reference within its
/// tolerance. Only such a variant is timed.
pub struct Admitted {
    pub prepared: Box<dyn Prepared>,
    pub setup: Duration,
    /// The first (validated) run, which also warms up.
    pub first_run: Duration,
    pub validation: Validation,
}

/// What the gate decided for one variant on one problem.
pub enum Admission {
    /// Skipped (the machine lacks something) or n/a (the strategy cannot apply).
    NotRun(Availability),
    Failed(Failure),
    Valid(Admitted),
}

impl Admission {
    /// `ok`, `skipped`, `n/a` or `failed`.
    pub fn label(&self) -> &'static str {
        match self {
            Admission::NotRun(a) => a.label(),
            Admission::Failed(_) => "failed",
            Admission::Valid(_) => "ok",
        }
    }
}

/// Probe, prepare, run once and validate `variant`; see the module docs.
pub fn admit(
    instance: &dyn Instance,
    variant: VariantRef,
    refs: &mut References<'_>,
    policy: Policy,
    watch: &mut dyn Watch,
) -> Admission {
    let (mut prepared, setup) = match setup(instance, variant, policy, watch) {
        Ok(ready) => ready,
        Err(not_admitted) => return *not_admitted,
    };
    let (first, first_run) = run_guarded(prepared.as_mut());
    watch.after_first_run();
    if let Err(e) = first {
        return failed(Phase::Run, e, Some(setup));
    }
    let validation = validate(instance, refs, variant, prepared.as_ref());
    if !validation.passed() {
        return Admission::Failed(Failure {
            phase: Phase::Validation,
            reason: validation.summary(),
            setup: Some(setup),
            validation: Some(validation),
        });
    }
    Admission::Valid(Admitted {
        prepared,
        setup,
        first_run,
        validation,
    })
}

/// The first half of [`admit`], for a run with no reference to compare with (`harness
/// run` on a user's own inputs): probe and guarded setup. The prepared variant and its
/// setup time, or what the gate decided instead (never [`Admission::Valid`]).
pub fn setup(
    instance: &dyn Instance,
    variant: VariantRef,
    policy: Policy,
    watch: &mut dyn Watch,
) -> Result<(Box<dyn Prepared>, Duration), Box<Admission>> {
    if variant.info.strategy == Strategy::Gpu {
        // A device lost under an earlier variant is that variant's failure, not this one's.
        crate::gpu::renew_if_lost();
    }
    let availability = instance.probe(variant);
    if !availability.is_ready() {
        if policy.fails(variant, &availability) {
            let reason = availability.reason().into();
            return Err(Box::new(failed(Phase::GpuRequired, reason, None)));
        }
        return Err(Box::new(Admission::NotRun(availability)));
    }
    watch.before_prepare();
    let start = Instant::now();
    let prepared = catch_unwind(AssertUnwindSafe(|| instance.prepare(variant)));
    let setup = start.elapsed();
    let prepared = match prepared {
        Ok(Ok(p)) => p,
        Ok(Err(KernelError::Skipped(why))) => {
            return Err(Box::new(Admission::NotRun(Availability::Skipped(why))));
        }
        Ok(Err(e)) => {
            let why = format!("setup: {e}");
            return Err(Box::new(failed(Phase::Setup, why, Some(setup))));
        }
        Err(p) => {
            let why = format!("setup panicked: {}", panic_message(&p));
            return Err(Box::new(failed(Phase::Setup, why, Some(setup))));
        }
    };
    watch.after_prepare();
    Ok((prepared, setup))
}

fn failed(phase: Phase, reason: String, setup: Option<Duration>) -> Admission {
    Admission::Failed(Failure {
        phase,
        reason,
        setup,
        validation: None,
    })
}

/// Runs once, turning an error or a panic into a one-line reason (the panic's message
/// kept), and times it.
pub fn run_guarded(prepared: &mut dyn Prepared) -> (Result<(), String>, Duration) {
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| prepared.run()));
    let elapsed = start.elapsed();
    let result = match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!("panicked: {}", panic_message(&panic))),
    };
    (result, elapsed)
}

/// The text of a caught panic.
pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

// ---- references ---------------------------------------------------------------------------

/// Where a problem's reference comes from, resolved lazily (the oracle is computed only if
/// a variant needs it), in this order: a file the user gave (`--reference`), the committed
/// reference file(s) for these parameters, or the output of the kernel's first oracle that
/// can run at this size (naive, or a stand-in itself validated against naive).
pub struct References<'a> {
    instance: &'a dyn Instance,
    user: Option<Output>,
    resolved: Option<Result<Reference, String>>,
}

impl<'a> References<'a> {
    pub fn new(instance: &'a dyn Instance, user_file: Option<&Path>) -> Result<Self, KernelError> {
        let user = match user_file {
            Some(path) => Some(Output::single("", crate::io::read_f64(path)?)),
            None => None,
        };
        Ok(References {
            instance,
            user,
            resolved: None,
        })
    }

    /// The reference for this problem, or why there is none.
    pub fn get(&mut self, for_output: &Output) -> Result<Reference, String> {
        if let Some(user) = &self.user {
            // A user's file is compared with the output's first array.
            let name = for_output
                .arrays
                .first()
                .map(|(n, _)| n.clone())
                .unwrap_or_default();
            return Ok(Reference {
                label: "--reference file".into(),
                output: Output::single(&name, user.arrays[0].1.clone()),
            });
        }
        if self.resolved.is_none() {
            self.resolved = Some(resolve(self.instance));
        }
        self.resolved.clone().expect("just resolved")
    }

    /// When `variant` is the kernel's first oracle and there is no reference file, its own
    /// output becomes the reference (instead of computing the oracle a second time).
    fn adopt_if_oracle(&mut self, variant: VariantRef, output: &Output) {
        if self.user.is_none()
            && self.resolved.is_none()
            && self.instance.oracles().first() == Some(&variant)
            && self.instance.reference_files().is_empty()
            // No files because HARNESS_REFERENCES names no folder: `resolve` says so.
            && crate::io::references_dir().is_ok()
        {
            self.resolved = Some(Ok(Reference {
                label: computed_label(variant),
                output: output.clone(),
            }));
        }
    }

    /// The reference once resolved (after a validation), if there is one.
    pub fn reference(&self) -> Option<&Reference> {
        match &self.resolved {
            Some(Ok(r)) => Some(r),
            _ => None,
        }
    }

    /// Whether `variant` is the oracle that produced the reference (it then passes by
    /// construction, and the report says so).
    pub fn is_oracle(&self, variant: VariantRef) -> bool {
        matches!(&self.resolved, Some(Ok(r)) if r.label == computed_label(variant))
    }
}

fn computed_label(oracle: VariantRef) -> String {
    format!(
        "{} (computed here: no reference file for these parameters)",
        oracle.name()
    )
}

fn resolve(instance: &dyn Instance) -> Result<Reference, String> {
    // A HARNESS_REFERENCES naming no folder leaves every kernel without its files: said here,
    // rather than validating against the oracle alone as if no file had ever been committed.
    crate::io::references_dir().map_err(|e| e.to_string())?;
    let files = instance.reference_files();
    if !files.is_empty() {
        let output = crate::io::read_output(&files).map_err(|e| e.to_string())?;
        let label = files
            .iter()
            .map(|(_, p)| relative(p))
            .collect::<Vec<_>>()
            .join(", ");
        return Ok(Reference { label, output });
    }
    let mut why = Vec::new();
    for oracle in instance.oracles() {
        match instance.probe(oracle) {
            Availability::Ready => {
                let output = oracle_output(instance, oracle)?;
                return Ok(Reference {
                    label: computed_label(oracle),
                    output,
                });
            }
            other => why.push(format!(
                "{} {}: {}",
                oracle.name(),
                other.label(),
                other.reason()
            )),
        }
    }
    Err(format!(
        "no reference file and no oracle can run ({})",
        why.join("; ")
    ))
}

/// The oracle's output, every step guarded like a variant's.
fn oracle_output(instance: &dyn Instance, oracle: VariantRef) -> Result<Output, String> {
    let name = oracle.name();
    let mut prepared = catch_unwind(AssertUnwindSafe(|| instance.prepare(oracle)))
        .map_err(|p| format!("oracle {name}: setup panicked: {}", panic_message(&p)))?
        .map_err(|e| e.to_string())?;
    run_guarded(prepared.as_mut()).0?;
    catch_unwind(AssertUnwindSafe(|| prepared.output()))
        .map_err(|p| format!("oracle {name}: output panicked: {}", panic_message(&p)))?
        .map_err(|e| e.to_string())
}

/// `references/laue/x.npy` rather than an absolute path of this machine.
fn relative(p: &Path) -> String {
    let s = p.to_string_lossy();
    match s.find("references/") {
        Some(i) => s[i..].to_string(),
        None => s.into_owned(),
    }
}

// ---- validation ---------------------------------------------------------------------------

/// The outcome of comparing one variant's output with the problem's reference.
#[derive(Debug)]
pub struct Validation {
    pub check: Option<Check>,
    /// Where the reference came from (a file, or the oracle computed here).
    pub reference: String,
    /// Whether the variant is the oracle that produced the reference (it passes by
    /// construction).
    pub oracle: bool,
    /// The kernel's figures of the output ([`Instance::describe`]).
    pub summary: Option<String>,
    /// Why validation could not even compare (no output, no reference).
    pub failure: Option<String>,
}

impl Validation {
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.check.as_ref().is_some_and(Check::passed)
    }

    /// One line: the error against the tolerance, or what went wrong.
    pub fn summary(&self) -> String {
        if let Some(f) = &self.failure {
            return f.clone();
        }
        let check = self
            .check
            .as_ref()
            .expect("a check when there is no failure");
        // No comparison at all fails too (`Check::passed`): say why, not nothing.
        let worst = check.worst().map_or_else(
            || "nothing compared: the reference holds no array of the output's".to_string(),
            |c| c.to_string(),
        );
        let mut s = format!(
            "error {:.2e} (tolerance {:.0e}{})",
            check.error(),
            check.tolerance.max_norm,
            check
                .tolerance
                .relative
                .map(|r| format!(
                    ", relative {:.0e} where |ref| > {:.0e}·max",
                    r.rtol, r.threshold
                ))
                .unwrap_or_default()
        );
        if !check.passed() {
            s.push_str(&format!(" — {worst}"));
        }
        for n in &check.notes {
            s.push_str(&format!("; {n}"));
        }
        s
    }
}

/// Compares the output of a prepared variant's last run with the problem's reference.
fn validate(
    instance: &dyn Instance,
    refs: &mut References<'_>,
    variant: VariantRef,
    prepared: &dyn Prepared,
) -> Validation {
    let output = match catch_unwind(AssertUnwindSafe(|| prepared.output())) {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return unchecked(format!("no output: {e}")),
        Err(p) => return unchecked(format!("output panicked: {}", panic_message(&p))),
    };
    refs.adopt_if_oracle(variant, &output);
    let reference = match refs.get(&output) {
        Ok(r) => r,
        Err(e) => return unchecked(e),
    };
    let check = catch_unwind(AssertUnwindSafe(|| {
        instance.check(variant, &output, &reference.output)
    }));
    match check {
        Ok(check) => Validation {
            check: Some(check),
            oracle: refs.is_oracle(variant),
            reference: reference.label,
            summary: instance.describe(&output),
            failure: None,
        },
        Err(p) => unchecked(format!("comparison panicked: {}", panic_message(&p))),
    }
}

fn unchecked(why: String) -> Validation {
    Validation {
        check: None,
        reference: String::new(),
        oracle: false,
        summary: None,
        failure: Some(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_that_compared_nothing_fails_and_says_so() {
        let v = Validation {
            check: Some(Check {
                comparisons: Vec::new(),
                tolerance: crate::check::Tolerance {
                    max_norm: 1e-13,
                    relative: None,
                    reason: "",
                },
                notes: Vec::new(),
            }),
            reference: String::new(),
            oracle: false,
            summary: None,
            failure: None,
        };
        assert!(!v.passed());
        assert!(v.summary().contains("nothing compared"), "{}", v.summary());
    }
}

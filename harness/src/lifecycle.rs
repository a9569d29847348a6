//! The variant lifecycle's validation step: find the reference for a problem, run a variant
//! once, compare. (The former `validate.rs`, unchanged; each command's `admit` drives the
//! lifecycle with it. LIFECYCLE: replaced by `kernels::gate`.)
//!
//! The reference is, in order: a file the user gave (`--reference`), the committed
//! reference file for these parameters, or the output of the kernel's oracle variant
//! (naive, or a validated stand-in where naive would take too long) computed here.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use kernels::{Availability, Check, Instance, Output, Prepared, Reference};

/// Where a problem's reference comes from, resolved lazily (the oracle is computed only if
/// a variant needs it).
pub struct References<'a> {
    instance: &'a dyn Instance,
    user: Option<Output>,
    resolved: Option<Result<Reference, String>>,
}

impl<'a> References<'a> {
    pub fn new(instance: &'a dyn Instance, user_file: Option<&Path>) -> Result<Self> {
        let user = match user_file {
            Some(path) => Some(Output::single("", kernels::io::read_f64(path)?)),
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
    fn adopt_if_oracle(&mut self, variant: &str, output: &Output) {
        if self.user.is_none()
            && self.resolved.is_none()
            && self.instance.oracles().first() == Some(&variant)
            && self.instance.reference_files().is_empty()
        {
            self.resolved = Some(Ok(Reference {
                label: format!("{variant} (computed here: no reference file for these parameters)"),
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
    pub fn is_oracle(&self, variant: &str) -> bool {
        matches!(&self.resolved, Some(Ok(r)) if r.label.starts_with(&format!("{variant} ")))
    }
}

fn resolve(instance: &dyn Instance) -> Result<Reference, String> {
    let files = instance.reference_files();
    if !files.is_empty() {
        let output = kernels::io::read_output(&files).map_err(|e| e.to_string())?;
        let label = files
            .iter()
            .map(|(_, p)| relative(p))
            .collect::<Vec<_>>()
            .join(", ");
        return Ok(Reference { label, output });
    }
    let mut why = Vec::new();
    for &oracle in instance.oracles() {
        match instance.probe(oracle) {
            Ok(Availability::Ready) => {
                let mut prepared = instance.prepare(oracle).map_err(|e| e.to_string())?;
                let (result, _) = run_guarded(prepared.as_mut());
                result?;
                let output = prepared.output().map_err(|e| e.to_string())?;
                return Ok(Reference {
                    label: format!(
                        "{oracle} (computed here: no reference file for these parameters)"
                    ),
                    output,
                });
            }
            Ok(other) => why.push(format!("{oracle} {}: {}", other.label(), other.reason())),
            Err(e) => why.push(format!("{oracle}: {e}")),
        }
    }
    Err(format!(
        "no reference file and no oracle can run ({})",
        why.join("; ")
    ))
}

/// `references/laue/x.npy` rather than an absolute path of this machine.
fn relative(p: &Path) -> String {
    let s = p.to_string_lossy();
    match s.find("references/") {
        Some(i) => s[i..].to_string(),
        None => s.into_owned(),
    }
}

/// Runs once, turning a panic into an error (its message kept) so the run goes on.
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

pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

/// The outcome of validating one variant on one problem.
pub struct Validation {
    pub check: Option<Check>,
    pub reference: String,
    /// The kernel's figures of the output ([`Instance::describe`]).
    pub summary: Option<String>,
    /// Why validation could not even compare (no reference, run failed, panic).
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
        let worst = check.worst().map(|c| c.to_string()).unwrap_or_default();
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
pub fn validate(
    instance: &dyn Instance,
    refs: &mut References<'_>,
    variant: &str,
    prepared: &dyn Prepared,
) -> Validation {
    let output = match catch_unwind(AssertUnwindSafe(|| prepared.output())) {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return fail(format!("no output: {e}")),
        Err(p) => return fail(format!("output panicked: {}", panic_message(&p))),
    };
    refs.adopt_if_oracle(variant, &output);
    let reference = match refs.get(&output) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match instance.check(variant, &output, &reference.output) {
        Ok(check) => Validation {
            check: Some(check),
            reference: reference.label,
            summary: instance.describe(&output),
            failure: None,
        },
        Err(e) => fail(e.to_string()),
    }
}

fn fail(why: String) -> Validation {
    Validation {
        check: None,
        reference: String::new(),
        summary: None,
        failure: Some(why),
    }
}

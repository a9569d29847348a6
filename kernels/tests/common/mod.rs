//! The shared check helper of every kernel's tests (RustFFT's `check_fft_algorithm`, for
//! this crate): build a problem, run a variant, compare with the oracle or the committed
//! reference using the kernel's own tolerance, and say where it went wrong.
//!
//! Test support only: each test file includes it with `mod common;` (Cargo's convention
//! for helpers shared by integration tests), so none of it is compiled into the library.

#![allow(dead_code)] // each test file uses its own part

use kernels::check::Check;
use kernels::check::Output;
use kernels::gate::Policy;
use kernels::io::read_output;
use kernels::params::Params;
use kernels::registry;
use kernels::{Availability, Instance, Prepared, VariantRef};

pub mod fft;

/// `HARNESS_REQUIRE_GPU=1` (set by CI): a GPU variant skipped for want of an adapter fails.
/// Panics, with the message, on a value the policy does not accept.
pub fn gpu_required() -> bool {
    policy().require_gpu
}

/// The gate's policy from the environment (panics with the message on a bad value).
pub fn policy() -> Policy {
    Policy::from_env().unwrap_or_else(|e| panic!("{e}"))
}

/// The names in `kernel`'s table, in its order.
pub fn variants(kernel: &str) -> Vec<&'static str> {
    registry::kernel(kernel)
        .unwrap()
        .variants()
        .iter()
        .map(|v| v.name)
        .collect()
}

/// Builds the problem `kernel/case` with the kernel's defaults overridden by `overrides`.
pub fn instance(kernel: &str, case: &str, overrides: &[(&str, f64)]) -> Box<dyn Instance> {
    let k = registry::kernel(kernel).unwrap();
    let mut params: Params = k.defaults(case);
    for &(name, value) in overrides {
        params.set(name, value);
    }
    k.instance(case, &params, &[])
        .unwrap_or_else(|e| panic!("{kernel}/{case} {params}: {e}"))
}

/// What happened when a variant was checked.
pub enum Outcome {
    Checked(Check),
    /// The variant cannot run here or does not apply (reason given).
    NotRun(Availability),
}

/// Runs a prepared variant twice (a variant that leaves state behind, such as an
/// accumulator it forgets to clear, gives a different second result) and returns the
/// second output.
fn run_twice(instance: &dyn Instance, variant: VariantRef) -> kernels::check::Output {
    let name = variant.name();
    let mut prepared = instance
        .prepare(variant)
        .unwrap_or_else(|e| panic!("{name}: setup failed: {e}"));
    prepared
        .run()
        .unwrap_or_else(|e| panic!("{name}: run failed: {e}"));
    let first = prepared.output().unwrap();
    prepared
        .run()
        .unwrap_or_else(|e| panic!("{name}: second run failed: {e}"));
    let second = prepared.output().unwrap();
    let again = instance.check(variant, &second, &first);
    assert!(
        again.passed(),
        "{name}: a second run on the same prepared state differs from the first: {:?}",
        again.worst().map(|c| c.to_string())
    );
    second
}

/// Why `variant` cannot run here (printed), or None when it is ready. A GPU variant skipped
/// for want of an adapter panics under HARNESS_REQUIRE_GPU=1.
pub fn not_run(instance: &dyn Instance, variant: VariantRef) -> Option<Availability> {
    let a = instance.probe(variant);
    if a.is_ready() {
        return None;
    }
    let id = format!(
        "{}/{}/{}",
        instance.kernel(),
        instance.case(),
        variant.name()
    );
    if policy().fails(variant, &a) {
        panic!(
            "{id} is skipped ({}) but HARNESS_REQUIRE_GPU=1: install the software Vulkan \
             driver (Debian: mesa-vulkan-drivers)",
            a.reason()
        );
    }
    eprintln!("{id}: {} ({})", a.label(), a.reason());
    Some(a)
}

/// Compares `variant` with `oracle` on the same problem, with `variant`'s tolerance.
pub fn against_variant(instance: &dyn Instance, variant: &str, oracle: &str) -> Outcome {
    let v = instance.variant(variant).unwrap();
    if let Some(a) = not_run(instance, v) {
        return Outcome::NotRun(a);
    }
    let reference = run_twice(instance, instance.variant(oracle).unwrap());
    let output = run_twice(instance, v);
    Outcome::Checked(instance.check(v, &output, &reference))
}

/// Compares `variant` with the committed reference file(s) of the problem.
pub fn against_reference(instance: &dyn Instance, variant: &str) -> Outcome {
    let files = instance.reference_files();
    assert!(
        !files.is_empty(),
        "{}/{} has no reference file for {}: run scripts/make_references.py",
        instance.kernel(),
        instance.case(),
        instance.params()
    );
    let v = instance.variant(variant).unwrap();
    if let Some(a) = not_run(instance, v) {
        return Outcome::NotRun(a);
    }
    let reference = read_output(&files).unwrap();
    let output = run_twice(instance, v);
    Outcome::Checked(instance.check(v, &output, &reference))
}

/// Panics with the worst index and both values when the check failed; returns the error.
#[track_caller]
pub fn assert_passes(outcome: Outcome, what: &str) -> Option<f64> {
    match outcome {
        Outcome::NotRun(_) => None,
        Outcome::Checked(check) => {
            assert!(
                check.passed(),
                "{what}: {} (tolerance {:e}: {})",
                check
                    .comparisons
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
                check.tolerance.max_norm,
                check.tolerance.reason
            );
            Some(check.error())
        }
    }
}

/// The variant called `name` of `inst` (panics with the valid names if there is none).
pub fn variant(inst: &dyn Instance, name: &str) -> VariantRef {
    inst.variant(name).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether `name` can run here, on this problem.
pub fn probe(inst: &dyn Instance, name: &str) -> Availability {
    inst.probe(variant(inst, name))
}

/// Sets `name` up. Tests call variants directly, not through the gate: a failure should
/// panic here, with its message, rather than become a row.
pub fn prepare(inst: &dyn Instance, name: &str) -> Box<dyn Prepared> {
    inst.prepare(variant(inst, name))
        .unwrap_or_else(|e| panic!("{name}: setup failed: {e}"))
}

/// Prepares and runs `name` once, and returns its output.
pub fn run_once(inst: &dyn Instance, name: &str) -> Output {
    let mut p = prepare(inst, name);
    p.run()
        .unwrap_or_else(|e| panic!("{name}: run failed: {e}"));
    p.output().unwrap()
}

/// `output` against `reference` with `name`'s tolerance on this problem.
pub fn check(inst: &dyn Instance, name: &str, output: &Output, reference: &Output) -> Check {
    inst.check(variant(inst, name), output, reference)
}

//! The shared check helper of every kernel's tests (RustFFT's `check_fft_algorithm`, for
//! this crate): build a problem, run a variant, compare with the oracle or the committed
//! reference using the kernel's own tolerance, and say where it went wrong.

use crate::check::Check;
use crate::io::read_output;
use crate::kernel::Instance;
use crate::params::Params;
use crate::registry;
use crate::variant::{Availability, Strategy};

/// `HARNESS_REQUIRE_GPU=1` (set by CI) turns a GPU variant skipped for want of an adapter
/// into a test failure.
pub fn gpu_required() -> bool {
    std::env::var("HARNESS_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// Whether a skipped GPU variant must count as a failure: `HARNESS_REQUIRE_GPU=1` and no
/// adapter could be opened. A variant skipped for another reason while the adapter works
/// (no f64 shaders, a size beyond the binding limit, a variant not written yet) is
/// reported with that reason, not failed: the driver is there and working.
pub fn missing_gpu_is_failure(a: &Availability) -> bool {
    gpu_required() && matches!(a, Availability::Skipped(_)) && crate::gpu::adapter().is_err()
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
fn run_twice(instance: &dyn Instance, variant: &str) -> crate::check::Output {
    let mut prepared = instance
        .prepare(variant)
        .unwrap_or_else(|e| panic!("{variant}: setup failed: {e}"));
    prepared
        .run()
        .unwrap_or_else(|e| panic!("{variant}: run failed: {e}"));
    let first = prepared.output().unwrap();
    prepared
        .run()
        .unwrap_or_else(|e| panic!("{variant}: second run failed: {e}"));
    let second = prepared.output().unwrap();
    let again = instance.check(variant, &second, &first).unwrap();
    assert!(
        again.passed(),
        "{variant}: a second run on the same prepared state differs from the first: {:?}",
        again.worst().map(|c| c.to_string())
    );
    second
}

fn availability(instance: &dyn Instance, variant: &str) -> Option<Availability> {
    let a = instance.probe(variant).unwrap();
    if a.is_ready() {
        return None;
    }
    let info = instance.info(variant).unwrap();
    if info.strategy == Strategy::Gpu && missing_gpu_is_failure(&a) {
        panic!(
            "{}/{}/{variant} is skipped ({}) but HARNESS_REQUIRE_GPU=1: install the software \
             Vulkan driver (Debian: mesa-vulkan-drivers)",
            instance.kernel(),
            instance.case(),
            a.reason()
        );
    }
    eprintln!(
        "{}/{}/{variant}: {} ({})",
        instance.kernel(),
        instance.case(),
        a.label(),
        a.reason()
    );
    Some(a)
}

/// Compares `variant` with `oracle` on the same problem, with `variant`'s tolerance.
pub fn against_variant(instance: &dyn Instance, variant: &str, oracle: &str) -> Outcome {
    if let Some(a) = availability(instance, variant) {
        return Outcome::NotRun(a);
    }
    let reference = run_twice(instance, oracle);
    let output = run_twice(instance, variant);
    Outcome::Checked(instance.check(variant, &output, &reference).unwrap())
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
    if let Some(a) = availability(instance, variant) {
        return Outcome::NotRun(a);
    }
    let reference = read_output(&files).unwrap();
    let output = run_twice(instance, variant);
    Outcome::Checked(instance.check(variant, &output, &reference).unwrap())
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

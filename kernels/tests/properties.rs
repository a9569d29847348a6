//! Property tests: on random small problems (random sizes and parameters inside each
//! kernel's declared domain), every variant that can run here agrees with naive, within the
//! kernel's own tolerance for that variant (`Instance::check`, the same check the harness
//! uses before it times anything).
//!
//! 100 problems per kernel; every Ready variant is checked on each of them, so each variant
//! sees 100 problems. Sizes are kept small so that naive (the oracle, O(formula)) stays
//! cheap and the whole file runs in seconds in release on a busy 2-core machine. GPU
//! variants that are Ready (the software Vulkan driver) are checked on the same small
//! problems; a GPU variant that is Skipped here is reported on stderr and left out.
//!
//! A failing case is shrunk by proptest and printed with its parameters; rerun it with
//! `harness validate --kernel K --case C --<param> v ...`.

mod common;

use common::instance;
use kernels::{Availability, Instance};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Problems per kernel (the issue asks for at least 100).
const PROBLEMS: u32 = 100;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: PROBLEMS,
        // Every case is a deterministic problem built from its parameters: nothing to gain
        // from persisting failures to a file in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs naive once, then every other Ready variant once, and checks each against naive
/// with that variant's own tolerance. Returns how many variants were compared.
fn agree_with_naive(
    kernel: &str,
    case: &str,
    overrides: &[(&str, f64)],
) -> Result<usize, TestCaseError> {
    let inst = instance(kernel, case, overrides);
    // The kernel's oracle: `naive`, or the pipeline's `serial` (one image after another with
    // deconv's validated FFT variant).
    let oracle = inst.oracles()[0].name();
    let reference = run(inst.as_ref(), oracle)?;
    let mut compared = 0;
    for info in inst.variants() {
        let name = info.name();
        if name == oracle {
            continue;
        }
        match common::probe(&*inst, name) {
            Availability::Ready => {}
            // Not applicable or not here (no GPU, not written yet): the registry test and the
            // kernel's own tests cover the reason; nothing to compare.
            Availability::Skipped(_) | Availability::NotApplicable(_) => continue,
        }
        let output = run(inst.as_ref(), name)?;
        let check = common::check(&*inst, name, &output, &reference);
        prop_assert!(
            check.passed(),
            "{kernel}/{case}/{name} [{}] disagrees with {oracle}: {} (tolerance {:e}: {})",
            inst.params(),
            check
                .comparisons
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("; "),
            check.tolerance.max_norm,
            check.tolerance.reason
        );
        compared += 1;
    }
    Ok(compared)
}

fn run(inst: &dyn Instance, variant: &str) -> Result<kernels::Output, TestCaseError> {
    let fail = |what: &str, e: String| {
        TestCaseError::fail(format!(
            "{}/{}/{variant} [{}]: {what}: {e}",
            inst.kernel(),
            inst.case(),
            inst.params()
        ))
    };
    let mut prepared = inst
        .prepare(common::variant(inst, variant))
        .map_err(|e| fail("setup failed", e.to_string()))?;
    prepared
        .run()
        .map_err(|e| fail("run failed", e.to_string()))?;
    prepared
        .output()
        .map_err(|e| fail("no output", e.to_string()))
}

proptest! {
    #![proptest_config(config())]

    /// Laue: any crystal shape, lattice 1..12 cells, 1..3 points per reciprocal unit, any
    /// centre within ±20 (the f64 tolerance grows with the largest phase, which the
    /// kernel's tolerance accounts for), strain up to 5 % over 1..10 cells.
    #[test]
    fn laue_variants_agree_with_naive(
        case in prop::sample::select(vec!["square", "circle", "strained"]),
        n in 1usize..=12,
        oversampling in 1usize..=3,
        h in -20.0f64..20.0,
        k in -20.0f64..20.0,
        e0 in 0.0f64..0.05,
        w in 1.0f64..10.0,
    ) {
        agree_with_naive("laue", case, &[
            ("n", n as f64), ("oversampling", oversampling as f64),
            ("h", h), ("k", k), ("e0", e0), ("w", w),
        ])?;
    }

    /// AIA PSF: every channel, even N from 16 to 64 (grids where no spike of a filter reaches
    /// are refused by the kernel, as aiapy would divide 0 by 0, and skipped here), flight or
    /// pre-flight core. Found here and fixed: gpu-f32 gave NaN when every f32 spike term of
    /// a filter underflowed (335 Å, N = 32); vectorised exceeded a fixed 1e-6 relative bound
    /// that the composite's FFT rounding floor cannot meet (335 Å, N = 54, pre-flight).
    #[test]
    fn psf_variants_agree_with_naive(
        channel in prop::sample::select(vec![94.0, 131.0, 171.0, 193.0, 211.0, 304.0, 335.0]),
        half in 8usize..=32,
        preflight in 0u8..=1,
    ) {
        prop_assume!(kernels::psf::PsfProblem::new(channel as u32, 2 * half, preflight == 1).is_ok());
        agree_with_naive("psf", "aia", &[
            ("channel", channel), ("n", 2.0 * half as f64), ("preflight", preflight as f64),
        ])?;
    }

    /// Batched LM: every model, 1..40 fits (odd counts exercise the SIMD remainder lanes),
    /// any seed, stopping tolerance 1e-5..1e-2, 1..30 iterations; every variant, the f32 GPU
    /// one and the library (MINPACK) included (the check's items 3 and 4 say how fits that
    /// stop elsewhere are told apart from wrong ones). This test found the tie of the
    /// stopping rule of `a_tie_of_the_stopping_rule_is_explained` in tests/lm.rs.
    #[test]
    fn lm_variants_agree_with_naive(
        case in prop::sample::select(vec!["gauss2d", "odmr", "odmr8"]),
        fits in 1usize..=40,
        seed in 0u64..1_000_000,
        // Convergence tolerances f32 can resolve (Gpufit uses 1e-4): below ~1e-5 relative, the
        // f32 GPU variant cannot see χ² decrease and stops at max-iterations where naive
        // (f64) converges, which the per-fit check rightly reports.
        log_tol in -5.0f64..-2.0,
        max_iterations in 1usize..=30,
    ) {
        agree_with_naive("lm", case, &[
            ("fits", fits as f64), ("seed", seed as f64),
            ("tolerance", 10f64.powf(log_tol)), ("max_iterations", max_iterations as f64),
        ])?;
    }

    /// Richardson–Lucy: synthetic scenes 2..12 px, 0..6 iterations, a Gaussian PSF of
    /// 0.3..5 px, clipped or not. This test found that 2·iterations·log₂(RC)·ε is too tight
    /// at 3×3 with a sharp PSF (n = 3, 1 iteration, sigma 0.3, seed 151811: the division
    /// amplifies the convolution's rounding where the blurred estimate is small); the
    /// kernel's tolerance now carries that condition (`deconv::rounding_bound`).
    #[test]
    fn deconv_variants_agree_with_naive(
        n in 2usize..=12,
        iterations in 0usize..=6,
        // sigma 0 (the AIA PSF) is refused in this build until kernels::psf is wired in.
        sigma in 0.3f64..5.0,
        channel in prop::sample::select(vec![94.0, 131.0, 171.0, 193.0, 211.0, 304.0, 335.0]),
        seed in 0u64..1_000_000,
        clip in 0u8..=1,
    ) {
        agree_with_naive("deconv", "synthetic", &[
            ("n", n as f64), ("iterations", iterations as f64), ("sigma", sigma),
            ("channel", channel), ("seed", seed as f64), ("clip", clip as f64),
        ])?;
    }

    /// Pipeline: 1..4 synthetic images plus 0..1 TRACE crops, sides 2..16 (the GPU variants
    /// apply at powers of two only and say so elsewhere), 0..4 iterations of a Gaussian PSF;
    /// every scheduling strategy must give each image's serial deconvolution.
    #[test]
    fn pipeline_variants_agree_with_serial(
        n in prop::sample::select(vec![2usize, 3, 4, 5, 7, 8, 12, 16]),
        images in 1usize..=4,
        trace in 0usize..=1,
        iterations in 0usize..=4,
        sigma in 0.3f64..5.0,
        seed in 0u64..1_000_000,
    ) {
        let compared = agree_with_naive("pipeline", "deconv-stack", &[
            ("n", n as f64), ("images", images as f64), ("trace", trace as f64),
            ("iterations", iterations as f64), ("sigma", sigma), ("seed", seed as f64),
        ])?;
        prop_assert!(compared >= 2, "threads-over-images and threads-inside-image always run");
    }
}

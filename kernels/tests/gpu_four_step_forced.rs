//! The four-step plans forced at small sizes: this test binary lowers the adapter's
//! workgroup memory to 2 KiB (HARNESS_GPU_MAX_WORKGROUP_STORAGE, before the GPU context is
//! made; its own process, so no other test sees it). f64 then fits 128 points and f32 256,
//! so 256² f64 and 512² f32 take the four-step on both sides, and deconvolution's columns
//! take it as f64 4096² does on an NVIDIA GPU (rows of C/2 fit, columns of R do not).
//! The PSF composite takes the four-step at 256² f64 and 512² f32 too (rows and columns).
//! Tolerances: tests/gpu_fft_four_step.rs's (the FFT), deconv's and the PSF's own (the
//! variants), psf/gpu.rs's for the device composite.

use std::sync::Once;

use kernels::Precision;
use kernels::deconv::gpu::Path;
use kernels::gpu::GpuContext;
use kernels::gpu::fft::Shape;
use kernels::gpu::fft_four_step::Split;
use kernels::gpu::fft_shared::Fft2d;
mod common;

use common::{against_variant, assert_passes, instance};

/// Bytes of workgroup memory this binary's device gets.
const LIMIT: &str = "2048";

/// The context with the lowered limit (or None when there is no adapter).
fn ctx() -> Option<&'static GpuContext> {
    static LOWER: Once = Once::new();
    LOWER.call_once(|| {
        // Safety: `set_var` races only with a thread reading the environment through libc at
        // the same moment. Every test of this binary passes here before anything else, and
        // `call_once` makes the others wait; the Vulkan loader (the only C code that reads
        // the environment) starts later, in `gpu::context`.
        unsafe { std::env::set_var("HARNESS_GPU_MAX_WORKGROUP_STORAGE", LIMIT) };
    });
    let c = common::fft::ctx()?;
    assert_eq!(
        c.max_workgroup_storage_bytes(),
        2048,
        "the limit was not lowered"
    );
    Some(c)
}

#[test]
fn grids_beyond_the_lowered_limit_take_the_four_step_and_match_rustfft() {
    let Some(c) = ctx() else { return };
    let mut cases = vec![(Precision::F32, 512usize)];
    if c.has_f64() {
        cases.push((Precision::F64, 256));
    }
    for (p, n) in cases {
        let grid = Shape::Grid { rows: n, cols: n };
        let plan = Fft2d::new(c, p, grid).unwrap();
        assert_eq!(plan.global_passes(), 4, "{p} {n}²: 2 four-step sides");
        let levels = 2 * n.trailing_zeros();
        common::fft::check_four_step(c, p, grid, levels);
        // A tall grid: rows of 8 in one pass, columns of 4·n as a four-step.
        common::fft::check_four_step(
            c,
            p,
            Shape::Grid {
                rows: 4 * n,
                cols: 8,
            },
            levels / 2 + 5,
        );
    }
}

#[test]
fn lines_whose_factors_do_not_fit_fall_back_to_stockham() {
    let Some(c) = ctx() else { return };
    // f32 2¹⁷ = 2⁸ · 2⁹: 2⁹ points need 4 KiB.
    let n = 1 << 17;
    assert_eq!(Split::plan(c, Precision::F32, n), None);
    let plan = Fft2d::new(c, Precision::F32, Shape::Rows { batch: 1, n }).unwrap();
    assert!(matches!(plan, Fft2d::Stockham(_)));
    let split = Split::plan(c, Precision::F32, 1 << 16).unwrap();
    assert_eq!((split.n1, split.n2), (256, 256));
}

/// Deconvolution with four-step columns: 8 global passes per iteration (2 row steps, 2
/// column steps of 3), against the CPU `fft` variant with deconv's tolerance. (Square
/// images at these sizes pass too; tall ones keep the test to a second.)
#[test]
fn deconvolution_with_four_step_columns_matches_the_cpu() {
    let Some(c) = ctx() else { return };
    let mut cases = vec![(Precision::F32, "gpu-f32", 512usize)];
    if c.has_f64() {
        cases.push((Precision::F64, "gpu-f64", 256));
    }
    for (p, variant, n) in cases {
        // Tall images: columns of n points (the four-step), rows of 64 (fit: 32 points).
        let path = Path::plan(c, p, n, 64, false).unwrap();
        let split = Split::plan(c, p, n).unwrap();
        assert_eq!(path, Path::FusedFourStep { split }, "{variant} {n}×64");
        assert_eq!(path.global_passes_per_iteration(), 8);
        // The AIA PSF is square: a Gaussian one for a tall image.
        let size = [("rows", n as f64), ("cols", 64.0), ("sigma", 2.0)];
        let inst = instance(
            "deconv",
            "synthetic",
            &[size[0], size[1], size[2], ("iterations", 5.0)],
        );
        let oracle = match p {
            Precision::F32 => "fft-f32",
            Precision::F64 => "fft",
        };
        let what = format!("deconv/synthetic/{variant} {n}×64, four-step columns");
        let err = assert_passes(against_variant(inst.as_ref(), variant, oracle), &what);
        // Past `ctx`, the variant runs (a skip would make this test pass without a check).
        let err = err.unwrap_or_else(|| panic!("{what}: not run"));
        eprintln!("{what}: error {err:.2e}");
    }
}

/// The pipeline's GPU variants run deconv's plan: four-step columns at 512×64 f32 here,
/// against the CPU `serial` variant with the pipeline's tolerance.
#[test]
fn pipeline_gpu_variants_take_the_four_step_columns() {
    use kernels::Kernel;
    use kernels::pipeline::Pipeline;
    use kernels::pipeline::device::GpuStack;
    let Some(c) = ctx() else { return };
    let overrides = [
        ("n", 512.0),
        ("rows", 512.0),
        ("cols", 64.0),
        ("sigma", 2.0),
        ("images", 2.0),
        ("trace", 0.0),
        ("iterations", 3.0),
    ];
    let mut params = kernels::Params::defaults(Pipeline::params());
    for &(name, value) in &overrides {
        params = params.with(name, value);
    }
    let p = Pipeline::problem("deconv-stack", &params, &[]).unwrap();
    let split = Split::plan(c, Precision::F32, 512).unwrap();
    let stack = GpuStack::new(&p, 1).unwrap();
    assert_eq!(stack.path(), Path::FusedFourStep { split });
    let inst = instance("pipeline", "deconv-stack", &overrides);
    let what = "pipeline/deconv-stack/gpu-serial 512×64, four-step columns";
    let err = assert_passes(against_variant(inst.as_ref(), "gpu-serial", "serial"), what);
    assert!(err.is_some(), "{what}: not run");
}

/// The PSF composite with four-step sides (f64 256² = 16 × 16, f32 512² = 16 × 32 here, as
/// f64 4096² on NVIDIA's 48 KiB and lavapipe's 32 KiB): 10 global passes, where Stockham
/// takes 3·(its passes) + 2; and each windowed GPU variant's PSF against the CPU composite
/// (f64, psf::composite) of the very filters that variant normalised on the device, with
/// psf/gpu.rs's bound for the device composite (3 × the 2-D FFT's 7·log₂(N²)·u, + 1 u).
#[test]
fn psf_composite_takes_the_four_step_and_matches_the_cpu_composite() {
    use kernels::psf::composite::Composite;
    use kernels::psf::gpu_composite::CompositePath;
    let Some(c) = ctx() else { return };
    let mut cases = vec![(Precision::F32, "gpu-windowed-f32", 512usize)];
    if c.has_f64() {
        cases.push((Precision::F64, "gpu-windowed-f64", 256));
    }
    for (p, variant, n) in cases {
        let split = Split::plan(c, p, n).unwrap();
        let path = CompositePath::plan(c, p, n, false).unwrap();
        assert_eq!(path, CompositePath::FourStep { split }, "{variant} {n}²");
        assert_eq!(path.global_passes(), 10, "{variant} {n}²");
        let stockham = CompositePath::plan(c, p, n, true).unwrap();
        assert!(matches!(stockham, CompositePath::Stockham { .. }));
        assert!(stockham.global_passes() > 10, "{stockham:?}");

        let inst = instance("psf", "aia", &[("n", n as f64)]);
        let mut run = common::prepare(inst.as_ref(), variant);
        run.run().unwrap();
        // The composite ran on the device (a host composite would be the oracle itself).
        let stages: Vec<&str> = run.stages().into_iter().map(|s| s.name).collect();
        assert!(stages.contains(&"composite"), "{variant} {n}²: {stages:?}");
        let out = run.output().unwrap();
        let array = |name: &str| out.get(name).unwrap().as_slice().unwrap().to_vec();
        let (psf, entrance, focal_plane) = (array("psf"), array("entrance"), array("focal_plane"));
        let mut want = vec![0.0; n * n];
        Composite::new(n, false)
            .run(&focal_plane, &entrance, &mut want)
            .unwrap();
        let err = relative_rms(&psf, &want);
        let u = common::fft::unit_roundoff(p);
        let bound = (3.0 * 7.0 * (2.0 * n.ilog2() as f64) + 1.0) * u;
        eprintln!("{variant} {n}² four-step composite: {err:.2e} (bound {bound:.1e})");
        assert!(err <= bound, "{variant} {n}²: {err:e} > {bound:e}");
    }
}

/// The PSF GPU variants end to end on the forced limit, against the committed references:
/// N = 256 (complete arrays; the f64 variants' composite takes the four-step, f32 fits) and
/// N = 512 (extracts; the windowed variants, both precisions on the four-step).
#[test]
fn psf_gpu_variants_with_four_step_composites_match_the_references() {
    let Some(c) = ctx() else { return };
    let sizes: [(f64, &[&str]); 2] = [
        (
            256.0,
            &["gpu-f32", "gpu-f64", "gpu-windowed-f32", "gpu-windowed-f64"],
        ),
        (512.0, &["gpu-windowed-f32", "gpu-windowed-f64"]),
    ];
    for (n, variants) in sizes {
        let inst = instance("psf", "aia", &[("n", n)]);
        for v in variants
            .iter()
            .filter(|v| c.has_f64() || v.ends_with("f32"))
        {
            let what = format!("psf/aia/{v} n={n}, forced four-step limit");
            let err = assert_passes(common::against_reference(inst.as_ref(), v), &what);
            // Past `ctx`, the variant runs (a skip would make this test pass without a check).
            assert!(err.is_some(), "{what}: not run");
        }
    }
}

/// ‖got − want‖₂ / ‖want‖₂ of real arrays.
fn relative_rms(got: &[f64], want: &[f64]) -> f64 {
    let err: f64 = got.iter().zip(want).map(|(a, b)| (a - b) * (a - b)).sum();
    (err / want.iter().map(|b| b * b).sum::<f64>()).sqrt()
}

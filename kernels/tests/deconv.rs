//! Deconvolution: the direct and FFT convolutions compute the same circular sums; naive
//! against aiapy's own output; every variant against naive at small and odd sizes and
//! against aiapy; a non-finite ratio reported by every variant; the f32 error against the
//! iteration count; bad inputs refused.

use kernels::deconv::{self, naive, scene, vectorised};
use kernels::fft2d::Fft2d;
use kernels::io::read_output;
use kernels::registry;
mod common;

use common::{Outcome, against_variant, assert_passes, instance};
use kernels::{Availability, Instance, KernelError, Output, Precision, Strategy};
use ndarray::{Array2, ArrayD};
use num_complex::Complex64;

fn variants() -> Vec<&'static str> {
    common::variants("deconv")
}

fn noise(r: usize, c: usize, seed: u64) -> Array2<f64> {
    let mut rng = scene::Rng::new(seed);
    Array2::from_shape_fn((r, c), |_| rng.uniform())
}

/// A problem from user arrays (the `--input` path), with default parameters otherwise.
fn with_inputs(inputs: &[ArrayD<f64>], overrides: &[(&str, f64)]) -> Box<dyn Instance> {
    let k = registry::kernel("deconv").unwrap();
    let mut params = k.defaults("synthetic");
    for &(name, value) in overrides {
        params.set(name, value);
    }
    k.instance("synthetic", &params, inputs).unwrap()
}

/// The output of `v`, or None (reason printed) when it cannot run here. `twice`: run it
/// twice on one prepared state and return the second output (a variant that leaves state
/// behind gives a different second result). Like `common::against_variant`, except that
/// the tests below compute the oracle once per problem and share it between variants.
fn output(inst: &dyn Instance, v: &str, twice: bool) -> Option<Output> {
    if common::not_run(inst, common::variant(inst, v)).is_some() {
        return None;
    }
    let mut p = common::prepare(inst, v);
    p.run().unwrap_or_else(|e| panic!("{v}: {e}"));
    let first = p.output().unwrap();
    if !twice {
        return Some(first);
    }
    p.run().unwrap_or_else(|e| panic!("{v} (second run): {e}"));
    let second = p.output().unwrap();
    let again = common::check(inst, v, &second, &first);
    assert!(
        again.passed(),
        "{v}: a second run on the same state differs"
    );
    Some(second)
}

/// Checks `v` (run twice) against `reference` with `v`'s tolerance.
fn check_against(inst: &dyn Instance, v: &str, reference: &Output, what: &str) {
    if let Some(out) = output(inst, v, true) {
        assert_passes(
            Outcome::Checked(common::check(inst, v, &out, reference)),
            what,
        );
    }
}

/// Every variant but naive against naive (computed once) on one problem.
fn every_variant_against_naive(inst: &dyn Instance, what: &str) {
    let naive = output(inst, "naive", false).expect("naive runs at test sizes");
    for v in variants().into_iter().filter(|v| *v != "naive") {
        check_against(inst, v, &naive, &format!("{what}/{v}"));
    }
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn direct_and_fft_convolutions_agree() {
    // irfft2(rfft2(a)·P) is a ⊛ k and irfft2(rfft2(a)·conj(P)) is a ⋆ k, with P = rfft2(k).
    // Both sum RC terms of size ≤ max|a|·max|k|: rounding ≲ 1e-15·RC of that.
    for (i, &(r, c)) in [(1, 6), (5, 7), (9, 12), (16, 16), (13, 8)]
        .iter()
        .enumerate()
    {
        let (a, k) = (noise(r, c, 10 + i as u64), noise(r, c, 20 + i as u64));
        let fft = Fft2d::<f64>::new(r, c);
        let mut s = fft.scratch();
        let spectrum = |x: &Array2<f64>| {
            let mut out = vec![Complex64::default(); fft.spectrum_len()];
            fft.rfft2(x.as_slice().unwrap(), &mut out, &mut fft.scratch());
            out
        };
        let p = spectrum(&k);
        let scale = (r * c) as f64;
        for conjugate in [false, true] {
            let mut prod = spectrum(&a);
            deconv::multiply(&mut prod, &p, conjugate);
            let mut via_fft = Array2::zeros((r, c));
            fft.irfft2(&mut prod, via_fft.as_slice_mut().unwrap(), &mut s);
            let direct = if conjugate {
                naive::correlate(&a, &k)
            } else {
                naive::convolve(&a, &k)
            };
            let err = max_abs_diff(&via_fft, &direct);
            assert!(err < 1e-15 * scale, "{r}×{c} conj={conjugate}: {err:e}");
        }
        // The vectorised sum (doubled kernel rows, FMA) against the naive one.
        let mut out = vec![0.0; r * c];
        vectorised::convolve(
            a.as_slice().unwrap(),
            &vectorised::doubled(&k),
            r,
            c,
            &mut out,
        );
        let out = Array2::from_shape_vec((r, c), out).unwrap();
        let err = max_abs_diff(&out, &naive::convolve(&a, &k));
        assert!(err < 1e-15 * scale, "vectorised {r}×{c}: {err:e}");
    }
}

#[test]
fn every_variant_matches_aiapy() {
    // aiapy.psf.deconvolve's output on the harness's own inputs (scripts/
    // make_deconv_references.py); the image and PSF arrays are checked too (the trace
    // image there was read with astropy, here with fitsrs).
    for (case, n) in [("synthetic", 64.0), ("synthetic", 256.0), ("trace", 128.0)] {
        let inst = instance("deconv", case, &[("n", n)]);
        let aiapy = read_output(&inst.reference_files()).unwrap();
        for v in variants() {
            let what = format!("deconv/{case}/{v} n={n} vs aiapy");
            match v {
                // Stateless, and O((RC)²): run once, at 64² only (3 s).
                "naive" if n == 64.0 => {
                    let out = output(inst.as_ref(), v, false).unwrap();
                    assert_passes(
                        Outcome::Checked(common::check(&*inst, v, &out, &aiapy)),
                        &what,
                    );
                }
                // O((RC)²) as well: up to 128² (1 s); at 256² it would take 15 s.
                "naive" => {}
                "vectorised" if n > 128.0 => {}
                _ => check_against(inst.as_ref(), v, &aiapy, &what),
            }
        }
    }
}

#[test]
fn every_variant_matches_naive_at_small_and_odd_sizes() {
    // Sizes, PSF widths, seeds and iteration counts other than the references'.
    // The AIA PSF (the default) needs even sides; odd ones use a Gaussian (--sigma).
    // 0 iterations at 17 (odd) and 16 (the packed rows of `lanes`, `lanes-f32`).
    let problems: [(&str, &[(&str, f64)]); 8] = [
        ("synthetic", &[("n", 16.0), ("sigma", 2.0)]),
        (
            "synthetic",
            &[
                ("n", 24.0),
                ("sigma", 1.0),
                ("seed", 5.0),
                ("iterations", 7.0),
            ],
        ),
        (
            "synthetic",
            &[("n", 31.0), ("sigma", 3.5), ("iterations", 3.0)],
        ),
        (
            "synthetic",
            &[("n", 17.0), ("sigma", 1.0), ("iterations", 0.0)],
        ),
        ("synthetic", &[("n", 16.0), ("iterations", 0.0)]),
        ("synthetic", &[("n", 32.0), ("channel", 304.0)]),
        (
            "synthetic",
            &[("n", 40.0), ("channel", 94.0), ("seed", 9.0)],
        ),
        ("trace", &[("n", 32.0), ("iterations", 10.0)]),
    ];
    for (case, overrides) in problems {
        let inst = instance("deconv", case, overrides);
        every_variant_against_naive(inst.as_ref(), &format!("deconv/{case} {overrides:?}"));
    }
}

#[test]
fn every_variant_matches_naive_on_rectangular_user_inputs() {
    // Odd and even sides, negative pixels (clipped or not), a PSF off the grid's centre.
    // (8, 16): powers of two, so that the GPU variants run too.
    for (r, c, clip) in [(9, 14, 1.0), (12, 7, 0.0), (1, 10, 1.0), (8, 16, 1.0)] {
        let image = noise(r, c, 30).mapv(|v| 100.0 * v - 5.0);
        let psf = scene::gaussian_psf(r, c, 1.3);
        let inst = with_inputs(
            &[image.into_dyn(), psf.into_dyn()],
            &[("clip", clip), ("iterations", 6.0)],
        );
        every_variant_against_naive(inst.as_ref(), &format!("deconv/input {r}×{c} clip={clip}"));
    }
}

#[test]
fn every_variant_matches_naive_on_rectangular_scenes_given_by_rows_and_cols() {
    // --rows/--cols (0: --n). 16×30: the packed rows of `lanes` (8 | R, C even) and mixed
    // radices (30 = 2·5·3 rows, 15 packed); 32×20 the same for `lanes-f32` (16 | R); 15×20,
    // 17×32, 33×48: W ∤ R in both precisions (rows packed, the last block partial: 7, 1, 1
    // real rows for W = 8; 15, 1, 1 for W = 16); 40×30: a partial block for lanes-f32 only
    // (40 mod 16 = 8); 24×9: C odd (rows one at a time through realfft); the trace case's
    // central crop (20 rows: partial in both).
    // (case, the image's shape, the parameters).
    type Problem = (&'static str, [usize; 2], &'static [(&'static str, f64)]);
    let problems: [Problem; 8] = [
        (
            "synthetic",
            [16, 30],
            &[("rows", 16.0), ("cols", 30.0), ("sigma", 1.5)],
        ),
        (
            "synthetic",
            [32, 20],
            &[
                ("rows", 32.0),
                ("cols", 20.0),
                ("sigma", 2.0),
                ("iterations", 4.0),
            ],
        ),
        (
            "synthetic",
            [15, 20],
            &[
                ("rows", 15.0),
                ("cols", 20.0),
                ("sigma", 2.0),
                ("seed", 7.0),
            ],
        ),
        (
            "synthetic",
            [24, 9],
            &[("n", 24.0), ("cols", 9.0), ("sigma", 1.0)],
        ),
        (
            "synthetic",
            [17, 32],
            &[
                ("rows", 17.0),
                ("cols", 32.0),
                ("sigma", 1.5),
                ("iterations", 4.0),
            ],
        ),
        (
            "synthetic",
            [33, 48],
            &[
                ("rows", 33.0),
                ("cols", 48.0),
                ("sigma", 2.0),
                ("seed", 3.0),
                ("iterations", 3.0),
            ],
        ),
        (
            "synthetic",
            [40, 30],
            &[("rows", 40.0), ("cols", 30.0), ("sigma", 1.0)],
        ),
        (
            "trace",
            [20, 28],
            &[
                ("rows", 20.0),
                ("cols", 28.0),
                ("sigma", 1.2),
                ("iterations", 5.0),
            ],
        ),
    ];
    for (case, shape, overrides) in problems {
        let inst = instance("deconv", case, overrides);
        // None where the TRACE file is missing (every variant skips, saying why).
        if let Some(out) = output(inst.as_ref(), "fft", false) {
            assert_eq!(out.arrays[0].1.shape(), &shape[..], "{case} {overrides:?}");
        }
        every_variant_against_naive(inst.as_ref(), &format!("deconv/{case} {overrides:?}"));
    }
}

#[test]
fn a_rectangle_needs_a_psf_that_is_not_the_square_aia_one() {
    let k = registry::kernel("deconv").unwrap();
    let p = k
        .defaults("synthetic")
        .with("rows", 16.0)
        .with("cols", 24.0);
    let e = k.instance("synthetic", &p, &[]).err().unwrap().to_string();
    assert!(e.contains("square") && e.contains("--sigma"), "{e}");
    let one = k
        .defaults("synthetic")
        .with("n", 2.0)
        .with("rows", 1.0)
        .with("cols", 1.0);
    let e = k
        .instance("synthetic", &one, &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--rows"), "{e}");
}

#[test]
fn the_psf_defaults_to_the_problems_psf_when_only_an_image_is_given() {
    let image = noise(8, 8, 40).mapv(|v| v + 1.0);
    let inst = with_inputs(&[image.clone().into_dyn()], &[("sigma", 1.5)]);
    let mut p = common::prepare(&*inst, "fft");
    p.run().unwrap();
    let out = p.output().unwrap();
    assert_eq!(
        out.get("psf").unwrap(),
        &scene::gaussian_psf(8, 8, 1.5).into_dyn()
    );
    assert_eq!(out.get("image").unwrap(), &image.into_dyn());
}

#[test]
fn a_non_finite_ratio_is_an_error_in_every_variant() {
    // An all-zero image: est ⊛ k = 0 exactly everywhere, ratio = 0/0 = NaN at the first
    // pixel of the first iteration. aiapy returns NaN everywhere (numpy warns "invalid
    // value encountered in divide"); the variants compute the same, and say so. `lanes`
    // (8 rows per vector) and `lanes-f32` (16) pack rows wherever C is even: 16 × 16 in
    // full blocks; 8 × 8 a full block for lanes and one of 8 real rows and 8 dummy lanes
    // for lanes-f32; 5 × 8, one partial block in both, (0, 0) in it; 12 × 12, a full
    // block then a partial one for lanes, one partial block for lanes-f32; 8 × 7, C odd
    // (rows one at a time).
    for (r, c) in [(8, 8), (16, 16), (5, 8), (12, 12), (8, 7)] {
        let zeros = Array2::<f64>::zeros((r, c)).into_dyn();
        let psf = scene::gaussian_psf(r, c, 1.0).into_dyn();
        let inst = with_inputs(&[zeros, psf], &[("iterations", 3.0)]);
        non_finite_everywhere(inst.as_ref());
    }
}

fn non_finite_everywhere(inst: &dyn Instance) {
    for v in variants() {
        if !common::probe(inst, v).is_ready() {
            continue;
        }
        let mut p = common::prepare(inst, v);
        let e = p.run().expect_err(v).to_string();
        assert!(
            e.contains("iteration 1") && e.contains("pixel (0, 0)") && e.contains("NaN"),
            "{v}: {e}"
        );
        let out = p.output().unwrap();
        assert!(
            out.get("deconvolved").unwrap().iter().all(|x| x.is_nan()),
            "{v}: the output is aiapy's (NaN everywhere)"
        );
        // Validation would refuse it too.
        let check = common::check(inst, v, &out, &out);
        assert!(
            !check.passed(),
            "{v}: non-finite output must fail any check"
        );
    }
}

#[test]
fn the_first_non_finite_pixel_is_the_one_reported() {
    // A delta PSF makes the blurred estimate the estimate itself: exactly 0 where the
    // image is 0. The direct variants see the exact 0 at the first zero pixel in row-major
    // order, (2, 3) (an FFT round trip leaves rounding noise there instead, so the FFT
    // variants may legitimately carry on: aiapy would too).
    let mut image = Array2::from_elem((6, 8), 5.0);
    image[[2, 3]] = 0.0;
    image[[4, 1]] = 0.0;
    let mut psf = Array2::zeros((6, 8));
    psf[[3, 4]] = 1.0; // at (R/2, C/2): rolled to (0, 0) (even sides)
    let inst = with_inputs(&[image.into_dyn(), psf.into_dyn()], &[("iterations", 2.0)]);
    for v in ["naive", "vectorised"] {
        let mut p = common::prepare(&*inst, v);
        let e = p.run().expect_err(v).to_string();
        assert!(
            e.contains("iteration 1") && e.contains("pixel (2, 3)"),
            "{v}: {e}"
        );
    }
}

#[test]
fn flux_is_conserved_by_every_variant() {
    // With Σpsf = 1, Σ est = Σ img after every iteration (see naive.rs): a closed form.
    let inst = instance("deconv", "synthetic", &[("n", 48.0), ("iterations", 10.0)]);
    for v in variants() {
        if !common::probe(&*inst, v).is_ready() {
            continue;
        }
        let mut p = common::prepare(&*inst, v);
        p.run().unwrap();
        let out = p.output().unwrap();
        let (img, est) = (
            out.get("image").unwrap().sum(),
            out.get("deconvolved").unwrap().sum(),
        );
        let tol = inst.tolerance(common::variant(&*inst, v)).max_norm * 48.0 * 48.0;
        assert!(
            (est - img).abs() <= tol * img,
            "{v}: Σ est {est} vs Σ img {img}"
        );
    }
}

#[test]
fn f32_error_against_the_iteration_count() {
    // The precision axis: f32 variants against the f64 FFT (itself checked against naive
    // and aiapy) after 1 … 100 iterations. Printed (cargo test -- --nocapture) and held to
    // the stated bound 2·iterations·log₂(RC)·ε₃₂ at each count.
    let n = 128.0;
    eprintln!(
        "iterations   fft-f32 (max-norm, relative)   parallel-f32 (same)   lanes-f32 (same)   gpu-f32 (same)   bound B"
    );
    for iterations in [1.0, 5.0, 25.0, 100.0] {
        let inst = instance(
            "deconv",
            "synthetic",
            &[("n", n), ("iterations", iterations)],
        );
        let mut line = format!("{iterations:>10}");
        for v in ["fft-f32", "parallel-f32", "lanes-f32", "gpu-f32"] {
            let outcome = against_variant(inst.as_ref(), v, "fft");
            if let Outcome::Checked(check) = &outcome {
                let c = &check.comparisons[0];
                line += &format!("   {:>9.2e} {:>9.2e}", c.error, c.relative_error.unwrap());
            }
            assert_passes(outcome, &format!("{v} after {iterations} iterations"));
        }
        let tol = inst.tolerance(common::variant(&*inst, "fft-f32")).max_norm;
        eprintln!("{line}   {tol:.2e}");
    }
}

#[test]
fn parallel_output_does_not_depend_on_the_thread_count() {
    // 40 rows: lanes-f32's last block is partial (8 real rows) and, with 3 threads, in
    // the last task; 36 rows: lanes' is too (4 real rows); 48: full blocks in both.
    for n in [36.0, 40.0, 48.0] {
        same_output_on_1_and_3_threads(n);
    }
}

fn same_output_on_1_and_3_threads(n: f64) {
    let inst = instance("deconv", "synthetic", &[("n", n), ("iterations", 5.0)]);
    for v in ["parallel", "parallel-f32", "lanes", "lanes-f32"] {
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut p = common::prepare(&*inst, v);
                p.run().unwrap();
                p.output().unwrap().get("deconvolved").unwrap().clone()
            })
        };
        assert!(run(1) == run(3), "{v} at n = {n}: 1 and 3 threads differ");
    }
}

/// Found by the property test: at 3×3 with a sharp PSF, fft and parallel are 7ε off naive
/// where 2·iterations·log₂(RC)·ε allows 6.3ε; the division img/den amplifies the
/// convolution's rounding where den is small, which the conditioned bound carries.
#[test]
fn a_sharp_psf_on_a_tiny_image_is_within_the_conditioned_bound() {
    let inst = instance(
        "deconv",
        "synthetic",
        &[
            ("n", 3.0),
            ("iterations", 1.0),
            ("sigma", 0.3),
            ("seed", 151811.0),
        ],
    );
    let plain = deconv::tolerance(1, 9, Precision::F64).max_norm;
    for v in ["fft", "parallel", "lanes", "vectorised"] {
        let e = assert_passes(
            against_variant(inst.as_ref(), v, "naive"),
            &format!("deconv/synthetic/{v} n = 3"),
        );
        assert!(
            inst.tolerance(common::variant(&*inst, v)).max_norm > plain,
            "{v}"
        );
        if v == "fft" || v == "parallel" {
            assert!(
                e.unwrap() > plain,
                "{v}: the plain bound no longer fails here"
            );
        }
    }
}

#[test]
fn tolerances_state_their_reason() {
    let inst = instance("deconv", "synthetic", &[("n", 16.0)]);
    for v in variants() {
        let info = common::variant(&*inst, v).info;
        let tol = inst.tolerance(common::variant(&*inst, v));
        assert!(!tol.reason.is_empty());
        let eps = match info.precision {
            Precision::F64 => f64::EPSILON,
            Precision::F32 => f32::EPSILON as f64,
        };
        // At least the well-conditioned 2·25·log₂(256)·ε; more where the division's
        // condition says so (`deconv::rounding_bound`).
        let p =
            <deconv::Deconv as kernels::Kernel>::problem("synthetic", inst.params(), &[]).unwrap();
        let bound = deconv::rounding_bound(&p, eps);
        assert_eq!(tol.max_norm, (400.0 * eps).max(bound), "{v}");
        assert!(tol.max_norm >= 400.0 * eps, "{v}");
        // The shared GPU FFT takes powers of two: 16 is one, 24 is not.
        if info.strategy == Strategy::Gpu {
            let odd = instance("deconv", "synthetic", &[("n", 24.0), ("sigma", 2.0)]);
            let a = common::probe(&*odd, v);
            assert!(matches!(a, Availability::NotApplicable(_)), "{v}: {a:?}");
        }
    }
}

#[test]
fn bad_inputs_are_refused_with_a_reason() {
    let k = registry::kernel("deconv").unwrap();
    let d = k.defaults("synthetic");
    let img = Array2::<f64>::ones((4, 4)).into_dyn();
    let err = |inputs: &[ArrayD<f64>]| match k.instance("synthetic", &d, inputs) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted {} inputs", inputs.len()),
    };
    let e = err(&[img.clone(), Array2::<f64>::ones((4, 5)).into_dyn()]);
    assert!(e.contains("same shape"), "{e}");
    let e = err(&[img.clone(), img.clone(), img.clone()]);
    assert!(e.contains("3 input arrays"), "{e}");
    let mut nan = Array2::<f64>::ones((4, 4));
    nan[[1, 2]] = f64::NAN;
    let e = err(&[nan.into_dyn()]);
    assert!(e.contains("NaN") && e.contains("(1, 2)"), "{e}");
    let e = err(&[ndarray::Array1::<f64>::ones(4).into_dyn()]);
    assert!(e.contains("2-D"), "{e}");
    // The AIA PSF (--sigma 0) is computed on square, even grids only.
    let e = err(&[Array2::<f64>::ones((4, 6)).into_dyn()]);
    assert!(e.contains("square"), "{e}");
    let e = k
        .instance("synthetic", &d.clone().with("n", 15.0), &[])
        .err()
        .unwrap();
    assert!(matches!(e, KernelError::InvalidParam { .. }), "{e}");
    // The TRACE crop cannot exceed the image (when the image is there).
    if scene::trace_path().exists() {
        let e = k
            .instance("trace", &d.with("n", 2048.0), &[])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("n ≤ 1024"), "{e}");
    }
}

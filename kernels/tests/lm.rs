//! LM: the models' gradients against finite differences, the naive oracle against noise-free
//! truth, every variant against naive at small odd sizes and several seeds (fits at the
//! iteration cap included) and against scipy's MINPACK references, the committed data
//! against the generator, and the states.

use kernels::io::{read_f64, references_dir};
use kernels::lm::model::Model;
use kernels::lm::{AnyModel, Kind, generate, model_of};
use kernels::registry;
mod common;

use common::{against_reference, against_variant, assert_passes, instance};
use kernels::{Instance, Output};
use ndarray::{ArrayD, IxDyn};
use num_complex::Complex64;
use wide::f64x8;

const CASES: [(&str, Kind); 3] = [
    ("gauss2d", Kind::Gauss2d),
    ("odmr", Kind::Odmr),
    ("odmr8", Kind::Odmr8),
];

fn variants() -> Vec<&'static str> {
    common::variants("lm")
}

fn run(inst: &dyn Instance, variant: &str) -> Output {
    let mut p = common::prepare(inst, variant);
    p.run().unwrap();
    p.output().unwrap()
}

fn array(values: &[f64], rows: usize) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(&[rows, values.len() / rows]), values.to_vec()).unwrap()
}

#[test]
fn analytic_gradients_match_complex_step_derivatives() {
    // Complex step: ∂f/∂p_j = Im f(p + i·h·e_j)/h + O(h²), no subtraction, so at h = 1e-30
    // it is exact to rounding. The two Jacobians then agree to a few ulps of each column's
    // largest entry (entries near a dip's centre are small differences ν − pos, whose own
    // rounding is that of ν: relative to the column, not to the entry).
    for (case, kind) in CASES {
        let g = generate(kind, 6, 11);
        match model_of(kind) {
            AnyModel::Gauss2d(m) => complex_step(case, &m, &g.truth),
            AnyModel::Lorentzians(m) => complex_step(case, &m, &g.truth),
        }
    }
}

fn complex_step<M: Model>(case: &str, m: &M, truths: &[f64]) {
    let (n, points) = (m.params(), m.points());
    for truth in truths.chunks(n) {
        let mut analytic = vec![0.0; points * n];
        let mut stepped = vec![0.0; points * n];
        for k in 0..points {
            let f = m.value_and_gradient(k, truth, &mut analytic[k * n..][..n]);
            // The value from the gradient path is the value (other rounding only).
            let f0 = m.value(k, truth);
            assert!(
                (f - f0).abs() <= 1e-14 * f0.abs().max(1.0),
                "{case} k={k}: {f} vs {f0}"
            );
            for j in 0..n {
                let mut p: Vec<Complex64> = truth.iter().map(|&v| Complex64::new(v, 0.0)).collect();
                p[j].im = 1e-30;
                stepped[k * n + j] = m.value(k, &p).im / 1e-30;
            }
        }
        for j in 0..n {
            let column = (0..points).fold(0.0f64, |a, k| a.max(analytic[k * n + j].abs()));
            for k in 0..points {
                let (a, c) = (analytic[k * n + j], stepped[k * n + j]);
                assert!(
                    (a - c).abs() <= 1e-13 * column,
                    "{case} point {k}, parameter {j}: analytic {a} vs complex step {c} (column max {column})"
                );
            }
        }
    }
}

#[test]
fn simd_lanes_match_the_scalar_model() {
    // Eight fits in one f64x8 evaluate as eight scalar calls, to rounding (wide's exp is
    // within 1 ulp of libm's; the models use no fused operations).
    for (case, kind) in CASES {
        let g = generate(kind, 8, 5);
        match model_of(kind) {
            AnyModel::Gauss2d(m) => lanes(case, &m, &g.truth),
            AnyModel::Lorentzians(m) => lanes(case, &m, &g.truth),
        }
    }
}

fn lanes<M: Model>(case: &str, m: &M, truths: &[f64]) {
    let n = m.params();
    let p: Vec<f64x8> = (0..n)
        .map(|j| f64x8::new(std::array::from_fn(|l| truths[l * n + j])))
        .collect();
    let mut gv = vec![f64x8::splat(0.0); n];
    let mut gs = vec![0.0; n];
    for k in 0..m.points() {
        let fv = m.value_and_gradient(k, &p, &mut gv).to_array();
        for (l, f) in fv.iter().enumerate() {
            let fs = m.value_and_gradient(k, &truths[l * n..][..n], &mut gs);
            assert!(
                (f - fs).abs() <= 4.0 * f64::EPSILON * fs.abs(),
                "{case} lane {l} point {k}"
            );
            for (j, (v, s)) in gv.iter().zip(&gs).enumerate() {
                let v = v.to_array()[l];
                assert!(
                    (v - s).abs() <= 1e-14 * s.abs(),
                    "{case} lane {l} point {k} parameter {j}: {v} vs {s}"
                );
            }
        }
    }
}

#[test]
fn naive_recovers_noise_free_parameters() {
    // Data exactly on the model: the minimum is χ² = 0 at the true parameters. With the
    // stopping rule's absolute floor (tol·max(1, χ²) = 1e-15) the fit stops within
    // √(1e-15·[H⁻¹]_jj) of them: ≲ 1e-9 of each parameter here.
    let k = registry::kernel("lm").unwrap();
    for (case, kind) in CASES {
        let fits = 9;
        let g = generate(kind, fits, 3);
        let n = g.init.len() / fits;
        let clean: Vec<f64> = match model_of(kind) {
            AnyModel::Gauss2d(m) => exact(&m, &g.truth, n),
            AnyModel::Lorentzians(m) => exact(&m, &g.truth, n),
        };
        let params = k
            .defaults(case)
            .with("tolerance", 1e-15)
            .with("max_iterations", 200.0);
        let inst = k
            .instance(case, &params, &[array(&clean, fits), array(&g.init, fits)])
            .unwrap();
        let out = run(inst.as_ref(), "naive");
        let (p, state) = (out.get("params").unwrap(), out.get("state").unwrap());
        for i in 0..fits {
            assert_eq!(state[[i]], 0.0, "{case} fit {i} did not converge");
            for j in 0..n {
                let (got, want) = (p[[i, j]], g.truth[i * n + j]);
                // σ and fwhm enter squared: their sign is free.
                let got = if (got + want).abs() < (got - want).abs() {
                    -got
                } else {
                    got
                };
                assert!(
                    (got - want).abs() <= 1e-6 * want.abs().max(1e-3),
                    "{case} fit {i} parameter {j}: {got} vs true {want}"
                );
            }
        }
    }
}

fn exact<M: Model>(m: &M, truth: &[f64], n: usize) -> Vec<f64> {
    truth
        .chunks(n)
        .flat_map(|t| (0..m.points()).map(move |k| m.value(k, t)))
        .collect()
}

#[test]
fn every_variant_matches_naive_at_small_sizes() {
    // Odd batch sizes (lanes left over), other seeds than the references, and a cap of 2
    // steps so that most fits end at max-iterations. Between runs of Gpufit's loop the check
    // allows no fit that is not the oracle's iterate at its own step; the library (MINPACK,
    // another algorithm) gets a Chernoff count of them (validation, item 4).
    for (case, _) in CASES {
        let sizes: &[f64] = if case == "odmr8" {
            &[1.0, 13.0]
        } else {
            &[1.0, 13.0, 37.0]
        };
        for &fits in sizes {
            for (seed, cap) in [(3.0, None), (8.0, Some(2.0))] {
                let mut overrides = vec![("fits", fits), ("seed", seed)];
                if let Some(c) = cap {
                    overrides.push(("max_iterations", c));
                }
                let inst = instance("lm", case, &overrides);
                for v in variants().into_iter().filter(|v| *v != "naive") {
                    assert_passes(
                        against_variant(inst.as_ref(), v, "naive"),
                        &format!("lm/{case}/{v} {overrides:?}"),
                    );
                }
            }
        }
    }
}

#[test]
fn every_variant_matches_the_scipy_references() {
    for (case, _) in CASES {
        let inst = instance("lm", case, &[]);
        for v in variants() {
            assert_passes(
                against_reference(inst.as_ref(), v),
                &format!("lm/{case}/{v} against scipy"),
            );
        }
    }
}

#[test]
fn the_generator_reproduces_the_committed_data() {
    // The same seed gives the same numbers: exactly here; Box–Muller's ln/cos/sin may move
    // a value by an ulp on another libm, hence 2ε relative.
    let dir = references_dir().unwrap().join("lm");
    for (case, kind) in CASES {
        let fits = kind.reference_fits();
        let g = generate(kind, fits, 1);
        for (name, ours) in [("y", &g.y), ("init", &g.init), ("truth", &g.truth)] {
            let theirs = read_f64(&dir.join(format!("{case}_{name}.npy"))).unwrap();
            assert_eq!(theirs.len(), ours.len(), "{case}_{name}");
            for (i, (a, b)) in ours.iter().zip(theirs.iter()).enumerate() {
                assert!(
                    (a - b).abs() <= 2.0 * f64::EPSILON * b.abs(),
                    "{case}_{name}[{i}]: {a} vs {b}"
                );
            }
        }
        if let AnyModel::Lorentzians(m) = model_of(kind) {
            let x = read_f64(&dir.join(format!("{case}_x.npy"))).unwrap();
            assert!(
                m.freqs.iter().zip(x.iter()).all(|(a, b)| a == b),
                "{case}: frequencies differ from numpy's linspace"
            );
        }
    }
}

#[test]
fn parallel_equals_vectorised_bit_for_bit() {
    let inst = instance("lm", "odmr", &[("fits", 1001.0), ("seed", 4.0)]);
    let (a, b) = (
        run(inst.as_ref(), "vectorised"),
        run(inst.as_ref(), "parallel"),
    );
    for (name, x) in &a.arrays {
        assert_eq!(Some(x), b.get(name), "{name}");
    }
}

/// The variants that run Gpufit's loop (the library runs MINPACK's).
fn gpufit_like() -> Vec<&'static str> {
    variants().into_iter().filter(|v| *v != "library").collect()
}

#[test]
fn the_cap_stops_every_fit_at_max_iterations() {
    let inst = instance("lm", "gauss2d", &[("fits", 21.0), ("max_iterations", 1.0)]);
    for v in gpufit_like() {
        if !common::probe(&*inst, v).is_ready() {
            continue;
        }
        let out = run(inst.as_ref(), v);
        let (it, state) = (out.get("iterations").unwrap(), out.get("state").unwrap());
        for i in 0..21 {
            assert_eq!(it[[i]], 1.0, "{v} fit {i}");
            assert!(
                state[[i]] == 0.0 || state[[i]] == 1.0,
                "{v} fit {i}: state {}",
                state[[i]]
            );
        }
        assert!(
            state.iter().any(|&s| s == 1.0),
            "{v}: no fit reached the cap"
        );
    }
}

#[test]
fn a_zero_amplitude_is_singular_at_the_first_step() {
    // A = 0 makes ∂f/∂x₀, ∂f/∂y₀, ∂f/∂σ vanish at every point (forward differences too):
    // JᵀJ has zero rows, s_i = max(0, 0) = 0, and the damped system is singular.
    let fits = 9;
    let g = generate(Kind::Gauss2d, fits, 2);
    let mut init = g.init.clone();
    for row in init.chunks_mut(5) {
        row[0] = 0.0;
    }
    let k = registry::kernel("lm").unwrap();
    let inst = k
        .instance(
            "gauss2d",
            &k.defaults("gauss2d"),
            &[array(&g.y, fits), array(&init, fits)],
        )
        .unwrap();
    for v in gpufit_like() {
        if !common::probe(&*inst, v).is_ready() {
            continue;
        }
        let out = run(inst.as_ref(), v);
        let p = out.get("params").unwrap();
        for i in 0..fits {
            assert_eq!(out.get("state").unwrap()[[i]], 2.0, "{v} fit {i}");
            assert_eq!(out.get("iterations").unwrap()[[i]], 1.0, "{v} fit {i}");
            for j in 0..5 {
                // Single-precision variants return the guess rounded to f32.
                let want = init[i * 5 + j];
                assert!(
                    (p[[i, j]] - want).abs() <= 1e-7 * want.abs(),
                    "{v} fit {i}: {} vs {want}",
                    p[[i, j]]
                );
            }
        }
    }
}

#[test]
fn a_wrong_fit_is_caught() {
    let inst = instance("lm", "odmr", &[]);
    let good = run(inst.as_ref(), "vectorised");
    // One fit's position moved by a tenth of a linewidth: far outside its allowance.
    let mut bad = good.clone();
    bad.arrays[0].1[[17, 2]] += 0.001;
    let check = common::check(&*inst, "vectorised", &bad, &good);
    assert!(!check.passed());
    // Between two runs of Gpufit's loop, a fit that converged only in the reference must be
    // the oracle's iterate at the output's step. One fit that gave up at its initial
    // parameters (reported consistently, with their χ², at the cap) is not, and fails.
    let g = generate(Kind::Odmr, 1024, 1);
    let AnyModel::Lorentzians(m) = model_of(Kind::Odmr) else {
        unreachable!()
    };
    let fit = 3;
    let init = &g.init[fit * 7..][..7];
    let y = &g.y[fit * m.points()..][..m.points()];
    let chi2: f64 = (0..m.points())
        .map(|k| (y[k] - m.value(k, init)).powi(2) / (0.002 * 0.002))
        .sum();
    let mut bad = good.clone();
    for (j, &v) in init.iter().enumerate() {
        bad.arrays[0].1[[fit, j]] = v;
    }
    bad.arrays[1].1[[fit]] = chi2;
    bad.arrays[2].1[[fit]] = 20.0;
    bad.arrays[3].1[[fit]] = 1.0;
    let check = common::check(&*inst, "vectorised", &bad, &good);
    assert!(!check.passed(), "{:?}", check.notes);
    // The same fit reported at max-iterations with its converged parameters is the oracle's
    // path stopped elsewhere (a tie of the stopping rule): explained.
    let mut tie = good.clone();
    tie.arrays[2].1[[fit]] = 20.0;
    tie.arrays[3].1[[fit]] = 1.0;
    let check = common::check(&*inst, "vectorised", &tie, &good);
    assert!(check.passed(), "{:?}", check.comparisons);
    // A reported χ² that is not the χ² of the reported parameters.
    let mut bad = good.clone();
    bad.arrays[1].1[[5]] *= 1.0 + 1e-9;
    assert!(!common::check(&*inst, "vectorised", &bad, &good).passed());
}

/// Found by the property test: odmr8 fit 16 of seed 575783 at tolerance 7.9e-4 meets Gpufit's
/// stopping test at step 2 with the analytic Jacobian (Δχ² = 0.2509 against 0.2525) and
/// misses it with forward differences (0.2578): vectorised stops at χ² = 319.6 where naive
/// goes on to 175.7. The check explains it as the oracle's own iterate at step 2.
#[test]
fn a_tie_of_the_stopping_rule_is_explained() {
    let inst = instance(
        "lm",
        "odmr8",
        &[
            ("fits", 17.0),
            ("seed", 575783.0),
            ("tolerance", 7.9e-4),
            ("max_iterations", 6.0),
        ],
    );
    let naive = run(inst.as_ref(), "naive");
    let vectorised = run(inst.as_ref(), "vectorised");
    assert_eq!(vectorised.get("iterations").unwrap()[[16]], 2.0);
    assert_eq!(naive.get("iterations").unwrap()[[16]], 6.0);
    let check = common::check(&*inst, "vectorised", &vectorised, &naive);
    assert!(check.passed(), "{:?}", check.comparisons);
    assert!(
        check
            .notes
            .iter()
            .any(|n| n.contains("fit 16 (the oracle's iterate at step 2)")),
        "{:?}",
        check.notes
    );
}

#[test]
fn input_arrays_of_the_wrong_shape_are_refused() {
    let k = registry::kernel("lm").unwrap();
    let y = ArrayD::zeros(IxDyn(&[4, 25]));
    let init = ArrayD::zeros(IxDyn(&[4, 7]));
    let e = k
        .instance("gauss2d", &k.defaults("gauss2d"), &[y.clone(), init])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("init (fits × 5)"), "{e}");
    let e = k
        .instance("gauss2d", &k.defaults("gauss2d"), &[y])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--input y.npy"), "{e}");
}

/// The figures the report shows beside each LM variant's time (issue 4: converged share and
/// iterations per fit) are those of the output, for Gpufit's steps and the library's
/// evaluations alike.
#[test]
fn describe_reports_the_converged_share_and_steps_per_fit() {
    let inst = instance("lm", "odmr", &[("fits", 20.0)]);
    for variant in ["naive", "library"] {
        let out = run(inst.as_ref(), variant);
        let get = |name: &str| out.arrays.iter().find(|(n, _)| n == name).map(|(_, a)| a);
        let state = get("state").unwrap();
        let converged = state.iter().filter(|&&s| s == 0.0).count();
        let (steps, what) = match get("iterations") {
            Some(a) => (a, "iterations"),
            None => (get("evaluations").unwrap(), "evaluations"),
        };
        let want = format!(
            "converged {:.1}%, {:.1} {what} per fit",
            100.0 * converged as f64 / 20.0,
            steps.sum() / 20.0
        );
        assert_eq!(
            inst.describe(&out).as_deref(),
            Some(want.as_str()),
            "{variant}"
        );
    }
    // Other kernels say nothing unless they have something to say.
    let laue = instance("laue", "square", &[("n", 4.0)]);
    assert_eq!(laue.describe(&run(laue.as_ref(), "naive")), None);
}

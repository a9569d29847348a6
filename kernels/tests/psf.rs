//! AIA PSF: the naive oracle against closed forms; every variant against naive at small
//! sizes and against the references (complete at N = 64 and 256, extracts at N = 512); the
//! aiapy N = 4096 extracts checked for consistency (the full comparison is
//! `harness validate --kernel psf --n 4096`, minutes of naive-free work, not a test).

use std::f64::consts::PI;

use kernels::check::compare;
use kernels::io::{read_f64, read_output};
use kernels::psf::{self, Gaussian, PsfProblem, naive, pairwise_sum};
mod common;

use common::{against_reference, against_variant, assert_passes, instance};
use kernels::{Output, RelativeTolerance, Tolerance};

fn variants() -> Vec<&'static str> {
    common::variants("psf")
}

fn run(inst: &dyn kernels::Instance, variant: &str) -> Output {
    let mut p = common::prepare(inst, variant);
    p.run().unwrap();
    p.output().unwrap()
}

fn array<'a>(o: &'a Output, name: &str) -> &'a [f64] {
    o.get(name).unwrap().as_slice().unwrap()
}

/// Σ_k∈ℤ exp(−w·k²) by Poisson summation: √(π/w)·(1 + 2Σ_k≥1 exp(−π²k²/w)).
fn theta(w: f64) -> f64 {
    (PI / w).sqrt()
        * (1.0
            + 2.0
                * (1..20)
                    .map(|k| (-(PI * k as f64).powi(2) / w).exp())
                    .sum::<f64>())
}

#[test]
fn one_gaussian_is_the_formula_and_sums_to_the_theta_series() {
    for (n, w) in [(32, 4.5), (48, 0.962)] {
        let mut p = PsfProblem::new(171, n, false).unwrap();
        p.width = w;
        // A Gaussian on a pixel centre: peak exactly 1, total the square of the 1-D theta sum.
        let c = 0.5 * n as f64 + 0.5;
        let g = Gaussian {
            cx: c,
            cy: c,
            weight: 1.0,
        };
        let mut out = vec![f64::NAN; n * n];
        naive::spikes(&p, &[g], &mut out);
        assert_eq!(out[(n / 2) * n + n / 2], 1.0);
        let total = pairwise_sum(&out, false);
        let exact = theta(w).powi(2);
        assert!(
            (total - exact).abs() < 1e-14 * exact,
            "w={w}: {total} vs {exact}"
        );
        // The core is the same Gaussian with aiapy's other association of the square.
        let dense = naive::core(&p);
        assert!((dense.sum - exact).abs() < 1e-14 * exact);
        // The windowed core has the same values where it is not zero, and the same sum.
        let window = psf::core(&p);
        assert!((window.sum - exact).abs() < 1e-14 * exact);
        for (r, row) in window.values.chunks(window.cols).enumerate() {
            let at = (window.row + r) * n + window.col;
            assert!(row == &dense.values[at..at + window.cols]);
        }
        // Off-centre, weighted: every pixel is I·exp(−w·r²).
        let g = Gaussian {
            cx: 10.3,
            cy: 20.9,
            weight: 0.25,
        };
        naive::spikes(&p, &[g], &mut out);
        for (k, v) in out.iter().enumerate() {
            let (x, y) = ((k % n) as f64 + 0.5, (k / n) as f64 + 0.5);
            let r2 = (x - 10.3).powi(2) + (y - 20.9).powi(2);
            let expected = 0.25 * (-w * r2).exp();
            // The exponent's own rounding, ≈ |w·r²|·ε, dominates far from the centre.
            let bound = 4.0 * f64::EPSILON * (1.0 + w * r2) * expected + 1e-320;
            assert!((v - expected).abs() <= bound, "{k}: {v:e} vs {expected:e}");
        }
    }
}

#[test]
fn naive_filters_and_composite_sum_to_one_and_are_point_symmetric() {
    let inst = instance("psf", "aia", &[("n", 48.0), ("channel", 193.0)]);
    let out = run(inst.as_ref(), "naive");
    let n = 48;
    for name in ["psf", "entrance", "focal_plane"] {
        let a = array(&out, name);
        let total = pairwise_sum(a, false);
        // Filters: 0.18·1 + 0.82·1 up to rounding; composite: their circular convolution.
        assert!((total - 1.0).abs() < 1e-14, "{name}: sum {total}");
        let max = a.iter().fold(0.0f64, |m, v| m.max(*v));
        assert_eq!(
            a[(n / 2) * n + n / 2],
            max,
            "{name}: the peak is at [N/2, N/2]"
        );
        // Orders ±m are mirror images through the centre pixel (N/2, N/2): a[i][j] =
        // a[N−i][N−j], up to the rounding of the centres (≈1e-16 relative per term).
        for i in 1..n {
            for j in 1..n {
                let (v, m) = (a[i * n + j], a[(n - i) * n + (n - j)]);
                assert!(
                    (v - m).abs() <= 1e-14 * max,
                    "{name} [{i}, {j}]: {v} vs {m}"
                );
            }
        }
    }
}

#[test]
fn windowed_equals_naive_bit_for_bit() {
    // The skipped terms are exact zeros and the order of the others is naive's, so the spike
    // sums are identical. (The normalised filters then differ only by the rounding of Σcore,
    // which naive sums over the whole grid and the others over the core's window.)
    for (channel, n, preflight) in [(171, 48, false), (94, 64, true), (335, 40, false)] {
        let p = PsfProblem::new(channel, n, preflight).unwrap();
        for gaussians in [&p.entrance, &p.focal_plane] {
            // Windowed resets only the windows it and the core write to: its buffer starts as
            // zeros (as `Buffers::new` allocates it) or as the previous run's normalised
            // filter, never as anything else.
            let (mut a, mut b) = (vec![f64::NAN; n * n], vec![0.0; n * n]);
            naive::spikes(&p, gaussians, &mut a);
            psf::windowed::spikes(&p, gaussians, &mut b);
            assert!(a == b, "{channel} Å, N = {n}");
            assert!(a.iter().any(|&v| v > 0.0));
            psf::combine(&mut b, &psf::core(&p), n, false);
            psf::windowed::spikes(&p, gaussians, &mut b);
            assert!(
                a == b,
                "{channel} Å, N = {n}: a second run on the normalised buffer"
            );
        }
    }
}

#[test]
fn every_variant_matches_naive_at_small_sizes() {
    let problems: [&[(&str, f64)]; 6] = [
        &[("n", 32.0)],
        &[("n", 48.0), ("channel", 335.0)],
        &[("n", 64.0), ("channel", 94.0), ("preflight", 1.0)],
        &[("n", 50.0), ("channel", 211.0)],
        // Every entrance term below f32's range (the closest is e^−408): the f32 shaders'
        // exponent shift (gpu.rs), without which gpu-f32 divided 0 by 0.
        &[("n", 32.0), ("channel", 335.0)],
        // The composite's rounding floor at a mixed-radix size with the wide pre-flight core
        // (`psf::f64_composite_floor`): vectorised was 1.2e-6 off naive at the mask edge.
        &[("n", 54.0), ("channel", 335.0), ("preflight", 1.0)],
    ];
    // The filters are direct sums (no FFT): they must agree far tighter than the
    // composite's FFT noise floor allows. Exponentials within 2 ulp; separable's
    // exp(a)·exp(b) adds |a + b|·ε ≲ 30ε for terms above the mask; ≤ 800 positive terms.
    let filters = Tolerance {
        max_norm: 1e-14,
        relative: Some(RelativeTolerance {
            threshold: 1e-10,
            rtol: 1e-13,
        }),
        reason: "direct sums of positive terms, exponentials within a few ulp",
    };
    for overrides in problems {
        let inst = instance("psf", "aia", overrides);
        let oracle = run(inst.as_ref(), "naive");
        for v in variants().into_iter().filter(|v| *v != "naive") {
            let Some(_) = assert_passes(
                against_variant(inst.as_ref(), v, "naive"),
                &format!("psf/aia/{v} {overrides:?}"),
            ) else {
                continue;
            };
            if common::variant(&*inst, v).info.precision != kernels::Precision::F64 {
                continue;
            }
            let out = run(inst.as_ref(), v);
            for name in ["entrance", "focal_plane"] {
                let c = compare(
                    name,
                    out.get(name).unwrap(),
                    oracle.get(name).unwrap(),
                    &filters,
                );
                assert!(c.passed, "psf/aia/{v} {overrides:?}: {c}");
            }
        }
    }
}

#[test]
fn every_variant_matches_the_references() {
    // N = 256: complete arrays from the port, naive included (≈1.5 s a run).
    let inst = instance("psf", "aia", &[("n", 256.0)]);
    for v in variants() {
        assert_passes(
            against_reference(inst.as_ref(), v),
            &format!("psf/aia/{v} n=256"),
        );
    }
    // N = 512: extracts; every variant but the slowest two, naive (windowed equals it bit
    // for bit) and the dense GPU shaders on the software adapter (checked at N = 256).
    let inst = instance("psf", "aia", &[("n", 512.0)]);
    for v in variants()
        .into_iter()
        .filter(|v| !matches!(*v, "naive" | "gpu-f32" | "gpu-f64"))
    {
        assert_passes(
            against_reference(inst.as_ref(), v),
            &format!("psf/aia/{v} n=512"),
        );
    }
}

#[test]
fn every_channel_matches_its_reference() {
    // N = 64, every channel, with and without the pre-flight core: the mesh table.
    for channel in psf::CHANNELS {
        for preflight in [0.0, 1.0] {
            let inst = instance(
                "psf",
                "aia",
                &[
                    ("n", 64.0),
                    ("channel", channel as f64),
                    ("preflight", preflight),
                ],
            );
            for v in ["naive", "windowed", "separable"] {
                assert_passes(
                    against_reference(inst.as_ref(), v),
                    &format!("psf/aia/{v} {channel} Å pf={preflight}"),
                );
            }
        }
    }
}

#[test]
fn a_wrong_pixel_in_an_extract_is_caught() {
    // The N = 512 references are extracts: a perturbation inside the central crop must
    // fail, and the worst index must be the crop's.
    let inst = instance("psf", "aia", &[("n", 512.0)]);
    let reference = read_output(&inst.reference_files()).unwrap();
    let mut out = run(inst.as_ref(), "windowed");
    assert!(common::check(&*inst, "windowed", &out, &reference).passed());
    let psf = &mut out.arrays.iter_mut().find(|(n, _)| n == "psf").unwrap().1;
    // Next to the peak, off by 1e-5 relative: above the f64 relative bound (1e-6).
    psf[[256 + 1, 256 - 2]] *= 1.0 + 1e-5;
    let check = common::check(&*inst, "windowed", &out, &reference);
    assert!(!check.passed());
    let crop = check
        .comparisons
        .iter()
        .find(|c| c.array == "psf-crop")
        .unwrap();
    assert!(!crop.passed);
    assert_eq!(crop.worst_index, vec![128 + 1, 128 - 2]);
}

#[test]
fn aiapy_extracts_are_consistent() {
    // The N = 4096 references are extracts of one aiapy run: they must agree with each
    // other and with the value quoted in aiapy's issue tracker (max 0.641652124483507 at
    // [2048, 2048], sum 1). The full comparison is `harness validate --kernel psf`.
    let dir = kernels::io::references_dir().unwrap().join("psf");
    let file = |kind: &str| read_f64(&dir.join(format!("c171_n4096_psf-{kind}.npy"))).unwrap();
    let stats = file("stats");
    let stats = stats.as_slice().unwrap();
    assert!(
        (stats[0] - 0.641652124483507).abs() < 1e-15,
        "max {}",
        stats[0]
    );
    assert!((stats[1] - 1.0).abs() < 1e-12, "sum {}", stats[1]);
    assert_eq!(&stats[2..], &[2048.0, 2048.0]);
    let (crop, row, column, stride) = (file("crop"), file("row"), file("column"), file("stride16"));
    assert_eq!(
        (crop.shape(), row.shape(), stride.shape()),
        (&[256, 256][..], &[4096][..], &[256, 256][..])
    );
    assert_eq!(crop[[128, 128]], stats[0]);
    assert_eq!(row[[2048]], stats[0]);
    assert_eq!(column[[2048]], stats[0]);
    assert_eq!(stride[[128, 128]], stats[0]);
    assert_eq!(row[[2048 - 128 + 7]], crop[[128, 7]]);
    assert_eq!(column[[2048 - 128 + 9]], crop[[9, 128]]);
    assert_eq!(stride[[127, 129]], crop[[128 - 16, 128 + 16]]);
}

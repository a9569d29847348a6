//! What the kernels give external workers (docs/external.md): the inputs by name and shape,
//! and a worker's output array made into the kernel's output, which the kernel's own check
//! passes when it is right and fails when one value is off.

use kernels::{Instance, Output, Params, Precision, Strategy, VariantInfo, registry};
use ndarray::ArrayD;

/// An external variant's identity, as the harness builds it from `external.toml`.
const EXTERNAL: VariantInfo = VariantInfo {
    name: "theirs",
    strategy: Strategy::External,
    precision: Precision::F64,
    idea: "a worker",
    file: "external.toml",
};

fn instance(kernel: &str, case: &str, size: (&str, f64)) -> Box<dyn Instance> {
    let k = registry::kernel(kernel).unwrap();
    let params: Params = k.defaults(case).with(size.0, size.1);
    k.instance(case, &params, &[]).unwrap()
}

/// The oracle's output on the problem.
fn oracle_output(i: &dyn Instance) -> Output {
    let naive = i.oracles()[0];
    let mut prepared = i.prepare(naive).unwrap();
    prepared.run().unwrap();
    prepared.output().unwrap()
}

/// The reference cut to the arrays the worker's output has, as the harness does.
fn check(i: &dyn Instance, output: &Output, reference: &Output) -> kernels::Check {
    let reference = Output {
        arrays: reference
            .arrays
            .iter()
            .filter(|(n, _)| output.get(n).is_some())
            .cloned()
            .collect(),
    };
    i.check_for(&EXTERNAL, output, &reference)
}

/// The worker's array (the oracle's, as a right worker would write it) passes; one value
/// spoiled by `spoil` fails; another shape is refused with both shapes.
fn round_trip(
    kernel: &str,
    case: &str,
    size: (&str, f64),
    array: &str,
    spoil: fn(&mut ArrayD<f64>),
) {
    let i = instance(kernel, case, size);
    let reference = oracle_output(i.as_ref());
    let right: ArrayD<f64> = reference.get(array).unwrap().clone();
    let output = i.external_output(right.clone()).unwrap();
    let c = check(i.as_ref(), &output, &reference);
    assert!(c.passed(), "{kernel}: {}", c.error());

    let mut wrong = right.clone();
    spoil(&mut wrong);
    let output = i.external_output(wrong).unwrap();
    assert!(
        !check(i.as_ref(), &output, &reference).passed(),
        "{kernel}: a spoiled output passes"
    );

    let flat = right
        .clone()
        .into_shape_with_order(right.len())
        .unwrap()
        .into_dyn();
    let e = i.external_output(flat).unwrap_err().to_string();
    assert!(e.contains("expected"), "{kernel}: {e}");
}

/// One value off by a thousandth of the peak (images: the max-normalised check sees it).
fn one_value_off(a: &mut ArrayD<f64>) {
    let peak = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    *a.iter_mut().next().unwrap() += 1e-3 * peak;
}

/// Every fit's first parameter off by a tenth. Fits are held to their statistical
/// uncertainty through χ², and against another algorithm a few fits may differ (a Chernoff
/// count, kernels/src/lm/validation.rs): one spoiled fit of eight can pass, all cannot.
fn every_fit_off(a: &mut ArrayD<f64>) {
    for mut fit in a.outer_iter_mut() {
        fit[0] *= 1.1;
        fit[0] += 0.1;
    }
}

#[test]
fn laue_intensity() {
    round_trip("laue", "strained", ("n", 8.0), "intensity", one_value_off);
}

#[test]
fn psf_alone_is_compared() {
    round_trip("psf", "aia", ("n", 64.0), "psf", one_value_off);
}

#[test]
fn deconv_image_with_its_inputs() {
    round_trip(
        "deconv",
        "synthetic",
        ("n", 16.0),
        "deconvolved",
        one_value_off,
    );
    let i = instance("deconv", "synthetic", ("n", 16.0));
    let names: Vec<_> = i
        .external_inputs()
        .iter()
        .map(|(n, a)| (*n, a.shape().to_vec()))
        .collect();
    assert_eq!(names, [("image", vec![16, 16]), ("psf", vec![16, 16])]);
}

#[test]
fn lm_params_checked_by_chi_square() {
    for case in ["gauss2d", "odmr"] {
        round_trip("lm", case, ("fits", 8.0), "params", every_fit_off);
    }
    let i = instance("lm", "gauss2d", ("fits", 8.0));
    let shapes: Vec<_> = i
        .external_inputs()
        .iter()
        .map(|(n, a)| (*n, a.shape().to_vec()))
        .collect();
    assert_eq!(
        shapes,
        [("x", vec![25, 2]), ("y", vec![8, 25]), ("init", vec![8, 5])]
    );
}

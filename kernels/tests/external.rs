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
/// off by a thousandth of the peak fails; another shape is refused with both shapes.
fn round_trip(kernel: &str, case: &str, size: (&str, f64), array: &str) {
    let i = instance(kernel, case, size);
    let reference = oracle_output(i.as_ref());
    let right: ArrayD<f64> = reference.get(array).unwrap().clone();
    let output = i.external_output(right.clone()).unwrap();
    let c = check(i.as_ref(), &output, &reference);
    assert!(c.passed(), "{kernel}: {}", c.error());

    let mut wrong = right.clone();
    let peak = wrong.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    *wrong.iter_mut().next().unwrap() += 1e-3 * peak;
    let output = i.external_output(wrong).unwrap();
    assert!(
        !check(i.as_ref(), &output, &reference).passed(),
        "{kernel}: off by 1e-3 of the peak"
    );

    let flat = right
        .clone()
        .into_shape_with_order(right.len())
        .unwrap()
        .into_dyn();
    let e = i.external_output(flat).unwrap_err().to_string();
    assert!(e.contains("expected"), "{kernel}: {e}");
}

#[test]
fn laue_intensity() {
    round_trip("laue", "strained", ("n", 8.0), "intensity");
}

#[test]
fn psf_alone_is_compared() {
    round_trip("psf", "aia", ("n", 64.0), "psf");
}

#[test]
fn deconv_image_with_its_inputs() {
    round_trip("deconv", "synthetic", ("n", 16.0), "deconvolved");
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
        round_trip("lm", case, ("fits", 8.0), "params");
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

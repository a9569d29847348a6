//! Laue: the naive oracle against the course's files and our references; every other
//! variant against naive at several sizes and against the references.

use kernels::io::read_f64;
mod common;

use common::{against_reference, against_variant, assert_passes, instance};
use std::path::Path;

const CASES: [&str; 3] = ["square", "circle", "strained"];

fn variants() -> Vec<&'static str> {
    common::variants("laue")
}

/// Our generated N = 32 references equal the course's published files. The course summed
/// in another order (NumPy broadcasting): 1e-14 of the peak allows for that, far below
/// any variant tolerance.
#[test]
fn references_equal_the_course_files() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/seed-references");
    let refs = kernels::io::references_dir().unwrap().join("laue");
    for (ours, theirs) in [
        ("square_n32_os3.npy", "reference_sq.npy"),
        ("strained_n32_os3.npy", "reference_ci.npy"),
    ] {
        let a = read_f64(&refs.join(ours)).unwrap();
        let b = read_f64(&seed.join(theirs))
            .unwrap_or_else(|e| panic!("{e} (shared/ must sit beside the repo)"));
        assert_eq!(a.shape(), b.shape());
        let peak = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
            / peak;
        assert!(err < 1e-14, "{ours} vs the course's {theirs}: {err:e}");
    }
}

#[test]
fn every_variant_matches_the_references() {
    for case in CASES {
        for n in [16.0, 32.0] {
            let inst = instance("laue", case, &[("n", n)]);
            for v in variants() {
                assert_passes(
                    against_reference(inst.as_ref(), v),
                    &format!("laue/{case}/{v} n={n}"),
                );
            }
        }
    }
}

#[test]
fn every_variant_matches_naive_at_other_sizes() {
    // Odd sizes, another oversampling and other (H, K, strain) than the references.
    let sizes: [&[(&str, f64)]; 3] = [
        &[("n", 5.0), ("oversampling", 2.0)],
        &[("n", 12.0), ("oversampling", 3.0), ("h", 1.0), ("k", -2.0)],
        &[("n", 21.0), ("oversampling", 1.0), ("e0", 0.05), ("w", 2.0)],
    ];
    for case in CASES {
        for overrides in sizes {
            let inst = instance("laue", case, overrides);
            for v in variants().into_iter().filter(|v| *v != "naive") {
                assert_passes(
                    against_variant(inst.as_ref(), v, "naive"),
                    &format!("laue/{case}/{v} {overrides:?}"),
                );
            }
        }
    }
}

#[test]
fn a_broken_variant_is_caught() {
    // The check helper must see a wrong answer: perturb a correct output by one part in
    // 1e9 at one point and compare with the f64 tolerance.
    let inst = instance("laue", "strained", &[("n", 8.0)]);
    let mut p = common::prepare(&*inst, "vectorised");
    p.run().unwrap();
    let good = p.output().unwrap();
    let mut bad = good.clone();
    let peak = bad.arrays[0].1.iter().fold(0.0f64, |m, v| m.max(*v));
    bad.arrays[0].1[[3, 5]] += 1e-9 * peak;
    let check = common::check(&*inst, "vectorised", &bad, &good);
    assert!(!check.passed());
    assert_eq!(check.worst().unwrap().worst_index, vec![3, 5]);
}

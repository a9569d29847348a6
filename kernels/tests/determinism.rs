//! Thread-count independence and run-to-run determinism, for every Ready variant of every
//! kernel on small problems.
//!
//! 1. The same variant on a rayon pool of 1, 2 and all threads: outputs agree within the
//!    variant's own tolerance (`Instance::check`, checked against the 1-thread output).
//! 2. Two fresh runs (new `prepare`, same pool of 2 threads) of a deterministic variant are
//!    bit-identical. Variants are deterministic unless listed in [`NOT_DETERMINISTIC`].
//!
//! Which variants are not bit-for-bit deterministic, and why: only `pipeline/*/hybrid`, by
//! design (see [`NOT_DETERMINISTIC`]); no other was found at the sizes here (this test would
//! fail otherwise). The parallel variants split work into independent
//! outputs (Laue rows, PSF rows and FFT passes, LM fits, Richardson–Lucy rows and columns);
//! `deconv/*/parallel` reduces across threads only to find the first non-finite value, which
//! does not touch the output. The faer GEMMs (`laue/*/factorised`, `psf/aia/separable`) run
//! with `Par::rayon(0)`: faer splits the product into blocks by thread count, and each
//! output block's dot products keep their order for a given pool, so repeated runs on one
//! pool are bit-identical; across pool sizes the blocking may change the summation order,
//! which test 1 allows within the tolerance. A variant added later that reduces one sum
//! across threads (`par_iter().sum()`) belongs in [`NOT_DETERMINISTIC`], with the reason.

mod common;

use common::instance;
use kernels::{Availability, Instance, Output};

/// `kernel/case/variant` ids whose repeated runs may differ in the last bits, with why.
const NOT_DETERMINISTIC: &[(&str, &str)] = &[(
    "pipeline/deconv-stack/hybrid",
    "CPU workers (f64) and the GPU (f32) take images from one queue: which image each side \
     computes depends on timing, so an image's last bits differ from run to run (within the \
     f32 tolerance the variant is checked against)",
)];

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn run_on(pool: &rayon::ThreadPool, inst: &dyn Instance, variant: &str) -> Output {
    pool.install(|| common::run_once(inst, variant))
}

fn bits(o: &Output) -> Vec<(String, Vec<u64>)> {
    o.arrays
        .iter()
        .map(|(n, a)| (n.clone(), a.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

/// Checks both properties for every Ready variant of one problem; returns the ids checked.
fn check_problem(kernel: &str, case: &str, overrides: &[(&str, f64)]) -> Vec<String> {
    let inst = instance(kernel, case, overrides);
    let all = rayon::current_num_threads().max(2);
    let pools = [(1, pool(1)), (2, pool(2)), (all, pool(all))];
    let mut checked = Vec::new();
    for info in inst.variants() {
        let name = info.name();
        let id = format!("{kernel}/{case}/{name}");
        if !matches!(common::probe(&*inst, name), Availability::Ready) {
            continue;
        }
        let one = run_on(&pools[0].1, inst.as_ref(), name);
        for (threads, p) in &pools[1..] {
            let out = run_on(p, inst.as_ref(), name);
            let check = common::check(&*inst, name, &out, &one);
            assert!(
                check.passed(),
                "{id} [{}]: {threads} threads differ from 1 thread beyond the tolerance: {:?} \
                 (tolerance {:e}: {})",
                inst.params(),
                check.worst().map(|c| c.to_string()),
                check.tolerance.max_norm,
                check.tolerance.reason
            );
        }
        if !NOT_DETERMINISTIC.iter().any(|(v, _)| *v == id) {
            let a = run_on(&pools[1].1, inst.as_ref(), name);
            let b = run_on(&pools[1].1, inst.as_ref(), name);
            assert!(
                bits(&a) == bits(&b),
                "{id} [{}]: two runs on 2 threads are not bit-identical; if the variant reduces \
                 across threads, list it in NOT_DETERMINISTIC with the reason",
                inst.params()
            );
        }
        checked.push(id);
    }
    checked
}

#[test]
fn laue_is_thread_count_independent_and_deterministic() {
    for case in ["square", "circle", "strained"] {
        let ids = check_problem("laue", case, &[("n", 9.0), ("oversampling", 3.0)]);
        assert!(ids.iter().any(|i| i.ends_with("/parallel")), "{ids:?}");
    }
}

#[test]
fn psf_is_thread_count_independent_and_deterministic() {
    let ids = check_problem("psf", "aia", &[("n", 34.0), ("channel", 193.0)]);
    assert!(ids.iter().any(|i| i.ends_with("/parallel")), "{ids:?}");
}

#[test]
fn lm_is_thread_count_independent_and_deterministic() {
    for case in ["gauss2d", "odmr", "odmr8"] {
        // 37 fits: several chunks per thread and a partial SIMD chunk.
        let ids = check_problem("lm", case, &[("fits", 37.0)]);
        assert!(ids.iter().any(|i| i.ends_with("/parallel")), "{ids:?}");
    }
}

#[test]
fn deconv_is_thread_count_independent_and_deterministic() {
    let ids = check_problem(
        "deconv",
        "synthetic",
        &[("n", 13.0), ("iterations", 4.0), ("sigma", 1.5)],
    );
    assert!(ids.iter().any(|i| i.ends_with("/parallel")), "{ids:?}");
}

#[test]
fn pipeline_is_thread_count_independent_and_deterministic() {
    // Three images of 16² (a power of two: the GPU variants apply), a Gaussian PSF.
    let ids = check_problem(
        "pipeline",
        "deconv-stack",
        &[
            ("n", 16.0),
            ("images", 3.0),
            ("trace", 0.0),
            ("iterations", 3.0),
            ("sigma", 1.5),
        ],
    );
    for v in ["threads-over-images", "threads-inside-image", "hybrid"] {
        assert!(
            ids.iter().any(|i| i.ends_with(v)),
            "{v} not checked: {ids:?}"
        );
    }
}

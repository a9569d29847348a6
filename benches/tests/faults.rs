//! The criterion bench harness carries on past a variant that panics in setup, in its first
//! run or while criterion times it, or that returns NaN or a wrong answer: each is reported
//! as failed and the next variant is timed.

#[path = "../../harness/tests/support/faulty.rs"]
mod faulty;

use std::time::Duration;

use criterion::Criterion;

#[test]
fn every_fault_is_a_failed_variant_and_the_bench_goes_on() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(10))
        .measurement_time(Duration::from_millis(50))
        .without_plots();
    let seen = benches::bench_dyn(&mut c, &faulty::FAULTY);
    let status = |v: &str| {
        seen.iter()
            .find(|(id, _)| id == &format!("faulty/only/{v}"))
            .unwrap_or_else(|| panic!("no outcome for {v}: {seen:?}"))
            .1
    };
    for bad in [
        "panics",
        "setup-panics",
        "nan",
        "wrong",
        "panics-when-timed",
    ] {
        assert_eq!(status(bad), "failed", "{bad}: {seen:?}");
    }
    // Timed after every fault above: the run went on.
    assert_eq!(status("naive"), "ok");
    assert_eq!(status("right"), "ok");
}

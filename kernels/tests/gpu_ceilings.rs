//! The adapter's ceilings (kernels::gpu::ceilings) on the software adapter: every rate is
//! measured, positive and finite; device time is there exactly when the adapter has
//! timestamp queries; f64 is there exactly when it has SHADER_F64.

use kernels::gpu::{self, ceilings};
mod common;

use common::gpu_required;

#[test]
fn ceilings_are_measured_with_device_time_where_supported() {
    let ctx = match gpu::context() {
        Ok(c) => c,
        Err(e) if gpu_required() => panic!("HARNESS_REQUIRE_GPU=1 but {e}"),
        Err(e) => return eprintln!("skipped: {e}"),
    };
    let m = ceilings::measure(ctx).unwrap();
    eprintln!("{m:?}");
    let mut rates = vec![&m.copy, &m.fma_f32];
    match (&m.fma_f64, ctx.has_f64()) {
        (Ok(r), true) => rates.push(r),
        (Err(why), false) => assert!(why.contains("SHADER_F64"), "{why}"),
        (got, has) => panic!("f64 figure {got:?} but SHADER_F64 = {has}"),
    }
    for r in rates {
        // Above 10⁸ per second: any adapter, lavapipe on one core included, does better.
        assert!(r.per_second.is_finite() && r.per_second > 1e8, "{r:?}");
        assert!(r.wall_s > 0.0);
        assert_eq!(r.device_s.is_some(), ctx.has_timestamps(), "{r:?}");
        if let Some(d) = r.device_s {
            // The device time is part of the wall time around the synchronised submission.
            assert!(d > 0.0 && d <= r.wall_s * 1.05, "{r:?}");
        }
    }
}

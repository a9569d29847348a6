//! The four-step FFT (kernels::gpu::fft_four_step) at the adapter's own workgroup-memory
//! limit: lines that do not fit one workgroup (f64 4096 and f32 8192 on lavapipe's 32 KiB
//! and NVIDIA's 48 KiB) against rustfft and the Stockham path, forward (bins read through
//! the plan's `stored_order`), inverse (fed in that order) and the round trip; and the
//! plan's pass counts. tests/gpu_four_step_forced.rs forces it at small sizes.
//!
//! Tolerance: tests/gpu_fft_shared.rs's, 7·log₂(L)·u (common::fft::bound). The four-step
//! is the radix-2 FFT's own factorisation (its twiddles between the steps are those of the
//! level where the two halves meet), so it has log₂ L levels, each with one rounded twiddle
//! product: the same bound. Against Stockham, each side carries its own error: twice it.

use kernels::Precision;
use kernels::gpu::fft::Shape;
use kernels::gpu::fft_shared::{Fft2d, fits};
mod common;

use common::fft::{check_four_step, ctx};

/// The long lines of the issue: f64 4096, f32 8192, as rows and as strided columns.
#[test]
fn long_lines_match_rustfft_and_stockham() {
    let Some(c) = ctx() else { return };
    let mut cases = vec![(Precision::F32, 8192usize)];
    if c.has_f64() {
        cases.push((Precision::F64, 4096));
    }
    for (p, n) in cases {
        if fits(c, p, n) {
            eprintln!("{p} {n}: fits this adapter's workgroup memory: no four-step here");
            continue;
        }
        let levels = n.trailing_zeros();
        check_four_step(c, p, Shape::Rows { batch: 3, n }, levels);
        // Columns (element stride 2) and a row side that fits: one pass + the four-step.
        check_four_step(c, p, Shape::Grid { rows: n, cols: 2 }, levels + 1);
    }
}

/// Global-memory passes: 2 per four-step side, 1 per side that fits.
#[test]
fn four_step_plans_count_global_passes() {
    let Some(c) = ctx() else { return };
    let (p, n) = match c.has_f64() {
        true => (Precision::F64, 4096),
        false => (Precision::F32, 8192),
    };
    if fits(c, p, n) {
        eprintln!("{p} {n}: fits this adapter: nothing to count");
        return;
    }
    let rows = Fft2d::new(c, p, Shape::Rows { batch: 2, n }).unwrap();
    assert_eq!(rows.global_passes(), 2, "{p} rows of {n}");
    let grid = Fft2d::new(c, p, Shape::Grid { rows: n, cols: 256 }).unwrap();
    assert_eq!(
        grid.global_passes(),
        3,
        "{p} {n} × 256: 2 (columns) + 1 (rows)"
    );
}

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
use kernels::gpu::GpuContext;
use kernels::gpu::fft::{Direction, GpuFft, Shape};
use kernels::gpu::fft_shared::{Fft2d, fits};
mod common;

use common::fft::{bound, ctx, on_gpu, random, reference, relative_rms};
use num_complex::Complex64;

/// `v` reordered as the plan stores a spectrum: position i holds bin order[i].
fn stored(v: &[Complex64], order: &[usize]) -> Vec<Complex64> {
    order.iter().map(|&k| v[k]).collect()
}

/// One transform of `x` by `plan` on the device.
fn run(plan: &Fft2d, p: Precision, x: &[Complex64], d: Direction) -> Vec<Complex64> {
    on_gpu(
        p,
        x,
        |v| plan.run_host(v, d).unwrap(),
        |v| plan.run_host(v, d).unwrap(),
    )
}

/// The four-step plan of `shape` against rustfft and Stockham, both directions, and the
/// round trip; `levels` = log₂ of the transform size.
fn check_four_step(c: &'static GpuContext, p: Precision, shape: Shape, levels: u32) {
    let plan = Fft2d::new(c, p, shape).unwrap();
    assert!(matches!(plan, Fft2d::FourStep(_)), "{shape:?} {p}");
    let stockham = Fft2d::Stockham(GpuFft::new(c, p, shape).unwrap());
    let order = plan.stored_order();
    let x = random(shape.len(), levels as u64, p);
    let b = bound(p, levels);
    for d in [Direction::Forward, Direction::Inverse] {
        // The inverse reads the stored order: feed it the input reordered.
        let input = match d {
            Direction::Forward => x.clone(),
            Direction::Inverse => stored(&x, &order),
        };
        let got = run(&plan, p, &input, d);
        let (mut want, mut old) = (reference(&x, shape, d), run(&stockham, p, &x, d));
        if d == Direction::Forward {
            (want, old) = (stored(&want, &order), stored(&old, &order));
        }
        let (err, vs_old) = (relative_rms(&got, &want), relative_rms(&got, &old));
        eprintln!("four-step {shape:?} {p} {d:?}: {err:.2e} vs rustfft, {vs_old:.2e} vs Stockham");
        assert!(err <= b, "{shape:?} {p} {d:?}: {err:e} > {b:e}");
        assert!(
            vs_old <= 2.0 * b,
            "{shape:?} {p} {d:?}: {vs_old:e} vs Stockham"
        );
    }
    // Round trip: inverse ∘ forward = L·x, two transforms each within the bound.
    let back = run(
        &plan,
        p,
        &run(&plan, p, &x, Direction::Forward),
        Direction::Inverse,
    );
    let scale = (shape.len() / shape_lines(shape)) as f64;
    let want: Vec<Complex64> = x.iter().map(|v| v * scale).collect();
    let err = relative_rms(&back, &want);
    assert!(
        err <= 2.0 * b,
        "{shape:?} {p} round trip: {err:e} > 2·{b:e}"
    );
}

/// Independent transforms in `shape` (a grid is one 2-D transform).
fn shape_lines(shape: Shape) -> usize {
    match shape {
        Shape::Rows { batch, .. } => batch,
        Shape::Grid { .. } => 1,
    }
}

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

//! What the GPU FFT tests share: the adapter (or a skip), seeded inputs, rustfft in f64 as
//! the reference, and the relative RMS error their bounds are stated in.

use kernels::Precision;
use kernels::gpu::fft::{Direction, GpuFft, Shape};
use kernels::gpu::fft_shared::Fft2d;
use kernels::gpu::{self, GpuContext};
use num_complex::Complex64;
use rustfft::FftPlanner;

use super::gpu_required;

/// The adapter, or None (printed) when there is none; panics under HARNESS_REQUIRE_GPU=1.
pub fn ctx() -> Option<&'static GpuContext> {
    match gpu::context() {
        Ok(c) => Some(c),
        Err(e) if gpu_required() => panic!("HARNESS_REQUIRE_GPU=1 but {e}"),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// The precisions this adapter runs (f64 needs SHADER_F64).
pub fn precisions(c: &GpuContext) -> Vec<Precision> {
    if c.has_f64() {
        vec![Precision::F32, Precision::F64]
    } else {
        eprintln!("f64 skipped: adapter has no SHADER_F64");
        vec![Precision::F32]
    }
}

/// Seeded uniform values in [−1, 1) (SplitMix64), rounded to `p` (what the GPU sees).
pub fn random(len: usize, seed: u64, p: Precision) -> Vec<Complex64> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let v = (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        match p {
            Precision::F32 => v as f32 as f64,
            Precision::F64 => v,
        }
    };
    (0..len).map(|_| Complex64::new(next(), next())).collect()
}

/// u: 2⁻²⁴ in f32, 2⁻⁵³ in f64.
pub fn unit_roundoff(p: Precision) -> f64 {
    match p {
        Precision::F32 => f64::powi(2.0, -24),
        Precision::F64 => f64::powi(2.0, -53),
    }
}

/// ‖got − want‖₂ / ‖want‖₂.
pub fn relative_rms(got: &[Complex64], want: &[Complex64]) -> f64 {
    let err: f64 = got.iter().zip(want).map(|(a, b)| (a - b).norm_sqr()).sum();
    let norm: f64 = want.iter().map(|b| b.norm_sqr()).sum();
    (err / norm).sqrt()
}

/// rustfft in f64 along rows of `cols` (and then columns of `rows`, for a grid).
pub fn reference(x: &[Complex64], shape: Shape, direction: Direction) -> Vec<Complex64> {
    let mut planner = FftPlanner::<f64>::new();
    let mut plan = |n| match direction {
        Direction::Forward => planner.plan_fft_forward(n),
        Direction::Inverse => planner.plan_fft_inverse(n),
    };
    let mut y = x.to_vec();
    match shape {
        Shape::Rows { n, .. } => plan(n).process(&mut y),
        Shape::Grid { rows, cols } => {
            plan(cols).process(&mut y);
            let column = plan(rows);
            for c in 0..cols {
                let mut buf: Vec<_> = (0..rows).map(|r| y[r * cols + c]).collect();
                column.process(&mut buf);
                for (r, v) in buf.into_iter().enumerate() {
                    y[r * cols + c] = v;
                }
            }
        }
    }
    y
}

/// Runs a host transform (`SharedFft::run_host` or `GpuFft::run_host`) in `p`.
pub fn on_gpu(
    p: Precision,
    x: &[Complex64],
    run32: impl FnOnce(&mut [[f32; 2]]),
    run64: impl FnOnce(&mut [[f64; 2]]),
) -> Vec<Complex64> {
    match p {
        Precision::F32 => {
            let mut d: Vec<[f32; 2]> = x.iter().map(|v| [v.re as f32, v.im as f32]).collect();
            run32(&mut d);
            d.iter()
                .map(|v| Complex64::new(v[0].into(), v[1].into()))
                .collect()
        }
        Precision::F64 => {
            let mut d: Vec<[f64; 2]> = x.iter().map(|v| [v.re, v.im]).collect();
            run64(&mut d);
            d.iter().map(|v| Complex64::new(v[0], v[1])).collect()
        }
    }
}

/// The bound of tests/gpu_fft.rs (Higham, Thm 24.2) on the relative RMS error of an FFT
/// with `levels` radix-2 levels and twiddles rounded once from f64: 7·levels·u.
pub fn bound(p: Precision, levels: u32) -> f64 {
    7.0 * levels.max(1) as f64 * unit_roundoff(p)
}

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
pub fn check_four_step(c: &'static GpuContext, p: Precision, shape: Shape, levels: u32) {
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

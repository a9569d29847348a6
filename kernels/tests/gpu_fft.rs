//! The WGSL FFT (kernels::gpu::fft) against rustfft: 1-D batched rows for every power of two
//! from 2 to 4096, 2-D grids 64×64 and 128×256, forward and inverse, f32 and f64, seeded
//! random input; plus the element-wise multiply and a chained convolution in one submission.
//!
//! Tolerance. For a radix-2 FFT with twiddles correct to μ, Higham ("Accuracy and Stability
//! of Numerical Algorithms", Thm 24.2) bounds ‖ŷ − y‖₂ / ‖y‖₂ ≤ log₂n · η / (1 − log₂n · η),
//! η = μ + γ₄(√2 + μ) ≈ (1 + 4√2)·u ≈ 6.7u; a radix-4 butterfly is two radix-2 levels of the
//! same operations; a 2-D transform of rows × cols has log₂(rows·cols) levels. Our twiddles
//! are f64 values rounded once (μ ≤ u). So the RMS error relative to the RMS of the result
//! (√n times the input's RMS, by Parseval) must stay below 7·log₂(n)·u, u = 2⁻²⁴ (f32) or
//! 2⁻⁵³ (f64): at n = 4096, 5.0e-6 and 9.3e-15. The
//! reference is rustfft in f64 on the same (f32-rounded, for f32) input, so its own error
//! (≈ log₂n·2⁻⁵³) is negligible for f32 and part of the budget for f64 (which the bound's
//! worst case leaves room for: typical errors are ≈ √log₂n·u).

use kernels::Precision;
use kernels::gpu::GpuContext;
use kernels::gpu::fft::{Direction, GpuFft, GpuMultiply, Shape};
mod common;

use common::fft::{ctx, precisions, reference, relative_rms, unit_roundoff};
use num_complex::Complex64;

/// Seeded uniform values in [−1, 1) (SplitMix64): no dependency, same input everywhere.
fn random(len: usize, seed: u64) -> Vec<Complex64> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    (0..len).map(|_| Complex64::new(next(), next())).collect()
}

/// Runs the GPU FFT on `x` (rounded to the precision first) and returns the result, and the
/// input as the GPU saw it.
fn gpu_fft(
    fft: &GpuFft,
    x: &[Complex64],
    direction: Direction,
) -> (Vec<Complex64>, Vec<Complex64>) {
    match fft.precision() {
        Precision::F32 => {
            let mut d: Vec<[f32; 2]> = x.iter().map(|v| [v.re as f32, v.im as f32]).collect();
            let seen = d
                .iter()
                .map(|v| Complex64::new(v[0] as f64, v[1] as f64))
                .collect();
            fft.run_host(&mut d, direction).unwrap();
            let y = d
                .iter()
                .map(|v| Complex64::new(v[0] as f64, v[1] as f64))
                .collect();
            (y, seen)
        }
        Precision::F64 => {
            let mut d: Vec<[f64; 2]> = x.iter().map(|v| [v.re, v.im]).collect();
            fft.run_host(&mut d, direction).unwrap();
            (
                d.iter().map(|v| Complex64::new(v[0], v[1])).collect(),
                x.to_vec(),
            )
        }
    }
}

fn check(c: &'static GpuContext, shape: Shape, seed: u64) {
    let log2n = (shape.len()
        / match shape {
            Shape::Rows { batch, .. } => batch,
            Shape::Grid { .. } => 1,
        })
    .trailing_zeros()
    .max(1) as f64;
    for precision in precisions(c) {
        let fft = GpuFft::new(c, precision, shape).unwrap();
        let x = random(shape.len(), seed);
        for direction in [Direction::Forward, Direction::Inverse] {
            let (got, seen) = gpu_fft(&fft, &x, direction);
            let want = reference(&seen, shape, direction);
            let err = relative_rms(&got, &want);
            let bound = 7.0 * log2n * unit_roundoff(precision);
            eprintln!("{shape:?} {precision} {direction:?}: {err:.2e} (bound {bound:.1e})");
            assert!(
                err <= bound,
                "{shape:?} {precision} {direction:?}: relative RMS error {err:e} > {bound:e}"
            );
        }
    }
}

#[test]
fn rows_of_every_power_of_two_match_rustfft() {
    let Some(c) = ctx() else { return };
    for log2 in 1..=12 {
        let n = 1usize << log2;
        // A few rows, so that batching is exercised; fewer for long rows.
        let batch = (4096 / n).clamp(1, 3);
        check(c, Shape::Rows { batch, n }, log2 as u64);
    }
}

#[test]
fn grids_match_rustfft() {
    let Some(c) = ctx() else { return };
    check(c, Shape::Grid { rows: 64, cols: 64 }, 64);
    check(
        c,
        Shape::Grid {
            rows: 128,
            cols: 256,
        },
        128,
    );
    // Odd log₂ on one axis only (a radix-2 pass on the columns).
    check(c, Shape::Grid { rows: 32, cols: 16 }, 32);
}

#[test]
fn forward_then_inverse_is_n_times_identity() {
    let Some(c) = ctx() else { return };
    let shape = Shape::Grid {
        rows: 32,
        cols: 128,
    };
    let fft = GpuFft::new(c, Precision::F32, shape).unwrap();
    let x = random(shape.len(), 7);
    let (y, seen) = gpu_fft(&fft, &x, Direction::Forward);
    let (z, _) = gpu_fft(&fft, &y, Direction::Inverse);
    let n = shape.len() as f64;
    let back: Vec<_> = z.iter().map(|v| v / n).collect();
    // Two transforms of log₂n = 12 levels each, and y rounded to f32 in between.
    let err = relative_rms(&back, &seen);
    assert!(err <= 2.0 * 7.0 * 12.0 * f64::powi(2.0, -24), "{err:e}");
}

/// Circular convolution chained on the device in one submission: FFT(a) · FFT(b) → inverse.
#[test]
fn chained_convolution_in_one_submission() {
    let Some(c) = ctx() else { return };
    for precision in precisions(c) {
        let shape = Shape::Grid { rows: 16, cols: 32 };
        let n = shape.len();
        let a = random(n, 11);
        let b = random(n, 12);
        // Direct circular convolution in f64.
        let mut want = vec![Complex64::default(); n];
        for r in 0..16 {
            for s in 0..32 {
                for (q, av) in a.iter().enumerate() {
                    let (qr, qs) = (q / 32, q % 32);
                    want[r * 32 + s] += av * b[((r + 16 - qr) % 16) * 32 + (s + 32 - qs) % 32];
                }
            }
        }
        let fft = GpuFft::new(c, precision, shape).unwrap();
        let multiply = GpuMultiply::new(c, precision).unwrap();
        let got: Vec<Complex64> = match precision {
            Precision::F32 => {
                let pack = |v: &[Complex64]| -> Vec<[f32; 2]> {
                    v.iter().map(|z| [z.re as f32, z.im as f32]).collect()
                };
                let da = c.storage_from("a", &pack(&a)).unwrap();
                let db = c.storage_from("b", &pack(&b)).unwrap();
                let (fa, fb) = (fft.bind(&da).unwrap(), fft.bind(&db).unwrap());
                let m = multiply.bind(&da, &db, false, 1.0 / n as f64).unwrap();
                let mut enc = c.encoder("convolution", None);
                fft.encode(&mut enc, &fa, Direction::Forward);
                fft.encode(&mut enc, &fb, Direction::Forward);
                multiply.encode(&mut enc, &m);
                fft.encode(&mut enc, &fa, Direction::Inverse);
                enc.submit().unwrap();
                c.read::<[f32; 2]>(&da)
                    .unwrap()
                    .iter()
                    .map(|v| Complex64::new(v[0] as f64, v[1] as f64))
                    .collect()
            }
            Precision::F64 => {
                let pack =
                    |v: &[Complex64]| -> Vec<[f64; 2]> { v.iter().map(|z| [z.re, z.im]).collect() };
                let da = c.storage_from("a", &pack(&a)).unwrap();
                let db = c.storage_from("b", &pack(&b)).unwrap();
                let (fa, fb) = (fft.bind(&da).unwrap(), fft.bind(&db).unwrap());
                let m = multiply.bind(&da, &db, false, 1.0 / n as f64).unwrap();
                let mut enc = c.encoder("convolution", None);
                fft.encode(&mut enc, &fa, Direction::Forward);
                fft.encode(&mut enc, &fb, Direction::Forward);
                multiply.encode(&mut enc, &m);
                fft.encode(&mut enc, &fa, Direction::Inverse);
                enc.submit().unwrap();
                c.read::<[f64; 2]>(&da)
                    .unwrap()
                    .iter()
                    .map(|v| Complex64::new(v[0], v[1]))
                    .collect()
            }
        };
        // Three transforms of log₂n = 9 levels plus the product and input rounding.
        let bound = 4.0 * 7.0 * 9.0 * unit_roundoff(precision);
        let err = relative_rms(&got, &want);
        assert!(err <= bound, "{precision}: {err:e} > {bound:e}");
    }
}

#[test]
fn conjugate_multiply_and_bad_shapes() {
    let Some(c) = ctx() else { return };
    let multiply = GpuMultiply::new(c, Precision::F32).unwrap();
    let data = c.storage_from("d", &[[1.0f32, 2.0], [3.0, -1.0]]).unwrap();
    let spectrum = c.storage_from("s", &[[0.5f32, 1.0], [2.0, 2.0]]).unwrap();
    let m = multiply.bind(&data, &spectrum, true, 2.0).unwrap();
    let mut enc = c.encoder("multiply", None);
    multiply.encode(&mut enc, &m);
    enc.submit().unwrap();
    // 2·(1+2i)(0.5−i) = 2·(2.5 + 0i) ; 2·(3−i)(2−2i) = 2·(4 − 8i)
    assert_eq!(
        c.read::<[f32; 2]>(&data).unwrap(),
        vec![[5.0, 0.0], [8.0, -16.0]]
    );

    assert!(GpuFft::new(c, Precision::F32, Shape::Rows { batch: 1, n: 12 }).is_err());
    let fft = GpuFft::new(c, Precision::F32, Shape::Rows { batch: 2, n: 8 }).unwrap();
    assert!(fft.bind(&data).is_err(), "a buffer of the wrong size");
}

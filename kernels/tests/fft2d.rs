//! The shared 2-D real FFT against the DFT written as numpy defines it, at small and odd
//! shapes; round trips; the parallel passes bit-identical to the serial ones; f32 against
//! f64.

use kernels::fft2d::{Fft2d, Float};
use num_complex::Complex64;
use std::f64::consts::TAU;

/// Shapes with odd and even sides, single rows and columns, and a composite size.
const SHAPES: [(usize, usize); 10] = [
    (1, 1),
    (1, 8),
    (5, 1),
    (2, 2),
    (3, 4),
    (7, 9),
    (16, 16),
    (12, 10),
    (31, 17),
    (24, 45),
];

/// A deterministic pseudo-random sequence in [−1, 1) (SplitMix64), enough for test data.
fn noise(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

/// e^{±2πi·(num mod den)/den}: the angle reduced exactly in integers first.
fn twiddle(num: usize, den: usize, sign: f64) -> Complex64 {
    let a = sign * TAU * ((num % den) as f64 / den as f64);
    Complex64::new(a.cos(), a.sin())
}

/// numpy.fft.rfft2 as its definition: X[k, l] = Σ_m Σ_n x[m, n] e^{−2πi(km/R + ln/C)}.
fn dft_rfft2(x: &[f64], r: usize, c: usize) -> Vec<Complex64> {
    let h = c / 2 + 1;
    let mut out = vec![Complex64::default(); r * h];
    for k in 0..r {
        for l in 0..h {
            let mut sum = Complex64::default();
            for m in 0..r {
                for n in 0..c {
                    sum += x[m * c + n] * twiddle(k * m, r, -1.0) * twiddle(l * n, c, -1.0);
                }
            }
            out[k * h + l] = sum;
        }
    }
    out
}

/// numpy.fft.irfft2(Y, s=(R, C)) as its definition: a complex inverse DFT down the
/// columns, then along each row the Hermitian extension, reading only the real parts of
/// the DC and (even C) Nyquist values; normalised by 1/(R·C). Checked against numpy 2.4
/// on random non-Hermitian spectra (agreement 7e-16).
fn dft_irfft2(y: &[Complex64], r: usize, c: usize) -> Vec<f64> {
    let h = c / 2 + 1;
    let mut out = vec![0.0; r * c];
    for m in 0..r {
        let z: Vec<Complex64> = (0..h)
            .map(|l| (0..r).map(|k| y[k * h + l] * twiddle(k * m, r, 1.0)).sum())
            .collect();
        for n in 0..c {
            let mut s = z[0].re;
            for (l, zl) in z.iter().enumerate().take((c - 1) / 2 + 1).skip(1) {
                s += 2.0 * (zl * twiddle(l * n, c, 1.0)).re;
            }
            if c.is_multiple_of(2) && c > 1 {
                s += z[c / 2].re * if n % 2 == 0 { 1.0 } else { -1.0 };
            }
            out[m * c + n] = s / (r * c) as f64;
        }
    }
    out
}

fn max_abs(v: impl Iterator<Item = f64>) -> f64 {
    v.fold(0.0, |m, x| m.max(x.abs()))
}

/// A sum of R·C terms of size ≤ max|x| rounds to within a few ε·log₂(R·C)·Σ|x| in an FFT
/// and ε·R·C·max|x| in the DFT loop: 1e-14 of Σ|x| covers both at these sizes.
const F64_REL: f64 = 1e-14;

#[test]
fn rfft2_matches_the_dft() {
    for (i, &(r, c)) in SHAPES.iter().enumerate() {
        let x = noise(r * c, i as u64);
        let fft = Fft2d::<f64>::new(r, c);
        let mut s = fft.scratch();
        let mut spec = vec![Complex64::new(f64::NAN, f64::NAN); fft.spectrum_len()];
        fft.rfft2(&x, &mut spec, &mut s);
        let want = dft_rfft2(&x, r, c);
        let scale = x.iter().map(|v| v.abs()).sum::<f64>();
        let err = max_abs(spec.iter().zip(&want).map(|(a, b)| (a - b).norm()));
        assert!(err <= F64_REL * scale, "{r}×{c}: {err:e} of Σ|x| = {scale}");
    }
}

#[test]
fn irfft2_matches_the_dft_including_numpys_edge_convention() {
    for (i, &(r, c)) in SHAPES.iter().enumerate() {
        // Random, not Hermitian: imaginary DC/Nyquist parts must be ignored as numpy does.
        let h = c / 2 + 1;
        let re = noise(r * h, 100 + i as u64);
        let im = noise(r * h, 200 + i as u64);
        let y: Vec<Complex64> = re
            .iter()
            .zip(&im)
            .map(|(&a, &b)| Complex64::new(a, b))
            .collect();
        let fft = Fft2d::<f64>::new(r, c);
        let mut s = fft.scratch();
        let mut work = y.clone();
        let mut out = vec![f64::NAN; r * c];
        fft.irfft2(&mut work, &mut out, &mut s);
        let want = dft_irfft2(&y, r, c);
        let err = max_abs(out.iter().zip(&want).map(|(a, b)| a - b));
        let scale = y.iter().map(|v| v.norm()).sum::<f64>() * 2.0 / (r * c) as f64;
        assert!(err <= F64_REL * scale, "{r}×{c}: {err:e} (scale {scale})");
    }
}

#[test]
fn round_trip_returns_the_input() {
    for (i, &(r, c)) in SHAPES.iter().chain(&[(64, 48), (128, 128)]).enumerate() {
        let x = noise(r * c, 300 + i as u64);
        let fft = Fft2d::<f64>::new(r, c);
        let mut s = fft.scratch();
        let mut spec = vec![Complex64::default(); fft.spectrum_len()];
        let mut back = vec![f64::NAN; r * c];
        fft.rfft2(&x, &mut spec, &mut s);
        fft.irfft2(&mut spec, &mut back, &mut s);
        let err = max_abs(x.iter().zip(&back).map(|(a, b)| a - b));
        // Two transforms: a few ε·log₂(R·C) of max|x| = 1.
        assert!(err < 1e-14, "{r}×{c}: {err:e}");
    }
}

/// The parallel passes do the same arithmetic on each row and column: identical bits.
fn parallel_is_bit_identical<T: Float>(cast: impl Fn(f64) -> T) {
    for (i, &(r, c)) in SHAPES.iter().chain(&[(33, 70), (100, 64)]).enumerate() {
        let x: Vec<T> = noise(r * c, 400 + i as u64)
            .into_iter()
            .map(&cast)
            .collect();
        let fft = Fft2d::<T>::new(r, c);
        let (mut s, mut ss) = (fft.scratch(), fft.scratches());
        let zero = num_complex::Complex::<T>::default();
        let (mut a, mut b) = (
            vec![zero; fft.spectrum_len()],
            vec![zero; fft.spectrum_len()],
        );
        fft.rfft2(&x, &mut a, &mut s);
        fft.rfft2_par(&x, &mut b, &mut ss);
        assert!(a == b, "{r}×{c}: rfft2_par differs from rfft2");
        let (mut oa, mut ob) = (vec![T::zero(); r * c], vec![T::zero(); r * c]);
        fft.irfft2(&mut a, &mut oa, &mut s);
        fft.irfft2_par(&mut b, &mut ob, &mut ss);
        assert!(oa == ob, "{r}×{c}: irfft2_par differs from irfft2");
    }
}

#[test]
fn parallel_passes_are_bit_identical_to_serial() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    pool.install(|| {
        parallel_is_bit_identical::<f64>(|v| v);
        parallel_is_bit_identical::<f32>(|v| v as f32);
    });
}

#[test]
fn f32_agrees_with_f64_to_single_precision() {
    for (i, &(r, c)) in SHAPES.iter().enumerate() {
        let x = noise(r * c, 500 + i as u64);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let (f64_, f32_) = (Fft2d::<f64>::new(r, c), Fft2d::<f32>::new(r, c));
        let mut spec = vec![Complex64::default(); f64_.spectrum_len()];
        let mut spec32 = vec![num_complex::Complex32::default(); f32_.spectrum_len()];
        f64_.rfft2(&x, &mut spec, &mut f64_.scratch());
        f32_.rfft2(&x32, &mut spec32, &mut f32_.scratch());
        let scale = x.iter().map(|v| v.abs()).sum::<f64>();
        let err = max_abs(
            spec.iter()
                .zip(&spec32)
                .map(|(a, b)| (a - Complex64::new(b.re as f64, b.im as f64)).norm()),
        );
        // The input rounding to f32 (2⁻²⁴ relative per term) plus f32 arithmetic:
        // ≲ 2⁻²⁴·(1 + log₂(R·C)) of Σ|x|.
        let bound = 2f64.powi(-24) * (1.0 + ((r * c) as f64).log2()) * scale;
        assert!(err <= bound, "{r}×{c}: {err:e} > {bound:e}");
    }
}

#[test]
fn column_pass_sees_every_column_once_with_its_index() {
    // A strip's first() must be the spectrum column it holds, in serial and parallel.
    let (r, c) = (5, 70); // 36 spectrum columns: two full strips and a partial one
    let fft = Fft2d::<f64>::new(r, c);
    let mut spec = vec![Complex64::default(); fft.spectrum_len()];
    let mark = |strip: &mut kernels::fft2d::Strip<'_, f64>| {
        let first = strip.first();
        let rows = strip.data().len() / strip.width();
        for (j, col) in strip.data().chunks_mut(rows).enumerate() {
            for v in col {
                *v += Complex64::new((first + j) as f64, 1.0);
            }
        }
    };
    fft.columns(&mut spec, &mut fft.scratch(), mark);
    fft.columns_par(&mut spec, &mut fft.scratches(), mark);
    for (i, v) in spec.iter().enumerate() {
        assert_eq!(
            *v,
            Complex64::new(2.0 * (i % fft.half()) as f64, 2.0),
            "index {i}"
        );
    }
}

//! The composite of the two filters, shared by every CPU variant:
//!
//! ```text
//! psf = roll(|fft2(fft2(psf_fp) · fft2(psf_e))|, N/2 on both axes) / N²
//! ```
//!
//! aiapy applies two *forward* transforms. For real inputs the product P = F_fp·F_e is
//! Hermitian, so fft2(P)[k] = U[−k] with U the unnormalised inverse transform of P, which is
//! real: N² times the circular convolution of the two filters. We therefore compute U with
//! real-to-complex transforms (realfft along rows, rustfft along columns) and read it back
//! index-reversed: `out[i][j] = |U[(N/2 − i) mod N][(N/2 − j) mod N]| / N²`.
//!
//! The imaginary part that numpy's complex path leaves in fft2(P) is rounding noise (≈1e-17
//! of the peak); taking the real part instead changes values only at that noise floor.
//!
//! Layout: row spectra (N × (N/2+1)) are transposed so that each column transform runs on
//! contiguous memory; the product and the inverse column transforms stay in that layout.
//! With `parallel`, rows, transposes and columns are spread over rayon's threads; the
//! arithmetic per row/column is the same either way, so the result does not depend on the
//! thread count.

use std::sync::Arc;

use num_complex::Complex64;
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use crate::error::KernelError;

/// Columns handed to one rayon task (each a length-N transform).
const COLUMNS_PER_TASK: usize = 16;
/// Destination rows filled together by the transpose (a block of 8 complex values is two
/// cache lines of the source).
const TRANSPOSE_BLOCK: usize = 8;

/// Plans and scratch for the composite at one size (built in `prepare`).
pub struct Composite {
    n: usize,
    /// N/2 + 1: complex values per row spectrum.
    h: usize,
    parallel: bool,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    col_forward: Arc<dyn Fft<f64>>,
    col_inverse: Arc<dyn Fft<f64>>,
    /// Row spectra, N × h, row-major.
    rows: Vec<Complex64>,
    /// Spectra of the focal-plane and entrance filters, h × N: row kx is column kx.
    spec_fp: Vec<Complex64>,
    spec_e: Vec<Complex64>,
}

impl Composite {
    pub fn new(n: usize, parallel: bool) -> Composite {
        assert!(
            n >= 2 && n.is_multiple_of(2),
            "the composite needs an even N"
        );
        let h = n / 2 + 1;
        let mut real = RealFftPlanner::<f64>::new();
        let mut complex = FftPlanner::<f64>::new();
        let zero = Complex64::default();
        Composite {
            n,
            h,
            parallel,
            r2c: real.plan_fft_forward(n),
            c2r: real.plan_fft_inverse(n),
            col_forward: complex.plan_fft_forward(n),
            col_inverse: complex.plan_fft_inverse(n),
            rows: vec![zero; n * h],
            spec_fp: vec![zero; h * n],
            spec_e: vec![zero; h * n],
        }
    }

    /// Writes the composite of `focal_plane` and `entrance` (N × N, row-major) into `out`.
    pub fn run(
        &mut self,
        focal_plane: &[f64],
        entrance: &[f64],
        out: &mut [f64],
    ) -> Result<(), KernelError> {
        let nn = self.n * self.n;
        assert!(focal_plane.len() == nn && entrance.len() == nn && out.len() == nn);
        let mut spec_fp = std::mem::take(&mut self.spec_fp);
        let mut spec_e = std::mem::take(&mut self.spec_e);
        self.forward(focal_plane, &mut spec_fp)?;
        self.forward(entrance, &mut spec_e)?;
        // Product of the spectra, then the inverse column transforms, in the same layout.
        if self.parallel {
            spec_fp
                .par_chunks_mut(self.n)
                .zip(spec_e.par_chunks(self.n))
                .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, b)| *a *= b));
        } else {
            spec_fp.iter_mut().zip(&spec_e).for_each(|(a, b)| *a *= b);
        }
        self.columns(&mut spec_fp, false);
        transpose(&spec_fp, self.h, self.n, &mut self.rows, self.parallel);
        self.spec_fp = spec_fp;
        self.spec_e = spec_e;
        self.rows_inverse(out)
    }

    /// Row transforms, transpose, column transforms: `spec` = fft2(x)[.., 0..h], transposed.
    fn forward(&mut self, x: &[f64], spec: &mut [Complex64]) -> Result<(), KernelError> {
        let (n, h) = (self.n, self.h);
        let r2c = &self.r2c;
        let row = |(input, output): (&[f64], &mut [Complex64]),
                   (buf, scratch): &mut (Vec<f64>, Vec<Complex64>)| {
            // realfft uses its input as scratch: copy the row first.
            buf.copy_from_slice(input);
            r2c.process_with_scratch(buf, output, scratch)
                .map_err(|e| KernelError::Failed(format!("row FFT: {e}")))
        };
        let init = || (vec![0.0; n], r2c.make_scratch_vec());
        if self.parallel {
            x.par_chunks(n)
                .zip(self.rows.par_chunks_mut(h))
                .try_for_each_init(init, |s, pair| row(pair, s))?;
        } else {
            let mut s = init();
            x.chunks(n)
                .zip(self.rows.chunks_mut(h))
                .try_for_each(|pair| row(pair, &mut s))?;
        }
        transpose(&self.rows, n, h, spec, self.parallel);
        self.columns(spec, true);
        Ok(())
    }

    /// Length-N transforms of every row of `spec` (h × N), forward or inverse.
    fn columns(&self, spec: &mut [Complex64], forward: bool) {
        let plan = if forward {
            &self.col_forward
        } else {
            &self.col_inverse
        };
        let scratch = || vec![Complex64::default(); plan.get_inplace_scratch_len()];
        if self.parallel {
            spec.par_chunks_mut(self.n * COLUMNS_PER_TASK)
                .for_each_init(scratch, |s, cols| plan.process_with_scratch(cols, s));
        } else {
            plan.process_with_scratch(spec, &mut scratch());
        }
    }

    /// Inverse row transforms (complex-to-real) read back index-reversed and rolled.
    fn rows_inverse(&self, out: &mut [f64]) -> Result<(), KernelError> {
        let (n, h) = (self.n, self.h);
        let nn = (n * n) as f64;
        let (rows, c2r) = (&self.rows, &self.c2r);
        let row = |(i, out_row): (usize, &mut [f64]),
                   (spectrum, real, scratch): &mut (Vec<Complex64>, Vec<f64>, Vec<Complex64>)| {
            let r = (n / 2 + n - i) % n;
            spectrum.copy_from_slice(&rows[r * h..][..h]);
            // Exactly zero for a Hermitian P: the residue is rounding, and realfft rejects it.
            spectrum[0].im = 0.0;
            spectrum[h - 1].im = 0.0;
            c2r.process_with_scratch(spectrum, real, scratch)
                .map_err(|e| KernelError::Failed(format!("inverse row FFT: {e}")))?;
            for (j, o) in out_row.iter_mut().enumerate() {
                *o = real[(n / 2 + n - j) % n].abs() / nn;
            }
            Ok(())
        };
        let init = || {
            (
                vec![Complex64::default(); h],
                vec![0.0; n],
                c2r.make_scratch_vec(),
            )
        };
        if self.parallel {
            out.par_chunks_mut(n)
                .enumerate()
                .try_for_each_init(init, |s, pair| row(pair, s))
        } else {
            let mut s = init();
            out.chunks_mut(n)
                .enumerate()
                .try_for_each(|pair| row(pair, &mut s))
        }
    }
}

/// `dst` (cols × rows) = transpose of `src` (rows × cols), both row-major. Each task fills a
/// block of destination rows, reading the source row by row in short contiguous runs.
fn transpose(src: &[Complex64], rows: usize, cols: usize, dst: &mut [Complex64], parallel: bool) {
    let block = |(b, out): (usize, &mut [Complex64])| {
        let c0 = b * TRANSPOSE_BLOCK;
        let width = out.len() / rows;
        for r in 0..rows {
            let run = &src[r * cols + c0..][..width];
            for (k, v) in run.iter().enumerate() {
                out[k * rows + r] = *v;
            }
        }
    };
    if parallel {
        dst.par_chunks_mut(rows * TRANSPOSE_BLOCK)
            .enumerate()
            .for_each(block);
    } else {
        dst.chunks_mut(rows * TRANSPOSE_BLOCK)
            .enumerate()
            .for_each(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct O(N⁴) evaluation of aiapy's formula with two forward DFTs, for a small N.
    fn direct(fp: &[f64], e: &[f64], n: usize) -> Vec<f64> {
        use std::f64::consts::TAU;
        let dft = |x: &[Complex64]| {
            let mut y = vec![Complex64::default(); n * n];
            for (k, yk) in y.iter_mut().enumerate() {
                let (ky, kx) = (k / n, k % n);
                for (m, xm) in x.iter().enumerate() {
                    let (my, mx) = (m / n, m % n);
                    let phase = -TAU * ((ky * my + kx * mx) % n) as f64 / n as f64;
                    *yk += xm * Complex64::from_polar(1.0, phase);
                }
            }
            y
        };
        let c = |x: &[f64]| {
            x.iter()
                .map(|&v| Complex64::new(v, 0.0))
                .collect::<Vec<_>>()
        };
        let product: Vec<Complex64> = dft(&c(fp))
            .iter()
            .zip(dft(&c(e)))
            .map(|(a, b)| a * b)
            .collect();
        let y = dft(&product);
        let mut out = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                // numpy.roll by N/2: out[i][j] = y[(i − N/2) mod N][(j − N/2) mod N].
                let (si, sj) = ((i + n / 2) % n, (j + n / 2) % n);
                out[i * n + j] = y[si * n + sj].norm() / (n * n) as f64;
            }
        }
        out
    }

    #[test]
    fn matches_the_direct_double_forward_dft() {
        let n = 12;
        let fp: Vec<f64> = (0..n * n)
            .map(|i| ((i * 7919) % 97) as f64 / 97.0)
            .collect();
        let e: Vec<f64> = (0..n * n)
            .map(|i| ((i * 104729) % 89) as f64 / 89.0)
            .collect();
        let expected = direct(&fp, &e, n);
        let peak = expected.iter().fold(0.0f64, |m, v| m.max(*v));
        for parallel in [false, true] {
            let mut out = vec![f64::NAN; n * n];
            Composite::new(n, parallel).run(&fp, &e, &mut out).unwrap();
            for (k, (a, b)) in out.iter().zip(&expected).enumerate() {
                // O(N²)-term DFT sums in f64: a few 1e-15 of the peak.
                assert!((a - b).abs() <= 1e-13 * peak, "{k}: {a} vs {b}");
            }
        }
    }
}

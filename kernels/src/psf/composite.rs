//! The composite of the two filters, shared by every CPU variant:
//!
//! ```text
//! psf = roll(|fft2(fft2(psf_fp) · fft2(psf_e))|, N/2 on both axes) / N²
//! ```
//!
//! aiapy applies two *forward* transforms. For real inputs the product P = F_fp·F_e is
//! Hermitian, so `fft2(P)[k] = U[−k]` with U the unnormalised inverse transform of P, which is
//! real: N² times the circular convolution of the two filters. We therefore compute U with
//! real-to-complex transforms (realfft along rows, rustfft along columns) and read it back
//! index-reversed: `out[i][j] = |U[(N/2 − i) mod N][(N/2 − j) mod N]| / N²`.
//!
//! The imaginary part that numpy's complex path leaves in fft2(P) is rounding noise (≈1e-17
//! of the peak); taking the real part instead changes values only at that noise floor.
//!
//! Passes (each over an N × (N/2+1) complex array: 128 MiB at N = 4096, so the composite is
//! bound by memory traffic as much as by arithmetic):
//!
//! 1. rows of the focal-plane filter → row spectra (realfft);
//! 2. per block of 16 columns: gather them from the row spectra (a transpose, in cache),
//!    forward column transforms → the focal-plane spectrum, stored column-major;
//! 3. rows of the entrance filter → row spectra;
//! 4. per block of 16 columns: gather, forward transforms, multiply into the focal-plane
//!    spectrum, inverse column transforms — while the block is in cache;
//! 5. per block of 8 output rows: gather their spectra from the columns, inverse row
//!    transforms (complex-to-real), write index-reversed, |·|/N².
//!
//! With `parallel`, every pass is spread over rayon's threads. The arithmetic of each row
//! and column is the same either way, so the result does not depend on the thread count.

use std::sync::Arc;

use num_complex::Complex64;
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use crate::error::KernelError;

/// Columns per block in passes 2 and 4 (16 × N complex: 1 MiB at N = 4096, in L2).
const COLUMNS: usize = 16;
/// Output rows per block in pass 5 (each gathers 8 consecutive source rows: 128 bytes, two
/// cache lines, per column).
const ROWS: usize = 8;

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
    /// The spectrum, column-major (h columns of N): the focal-plane filter's, then the
    /// product's inverse column transforms.
    spec: Vec<Complex64>,
}

/// Runs `f(index, chunk, scratch)` over the `size`-element chunks of `data`, on rayon's
/// threads or in order.
fn chunks<T: Send, S>(
    parallel: bool,
    data: &mut [T],
    size: usize,
    init: impl Fn() -> S + Send + Sync,
    f: impl Fn(usize, &mut [T], &mut S) -> Result<(), KernelError> + Send + Sync,
) -> Result<(), KernelError> {
    if parallel {
        data.par_chunks_mut(size)
            .enumerate()
            .try_for_each_init(init, |s, (i, c)| f(i, c, s))
    } else {
        let mut s = init();
        data.chunks_mut(size)
            .enumerate()
            .try_for_each(|(i, c)| f(i, c, &mut s))
    }
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
            spec: vec![zero; h * n],
        }
    }

    /// Writes the composite of `focal_plane` and `entrance` (N × N, row-major) into `out`.
    pub fn run(
        &mut self,
        focal_plane: &[f64],
        entrance: &[f64],
        out: &mut [f64],
    ) -> Result<(), KernelError> {
        let (n, h) = (self.n, self.h);
        assert!(focal_plane.len() == n * n && entrance.len() == n * n && out.len() == n * n);
        let fft_scratch = self
            .col_forward
            .get_inplace_scratch_len()
            .max(self.col_inverse.get_inplace_scratch_len());
        let zero = Complex64::default();

        // Passes 1 and 2: the focal-plane spectrum.
        self.row_transforms(focal_plane)?;
        let (rows, fwd) = (&self.rows, &self.col_forward);
        chunks(
            self.parallel,
            &mut self.spec,
            COLUMNS * n,
            || vec![zero; fft_scratch],
            |block, cols, scratch| {
                gather_columns(rows, h, block * COLUMNS, cols);
                fwd.process_with_scratch(cols, scratch);
                Ok(())
            },
        )?;

        // Passes 3 and 4: the entrance spectrum, block by block, times the focal-plane
        // spectrum, then the inverse column transforms.
        self.row_transforms(entrance)?;
        let (rows, fwd, inv) = (&self.rows, &self.col_forward, &self.col_inverse);
        chunks(
            self.parallel,
            &mut self.spec,
            COLUMNS * n,
            || (vec![zero; COLUMNS * n], vec![zero; fft_scratch]),
            |block, cols, (e, scratch)| {
                let e = &mut e[..cols.len()];
                gather_columns(rows, h, block * COLUMNS, e);
                fwd.process_with_scratch(e, scratch);
                cols.iter_mut().zip(e.iter()).for_each(|(a, b)| *a *= b);
                inv.process_with_scratch(cols, scratch);
                Ok(())
            },
        )?;

        // Pass 5: inverse row transforms, read back index-reversed and rolled.
        let (spec, c2r) = (&self.spec, &self.c2r);
        let nn = (n * n) as f64;
        chunks(
            self.parallel,
            out,
            ROWS * n,
            || (vec![zero; ROWS * h], vec![0.0; n], c2r.make_scratch_vec()),
            |block, out_rows, (spectra, real, scratch)| {
                let i0 = block * ROWS;
                let count = out_rows.len() / n;
                // Output row i reads source row r = (N/2 − i) mod N.
                let source = |i: usize| (n / 2 + n - i) % n;
                for kx in 0..h {
                    let column = &spec[kx * n..][..n];
                    for b in 0..count {
                        spectra[b * h + kx] = column[source(i0 + b)];
                    }
                }
                for (b, out_row) in out_rows.chunks_mut(n).enumerate() {
                    let spectrum = &mut spectra[b * h..][..h];
                    // Exactly zero for a Hermitian P: the residue is rounding, and realfft
                    // rejects it.
                    spectrum[0].im = 0.0;
                    spectrum[h - 1].im = 0.0;
                    c2r.process_with_scratch(spectrum, real, scratch)
                        .map_err(|e| KernelError::Failed(format!("inverse row FFT: {e}")))?;
                    for (j, o) in out_row.iter_mut().enumerate() {
                        *o = real[(n / 2 + n - j) % n].abs() / nn;
                    }
                }
                Ok(())
            },
        )
    }

    /// Real-to-complex transforms of every row of `x` into `self.rows`.
    fn row_transforms(&mut self, x: &[f64]) -> Result<(), KernelError> {
        let (n, r2c) = (self.n, &self.r2c);
        chunks(
            self.parallel,
            &mut self.rows,
            self.h,
            || (vec![0.0; n], r2c.make_scratch_vec()),
            |i, spectrum, (buf, scratch)| {
                // realfft uses its input as scratch: copy the row first.
                buf.copy_from_slice(&x[i * n..][..n]);
                r2c.process_with_scratch(buf, spectrum, scratch)
                    .map_err(|e| KernelError::Failed(format!("row FFT: {e}")))
            },
        )
    }
}

/// Columns `first ..` of the row-major `rows` (N × h) into `cols`, column after column:
/// a block of the transpose, read row by row in short contiguous runs.
fn gather_columns(rows: &[Complex64], h: usize, first: usize, cols: &mut [Complex64]) {
    let n = rows.len() / h;
    let width = cols.len() / n;
    for (y, row) in rows.chunks_exact(h).enumerate() {
        for (k, v) in row[first..first + width].iter().enumerate() {
            cols[k * n + y] = *v;
        }
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

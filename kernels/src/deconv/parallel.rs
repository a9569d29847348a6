//! `deconv/*/parallel`, `deconv/*/parallel-f32` — the FFT algorithm with rows and columns
//! spread over rayon's threads and every element-wise step fused into a transform pass.
//!
//! A 2-D transform is a row pass then a column pass; its inverse, a column pass then a
//! row pass. Between two convolutions the data can therefore stay "row spectra" (rows
//! transformed, columns not), and one iteration becomes four passes instead of NumPy's
//! dozen:
//!
//! ```text
//! columns: forward · P/(RC) · inverse        (while a strip of columns is in cache)
//! rows:    c2r → ratio = img / row → r2c      (one row at a time, in L1)
//! columns: forward · conj(P)/(RC) · inverse
//! rows:    c2r → est *= row → r2c of est      (the next iteration's first transform)
//! ```
//!
//! P/(RC) folds irfft2's normalisation into the PSF spectrum (exact for power-of-two
//! sides); it is stored column-major so that a strip's transfer function is one contiguous
//! slice. Tasks get one scratch each, made in setup: nothing is allocated per iteration.
//! Each row and column is transformed with the same arithmetic whatever the thread count,
//! so the output is bit-identical for any number of threads.

use num_complex::Complex;
use rayon::prelude::*;

use super::{DeconvProblem, NonFinite, cast, divide_row, multiply, non_finite, widen};
use crate::check::Output;
use crate::error::KernelError;
use crate::fft2d::{Fft2d, Float, Scratch};
use crate::variant::{Availability, Precision, Prepared, Variant, VariantInfo};

/// Both precisions: `Parallel(Precision::F64)` and `Parallel(Precision::F32)`.
pub struct Parallel(pub Precision);

const INFO: [VariantInfo; 2] = variant_pair!(
    "parallel",
    "parallel-f32",
    Parallel,
    "rows and columns over threads; multiply, divide and update fused into the FFT passes"
);

impl Variant<DeconvProblem> for Parallel {
    fn info(&self) -> &VariantInfo {
        self.0.pick(&INFO)
    }
    fn probe(&self, p: &DeconvProblem) -> Availability {
        p.availability()
    }
    fn prepare(&self, p: &DeconvProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(match self.0 {
            Precision::F64 => Box::new(Run::<f64>::new(p)),
            Precision::F32 => Box::new(Run::<f32>::new(p)),
        })
    }
}

struct Run<T: Float> {
    problem: DeconvProblem,
    fft: Fft2d<T>,
    scratches: Vec<Scratch<T>>,
    image: Vec<T>,
    /// P/(RC), column-major: spectrum column l is `[l·R, (l+1)·R)`.
    transfer: Vec<Complex<T>>,
    estimate: Vec<T>,
    spectrum: Vec<Complex<T>>,
    non_finite: Option<NonFinite>,
}

impl<T: Float> Run<T> {
    fn new(p: &DeconvProblem) -> Self {
        let (r, c) = (p.rows(), p.cols());
        let fft = Fft2d::<T>::new(r, c);
        let half = fft.half();
        let p_f64 = p.transfer();
        let scale = 1.0 / (r * c) as f64;
        let mut transfer = vec![Complex::default(); fft.spectrum_len()];
        for k in 0..r {
            for l in 0..half {
                let z = p_f64[k * half + l] * scale;
                transfer[l * r + k] =
                    Complex::new(T::from_f64(z.re).unwrap(), T::from_f64(z.im).unwrap());
            }
        }
        Run {
            problem: p.clone(),
            scratches: fft.scratches(),
            image: cast(&p.clipped_image()),
            transfer,
            estimate: vec![T::zero(); fft.real_len()],
            spectrum: vec![Complex::default(); fft.spectrum_len()],
            non_finite: None,
            fft,
        }
    }

    /// Column pass: forward, times P/(RC) (or its conjugate), inverse.
    fn convolve_columns(&mut self, conjugate: bool) {
        let (rows, transfer) = (self.fft.rows(), &self.transfer);
        self.fft
            .columns_par(&mut self.spectrum, &mut self.scratches, |strip| {
                let p = &transfer[strip.first() * rows..][..strip.width() * rows];
                strip.forward();
                multiply(strip.data(), p, conjugate);
                strip.inverse();
            });
    }
}

impl<T: Float> Prepared for Run<T> {
    fn run(&mut self) -> Result<(), KernelError> {
        let (c, half) = (self.fft.cols(), self.fft.half());
        let per = self.fft.rows_per_task(self.scratches.len());
        self.estimate.copy_from_slice(&self.image);
        self.non_finite = None;
        let iterations = self.problem.iterations;
        if iterations > 0 {
            self.fft
                .forward_rows_par(&self.estimate, &mut self.spectrum, &mut self.scratches);
        }
        for iteration in 1..=iterations {
            self.convolve_columns(false);
            // Rows: blurred = c2r(row); ratio = img / blurred; r2c(ratio).
            let fft = &self.fft;
            let bad = self
                .spectrum
                .par_chunks_mut(per * half)
                .zip(self.image.par_chunks(per * c))
                .zip(self.scratches.par_iter_mut())
                .enumerate()
                .map(|(task, ((spec, img), s))| {
                    let mut first = None;
                    for (i, (srow, irow)) in spec
                        .chunks_exact_mut(half)
                        .zip(img.chunks_exact(c))
                        .enumerate()
                    {
                        fft.row_map(srow, s, |row| {
                            if let Some(col) = divide_row(irow, row)
                                && first.is_none()
                            {
                                first = Some(non_finite(iteration, task * per + i, col, irow, row));
                            }
                        });
                    }
                    first
                })
                .reduce(|| None, NonFinite::first);
            self.non_finite = NonFinite::first(self.non_finite, bad);
            self.convolve_columns(true);
            // Rows: correction = c2r(row); est *= correction; r2c(est) unless last.
            let (fft, last) = (&self.fft, iteration == iterations);
            self.spectrum
                .par_chunks_mut(per * half)
                .zip(self.estimate.par_chunks_mut(per * c))
                .zip(self.scratches.par_iter_mut())
                .for_each(|((spec, est), s)| {
                    for (srow, erow) in spec.chunks_exact_mut(half).zip(est.chunks_exact_mut(c)) {
                        if last {
                            fft.row_inverse_with(srow, s, |corr| {
                                erow.iter_mut()
                                    .zip(corr.iter())
                                    .for_each(|(e, k)| *e = *e * *k)
                            });
                        } else {
                            fft.row_map(srow, s, |row| {
                                for (e, k) in erow.iter_mut().zip(row.iter_mut()) {
                                    *e = *e * *k;
                                    *k = *e;
                                }
                            });
                        }
                    }
                });
        }
        match self.non_finite {
            Some(bad) => Err(bad.error()),
            None => Ok(()),
        }
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(widen(&self.estimate)))
    }
}

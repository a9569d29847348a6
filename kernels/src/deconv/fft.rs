//! `deconv/*/fft`, `deconv/*/fft-f32` — aiapy's algorithm line by line, on one thread:
//! each convolution is `irfft2(rfft2(x) · P)` with the shared 2-D real FFT
//! ([`crate::fft2d`]), O(RC·log RC) instead of O((RC)²). The PSF spectrum P is computed
//! once in setup (in f64, then rounded to the variant's precision); every buffer is
//! allocated in setup, none in the iterations.
//!
//! Each step is its own pass over memory, as in NumPy: rfft2, multiply, irfft2, divide,
//! rfft2, multiply, irfft2, multiply. The `parallel` variant fuses them.

use std::sync::Arc;

use num_complex::Complex;

use super::{DeconvProblem, NonFinite, cast, divide_row, multiply, non_finite, widen};
use crate::check::Output;
use crate::error::KernelError;
use crate::fft2d::{Fft2d, Float, Scratch};
use crate::variant::{Availability, Precision, Prepared, Variant, VariantInfo};

/// Both precisions: `Fft(Precision::F64)` and `Fft(Precision::F32)`.
pub struct Fft(pub Precision);

const INFO: [VariantInfo; 2] = variant_pair!(
    "fft",
    "fft-f32",
    Fft,
    "aiapy's algorithm: each convolution is irfft2(rfft2(x)·P), O(RC log RC), one thread"
);

impl Variant<DeconvProblem> for Fft {
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

/// The prepared state; the pipeline kernel reuses it image after image through
/// [`super::engine`] ([`Run::load`], then [`Prepared::run`]).
pub(super) struct Run<T: Float> {
    problem: DeconvProblem,
    fft: Fft2d<T>,
    scratch: Scratch<T>,
    image: Vec<T>,
    /// P = rfft2(k), row-major like the spectra.
    transfer: Vec<Complex<T>>,
    estimate: Vec<T>,
    work: Vec<T>,
    spectrum: Vec<Complex<T>>,
    non_finite: Option<NonFinite>,
}

impl<T: Float> Run<T> {
    pub(super) fn new(p: &DeconvProblem) -> Self {
        let fft = Fft2d::<T>::new(p.rows(), p.cols());
        let transfer = p
            .transfer()
            .iter()
            .map(|z| Complex::new(T::from_f64(z.re).unwrap(), T::from_f64(z.im).unwrap()))
            .collect();
        Run {
            problem: p.clone(),
            scratch: fft.scratch(),
            image: cast(&p.clipped_image()),
            transfer,
            estimate: vec![T::zero(); fft.real_len()],
            work: vec![T::zero(); fft.real_len()],
            spectrum: vec![Complex::default(); fft.spectrum_len()],
            non_finite: None,
            fft,
        }
    }
}

impl<T: Float> Run<T> {
    /// Makes `p` the next problem: another image of the same shape, deconvolved with the
    /// same PSF and iterations (the PSF spectrum made in [`Run::new`] is kept).
    pub(super) fn load(&mut self, p: &DeconvProblem) {
        debug_assert!(Arc::ptr_eq(&p.psf, &self.problem.psf), "one PSF per state");
        debug_assert_eq!(p.iterations, self.problem.iterations);
        p.clip_into(&mut self.image);
        self.problem = p.clone();
    }

    /// The deconvolved image of the last run, row-major.
    pub(super) fn estimate(&self) -> &[T] {
        &self.estimate
    }
}

impl<T: Float> Prepared for Run<T> {
    fn run(&mut self) -> Result<(), KernelError> {
        let c = self.problem.cols();
        let (fft, s) = (&self.fft, &mut self.scratch);
        self.estimate.copy_from_slice(&self.image);
        self.non_finite = None;
        for iteration in 1..=self.problem.iterations {
            // ratio = img / irfft2(rfft2(est) · P)
            fft.rfft2(&self.estimate, &mut self.spectrum, s);
            multiply(&mut self.spectrum, &self.transfer, false);
            fft.irfft2(&mut self.spectrum, &mut self.work, s);
            for (row, (img, den)) in self
                .image
                .chunks_exact(c)
                .zip(self.work.chunks_exact_mut(c))
                .enumerate()
            {
                if let Some(col) = divide_row(img, den)
                    && self.non_finite.is_none()
                {
                    self.non_finite = Some(non_finite(iteration, row, col, img, den));
                }
            }
            // est = est · irfft2(rfft2(ratio) · conj(P))
            fft.rfft2(&self.work, &mut self.spectrum, s);
            multiply(&mut self.spectrum, &self.transfer, true);
            fft.irfft2(&mut self.spectrum, &mut self.work, s);
            self.estimate
                .iter_mut()
                .zip(&self.work)
                .for_each(|(e, corr)| *e = *e * *corr);
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

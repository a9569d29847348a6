//! A CPU 2-D real FFT that reproduces `numpy.fft.rfft2` / `numpy.fft.irfft2`, shared by
//! the kernels that convolve images (deconvolution, the PSF).
//!
//! ```text
//! rfft2(x)[k, l]  = Σ_m Σ_n x[m, n] · e^{−2πi(km/R + ln/C)},   l = 0 ..= C/2   (R × (C/2+1))
//! irfft2(X)[m, n] = 1/(R·C) · Σ_k Σ_l X̃[k, l] · e^{+2πi(km/R + ln/C)}          (R × C)
//! ```
//!
//! where X̃ is X extended to all C columns by Hermitian symmetry of the last axis, with the
//! imaginary parts of its DC and (even C) Nyquist columns ignored after the inverse column
//! transform — numpy's convention (pocketfft's c2r reads only their real parts).
//!
//! How: realfft along the rows (contiguous), then the columns in strips of [`STRIP`]
//! columns gathered into a contiguous buffer (a cache-blocked transpose), transformed by
//! one batched rustfft call and scattered back. The inverse runs the same passes backwards.
//! The caller owns every buffer: plans are made once in [`Fft2d::new`], scratch space once
//! with [`Fft2d::scratch`] (one per worker for the `_par` versions), so a transform never
//! allocates.
//!
//! The passes are public too ([`Fft2d::row_forward`], [`Fft2d::row_map`],
//! [`Fft2d::columns`], ...): a convolution can multiply by a transfer function inside the
//! column pass (forward, multiply, inverse while the strip is in cache) and run an
//! element-wise step between the inverse and the next forward row transform, instead of
//! making one pass over memory per step.
//!
//! Layout: real arrays are row-major R × C slices; spectra row-major R × (C/2+1) slices of
//! `Complex<T>`, the layout of numpy's result. Generic over `f32` and `f64`.

pub mod lanes;

use std::sync::Arc;

use ndarray::{ArrayViewMut2, Axis};
use num_complex::Complex;
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftNum, FftPlanner};

/// The real types this module transforms: `f32` and `f64`.
pub trait Float: FftNum + rustfft::num_traits::Float + Default {}
impl Float for f32 {}
impl Float for f64 {}

/// Columns gathered per strip of a column pass: 16 columns of 4096 f64 complex values are
/// 1 MiB, which stays in a Zen 5 core's L2 with the FFT's own scratch; reading 16
/// consecutive values per row (256 bytes in f64) uses whole cache lines.
pub const STRIP: usize = 16;

/// Plans for one R × C shape.
pub struct Fft2d<T: Float> {
    rows: usize,
    cols: usize,
    r2c: Arc<dyn RealToComplex<T>>,
    c2r: Arc<dyn ComplexToReal<T>>,
    forward: Arc<dyn Fft<T>>,
    inverse: Arc<dyn Fft<T>>,
}

/// One worker's scratch space (a copy of one real row, the FFTs' scratch, one strip).
pub struct Scratch<T: Float> {
    row: Vec<T>,
    fft: Vec<Complex<T>>,
    strip: Vec<Complex<T>>,
}

/// [`STRIP`] (or fewer, at the right edge) spectrum columns gathered contiguously during a
/// column pass: column j of the strip is spectrum column `first() + j`, `rows` values.
pub struct Strip<'a, T: Float> {
    first: usize,
    width: usize,
    data: &'a mut [Complex<T>],
    fft_scratch: &'a mut [Complex<T>],
    forward: &'a dyn Fft<T>,
    inverse: &'a dyn Fft<T>,
}

impl<T: Float> Strip<'_, T> {
    /// Index of the strip's first spectrum column.
    pub fn first(&self) -> usize {
        self.first
    }
    /// Number of columns in the strip.
    pub fn width(&self) -> usize {
        self.width
    }
    /// The columns, one after the other (`width · rows` values).
    pub fn data(&mut self) -> &mut [Complex<T>] {
        self.data
    }
    /// Forward (e^{−2πi km/R}) transform of every column, unnormalised.
    pub fn forward(&mut self) {
        self.forward
            .process_with_scratch(self.data, self.fft_scratch);
    }
    /// Inverse (e^{+2πi km/R}) transform of every column, unnormalised.
    pub fn inverse(&mut self) {
        self.inverse
            .process_with_scratch(self.data, self.fft_scratch);
    }
}

impl<T: Float> Fft2d<T> {
    /// Plans the transforms of an R × C real array (R, C ≥ 1).
    pub fn new(rows: usize, cols: usize) -> Self {
        assert!(rows > 0 && cols > 0, "an FFT needs a non-empty shape");
        let mut real = RealFftPlanner::<T>::new();
        let mut complex = FftPlanner::<T>::new();
        Fft2d {
            rows,
            cols,
            r2c: real.plan_fft_forward(cols),
            c2r: real.plan_fft_inverse(cols),
            forward: complex.plan_fft_forward(rows),
            inverse: complex.plan_fft_inverse(rows),
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Columns of the spectrum: C/2 + 1.
    pub fn half(&self) -> usize {
        self.cols / 2 + 1
    }
    /// Values in a real array: R · C.
    pub fn real_len(&self) -> usize {
        self.rows * self.cols
    }
    /// Values in a spectrum: R · (C/2 + 1).
    pub fn spectrum_len(&self) -> usize {
        self.rows * self.half()
    }

    /// Scratch space for one worker. Allocate it once, outside the timed work.
    pub fn scratch(&self) -> Scratch<T> {
        self.scratch_with_strip(STRIP.min(self.half()) * self.rows)
    }

    /// Scratch for row transforms only (no column strip): for callers that transform
    /// columns their own way.
    pub fn row_scratch(&self) -> Scratch<T> {
        self.scratch_with_strip(0)
    }

    fn scratch_with_strip(&self, strip: usize) -> Scratch<T> {
        let fft = [
            self.r2c.get_scratch_len(),
            self.c2r.get_scratch_len(),
            self.forward.get_inplace_scratch_len(),
            self.inverse.get_inplace_scratch_len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        Scratch {
            row: vec![T::zero(); self.cols],
            fft: vec![Complex::default(); fft],
            strip: vec![Complex::default(); strip],
        }
    }

    /// Scratch for the parallel passes: one per task. Four tasks per thread of the current
    /// rayon pool lets a thread that was slowed down (a shared machine) hand work over.
    pub fn scratches(&self) -> Vec<Scratch<T>> {
        (0..4 * rayon::current_num_threads())
            .map(|_| self.scratch())
            .collect()
    }

    // ---- One row ---------------------------------------------------------------------

    /// realfft of one real row (left untouched) into one spectrum row.
    pub fn row_forward(&self, input: &[T], out: &mut [Complex<T>], s: &mut Scratch<T>) {
        // realfft uses its input as work space: transform a copy.
        s.row.copy_from_slice(input);
        self.r2c
            .process_with_scratch(&mut s.row, out, &mut s.fft)
            .expect("buffer lengths are set by the plan");
    }

    /// Unnormalised inverse realfft of one spectrum row (used as work space) into `out`.
    pub fn row_inverse(&self, spectrum: &mut [Complex<T>], out: &mut [T], s: &mut Scratch<T>) {
        self.hermitian_edges(spectrum);
        self.c2r
            .process_with_scratch(spectrum, out, &mut s.fft)
            .expect("buffer lengths are set by the plan, DC/Nyquist made real");
    }

    /// Unnormalised inverse transform of one spectrum row (used as work space) into the
    /// scratch row, then `op` on it: an element-wise step that consumes the real row.
    pub fn row_inverse_with(
        &self,
        spectrum: &mut [Complex<T>],
        s: &mut Scratch<T>,
        op: impl FnOnce(&mut [T]),
    ) {
        self.hermitian_edges(spectrum);
        self.c2r
            .process_with_scratch(spectrum, &mut s.row, &mut s.fft)
            .expect("buffer lengths are set by the plan, DC/Nyquist made real");
        op(&mut s.row);
    }

    /// Inverse row transform, `op` on the real row, forward row transform back into the
    /// same spectrum row: an element-wise step fused between two transforms.
    pub fn row_map(
        &self,
        spectrum: &mut [Complex<T>],
        s: &mut Scratch<T>,
        op: impl FnOnce(&mut [T]),
    ) {
        self.row_inverse_with(spectrum, s, op);
        self.r2c
            .process_with_scratch(&mut s.row, spectrum, &mut s.fft)
            .expect("buffer lengths are set by the plan");
    }

    /// numpy's c2r reads only the real parts of the DC and (even C) Nyquist values;
    /// realfft refuses non-zero imaginary parts there. Make them real, as numpy does.
    fn hermitian_edges(&self, spectrum: &mut [Complex<T>]) {
        spectrum[0].im = T::zero();
        if self.cols.is_multiple_of(2) {
            spectrum[self.cols / 2].im = T::zero();
        }
    }

    // ---- Passes over whole arrays (any number of rows: chunks of a parallel pass) -----

    /// Forward row transforms: `input` (k rows of C) into `spectrum` (k rows of C/2+1).
    pub fn forward_rows(&self, input: &[T], spectrum: &mut [Complex<T>], s: &mut Scratch<T>) {
        for (row, out) in input
            .chunks_exact(self.cols)
            .zip(spectrum.chunks_exact_mut(self.half()))
        {
            self.row_forward(row, out, s);
        }
    }

    /// Unnormalised inverse row transforms (the spectrum is used as work space).
    pub fn inverse_rows(&self, spectrum: &mut [Complex<T>], output: &mut [T], s: &mut Scratch<T>) {
        for (spec, out) in spectrum
            .chunks_exact_mut(self.half())
            .zip(output.chunks_exact_mut(self.cols))
        {
            self.row_inverse(spec, out, s);
        }
    }

    /// Column pass: `op` receives every strip of columns of the R × (C/2+1) spectrum in
    /// turn (gathered contiguously; written back after `op`).
    pub fn columns(
        &self,
        spectrum: &mut [Complex<T>],
        s: &mut Scratch<T>,
        mut op: impl FnMut(&mut Strip<'_, T>),
    ) {
        let view = ArrayViewMut2::from_shape((self.rows, self.half()), spectrum)
            .expect("spectrum length is R·(C/2+1)");
        self.column_block(view, 0, s, &mut op);
    }

    /// The strips of one block of columns (all of them, or one task's share).
    fn column_block(
        &self,
        mut block: ArrayViewMut2<'_, Complex<T>>,
        first: usize,
        s: &mut Scratch<T>,
        op: &mut dyn FnMut(&mut Strip<'_, T>),
    ) {
        let (rows, width) = block.dim();
        for c0 in (0..width).step_by(STRIP) {
            let w = STRIP.min(width - c0);
            let strip = &mut s.strip[..w * rows];
            // Gather: the w values of each row go down w columns of the strip.
            for (r, row) in block.rows().into_iter().enumerate() {
                let row = &row
                    .to_slice()
                    .expect("rows of a row-major view are contiguous")[c0..];
                for (j, &v) in row[..w].iter().enumerate() {
                    strip[j * rows + r] = v;
                }
            }
            op(&mut Strip {
                first: first + c0,
                width: w,
                data: strip,
                fft_scratch: &mut s.fft,
                forward: self.forward.as_ref(),
                inverse: self.inverse.as_ref(),
            });
            // Scatter back.
            for (r, mut row) in block.rows_mut().into_iter().enumerate() {
                let row = &mut row
                    .as_slice_mut()
                    .expect("rows of a row-major view are contiguous")[c0..];
                for (j, v) in row[..w].iter_mut().enumerate() {
                    *v = strip[j * rows + r];
                }
            }
        }
    }

    /// `numpy.fft.rfft2(input)`.
    pub fn rfft2(&self, input: &[T], spectrum: &mut [Complex<T>], s: &mut Scratch<T>) {
        self.check(input.len(), spectrum.len());
        self.forward_rows(input, spectrum, s);
        self.columns(spectrum, s, |strip| strip.forward());
    }

    /// `numpy.fft.irfft2(spectrum, s=(R, C))`. The spectrum is used as work space.
    pub fn irfft2(&self, spectrum: &mut [Complex<T>], output: &mut [T], s: &mut Scratch<T>) {
        self.check(output.len(), spectrum.len());
        self.columns(spectrum, s, |strip| strip.inverse());
        self.inverse_rows(spectrum, output, s);
        let scale = self.scale();
        output.iter_mut().for_each(|v| *v = *v * scale);
    }

    /// 1/(R·C): numpy's "backward" normalisation of the inverse.
    pub fn scale(&self) -> T {
        T::one() / T::from_usize(self.rows * self.cols).expect("R·C fits in a float")
    }

    fn check(&self, real: usize, spectrum: usize) {
        assert_eq!(real, self.real_len(), "real array is not R·C");
        assert_eq!(spectrum, self.spectrum_len(), "spectrum is not R·(C/2+1)");
    }

    // ---- Parallel passes: rows, then columns, split among rayon tasks -----------------

    /// Rows per task when `tasks` tasks share the rows.
    pub fn rows_per_task(&self, tasks: usize) -> usize {
        self.rows.div_ceil(tasks.max(1))
    }

    /// [`Fft2d::forward_rows`] over rayon tasks (one scratch each).
    pub fn forward_rows_par(
        &self,
        input: &[T],
        spectrum: &mut [Complex<T>],
        scratches: &mut [Scratch<T>],
    ) {
        let per = self.rows_per_task(scratches.len());
        input
            .par_chunks(per * self.cols)
            .zip(spectrum.par_chunks_mut(per * self.half()))
            .zip(scratches.par_iter_mut())
            .for_each(|((inp, spec), s)| self.forward_rows(inp, spec, s));
    }

    /// [`Fft2d::inverse_rows`] over rayon tasks.
    pub fn inverse_rows_par(
        &self,
        spectrum: &mut [Complex<T>],
        output: &mut [T],
        scratches: &mut [Scratch<T>],
    ) {
        let per = self.rows_per_task(scratches.len());
        spectrum
            .par_chunks_mut(per * self.half())
            .zip(output.par_chunks_mut(per * self.cols))
            .zip(scratches.par_iter_mut())
            .for_each(|((spec, out), s)| self.inverse_rows(spec, out, s));
    }

    /// [`Fft2d::columns`] over rayon tasks: each task owns a block of whole strips.
    pub fn columns_par(
        &self,
        spectrum: &mut [Complex<T>],
        scratches: &mut [Scratch<T>],
        op: impl Fn(&mut Strip<'_, T>) + Sync,
    ) {
        let half = self.half();
        let per = half.div_ceil(scratches.len().max(1)).div_ceil(STRIP) * STRIP;
        let mut view = ArrayViewMut2::from_shape((self.rows, half), spectrum)
            .expect("spectrum length is R·(C/2+1)");
        view.axis_chunks_iter_mut(Axis(1), per)
            .into_par_iter()
            .zip(scratches.par_iter_mut())
            .enumerate()
            .for_each(|(task, (block, s))| {
                self.column_block(block, task * per, s, &mut |strip| op(strip))
            });
    }

    /// [`Fft2d::rfft2`], rows and columns spread over rayon tasks. Same arithmetic per
    /// row and column as the serial version: bit-identical results.
    pub fn rfft2_par(
        &self,
        input: &[T],
        spectrum: &mut [Complex<T>],
        scratches: &mut [Scratch<T>],
    ) {
        self.check(input.len(), spectrum.len());
        self.forward_rows_par(input, spectrum, scratches);
        self.columns_par(spectrum, scratches, |strip| strip.forward());
    }

    /// [`Fft2d::irfft2`] over rayon tasks (bit-identical to the serial version).
    pub fn irfft2_par(
        &self,
        spectrum: &mut [Complex<T>],
        output: &mut [T],
        scratches: &mut [Scratch<T>],
    ) {
        self.check(output.len(), spectrum.len());
        self.columns_par(spectrum, scratches, |strip| strip.inverse());
        self.inverse_rows_par(spectrum, output, scratches);
        let scale = self.scale();
        output.par_iter_mut().for_each(|v| *v = *v * scale);
    }
}

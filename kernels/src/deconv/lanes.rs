//! `deconv/*/lanes`, `deconv/*/lanes-f32` — `parallel`'s four fused passes per iteration,
//! with the two changes its flame graph asks for at 4096².
//!
//! 1. **Columns in SIMD lanes.** `parallel` gathers 16 columns at a time out of the
//!    row-major spectrum: 16 values from each of 4096 rows, a new memory page per row.
//!    That gather and its scatter took 40 % of the run (`harness profile --kernel deconv
//!    --n 4096 --variant parallel`), more than the column FFTs. Here the spectrum is
//!    stored *strip-major*: strip s is spectrum columns `s·W .. s·W+W` (W = 8 for f64,
//!    16 for f32: one AVX-512 vector), all R rows of it contiguous, each row one
//!    [`Split`] value (W real parts, then W imaginary parts). A column pass needs no
//!    gather at all: [`LanesFft`] transforms the W columns of a strip at once, lane j
//!    being column s·W+j, with no shuffles, and then multiplies by P in the same layout.
//! 2. **Rows gathered from strips.** A row pass reads row r as one `Split` value from
//!    each strip (128 bytes from each of R/… pages, consecutive rows adjacent), turns it
//!    into numpy's interleaved row, and runs the same realfft row transforms as
//!    `parallel`, with the same fused element-wise steps.
//!
//! ```text
//! columns: strip by strip: forward · P/(RC) · inverse       (lanes FFT, in L2)
//! rows:    gather → c2r → ratio = img / row → r2c → scatter (realfft, in L1)
//! columns: forward · conj(P)/(RC) · inverse
//! rows:    gather → c2r → est *= row → r2c of est → scatter
//! ```
//!
//! Columns past C/2+1 in the last strip are zero and stay zero. Every row and strip is
//! transformed with the same arithmetic whatever the thread count: bit-identical output
//! for any number of threads. It differs from `parallel` in the last bits: its column
//! FFT rounds differently (radix 8 with fused multiply-adds, not rustfft's).

use ndarray::{ArrayViewMut2, Axis};
use num_complex::Complex;
use rayon::prelude::*;
use rustfft::FftDirection;

use super::{DeconvProblem, NonFinite, cast, divide_row, non_finite, widen};
use crate::check::Output;
use crate::error::KernelError;
use crate::fft2d::lanes::{LaneFloat, LanesFft, LanesScratch, Split};
use crate::fft2d::{Fft2d, Scratch};
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant};

pub enum Lanes {
    F64,
    F32,
}

impl Variant<DeconvProblem> for Lanes {
    fn name(&self) -> &'static str {
        match self {
            Lanes::F64 => "lanes",
            Lanes::F32 => "lanes-f32",
        }
    }
    fn strategy(&self) -> Strategy {
        Strategy::Parallel
    }
    fn precision(&self) -> Precision {
        match self {
            Lanes::F64 => Precision::F64,
            Lanes::F32 => Precision::F32,
        }
    }
    fn idea(&self) -> &'static str {
        "parallel's fused passes, with the spectrum stored as strips of columns: one column \
         per SIMD lane, transformed by our own radix-8 FFT, no gather"
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, p: &DeconvProblem) -> Availability {
        p.availability()
    }
    fn prepare(&self, p: &DeconvProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(match self {
            Lanes::F64 => Box::new(Run::<f64>::new(p)),
            Lanes::F32 => Box::new(Run::<f32>::new(p)),
        })
    }
}

/// One rayon task's scratch space.
struct Task<T: LaneFloat> {
    row: Scratch<T>,
    lanes: LanesScratch<T>,
    /// One spectrum row in numpy's layout (C/2+1 interleaved complex values).
    line: Vec<Complex<T>>,
}

struct Run<T: LaneFloat> {
    problem: DeconvProblem,
    /// Row plans (realfft); its column plans are not used.
    rows: Fft2d<T>,
    forward: LanesFft<T>,
    inverse: LanesFft<T>,
    tasks: Vec<Task<T>>,
    image: Vec<T>,
    /// P/(RC), strip-major like the spectrum.
    transfer: Vec<Split<T::V>>,
    estimate: Vec<T>,
    /// Strip-major: row r of strip s is element `s·R + r`.
    spectrum: Vec<Split<T::V>>,
    non_finite: Option<NonFinite>,
}

impl<T: LaneFloat> Run<T> {
    fn new(p: &DeconvProblem) -> Self {
        let (r, c) = (p.rows(), p.cols());
        let rows = Fft2d::<T>::new(r, c);
        let half = rows.half();
        let strips = half.div_ceil(T::LANES);
        let forward = LanesFft::new(r, FftDirection::Forward);
        let inverse = LanesFft::new(r, FftDirection::Inverse);
        // irfft2's 1/(RC) folded into P (exact for power-of-two sides), as `parallel` does.
        let scale = 1.0 / (r * c) as f64;
        let p_f64 = p.transfer();
        let mut transfer = vec![Split::default(); strips * r];
        {
            let values: &mut [T] = bytemuck::cast_slice_mut(&mut transfer);
            let w = T::LANES;
            for k in 0..r {
                for l in 0..half {
                    let z = p_f64[k * half + l] * scale;
                    let at = 2 * w * ((l / w) * r + k) + l % w;
                    values[at] = T::from_f64(z.re).expect("finite");
                    values[at + w] = T::from_f64(z.im).expect("finite");
                }
            }
        }
        let tasks = (0..4 * rayon::current_num_threads())
            .map(|_| Task {
                row: rows.row_scratch(),
                lanes: forward.scratch(),
                line: vec![Complex::default(); half],
            })
            .collect();
        Run {
            problem: p.clone(),
            tasks,
            image: cast(&p.clipped_image()),
            transfer,
            estimate: vec![T::zero(); r * c],
            spectrum: vec![Split::default(); strips * r],
            non_finite: None,
            forward,
            inverse,
            rows,
        }
    }

    fn strips(&self) -> usize {
        self.spectrum.len() / self.rows.rows()
    }

    /// Column pass: every strip forward, times P/(RC) (or its conjugate), inverse.
    fn convolve_columns(&mut self, conjugate: bool) {
        let r = self.rows.rows();
        let per = self.strips().div_ceil(self.tasks.len()) * r;
        let (forward, inverse) = (&self.forward, &self.inverse);
        self.spectrum
            .par_chunks_mut(per)
            .zip(self.transfer.par_chunks(per))
            .zip(self.tasks.par_iter_mut())
            .for_each(|((spec, p), t)| {
                for (strip, p) in spec.chunks_exact_mut(r).zip(p.chunks_exact(r)) {
                    forward.process(strip, &mut t.lanes);
                    multiply::<T>(strip, p, conjugate);
                    inverse.process(strip, &mut t.lanes);
                }
            });
    }

    /// The spectrum as a (strip, row) matrix: `axis_chunks_iter_mut(Axis(1), per)` splits
    /// it into blocks of rows, one per task.
    fn by_rows(spectrum: &mut [Split<T::V>], rows: usize) -> ArrayViewMut2<'_, Split<T::V>> {
        ArrayViewMut2::from_shape((spectrum.len() / rows, rows), spectrum)
            .expect("spectrum is strips × R")
    }
}

/// `spec *= p` (or `conj(p)`), lane by lane.
#[inline]
fn multiply<T: LaneFloat>(spec: &mut [Split<T::V>], p: &[Split<T::V>], conjugate: bool) {
    if conjugate {
        for (s, p) in spec.iter_mut().zip(p) {
            *s = Split {
                re: s.re * p.re + s.im * p.im,
                im: s.im * p.re - s.re * p.im,
            };
        }
    } else {
        for (s, p) in spec.iter_mut().zip(p) {
            *s = Split {
                re: s.re * p.re - s.im * p.im,
                im: s.re * p.im + s.im * p.re,
            };
        }
    }
}

/// Row `i` of a block of strips, into numpy's interleaved layout.
fn gather<T: LaneFloat>(block: &ArrayViewMut2<'_, Split<T::V>>, i: usize, line: &mut [Complex<T>]) {
    let w = T::LANES;
    for (chunk, v) in line.chunks_mut(w).zip(block.column(i)) {
        let v: &[T] = bytemuck::cast_slice(std::slice::from_ref(v));
        let (re, im) = v.split_at(w);
        for ((z, &a), &b) in chunk.iter_mut().zip(re).zip(im) {
            *z = Complex::new(a, b);
        }
    }
}

/// The inverse of [`gather`]. Lanes past C/2+1 are left as they are (zero).
fn scatter<T: LaneFloat>(line: &[Complex<T>], block: &mut ArrayViewMut2<'_, Split<T::V>>, i: usize) {
    let w = T::LANES;
    for (chunk, v) in line.chunks(w).zip(block.column_mut(i)) {
        let v: &mut [T] = bytemuck::cast_slice_mut(std::slice::from_mut(v));
        let (re, im) = v.split_at_mut(w);
        for ((z, a), b) in chunk.iter().zip(re).zip(im) {
            *a = z.re;
            *b = z.im;
        }
    }
}

impl<T: LaneFloat> Prepared for Run<T> {
    fn run(&mut self) -> Result<(), KernelError> {
        let (r, c) = (self.rows.rows(), self.rows.cols());
        let per = r.div_ceil(self.tasks.len());
        self.estimate.copy_from_slice(&self.image);
        self.non_finite = None;
        let iterations = self.problem.iterations;
        let rows = &self.rows;
        if iterations > 0 {
            // Lanes past C/2+1 must start at zero: they are never written by a scatter.
            self.spectrum.fill(Split::default());
            Self::by_rows(&mut self.spectrum, r)
                .axis_chunks_iter_mut(Axis(1), per)
                .into_par_iter()
                .zip(self.estimate.par_chunks(per * c))
                .zip(self.tasks.par_iter_mut())
                .for_each(|((mut block, est), t)| {
                    for (i, erow) in est.chunks_exact(c).enumerate() {
                        rows.row_forward(erow, &mut t.line, &mut t.row);
                        scatter(&t.line, &mut block, i);
                    }
                });
        }
        for iteration in 1..=iterations {
            self.convolve_columns(false);
            // Rows: blurred = c2r(row); ratio = img / blurred; r2c(ratio).
            let rows = &self.rows;
            let bad = Self::by_rows(&mut self.spectrum, r)
                .axis_chunks_iter_mut(Axis(1), per)
                .into_par_iter()
                .zip(self.image.par_chunks(per * c))
                .zip(self.tasks.par_iter_mut())
                .enumerate()
                .map(|(task, ((mut block, img), t))| {
                    let mut first = None;
                    for (i, irow) in img.chunks_exact(c).enumerate() {
                        gather(&block, i, &mut t.line);
                        rows.row_map(&mut t.line, &mut t.row, |row| {
                            if let Some(col) = divide_row(irow, row)
                                && first.is_none()
                            {
                                first = Some(non_finite(iteration, task * per + i, col, irow, row));
                            }
                        });
                        scatter(&t.line, &mut block, i);
                    }
                    first
                })
                .reduce(|| None, NonFinite::first);
            self.non_finite = NonFinite::first(self.non_finite, bad);
            self.convolve_columns(true);
            // Rows: correction = c2r(row); est *= correction; r2c(est) unless last.
            let (rows, last) = (&self.rows, iteration == iterations);
            Self::by_rows(&mut self.spectrum, r)
                .axis_chunks_iter_mut(Axis(1), per)
                .into_par_iter()
                .zip(self.estimate.par_chunks_mut(per * c))
                .zip(self.tasks.par_iter_mut())
                .for_each(|((mut block, est), t)| {
                    for (i, erow) in est.chunks_exact_mut(c).enumerate() {
                        gather(&block, i, &mut t.line);
                        if last {
                            rows.row_inverse_with(&mut t.line, &mut t.row, |corr| {
                                erow.iter_mut()
                                    .zip(corr.iter())
                                    .for_each(|(e, k)| *e = *e * *k)
                            });
                        } else {
                            rows.row_map(&mut t.line, &mut t.row, |row| {
                                for (e, k) in erow.iter_mut().zip(row.iter_mut()) {
                                    *e = *e * *k;
                                    *k = *e;
                                }
                            });
                            scatter(&t.line, &mut block, i);
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

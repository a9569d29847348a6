//! `laue/{square,circle}/fft` — the course's `laue_fft`: on a regular lattice the Laue sum
//! is a 2-D discrete Fourier transform of the crystal's support.
//!
//! With h_i = h₀ + i/M (M = oversampling·N): Σ_n s_n e^{2πi(h₀ + i/M)n} is the unnormalised
//! inverse DFT, at index i, of x_n = s_n·e^{2πi h₀ n} zero-padded to M. In 2-D, one M × M
//! transform gives every output at once: O(M² log M) instead of O(M²·N²).
//!
//! The FFT evaluates on the exact grid h₀ + i/M, while the reference uses numpy's `arange`
//! grid, whose step differs from 1/M in its last bits; the f64 tolerance of this kernel
//! accounts for that (see `Laue::tolerance`).
//!
//! n/a for `strained`: the strain moves the cells off the integer lattice, so the sum is a
//! non-uniform transform that a plain FFT cannot compute.

use num_complex::Complex64;
use rustfft::FftPlanner;
use std::f64::consts::TAU;
use std::sync::Arc;

use super::{LaueProblem, Shape};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct Fft;

const INFO: VariantInfo = variant!(
    "fft",
    Fft,
    F64,
    "on a regular lattice the sum is a zero-padded 2-D DFT: O(M² log M) instead of O(M²N²)"
);

impl Variant<LaueProblem> for Fft {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &LaueProblem) -> Availability {
        let m = p.oversampling * p.n;
        match p.shape {
            Shape::Strained => Availability::NotApplicable(
                "the strain moves cells off the integer lattice: a non-uniform transform, not an FFT".into(),
            ),
            Shape::Square | Shape::Circle if p.h.len() != m || p.k.len() != m => {
                Availability::NotApplicable(format!(
                    "the output grid has {}×{} points, not oversampling·n = {m} per axis",
                    p.h.len(),
                    p.k.len()
                ))
            }
            Shape::Square | Shape::Circle => Availability::Ready,
        }
    }
    fn prepare(&self, p: &LaueProblem) -> Result<Box<dyn Prepared>, KernelError> {
        let m = p.oversampling * p.n;
        let plan = FftPlanner::new().plan_fft_inverse(m);
        let scratch = vec![Complex64::default(); plan.get_inplace_scratch_len().max(m)];
        Ok(Box::new(Run {
            problem: p.clone(),
            m,
            plan,
            grid: vec![Complex64::default(); m * m],
            column: vec![Complex64::default(); m],
            scratch,
            intensity: vec![0.0; m * m],
        }))
    }
}

struct Run {
    problem: LaueProblem,
    m: usize,
    plan: Arc<dyn rustfft::Fft<f64>>,
    grid: Vec<Complex64>,
    column: Vec<Complex64>,
    scratch: Vec<Complex64>,
    intensity: Vec<f64>,
}

impl Prepared for Run {
    fn run(&mut self) -> Result<(), KernelError> {
        let (p, m) = (&self.problem, self.m);
        let (h0, k0) = (p.h[0], p.k[0]);
        // x[n, m] = support · e^{2πi(h₀n + k₀m)}, zero-padded to M × M.
        self.grid.fill(Complex64::default());
        for n in 0..p.n {
            for mm in 0..p.n {
                if p.cell(n, mm).is_some() {
                    let (s, c) = (TAU * (h0 * n as f64 + k0 * mm as f64)).sin_cos();
                    self.grid[n * m + mm] = Complex64::new(c, s);
                }
            }
        }
        // Rows (the k axis), then columns (the h axis); only the first N rows are non-zero.
        for row in self.grid.chunks_mut(m).take(p.n) {
            self.plan.process_with_scratch(row, &mut self.scratch);
        }
        for col in 0..m {
            for (r, v) in self.column.iter_mut().enumerate() {
                *v = self.grid[r * m + col];
            }
            self.plan
                .process_with_scratch(&mut self.column, &mut self.scratch);
            for (r, v) in self.column.iter().enumerate() {
                self.intensity[r * m + col] = v.norm_sqr();
            }
        }
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(self.intensity.clone()))
    }
}

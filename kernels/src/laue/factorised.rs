//! `laue/*/factorised` — the algorithmic variant: the Laue sum is a matrix product.
//!
//! ```text
//! I(h, k) = |Σ_c e^{2πi h·p_n(c)} e^{2πi k·p_m(c)}|² = |(A·Bᵀ)[h, k]|²,
//! A[h, c] = e^{2πi h·p_n(c)},  B[k, c] = e^{2πi k·p_m(c)}
//! ```
//!
//! Valid for every case, strain included (the strain moves the cells but each term still
//! factorises). (len h + len k)·C phases (by recurrence, see `for_each_phase`) and one complex GEMM (faer) instead of
//! len h·len k·C exponentials. The tables are filled over rayon's threads and faer uses
//! the current rayon pool, so this variant runs on as
//! many threads as the caller gives it.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par, c64};
use rayon::prelude::*;

use super::{LaueProblem, for_each_phase};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Prepared, Variant, VariantInfo};

pub struct Factorised;

const INFO: VariantInfo = variant!(
    "factorised",
    Algorithmic,
    F64,
    "the sum factorises into A·Bᵀ: one complex matrix product (faer GEMM), strain included"
);

impl Variant<LaueProblem> for Factorised {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn prepare(&self, p: &LaueProblem) -> Result<Box<dyn Prepared>, KernelError> {
        let cells = p.cells();
        let (nh, nk, nc) = (p.h.len(), p.k.len(), cells.len());
        let zero = c64::new(0.0, 0.0);
        Ok(Box::new(Run {
            problem: p.clone(),
            a: vec![zero; nh * nc],
            b: vec![zero; nk * nc],
            product: Mat::zeros(nh, nk),
            cells,
            intensity: vec![0.0; nh * nk],
        }))
    }
}

struct Run {
    problem: LaueProblem,
    cells: Vec<(f64, f64)>,
    /// A (len h × cells), column-major: column c is cell c's phases over h.
    a: Vec<c64>,
    /// B (len k × cells), column-major; the product uses its transpose.
    b: Vec<c64>,
    product: Mat<c64>,
    intensity: Vec<f64>,
}

fn fill(axis: &[f64], p: f64, column: &mut [c64]) {
    for_each_phase(axis, p, |i, c, s| column[i] = c64::new(c, s));
}

impl Prepared for Run {
    fn run(&mut self) -> Result<(), KernelError> {
        let p = &self.problem;
        let (nh, nk, nc) = (p.h.len(), p.k.len(), self.cells.len());
        self.a
            .par_chunks_mut(nh)
            .zip(self.b.par_chunks_mut(nk))
            .zip(&self.cells)
            .for_each(|((a, b), &(p_n, p_m))| {
                fill(&p.h, p_n, a);
                fill(&p.k, p_m, b);
            });
        let a = MatRef::from_column_major_slice(&self.a, nh, nc);
        let b = MatRef::from_column_major_slice(&self.b, nk, nc);
        matmul(
            self.product.as_mut(),
            Accum::Replace,
            a,
            b.transpose(),
            c64::new(1.0, 0.0),
            Par::rayon(0),
        );
        for (i, row) in self.intensity.chunks_mut(nk).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = self.product[(i, j)].norm_sqr();
            }
        }
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(self.intensity.clone()))
    }
}

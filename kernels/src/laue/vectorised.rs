//! `laue/*/vectorised` — one thread, data-parallel.
//!
//! Two ideas. (1) The exponential factorises: e^{2πi(h·p_n + k·p_m)} = a_h(c)·b_k(c), and
//! along an evenly spaced axis each table is a geometric sequence, so two tables filled by a
//! complex-multiply recurrence (exact `sin_cos` every 16 entries) replace the per-term
//! sincos by a complex multiply-add. (2) Structure of arrays: the inner loop runs over the
//! outputs k with real and imaginary parts in separate slices, so it is a plain
//! element-wise loop that the compiler turns into full-width SIMD (AVX2/AVX-512 with
//! `target-cpu=native`), with no reduction across lanes.

use super::{LaueProblem, for_each_phase};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Prepared, Variant, VariantInfo};

pub struct Vectorised;

/// Rows of h processed together, so that each pass over the b table serves several rows.
/// The table is cells × outputs (12 MiB at N = 64) and comes from memory on every pass.
/// With 4 rows a pass does 2 flop per byte loaded: at N = 64 its 48 passes move 600 MB,
/// ~25 ms at this machine's 24 GB/s, so the loop was memory-bound and its speed followed
/// what the machine's other tenants did to the shared L3 (its ratio to the compute-bound
/// factorised variant moved by 40 % from one run to the next). 16 rows: 8 flop per byte.
pub(super) const ROW_BLOCK: usize = 16;

/// Outputs k per accumulator strip: ROW_BLOCK strips of complex f64 accumulators, 64 KiB,
/// which stay in L2 beside the strip of b they multiply.
const STRIP: usize = 256;

const INFO: VariantInfo = variant!(
    "vectorised",
    Vectorised,
    F64,
    "phase tables by recurrence instead of a sincos per term; SIMD over outputs (structure of arrays)"
);

impl Variant<LaueProblem> for Vectorised {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn prepare(&self, p: &LaueProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(Tables::new(p)))
    }
}

/// Phase tables and output, owned by the prepared variant (allocated in setup, filled in
/// the timed run: they are arithmetic on the problem's data).
pub(super) struct Tables {
    pub problem: LaueProblem,
    pub cells: Vec<(f64, f64)>,
    /// a_h(c) = e^{2πi h·p_n(c)}, laid out [cell][h].
    pub a_re: Vec<f64>,
    pub a_im: Vec<f64>,
    /// b_k(c) = e^{2πi k·p_m(c)}, laid out [cell][k] so the inner loop runs over k.
    pub b_re: Vec<f64>,
    pub b_im: Vec<f64>,
    pub intensity: Vec<f64>,
}

impl Tables {
    pub fn new(p: &LaueProblem) -> Tables {
        let cells = p.cells();
        let (nh, nk, nc) = (p.h.len(), p.k.len(), cells.len());
        Tables {
            problem: p.clone(),
            a_re: vec![0.0; nc * nh],
            a_im: vec![0.0; nc * nh],
            b_re: vec![0.0; nc * nk],
            b_im: vec![0.0; nc * nk],
            cells,
            intensity: vec![0.0; nh * nk],
        }
    }
}

/// Fills one cell's row of a phase table.
pub(super) fn fill(axis: &[f64], p: f64, re: &mut [f64], im: &mut [f64]) {
    for_each_phase(axis, p, |i, c, s| {
        re[i] = c;
        im[i] = s;
    });
}

impl Prepared for Tables {
    fn run(&mut self) -> Result<(), KernelError> {
        let p = &self.problem;
        let (nh, nk) = (p.h.len(), p.k.len());
        for (c, &(p_n, p_m)) in self.cells.iter().enumerate() {
            fill(
                &p.h,
                p_n,
                &mut self.a_re[c * nh..][..nh],
                &mut self.a_im[c * nh..][..nh],
            );
            fill(
                &p.k,
                p_m,
                &mut self.b_re[c * nk..][..nk],
                &mut self.b_im[c * nk..][..nk],
            );
        }
        let mut intensity = std::mem::take(&mut self.intensity);
        for (block, out) in intensity.chunks_mut(ROW_BLOCK * nk).enumerate() {
            rows(self, block * ROW_BLOCK, out);
        }
        self.intensity = intensity;
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(self.intensity.clone()))
    }
}

/// Computes the output rows `first_row ..` (as many as `out` holds) from the tables.
pub(super) fn rows(t: &Tables, first_row: usize, out: &mut [f64]) {
    let (nh, nk) = (t.problem.h.len(), t.problem.k.len());
    let nrows = out.len() / nk;
    let mut acc_re = [0.0; ROW_BLOCK * STRIP];
    let mut acc_im = [0.0; ROW_BLOCK * STRIP];
    for chunk in (0..nk).step_by(STRIP) {
        let width = (nk - chunk).min(STRIP);
        acc_re[..nrows * width].fill(0.0);
        acc_im[..nrows * width].fill(0.0);
        for c in 0..t.cells.len() {
            let br = &t.b_re[c * nk + chunk..][..width];
            let bi = &t.b_im[c * nk + chunk..][..width];
            for r in 0..nrows {
                let (ar, ai) = (
                    t.a_re[c * nh + first_row + r],
                    t.a_im[c * nh + first_row + r],
                );
                let (cr, ci) = (
                    &mut acc_re[r * width..][..width],
                    &mut acc_im[r * width..][..width],
                );
                // The SIMD loop: element-wise over k, complex multiply-add.
                for j in 0..width {
                    cr[j] += ar * br[j] - ai * bi[j];
                    ci[j] += ar * bi[j] + ai * br[j];
                }
            }
        }
        for r in 0..nrows {
            for j in 0..width {
                let (re, im) = (acc_re[r * width + j], acc_im[r * width + j]);
                out[r * nk + chunk + j] = re * re + im * im;
            }
        }
    }
}

//! `psf/aia/separable` — each Gaussian is an outer product, so the spike sum is one matrix
//! product (what aiapy ≥ 0.11 does with JAX):
//!
//! ```text
//! spikes[y][x] = Σ_s I_s·e^{−w(y − cy_s)²}·e^{−w(x − cx_s)²} = (U·Vᵀ)[y][x],
//! U[y][s] = I_s·e^{−w(y − cy_s)²},  V[x][s] = e^{−w(x − cx_s)²}
//! ```
//!
//! 2·N·S exponentials and a rank-S product (faer GEMM, 2·N²·S flops, on the current rayon
//! pool) instead of N²·S exponentials. exp(a)·exp(b) differs from exp(a + b) by the
//! rounding of a + b and of the product: ≲ |a + b|·ε relative, a few 1e-15 for the terms
//! that matter.
//!
//! Factors below e^−345 (≈ 1e-150) are set to 0.0: any product with them is below 1e-150,
//! invisible to every check, while products of two such factors would underflow inside the
//! GEMM, and each underflow costs a microcode assist (~100 cycles) on Intel cores. With the
//! cut, every product is 0 or above 1e-300. The cut is invisible only next to a sum that
//! is not itself tiny: at most 800·N² ≤ e^25 products are dropped (N ≤ 8192), together
//! below e^−320, which is below ε/2 of the sum when its largest term exceeds e^−283. On
//! smaller grids where every spike of a filter lies far off the grid (304 Å at N = 24: the
//! largest entrance term is e^−652) the cut would drop the terms that matter, or all of
//! them (then 0/0): the probe says NotApplicable there.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::{CompositeEngine, CpuRun, Filter, Gaussian, PsfProblem, coord};
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct Separable;

const INFO: VariantInfo = variant!(
    "separable",
    Algorithmic,
    F64,
    "each Gaussian is a column times a row: the spike sum is one rank-1200 matrix \
         product (faer GEMM), 2·N·1200 exponentials instead of N²·1200"
);

impl Variant<PsfProblem> for Separable {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &PsfProblem) -> Availability {
        for filter in [Filter::Entrance, Filter::FocalPlane] {
            let largest = p.largest_term_ln(filter);
            if largest < SMALLEST_LARGEST_TERM_LN {
                return Availability::NotApplicable(format!(
                    "every {filter:?} spike lies far off this grid (largest term e^{largest:.0}): \
                     the factors below e^−345 that this variant sets to 0 would be the ones \
                     that matter (see the module docs)"
                ));
            }
        }
        Availability::Ready
    }
    fn prepare(&self, p: &PsfProblem) -> Result<Box<dyn Prepared>, KernelError> {
        // Factor tables, allocated here and refilled by every run.
        let most = p.entrance.len().max(p.focal_plane.len());
        let mut u = vec![0.0; p.n * most];
        let mut v = vec![0.0; p.n * most];
        // The composite through the lane engine, as `parallel`'s and `windowed`'s.
        Ok(Box::new(CpuRun::with_composite(
            p,
            true,
            CompositeEngine::Lanes,
            move |p: &PsfProblem, g: &[Gaussian], out: &mut [f64]| {
                spikes_with(p, g, out, &mut u, &mut v)
            },
        )))
    }
}

/// ln of the smallest largest-term of a filter next to which the cut at e^−345 is
/// invisible (module docs).
const SMALLEST_LARGEST_TERM_LN: f64 = -283.0;

/// e^a, or 0.0 below e^−345 (see the module docs).
#[inline]
fn factor(a: f64) -> f64 {
    if a < -345.0 { 0.0 } else { a.exp() }
}

/// The spike sum as U·Vᵀ, with caller-owned factor tables (N × S each, column-major).
pub fn spikes_with(
    p: &PsfProblem,
    gaussians: &[Gaussian],
    out: &mut [f64],
    u: &mut [f64],
    v: &mut [f64],
) {
    let (n, w, s) = (p.n, p.width, gaussians.len());
    let (u, v) = (&mut u[..n * s], &mut v[..n * s]);
    u.par_chunks_mut(n)
        .zip(v.par_chunks_mut(n))
        .zip(gaussians)
        .for_each(|((u, v), g)| {
            for (i, (u, v)) in u.iter_mut().zip(v.iter_mut()).enumerate() {
                let (yc, xc) = (coord(i) - g.cy, coord(i) - g.cx);
                *u = g.weight * factor(-(w * yc * yc));
                *v = factor(-w * xc * xc);
            }
        });
    // out is row-major N × N: as a column-major matrix it is M[x][y] = spikes[y][x], so
    // M = V·Uᵀ.
    let m = MatMut::from_column_major_slice_mut(out, n, n);
    let u = MatRef::from_column_major_slice(u, n, s);
    let v = MatRef::from_column_major_slice(v, n, s);
    matmul(m, Accum::Replace, v, u.transpose(), 1.0, Par::rayon(0));
}

//! `deconv/*/vectorised` — the same direct convolutions as `naive`, written for SIMD on
//! one thread. It teaches that no amount of SIMD beats the right algorithm: still
//! O((R·C)²) per convolution, only with a better constant.
//!
//! For a fixed input pixel (p, q), its contribution to output row i is one kernel row
//! rotated by q: `out[i, j] += a[p, q] · k[(i − p) mod R, (j − q) mod C]` for all j. With
//! every kernel row stored twice side by side, the rotated row is the contiguous slice
//! `[C − q, 2C − q)`, so the inner loop is a plain multiply-add over slices that the
//! compiler turns into full-width FMA instructions. Four values of q share each pass
//! over the output row (four FMAs per load and store of the accumulator). Correlation is
//! convolution with the flipped kernel `k[(−i) mod R, (−j) mod C]`.

use super::{DeconvProblem, NonFinite, divide_row, non_finite};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct Vectorised;

/// Seconds per multiply-add of the direct sum: 0.06 ns of CPU time (17 G/s, AVX-512)
/// measured at 64² and 128² on the 2-core reference machine.
const SECONDS_PER_TERM: f64 = 6e-11;

const INFO: VariantInfo = variant!(
    "vectorised",
    Vectorised,
    F64,
    "the direct sums as FMA loops over doubled kernel rows: SIMD, yet still O((RC)²)"
);

impl Variant<DeconvProblem> for Vectorised {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &DeconvProblem) -> Availability {
        if !p.availability().is_ready() {
            return p.availability();
        }
        let terms = 2.0 * p.iterations as f64 * (p.pixels() as f64).powi(2);
        let estimate = terms * SECONDS_PER_TERM;
        let limit = match crate::naive_time_limit_s() {
            Ok(limit) => limit,
            Err(e) => return Availability::Skipped(e.to_string()),
        };
        if estimate > limit {
            Availability::Skipped(format!(
                "estimated {estimate:.0} s at {}×{}: direct convolution is O((RC)²) (limit {:.0} s, \
                 HARNESS_NAIVE_LIMIT_S)",
                p.rows(),
                p.cols(),
                limit
            ))
        } else {
            Availability::Ready
        }
    }
    fn prepare(&self, p: &DeconvProblem) -> Result<Box<dyn Prepared>, KernelError> {
        let (r, c) = (p.rows(), p.cols());
        let k = p.kernel();
        let flipped =
            ndarray::Array2::from_shape_fn((r, c), |(i, j)| k[[(r - i) % r, (c - j) % c]]);
        Ok(Box::new(Run {
            problem: p.clone(),
            image: p.clipped_image(),
            kernel: doubled(&k),
            flipped: doubled(&flipped),
            estimate: vec![0.0; r * c],
            work: vec![0.0; r * c],
            correction: vec![0.0; r * c],
            non_finite: None,
        }))
    }
}

/// Each row of `k` twice: row r is `[k[r, 0..C], k[r, 0..C]]` (R × 2C).
pub fn doubled(k: &ndarray::Array2<f64>) -> Vec<f64> {
    k.rows()
        .into_iter()
        .flat_map(|row| row.iter().chain(row.iter()).copied().collect::<Vec<_>>())
        .collect()
}

struct Run {
    problem: DeconvProblem,
    image: Vec<f64>,
    kernel: Vec<f64>,
    flipped: Vec<f64>,
    estimate: Vec<f64>,
    work: Vec<f64>,
    correction: Vec<f64>,
    non_finite: Option<NonFinite>,
}

/// out = a ⊛ k, with k given as doubled rows (R × 2C).
pub fn convolve(a: &[f64], k2: &[f64], rows: usize, cols: usize, out: &mut [f64]) {
    let c = cols;
    for (i, acc) in out.chunks_exact_mut(c).enumerate() {
        acc.fill(0.0);
        for (p, arow) in a.chunks_exact(c).enumerate() {
            let kr = &k2[((i + rows - p) % rows) * 2 * c..][..2 * c];
            let mut q = 0;
            // Four input pixels per pass over the accumulator row.
            while q + 4 <= c {
                let (s0, s1, s2, s3) = (arow[q], arow[q + 1], arow[q + 2], arow[q + 3]);
                let k0 = &kr[c - q..][..c];
                let k1 = &kr[c - q - 1..][..c];
                let k2 = &kr[c - q - 2..][..c];
                let k3 = &kr[c - q - 3..][..c];
                for j in 0..c {
                    acc[j] = s3.mul_add(
                        k3[j],
                        s2.mul_add(k2[j], s1.mul_add(k1[j], s0.mul_add(k0[j], acc[j]))),
                    );
                }
                q += 4;
            }
            for (q, &s) in arow.iter().enumerate().skip(q) {
                let kq = &kr[c - q..][..c];
                for (o, &kv) in acc.iter_mut().zip(kq) {
                    *o = s.mul_add(kv, *o);
                }
            }
        }
    }
}

impl Prepared for Run {
    fn run(&mut self) -> Result<(), KernelError> {
        let (r, c) = (self.problem.rows(), self.problem.cols());
        self.estimate.copy_from_slice(&self.image);
        self.non_finite = None;
        for iteration in 1..=self.problem.iterations {
            convolve(&self.estimate, &self.kernel, r, c, &mut self.work);
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
            // work holds the ratio: estimate · (ratio ⋆ k), ⋆ as ⊛ with the flipped kernel.
            convolve(&self.work, &self.flipped, r, c, &mut self.correction);
            self.estimate
                .iter_mut()
                .zip(&self.correction)
                .for_each(|(e, corr)| *e *= corr);
        }
        match self.non_finite {
            Some(bad) => Err(bad.error()),
            None => Ok(()),
        }
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(self.estimate.clone()))
    }
}

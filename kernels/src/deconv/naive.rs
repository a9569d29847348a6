//! `deconv/*/naive` — Richardson–Lucy with both convolutions summed directly in image
//! space, as the formula reads: O((R·C)²) per convolution. The oracle: the FFT variants are
//! checked against it (they compute the same circular convolutions), and it is checked
//! against aiapy's own output.

use ndarray::Array2;

use super::{DeconvProblem, NonFinite};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct Naive;

/// Seconds per term a[p, q]·k[(i − p) mod R, (j − q) mod C] (two integer divisions, a
/// multiply-add): 3.6 ns of CPU time measured at 64² on the 2-core reference machine.
const SECONDS_PER_TERM: f64 = 3.6e-9;

/// Seconds one run takes: two direct convolutions of every pixel with every pixel per
/// iteration. Also the kernel's [`crate::Kernel::naive_seconds`].
pub fn seconds(pixels: usize, iterations: usize) -> f64 {
    2.0 * iterations as f64 * (pixels as f64).powi(2) * SECONDS_PER_TERM
}

const INFO: VariantInfo = variant!(
    "naive",
    Naive,
    F64,
    "the formula as written: each convolution a direct sum over every pixel pair, O((RC)²)"
);

impl Variant<DeconvProblem> for Naive {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &DeconvProblem) -> Availability {
        if !p.availability().is_ready() {
            return p.availability();
        }
        let estimate = seconds(p.pixels(), p.iterations);
        let limit = match crate::naive_time_limit_s() {
            Ok(limit) => limit,
            Err(e) => return Availability::Skipped(e.to_string()),
        };
        if estimate > limit {
            Availability::Skipped(format!(
                "estimated {estimate:.0} s at {}×{} (limit {:.0} s, HARNESS_NAIVE_LIMIT_S)",
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
        Ok(Box::new(Run {
            problem: p.clone(),
            image: Array2::from_shape_vec((r, c), p.clipped_image()).expect("R·C values"),
            kernel: p.kernel(),
            estimate: Array2::zeros((r, c)),
            non_finite: None,
        }))
    }
}

struct Run {
    problem: DeconvProblem,
    image: Array2<f64>,
    kernel: Array2<f64>,
    estimate: Array2<f64>,
    non_finite: Option<NonFinite>,
}

/// (a ⊛ k)[i, j] = Σ_p Σ_q a[p, q] · k[(i − p) mod R, (j − q) mod C]
pub fn convolve(a: &Array2<f64>, k: &Array2<f64>) -> Array2<f64> {
    let (r, c) = a.dim();
    Array2::from_shape_fn((r, c), |(i, j)| {
        let mut sum = 0.0;
        for p in 0..r {
            for q in 0..c {
                sum += a[[p, q]] * k[[(i + r - p) % r, (j + c - q) % c]];
            }
        }
        sum
    })
}

/// (a ⋆ k)[i, j] = Σ_p Σ_q a[p, q] · k[(p − i) mod R, (q − j) mod C]
pub fn correlate(a: &Array2<f64>, k: &Array2<f64>) -> Array2<f64> {
    let (r, c) = a.dim();
    Array2::from_shape_fn((r, c), |(i, j)| {
        let mut sum = 0.0;
        for p in 0..r {
            for q in 0..c {
                sum += a[[p, q]] * k[[(p + r - i) % r, (q + c - j) % c]];
            }
        }
        sum
    })
}

/// Richardson–Lucy from the module docs, on a clipped image and the kernel k (the PSF at
/// (0, 0)). Returns the estimate and the first pixel where the ratio was not finite.
pub fn richardson_lucy(
    image: &Array2<f64>,
    kernel: &Array2<f64>,
    iterations: usize,
) -> (Array2<f64>, Option<NonFinite>) {
    let mut estimate = image.clone();
    let mut first = None;
    for iteration in 1..=iterations {
        let blurred = convolve(&estimate, kernel);
        let ratio = image / &blurred;
        if first.is_none()
            && let Some(((row, col), &r)) = ratio.indexed_iter().find(|(_, r)| !r.is_finite())
        {
            first = Some(NonFinite {
                iteration,
                row,
                col,
                image: image[[row, col]],
                ratio: r,
            });
        }
        estimate = estimate * correlate(&ratio, kernel);
    }
    (estimate, first)
}

impl Prepared for Run {
    fn run(&mut self) -> Result<(), KernelError> {
        let (estimate, first) = richardson_lucy(&self.image, &self.kernel, self.problem.iterations);
        self.estimate = estimate;
        self.non_finite = first;
        match first {
            Some(bad) => Err(bad.error()),
            None => Ok(()),
        }
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(self.estimate.iter().copied().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(r: usize, c: usize, seed: u64) -> Array2<f64> {
        let mut rng = super::super::scene::Rng::new(seed);
        Array2::from_shape_fn((r, c), |_| rng.uniform())
    }

    #[test]
    fn a_delta_at_the_origin_is_the_identity() {
        let a = noise(5, 7, 1);
        let mut k = Array2::zeros((5, 7));
        k[[0, 0]] = 1.0;
        assert_eq!(convolve(&a, &k), a);
        assert_eq!(correlate(&a, &k), a);
    }

    #[test]
    fn a_shifted_delta_shifts_circularly() {
        // k = δ at (1, 2): convolution moves a by (+1, +2), correlation by (−1, −2).
        let a = noise(4, 6, 2);
        let mut k = Array2::zeros((4, 6));
        k[[1, 2]] = 1.0;
        let (conv, corr) = (convolve(&a, &k), correlate(&a, &k));
        for i in 0..4 {
            for j in 0..6 {
                assert_eq!(conv[[(i + 1) % 4, (j + 2) % 6]], a[[i, j]]);
                assert_eq!(corr[[i, j]], a[[(i + 1) % 4, (j + 2) % 6]]);
            }
        }
    }

    #[test]
    fn convolution_multiplies_the_sums() {
        // Σ(a ⊛ k) = Σa · Σk, and the same for ⋆.
        let (a, k) = (noise(6, 5, 3), noise(6, 5, 4));
        let want = a.sum() * k.sum();
        for out in [convolve(&a, &k), correlate(&a, &k)] {
            assert!((out.sum() - want).abs() < 1e-13 * want);
        }
    }

    #[test]
    fn richardson_lucy_conserves_flux() {
        // With Σk = 1: Σ est_{n+1} = Σ_j est_j Σ_i k_ij img_i / (k est)_i = Σ img.
        let img = noise(8, 9, 5).mapv(|v| v + 0.5);
        let mut k = noise(8, 9, 6);
        k /= k.sum();
        for iterations in [1, 3, 10] {
            let (est, bad) = richardson_lucy(&img, &k, iterations);
            assert!(bad.is_none());
            assert!(
                (est.sum() - img.sum()).abs() < 1e-13 * img.sum(),
                "{iterations}"
            );
        }
    }

    #[test]
    fn an_all_zero_image_fails_at_the_first_pixel_of_the_first_iteration() {
        let img = Array2::zeros((4, 4));
        let mut k = Array2::zeros((4, 4));
        k[[0, 0]] = 1.0;
        let (est, bad) = richardson_lucy(&img, &k, 2);
        let bad = bad.expect("0/0");
        assert_eq!((bad.iteration, bad.row, bad.col, bad.image), (1, 0, 0, 0.0));
        assert!(bad.ratio.is_nan());
        assert!(
            est.iter().all(|v| v.is_nan()),
            "aiapy's output: NaN everywhere"
        );
    }
}

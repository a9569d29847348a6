//! `laue/*/naive` — four nested loops and one complex exponential per term, as the formula
//! reads. It is the oracle: every other variant is checked against it.

use num_complex::Complex64;
use std::f64::consts::PI;

use super::LaueProblem;
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct Naive;

const INFO: VariantInfo = variant!(
    "naive",
    Naive,
    F64,
    "the formula as written: for every (h, k), for every cell, one complex exponential"
);

impl Variant<LaueProblem> for Naive {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &LaueProblem) -> Availability {
        let estimate = seconds(p.h.len() * p.k.len(), p.n);
        let limit = match crate::naive_time_limit_s() {
            Ok(limit) => limit,
            Err(e) => return Availability::Skipped(e.to_string()),
        };
        if estimate > limit {
            Availability::Skipped(format!(
                "estimated {estimate:.0} s at n = {} (limit {:.0} s, HARNESS_NAIVE_LIMIT_S)",
                p.n, limit
            ))
        } else {
            Availability::Ready
        }
    }
    fn prepare(&self, p: &LaueProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(Run {
            problem: p.clone(),
            intensity: vec![0.0; p.h.len() * p.k.len()],
        }))
    }
}

/// Seconds one run takes at `points` output points on an n × n lattice: about 65 ns per
/// (h, k, n, m) term (a complex exp: exp, sin and cos, and the cell test), measured on the
/// 2-core reference machine. Also the kernel's [`crate::Kernel::naive_seconds`].
pub fn seconds(points: usize, n: usize) -> f64 {
    points as f64 * (n as f64).powi(2) * 65e-9
}

struct Run {
    problem: LaueProblem,
    intensity: Vec<f64>,
}

/// I(h, k) = |Σ_(n,m) ∈ crystal exp(2πi(h·p_n + k·p_m))|²
pub fn laue_naive(p: &LaueProblem, intensity: &mut [f64]) {
    for (i, &h) in p.h.iter().enumerate() {
        for (j, &k) in p.k.iter().enumerate() {
            let mut sum = Complex64::new(0.0, 0.0);
            for n in 0..p.n {
                for m in 0..p.n {
                    if let Some((p_n, p_m)) = p.cell(n, m) {
                        sum += (Complex64::i() * 2.0 * PI * (h * p_n + k * p_m)).exp();
                    }
                }
            }
            intensity[i * p.k.len() + j] = sum.norm_sqr();
        }
    }
}

impl Prepared for Run {
    fn run(&mut self) -> Result<(), KernelError> {
        laue_naive(&self.problem, &mut self.intensity);
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(self.intensity.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laue::{LaueProblem, Shape};

    fn run(p: &LaueProblem) -> Vec<f64> {
        let mut out = vec![f64::NAN; p.h.len() * p.k.len()];
        laue_naive(p, &mut out);
        out
    }

    #[test]
    fn one_cell_diffracts_uniformly() {
        let p = LaueProblem::new(Shape::Square, 1, 7, 0.3, 4.0, 0.01, 5.0);
        for v in run(&p) {
            assert!((v - 1.0).abs() < 1e-15, "{v}");
        }
    }

    #[test]
    fn square_is_a_product_of_two_geometric_series() {
        // |Σ_n e^{2πihn}|² = sin²(πhN)/sin²(πh), N² at integer h.
        let dirichlet = |x: f64, n: usize| {
            let s = (PI * x).sin();
            if s.abs() < 1e-12 {
                (n * n) as f64
            } else {
                ((PI * x * n as f64).sin() / s).powi(2)
            }
        };
        for n in [3, 8, 13] {
            let p = LaueProblem::new(Shape::Square, n, 3, 0.0, 4.0, 0.01, 5.0);
            let out = run(&p);
            let peak = (n * n * n * n) as f64;
            for (i, &h) in p.h.iter().enumerate() {
                for (j, &k) in p.k.iter().enumerate() {
                    let exact = dirichlet(h, n) * dirichlet(k, n);
                    let got = out[i * p.k.len() + j];
                    // Sum of N² unit terms: rounding ≲ N²·ε relative to the peak N⁴.
                    assert!(
                        (got - exact).abs() <= 1e-13 * peak,
                        "n={n} h={h} k={k}: {got} vs {exact}"
                    );
                }
            }
        }
    }
}

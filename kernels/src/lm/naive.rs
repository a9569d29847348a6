//! `lm/*/naive` — one fit at a time, as the algorithm reads: forward-difference Jacobian,
//! Gauss–Newton Hessian JᵀWJ and gradient JᵀW(y − f), the damped system solved by LU with
//! partial pivoting, accept or reject. The oracle of the algorithm: every other variant is
//! checked against it.
//!
//! The loop is Gpufit's `LMFitCPP::run` (Cpufit, `Cpufit/lm_fit_cpp.cpp`), step for step:
//!
//! 1. s_i ← max(s_i, H_ii) (s starts at 0); solve (H + λ·diag(s))·δ = g; λ starts at 1e-3.
//! 2. p' = p + δ; χ²' = χ²(p').
//! 3. converged when |χ²' − χ²| < tol·max(1, χ²') (tested before accepting, as Gpufit).
//! 4. χ²' < χ²: accept p', recompute H and g there, λ ← λ/10; else keep p, λ ← 10λ.
//! 5. stop when converged, after `max_iterations` steps, or when the system is singular.
//!
//! One departure: on a singular system Gpufit still applies the (meaningless) step; here the
//! fit stops at its last accepted parameters.

// Index loops mirror the algorithm's subscripts (J[k][i], H[i][j]): the oracle reads like it.
#![allow(clippy::needless_range_loop)]

use super::model::Model;
use super::{FitOutcome, Fits, LmProblem, State, with_model};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct Naive;

const INFO: VariantInfo = variant!(
    "naive",
    Naive,
    F64,
    "one fit at a time: finite-difference Jacobian, JᵀJ, LU solve, accept or reject (Cpufit's loop)"
);

impl Variant<LmProblem> for Naive {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &LmProblem) -> Availability {
        let estimate = seconds(p.fits, p.points, p.n_params);
        let limit = match crate::naive_time_limit_s() {
            Ok(limit) => limit,
            Err(e) => return Availability::Skipped(e.to_string()),
        };
        if estimate > limit {
            Availability::Skipped(format!(
                "estimated {estimate:.0} s for {} fits (limit {:.0} s, HARNESS_NAIVE_LIMIT_S)",
                p.fits, limit
            ))
        } else {
            Availability::Ready
        }
    }
    fn prepare(&self, p: &LmProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(Run {
            problem: p.clone(),
            fits: Fits::new(p.fits, p.n_params),
        }))
    }
}

/// Seconds one run takes for `fits` fits of `points` points and `params` parameters: per fit
/// and step, (P + 1) model evaluations at every point plus the P² products of JᵀJ; about
/// 4 ns per such point-term on the 2-core reference machine, and typically 5–8 steps per
/// fit. Also the kernel's [`crate::Kernel::naive_seconds`].
pub fn seconds(fits: usize, points: usize, params: usize) -> f64 {
    let (n, k) = (points as f64, params as f64);
    fits as f64 * 8.0 * n * (k + 1.0 + k * k) * 4e-9
}

struct Run {
    problem: LmProblem,
    fits: Fits,
}

impl Prepared for Run {
    fn run(&mut self) -> Result<(), KernelError> {
        let p = &self.problem;
        with_model!(&p.model, |m| {
            let mut scratch = Scratch::new(m.points(), m.params());
            for i in 0..p.fits {
                let params = &mut self.fits.params[i * p.n_params..][..p.n_params];
                let outcome = fit(m, p, i, &mut scratch, params, p.tolerance, p.max_iterations);
                self.fits.record(i, outcome);
            }
        });
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.fits.output())
    }
}

/// Working arrays of one fit, allocated once per run.
struct Scratch {
    f: Vec<f64>,
    f_step: Vec<f64>,
    /// J[k·P + j] = ∂f_k/∂p_j.
    jac: Vec<f64>,
    hessian: Vec<f64>,
    gradient: Vec<f64>,
    scaling: Vec<f64>,
    damped: Vec<f64>,
    delta: Vec<f64>,
    trial: Vec<f64>,
    shifted: Vec<f64>,
}

impl Scratch {
    fn new(points: usize, params: usize) -> Scratch {
        Scratch {
            f: vec![0.0; points],
            f_step: vec![0.0; points],
            jac: vec![0.0; points * params],
            hessian: vec![0.0; params * params],
            gradient: vec![0.0; params],
            scaling: vec![0.0; params],
            damped: vec![0.0; params * params],
            delta: vec![0.0; params],
            trial: vec![0.0; params],
            shifted: vec![0.0; params],
        }
    }
}

/// The parameters of fit `index` after exactly `steps` steps of this loop (the stopping test
/// disabled: tolerance 0, which `|Δχ²| < 0` never meets), or fewer if the system turns
/// singular first. The validation uses it to tell a variant that stopped at another step of
/// the oracle's own path (a tie of the stopping test) from one that went elsewhere.
pub(crate) fn replay<M: Model>(m: &M, problem: &LmProblem, index: usize, steps: usize) -> Vec<f64> {
    let mut s = Scratch::new(m.points(), m.params());
    let mut p = vec![0.0; m.params()];
    fit(m, problem, index, &mut s, &mut p, 0.0, steps);
    p
}

/// Fits number `index` of the problem with the given stopping rule; leaves the parameters in
/// `p` and returns the rest.
fn fit<M: Model>(
    m: &M,
    problem: &LmProblem,
    index: usize,
    s: &mut Scratch,
    p: &mut [f64],
    tolerance: f64,
    max_iterations: usize,
) -> FitOutcome {
    let n = m.params();
    let y = problem.data(index);
    let w = problem.weight;
    p.copy_from_slice(problem.initial(index));
    let mut chi2 = chi_square(m, y, w, p, &mut s.f);
    coefficients(m, y, w, p, s);
    let mut lambda = 1e-3;
    s.scaling.fill(0.0);
    for iteration in 1..=max_iterations {
        // (H + λ·diag(s))·δ = g, with s_i = max(s_i, H_ii) over the fit so far.
        s.damped.copy_from_slice(&s.hessian);
        for i in 0..n {
            s.scaling[i] = s.scaling[i].max(s.hessian[i * n + i]);
            s.damped[i * n + i] += lambda * s.scaling[i];
        }
        if !solve_lu(&mut s.damped, &s.gradient, &mut s.delta, n) {
            return FitOutcome {
                chi2,
                iterations: iteration,
                state: State::Singular,
            };
        }
        for ((t, &pi), &di) in s.trial.iter_mut().zip(p.iter()).zip(&s.delta) {
            *t = pi + di;
        }
        let trial_chi2 = chi_square(m, y, w, &s.trial, &mut s.f);
        let converged = (trial_chi2 - chi2).abs() < tolerance * trial_chi2.max(1.0);
        if trial_chi2 < chi2 {
            p.copy_from_slice(&s.trial);
            chi2 = trial_chi2;
            coefficients(m, y, w, p, s);
            lambda *= 0.1;
        } else {
            lambda *= 10.0;
        }
        if converged {
            return FitOutcome {
                chi2,
                iterations: iteration,
                state: State::Converged,
            };
        }
    }
    FitOutcome {
        chi2,
        iterations: max_iterations,
        state: State::MaxIterations,
    }
}

/// χ² = Σ_k w·(y_k − f_k(p))², leaving f(p) in `f`.
fn chi_square<M: Model>(m: &M, y: &[f64], w: f64, p: &[f64], f: &mut [f64]) -> f64 {
    let mut chi2 = 0.0;
    for (k, fk) in f.iter_mut().enumerate() {
        *fk = m.value(k, p);
        chi2 += w * (y[k] - *fk).powi(2);
    }
    chi2
}

/// Forward differences J_kj = (f_k(p + h_j·e_j) − f_k(p))/h_j, with MINPACK's step
/// h_j = √ε·|p_j| (√ε when p_j = 0), rounded so that p_j + h_j is exact; then
/// H = JᵀWJ and g = JᵀW(y − f). Expects f(p) in `s.f`.
fn coefficients<M: Model>(m: &M, y: &[f64], w: f64, p: &[f64], s: &mut Scratch) {
    let (n, points) = (m.params(), m.points());
    let sqrt_eps = f64::EPSILON.sqrt();
    for j in 0..n {
        s.shifted.copy_from_slice(p);
        let h = if p[j] == 0.0 {
            sqrt_eps
        } else {
            sqrt_eps * p[j].abs()
        };
        s.shifted[j] = p[j] + h;
        let h = s.shifted[j] - p[j];
        for k in 0..points {
            s.f_step[k] = m.value(k, &s.shifted);
            s.jac[k * n + j] = (s.f_step[k] - s.f[k]) / h;
        }
    }
    for i in 0..n {
        s.gradient[i] = (0..points)
            .map(|k| w * s.jac[k * n + i] * (y[k] - s.f[k]))
            .sum();
        for j in 0..n {
            let mut h = 0.0;
            for k in 0..points {
                h += w * s.jac[k * n + i] * s.jac[k * n + j];
            }
            s.hessian[i * n + j] = h;
        }
    }
}

/// Solves a·x = b (a is n×n, row-major, overwritten) by LU with partial pivoting. False when
/// a pivot is zero or not finite (the singular state).
pub(super) fn solve_lu(a: &mut [f64], b: &[f64], x: &mut [f64], n: usize) -> bool {
    x.copy_from_slice(b);
    for col in 0..n {
        let pivot_row = (col..n)
            .max_by(|&r, &q| a[r * n + col].abs().total_cmp(&a[q * n + col].abs()))
            .expect("n > 0");
        let pivot = a[pivot_row * n + col];
        if pivot == 0.0 || !pivot.is_finite() {
            return false;
        }
        if pivot_row != col {
            for j in 0..n {
                a.swap(col * n + j, pivot_row * n + j);
            }
            x.swap(col, pivot_row);
        }
        for r in col + 1..n {
            let factor = a[r * n + col] / pivot;
            for j in col..n {
                a[r * n + j] -= factor * a[col * n + j];
            }
            x[r] -= factor * x[col];
        }
    }
    for col in (0..n).rev() {
        let mut v = x[col];
        for j in col + 1..n {
            v -= a[col * n + j] * x[j];
        }
        x[col] = v / a[col * n + col];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lu_solves_a_system_that_needs_pivoting() {
        // The first pivot is zero without row exchange.
        let mut a = vec![0.0, 2.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0, 3.0];
        let b = [7.0, 3.0, 11.0];
        let mut x = [0.0; 3];
        assert!(solve_lu(&mut a, &b, &mut x, 3));
        for (got, want) in x.iter().zip([1.0, 2.0, 3.0]) {
            assert!((got - want).abs() < 1e-14, "{x:?}");
        }
    }

    #[test]
    fn lu_reports_a_singular_system() {
        let mut a = vec![1.0, 2.0, 2.0, 4.0];
        let mut x = [0.0; 2];
        assert!(!solve_lu(&mut a, &[1.0, 2.0], &mut x, 2));
    }
}

//! `lm/*/vectorised` — one thread, eight fits per AVX-512 register, in lock-step.
//!
//! The same algorithm as `naive`, laid out for SIMD:
//!
//! - **Structure of arrays across fits.** Lane l of every vector belongs to one fit: the
//!   parameters are P vectors, JᵀWJ is P×P vectors, the data are `points` vectors. Each
//!   arithmetic instruction advances eight fits; no instruction mixes lanes.
//! - **Analytic Jacobian.** One pass over the points computes f, ∂f/∂p, χ², the gradient
//!   and the upper triangle of JᵀWJ, instead of P + 1 model evaluations.
//! - **Cholesky (LDLᵀ) solve.** H + λ·diag(s) is symmetric positive definite whenever the
//!   fit is not singular, so a square-root-free LDLᵀ without pivoting solves it; a pivot
//!   that is not positive flags the lane singular.
//! - **Masks instead of branches.** Accept/reject is a per-lane select; a lane whose fit
//!   has finished takes the next fit of the batch at once (its first pass only evaluates
//!   the initial guess), so lanes stay busy however unevenly the fits converge.
//!
//! Decisions (accept, converge, stop) are Gpufit's, lane by lane, exactly as in `naive`.

// Index loops over the P parameters mirror the algorithm's subscripts across several arrays.
#![allow(clippy::needless_range_loop)]

use wide::f64x8;

use super::model::{Gauss2d, Lorentzians, Model};
use super::{AnyModel, Fits, Kind, LmProblem, State};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Prepared, Variant, VariantInfo};

/// Fits per SIMD vector.
pub const LANES: usize = 8;
type V = f64x8;

pub struct Vectorised;

const INFO: VariantInfo = variant!(
    "vectorised",
    Vectorised,
    F64,
    "8 fits per SIMD register in lock-step (structure of arrays), analytic Jacobian, LDLᵀ solve, masks"
);

impl Variant<LmProblem> for Vectorised {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn prepare(&self, p: &LmProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(Run {
            problem: p.clone(),
            fits: Fits::new(p.fits, p.n_params),
        }))
    }
}

struct Run {
    problem: LmProblem,
    fits: Fits,
}

impl Prepared for Run {
    fn run(&mut self) -> Result<(), KernelError> {
        let f = &mut self.fits;
        fit_batch(
            &self.problem,
            0,
            Slices {
                params: &mut f.params,
                chi2: &mut f.chi2,
                iterations: &mut f.iterations,
                state: &mut f.state,
            },
        );
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.fits.output())
    }
}

/// The outputs of a contiguous range of fits.
pub(super) struct Slices<'a> {
    pub params: &'a mut [f64],
    pub chi2: &'a mut [f64],
    pub iterations: &'a mut [f64],
    pub state: &'a mut [f64],
}

/// Fits `first .. first + out.chi2.len()` of the problem, writing into `out`. The model's
/// parameter count is a compile-time constant here, so every per-parameter loop unrolls.
pub(super) fn fit_batch(p: &LmProblem, first: usize, out: Slices<'_>) {
    match (&p.model, p.kind) {
        (AnyModel::Gauss2d(m), Kind::Gauss2d) => Batch::<Gauss2d, 5>::new(m, p).run(first, out),
        (AnyModel::Lorentzians(m), Kind::Odmr) => {
            Batch::<Lorentzians, 7>::new(m, p).run(first, out)
        }
        (AnyModel::Lorentzians(m), Kind::Odmr8) => {
            Batch::<Lorentzians, 26>::new(m, p).run(first, out)
        }
        (AnyModel::Gauss2d(_), Kind::Odmr | Kind::Odmr8)
        | (AnyModel::Lorentzians(_), Kind::Gauss2d) => {
            unreachable!("model_of() pairs each kind with its model")
        }
    }
}

/// χ², gradient and upper triangle of JᵀWJ of eight fits at one set of parameters.
#[derive(Clone, Copy)]
struct Coefficients<const P: usize> {
    chi2: V,
    gradient: [V; P],
    hessian: [[V; P]; P],
}

/// The lock-step state of eight lanes.
struct Batch<'a, M, const P: usize> {
    model: &'a M,
    problem: &'a LmProblem,
    /// Data of the fit in each lane: `y[k]` lane l is point k of lane l's fit.
    y: Vec<V>,
    params: [V; P],
    trial: [V; P],
    current: Coefficients<P>,
    scaling: [V; P],
    lambda: V,
    /// Fit index (within the batch) in each lane, None once the batch ran out.
    fit: [Option<usize>; LANES],
    /// Lanes whose fit was just loaded: the next pass evaluates the initial guess.
    fresh: [bool; LANES],
    iterations: [usize; LANES],
}

impl<'a, M: Model, const P: usize> Batch<'a, M, P> {
    fn new(model: &'a M, problem: &'a LmProblem) -> Self {
        debug_assert_eq!(model.params(), P);
        let zero = V::splat(0.0);
        Batch {
            model,
            problem,
            y: vec![zero; model.points()],
            params: [zero; P],
            trial: [zero; P],
            current: Coefficients {
                chi2: zero,
                gradient: [zero; P],
                hessian: [[zero; P]; P],
            },
            scaling: [zero; P],
            lambda: zero,
            fit: [None; LANES],
            fresh: [false; LANES],
            iterations: [0; LANES],
        }
    }

    /// Puts fit `index` (of the problem) into `lane`: its data and its initial guess as the
    /// next trial point.
    fn load(&mut self, lane: usize, index: usize, local: usize) {
        for (v, &d) in self.y.iter_mut().zip(self.problem.data(index)) {
            v.as_mut_array()[lane] = d;
        }
        for (v, &x) in self.trial.iter_mut().zip(self.problem.initial(index)) {
            v.as_mut_array()[lane] = x;
        }
        self.fit[lane] = Some(local);
        self.fresh[lane] = true;
    }

    fn run(mut self, first: usize, out: Slices<'_>) {
        let count = out.chi2.len();
        let mut next = 0;
        for lane in 0..LANES.min(count) {
            self.load(lane, first + lane, lane);
            next += 1;
        }
        let tol = V::splat(self.problem.tolerance);
        while self.fit.iter().any(Option::is_some) {
            let fresh = mask(self.fresh);
            // 1. Step: solve (H + λ·diag(s))·δ = g in every lane that has a current point.
            for i in 0..P {
                self.scaling[i] = self.scaling[i].max(self.current.hessian[i][i]);
            }
            let (delta, singular) = solve(&self.current, &self.scaling, self.lambda);
            for ((t, &p), d) in self.trial.iter_mut().zip(&self.params).zip(delta) {
                *t = fresh.select(*t, p + d);
            }
            // 2. Evaluate the trial point.
            let t = self.coefficients(&self.trial);
            // 3. Gpufit's decisions, per lane: fresh lanes take their initial point as is.
            let converged = (t.chi2 - self.current.chi2)
                .abs()
                .simd_lt(tol * t.chi2.max(V::splat(1.0)));
            let accept = (t.chi2.simd_lt(self.current.chi2) & !singular) | fresh;
            self.params = select(accept, &self.trial, &self.params);
            self.current.chi2 = accept.select(t.chi2, self.current.chi2);
            self.current.gradient = select(accept, &t.gradient, &self.current.gradient);
            for i in 0..P {
                // Upper triangle only: that is all the solve reads.
                for j in i..P {
                    self.current.hessian[i][j] =
                        accept.select(t.hessian[i][j], self.current.hessian[i][j]);
                }
                self.scaling[i] = fresh.select(V::splat(0.0), self.scaling[i]);
            }
            let step = accept.select(V::splat(0.1), V::splat(10.0));
            self.lambda = fresh.select(V::splat(1e-3), self.lambda * step);
            // 4. Per lane: count the step, stop the fit, refill the lane.
            let (converged, singular) = (converged.to_bitmask(), singular.to_bitmask());
            for lane in 0..LANES {
                let Some(local) = self.fit[lane] else {
                    continue;
                };
                if self.fresh[lane] {
                    self.fresh[lane] = false;
                    self.iterations[lane] = 0;
                    continue;
                }
                self.iterations[lane] += 1;
                let state = if singular >> lane & 1 == 1 {
                    State::Singular
                } else if converged >> lane & 1 == 1 {
                    State::Converged
                } else if self.iterations[lane] == self.problem.max_iterations {
                    State::MaxIterations
                } else {
                    continue;
                };
                for (i, v) in self.params.iter().enumerate() {
                    out.params[local * P + i] = v.as_array()[lane];
                }
                out.chi2[local] = self.current.chi2.as_array()[lane];
                out.iterations[local] = self.iterations[lane] as f64;
                out.state[local] = state.code();
                self.fit[lane] = None;
                if next < count {
                    self.load(lane, first + next, next);
                    next += 1;
                }
            }
        }
    }

    /// One pass over the points at parameters `p`: χ², JᵀW(y − f) and the upper triangle
    /// of JᵀWJ, for eight fits at once. W = w·I is a constant: it scales the sums once, at
    /// the end.
    #[inline(always)]
    fn coefficients(&self, p: &[V; P]) -> Coefficients<P> {
        let zero = V::splat(0.0);
        let mut c = Coefficients {
            chi2: zero,
            gradient: [zero; P],
            hessian: [[zero; P]; P],
        };
        let mut jac = [zero; P];
        for (k, &y) in self.y.iter().enumerate() {
            let f = self.model.value_and_gradient(k, p, &mut jac);
            let r = y - f;
            c.chi2 = r.mul_add(r, c.chi2);
            for i in 0..P {
                c.gradient[i] = jac[i].mul_add(r, c.gradient[i]);
                for j in i..P {
                    c.hessian[i][j] = jac[i].mul_add(jac[j], c.hessian[i][j]);
                }
            }
        }
        let w = V::splat(self.problem.weight);
        c.chi2 *= w;
        for i in 0..P {
            c.gradient[i] *= w;
            for j in i..P {
                c.hessian[i][j] *= w;
            }
        }
        c
    }
}

/// Solves (H + λ·diag(s))·δ = g per lane by LDLᵀ (H's upper triangle). Lanes whose pivot
/// is not positive (or NaN) are flagged singular; their δ is meaningless.
#[inline(always)]
fn solve<const P: usize>(c: &Coefficients<P>, scaling: &[V; P], lambda: V) -> ([V; P], V) {
    let zero = V::splat(0.0);
    // A = L·D·Lᵀ with unit lower L; u[i][j] = l[i][j]·d[j] for j < i.
    let mut l = [[zero; P]; P];
    let mut u = [[zero; P]; P];
    let mut inv_d = [zero; P];
    let mut singular = zero.simd_gt(zero);
    for j in 0..P {
        let mut d = lambda.mul_add(scaling[j], c.hessian[j][j]);
        for k in 0..j {
            d -= u[j][k] * l[j][k];
        }
        // !(d > 0), NaN included.
        singular = singular | d.simd_le(zero) | d.simd_ne(d);
        inv_d[j] = V::splat(1.0) / d;
        for i in j + 1..P {
            let mut a = c.hessian[j][i];
            for k in 0..j {
                a -= u[i][k] * l[j][k];
            }
            u[i][j] = a;
            l[i][j] = a * inv_d[j];
        }
    }
    // L·z = g, then D·w = z, then Lᵀ·δ = w.
    let mut x = c.gradient;
    for i in 0..P {
        for k in 0..i {
            x[i] -= l[i][k] * x[k];
        }
    }
    for (xi, d) in x.iter_mut().zip(inv_d) {
        *xi *= d;
    }
    for i in (0..P).rev() {
        for k in i + 1..P {
            x[i] -= l[k][i] * x[k];
        }
    }
    (x, singular)
}

/// A lane mask from per-lane flags.
fn mask(flags: [bool; LANES]) -> V {
    V::from(flags.map(|f| if f { f64::from_bits(u64::MAX) } else { 0.0 }))
}

fn select<const P: usize>(m: V, a: &[V; P], b: &[V; P]) -> [V; P] {
    std::array::from_fn(|i| m.select(a[i], b[i]))
}

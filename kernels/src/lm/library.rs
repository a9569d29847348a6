//! `lm/*/library` — the same fits with the `levenberg-marquardt` crate (a Rust port of
//! MINPACK's `lmder`, on nalgebra), one fit at a time: what a Rust user would reach for.
//!
//! A different algorithm from Gpufit's: MINPACK scales by the Jacobian's column norms,
//! controls a trust region instead of multiplying λ by fixed factors, and stops on relative
//! reductions of ‖r‖ and of the step (the crate's defaults: ftol = xtol = gtol = 30ε, at
//! most 100·(p + 1) evaluations). Residuals are √w·(f − y), so it minimises the same χ².
//! Outputs: `evaluations` (instead of `iterations`) is the crate's count of residual
//! evaluations; `state` is 0 when the crate reports success, 1 when it ran out of
//! evaluations, 2 for any other stop (numerical trouble). MINPACK ignores the problem's
//! tolerance and iteration cap (it has its own), so where Gpufit's loop stops early its
//! results are another point on another path: the validation tells the two algorithms
//! apart by that array's name and compares the library with the oracle only where that
//! is meaningful (see `validation`, item 4).
//!
//! Gated by the `library` feature; without it the variant is listed and skipped.

use super::LmProblem;
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct Library;

const INFO: VariantInfo = variant!(
    "library",
    Library,
    F64,
    "the levenberg-marquardt crate (MINPACK lmder in Rust), one fit at a time"
);

impl Variant<LmProblem> for Library {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, _p: &LmProblem) -> Availability {
        if cfg!(feature = "library") {
            Availability::Ready
        } else {
            Availability::Skipped("built without the `library` feature".into())
        }
    }
    fn prepare(&self, p: &LmProblem) -> Result<Box<dyn Prepared>, KernelError> {
        imp::prepare(p)
    }
}

#[cfg(feature = "library")]
mod imp {
    use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt, TerminationReason};
    use nalgebra::storage::Owned;
    use nalgebra::{DMatrix, DVector, Dyn};

    use super::super::model::Model;
    use super::super::{FitOutcome, Fits, LmProblem, State, with_model};
    use crate::check::Output;
    use crate::error::KernelError;
    use crate::variant::Prepared;

    pub fn prepare(p: &LmProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(Run {
            problem: p.clone(),
            fits: Fits::new(p.fits, p.n_params),
        }))
    }

    struct Run {
        problem: LmProblem,
        fits: Fits,
    }

    /// One fit as the crate sees it: residuals √w·(f − y) and their Jacobian.
    struct OneFit<'a, M> {
        model: &'a M,
        y: &'a [f64],
        sqrt_w: f64,
        p: DVector<f64>,
    }

    impl<M: Model> LeastSquaresProblem<f64, Dyn, Dyn> for OneFit<'_, M> {
        type ResidualStorage = Owned<f64, Dyn>;
        type JacobianStorage = Owned<f64, Dyn, Dyn>;
        type ParameterStorage = Owned<f64, Dyn>;

        fn set_params(&mut self, p: &DVector<f64>) {
            self.p.copy_from(p);
        }
        fn params(&self) -> DVector<f64> {
            self.p.clone()
        }
        fn residuals(&self) -> Option<DVector<f64>> {
            let p = self.p.as_slice();
            Some(DVector::from_iterator(
                self.y.len(),
                self.y
                    .iter()
                    .enumerate()
                    .map(|(k, y)| self.sqrt_w * (self.model.value(k, p) - y)),
            ))
        }
        fn jacobian(&self) -> Option<DMatrix<f64>> {
            let (n, p) = (self.p.len(), self.p.as_slice());
            let mut jac = DMatrix::zeros(self.y.len(), n);
            let mut grad = vec![0.0; n];
            for k in 0..self.y.len() {
                self.model.value_and_gradient(k, p, &mut grad);
                for (j, g) in grad.iter().enumerate() {
                    jac[(k, j)] = self.sqrt_w * g;
                }
            }
            Some(jac)
        }
    }

    impl Prepared for Run {
        fn run(&mut self) -> Result<(), KernelError> {
            let p = &self.problem;
            let solver = LevenbergMarquardt::new();
            with_model!(&p.model, |m| {
                for i in 0..p.fits {
                    let fit = OneFit {
                        model: m,
                        y: p.data(i),
                        sqrt_w: p.weight.sqrt(),
                        p: DVector::from_column_slice(p.initial(i)),
                    };
                    let (fit, report) = solver.minimize(fit);
                    self.fits.params[i * p.n_params..][..p.n_params]
                        .copy_from_slice(fit.p.as_slice());
                    let state = match report.termination {
                        t if t.was_successful() => State::Converged,
                        TerminationReason::LostPatience => State::MaxIterations,
                        _ => State::Singular,
                    };
                    self.fits.record(
                        i,
                        FitOutcome {
                            chi2: 2.0 * report.objective_function,
                            iterations: report.number_of_evaluations,
                            state,
                        },
                    );
                }
            });
            Ok(())
        }
        fn output(&self) -> Result<Output, KernelError> {
            let mut out = self.fits.output();
            // Not Gpufit's steps: named for what they count (the validation relies on it).
            for (name, _) in &mut out.arrays {
                if name == "iterations" {
                    *name = "evaluations".into();
                }
            }
            Ok(out)
        }
    }
}

#[cfg(not(feature = "library"))]
mod imp {
    use super::super::LmProblem;
    use crate::error::KernelError;
    use crate::variant::Prepared;

    pub fn prepare(_p: &LmProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Err(KernelError::Failed(
            "built without the `library` feature".into(),
        ))
    }
}

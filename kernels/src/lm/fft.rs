//! `lm/*/fft` — not applicable: the fits are independent nonlinear least-squares problems,
//! each a handful of parameters over tens of points; there is no convolution or
//! shift-invariant sum anywhere in the algorithm for a transform to diagonalise.

use super::LmProblem;
use crate::error::KernelError;
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant};

pub struct Fft;

impl Variant<LmProblem> for Fft {
    fn name(&self) -> &'static str {
        "fft"
    }
    fn strategy(&self) -> Strategy {
        Strategy::Fft
    }
    fn precision(&self) -> Precision {
        Precision::F64
    }
    fn idea(&self) -> &'static str {
        "n/a: independent nonlinear fits have no transform structure"
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, _p: &LmProblem) -> Availability {
        Availability::NotApplicable(
            "independent nonlinear fits have no transform structure: no convolution or \
             shift-invariant sum for an FFT to diagonalise"
                .into(),
        )
    }
    fn prepare(&self, _p: &LmProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Err(KernelError::Failed(
            "lm/fft is not applicable (see its probe)".into(),
        ))
    }
}

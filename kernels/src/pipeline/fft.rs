//! `pipeline/deconv-stack/fft` — not applicable as a strategy of its own: every variant of
//! the pipeline deconvolves with FFTs already (deconv's `fft`, `parallel` and GPU FFTs);
//! there is no non-FFT way of scheduling images for a transform to replace.

use super::PipelineProblem;
use crate::error::KernelError;
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant};

pub struct Fft;

const REASON: &str = "every pipeline variant already deconvolves each image with FFTs \
     (deconv's fft, parallel and GPU FFT code): the strategies here differ only in how \
     images are scheduled";

impl Variant<PipelineProblem> for Fft {
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
        "n/a: every variant already uses FFTs; the pipeline varies the schedule"
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, _p: &PipelineProblem) -> Availability {
        Availability::NotApplicable(REASON.into())
    }
    fn prepare(&self, _p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Err(KernelError::Failed(format!(
            "pipeline/fft is not applicable: {REASON}"
        )))
    }
}

//! `pipeline/deconv-stack/vectorised` — not applicable: SIMD belongs inside one image's
//! arithmetic, which is deconv's business (`deconv/*/vectorised`, and the auto-vectorised
//! element-wise passes every FFT variant already uses). The pipeline's strategies are about
//! scheduling whole images.

use super::PipelineProblem;
use crate::error::KernelError;
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant};

pub struct Vectorised;

const REASON: &str = "SIMD acts inside one image's deconvolution (see deconv/*/vectorised; \
     every variant here already runs deconv's vectorised element-wise passes): the pipeline \
     only schedules whole images";

impl Variant<PipelineProblem> for Vectorised {
    fn name(&self) -> &'static str {
        "vectorised"
    }
    fn strategy(&self) -> Strategy {
        Strategy::Vectorised
    }
    fn precision(&self) -> Precision {
        Precision::F64
    }
    fn idea(&self) -> &'static str {
        "n/a: SIMD is inside one image's deconvolution, not in how images are scheduled"
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, _p: &PipelineProblem) -> Availability {
        Availability::NotApplicable(REASON.into())
    }
    fn prepare(&self, _p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Err(KernelError::Failed(format!(
            "pipeline/vectorised is not applicable: {REASON}"
        )))
    }
}

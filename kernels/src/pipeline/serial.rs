//! `pipeline/deconv-stack/serial` — the oracle: one image after another, each deconvolved by
//! deconv's one-thread FFT variant (`deconv/*/fft`, reused through its prepared state: the
//! PSF spectrum and every buffer are made once, in setup, and each image is loaded into
//! them). Its output is deconv's `fft` image by image, bit for bit.

use super::{OneAtATime, PipelineProblem};
use crate::deconv::engine::OneThread;
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct Serial;

const INFO: VariantInfo = variant!(
    "serial",
    Naive,
    F64,
    "one image after another on one thread (deconv's fft variant per image): the oracle"
);

impl Variant<PipelineProblem> for Serial {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    /// The plain loop over images, readable as the definition: the pipeline's "naive".
    fn probe(&self, p: &PipelineProblem) -> Availability {
        p.availability()
    }
    fn prepare(&self, p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(OneAtATime::new(p, OneThread::new(p.first()))))
    }
}

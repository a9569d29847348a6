//! `pipeline/deconv-stack/serial` — the oracle: one image after another, each deconvolved by
//! deconv's one-thread FFT variant (`deconv/*/fft`, reused through its prepared state: the
//! PSF spectrum and every buffer are made once, in setup, and each image is loaded into
//! them). Its output is deconv's `fft` image by image, bit for bit.

use super::{OneAtATime, PipelineProblem};
use crate::deconv::fft::Run;
use crate::error::KernelError;
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant};

pub struct Serial;

impl Variant<PipelineProblem> for Serial {
    fn name(&self) -> &'static str {
        "serial"
    }
    /// The plain loop over images, readable as the definition: the pipeline's "naive".
    fn strategy(&self) -> Strategy {
        Strategy::Naive
    }
    fn precision(&self) -> Precision {
        Precision::F64
    }
    fn idea(&self) -> &'static str {
        "one image after another on one thread (deconv's fft variant per image): the oracle"
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, p: &PipelineProblem) -> Availability {
        p.availability()
    }
    fn prepare(&self, p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(OneAtATime::new(p, Run::new(p.first()))))
    }
}

//! `pipeline/deconv-stack/threads-inside-image` — one image at a time, every thread working
//! on it: deconv's `parallel` variant (rows and columns of each FFT pass over rayon's
//! threads, element-wise steps fused into the passes), its state made once and each image
//! loaded into it. One image's working set is shared by all threads, but every pass ends
//! in a join: small images give the threads too little to do between joins.
//!
//! The fused passes may round differently from `serial`'s separate ones, so it is held to
//! the single-image f64 tolerance (at power-of-two sides it has come out bit-identical to
//! `serial`); its output does not depend on the thread count.

use super::{OneAtATime, PipelineProblem};
use crate::deconv::engine::Threaded;
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct ThreadsInsideImage;

const INFO: VariantInfo = variant!(
    "threads-inside-image",
    Parallel,
    F64,
    "one image at a time, its FFT passes spread over all threads (deconv's parallel variant)"
);

impl Variant<PipelineProblem> for ThreadsInsideImage {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &PipelineProblem) -> Availability {
        p.availability()
    }
    fn prepare(&self, p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(OneAtATime::new(p, Threaded::new(p.first()))))
    }
}

//! `pipeline/deconv-stack/threads-inside-image` — one image at a time, every thread working
//! on it: deconv's `lanes` variant (the four fused passes per iteration, columns and rows
//! one per SIMD lane, strips and row blocks spread over rayon's threads), its state made
//! once and each image loaded into it. One image's working set is shared by all threads,
//! but every pass ends in a join: small images give the threads too little to do between
//! joins.
//!
//! Until issue 20 this ran deconv's `parallel` engine (rustfft rows and gathered column
//! strips); `lanes` replaced it rather than sitting beside it, since with the same
//! schedule the two differ only inside one image, which deconv's own `parallel` and
//! `lanes` variants compare. Its FFTs round differently from `serial`'s rustfft ones
//! (and its ratio is within an ulp of IEEE division), so it is held to the single-image
//! f64 tolerance; its output does not depend on the thread count.

use super::{OneAtATime, PipelineProblem};
use crate::deconv::engine::Lanes;
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct ThreadsInsideImage;

const INFO: VariantInfo = variant!(
    "threads-inside-image",
    Parallel,
    F64,
    "one image at a time, its FFT passes spread over all threads (deconv's lanes variant)"
);

impl Variant<PipelineProblem> for ThreadsInsideImage {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &PipelineProblem) -> Availability {
        p.availability()
    }
    fn prepare(&self, p: &PipelineProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(OneAtATime::new(p, Lanes::new(p.first()))))
    }
}

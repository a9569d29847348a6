//! `psf/aia/parallel` — the vectorised rows spread over rayon's threads. Rows are
//! independent, each has one owner and sums its spikes in the same order as the
//! single-threaded variant, so the result is identical whatever the thread count. The
//! normalising sums run on the threads too, and the composite through the lane engine
//! ([`super::composite_lanes`]: strip-major spectra, one column or row per SIMD lane),
//! on the threads as well.

use rayon::prelude::*;

use super::vectorised::spike_row;
use super::{CompositeEngine, CpuRun, Gaussian, PsfProblem, coord};
use crate::error::KernelError;
use crate::variant::{Prepared, Variant, VariantInfo};

pub struct Parallel;

const INFO: VariantInfo = variant!(
    "parallel",
    Parallel,
    F64,
    "independent rows over threads (rayon), each with the SIMD exponential; the \
         composite's row and column FFTs over threads too, one per SIMD lane (our own FFT)"
);

impl Variant<PsfProblem> for Parallel {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn prepare(&self, p: &PsfProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(CpuRun::with_composite(
            p,
            true,
            CompositeEngine::Lanes,
            spikes,
        )))
    }
}

/// All spikes, rows over rayon's threads.
pub fn spikes(p: &PsfProblem, gaussians: &[Gaussian], out: &mut [f64]) {
    let xs: Vec<f64> = (0..p.n).map(coord).collect();
    out.par_chunks_mut(p.n)
        .enumerate()
        .for_each(|(i, row)| spike_row(p.width, &xs, coord(i), gaussians, row));
}

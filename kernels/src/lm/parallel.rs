//! `lm/*/parallel` — the vectorised lock-step code on chunks of fits spread over rayon's
//! threads. Fits are independent, so each chunk owns its slice of every output and nothing
//! is shared but the read-only data; the result is the same, bit for bit, whatever the
//! thread count (each fit runs the same instructions in whichever lane it lands).

use rayon::prelude::*;

use super::vectorised::{Slices, fit_batch};
use super::{Fits, LmProblem};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Prepared, Variant, VariantInfo};

/// Fits per task: 32 lane-groups, enough to amortise the task and to keep lanes busy at
/// the chunk's tail, small enough to balance the threads at 10⁴ fits.
const CHUNK: usize = 256;

pub struct Parallel;

const INFO: VariantInfo = variant!(
    "parallel",
    Parallel,
    F64,
    "chunks of fits over threads (rayon), each chunk with the 8-lane SIMD code"
);

impl Variant<LmProblem> for Parallel {
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
        let (p, f) = (&self.problem, &mut self.fits);
        f.params
            .par_chunks_mut(CHUNK * p.n_params)
            .zip(f.chi2.par_chunks_mut(CHUNK))
            .zip(f.iterations.par_chunks_mut(CHUNK))
            .zip(f.state.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, (((params, chi2), iterations), state))| {
                fit_batch(
                    p,
                    c * CHUNK,
                    Slices {
                        params,
                        chi2,
                        iterations,
                        state,
                    },
                )
            });
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.fits.output())
    }
}

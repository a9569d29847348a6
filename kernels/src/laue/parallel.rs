//! `laue/*/parallel` — the vectorised table form with blocks of output rows spread over
//! rayon's threads. Rows are independent, so the only shared data is the read-only phase
//! tables (filled in parallel over cells first). Deterministic: each output has one owner
//! and sums in the same order whatever the thread count.

use rayon::prelude::*;

use super::LaueProblem;
use super::vectorised::{ROW_BLOCK, Tables, fill, rows};
use crate::check::Output;
use crate::error::KernelError;
use crate::variant::{Prepared, Variant, VariantInfo};

pub struct Parallel;

const INFO: VariantInfo = variant!(
    "parallel",
    Parallel,
    F64,
    "independent output rows over threads (rayon), each with the SIMD inner loop"
);

impl Variant<LaueProblem> for Parallel {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn prepare(&self, p: &LaueProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(Run(Tables::new(p))))
    }
}

struct Run(Tables);

impl Prepared for Run {
    fn run(&mut self) -> Result<(), KernelError> {
        let t = &mut self.0;
        let (h, k) = (&t.problem.h, &t.problem.k);
        let (nh, nk) = (h.len(), k.len());
        t.a_re
            .par_chunks_mut(nh)
            .zip(t.a_im.par_chunks_mut(nh))
            .zip(t.b_re.par_chunks_mut(nk).zip(t.b_im.par_chunks_mut(nk)))
            .zip(&t.cells)
            .for_each(|(((ar, ai), (br, bi)), &(p_n, p_m))| {
                fill(h, p_n, ar, ai);
                fill(k, p_m, br, bi);
            });
        let mut intensity = std::mem::take(&mut t.intensity);
        intensity
            .par_chunks_mut(ROW_BLOCK * nk)
            .enumerate()
            .for_each(|(block, out)| rows(t, block * ROW_BLOCK, out));
        t.intensity = intensity;
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.0.problem.output(self.0.intensity.clone()))
    }
}

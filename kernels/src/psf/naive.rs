//! `psf/aia/naive` — aiapy's loop in Rust: for every spike, for every pixel, one scalar
//! `exp`. Dense: 1200 × N² exponentials (20 billion at N = 4096). The oracle; the core too
//! is evaluated on every pixel here, and the composite runs on one thread.

use super::{
    Buffers, Core, CpuRun, Gaussian, PsfProblem, coord, core_exponent, pairwise_sum, spike_exponent,
};
use crate::error::KernelError;
use crate::variant::{Availability, Prepared, Variant, VariantInfo};

pub struct Naive;

/// Seconds per (spike, pixel) term: a libm `exp` (most of them underflow, which costs a
/// microcode assist on Intel cores) and the arithmetic around it, measured on the 2-core
/// reference machine (N = 256: 2.1 s for 1201·256² terms, a busy machine).
const SECONDS_PER_TERM: f64 = 25e-9;

/// Seconds one run takes: every spike and the core at every pixel. Also the kernel's
/// [`crate::Kernel::naive_seconds`].
pub fn seconds(p: &PsfProblem) -> f64 {
    let terms = (p.entrance.len() + p.focal_plane.len() + 1) as f64 * (p.n as f64).powi(2);
    terms * SECONDS_PER_TERM
}

const INFO: VariantInfo = variant!(
    "naive",
    Naive,
    F64,
    "aiapy's loop: for every spike, for every pixel, one scalar exp (1200·N² of them)"
);

impl Variant<PsfProblem> for Naive {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn probe(&self, p: &PsfProblem) -> Availability {
        let estimate = seconds(p);
        let limit = match crate::naive_time_limit_s() {
            Ok(limit) => limit,
            Err(e) => return Availability::Skipped(e.to_string()),
        };
        if estimate > limit {
            Availability::Skipped(format!(
                "estimated {estimate:.0} s at n = {} (limit {:.0} s, HARNESS_NAIVE_LIMIT_S)",
                p.n, limit
            ))
        } else {
            Availability::Ready
        }
    }
    fn prepare(&self, p: &PsfProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(CpuRun {
            buffers: Buffers::new(p, super::CompositeEngine::OneThread),
            parallel: false,
            core,
            spikes,
        }))
    }
}

/// spikes(x, y) = Σ_g I_g·exp(−w(x − cx_g)² − w(y − cy_g)²), every term evaluated.
pub fn spikes(p: &PsfProblem, gaussians: &[Gaussian], out: &mut [f64]) {
    let (n, w) = (p.n, p.width);
    out.fill(0.0);
    for g in gaussians {
        for i in 0..n {
            for j in 0..n {
                let (xc, yc) = (coord(j) - g.cx, coord(i) - g.cy);
                out[i * n + j] += spike_exponent(w, xc, yc).exp() * g.weight;
            }
        }
    }
}

/// The core on every pixel (a block covering the whole grid), and its sum.
pub fn core(p: &PsfProblem) -> Core {
    let n = p.n;
    let half = 0.5 * n as f64;
    let mut values = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let (xc, yc) = (coord(j) - half - 0.5, coord(i) - half - 0.5);
            values[i * n + j] = core_exponent(p.width, xc, yc).exp();
        }
    }
    Core {
        row: 0,
        col: 0,
        cols: n,
        sum: pairwise_sum(&values, false),
        values,
    }
}

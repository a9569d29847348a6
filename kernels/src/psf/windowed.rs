//! `psf/aia/windowed` — the right algorithm: each Gaussian is evaluated only where it is not
//! exactly zero in f64.
//!
//! exp(x) rounds to 0.0 for x < −745.13, so a term with w·r² > 746 is an exact zero. Each
//! spike is therefore evaluated on the (2R+1)² pixels within R = √(746/w) of its centre
//! (R = 12.9 px at w = 4.5, 28 px at the smallest pre-flight width) and nowhere else:
//! about 1200·26² terms instead of 1200·N². Terms are added in naive's order (spike by
//! spike), with the same formula and the same libm `exp`, and the skipped terms are +0.0,
//! so the spike sums equal naive's bit for bit (the tests check it). One thread for the spikes
//! (a few ms); the composite, which now dominates, runs on rayon's threads through the lane
//! engine, as `parallel`'s does ([`super::composite_lanes`]).
//!
//! The zeros outside the windows are known, so the later stages skip them too: the
//! normalisation sums and scales the windows alone ([`super::combine_within`]: at 4096 a
//! dense pass reads 134 MB twice per filter, ~16 ms of ~130 in the profile), and the
//! composite leaves out the row transforms of the rows no window reaches (at 171 Å and
//! 4096, all but ~80 rows of the focal-plane filter, ~1560 of the entrance filter's). Same bits as
//! the dense stages (tested, and compared on the N = 4096 output against the build
//! before). The profile before (`harness profile --kernel psf --n 4096 --variant
//! windowed`, 2 threads, share of CPU samples): row passes 1 and 3 36 %, column passes
//! 2 and 4 23 %, output rows (pass 5) 21 %, normalisation 12 %, spikes 6 %.

use super::{CompositeEngine, CpuRun, Gaussian, PsfProblem, coord, spike_exponent};
use crate::error::KernelError;
use crate::variant::{Prepared, Variant, VariantInfo};

pub struct Windowed;

const INFO: VariantInfo = variant!(
    "windowed",
    Algorithmic,
    F64,
    "evaluate each Gaussian only within R = √(746/w) px of its centre, where exp is not \
         exactly 0.0: equal to the dense sum, ~1000× fewer exponentials"
);

impl Variant<PsfProblem> for Windowed {
    fn info(&self) -> &VariantInfo {
        &INFO
    }
    fn prepare(&self, p: &PsfProblem) -> Result<Box<dyn Prepared>, KernelError> {
        let mut run = CpuRun::with_composite(p, true, CompositeEngine::Lanes, spikes);
        // `spikes` writes only in the windows: the normalisation and the composite's row
        // transforms skip the rest, all +0.0.
        run.buffers.windowed = true;
        Ok(Box::new(run))
    }
}

/// Each spike on its window only.
///
/// `out` is the filter buffer of the previous run (or fresh zeros). Outside the spike windows
/// and the core's window it still holds exact zeros: nothing writes there but the
/// normalisation, which multiplies by a finite nonzero factor (`PsfProblem::new` refuses
/// grids whose spike sum is not normalisable) and adds the core on its window. So only
/// those windows are reset, not the whole grid: at N = 4096 a full `fill(0.0)` writes
/// 134 MB per filter, about 7 ms of this stage's ~16 ms. The tests run every variant twice
/// on one prepared state, which is what would catch a pixel left over.
pub fn spikes(p: &PsfProblem, gaussians: &[Gaussian], out: &mut [f64]) {
    let (n, w) = (p.n, p.width);
    let centre = p.centre();
    let core = Gaussian {
        cx: centre,
        cy: centre,
        weight: 1.0,
    };
    for (r0, r1, c0, c1) in gaussians
        .iter()
        .chain(std::iter::once(&core))
        .filter_map(|g| p.window(g))
    {
        for i in r0..=r1 {
            out[i * n + c0..=i * n + c1].fill(0.0);
        }
    }
    for g in gaussians {
        let Some((r0, r1, c0, c1)) = p.window(g) else {
            continue;
        };
        for i in r0..=r1 {
            let yc = coord(i) - g.cy;
            let row = &mut out[i * n..][..n];
            for (j, o) in row.iter_mut().enumerate().take(c1 + 1).skip(c0) {
                *o += spike_exponent(w, coord(j) - g.cx, yc).exp() * g.weight;
            }
        }
    }
}

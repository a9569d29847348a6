//! `psf/aia/windowed` — the right algorithm: each Gaussian is evaluated only where it is not
//! exactly zero in f64.
//!
//! exp(x) rounds to 0.0 for x < −745.13, so a term with w·r² > 746 is an exact zero. Each
//! spike is therefore evaluated on the (2R+1)² pixels within R = √(746/w) of its centre
//! (R = 12.9 px at w = 4.5, 28 px at the smallest pre-flight width) and nowhere else:
//! about 1200·26² terms instead of 1200·N². Terms are added in naive's order (spike by
//! spike), with the same formula and the same libm `exp`, and the skipped terms are +0.0,
//! so the spike sums equal naive's bit for bit (the tests check it). The spikes go to
//! rayon's threads in bands of rows (a few ms); the composite, which now dominates, runs
//! on rayon's threads through the lane engine, as `parallel`'s does
//! ([`super::composite_lanes`]).
//!
//! The zeros outside the windows are known, so the later stages skip them too: the
//! normalisation sums and scales the windows alone ([`super::combine_within`]: at 4096 a
//! dense pass reads 134 MB twice per filter, ~16 ms of ~130 in the profile), and the
//! composite leaves out the row transforms of the rows no window reaches (at 171 Å and
//! 4096, all but ~80 rows of the focal-plane filter, ~1560 of the entrance filter's).
//! Same bits as the dense stages (tested, and compared on the N = 4096 output against the
//! build before). The profile before (`harness profile --kernel psf --n 4096 --variant
//! windowed`, 2 threads, share of CPU samples): row passes 1 and 3 36 %, column passes
//! 2 and 4 23 %, output rows (pass 5) 21 %, normalisation 12 %, spikes 6 %.

use super::{CompositeEngine, CpuRun, Gaussian, PsfProblem, coord, spike_exponent};
use rayon::prelude::*;

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
        // transforms skip the rest, all +0.0. The windows depend on the problem alone:
        // made here, not in every timed run.
        run.buffers.windows = Some((
            super::Windows::new(p, &p.entrance),
            super::Windows::new(p, &p.focal_plane),
        ));
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
///
/// Bands of [`BAND`] rows go to rayon's threads, each adding every spike's terms on its
/// rows in the spikes' order: each pixel sums the same terms in the same order as on one
/// thread, so the bits do not depend on the thread count (and the N = 4096 output is
/// the one-thread build's byte for byte). Spikes 6.2 + 2.2 ms → 2.9 + 1.4 ms on 2
/// threads (`harness profile`); the whole PSF at 4096 against the one-thread build,
/// `harness compare --against-bin`: 0.958 [0.947–0.966] and 0.931 [0.928–0.936] on a
/// quiet machine, but 1.021 [1.004–1.033] with other tenants on the cores.
pub fn spikes(p: &PsfProblem, gaussians: &[Gaussian], out: &mut [f64]) {
    let (n, w) = (p.n, p.width);
    let centre = p.centre();
    let core = Gaussian {
        cx: centre,
        cy: centre,
        weight: 1.0,
    };
    // The windows once, not once per band (None: the spike misses the grid).
    let windows: Vec<_> = gaussians.iter().map(|g| p.window(g)).collect();
    let core_window = p.window(&core);
    out.par_chunks_mut(BAND * n)
        .enumerate()
        .for_each(|(band, out)| {
            let first = band * BAND;
            let last = first + out.len() / n - 1;
            // The band's rows of a window (inclusive), if any.
            let rows = |r0: usize, r1: usize| {
                let (a, b) = (r0.max(first), r1.min(last));
                (a <= b).then_some(a..=b)
            };
            for &(r0, r1, c0, c1) in windows.iter().chain([&core_window]).flatten() {
                for i in rows(r0, r1).into_iter().flatten() {
                    out[(i - first) * n + c0..=(i - first) * n + c1].fill(0.0);
                }
            }
            for (g, window) in gaussians.iter().zip(&windows) {
                let Some((r0, r1, c0, c1)) = *window else {
                    continue;
                };
                for i in rows(r0, r1).into_iter().flatten() {
                    let yc = coord(i) - g.cy;
                    let row = &mut out[(i - first) * n..][..n];
                    for (j, o) in row.iter_mut().enumerate().take(c1 + 1).skip(c0) {
                        *o += spike_exponent(w, coord(j) - g.cx, yc).exp() * g.weight;
                    }
                }
            }
        });
}

/// Rows per band of [`spikes`]: ~64 bands at 4096, ~40 of them holding entrance spikes.
const BAND: usize = 64;

//! The composite of the two filters (the formula, and why it is read back index-reversed:
//! [`super::composite`]) through the lane engine, [`crate::fft2d::lanes`], on rayon's
//! threads: `psf/aia/parallel`'s composite.
//!
//! [`super::composite::Composite`] gathers 16 columns at a time out of row-major row
//! spectra and transforms them with rustfft; here the spectra are stored *strip-major*
//! (`fft2d::lanes::strips`: strip s is columns s·W .. s·W+W, W = 8 for f64, all N rows
//! contiguous), so that a column pass takes a strip as it is, one column per SIMD lane,
//! and a row pass takes W rows at a time, one per lane, through W × W tile transposes:
//!
//! 1. rows of the focal-plane filter, W at a time: packed, r2c, each W spectrum values
//!    transposed into their strip as they come out;
//! 2. every strip's columns forward, in place and depth first: the focal-plane spectrum,
//!    its rows in the order the column convolution's middle holds them;
//! 3. rows of the entrance filter the same way, into a second spectrum;
//! 4. every strip's columns forward, times the focal-plane spectrum (fused into the
//!    convolution's middle: the product is taken as each value is stored), inverse;
//! 5. output rows W at a time: the W source rows they read (index-reversed) gathered from
//!    the strips, c2r, |·|/N² written index-reversed.
//!
//! Every pass streams from memory at 4096 (each spectrum is 134 MB), and the profile
//! showed the waits: the tiles pass 1 and 3 store (nothing read them in; 257 strips
//! 512 KB apart, too many streams for the hardware prefetcher), the input rows of the
//! pack, the output rows of the unpack, the focal spectrum of the product. Each is now
//! prefetched: the next block's tile of a strip as this block's tile is stored, the
//! rows a few lines ahead, the focal strip 16 values ahead of the product (the whole
//! next strip would evict this one: the two are 1 MB, all of L2). Same arithmetic, same
//! bits; PSF 171 Å at 4096 against the build before (`harness compare --against-bin`,
//! interleaved, 95 % intervals): 0.89 [0.86–0.93] and, the machine loaded, 0.84
//! [0.83–0.87].
//!
//! Rows known to be zero ([`LanesComposite::run_within`], the windowed variant's filters:
//! the focal-plane filter is nonzero on ~80 rows of 4096, the entrance filter on ~2500)
//! are not read or transformed in passes 1 and 3: passes 2 and 4 write zeros there in the
//! strip they are about to transform (in cache) instead. Same bits (tested). With the
//! normalisation over the windows alone (`super::combine_within`), PSF 171 Å at 4096
//! against the build before, `harness compare --against-bin ./old-harness --kernel psf
//! --variant psf/aia/windowed --n 4096` (interleaved, 95 % intervals): 0.643
//! [0.635–0.647], 75.1 → 48.3 ms (quiet machine; stages: normalise 13.3 → 1.8 ms,
//! composite 54.8 → 40.3 ms, `harness profile`), 0.649
//! [0.625–0.672], 137 → 90.5 ms (load ~2.5 on 2 cores), and 0.625 [0.617–0.657],
//! 212 → 135 ms (load 4). `harness bench --kernel psf --variant windowed --n 4096`:
//! median 85 ms (145 ms before, a noisier moment), heap peak 677.3 MB (676.6 before:
//! the windows' ranges, ~1.1 MB, since made once in `prepare`), peak RSS 501 MiB (728:
//! the filters' zero rows are no longer touched).
//!
//! Needs W | N (rows go W at a time); [`LanesComposite::new`] says None otherwise.
//! Every column and row is transformed with the same arithmetic whatever the thread
//! count, so the result does not depend on it.

use std::ops::Range;

use ndarray::{ArrayViewMut2, Axis, Slice};
use rayon::prelude::*;

use crate::fft2d::lanes::{
    LaneFloat, LanesConvolution, LanesScratch, RealLanesFft, Split, prefetch, tiles_out,
};

/// Transforms per vector in f64.
const W: usize = <f64 as LaneFloat>::LANES;

type V = <f64 as LaneFloat>::V;

/// How many spectrum values (128 B each) ahead of the product the focal strip is
/// prefetched: ~15 ns of convolution work per value, so a few hundred ns ahead of use.
const PRODUCT_AHEAD: usize = 16;

/// How many cache lines ahead of the pack each input row is prefetched.
const PACK_AHEAD: usize = 8;

/// How many cache lines ahead (backwards) each output row of the unpack is prefetched.
const UNPACK_AHEAD: usize = 8;

/// One rayon task's work space.
struct Task {
    /// W rows, packed for the real FFT (N/2 values).
    packed: Vec<Split<V>>,
    /// W row spectra, lanes across rows (strips·W values).
    across: Vec<Split<V>>,
    rows: LanesScratch<f64>,
    columns: LanesScratch<f64>,
}

/// Plans and buffers of the lane composite at one size (built in `prepare`).
pub struct LanesComposite {
    n: usize,
    rows: RealLanesFft<f64>,
    columns: LanesConvolution<f64>,
    /// The focal-plane spectrum, strip-major, rows in the column convolution's order.
    focal: Vec<Split<V>>,
    /// The entrance spectrum, then the product's inverse column transforms.
    spectrum: Vec<Split<V>>,
    tasks: Vec<Task>,
}

impl LanesComposite {
    /// Plans for an N × N composite; None unless W divides N (rows go W at a time).
    pub fn new(n: usize) -> Option<LanesComposite> {
        if n < 2 || !n.is_multiple_of(W) {
            return None;
        }
        let strips = (n / 2 + 1).div_ceil(W);
        let rows = RealLanesFft::new(n);
        let columns = LanesConvolution::new(n);
        let tasks = (0..4 * rayon::current_num_threads())
            .map(|_| Task {
                packed: vec![Split::default(); n / 2],
                across: vec![Split::default(); strips * W],
                rows: rows.scratch(),
                columns: columns.scratch(),
            })
            .collect();
        Some(LanesComposite {
            n,
            rows,
            columns,
            focal: vec![Split::default(); strips * n],
            spectrum: vec![Split::default(); strips * n],
            tasks,
        })
    }

    /// Writes the composite of `focal_plane` and `entrance` (N × N, row-major) into `out`.
    pub fn run(&mut self, focal_plane: &[f64], entrance: &[f64], out: &mut [f64]) {
        let n = self.n;
        self.run_within(focal_plane, 0..n, entrance, 0..n, out);
    }

    /// [`Self::run`] for filters whose rows outside `focal_rows` and `entrance_rows` are
    /// all +0.0 (the caller's promise; they are not read): those rows' spectra are zero,
    /// so their row transforms are skipped and the column pass writes zeros there instead
    /// (in the strip it is about to transform, in cache). The same arithmetic on every
    /// other value; a skipped row's transform would have given zeros of either sign,
    /// which change no nonzero sum or product downstream, and `|·|` drops the sign of a
    /// zero result: the output is bit for bit [`Self::run`]'s.
    pub fn run_within(
        &mut self,
        focal_plane: &[f64],
        focal_rows: Range<usize>,
        entrance: &[f64],
        entrance_rows: Range<usize>,
        out: &mut [f64],
    ) {
        let n = self.n;
        assert!(focal_plane.len() == n * n && entrance.len() == n * n && out.len() == n * n);
        assert!(focal_rows.end <= n && entrance_rows.end <= n);
        // Whole blocks of W rows: the rows transformed.
        let blocks = |r: Range<usize>| {
            if r.is_empty() {
                0..0
            } else {
                r.start / W * W..r.end.div_ceil(W) * W
            }
        };
        let (focal_rows, entrance_rows) = (blocks(focal_rows), blocks(entrance_rows));
        // Passes 1 and 2.
        rows_forward(
            &self.rows,
            focal_plane,
            focal_rows.clone(),
            &mut self.focal,
            &mut self.tasks,
        );
        let per = self.strips_per_task() * n;
        let columns = &self.columns;
        self.focal
            .par_chunks_mut(per)
            .zip(self.tasks.par_iter_mut())
            .for_each(|(strips, t)| {
                for strip in strips.chunks_exact_mut(n) {
                    zero_outside(strip, &focal_rows);
                    columns.forward(strip, &mut t.columns);
                }
            });
        // Passes 3 and 4.
        rows_forward(
            &self.rows,
            entrance,
            entrance_rows.clone(),
            &mut self.spectrum,
            &mut self.tasks,
        );
        self.spectrum
            .par_chunks_mut(per)
            .zip(self.focal.par_chunks(per))
            .zip(self.tasks.par_iter_mut())
            .for_each(|((strips, focal), t)| {
                for (strip, f) in strips.chunks_exact_mut(n).zip(focal.chunks_exact(n)) {
                    zero_outside(strip, &entrance_rows);
                    columns.process(strip, &mut t.columns, |i, x| {
                        // The product reads the focal strip in order, i = 0, 1, ...:
                        // ask for it a short way ahead (the next strip would evict this
                        // one from L2: the two are 1 MB at 4096).
                        if let Some(ahead) = f.get(i + PRODUCT_AHEAD) {
                            prefetch(std::slice::from_ref(ahead));
                        }
                        times(x, f[i])
                    });
                }
            });
        // Pass 5.
        self.rows_out(out);
    }

    fn strips_per_task(&self) -> usize {
        (self.focal.len() / self.n).div_ceil(self.tasks.len())
    }

    /// Output rows W at a time: output row i reads spectrum row (N/2 − i) mod N; c2r;
    /// output column j reads sample (N/2 − j) mod N, |·|/N².
    fn rows_out(&mut self, out: &mut [f64]) {
        let n = self.n;
        let per = (n / W).div_ceil(self.tasks.len()) * W;
        let (spectrum, rows) = (&self.spectrum, &self.rows);
        // |·|/N² as a product with 1/N²: exact where N is a power of two (the sizes the
        // composite is timed at), within an ulp otherwise; a division per pixel was a
        // tenth of the composite's time.
        let inv = 1.0 / (n * n) as f64;
        out.par_chunks_mut(per * n)
            .zip(self.tasks.par_iter_mut())
            .enumerate()
            .for_each(|(task, (out, t))| {
                for (b, block) in out.chunks_exact_mut(W * n).enumerate() {
                    let first = task * per + b * W;
                    gather_rows(spectrum, n, |l| (n / 2 + n - first - l) % n, &mut t.across);
                    rows.c2r(&mut t.across[..n / 2 + 1], &mut t.packed, &mut t.rows);
                    unpack_reversed(bytemuck::cast_slice(&t.packed), n, block, inv);
                }
            });
    }
}

/// The inverse of [`pack`] for W output rows, index-reversed and scaled: output column j
/// of row l is `|sample c of lane l|·inv`, c = (N/2 − j) mod N. W samples at a time (one
/// transposed W × W tile of `v`, in L1), without an integer division per pixel (the
/// modulo by a run-time N was most of this pass's time).
fn unpack_reversed(v: &[f64], n: usize, block: &mut [f64], inv: f64) {
    for (q, tile) in v.chunks_exact(W * W).enumerate() {
        for (t, lanes) in tile.chunks_exact(W).enumerate() {
            let c = q * W + t;
            let j = if c <= n / 2 { n / 2 - c } else { n + n / 2 - c };
            // W output rows written at once, each backwards: a few lines ahead in each
            // (one value per line; none across the wrap from column 0 to N − 1).
            if t == 0
                && let Some(jp) = j.checked_sub(UNPACK_AHEAD * W)
            {
                for l in 0..W {
                    prefetch(&block[l * n + jp..][..1]);
                }
            }
            for (l, &x) in lanes.iter().enumerate() {
                block[l * n + j] = x.abs() * inv;
            }
        }
    }
}

/// A strip's rows outside `rows` set to zero (their row transforms were skipped).
fn zero_outside(strip: &mut [Split<V>], rows: &Range<usize>) {
    strip[..rows.start].fill(Split::default());
    strip[rows.end..].fill(Split::default());
}

/// Rows `rows` of `x` (N × N, row-major; whole blocks of W) W at a time: packed, r2c, into
/// the strips of `spectrum`. The strips' other rows are left as they are.
fn rows_forward(
    rows: &RealLanesFft<f64>,
    x: &[f64],
    range: Range<usize>,
    spectrum: &mut [Split<V>],
    tasks: &mut [Task],
) {
    let n = 2 * rows.half();
    if range.is_empty() {
        return;
    }
    let per = (range.len() / W).div_ceil(tasks.len()) * W;
    let x = &x[range.start * n..range.end * n];
    ArrayViewMut2::from_shape((spectrum.len() / n, n), spectrum)
        .expect("the spectrum is strips × N")
        .slice_axis_move(Axis(1), Slice::from(range))
        .into_axis_chunks_iter_mut(Axis(1), per)
        .into_par_iter()
        .zip(x.par_chunks(per * n))
        .zip(tasks.par_iter_mut())
        .for_each(|((mut view, x), t)| {
            for (b, block) in x.chunks_exact(W * n).enumerate() {
                pack(block, n, &mut t.packed);
                let (mut here, ahead) = view.view_mut().split_at(Axis(1), (b + 1) * W);
                let mut store = tiles_out::<f64>(&mut here, b * W, rows.half());
                rows.r2c_each(&mut t.packed, &mut t.rows, |k, x| {
                    // Each tile stored misses (nothing read it in; the strips are 512 KB
                    // apart, too scattered for the hardware prefetcher): ask for the
                    // next block's tile of this strip now, a block's work ahead.
                    if k % W == 0
                        && let Some(next) = ahead.row(k / W).to_slice().and_then(|r| r.get(..W))
                    {
                        prefetch(next);
                    }
                    store(k, x)
                });
            }
        });
}

/// W rows (row-major, N each) packed for [`RealLanesFft`]: element k, lane l holds
/// x[l][2k] (re) and x[l][2k+1] (im).
///
/// Packed element k, part p, lane l is value `2W·k + W·p + l` of `packed`, i.e. sample
/// 2k+p of row l at `W·(2k+p) + l`: a W × N → N × W transpose. Done W columns at a time
/// (W·W values: 512 B out, one cache line of each of the W rows in): going row by row
/// instead wrote every line of `packed` (256 KB at N = 4096) W times, once per lane, and
/// took a quarter of the whole PSF's time at 4096 in the profile.
fn pack(block: &[f64], n: usize, packed: &mut [Split<V>]) {
    let v: &mut [f64] = bytemuck::cast_slice_mut(packed);
    for (c, out) in v.chunks_exact_mut(W * W).enumerate() {
        for (l, row) in block.chunks_exact(n).enumerate() {
            // W rows read at once from memory: a few lines ahead in each.
            if let Some(ahead) = row.get((c + PACK_AHEAD) * W..(c + PACK_AHEAD + 1) * W) {
                prefetch(ahead);
            }
            for (t, &x) in row[c * W..][..W].iter().enumerate() {
                out[W * t + l] = x;
            }
        }
    }
}
/// Spectrum rows `row(0..W)` of every strip, turned so that lane l holds row `row(l)`:
/// `across[s·W + j]` lane l = spectrum row row(l), column s·W + j.
fn gather_rows(
    spectrum: &[Split<V>],
    n: usize,
    row: impl Fn(usize) -> usize,
    across: &mut [Split<V>],
) {
    // The W rows once per block, not once per strip (`row` takes a modulo by N).
    let rows: [usize; W] = std::array::from_fn(&row);
    let mut tile = [Split::default(); W];
    for (strip, out) in spectrum.chunks_exact(n).zip(across.chunks_exact_mut(W)) {
        for (t, &r) in tile.iter_mut().zip(&rows) {
            *t = strip[r];
        }
        // The next block reads the W rows below these: start fetching them (one
        // strip apart each, too scattered for the hardware prefetcher).
        let low = rows.iter().min().copied().unwrap_or(0);
        if let Some(next) = low.checked_sub(W).and_then(|l| strip.get(l..low)) {
            prefetch(next);
        }
        f64::transpose(&tile, out);
    }
}

/// `x · f`, lane by lane.
#[inline(always)]
fn times(x: Split<V>, f: Split<V>) -> Split<V> {
    Split {
        re: x.re * f.re - x.im * f.im,
        im: x.re * f.im + x.im * f.re,
    }
}

#[cfg(test)]
mod tests {
    use super::super::composite::Composite;
    use super::*;

    fn filters(n: usize) -> (Vec<f64>, Vec<f64>) {
        let fp = (0..n * n)
            .map(|i| ((i * 7919) % 97) as f64 / 97.0)
            .collect();
        let e = (0..n * n)
            .map(|i| ((i * 104729) % 89) as f64 / 89.0)
            .collect();
        (fp, e)
    }

    #[test]
    fn matches_the_rustfft_composite() {
        // 16, 64: radix 8 and 4/2; 40 = 8·5 and 120 = 8·3·5: mixed radices; 88 = 8·11:
        // the columns through the lane FFT's fallback. The rustfft composite is itself
        // checked against aiapy's double forward DFT (composite.rs); both round an FFT of
        // N² points, a few log2(N²)·ε of the peak apart.
        for n in [16, 64, 40, 120, 88] {
            let (fp, e) = filters(n);
            let mut expected = vec![f64::NAN; n * n];
            Composite::new(n, false)
                .run(&fp, &e, &mut expected)
                .unwrap();
            let mut got = vec![f64::NAN; n * n];
            LanesComposite::new(n)
                .expect("8 divides n")
                .run(&fp, &e, &mut got);
            let peak = expected.iter().fold(0.0f64, |m, v| m.max(*v));
            let bound = 8.0 * (2.0 * (n as f64).log2()) * f64::EPSILON * peak;
            let worst = (0..n * n)
                .max_by(|&a, &b| {
                    let d = |k: usize| (got[k] - expected[k]).abs();
                    d(a).total_cmp(&d(b))
                })
                .unwrap();
            assert!(
                (got[worst] - expected[worst]).abs() <= bound,
                "n {n}, pixel ({}, {}): {} vs {} (bound {bound:.2e})",
                worst / n,
                worst % n,
                got[worst],
                expected[worst]
            );
        }
    }

    #[test]
    fn skipping_zero_rows_changes_no_bit() {
        // Rows outside the ranges zeroed; ranges not on block boundaries, empty, whole;
        // 88: the columns through the lane FFT's fallback. Run twice on one plan: the
        // zeros are rewritten each time, not left from the first run.
        for (n, fr, er) in [
            (64, 27..37, 3..61),
            (64, 0..0, 8..16),
            (40, 0..40, 13..14),
            (88, 40..49, 0..88),
        ] {
            let (mut fp, mut e) = filters(n);
            fp[..fr.start * n].fill(0.0);
            fp[fr.end * n..].fill(0.0);
            e[..er.start * n].fill(0.0);
            e[er.end * n..].fill(0.0);
            let mut plan = LanesComposite::new(n).expect("8 divides n");
            let mut expected = vec![f64::NAN; n * n];
            plan.run(&fp, &e, &mut expected);
            for _ in 0..2 {
                let mut got = vec![f64::NAN; n * n];
                plan.run_within(&fp, fr.clone(), &e, er.clone(), &mut got);
                let differ = (0..n * n).find(|&k| got[k].to_bits() != expected[k].to_bits());
                assert!(differ.is_none(), "n {n}, pixel {differ:?}");
                plan.run(&e, &fp, &mut got);
            }
        }
    }

    #[test]
    fn needs_w_to_divide_n() {
        assert!(LanesComposite::new(12).is_none());
        assert!(LanesComposite::new(20).is_none());
        assert!(LanesComposite::new(24).is_some());
    }
}

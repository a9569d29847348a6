//! `deconv/*/lanes`, `deconv/*/lanes-f32` — `parallel`'s four fused passes per iteration,
//! with the changes its flame graph, and then this variant's own, asked for at 4096².
//!
//! 1. **Columns in SIMD lanes.** `parallel` gathers 16 columns at a time out of the
//!    row-major spectrum: 16 values from each of 4096 rows, a new memory page per row.
//!    That gather and its scatter took 40 % of the run (`harness profile --kernel deconv
//!    --n 4096 --variant parallel`), more than the column FFTs. Here the spectrum is
//!    stored *strip-major*: strip s is spectrum columns `s·W .. s·W+W` (W = 8 for f64,
//!    16 for f32: one AVX-512 vector), all R rows of it contiguous, each row one
//!    [`Split`] value (W real parts, then W imaginary parts). A column pass needs no
//!    gather at all: [`LanesConvolution`] convolves the W columns of a strip at once,
//!    lane j being column s·W+j, with no shuffles, in place and depth first (mostly in
//!    L1: 4096² column passes 20.8 → 15.7 ms against two Stockham `LanesFft` calls).
//!    Its middle holds the frequencies in digit-reversed order, so P is stored in that
//!    order too.
//! 2. **Rows in lanes too.** A row pass takes W rows at a time, one per lane: the W × W
//!    tile of each strip (W consecutive rows, 1 KB contiguous) is transposed in
//!    registers, so that lane i holds row i, and [`RealLanesFft::round_trip`] does the
//!    W real rows' c2r, the element-wise step and the r2c, its complex transforms in
//!    place like the columns' (in its middle the samples are in digit-reversed order,
//!    so image and estimate are stored packed in that order). The r2c's values go
//!    straight into the tiles as they come out. Where W does not divide R (1000 and
//!    3000 rows in f32, W = 16), the last block holds R mod W real rows and W − R mod W
//!    *dummy* lanes: copies of row R − 1 (in the packed image and estimate, and in the
//!    tiles [`get_across`] reads), so they compute exactly what row R − 1's lane
//!    computes and stay as finite as it; their results are never stored
//!    ([`tiles_out`], `unpack`) and the non-finite check looks at the real lanes only.
//!    (Where C is odd, each row goes through realfft instead, gathered from the strips
//!    one value per strip: [`RealLanesFft`] packs x[2n], x[2n+1] into one complex value
//!    and needs an even length. An odd C would need a full-length complex lane transform
//!    with the Hermitian half expanded, twice the work of the packed one and a new path
//!    in `fft2d::lanes::real`; no size the issue names has an odd side.)
//! 3. **The ratio without the divider.** `img / blurred` is taken with
//!    [`LaneFloat::div_fast`]: the divisions alone took a fifth of the ratio pass at
//!    4096² (12.5 of 67 CPU-ms per iteration), the divider's throughput being their
//!    limit. A block in which some ratio is not finite is done again in natural order
//!    with IEEE division, so that the error reports what aiapy would compute, where it
//!    first happens.
//! 4. **The next piece prefetched.** At 1000² (f64) spectrum, P, image and estimate are
//!    8 MB each: more than L3 holds, so every pass streams from memory, and the profile
//!    showed the loads of P (column passes) and of the image and estimate (row passes)
//!    waiting. Each pass now asks for the next strip's spectrum and P, or the next
//!    block's image or estimate, value i as its own work reaches position i (spread
//!    over the work, not one burst), and the conjugate column pass walks the strips
//!    backwards, starting where the first one ended. 1000², 25 iterations, against the
//!    build before (`harness compare --against-bin`, interleaved, 95 % intervals): f64
//!    0.81 [0.78–0.85], f32 0.86 [0.82–0.88], 3000×5000 f64 0.85 [0.65–0.90].
//! 5. **1000² (f64), where the time goes** (issue 20: ≥ 10× aiapy). `harness profile
//!    --kernel deconv --case synthetic --n 1000 --variant lanes`: column passes 36 % of
//!    the samples, the ratio row pass 32 %, the update row pass 30 %; in the rows the
//!    r2c's fold with the tile stores 18 %, `get_across` 11 %, the 500-point (4·5³)
//!    complex stages 23 %. The hottest single instructions (`perf record -e cpu-clock`)
//!    wait on P's loads in the column leaves and on the spectrum tiles in
//!    `get_across`: memory, as at 4096². Not the radix-5 stages: `harness compare
//!    --variant lanes,lanes-f32 --n 1000,1024` (interleaved) gave 94.2 ms at 1000² and
//!    103 ms at 1024² (8³·2), the same time per pixel (94 against 98 ns); f32 takes
//!    0.473 [0.469–0.475] of f64's time at 1000², 0.449 at 1024². The radix-5
//!    butterfly already has the symmetric form's minimum of operations with FMA (36 per
//!    5 points, before twiddles), and a radix-25 stage would do the same arithmetic
//!    with 50 registers' worth of values (spills). What did help: the stage closures
//!    and the r2c's store inlined (`fft2d::lanes::convolution::forward_stage`), 1000²
//!    0.959 [0.935–0.972], f32 0.975 [0.946–0.989], 1000×1200 0.955 [0.918–0.982],
//!    1920×1200 0.949 [0.933–0.996] (`--sigma 3`), bit-identical outputs; 4096² "no
//!    difference" twice, 1.010 [0.831–1.156] and 1.032 [1.000–1.075], but of the two
//!    parts the convolution's costs there: the store's inlining alone against both,
//!    1000² 1.033 [1.022–1.039] (the convolution's part helps 1000²), 4096² 0.944
//!    [0.907–0.977] (and costs 4096²), all on a loaded machine. Against aiapy
//!    (`harness compare --kernel deconv --case synthetic --n 1000 --variant
//!    py-aiapy-deconv,lanes --budget 20`, paired): 0.095 [0.094–0.097], 10.5×; the build
//!    before gave 0.102 [0.101–0.105], 9.8×, in a run of its own (aiapy uses one core,
//!    ours two: the ratio moves with the machine's load). Prefetching the P of each
//!    task's first strip (which no strip before it fetches) 32 positions ahead of the
//!    products made no difference (f64 1.009 [0.998–1.030], f32 1.059 [1.030–1.079])
//!    and is not in.
//! 6. **4096² (issue 20: f64 at 33 % of the roofline, f32 not 2× f64), huge pages.** At
//!    4096² every pass streams from memory: ~1.74 GB per f64 iteration (spectrum read and
//!    written four times, P twice, image once, estimate twice) in ~50 ms, ~35 GB/s against
//!    the harness's 42 GB/s copy bandwidth; a row block's working set (257 tiles, the
//!    packed row, the image block and the next block's prefetched tiles and image, ~1.5
//!    MB) is larger than L2 (1 MB). The spectrum, P, packed image and estimate are now
//!    allocated through `big_vec`, which asks for transparent huge pages (this machine's
//!    THP mode is `madvise`) before the first touch. Huge pages alone made 4096² f64
//!    *slower*: 1.065 [1.046–1.081], f32 0.947 [0.939–0.958] (`harness compare
//!    --against-bin`, `--budget 60`, load ~2): the low 21 bits of an address become
//!    physical, and strips 512 KB apart put every tile of a row block into the same few
//!    L2 and L3 sets. So where R is a multiple of 128, and the kernel gives huge pages,
//!    the strips are one tile (W values) further apart (`strip_stride`). 4096², against
//!    the build before (`harness compare --against-bin ./old-harness --kernel deconv
//!    --case synthetic --n 4096 --variant lanes,lanes-f32 --budget 40`, load 1.3–2): f64
//!    0.975 [0.967–0.981], f32 0.959 [0.945–0.963], and again with the committed build
//!    (`--budget 30`, load 1.6–1.9): f64 0.939 [0.926–0.945], f32 0.975 [0.961–0.985];
//!    1000² (huge pages, no pad; `--budget 60`) f64 0.992 [0.988–0.997], f32 0.986
//!    [0.983–0.991]; 3000×5000 (`--sigma 2`) f64 0.992 [0.984–1.000], f32 0.978
//!    [0.965–0.985]; the pad at 1000² cost 1.042 [1.037–1.048] and is not used there.
//!    Outputs bit-identical (`harness run` at 1000² and 4096², both precisions, `cmp`).
//!    `harness bench --n 4096 --variant lanes`: 36 % of the roofline before and after
//!    (1.23 s both, separate runs on a shared machine). f64/f32 at 4096² is ~1.9 here
//!    (1.26 s / 695 ms, 1.22 s / 670 ms in the runs above), not the 1.65 the issue
//!    quotes. What did not help at 4096² (each against the build before, `--budget 20`-30,
//!    load 2–4): the pad without huge pages, f64 1.083 [1.046–1.132], f32 1.028
//!    [1.007–1.059]; in `get_across`, a T0 prefetch of the tile 4 strips ahead, f64 1.033
//!    [0.975–1.140], f32 1.025 [1.009–1.067]; in `tiles_out`, a prefetch for writing of
//!    the tile 4 strips ahead, 1.007 [0.987–1.023], 1.026 [0.985–1.036]; in the column
//!    pass, P prefetched 64 positions ahead in the strip instead of the next strip's,
//!    1.003 [0.955–1.012], 0.988 [0.950–1.026]. None of these is in.
//! 7. **f32 at 4096² (issue 20: f32 ≥ 2× f64), the next tiles spread and the strips
//!    shared evenly.** Timed pass by pass (25 iterations, 4096², one run each), f32 took
//!    5.9–6.4 ms a column pass and 8.4–9.8 ms a row pass, f64 10.6–12.5 and 12.9–16.9:
//!    f32's row passes were 1.5× faster than f64's, not 2×, and `get_across` held 13 % of
//!    an f32 run's samples, in its tile loads. The next block's tiles were asked for in
//!    one burst at the start of a block; they are now asked for value by value as the
//!    round trip goes ([`NextTiles`]), wherever a block's tiles are over 128 KB. And the
//!    column pass cut its strips into ⌈n/tasks⌉-strip runs, the last short (129 f32 strips
//!    in 8 tasks: 7 × 17 and 10, shares of 68 and 61 strips for two threads); the runs now
//!    differ by one strip at most ([`shares`]). `harness compare --against-bin` (interleaved,
//!    `--budget 25`, load ~2): spread tiles, 4096² f64 1.007 [0.948–1.037], f32 0.945
//!    [0.905–0.998]; then even shares on top, f64 1.006 [0.981–1.030], f32 0.960
//!    [0.929–0.981]; both against the build before, 3000 × 5000 (`--sigma 2`) f64 1.004
//!    [0.979–1.024], f32 0.935 [0.893–0.996]; 2048² (`--budget 15`) f64 0.955
//!    [0.936–0.962], f32 0.926 [0.915–0.940]; 1000² f64 1.010 [1.002–1.016], f32 1.007
//!    [1.000–1.017] (at 1000² the tiles still come in one burst: spread, they cost f64
//!    1.032 [1.025–1.038], f32 1.053 [1.046–1.060]). Not prefetching the next image or
//!    estimate block (the hardware prefetcher could stream it) made 4096² f64 1.145
//!    [1.115–1.216] slower; eight tasks per thread instead of four (finer shares for a
//!    thread slowed by a neighbour), f64 0.996 [0.994–0.999], f32 1.064 [1.052–1.072]:
//!    neither is in.
//! 8. **What did not help: the tiles turned straight into the unfold.** A row pass turns
//!    its block's tiles into `across` (M + 1 values, 64 KB at 1000², 263 KB at 4096²),
//!    which the c2r's unfold then reads from both ends. Reading the tiles in mirrored pairs
//!    instead (low strips walking up, high ones down, each tile turned into a W-value
//!    window, no buffer; stores held back while a ratio is not finite, so that the
//!    fallback could read the tiles again) gave the same bits and was slower (`harness
//!    compare --against-bin`, Zen 4 host): 1000² (`--budget 20`) f64 1.027 [1.022–1.033],
//!    f32 1.079 [1.070–1.085]; 4096² (`--budget 30`) f64 1.130 [0.927–1.136], f32 1.053
//!    [1.019–1.074]. The windows' per-value strip checks and copies held 5.7 % of a 1000²
//!    profile's samples, more than the buffer's pass through L2 had cost. Not in.
//!
//! ```text
//! columns: strip by strip: forward · P/(RC) · inverse        (in place, depth first)
//! rows:    W at a time: tiles in → c2r · (img / ·) · r2c → tiles out     (in place)
//! columns: forward · conj(P)/(RC) · inverse
//! rows:    tiles in → c2r · (est *= ·) · r2c of est → tiles out
//! ```
//!
//! The lane transforms are mixed radix (8, 4, 2, 7, 5, 3): every side whose prime
//! factors are at most 7 (1000, 1200, 1920, 3000, 5000, the powers of two) stays in the
//! lanes, in place and depth first. Sides with a larger prime factor fall back to
//! rustfft one lane at a time, correct but slow (before the mixed radices, 1000² took
//! 404 ms against `parallel`'s 209 ms this way). Any R × C works; rows go W at a time
//! (packed) wherever C is even, the last block partial where W does not divide R.
//!
//! Columns past C/2+1 in the last strip are zero and stay zero. Every row and strip is
//! transformed with the same arithmetic whatever the thread count: bit-identical output
//! for any number of threads. It differs from `parallel` in the last bits: its FFTs
//! round differently (radix 8 with fused multiply-adds, not rustfft's), and its ratio
//! is within an ulp of IEEE division, not always equal to it.

use std::cell::Cell;
use std::sync::Arc;

use ndarray::{ArrayViewMut2, Axis, ShapeBuilder};
use num_complex::Complex;
use rayon::prelude::*;

use super::{DeconvProblem, NonFinite, cast, divide_row, non_finite, widen};
use crate::check::Output;
use crate::error::KernelError;
use crate::fft2d::lanes::{
    LaneFloat, LanesConvolution, LanesScratch, NextTiles, RealLanesFft, Split, get_across,
    prefetch, tiles_out,
};
use crate::fft2d::{Fft2d, Scratch};
use crate::variant::{Availability, Precision, Prepared, Variant, VariantInfo};

/// Both precisions: `Lanes(Precision::F64)` and `Lanes(Precision::F32)`.
pub struct Lanes(pub Precision);

const INFO: [VariantInfo; 2] = variant_pair!(
    "lanes",
    "lanes-f32",
    Parallel,
    "parallel's fused passes, with the spectrum stored as strips of columns: one column \
     (or row) per SIMD lane, convolved in place by our own mixed-radix FFT, no gather"
);

impl Variant<DeconvProblem> for Lanes {
    fn info(&self) -> &VariantInfo {
        self.0.pick(&INFO)
    }
    fn probe(&self, p: &DeconvProblem) -> Availability {
        p.availability()
    }
    fn prepare(&self, p: &DeconvProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(match self.0 {
            Precision::F64 => Box::new(Run::<f64>::new(p)),
            Precision::F32 => Box::new(Run::<f32>::new(p)),
        })
    }
}

/// One rayon task's scratch space.
struct Task<T: LaneFloat> {
    row: Scratch<T>,
    /// The column convolution's work space (none for power-of-two R).
    lanes: LanesScratch<T>,
    /// One spectrum row in numpy's layout (C/2+1 interleaved complex values).
    line: Vec<Complex<T>>,
    /// Packed rows only: W spectrum rows, lanes across rows (strips·W values), ...
    across: Vec<Split<T::V>>,
    /// ... the same W rows in image space, packed (C/2 values), ...
    real: Vec<Split<T::V>>,
    /// ... and the packed real FFT's work space.
    packed: Option<LanesScratch<T>>,
}

/// Rows W at a time, one per lane: image and estimate stored in blocks of W rows, packed
/// for [`RealLanesFft`] and in the order its round trip sees the samples (block b,
/// element i holds x[bW + lane][2n] and x[bW + lane][2n+1] for n = `order[i]`).
struct Packed<T: LaneFloat> {
    fft: RealLanesFft<T>,
    /// `order[i]`: the packed sample at position i, [`RealLanesFft::sample`].
    order: Vec<usize>,
    image: Vec<Split<T::V>>,
    estimate: Vec<Split<T::V>>,
}

/// The prepared state; the pipeline kernel reuses it image after image through
/// [`super::engine`] ([`Run::load`], then [`Prepared::run`]).
pub(super) struct Run<T: LaneFloat> {
    problem: DeconvProblem,
    /// Row plans (realfft); its column plans are not used.
    rows: Fft2d<T>,
    /// The column convolutions, in place: between its two transforms, position i of a
    /// strip holds frequency row `columns.frequency(i)`.
    columns: LanesConvolution<T>,
    tasks: Vec<Task<T>>,
    /// Row-major, for the row-at-a-time path (empty when rows are packed).
    image: Vec<T>,
    /// P/(RC), strip-major like the spectrum, its rows in the order the column
    /// convolution's middle holds them (frequency row `columns.frequency(i)` at i).
    transfer: Vec<Split<T::V>>,
    /// Row-major, for the row-at-a-time path only (empty when rows are packed: see
    /// `spectrum`).
    estimate: Vec<T>,
    /// Strip-major: row r of strip s is element `s·stride + r`. Lanes past C/2+1 in the last
    /// strip are zero from allocation and stay zero on the row-at-a-time path (no pass
    /// writes anything else there). With packed rows, a finished run leaves the
    /// deconvolved image here, row-major in its first R·C values ([`Run::estimate`]: the
    /// spectrum is not needed between runs, and this saves an image's worth of heap); the
    /// next run's first row pass rewrites every value, zero lanes included
    /// ([`tiles_out`] stores whole tiles).
    spectrum: Vec<Split<T::V>>,
    /// Values from one strip's start to the next's, in `spectrum` and `transfer`:
    /// [`strip_stride`].
    stride: usize,
    /// Rows in lanes too, where C is even (⌈R/W⌉ blocks, the last one partial where W
    /// does not divide R); otherwise one row at a time through realfft.
    packed: Option<Packed<T>>,
    non_finite: Option<NonFinite>,
}

impl<T: LaneFloat> Run<T> {
    /// Four tasks per thread of the current pool (the deconv variant).
    pub(super) fn new(p: &DeconvProblem) -> Self {
        Self::with_tasks(p, 4 * rayon::current_num_threads())
    }

    /// A state whose passes are cut into `tasks` pieces (at least 1). With one task every
    /// pass is one piece, which rayon runs on the calling thread: a one-thread engine
    /// that never hands work to the pool (the pipeline's workers over images). The
    /// arithmetic does not depend on `tasks`: the output is the same to the bit.
    pub(super) fn with_tasks(p: &DeconvProblem, tasks: usize) -> Self {
        Self::with_stride(p, tasks, strip_stride::<T>(p.rows()))
    }

    /// [`Run::with_tasks`] with the strips `stride` values apart (R, or R plus one tile:
    /// the tests run both wherever they are, huge pages or not).
    fn with_stride(p: &DeconvProblem, tasks: usize, stride: usize) -> Self {
        let (r, c) = (p.rows(), p.cols());
        debug_assert!(stride == r || stride == r + T::LANES, "a strip and its pad");
        let rows = Fft2d::<T>::new(r, c);
        let half = rows.half();
        let strips = half.div_ceil(T::LANES);
        let columns = LanesConvolution::new(r);
        // irfft2's 1/(RC) folded into P (exact for power-of-two sides), as `parallel` does.
        let scale = 1.0 / (r * c) as f64;
        let p_f64 = p.transfer();
        let mut transfer = big_vec(strips * stride);
        {
            let values: &mut [T] = bytemuck::cast_slice_mut(&mut transfer);
            let w = T::LANES;
            for i in 0..r {
                let k = columns.frequency(i);
                for l in 0..half {
                    let z = p_f64[k * half + l] * scale;
                    let at = 2 * w * ((l / w) * stride + i) + l % w;
                    values[at] = T::from_f64(z.re).expect("finite");
                    values[at + w] = T::from_f64(z.im).expect("finite");
                }
            }
        }
        let mut image = cast(&p.clipped_image());
        let packed = (c % 2 == 0).then(|| {
            let fft = RealLanesFft::new(c);
            let order: Vec<usize> = (0..c / 2).map(|i| fft.sample(i)).collect();
            Packed {
                image: pack(&image, c, &order),
                estimate: big_vec(r.div_ceil(T::LANES) * c / 2),
                fft,
                order,
            }
        });
        if packed.is_some() {
            // Only the packed copy is read from here on: don't hold the image twice.
            image = Vec::new();
        }
        let tasks = (0..tasks.max(1))
            .map(|_| Task {
                row: rows.row_scratch(),
                lanes: columns.scratch(),
                line: vec![Complex::default(); half],
                across: vec![
                    Split::default();
                    if packed.is_some() {
                        strips * T::LANES
                    } else {
                        0
                    }
                ],
                real: vec![Split::default(); if packed.is_some() { c / 2 } else { 0 }],
                packed: packed.as_ref().map(|k| k.fft.scratch()),
            })
            .collect();
        Run {
            problem: p.clone(),
            tasks,
            image,
            transfer,
            estimate: vec![T::zero(); if packed.is_some() { 0 } else { r * c }],
            spectrum: big_vec(strips * stride),
            stride,
            packed,
            non_finite: None,
            columns,
            rows,
        }
    }

    /// Makes `p` the next problem: another image of the same shape, deconvolved with the
    /// same PSF and iterations (the PSF spectrum made in [`Run::new`] is kept). Packed rows
    /// are packed in place: nothing is allocated.
    pub(super) fn load(&mut self, p: &DeconvProblem) {
        debug_assert!(Arc::ptr_eq(&p.psf, &self.problem.psf), "one PSF per state");
        debug_assert_eq!(p.iterations, self.problem.iterations);
        match &mut self.packed {
            Some(k) => {
                let value = |row: usize, col: usize| {
                    T::from_f64(p.clipped(p.image[[row, col]])).expect("finite f64 converts")
                };
                pack_into(self.rows.cols(), p.rows(), &k.order, &mut k.image, value);
            }
            None => p.clip_into(&mut self.image),
        }
        self.problem = p.clone();
    }

    /// The deconvolved image of the last run, row-major.
    pub(super) fn estimate(&self) -> &[T] {
        match self.packed {
            Some(_) => &bytemuck::cast_slice(&self.spectrum)[..self.estimate_len()],
            None => &self.estimate,
        }
    }

    /// R·C.
    fn estimate_len(&self) -> usize {
        self.rows.rows() * self.rows.cols()
    }

    /// Where a packed run unpacks its output: the spectrum's first R·C values.
    fn packed_output(spectrum: &mut [Split<T::V>], len: usize) -> &mut [T] {
        &mut bytemuck::cast_slice_mut(spectrum)[..len]
    }

    fn strips(&self) -> usize {
        self.spectrum.len() / self.stride
    }

    /// Column pass: every strip forward, times P/(RC) (or its conjugate), inverse. The
    /// conjugate pass walks the strips backwards (tasks and strips within a task): the
    /// strips of P it starts with are the ones the forward pass read last, the likeliest
    /// to be still in L3 after the row pass in between.
    fn convolve_columns(&mut self, conjugate: bool) {
        let (r, stride) = (self.rows.rows(), self.stride);
        let shares = shares(self.strips(), self.tasks.len());
        let (mut spec, mut p) = (&mut self.spectrum[..], &self.transfer[..]);
        let pieces: Vec<_> = shares
            .map(|n| {
                let (here, rest) = std::mem::take(&mut spec).split_at_mut(n * stride);
                spec = rest;
                let (p_here, p_rest) = p.split_at(n * stride);
                p = p_rest;
                (here, p_here)
            })
            .collect();
        let columns = &self.columns;
        let work = pieces.into_par_iter().zip(self.tasks.par_iter_mut());
        match conjugate {
            false => work.for_each(|((spec, p), t)| {
                convolve_strips::<T, false>(columns, spec, p, &mut t.lanes, [r, stride])
            }),
            true => work.rev().for_each(|((spec, p), t)| {
                convolve_strips::<T, true>(columns, spec, p, &mut t.lanes, [r, stride])
            }),
        }
    }

    /// The spectrum as a (strip, row) matrix (rows `stride` apart) cut into blocks of
    /// `per` rows, one per task.
    fn row_blocks(
        spectrum: &mut [Split<T::V>],
        [rows, stride]: [usize; 2],
        per: usize,
    ) -> impl IndexedParallelIterator<Item = ArrayViewMut2<'_, Split<T::V>>> {
        let shape = (spectrum.len() / stride, rows).strides((stride, 1));
        ArrayViewMut2::from_shape(shape, spectrum)
            .expect("spectrum is strips × stride")
            .into_axis_chunks_iter_mut(Axis(1), per)
            .into_par_iter()
    }
}

/// `n` strips in `parts` runs whose lengths differ by one strip at most, in order.
/// `par_chunks` of ⌈n/parts⌉ would leave the last run short: 129 f32 strips (4096²) in 8
/// tasks were 7 × 17 and 10, the two threads' shares at best 68 and 61 strips.
fn shares(n: usize, parts: usize) -> impl Iterator<Item = usize> {
    let parts = parts.clamp(1, n.max(1));
    (0..parts).map(move |i| n / parts + usize::from(i < n % parts))
}

/// One task's strips (`spec`, with their P in `p`; each `r` values, `stride` apart)
/// convolved in turn, backwards when `CONJ`. While a strip is convolved, the next one's
/// spectrum and P are prefetched, value i of each as `op` reaches position i: spread over
/// the strip's work, not in one burst.
fn convolve_strips<T: LaneFloat, const CONJ: bool>(
    columns: &LanesConvolution<T>,
    spec: &mut [Split<T::V>],
    p: &[Split<T::V>],
    lanes: &mut LanesScratch<T>,
    [r, stride]: [usize; 2],
) {
    let strips = spec.len() / stride;
    for k in 0..strips {
        let (s, next) = if CONJ {
            (strips - 1 - k, (strips - 1 - k).checked_sub(1))
        } else {
            (k, Some(k + 1).filter(|&n| n < strips))
        };
        let (before, after) = spec.split_at_mut(s * stride);
        let (strip, after) = after.split_at_mut(stride);
        let strip = &mut strip[..r];
        let p_of = |n: usize| &p[n * stride..n * stride + r];
        let upcoming = match next {
            Some(n) if n < s => (&before[n * stride..n * stride + r], p_of(n)),
            Some(n) => (&after[..r], p_of(n)),
            None => (&[][..], &[][..]),
        };
        let p = p_of(s);
        columns.process(strip, lanes, |i, x| {
            if let (Some(a), Some(b)) = (upcoming.0.get(i), upcoming.1.get(i)) {
                prefetch(std::slice::from_ref(a));
                prefetch(std::slice::from_ref(b));
            }
            times::<T>(x, p[i], CONJ)
        });
    }
}

/// Values from one strip's start to the next's in the spectrum and P: R, plus one tile
/// (W values) where R is a multiple of 128. With huge pages ([`big_vec`]) the low 21 bits
/// of an address are its physical ones, and strips R·128 B apart (512 KB at R = 4096)
/// put the W × W tiles of a row block, one per strip, into a few L2 and L3 sets; a stride
/// that is a multiple of 16 KB allows at most 128 places in a 2 MB page. At 1000² the
/// pad cost 4 % instead (point 6). Without huge pages the pad made 4096² slower (f64
/// 1.083 [1.046–1.132]): it is only used where the kernel gives them ([`huge_pages_on`]).
fn strip_stride<T: LaneFloat>(r: usize) -> usize {
    match r.is_multiple_of(128) && huge_pages_on() {
        true => r + T::LANES,
        false => r,
    }
}

/// Whether [`big_vec`]'s advice is taken: Linux's transparent huge pages in mode `always`
/// or `madvise` (the bracketed word of `/sys/kernel/mm/transparent_hugepage/enabled`),
/// read once.
fn huge_pages_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .is_ok_and(|mode| mode.contains("[always]") || mode.contains("[madvise]"))
    })
}

/// `n` zero values (spectrum, P, packed image and estimate), their memory advised for
/// transparent huge pages before the first touch: this machine's THP mode is `madvise`,
/// so these buffers (134 MB each at 4096² f64) would otherwise sit on 4 KB pages, and a
/// row block touches a page per strip (point 6 of the module doc).
fn big_vec<V: Default + Clone>(n: usize) -> Vec<V> {
    let mut v = Vec::with_capacity(n);
    huge_pages(v.as_mut_ptr(), n * size_of::<V>());
    v.resize(n, V::default());
    v
}

/// `madvise(MADV_HUGEPAGE)` on the whole 4 KB pages of `bytes` bytes at `ptr`. Advice
/// only: a failure (an old kernel, THP off) is ignored and changes nothing but speed.
#[cfg(target_os = "linux")]
fn huge_pages<V>(ptr: *mut V, bytes: usize) {
    const PAGE: usize = 4096;
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize + bytes) / PAGE * PAGE;
    if end > start {
        // SAFETY: madvise reads no memory and writes none; the range lies inside the
        // allocation, whose pages are not yet touched.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn huge_pages<V>(_ptr: *mut V, _bytes: usize) {}

/// `x · p` (or `x · conj(p)`), lane by lane.
#[inline(always)]
fn times<T: LaneFloat>(x: Split<T::V>, p: Split<T::V>, conjugate: bool) -> Split<T::V> {
    if conjugate {
        Split {
            re: x.re * p.re + x.im * p.im,
            im: x.im * p.re - x.re * p.im,
        }
    } else {
        Split {
            re: x.re * p.re - x.im * p.im,
            im: x.re * p.im + x.im * p.re,
        }
    }
}

/// Row `i` of a block of strips, into numpy's interleaved layout.
fn gather<T: LaneFloat>(block: &ArrayViewMut2<'_, Split<T::V>>, i: usize, line: &mut [Complex<T>]) {
    let w = T::LANES;
    for (chunk, v) in line.chunks_mut(w).zip(block.column(i)) {
        let v: &[T] = bytemuck::cast_slice(std::slice::from_ref(v));
        let (re, im) = v.split_at(w);
        for ((z, &a), &b) in chunk.iter_mut().zip(re).zip(im) {
            *z = Complex::new(a, b);
        }
    }
}

/// The inverse of [`gather`]. Lanes past C/2+1 are left as they are (zero).
fn scatter<T: LaneFloat>(
    line: &[Complex<T>],
    block: &mut ArrayViewMut2<'_, Split<T::V>>,
    i: usize,
) {
    let w = T::LANES;
    for (chunk, v) in line.chunks(w).zip(block.column_mut(i)) {
        let v: &mut [T] = bytemuck::cast_slice_mut(std::slice::from_mut(v));
        let (re, im) = v.split_at_mut(w);
        for ((z, a), b) in chunk.iter().zip(re).zip(im) {
            *a = z.re;
            *b = z.im;
        }
    }
}

impl<T: LaneFloat> Run<T> {
    /// Rows per task: whole blocks of W rows when rows are packed (the last task's last
    /// block may be partial).
    fn rows_per_task(&self) -> usize {
        let r = self.rows.rows();
        match self.packed {
            Some(_) => r.div_ceil(T::LANES).div_ceil(self.tasks.len()) * T::LANES,
            None => r.div_ceil(self.tasks.len()),
        }
    }

    /// The first forward transform of the rows (the estimate starts as the image).
    fn rows_first(&mut self) {
        let (r, c, per) = (self.rows.rows(), self.rows.cols(), self.rows_per_task());
        let blocks = Self::row_blocks(&mut self.spectrum, [r, self.stride], per);
        match &mut self.packed {
            Some(k) => {
                let (fft, order, w) = (&k.fft, &k.order, T::LANES);
                k.estimate.copy_from_slice(&k.image);
                blocks
                    .zip(k.estimate.par_chunks(per * c / (2 * w)))
                    .zip(self.tasks.par_iter_mut())
                    .for_each(|((mut view, est), t)| {
                        for (b, est) in est.chunks_exact(c / 2).enumerate() {
                            // Once per run: back to natural order for the plain r2c.
                            for (&n, e) in order.iter().zip(est) {
                                t.real[n] = *e;
                            }
                            let s = t.packed.as_mut().expect("packed scratch");
                            r2c_put::<T>(fft, &mut t.real, s, &mut view, b * w);
                        }
                    });
            }
            None => {
                let rows = &self.rows;
                self.estimate.copy_from_slice(&self.image);
                blocks
                    .zip(self.estimate.par_chunks(per * c))
                    .zip(self.tasks.par_iter_mut())
                    .for_each(|((mut view, est), t)| {
                        for (i, erow) in est.chunks_exact(c).enumerate() {
                            rows.row_forward(erow, &mut t.line, &mut t.row);
                            scatter(&t.line, &mut view, i);
                        }
                    });
            }
        }
    }

    /// Rows: blurred = c2r(row); ratio = img / blurred; r2c(ratio). Returns the first
    /// pixel where the ratio is not finite.
    fn rows_ratio(&mut self, iteration: usize) -> Option<NonFinite> {
        let (r, c, per) = (self.rows.rows(), self.rows.cols(), self.rows_per_task());
        let blocks = Self::row_blocks(&mut self.spectrum, [r, self.stride], per);
        match &self.packed {
            Some(k) => {
                let w = T::LANES;
                blocks
                    .zip(k.image.par_chunks(per * c / (2 * w)))
                    .zip(self.tasks.par_iter_mut())
                    .enumerate()
                    .map(|(task, ((mut view, img), t))| {
                        let mut first = None;
                        let blocks = img.chunks_exact(c / 2);
                        let next = blocks.clone().skip(1).map(Some).chain([None]);
                        for (b, (img, next)) in blocks.zip(next).enumerate() {
                            let row0 = task * per + b * w;
                            let at = Rows {
                                iteration,
                                row0,
                                lanes: (r - row0).min(w),
                            };
                            let img = [img, next.unwrap_or_default()];
                            let bad = ratio_block(k, img, &mut view, b * w, t, at);
                            first = NonFinite::first(first, bad);
                        }
                        first
                    })
                    .reduce(|| None, NonFinite::first)
            }
            None => {
                let rows = &self.rows;
                blocks
                    .zip(self.image.par_chunks(per * c))
                    .zip(self.tasks.par_iter_mut())
                    .enumerate()
                    .map(|(task, ((mut view, img), t))| {
                        let mut first = None;
                        for (i, irow) in img.chunks_exact(c).enumerate() {
                            gather(&view, i, &mut t.line);
                            rows.row_map(&mut t.line, &mut t.row, |row| {
                                if let Some(col) = divide_row(irow, row)
                                    && first.is_none()
                                {
                                    first =
                                        Some(non_finite(iteration, task * per + i, col, irow, row));
                                }
                            });
                            scatter(&t.line, &mut view, i);
                        }
                        first
                    })
                    .reduce(|| None, NonFinite::first)
            }
        }
    }

    /// Rows: correction = c2r(row); est *= correction; r2c(est) unless `last`.
    fn rows_update(&mut self, last: bool) {
        let (r, c, per) = (self.rows.rows(), self.rows.cols(), self.rows_per_task());
        let blocks = Self::row_blocks(&mut self.spectrum, [r, self.stride], per);
        match &mut self.packed {
            Some(k) => {
                let (fft, w) = (&k.fft, T::LANES);
                blocks
                    .zip(k.estimate.par_chunks_mut(per * c / (2 * w)))
                    .zip(self.tasks.par_iter_mut())
                    .for_each(|((mut view, est), t)| {
                        for b in 0..est.len() / (c / 2) {
                            let s = t.packed.as_mut().expect("packed scratch");
                            get_across::<T>(&view, b * w, &mut t.across);
                            let ahead = NextTiles::new::<T>(&view, b * w);
                            let (est, next) = est[b * c / 2..].split_at_mut(c / 2);
                            let next = next.get(..c / 2).unwrap_or_default();
                            let est = Cell::from_mut(est).as_slice_of_cells();
                            let spectrum = &mut t.across[..fft.half() + 1];
                            let update = |i: usize, k: Split<T::V>| {
                                prefetch_next(next, i);
                                ahead.fetch::<T>(i, c / 2);
                                let e = est[i].get();
                                let e = Split {
                                    re: e.re * k.re,
                                    im: e.im * k.im,
                                };
                                est[i].set(e);
                                e
                            };
                            if last {
                                // The r2c is not needed; one per block per run is not
                                // worth a second code path.
                                fft.round_trip(spectrum, &mut t.real, s, update, |_, _| {});
                            } else {
                                let out = tiles_out::<T>(&mut view, b * w, fft.half());
                                fft.round_trip(spectrum, &mut t.real, s, update, out);
                            }
                        }
                    });
                if last {
                    let out = Self::packed_output(&mut self.spectrum, r * c);
                    unpack(&k.estimate, c, &k.order, out, per);
                }
            }
            None => {
                let rows = &self.rows;
                blocks
                    .zip(self.estimate.par_chunks_mut(per * c))
                    .zip(self.tasks.par_iter_mut())
                    .for_each(|((mut view, est), t)| {
                        for (i, erow) in est.chunks_exact_mut(c).enumerate() {
                            gather(&view, i, &mut t.line);
                            if last {
                                rows.row_inverse_with(&mut t.line, &mut t.row, |corr| {
                                    erow.iter_mut()
                                        .zip(corr.iter())
                                        .for_each(|(e, k)| *e = *e * *k)
                                });
                            } else {
                                rows.row_map(&mut t.line, &mut t.row, |row| {
                                    for (e, k) in erow.iter_mut().zip(row.iter_mut()) {
                                        *e = *e * *k;
                                        *k = *e;
                                    }
                                });
                                scatter(&t.line, &mut view, i);
                            }
                        }
                    });
            }
        }
    }
}

/// Row-major R × C (C even) → ⌈R/W⌉ blocks of W rows, packed, element i of a block
/// holding columns 2n and 2n + 1 for n = `order[i]`. Where W does not divide R, the last
/// block's dummy lanes (rows R.. of it) are copies of row R − 1, as [`get_across`] makes
/// the spectrum's: they compute what row R − 1 computes and are never read back.
fn pack<T: LaneFloat>(x: &[T], c: usize, order: &[usize]) -> Vec<Split<T::V>> {
    let r = x.len() / c;
    let mut out = big_vec(r.div_ceil(T::LANES) * c / 2);
    pack_into(c, r, order, &mut out, |row, col| x[row * c + col]);
    out
}

/// [`pack`] into `out` (⌈R/W⌉·C/2 values), pixel (row, col) of the R rows read from
/// `value`.
fn pack_into<T: LaneFloat>(
    c: usize,
    r: usize,
    order: &[usize],
    out: &mut [Split<T::V>],
    value: impl Fn(usize, usize) -> T,
) {
    let w = T::LANES;
    let v: &mut [T] = bytemuck::cast_slice_mut(out);
    for row in 0..v.len() / c {
        let (b, lane, from) = (row / w, row % w, row.min(r - 1));
        for (i, &n) in order.iter().enumerate() {
            for part in [0, 1] {
                v[2 * w * (b * (c / 2) + i) + part * w + lane] = value(from, 2 * n + part);
            }
        }
    }
}

/// The inverse of [`pack`], in pieces of at least `rows` rows (a one-task state unpacks
/// on its own thread).
fn unpack<T: LaneFloat>(
    packed: &[Split<T::V>],
    c: usize,
    order: &[usize],
    x: &mut [T],
    rows: usize,
) {
    let w = T::LANES;
    let v: &[T] = bytemuck::cast_slice(packed);
    x.par_chunks_mut(c)
        .with_min_len(rows.max(1))
        .enumerate()
        .for_each(|(row, xs)| {
            let (b, lane) = (row / w, row % w);
            for (i, &n) in order.iter().enumerate() {
                for part in [0, 1] {
                    xs[2 * n + part] = v[2 * w * (b * (c / 2) + i) + part * w + lane];
                }
            }
        });
}

/// Where a packed block is, for its error: its first row and how many of its W lanes are
/// real rows (fewer than W in a partial block; the others are dummies, never reported).
#[derive(Clone, Copy)]
struct Rows {
    iteration: usize,
    row0: usize,
    lanes: usize,
}

/// Asks for value i of the task's next packed block (`next`, empty for its last block) as
/// a row pass reaches position i of this one: spread over the block's work, the next
/// block of the image or estimate is in L2 when its turn comes, without a burst of
/// prefetches.
#[inline(always)]
fn prefetch_next<V>(next: &[Split<V>], i: usize) {
    if let Some(v) = next.get(i) {
        prefetch(std::slice::from_ref(v));
    }
}

/// One packed block of [`Run::rows_ratio`]: c2r of its spectrum rows (from `view` at row
/// `i0`), ratio `img / ·`, r2c back into `view`. Returns the block's first non-finite
/// ratio among its real lanes. `img`: this block of the image, and the next one (see
/// [`prefetch_next`]).
fn ratio_block<T: LaneFloat>(
    k: &Packed<T>,
    [img, next]: [&[Split<T::V>]; 2],
    view: &mut ArrayViewMut2<'_, Split<T::V>>,
    i0: usize,
    t: &mut Task<T>,
    at: Rows,
) -> Option<NonFinite> {
    let (fft, s) = (&k.fft, t.packed.as_mut().expect("packed scratch"));
    get_across::<T>(view, i0, &mut t.across);
    let ahead = NextTiles::new::<T>(view, i0);
    let (spectrum, m) = (&mut t.across[..fft.half() + 1], fft.half());
    let acc = Cell::new(T::splat(T::zero()));
    let ratio = |i: usize, den: Split<T::V>| {
        prefetch_next(next, i);
        ahead.fetch::<T>(i, m);
        let q = Split {
            re: T::div_fast(img[i].re, den.re),
            im: T::div_fast(img[i].im, den.im),
        };
        acc.set(poisoned::<T>(acc.get(), q));
        q
    };
    fft.round_trip(
        spectrum,
        &mut t.real,
        s,
        ratio,
        tiles_out::<T>(view, i0, fft.half()),
    );
    if all_zero::<T>(acc.get(), at.lanes) {
        return None;
    }
    // Some ratio of a real row is not finite (a zero denominator, most likely): again, in
    // natural order and with IEEE division, so that the error says what aiapy would
    // compute, and where it first happens. `spectrum` is intact.
    fft.c2r(spectrum, &mut t.real, s);
    // The image block in natural order, where the spectrum was.
    let natural = &mut t.across[..img.len()];
    for (&n, v) in k.order.iter().zip(img) {
        natural[n] = *v;
    }
    let first = match divide_packed::<T>(natural, &mut t.real, at.lanes) {
        true => None,
        false => first_non_finite::<T>(at, natural, &t.real),
    };
    r2c_put::<T>(fft, &mut t.real, s, view, i0);
    first
}

/// The r2c of W packed rows (natural order) into the block's tiles.
fn r2c_put<T: LaneFloat>(
    fft: &RealLanesFft<T>,
    real: &mut [Split<T::V>],
    s: &mut LanesScratch<T>,
    view: &mut ArrayViewMut2<'_, Split<T::V>>,
    i0: usize,
) {
    fft.r2c_each(real, s, tiles_out::<T>(view, i0, fft.half()));
}

/// `acc + q·0`: x·0 is 0 for a finite x and NaN for ±inf or NaN, so a sum of these over
/// many values says whether all were finite, without a branch per value.
#[inline(always)]
fn poisoned<T: LaneFloat>(acc: T::V, q: Split<T::V>) -> T::V {
    let zero = T::splat(T::zero());
    acc + q.re * zero + q.im * zero
}

/// Whether lanes `0..lanes` of `acc` are 0 (see [`poisoned`]); the dummy lanes of a
/// partial block, past `lanes`, are not looked at.
fn all_zero<T: LaneFloat>(acc: T::V, lanes: usize) -> bool {
    bytemuck::cast_slice::<T::V, T>(std::slice::from_ref(&acc))[..lanes]
        .iter()
        .all(|a| *a == T::zero())
}

/// `den = img / den` on packed rows, IEEE division; false if some ratio in lanes
/// `0..lanes` (the real rows) is not finite.
fn divide_packed<T: LaneFloat>(img: &[Split<T::V>], den: &mut [Split<T::V>], lanes: usize) -> bool {
    let mut acc = T::splat(T::zero());
    for (d, i) in den.iter_mut().zip(img) {
        d.re = i.re / d.re;
        d.im = i.im / d.im;
        acc = poisoned::<T>(acc, *d);
    }
    all_zero::<T>(acc, lanes)
}

/// The first (row-major) non-finite ratio of a packed block among its real lanes.
fn first_non_finite<T: LaneFloat>(
    at: Rows,
    img: &[Split<T::V>],
    ratio: &[Split<T::V>],
) -> Option<NonFinite> {
    let w = T::LANES;
    let (img, ratio): (&[T], &[T]) = (bytemuck::cast_slice(img), bytemuck::cast_slice(ratio));
    let index = |lane: usize, col: usize| 2 * w * (col / 2) + (col % 2) * w + lane;
    (0..at.lanes).find_map(|lane| {
        (0..img.len() / w)
            .find(|&col| !ratio[index(lane, col)].is_finite())
            .map(|col| NonFinite {
                iteration: at.iteration,
                row: at.row0 + lane,
                col,
                image: img[index(lane, col)].to_f64().unwrap_or(f64::NAN),
                ratio: ratio[index(lane, col)].to_f64().unwrap_or(f64::NAN),
            })
    })
}

impl<T: LaneFloat> Prepared for Run<T> {
    fn run(&mut self) -> Result<(), KernelError> {
        self.non_finite = None;
        let iterations = self.problem.iterations;
        if iterations == 0 {
            match &self.packed {
                Some(k) => {
                    let (c, per) = (self.rows.cols(), self.rows_per_task());
                    let out = Self::packed_output(&mut self.spectrum, c * self.rows.rows());
                    unpack(&k.image, c, &k.order, out, per)
                }
                None => self.estimate.copy_from_slice(&self.image),
            }
            return Ok(());
        }
        self.rows_first();
        for iteration in 1..=iterations {
            self.convolve_columns(false);
            let bad = self.rows_ratio(iteration);
            self.non_finite = NonFinite::first(self.non_finite, bad);
            self.convolve_columns(true);
            self.rows_update(iteration == iterations);
        }
        match self.non_finite {
            Some(bad) => Err(bad.error()),
            None => Ok(()),
        }
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(widen(self.estimate())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x = 0, 1, 2, ... row-major, packed in natural order.
    fn packed_pair<T: LaneFloat>(r: usize, c: usize) -> (Vec<T>, Vec<Split<T::V>>) {
        let x: Vec<T> = (0..r * c).map(|k| T::from_usize(k).unwrap()).collect();
        let order: Vec<usize> = (0..c / 2).collect();
        let packed = pack(&x, c, &order);
        (x, packed)
    }

    #[test]
    fn shares_cover_every_strip_once_and_differ_by_one_at_most() {
        assert_eq!(
            shares(129, 8).collect::<Vec<_>>(),
            [17, 16, 16, 16, 16, 16, 16, 16]
        );
        for (n, parts) in [(257, 8), (63, 8), (3, 8), (8, 8), (1, 1), (5, 0)] {
            let s: Vec<usize> = shares(n, parts).collect();
            assert_eq!(s.iter().sum::<usize>(), n, "{n} strips in {parts}");
            assert_eq!(
                s.len(),
                parts.clamp(1, n),
                "{n} strips in {parts}: no empty run"
            );
            let (lo, hi) = (s.iter().min().unwrap(), s.iter().max().unwrap());
            assert!(hi - lo <= 1, "{n} strips in {parts}: {s:?}");
        }
    }

    #[test]
    fn pack_and_unpack_are_inverses_and_pack_as_documented() {
        let (r, c) = (16, 6);
        let x: Vec<f64> = (0..r * c).map(|k| k as f64).collect();
        let order = [2, 0, 1];
        let packed = pack(&x, c, &order);
        let v: &[f64] = bytemuck::cast_slice(&packed);
        // Block 1 (rows 8..16), element i = 0 (pair n = order[0] = 2): lane 3 holds
        // x[11][4] (re) and x[11][5] (im).
        let (w, i) = (8, 0);
        assert_eq!(v[2 * w * (c / 2 + i) + 3], x[11 * c + 4]);
        assert_eq!(v[2 * w * (c / 2 + i) + w + 3], x[11 * c + 5]);
        let mut back = vec![0.0; r * c];
        unpack(&packed, c, &order, &mut back, 1);
        assert_eq!(back, x);
        let x32: Vec<f32> = (0..r * c).map(|k| k as f32).collect();
        let mut back32 = vec![0.0f32; r * c];
        unpack(&pack(&x32, c, &order), c, &order, &mut back32, 1);
        assert_eq!(back32, x32);
    }

    /// Where (lane, col) of a packed f64 block is, in its reals.
    fn at_(lane: usize, col: usize) -> usize {
        2 * 8 * (col / 2) + (col % 2) * 8 + lane
    }

    #[test]
    fn a_partial_block_is_packed_with_copies_of_the_last_row() {
        // 11 rows, W = 8: block 1 holds rows 8, 9, 10 and dummies (copies of row 10).
        let (r, c) = (11, 4);
        let x: Vec<f64> = (0..r * c).map(|k| k as f64).collect();
        let order = [1, 0];
        let packed = pack(&x, c, &order);
        assert_eq!(packed.len(), 2 * c / 2, "two blocks");
        let v: &[f64] = bytemuck::cast_slice(&packed);
        // Block 1, element 0 (pair n = 1: columns 2 and 3).
        let block1 = 2 * 8 * (c / 2);
        for (lane, row) in [(0, 8), (2, 10), (3, 10), (7, 10)] {
            assert_eq!(v[block1 + lane], x[row * c + 2], "lane {lane}");
            assert_eq!(v[block1 + 8 + lane], x[row * c + 3], "lane {lane}");
        }
        let mut back = vec![0.0; r * c];
        unpack(&packed, c, &order, &mut back, 1);
        assert_eq!(back, x, "only the real rows come back");
    }

    /// Sets pixel (row, col) of a packed image, dummy rows (row ≥ R) included.
    fn set_packed<T: LaneFloat>(k: &mut Packed<T>, row: usize, col: usize, value: T) {
        let (w, half) = (T::LANES, k.order.len());
        let i = k.order.iter().position(|&n| n == col / 2).expect("a pair");
        let v: &mut [T] = bytemuck::cast_slice_mut(&mut k.image);
        v[2 * w * ((row / w) * half + i) + (col % 2) * w + row % w] = value;
    }

    /// 20 × 16, W ∤ 20 in both precisions: the last block holds rows 16..20 and 4 (f64)
    /// or 12 (f32) dummy lanes; with 2 tasks, it is the second task's first block.
    fn partial_block_non_finite<T: LaneFloat>() {
        use crate::kernel::Kernel;
        let (r, c): (usize, usize) = (20, 16);
        let params = <super::super::Deconv as Kernel>::defaults("synthetic")
            .with("rows", r as f64)
            .with("cols", c as f64)
            .with("sigma", 1.5)
            .with("iterations", 1.0);
        let p = <super::super::Deconv as Kernel>::problem("synthetic", &params, &[]).unwrap();
        let mut run = Run::<T>::with_tasks(&p, 2);
        let rows_padded = r.div_ceil(T::LANES) * T::LANES;
        run.rows_first();
        run.convolve_columns(false);
        let spectrum = run.spectrum.clone();
        // NaN image pixels in every dummy lane: their ratios are NaN, never reported.
        let k = run.packed.as_mut().expect("C is even: packed rows");
        for row in r..rows_padded {
            (0..c).for_each(|col| set_packed(k, row, col, T::nan()));
        }
        assert!(run.rows_ratio(1).is_none(), "a dummy lane raised an error");
        // Row 19 zero in the image and in every strip of the spectrum: den = 0 exactly
        // there, 0/0 at (19, 0), in the partial block, where it is reported.
        run.spectrum = spectrum;
        let k = run.packed.as_mut().expect("packed rows");
        for row in r - 1..rows_padded {
            (0..c).for_each(|col| set_packed(k, row, col, T::zero()));
        }
        for strip in run.spectrum.chunks_exact_mut(run.stride) {
            strip[r - 1] = Split::default();
        }
        let bad = run.rows_ratio(3).expect("0/0 in row 19");
        assert_eq!((bad.iteration, bad.row, bad.col), (3, 19, 0));
        assert!(bad.ratio.is_nan() && bad.image == 0.0, "{bad:?}");
    }

    /// The padded and the unpadded strip layouts give the same image to the bit, on the
    /// packed-rows path (C even) and the row-at-a-time one (C odd). The harness takes the
    /// pad only where R is a multiple of 128 and the kernel gives huge pages.
    fn padded_strips_change_nothing<T: LaneFloat>() {
        use crate::kernel::Kernel;
        for cols in [96.0, 95.0] {
            let params = crate::params::Params::defaults(super::super::PARAMS)
                .with("n", 128.0)
                .with("cols", cols)
                .with("sigma", 2.0)
                .with("iterations", 3.0);
            let p = super::super::Deconv::problem("synthetic", &params, &[]).unwrap();
            let mut plain = Run::<T>::with_stride(&p, 3, 128);
            let mut padded = Run::<T>::with_stride(&p, 3, 128 + T::LANES);
            plain.run().unwrap();
            padded.run().unwrap();
            let bits = |run: &Run<T>| -> Vec<f64> {
                run.estimate().iter().map(|v| v.to_f64().unwrap()).collect()
            };
            assert_eq!(bits(&plain), bits(&padded), "C = {cols}");
            assert!(bits(&plain).iter().any(|&v| v != 0.0));
        }
    }

    #[test]
    fn the_strip_pad_changes_no_bit() {
        padded_strips_change_nothing::<f64>();
        padded_strips_change_nothing::<f32>();
    }

    #[test]
    fn dummy_lanes_never_raise_and_real_lanes_of_a_partial_block_do() {
        partial_block_non_finite::<f64>();
        partial_block_non_finite::<f32>();
    }

    #[test]
    fn the_first_non_finite_ratio_of_a_packed_block_is_the_row_major_first() {
        let (r, c) = (8, 12);
        let (_, img) = packed_pair::<f64>(r, c);
        let mut ratio = vec![Split::default(); img.len()];
        assert!(!divide_packed::<f64>(&img, &mut ratio, 8), "0/0 and x/0");
        // Only two bad values: (row 5, col 9) and (row 2, col 11); row 2 comes first.
        let values: &mut [f64] = bytemuck::cast_slice_mut(&mut ratio);
        values.fill(1.0);
        values[at_(5, 9)] = f64::INFINITY;
        values[at_(2, 11)] = f64::NAN;
        let at = |lanes| Rows {
            iteration: 4,
            row0: 16,
            lanes,
        };
        let first = first_non_finite::<f64>(at(8), &img, &ratio).expect("two are bad");
        assert_eq!((first.iteration, first.row, first.col), (4, 18, 11));
        assert_eq!(first.image, (2 * c + 11) as f64);
        assert!(first.ratio.is_nan());
        // A partial block of 3 real rows: lane 5 is a dummy, lane 2 is still reported.
        let first = first_non_finite::<f64>(at(3), &img, &ratio).expect("lane 2 is real");
        assert_eq!((first.row, first.col), (18, 11));
        // 2 real rows: both bad values are in dummy lanes, never reported.
        assert!(first_non_finite::<f64>(at(2), &img, &ratio).is_none());
        let mut den = vec![Split::default(); img.len()];
        bytemuck::cast_slice_mut::<_, f64>(&mut den).fill(2.0);
        assert!(divide_packed::<f64>(&img, &mut den, 8), "all finite");
        // A zero denominator in dummy lane 6 only: the real lanes 0..6 are all finite.
        bytemuck::cast_slice_mut::<_, f64>(&mut den).fill(2.0);
        bytemuck::cast_slice_mut::<_, f64>(&mut den)[at_(6, 3)] = 0.0;
        assert!(
            divide_packed::<f64>(&img, &mut den, 6),
            "only a dummy lane is bad"
        );
        bytemuck::cast_slice_mut::<_, f64>(&mut den).fill(2.0);
        bytemuck::cast_slice_mut::<_, f64>(&mut den)[at_(5, 3)] = 0.0;
        assert!(
            !divide_packed::<f64>(&img, &mut den, 6),
            "real lane 5 is bad"
        );
    }
}

//! Circular convolution of `LANES` sequences at once, in place and depth first:
//! `x ← IFFT(op(FFT(x)))`, unnormalised, where `op` is usually a product with a transfer
//! function.
//!
//! [`LanesFft`](super::LanesFft) is a Stockham FFT: every stage streams the whole sequence
//! from one buffer to another. At 4096 points a sequence of `Split` values is 512 KB, so
//! each of a convolution's eight stages is a round trip through L2: measured here, a
//! radix-8 butterfly costs 24 ns at 4096 points against 14 ns at 64 (in L1), and this
//! in-place convolution takes 61 µs at 4096 points against 108 µs for the Stockham
//! pair (`cargo bench -- fft`). Between the two transforms of a convolution the
//! spectrum's order does not matter, as long as `op` knows which frequency it is looking
//! at. That allows the textbook in-place pair, with no work buffer and no reordering:
//!
//! - forward, decimation in frequency: stage 0 splits the sequence into `r` blocks, each
//!   an independent sub-transform, which the next stage splits again, and so on. The
//!   spectrum comes out in mixed-radix digit-reversed order.
//! - backward, decimation in time: the same stages undone in reverse order (twiddles
//!   conjugated, taken before the butterflies), digit-reversed in, natural order out.
//!
//! Done depth first, each block is finished, forward, `op`, backward, before the next
//! one starts: below the top one or two levels a block fits in L1 (64 points: 8 KB), so
//! only those levels go through L2.
//!
//! ```text
//! stage i (span L = len / (r0·…·r(i−1)), radix r, n1 = L/r), for each block and p < n1:
//!   forward:  y_k = w_L^{pk} · Σ_j x[p + n1·j] · w_r^{jk}   → x[p + n1·k]
//!   backward: x_j = Σ_k w_r^{−jk} · w_L^{−pk} · y[p + n1·k] → x[p + n1·j]
//! ```
//!
//! Position i of the middle holds frequency `frequency(i)`: with i = k·(len/r0) + i',
//! `frequency(i) = k + r0·frequency'(i')`, the frequency of i' in the sub-transform.
//! The radices are mixed (8, 4, 2, then 7, 5, 3: see `radix`); lengths with a prime
//! factor above 7 use the lane FFT forward and back (natural order), itself rustfft one
//! lane at a time for them.

use num_complex::Complex;
use rustfft::FftDirection;

use super::radix::{Radix, with_radix};
use super::{
    LaneFloat, LanesFft, LanesScratch, Split, Stage, radix_stages, rows, swapped, twiddle,
};

/// Planned convolutions of `LANES` sequences of one length.
pub struct LanesConvolution<T: LaneFloat> {
    len: usize,
    plan: Plan<T>,
}

enum Plan<T: LaneFloat> {
    /// Factors 2, 3, 5, 7 only: the decimation stages, outermost first, and the frequency
    /// at each position of the middle.
    InPlace {
        stages: Vec<Stage<T>>,
        frequency: Vec<usize>,
    },
    /// Any other length: the lane FFT forward and back.
    Fft {
        forward: LanesFft<T>,
        inverse: LanesFft<T>,
    },
}

impl<T: LaneFloat> LanesConvolution<T> {
    pub fn new(len: usize) -> Self {
        assert!(len > 0, "a convolution needs a length");
        let plan = match radix_stages::<T>(len) {
            Some(stages) => {
                let radices: Vec<usize> = stages.iter().map(|s| s.radix.size()).collect();
                let frequency = (0..len).map(|i| frequency_at(&radices, len, i)).collect();
                Plan::InPlace { stages, frequency }
            }
            None => Plan::Fft {
                forward: LanesFft::new(len, FftDirection::Forward),
                inverse: LanesFft::new(len, FftDirection::Inverse),
            },
        };
        LanesConvolution { len, plan }
    }

    /// The frequency whose spectrum value sits at `position` when `op` is applied.
    pub fn frequency(&self, position: usize) -> usize {
        match &self.plan {
            Plan::InPlace { frequency, .. } => frequency[position],
            Plan::Fft { .. } => position,
        }
    }

    /// Work space for [`Self::process`] (empty for the in-place plans: they need none).
    pub fn scratch(&self) -> LanesScratch<T> {
        match &self.plan {
            Plan::InPlace { .. } => LanesScratch {
                work: Vec::new(),
                lane: Vec::new(),
                fft: Vec::new(),
            },
            Plan::Fft { forward, .. } => forward.scratch(),
        }
    }

    /// `data ← IFFT(op(i, FFT(data)[frequency(i)]))` for the `LANES` sequences in `data`,
    /// unnormalised (len times the convolution). `op` is called once per position i.
    pub fn process(
        &self,
        data: &mut [Split<T::V>],
        scratch: &mut LanesScratch<T>,
        op: impl Fn(usize, Split<T::V>) -> Split<T::V>,
    ) {
        assert_eq!(data.len(), self.len, "data is not one sequence long");
        match &self.plan {
            Plan::InPlace { stages, .. } => descend(stages, data, 0, &op),
            Plan::Fft { forward, inverse } => {
                forward.process_then(data, scratch, op);
                inverse.process(data, scratch);
            }
        }
    }

    /// The forward half of [`Self::process`] alone: `data[i] ← FFT(data)[frequency(i)]`,
    /// the spectrum in the order [`Self::process`]'s `op` sees it, so that it can be the
    /// factor of a later `process` (the PSF composite's product of two spectra).
    pub fn forward(&self, data: &mut [Split<T::V>], scratch: &mut LanesScratch<T>) {
        assert_eq!(data.len(), self.len, "data is not one sequence long");
        match &self.plan {
            Plan::InPlace { stages, .. } => forward_only(stages, data),
            Plan::Fft { forward, .. } => forward.process(data, scratch),
        }
    }
}

impl<T: LaneFloat> LanesConvolution<T> {
    /// The backward half of [`Self::process`] alone, undoing [`Self::forward`]:
    /// `data ← IFFT(y)` (unnormalised, natural order) where position i of `data` holds
    /// `y[frequency(i)]`. In place and depth first, as the way back of [`Self::process`];
    /// a real inverse transform ([`RealLanesFft::c2r`](super::RealLanesFft::c2r)) writes
    /// its spectrum in this order and saves the Stockham passes through L2.
    pub fn inverse(&self, data: &mut [Split<T::V>], scratch: &mut LanesScratch<T>) {
        assert_eq!(data.len(), self.len, "data is not one sequence long");
        match &self.plan {
            Plan::InPlace { stages, .. } => backward_only(stages, data),
            Plan::Fft { inverse, .. } => inverse.process(data, scratch),
        }
    }
}

/// The backward stages of [`descend`], depth first, without the way there: the
/// sub-blocks first, then this stage's decimation in time.
fn backward_only<T: LaneFloat>(stages: &[Stage<T>], data: &mut [Split<T::V>]) {
    match stages {
        [] => {}
        [leaf] => with_radix!(leaf.radix, |R, dft| {
            // IDFT(u) = swap(DFT(swap(u))), as in `leaf_block`.
            let mut v = [Split::default(); R];
            for (x, d) in v.iter_mut().zip(&data[..R]) {
                *x = swapped::<_, true>(*d);
            }
            let v = dft(v);
            for (d, x) in data[..R].iter_mut().zip(v) {
                *d = swapped::<_, true>(x);
            }
        }),
        [stage, rest @ ..] => {
            let sub = data.len() / stage.radix.size();
            for block in data.chunks_exact_mut(sub) {
                backward_only(rest, block);
            }
            let w = &stage.twiddles;
            with_radix!(stage.radix, |R, dft| backward_stage::<T, R>(data, w, dft));
        }
    }
}

/// The forward stages of [`descend`], depth first, without the way back.
fn forward_only<T: LaneFloat>(stages: &[Stage<T>], data: &mut [Split<T::V>]) {
    match stages {
        [] => {}
        [leaf] => with_radix!(leaf.radix, |R, dft| {
            let mut v = [Split::default(); R];
            v.copy_from_slice(&data[..R]);
            data[..R].copy_from_slice(&dft(v));
        }),
        [stage, rest @ ..] => {
            let w = &stage.twiddles;
            with_radix!(stage.radix, |R, dft| forward_stage::<T, R>(data, w, dft));
            let sub = data.len() / stage.radix.size();
            for block in data.chunks_exact_mut(sub) {
                forward_only(rest, block);
            }
        }
    }
}

/// Where a digit-reversed position's frequency comes from (see the module notes).
fn frequency_at(radices: &[usize], len: usize, position: usize) -> usize {
    match radices.split_first() {
        None => 0,
        Some((&r, rest)) => {
            let sub = len / r;
            position / sub + r * frequency_at(rest, sub, position % sub)
        }
    }
}

/// One block of `stages[0].m` values at `offset`: forward stage, the sub-blocks, back.
fn descend<T: LaneFloat>(
    stages: &[Stage<T>],
    data: &mut [Split<T::V>],
    offset: usize,
    op: &impl Fn(usize, Split<T::V>) -> Split<T::V>,
) {
    match stages {
        [] => data[0] = op(offset, data[0]),
        [leaf] => with_radix!(leaf.radix, |R, dft| leaf_block::<T, R>(
            data, offset, op, dft
        )),
        [stage, rest @ ..] => {
            let w = &stage.twiddles;
            with_radix!(stage.radix, |R, dft| forward_stage::<T, R>(data, w, dft));
            let sub = data.len() / stage.radix.size();
            for (b, block) in data.chunks_exact_mut(sub).enumerate() {
                descend(rest, block, offset + b * sub, op);
            }
            with_radix!(stage.radix, |R, dft| backward_stage::<T, R>(data, w, dft));
        }
    }
}

/// Every butterfly of one in-place stage on a block: `butterfly` maps the R values
/// `x[p + n1·j]`, j < R, and the twiddles of p to the values stored back there.
#[inline(always)]
fn each_butterfly<T: LaneFloat, const R: usize>(
    data: &mut [Split<T::V>],
    twiddles: &[Complex<T>],
    butterfly: impl Fn([Split<T::V>; R], &[Complex<T>]) -> [Split<T::V>; R],
) {
    let x = rows::<_, R>(data);
    let n1 = x[0].len();
    for (p, w) in twiddles.chunks_exact(R - 1).enumerate().take(n1) {
        // Arrays filled by plain loops: `array::from_fn` was not always inlined here, and
        // then every value went through memory.
        let mut v = [Split::default(); R];
        for j in 0..R {
            v[j] = x[j][p];
        }
        let v = butterfly(v, w);
        for j in 0..R {
            x[j][p] = v[j];
        }
    }
}

/// Decimation in frequency, in place: `y_k = w_L^{pk} · DFT_R(x[p + n1·j])_k`.
///
/// The butterfly closures here and in [`backward_stage`] are `#[inline(always)]` and take
/// `dft` by value (a `Copy` fn item), not `&dft`: without that, LLVM kept radix 8's
/// backward closure and its `<&F as Fn>::call` out of line in the large `descend`
/// (every butterfly's values through the stack, two calls per butterfly). Same
/// arithmetic and bits; deconv `lanes` 1000² 0.96 [0.94–0.97] against the build before
/// (`harness compare --against-bin`, interleaved). At 4096² (radix 8 throughout) it
/// measured slower instead: the build with only `tiles_out`'s store inlined against
/// this one, 4096² 0.944 [0.907–0.977], 1000² 1.033 [1.022–1.039].
#[inline(always)]
fn forward_stage<T: LaneFloat, const R: usize>(
    data: &mut [Split<T::V>],
    twiddles: &[Complex<T>],
    dft: impl Fn([Split<T::V>; R]) -> [Split<T::V>; R] + Copy,
) {
    each_butterfly::<T, R>(
        data,
        twiddles,
        #[inline(always)]
        |x, w| forward_butterfly::<T, R>(x, w, dft),
    );
}

/// One butterfly of [`forward_stage`]: the R-point DFT, then × w_L^{pk} (`w[k − 1]`).
///
/// A function of its own rather than the closure's body: measured faster that way
/// (issue 20, `harness compare --against-bin`, interleaved: deconv `lanes` 1000² 0.91
/// [0.88–0.99], 4096² 0.82 [0.76–0.84]; same arithmetic, same bits), a difference in
/// what the compiler makes of the stage loop, not in the work.
#[inline(always)]
fn forward_butterfly<T: LaneFloat, const R: usize>(
    x: [Split<T::V>; R],
    w: &[Complex<T>],
    dft: impl Fn([Split<T::V>; R]) -> [Split<T::V>; R] + Copy,
) -> [Split<T::V>; R] {
    let mut v = dft(x);
    for k in 1..R {
        v[k] = twiddle::<T>(v[k], w[k - 1]);
    }
    v
}

/// Decimation in time, in place, undoing [`forward_stage`] (times R):
/// `x_j = Σ_k w_R^{−jk} · conj(w_L^{pk}) · y[p + n1·k]`, through the swap identity
/// `conj(w)·u = swap(w·swap(u))` and `IDFT(u) = swap(DFT(swap(u)))`.
#[inline(always)]
fn backward_stage<T: LaneFloat, const R: usize>(
    data: &mut [Split<T::V>],
    twiddles: &[Complex<T>],
    dft: impl Fn([Split<T::V>; R]) -> [Split<T::V>; R] + Copy,
) {
    each_butterfly::<T, R>(
        data,
        twiddles,
        #[inline(always)]
        |u, w| backward_butterfly::<T, R>(u, w, dft),
    );
}

/// One butterfly of [`backward_stage`]: × conj(w_L^{pk}), then the R-point inverse DFT
/// (a function of its own for the reason [`forward_butterfly`] gives).
#[inline(always)]
fn backward_butterfly<T: LaneFloat, const R: usize>(
    mut u: [Split<T::V>; R],
    w: &[Complex<T>],
    dft: impl Fn([Split<T::V>; R]) -> [Split<T::V>; R] + Copy,
) -> [Split<T::V>; R] {
    u[0] = swapped::<_, true>(u[0]);
    for k in 1..R {
        u[k] = twiddle::<T>(swapped::<_, true>(u[k]), w[k - 1]);
    }
    let mut v = dft(u);
    for x in &mut v {
        *x = swapped::<_, true>(*x);
    }
    v
}

/// The innermost block (R values, every twiddle 1): forward DFT, `op`, backward DFT,
/// without leaving registers.
#[inline(always)]
fn leaf_block<T: LaneFloat, const R: usize>(
    data: &mut [Split<T::V>],
    offset: usize,
    op: &impl Fn(usize, Split<T::V>) -> Split<T::V>,
    dft: impl Fn([Split<T::V>; R]) -> [Split<T::V>; R] + Copy,
) {
    let mut v = [Split::default(); R];
    v.copy_from_slice(&data[..R]);
    let mut v = dft(v);
    for (k, x) in v.iter_mut().enumerate() {
        *x = swapped::<_, true>(op(offset + k, *x));
    }
    let v = dft(v);
    for j in 0..R {
        data[j] = swapped::<_, true>(v[j]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::split_from;
    use super::*;

    /// Against the lane FFT forward, a product in natural order, the lane FFT back.
    fn check<T: LaneFloat>(len: usize, eps: f64) {
        let value = |seed: usize| {
            move |n: usize, j: usize| {
                let t = (n * 7 + j * 13 + seed * 31 + 1) as f64;
                Complex::new((t * 0.37).sin(), (t * 0.91).cos())
            }
        };
        let (x, h) = (
            split_from::<T>(len, value(0)),
            split_from::<T>(len, value(1)),
        );
        let times = |a: Split<T::V>, b: Split<T::V>| Split {
            re: a.re * b.re - a.im * b.im,
            im: a.re * b.im + a.im * b.re,
        };
        let mut expected = x.clone();
        let forward = LanesFft::<T>::new(len, FftDirection::Forward);
        let inverse = LanesFft::<T>::new(len, FftDirection::Inverse);
        let mut s = forward.scratch();
        forward.process_then(&mut expected, &mut s, |k, v| times(v, h[k]));
        inverse.process(&mut expected, &mut s);

        let conv = LanesConvolution::<T>::new(len);
        let mut frequencies: Vec<usize> = (0..len).map(|i| conv.frequency(i)).collect();
        let mut got = x.clone();
        conv.process(&mut got, &mut conv.scratch(), |i, v| {
            times(v, h[conv.frequency(i)])
        });
        frequencies.sort_unstable();
        assert!(
            frequencies.iter().copied().eq(0..len),
            "len {len}: every frequency at exactly one position"
        );
        let (e, g): (&[T], &[T]) = (bytemuck::cast_slice(&expected), bytemuck::cast_slice(&got));
        let scale = e
            .iter()
            .map(|v| v.abs().to_f64().unwrap())
            .fold(0.0, f64::max);
        // Both are a forward and a backward FFT of the same data with the same twiddles,
        // rounded in a different order: each side's error grows like log2(len)·ε.
        let bound = eps * (4.0 * (len as f64).log2() + 4.0);
        for (i, (a, b)) in e.iter().zip(g).enumerate() {
            let err = (a.to_f64().unwrap() - b.to_f64().unwrap()).abs() / scale;
            assert!(err <= bound, "len {len} value {i}: {err:.2e} > {bound:.2e}");
        }
    }

    #[test]
    fn in_place_convolutions_match_the_lane_fft_forward_and_back() {
        // 1: no stage; 2, 4, 8: a leaf alone; 16, 32: radix 8 then 2 or 4; 4096: four
        // levels of radix 8; 2048: radix 4 at the leaf; 3, 5, 7: odd leaves alone; 12, 30,
        // 1000 (8·5³), 1200 (8·2·5²·3), 2·7·9: mixed radices; 22, 26: the lane FFT
        // fallback (a factor 11 or 13).
        for len in [
            1, 2, 4, 8, 16, 32, 64, 512, 2048, 4096, 3, 5, 7, 12, 30, 1000, 1200, 126, 22, 26,
        ] {
            check::<f64>(len, f64::EPSILON);
            check::<f32>(len, f32::EPSILON as f64);
        }
    }

    #[test]
    fn the_forward_half_is_the_fft_in_the_middle_order() {
        // Radices 8·5·3 (in place) and 22 (the lane FFT): forward() against the Stockham
        // FFT read through frequency(); the same arithmetic per butterfly, rounded in
        // another order, so log2(len)·ε of the peak.
        for len in [120, 22] {
            let x = split_from::<f64>(len, |n, j| {
                Complex::new((n as f64 * 0.3 + j as f64).sin(), (n * j) as f64 * 0.01)
            });
            let mut expected = x.clone();
            let fft = LanesFft::<f64>::new(len, FftDirection::Forward);
            fft.process(&mut expected, &mut fft.scratch());
            let conv = LanesConvolution::<f64>::new(len);
            let mut got = x.clone();
            conv.forward(&mut got, &mut conv.scratch());
            let (e, g): (&[f64], &[f64]) =
                (bytemuck::cast_slice(&expected), bytemuck::cast_slice(&got));
            let scale = e.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let bound = f64::EPSILON * (4.0 * (len as f64).log2() + 4.0) * scale;
            for i in 0..len {
                let k = conv.frequency(i);
                for part in 0..16 {
                    let (a, b) = (e[16 * k + part], g[16 * i + part]);
                    assert!(
                        (a - b).abs() <= bound,
                        "len {len} position {i} (frequency {k}) value {part}: {b} vs {a}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_backward_half_is_the_inverse_fft_from_the_middle_order() {
        // inverse() against the Stockham inverse of the same spectrum put in natural
        // order through frequency(): radices 8·5·3 and 8·8·4 in place, 22 the lane FFT.
        // The same butterflies rounded in another order: log2(len)·ε of the peak.
        for len in [120, 256, 22] {
            let x = split_from::<f64>(len, |n, j| {
                Complex::new((n as f64 * 0.7 + j as f64).cos(), (n + 3 * j) as f64 * 0.02)
            });
            let conv = LanesConvolution::<f64>::new(len);
            let mut natural = x.clone();
            for i in 0..len {
                natural[conv.frequency(i)] = x[i];
            }
            let fft = LanesFft::<f64>::new(len, FftDirection::Inverse);
            fft.process(&mut natural, &mut fft.scratch());
            let mut got = x.clone();
            conv.inverse(&mut got, &mut conv.scratch());
            let (e, g): (&[f64], &[f64]) =
                (bytemuck::cast_slice(&natural), bytemuck::cast_slice(&got));
            let scale = e.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let bound = f64::EPSILON * (4.0 * (len as f64).log2() + 4.0) * scale;
            for (i, (a, b)) in e.iter().zip(g).enumerate() {
                assert!(
                    (a - b).abs() <= bound,
                    "len {len} value {i}: {b} vs {a} (bound {bound:.2e})"
                );
            }
        }
    }

    #[test]
    fn positions_hold_the_digit_reversed_frequencies() {
        // 8 × 4 = 32: position i = 4·k + i' (k < 8 the first split, i' < 4), frequency
        // k + 8·i'.
        let conv = LanesConvolution::<f64>::new(32);
        for i in 0..32 {
            assert_eq!(conv.frequency(i), i / 4 + 8 * (i % 4), "position {i}");
        }
        // 8 × 3 = 24: i = 3·k + i', frequency k + 8·i'.
        let mixed = LanesConvolution::<f64>::new(24);
        for i in 0..24 {
            assert_eq!(mixed.frequency(i), i / 3 + 8 * (i % 3), "position {i}");
        }
        let identity = LanesConvolution::<f64>::new(22);
        assert!((0..22).all(|i| identity.frequency(i) == i));
    }
}

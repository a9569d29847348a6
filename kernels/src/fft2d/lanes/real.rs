//! [`RealLanesFft`]: real FFTs of `LANES` sequences, each packed into a complex transform of
//! half the length, and the in-place round trip through sample space that a convolution
//! of real data makes.

use num_complex::Complex;

use super::{LaneFloat, LanesConvolution, LanesScratch, Split, conj, swapped, twiddle};

/// Real FFTs of `LANES` real sequences of one even length N at once, through one complex
/// [`LanesFft`] of length M = N/2 (the textbook packing, as realfft does for one row):
///
/// ```text
/// z[n] = x[2n] + i·x[2n+1],  Z = FFT_M(z),  w_k = e^{−2πik/N}
/// X[k] = E_k + w_k·O_k,  E_k = (Z[k] + Z̄[M−k])/2,  O_k = (Z[k] − Z̄[M−k])/(2i),  k = 0..=M
/// ```
///
/// and backwards for c2r (unnormalised; the imaginary parts of `X[0]` and `X[M]` ignored, as
/// numpy's irfft does). A real sequence is stored in the packed form itself: element n is
/// a [`Split`] holding `x[2n]` (re) and `x[2n+1]` (im) of every lane.
///
/// Every complex transform is [`LanesConvolution`]'s, in place and depth first: Z comes
/// out of its forward half in digit-reversed order and the fold reads it through
/// `position`; the c2r's unfold writes in that order for its backward half. (Stockham
/// `LanesFft` passes instead streamed the whole sequence through L2 once per stage, with
/// a work buffer as large again.)
pub struct RealLanesFft<T: LaneFloat> {
    half: usize,
    /// w_k for k = 0..=M.
    twiddles: Vec<Complex<T>>,
    /// The complex transforms, in place.
    round: LanesConvolution<T>,
    /// `position[k]`: where Z[k] sits after `round`'s forward half (the inverse of
    /// [`LanesConvolution::frequency`]).
    position: Vec<usize>,
}

impl<T: LaneFloat> RealLanesFft<T> {
    /// Plans for real length `n` (even, ≥ 2).
    pub fn new(n: usize) -> Self {
        assert!(
            n >= 2 && n.is_multiple_of(2),
            "the packed real FFT needs an even length"
        );
        let half = n / 2;
        let twiddles = (0..=half)
            .map(|k| {
                let angle = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                let (sin, cos) = angle.sin_cos();
                Complex::new(
                    T::from_f64(cos).expect("a cosine fits in T"),
                    T::from_f64(sin).expect("a sine fits in T"),
                )
            })
            .collect();
        let round = LanesConvolution::new(half);
        let mut position = vec![0; half];
        for i in 0..half {
            position[round.frequency(i)] = i;
        }
        RealLanesFft {
            half,
            twiddles,
            round,
            position,
        }
    }

    /// Where [`Self::round_trip`]'s `op` finds packed sample n: the packed sample at
    /// position i is `sample(i)` (a digit reversal; the identity when M has a prime factor
    /// above 7).
    pub fn sample(&self, position: usize) -> usize {
        self.round.frequency(position)
    }

    /// M = N/2: the packed length of a real sequence; its spectrum has M + 1 values.
    pub fn half(&self) -> usize {
        self.half
    }

    /// Work space for the transforms (empty unless M has a prime factor above 7).
    pub fn scratch(&self) -> LanesScratch<T> {
        self.round.scratch()
    }

    /// Forward: `packed` (M values, used as work space) → `spectrum` (M + 1 values).
    pub fn r2c(
        &self,
        packed: &mut [Split<T::V>],
        spectrum: &mut [Split<T::V>],
        s: &mut LanesScratch<T>,
    ) {
        assert_eq!(
            spectrum.len(),
            self.half + 1,
            "the spectrum has M + 1 values"
        );
        self.r2c_each(packed, s, |k, x| spectrum[k] = x);
    }

    /// One round trip through sample space for a pointwise step in between: the c2r of
    /// `spectrum`, `op(i, z)` replacing each packed sample, the r2c of the result handed
    /// over as `store(k, X[k])`, k = 0..=M in order. Both complex transforms are done in
    /// place and depth first by one [`LanesConvolution`] (inverse first, through
    /// `inverse(x) = swap(forward(swap(x)))`), so `op` sees the samples in its
    /// digit-reversed order: position i is packed sample [`Self::sample`]`(i)`.
    /// Unnormalised as [`Self::c2r`]. `packed` (M values) is work space; of `spectrum`
    /// only the imaginary parts of `X[0]` and `X[M]` change, as in [`Self::c2r`].
    pub fn round_trip(
        &self,
        spectrum: &mut [Split<T::V>],
        packed: &mut [Split<T::V>],
        s: &mut LanesScratch<T>,
        op: impl Fn(usize, Split<T::V>) -> Split<T::V>,
        store: impl FnMut(usize, Split<T::V>),
    ) {
        self.unfold::<true>(spectrum, packed, |k| k);
        self.round.process(packed, s, |i, y| {
            swapped::<_, true>(op(i, swapped::<_, true>(y)))
        });
        self.fold::<true>(packed, |k| k, store);
    }

    /// Forward, handing each spectrum value over as `store(k, X[k])`, k = 0, 1, ..., M in
    /// order, instead of writing it to a buffer: a caller that stores the spectrum in
    /// another layout saves a pass over it.
    pub fn r2c_each(
        &self,
        packed: &mut [Split<T::V>],
        s: &mut LanesScratch<T>,
        store: impl FnMut(usize, Split<T::V>),
    ) {
        assert_eq!(packed.len(), self.half, "the packed sequence has M values");
        self.round.forward(packed, s);
        let position = &self.position;
        self.fold::<false>(packed, |k| position[k], store);
    }

    /// The r2c's last step: X[k] for k = 0..=M from the complex transform Z of the packed
    /// sequence (Z[k] at `packed[at(k)]`, read swapped when `SWAP`), handed over in order.
    #[inline(always)]
    fn fold<const SWAP: bool>(
        &self,
        packed: &[Split<T::V>],
        at: impl Fn(usize) -> usize,
        mut store: impl FnMut(usize, Split<T::V>),
    ) {
        let m = self.half;
        let half = T::splat(T::from_f64(0.5).expect("fits"));
        for (k, w) in self.twiddles.iter().enumerate() {
            // k mod M and (M − k) mod M by comparisons: an integer division per value
            // by a run-time M cost more than the arithmetic around it.
            let (k0, k1) = (if k < m { k } else { 0 }, if k > 0 { m - k } else { 0 });
            let zk = swapped::<_, SWAP>(packed[at(k0)]);
            let zc = conj(swapped::<_, SWAP>(packed[at(k1)]));
            let e = zk.add(zc);
            let d = zk.sub(zc);
            // O·2 = (Z[k] − Z̄[M−k])/i = −i·d.
            let o = d.times_minus_i();
            let wo = twiddle::<T>(o, *w);
            store(
                k,
                Split {
                    re: (e.re + wo.re) * half,
                    im: (e.im + wo.im) * half,
                },
            );
        }
    }

    /// The c2r's first step: the packed sequence whose complex transform the spectrum's
    /// M + 1 values determine (written swapped when `SWAP`), Z[k] at `packed[at(k)]`.
    #[inline(always)]
    fn unfold<const SWAP: bool>(
        &self,
        spectrum: &mut [Split<T::V>],
        packed: &mut [Split<T::V>],
        at: impl Fn(usize) -> usize,
    ) {
        let m = self.half;
        assert_eq!(
            (packed.len(), spectrum.len()),
            (m, m + 1),
            "lengths are M and M + 1"
        );
        let zero = T::splat(T::zero());
        spectrum[0].im = zero;
        spectrum[m].im = zero;
        for (k, w) in self.twiddles[..m].iter().enumerate() {
            let a = spectrum[k];
            let b = conj(spectrum[m - k]);
            // 2E_k = a + b, 2O_k = (a − b)·w̄_k;  Z[k] = 2E_k + i·2O_k.
            let e = a.add(b);
            let o = twiddle::<T>(a.sub(b), w.conj());
            packed[at(k)] = swapped::<_, SWAP>(Split {
                re: e.re - o.im,
                im: e.im + o.re,
            });
        }
    }

    /// Unnormalised inverse: `spectrum` (M + 1 values) → `packed` (M values), i.e.
    /// N·irfft. Of `spectrum`, only the imaginary parts of `X[0]` and `X[M]` are changed (set
    /// to 0, as irfft ignores them): the same call can be made again.
    pub fn c2r(
        &self,
        spectrum: &mut [Split<T::V>],
        packed: &mut [Split<T::V>],
        s: &mut LanesScratch<T>,
    ) {
        let position = &self.position;
        self.unfold::<false>(spectrum, packed, |k| position[k]);
        self.round.inverse(packed, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packed real transforms against realfft (itself checked against numpy elsewhere).
    fn check_real<T: LaneFloat>(n: usize, eps: f64) {
        use realfft::RealFftPlanner;
        let lanes = T::LANES;
        let x =
            |i: usize, j: usize| T::from_f64(((i * 5 + j * 11 + 3) as f64 * 0.73).sin()).unwrap();
        let plan = RealLanesFft::<T>::new(n);
        let m = plan.half();
        let mut s = plan.scratch();
        let mut packed = vec![Split::<T::V>::default(); m];
        {
            let v: &mut [T] = bytemuck::cast_slice_mut(&mut packed);
            for i in 0..n {
                for j in 0..lanes {
                    v[2 * lanes * (i / 2) + (i % 2) * lanes + j] = x(i, j);
                }
            }
        }
        let mut spectrum = vec![Split::<T::V>::default(); m + 1];
        plan.r2c(&mut packed, &mut spectrum, &mut s);
        let mut real = RealFftPlanner::<T>::new();
        let (r2c, c2r) = (real.plan_fft_forward(n), real.plan_fft_inverse(n));
        let bound = eps * (4.0 * (n as f64).log2() + 4.0);
        let got: Vec<T> = bytemuck::cast_slice(&spectrum).to_vec();
        for j in 0..lanes {
            let mut row: Vec<T> = (0..n).map(|i| x(i, j)).collect();
            let mut expected = r2c.make_output_vec();
            r2c.process(&mut row, &mut expected).unwrap();
            let scale = expected
                .iter()
                .map(|z| z.norm().to_f64().unwrap())
                .fold(0.0, f64::max);
            for (k, e) in expected.iter().enumerate() {
                let g = Complex::new(got[2 * lanes * k + j], got[2 * lanes * k + lanes + j]);
                let err = (g - e).norm().to_f64().unwrap() / scale;
                assert!(
                    err <= bound,
                    "r2c n {n} lane {j} bin {k}: {err:.2e} > {bound:.2e}"
                );
            }
            // And back: realfft's c2r of the same (rounded) spectrum.
            let mut spec = expected.clone();
            let mut back = vec![T::zero(); n];
            c2r.process(&mut spec, &mut back).unwrap();
            let mut ours = spectrum.clone();
            let mut packed_back = vec![Split::<T::V>::default(); m];
            plan.c2r(&mut ours, &mut packed_back, &mut s);
            let v: &[T] = bytemuck::cast_slice(&packed_back);
            let scale = back
                .iter()
                .map(|b| b.abs().to_f64().unwrap())
                .fold(0.0, f64::max);
            for (i, b) in back.iter().enumerate() {
                let g = v[2 * lanes * (i / 2) + (i % 2) * lanes + j];
                let err = (g - *b).abs().to_f64().unwrap() / scale;
                assert!(
                    err <= bound,
                    "c2r n {n} lane {j} sample {i}: {err:.2e} > {bound:.2e}"
                );
            }
        }
    }

    /// The in-place round trip against c2r, a product in natural order, r2c.
    fn check_round_trip<T: LaneFloat>(n: usize, eps: f64) {
        let lanes = T::LANES;
        let plan = RealLanesFft::<T>::new(n);
        let m = plan.half();
        let mut s = plan.scratch();
        let mut spectrum = vec![Split::<T::V>::default(); m + 1];
        bytemuck::cast_slice_mut::<_, T>(&mut spectrum)
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = T::from_f64(((i * 3 + 1) as f64 * 0.61).cos()).unwrap());
        // A different factor for every packed sample and lane.
        let factor = |n: usize| {
            let mut g = Split::<T::V>::default();
            let v: &mut [T] = bytemuck::cast_slice_mut(std::slice::from_mut(&mut g));
            for (j, x) in v.iter_mut().enumerate() {
                *x = T::from_f64(1.5 + ((n * 2 * lanes + j) as f64 * 0.29).sin()).unwrap();
            }
            g
        };
        let times = |z: Split<T::V>, g: Split<T::V>| Split {
            re: z.re * g.re,
            im: z.im * g.im,
        };
        let mut expected = vec![Split::<T::V>::default(); m + 1];
        let mut real = vec![Split::<T::V>::default(); m];
        plan.c2r(&mut spectrum.clone(), &mut real, &mut s);
        for (k, z) in real.iter_mut().enumerate() {
            *z = times(*z, factor(k));
        }
        plan.r2c(&mut real, &mut expected, &mut s);
        let mut got = vec![Split::<T::V>::default(); m + 1];
        let mut seen = vec![false; m + 1];
        plan.round_trip(
            &mut spectrum,
            &mut real,
            &mut s,
            |i, z| times(z, factor(plan.sample(i))),
            |k, x| {
                got[k] = x;
                seen[k] = true;
            },
        );
        assert!(seen.iter().all(|&b| b), "n {n}: every value handed over");
        let (e, g): (&[T], &[T]) = (bytemuck::cast_slice(&expected), bytemuck::cast_slice(&got));
        let scale = e
            .iter()
            .map(|v| v.abs().to_f64().unwrap())
            .fold(0.0, f64::max);
        // Two transforms each way, rounded in a different order (see check_real).
        let bound = eps * (8.0 * (n as f64).log2() + 8.0);
        for (i, (a, b)) in e.iter().zip(g).enumerate() {
            let err = (a.to_f64().unwrap() - b.to_f64().unwrap()).abs() / scale;
            assert!(err <= bound, "n {n} value {i}: {err:.2e} > {bound:.2e}");
        }
    }

    #[test]
    fn round_trips_match_c2r_product_r2c() {
        // 4096: M = 2048 (radix 4 at the leaf); 64: M = 32; 24: M = 12 (4·3); 1000:
        // M = 500 (4·5³); 1200: M = 600; 26: M = 13, the fallback.
        for n in [2, 4, 64, 4096, 24, 1000, 1200, 26] {
            check_round_trip::<f64>(n, f64::EPSILON);
            check_round_trip::<f32>(n, f32::EPSILON as f64);
        }
    }

    #[test]
    fn packed_real_transforms_match_realfft() {
        // The error bound is twice the complex one's (realfft's own rounding enters too);
        // 100 (M = 50 = 2·5²) and 1000 (M = 500) mixed radices, 26 (M = 13) the per-lane
        // path, 2 a half of 1 (no stages).
        for n in [2, 4, 16, 64, 100, 1024, 1000, 26] {
            check_real::<f64>(n, f64::EPSILON);
            check_real::<f32>(n, f32::EPSILON as f64);
        }
    }
}

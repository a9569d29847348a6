//! [`LanesFft`]: forward or inverse (unnormalised) complex FFTs of `LANES` sequences of
//! one length, one per lane.
//!
//! Algorithm: Stockham autosort, decimation in frequency, mixed radix: radix 8 while 8
//! divides what is left, one radix-4 or radix-2 stage for the rest of the power of two,
//! then radix 7, 5 and 3 stages (`radix`). Stage s reads `src` and writes `dst`, the two
//! buffers swap roles, and the output comes out in natural order without a digit
//! reversal:
//!
//! ```text
//! m = len / (r_0·…·r_{s−1}),  stride = r_0·…·r_{s−1},  radix r = r_s,  n1 = m / r
//! dst[q + stride·(r·p + k)] = w_m^{kp} · Σ_j src[q + stride·(p + j·n1)] · w_r^{jk}
//!                          for p < n1, q < stride, k < r;  w_m = e^{−2πi/m}
//! ```
//!
//! The inverse needs no second code path: with swap(a + ib) = b + ia,
//! `inverse(x) = swap(forward(swap(x)))`, and a swap in split form is only a choice of
//! which vector is read as the real part. Lengths with a prime factor above 7 (no
//! butterfly for it here) fall back to rustfft one lane at a time — its Bluestein or
//! Rader plans for large primes — correct, but a gather per lane and no vertical SIMD.

use std::sync::Arc;

use num_complex::Complex;
use rustfft::{Fft, FftDirection, FftPlanner};

use super::radix::{Radix, Stage, radix_stages, rows, with_radix};
use super::{LaneFloat, Split, swapped};

enum Plan<T: LaneFloat> {
    /// len = 2^a·3^b·5^c·7^d: Stockham stages, in order.
    Stockham(Vec<Stage<T>>),
    /// Any other length: rustfft, one lane at a time.
    PerLane(Arc<dyn Fft<T>>),
}

/// Forward or inverse (unnormalised) transforms of `LANES` sequences of one length.
pub struct LanesFft<T: LaneFloat> {
    len: usize,
    direction: FftDirection,
    plan: Plan<T>,
}

/// Work space for [`LanesFft::process`]; make it once with [`LanesFft::scratch`].
pub struct LanesScratch<T: LaneFloat> {
    pub(super) work: Vec<Split<T::V>>,
    pub(super) lane: Vec<Complex<T>>,
    pub(super) fft: Vec<Complex<T>>,
}

impl<T: LaneFloat> LanesFft<T> {
    pub fn new(len: usize, direction: FftDirection) -> Self {
        assert!(len > 0, "an FFT needs a length");
        let plan = match radix_stages(len) {
            Some(stages) => Plan::Stockham(stages),
            None => Plan::PerLane(FftPlanner::new().plan_fft(len, direction)),
        };
        LanesFft {
            len,
            direction,
            plan,
        }
    }

    pub fn scratch(&self) -> LanesScratch<T> {
        let (lane, fft) = match &self.plan {
            Plan::Stockham(_) => (0, 0),
            Plan::PerLane(f) => (self.len, f.get_inplace_scratch_len()),
        };
        LanesScratch {
            work: vec![Split::default(); self.len],
            lane: vec![Complex::default(); lane],
            fft: vec![Complex::default(); fft],
        }
    }

    /// Transforms the `LANES` sequences in `data` (one transform long) in place.
    /// (Stockham alternates between `data` and the scratch: an odd number of stages ends
    /// with one copy back, e.g. len = 512 = 8³.)
    pub fn process(&self, data: &mut [Split<T::V>], scratch: &mut LanesScratch<T>) {
        self.process_then(data, scratch, |_, v| v);
    }

    /// [`LanesFft::process`], then `then(n, X[n])` replaces every output value `X[n]` —
    /// applied as the last stage stores it, while it is still in registers (a convolution
    /// multiplies by its transfer function there, saving one pass over the data).
    pub fn process_then(
        &self,
        data: &mut [Split<T::V>],
        scratch: &mut LanesScratch<T>,
        then: impl Fn(usize, Split<T::V>) -> Split<T::V>,
    ) {
        assert_eq!(data.len(), self.len, "data is not one transform long");
        match &self.plan {
            Plan::Stockham(stages) => {
                let work = &mut scratch.work[..];
                let mut in_data = true;
                for (i, (stage, stride)) in stages.iter().zip(strides(stages)).enumerate() {
                    let (src, dst) = if in_data {
                        (&*data, &mut *work)
                    } else {
                        (&*work, &mut *data)
                    };
                    let last = i + 1 == stages.len();
                    match (self.direction, last) {
                        (FftDirection::Forward, false) => {
                            run_stage::<T, false>(stage, stride, src, dst, |_, v| v)
                        }
                        (FftDirection::Forward, true) => {
                            run_stage::<T, false>(stage, stride, src, dst, &then)
                        }
                        (FftDirection::Inverse, false) => {
                            run_stage::<T, true>(stage, stride, src, dst, |_, v| v)
                        }
                        (FftDirection::Inverse, true) => {
                            run_stage::<T, true>(stage, stride, src, dst, &then)
                        }
                    }
                    in_data = !in_data;
                }
                if !in_data {
                    data.copy_from_slice(work);
                }
                if stages.is_empty() {
                    data.iter_mut()
                        .enumerate()
                        .for_each(|(n, v)| *v = then(n, *v));
                }
            }
            Plan::PerLane(fft) => {
                let lanes = T::LANES;
                let values: &mut [T] = bytemuck::cast_slice_mut(data);
                for j in 0..lanes {
                    for (n, z) in scratch.lane.iter_mut().enumerate() {
                        *z = Complex::new(
                            values[2 * lanes * n + j],
                            values[2 * lanes * n + lanes + j],
                        );
                    }
                    fft.process_with_scratch(&mut scratch.lane, &mut scratch.fft);
                    for (n, z) in scratch.lane.iter().enumerate() {
                        values[2 * lanes * n + j] = z.re;
                        values[2 * lanes * n + lanes + j] = z.im;
                    }
                }
                data.iter_mut()
                    .enumerate()
                    .for_each(|(n, v)| *v = then(n, *v));
            }
        }
    }
}

/// The stride of each stage: the product of the radices before it.
fn strides<T>(stages: &[Stage<T>]) -> impl Iterator<Item = usize> + '_ {
    stages.iter().scan(1, |stride, stage| {
        let this = *stride;
        *stride *= stage.radix.size();
        Some(this)
    })
}

/// One stage, forward (`SWAP` = false) or inverse (`SWAP` = true: real and imaginary parts
/// exchanged on every load and store, see the module notes).
fn run_stage<T: LaneFloat, const SWAP: bool>(
    stage: &Stage<T>,
    stride: usize,
    src: &[Split<T::V>],
    dst: &mut [Split<T::V>],
    then: impl Fn(usize, Split<T::V>) -> Split<T::V>,
) {
    let radix = stage.radix.size();
    let n1 = stage.m / radix;
    for (p, out) in dst.chunks_exact_mut(stride * radix).enumerate().take(n1) {
        // Source rows p + j·n1 and destination rows radix·p + k, each `stride` long.
        let w = &stage.twiddles[(radix - 1) * p..][..radix - 1];
        with_radix!(stage.radix, |R, dft| {
            // p = 0: every twiddle is 1, skip the multiplications.
            if p == 0 {
                butterflies::<T, SWAP, R, true>(src, n1, p, out, w, dft, &then)
            } else {
                butterflies::<T, SWAP, R, false>(src, n1, p, out, w, dft, &then)
            }
        })
    }
}

/// The `stride` butterflies of one p: inputs `src` rows p + j·n1, outputs the R rows of
/// `out`, the k-th multiplied by w_k (w_0 = 1; all 1 when `UNIT`), each passed through
/// `then` with its index (the identity except in the last stage).
#[inline(always)]
fn butterflies<T: LaneFloat, const SWAP: bool, const R: usize, const UNIT: bool>(
    src: &[Split<T::V>],
    n1: usize,
    p: usize,
    out: &mut [Split<T::V>],
    w: &[Complex<T>],
    dft: impl Fn([Split<T::V>; R]) -> [Split<T::V>; R],
    then: impl Fn(usize, Split<T::V>) -> Split<T::V>,
) {
    let stride = out.len() / R;
    let x: [&[Split<T::V>]; R] = std::array::from_fn(|j| &src[stride * (p + j * n1)..][..stride]);
    let y = rows::<_, R>(out);
    // Broadcast once per p, not once per butterfly.
    let tw: [(T::V, T::V); R] = std::array::from_fn(|k| match k {
        0 => (T::splat(T::one()), T::splat(T::zero())),
        _ => (T::splat(w[k - 1].re), T::splat(w[k - 1].im)),
    });
    for q in 0..stride {
        // A plain loop: `array::from_fn` is not always inlined, and then every value
        // goes through memory.
        let mut v = [Split::default(); R];
        for j in 0..R {
            v[j] = swapped::<_, SWAP>(x[j][q]);
        }
        let v = dft(v);
        for k in 0..R {
            let value = if UNIT || k == 0 {
                v[k]
            } else {
                let (wr, wi) = tw[k];
                Split {
                    re: <T as LaneFloat>::mul_sub(v[k].re, wr, v[k].im * wi),
                    im: <T as LaneFloat>::mul_add(v[k].re, wi, v[k].im * wr),
                }
            };
            // Output row R·p + k of this stage; `then` sees the true (unswapped) value.
            y[k][q] = then(stride * (R * p + k) + q, swapped::<_, SWAP>(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::split_from;
    use super::*;

    /// The DFT by its definition, in f64: the oracle. Each twiddle e^{±2πi·t/n} is taken
    /// from a table indexed by j·k mod n (exact in integers), and the n terms of each sum
    /// are added with Kahan's compensation, so that the oracle's own error stays a few ε
    /// of the output's scale at every length tested (a plain running sum of 5000 terms
    /// drifts by about √n·ε, as much as the FFT's whole error bound).
    fn dft(x: &[Complex<f64>], sign: f64) -> Vec<Complex<f64>> {
        let n = x.len();
        let table: Vec<Complex<f64>> = (0..n)
            .map(|t| Complex::from_polar(1.0, sign * std::f64::consts::TAU * t as f64 / n as f64))
            .collect();
        (0..n)
            .map(|k| {
                let (mut sum, mut carry) = (Complex::default(), Complex::<f64>::default());
                for (j, &v) in x.iter().enumerate() {
                    let term = v * table[(j * k) % n] - carry;
                    let next = sum + term;
                    carry = (next - sum) - term;
                    sum = next;
                }
                sum
            })
            .collect()
    }

    /// The lane FFT of length `len` against [`dft`] on the lanes `check` (every lane holds
    /// a different sequence, so lanes that leak into each other show).
    fn check<T: LaneFloat>(len: usize, direction: FftDirection, check: &[usize]) {
        let lanes = T::LANES;
        let eps = T::epsilon().to_f64().unwrap();
        let value = |n: usize, j: usize| {
            let t = (n * 7 + j * 13 + 1) as f64;
            Complex::new(
                (t * 0.37).sin(),
                (t * 0.91).cos() * (j + 1) as f64 / lanes as f64,
            )
        };
        let mut data = split_from::<T>(len, value);
        let fft = LanesFft::<T>::new(len, direction);
        let mut scratch = fft.scratch();
        fft.process(&mut data, &mut scratch);
        let values: &[T] = bytemuck::cast_slice(&data);
        let sign = match direction {
            FftDirection::Forward => -1.0,
            FftDirection::Inverse => 1.0,
        };
        for &j in check {
            // The inputs as rounded to T: the transform's own error is what is measured.
            let input: Vec<_> = (0..len)
                .map(|n| {
                    let z = value(n, j);
                    Complex::new(
                        T::from_f64(z.re).unwrap().to_f64().unwrap(),
                        T::from_f64(z.im).unwrap().to_f64().unwrap(),
                    )
                })
                .collect();
            let expected = dft(&input, sign);
            let scale = expected.iter().map(|z| z.norm()).fold(0.0, f64::max);
            // An FFT's rounding error grows like log2(len)·ε (each stage adds a few
            // roundings of values no larger than the output's max); 2·log2(len)+2 ε covers
            // the butterflies' few operations per factor of two (a radix-7 butterfly does
            // about three roundings per part over log2(7) = 2.8 such factors). The oracle
            // adds its own ≈ 2ε of the scale (a rounded twiddle and product per term,
            // independent, summed with compensation): 4 f64 ε for it.
            let bound = eps * (2.0 * (len as f64).log2() + 2.0) + 4.0 * f64::EPSILON;
            let worst = expected
                .iter()
                .enumerate()
                .map(|(k, e)| {
                    let got = Complex::new(
                        values[2 * lanes * k + j].to_f64().unwrap(),
                        values[2 * lanes * k + lanes + j].to_f64().unwrap(),
                    );
                    ((got - e).norm() / scale, k)
                })
                .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
            assert!(
                worst.0 <= bound,
                "len {len} {direction:?} lane {j}: bin {} off by {:.2e} > {bound:.2e} of the peak",
                worst.1,
                worst.0
            );
        }
    }

    fn both_ways<T: LaneFloat>(len: usize, lanes: &[usize]) {
        for direction in [FftDirection::Forward, FftDirection::Inverse] {
            check::<T>(len, direction, lanes);
        }
    }

    #[test]
    fn every_length_up_to_512_matches_the_dft_in_both_directions_and_precisions() {
        // Every mix of radices 8, 4, 2, 7, 5, 3 up to 512, and the per-lane fallback for
        // the lengths with a larger prime factor. Every lane up to 64 points; the first
        // and the last lane above (the oracle's n² terms per lane dominate the time).
        for len in 1..=512 {
            let (f64_lanes, f32_lanes): (Vec<usize>, Vec<usize>) = if len <= 64 {
                ((0..8).collect(), (0..16).collect())
            } else {
                (vec![0, 7], vec![0, 15])
            };
            both_ways::<f64>(len, &f64_lanes);
            both_ways::<f32>(len, &f32_lanes);
        }
    }

    #[test]
    fn the_image_sides_match_the_dft_in_both_directions_and_precisions() {
        // 1000 = 8·5³, 1200 = 8·2·5²·3, 1920 = 8·8·2·5·3, 3000 = 8·5³·3, 5000 = 8·5⁴; 2048
        // and 4096 the powers of two of AIA. One lane each (n² terms per lane).
        for len in [1000, 1200, 1920, 3000, 5000, 2048, 4096] {
            both_ways::<f64>(len, &[5]);
            both_ways::<f32>(len, &[11]);
        }
    }

    #[test]
    fn lengths_factor_into_the_radices_or_fall_back() {
        let radices = |len: usize| {
            radix_stages::<f64>(len).map(|s| s.iter().map(|s| s.radix.size()).collect::<Vec<_>>())
        };
        assert_eq!(radices(1000), Some(vec![8, 5, 5, 5]));
        assert_eq!(radices(1200), Some(vec![8, 2, 5, 5, 3]));
        assert_eq!(radices(4096), Some(vec![8, 8, 8, 8]));
        assert_eq!(radices(2 * 7 * 9), Some(vec![2, 7, 3, 3]));
        assert_eq!(radices(1), Some(vec![]));
        for len in [11, 22, 509, 1000 * 11] {
            assert!(radices(len).is_none(), "{len} has a prime factor above 7");
            assert!(matches!(
                LanesFft::<f64>::new(len, FftDirection::Forward).plan,
                Plan::PerLane(_)
            ));
        }
    }
}

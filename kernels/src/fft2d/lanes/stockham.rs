//! [`LanesFft`]: forward or inverse (unnormalised) complex FFTs of `LANES` sequences of
//! one length, one per lane.
//!
//! Algorithm: Stockham autosort, decimation in frequency, radix 8 (then one radix-4 or
//! radix-2 stage for the leftover factor of 2^k). Stage s reads `src` and writes `dst`,
//! the two buffers swap roles, and the output comes out in natural order without a bit
//! reversal:
//!
//! ```text
//! m = len / 8^s,  stride = 8^s,  n1 = m / 8
//! dst[q + stride·(8p + k)] = w_m^{kp} · Σ_j src[q + stride·(p + j·n1)] · w_8^{jk}
//!                          for p < n1, q < stride, k < 8;  w_m = e^{−2πi/m}
//! ```
//!
//! The inverse needs no second code path: with swap(a + ib) = b + ia,
//! `inverse(x) = swap(forward(swap(x)))`, and a swap in split form is only a choice of
//! which vector is read as the real part. Lengths that are not powers of two fall back to
//! rustfft one lane at a time (correct, not fast).

use std::sync::Arc;

use num_complex::Complex;
use rustfft::{Fft, FftDirection, FftPlanner};

use super::radix::{Stage, dft2, dft4, dft8, radix_stages, rows};
use super::{LaneFloat, Split, swapped};

enum Plan<T: LaneFloat> {
    /// len = 2^k: Stockham stages, in order.
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
        let plan = if len.is_power_of_two() {
            let stages = radix_stages(len);
            Plan::Stockham(stages)
        } else {
            Plan::PerLane(FftPlanner::new().plan_fft(len, direction))
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
        *stride *= stage.radix;
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
    let (radix, n1) = (stage.radix, stage.m / stage.radix);
    for (p, out) in dst.chunks_exact_mut(stride * radix).enumerate().take(n1) {
        // Source rows p + j·n1 and destination rows radix·p + k, each `stride` long.
        let w = &stage.twiddles[(radix - 1) * p..][..radix - 1];
        match (radix, p == 0) {
            // p = 0: every twiddle is 1, skip the multiplications.
            (8, true) => butterflies::<T, SWAP, 8, true>(src, n1, p, out, w, dft8::<T>, &then),
            (8, false) => butterflies::<T, SWAP, 8, false>(src, n1, p, out, w, dft8::<T>, &then),
            (4, true) => butterflies::<T, SWAP, 4, true>(src, n1, p, out, w, dft4::<T>, &then),
            (4, false) => butterflies::<T, SWAP, 4, false>(src, n1, p, out, w, dft4::<T>, &then),
            (_, true) => butterflies::<T, SWAP, 2, true>(src, n1, p, out, w, dft2::<T>, &then),
            (_, false) => butterflies::<T, SWAP, 2, false>(src, n1, p, out, w, dft2::<T>, &then),
        }
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

    /// The DFT by its definition, in f64: the oracle.
    fn dft(x: &[Complex<f64>], sign: f64) -> Vec<Complex<f64>> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .map(|(j, &v)| {
                        let a = sign * 2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64;
                        v * Complex::new(a.cos(), a.sin())
                    })
                    .sum()
            })
            .collect()
    }

    fn check<T: LaneFloat>(len: usize, direction: FftDirection, eps: f64) {
        let lanes = T::LANES;
        // Lane j holds a different sequence: lanes must not leak into each other.
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
        for j in 0..lanes {
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
            for (k, e) in expected.iter().enumerate() {
                let got = Complex::new(
                    values[2 * lanes * k + j].to_f64().unwrap(),
                    values[2 * lanes * k + lanes + j].to_f64().unwrap(),
                );
                let err = (got - e).norm() / scale;
                // An FFT's rounding error grows like log2(len)·ε (each stage adds a few
                // roundings of values no larger than the output's max); 2·log2(len)+2 ε
                // covers the radix-8 butterfly's few operations per stage.
                let bound = eps * (2.0 * (len as f64).log2() + 2.0);
                assert!(
                    err <= bound,
                    "len {len} {direction:?} lane {j} bin {k}: error {err:.2e} > {bound:.2e}"
                );
            }
        }
    }

    #[test]
    fn every_stage_mix_matches_the_dft_in_both_directions_and_precisions() {
        // Powers of two cover radix 8 alone (8, 64, 512), with a radix-4 (16, 128, 2048) or
        // radix-2 (2, 32, 256, 1024) stage; 1 is the identity; 12 and 15 take the per-lane
        // path.
        for len in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 12, 15] {
            for direction in [FftDirection::Forward, FftDirection::Inverse] {
                check::<f64>(len, direction, f64::EPSILON);
                check::<f32>(len, direction, f32::EPSILON as f64);
            }
        }
    }
}

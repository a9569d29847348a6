//! Many complex FFTs at once, one per SIMD lane: "vertical" vectorisation.
//!
//! rustfft vectorises *within* one transform: its butterflies shuffle values between
//! lanes, and it uses 256-bit AVX at most. When there are many independent transforms of
//! the same length (the columns of an image), there is a simpler way: put transform j in
//! lane j. Every butterfly is then the scalar formula applied to whole vectors — no
//! shuffles at all — and the vectors are as wide as the CPU has (8 × f64 or 16 × f32 with
//! AVX-512, through `wide`).
//!
//! Data layout: element `n` of the `LANES` transforms is one [`Split`] value, the real parts
//! in one vector and the imaginary parts in another ("split" complex). A buffer of `len`
//! such values holds `LANES` transforms of length `len`.
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

use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

use num_complex::Complex;
use rustfft::{Fft, FftDirection, FftPlanner};

use super::Float;

mod convolution;
pub use convolution::LanesConvolution;

/// A real type and its widest SIMD vector.
pub trait LaneFloat: Float + bytemuck::Pod {
    type V: Copy
        + Default
        + Send
        + Sync
        + bytemuck::Pod
        + Add<Output = Self::V>
        + Sub<Output = Self::V>
        + Mul<Output = Self::V>
        + Div<Output = Self::V>
        + Neg<Output = Self::V>;
    /// Transforms per vector.
    const LANES: usize;
    fn splat(x: Self) -> Self::V;
    /// `a·b − c`, fused where the CPU has FMA.
    fn mul_sub(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a·b + c`, fused where the CPU has FMA.
    fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Transposes a `LANES × LANES` tile of split values, real and imaginary parts apart:
    /// lane i of `dst[j]` becomes lane j of `src[i]` (both exactly `LANES` long). Loads
    /// and stores go straight between memory and registers: copying through a stack
    /// array made LLVM split the copies into 256-bit halves, which a 512-bit load cannot
    /// be forwarded from (a store-forwarding stall on every row of every tile).
    fn transpose(src: &[Split<Self::V>], dst: &mut [Split<Self::V>]);
    /// `a / d` without the divider where AVX-512 has a reciprocal estimate: `vrcp14`
    /// (14 bits), Newton steps to full precision, then one correction of the quotient,
    /// `q + r·(a − d·q)`. A 512-bit `vdivpd` holds the divider for about 16 cycles; these
    /// six or eight multiply-adds pipeline. It is not IEEE division, so its contract is:
    /// - where `d` is 0 or `a` is not finite, the result is not finite;
    /// - where the result is finite, it is within one ulp of `a / d` (one subnormal ulp
    ///   where `a / d` is subnormal);
    /// - where `d` is infinite or below about 2^−1024 in magnitude, the result may be NaN
    ///   though `a / d` is finite; a quotient within an ulp of overflowing may come out
    ///   as the largest finite value where `a / d` rounds to infinity.
    ///
    /// Callers that must reproduce IEEE division's inf and NaN look for non-finite
    /// results and redo those with `/`. The tests check all of this against `/` over the
    /// whole exponent range. Other CPUs get `a / d` itself.
    fn div_fast(a: Self::V, d: Self::V) -> Self::V;
}

impl LaneFloat for f64 {
    type V = wide::f64x8;
    const LANES: usize = 8;
    #[inline(always)]
    fn splat(x: f64) -> Self::V {
        wide::f64x8::splat(x)
    }
    #[inline(always)]
    fn mul_sub(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        a.mul_sub(b, c)
    }
    #[inline(always)]
    fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn transpose(src: &[Split<Self::V>], dst: &mut [Split<Self::V>]) {
        #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
        avx512::transpose_f64(src, dst);
        #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
        transpose_scalar::<f64>(src, dst);
    }
    #[inline(always)]
    fn div_fast(a: Self::V, d: Self::V) -> Self::V {
        #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
        return avx512::div_f64(a, d);
        #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
        return a / d;
    }
}

impl LaneFloat for f32 {
    type V = wide::f32x16;
    const LANES: usize = 16;
    #[inline(always)]
    fn splat(x: f32) -> Self::V {
        wide::f32x16::splat(x)
    }
    #[inline(always)]
    fn mul_sub(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        a.mul_sub(b, c)
    }
    #[inline(always)]
    fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn transpose(src: &[Split<Self::V>], dst: &mut [Split<Self::V>]) {
        #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
        avx512::transpose_f32(src, dst);
        #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
        transpose_scalar::<f32>(src, dst);
    }
    #[inline(always)]
    fn div_fast(a: Self::V, d: Self::V) -> Self::V {
        #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
        return avx512::div_f32(a, d);
        #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
        return a / d;
    }
}

/// The transpose by its definition (other CPUs; the oracle of the AVX-512 version's test).
#[allow(dead_code)]
fn transpose_scalar<T: LaneFloat>(src: &[Split<T::V>], dst: &mut [Split<T::V>]) {
    let w = T::LANES;
    assert_eq!((src.len(), dst.len()), (w, w), "a LANES × LANES tile");
    let (s, d): (&[T], &mut [T]) = (bytemuck::cast_slice(src), bytemuck::cast_slice_mut(dst));
    // Split value i is 2W reals: W real parts, then W imaginary parts.
    for part in [0, w] {
        for i in 0..w {
            for j in 0..w {
                d[2 * w * j + part + i] = s[2 * w * i + part + j];
            }
        }
    }
}

/// In-register transposes: log2(LANES) rounds of `vpermt2*`, round b swapping element
/// (i, p + b) with (i + b, p) for every row i and column p with bit b clear — the
/// recursive block transpose, one two-source permute per row and round.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod avx512 {
    use std::arch::x86_64::{
        __m512, __m512d, __m512i, _mm512_fmadd_pd, _mm512_fmadd_ps, _mm512_fnmadd_pd,
        _mm512_fnmadd_ps, _mm512_loadu_pd, _mm512_loadu_ps, _mm512_mul_pd, _mm512_mul_ps,
        _mm512_permutex2var_pd, _mm512_permutex2var_ps, _mm512_rcp14_pd, _mm512_rcp14_ps,
        _mm512_set1_pd, _mm512_set1_ps, _mm512_storeu_pd, _mm512_storeu_ps,
    };
    use std::mem::transmute;

    use super::Split;

    /// Permute indices of round b: from row i (first source, 0..W) and row i + b
    /// (second source, W..2W), for the new row i (`low`) and the new row i + b.
    const fn indices<const W: usize>(b: usize, low: bool) -> [i64; W] {
        let mut idx = [0i64; W];
        let mut p = 0;
        while p < W {
            idx[p] = match (p & b == 0, low) {
                (true, true) => p,
                (false, true) => W + p - b,
                (true, false) => p + b,
                (false, false) => W + p,
            } as i64;
            p += 1;
        }
        idx
    }

    const fn indices32<const W: usize>(b: usize, low: bool) -> [i32; W] {
        let wide = indices::<W>(b, low);
        let mut idx = [0i32; W];
        let mut p = 0;
        while p < W {
            idx[p] = wide[p] as i32;
            p += 1;
        }
        idx
    }

    /// Round b of the recursive transpose on `r`, for every (low, high, b) in `rounds`.
    #[inline(always)]
    fn rounds<V: Copy>(
        r: &mut [V],
        rounds: &[(__m512i, __m512i, usize)],
        permute: impl Fn(V, __m512i, V) -> V,
    ) {
        for &(low, high, b) in rounds {
            for i in (0..r.len()).filter(|i| i & b == 0) {
                let (a, c) = (r[i], r[i + b]);
                r[i] = permute(a, low, c);
                r[i + b] = permute(a, high, c);
            }
        }
    }

    /// The W × W tile transpose of `src` into `dst` (W Split values each, W reals per
    /// vector: the real parts of value i at 2W·i, the imaginary parts at 2W·i + W), real
    /// and imaginary parts apart, with the element type's load, store and permute.
    #[inline(always)]
    fn transpose_tile<E, V: Copy, const W: usize>(
        src: *const E,
        dst: *mut E,
        table: &[(__m512i, __m512i, usize)],
        load: impl Fn(*const E) -> V,
        store: impl Fn(*mut E, V),
        permute: impl Fn(V, __m512i, V) -> V,
    ) {
        for part in [0, W] {
            let mut r = [load(src.wrapping_add(part)); W];
            for (i, row) in r.iter_mut().enumerate().skip(1) {
                *row = load(src.wrapping_add(2 * W * i + part));
            }
            rounds(&mut r, table, &permute);
            for (j, v) in r.into_iter().enumerate() {
                store(dst.wrapping_add(2 * W * j + part), v);
            }
        }
    }

    // SAFETY (every transmute below): [i64; 8], [i32; 16], f64x8, f32x16, __m512d, __m512
    // and __m512i are 64 plain bytes each, every bit pattern valid (transmute checks the
    // sizes). SAFETY (every intrinsic): this module exists only in builds for CPUs with
    // AVX-512F (the cfg above); every load and store is inside `src` or `dst`, whose
    // lengths are asserted (W Split values of 2W reals each).

    /// [`super::LaneFloat::div_fast`] for f64. The reciprocal estimate r has a relative
    /// error δ ≤ 2^−14; each Newton step squares it (2^−28, then 2^−56), so q = a·r is
    /// already within about an ulp, and the correction q + r·(a − d·q) (the residual
    /// exact in an FMA up to one rounding) brings it within one ulp. With one step fewer
    /// the correction would have to make up 2^−28 on its own: enough for normal a by the
    /// same argument, marginal for subnormal a, whose residual is rounded to the
    /// subnormal grid. The second step costs two FMAs.
    #[inline(always)]
    pub fn div_f64(a: wide::f64x8, d: wide::f64x8) -> wide::f64x8 {
        let (a, d) = unsafe {
            (
                transmute::<wide::f64x8, __m512d>(a),
                transmute::<wide::f64x8, __m512d>(d),
            )
        };
        let one = unsafe { _mm512_set1_pd(1.0) };
        let mut r = unsafe { _mm512_rcp14_pd(d) };
        for _ in 0..2 {
            // e = 1 − d·r (exact in an FMA), r ← r + r·e: the relative error squares.
            let e = unsafe { _mm512_fnmadd_pd(d, r, one) };
            r = unsafe { _mm512_fmadd_pd(r, e, r) };
        }
        let q = unsafe { _mm512_mul_pd(a, r) };
        let residual = unsafe { _mm512_fnmadd_pd(d, q, a) };
        unsafe { transmute::<__m512d, wide::f64x8>(_mm512_fmadd_pd(r, residual, q)) }
    }

    /// [`super::LaneFloat::div_fast`] for f32: one Newton step (2^−28 < 2^−24).
    #[inline(always)]
    pub fn div_f32(a: wide::f32x16, d: wide::f32x16) -> wide::f32x16 {
        let (a, d) = unsafe {
            (
                transmute::<wide::f32x16, __m512>(a),
                transmute::<wide::f32x16, __m512>(d),
            )
        };
        let one = unsafe { _mm512_set1_ps(1.0) };
        let r = unsafe { _mm512_rcp14_ps(d) };
        let e = unsafe { _mm512_fnmadd_ps(d, r, one) };
        let r = unsafe { _mm512_fmadd_ps(r, e, r) };
        let q = unsafe { _mm512_mul_ps(a, r) };
        let residual = unsafe { _mm512_fnmadd_ps(d, q, a) };
        unsafe { transmute::<__m512, wide::f32x16>(_mm512_fmadd_ps(r, residual, q)) }
    }

    #[inline(always)]
    pub fn transpose_f64(src: &[Split<wide::f64x8>], dst: &mut [Split<wide::f64x8>]) {
        assert_eq!((src.len(), dst.len()), (8, 8), "an 8 × 8 tile");
        // Index tables built at compile time, not per tile.
        const ROUNDS: [([i64; 8], [i64; 8], usize); 3] = [
            (indices::<8>(1, true), indices::<8>(1, false), 1),
            (indices::<8>(2, true), indices::<8>(2, false), 2),
            (indices::<8>(4, true), indices::<8>(4, false), 4),
        ];
        let table = ROUNDS.map(|(low, high, b)| unsafe {
            (
                transmute::<[i64; 8], __m512i>(low),
                transmute::<[i64; 8], __m512i>(high),
                b,
            )
        });
        transpose_tile::<f64, __m512d, 8>(
            src.as_ptr().cast(),
            dst.as_mut_ptr().cast(),
            &table,
            |p| unsafe { _mm512_loadu_pd(p) },
            |p, v| unsafe { _mm512_storeu_pd(p, v) },
            |a, i, c| unsafe { _mm512_permutex2var_pd(a, i, c) },
        );
    }

    #[inline(always)]
    pub fn transpose_f32(src: &[Split<wide::f32x16>], dst: &mut [Split<wide::f32x16>]) {
        assert_eq!((src.len(), dst.len()), (16, 16), "a 16 × 16 tile");
        const ROUNDS: [([i32; 16], [i32; 16], usize); 4] = [
            (indices32::<16>(1, true), indices32::<16>(1, false), 1),
            (indices32::<16>(2, true), indices32::<16>(2, false), 2),
            (indices32::<16>(4, true), indices32::<16>(4, false), 4),
            (indices32::<16>(8, true), indices32::<16>(8, false), 8),
        ];
        let table = ROUNDS.map(|(low, high, b)| unsafe {
            (
                transmute::<[i32; 16], __m512i>(low),
                transmute::<[i32; 16], __m512i>(high),
                b,
            )
        });
        transpose_tile::<f32, __m512, 16>(
            src.as_ptr().cast(),
            dst.as_mut_ptr().cast(),
            &table,
            |p| unsafe { _mm512_loadu_ps(p) },
            |p, v| unsafe { _mm512_storeu_ps(p, v) },
            |a, i, c| unsafe { _mm512_permutex2var_ps(a, i, c) },
        );
    }
}

/// `LANES` complex numbers in split form.
#[derive(Clone, Copy, Default, Debug)]
#[repr(C)]
pub struct Split<V> {
    pub re: V,
    pub im: V,
}

// SAFETY: two Pod vectors of the same type, `repr(C)`, no padding between them.
unsafe impl<V: bytemuck::Pod> bytemuck::Zeroable for Split<V> {}
unsafe impl<V: bytemuck::Pod> bytemuck::Pod for Split<V> {}

impl<V: Copy + Add<Output = V> + Sub<Output = V>> Split<V> {
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Split {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Split {
            re: self.re - o.re,
            im: self.im - o.im,
        }
    }
}

impl<V: Copy + Neg<Output = V>> Split<V> {
    /// × (−i): (a + ib)(−i) = b − ia.
    #[inline(always)]
    fn times_minus_i(self) -> Self {
        Split {
            re: self.im,
            im: -self.re,
        }
    }
}

/// The real and imaginary parts exchanged: how the inverse reuses the forward code.
#[inline(always)]
fn swapped<V, const SWAP: bool>(x: Split<V>) -> Split<V> {
    if SWAP {
        Split { re: x.im, im: x.re }
    } else {
        x
    }
}

/// × w for one complex scalar w, broadcast to every lane.
#[inline(always)]
fn twiddle<T: LaneFloat>(x: Split<T::V>, w: Complex<T>) -> Split<T::V> {
    let (wr, wi) = (T::splat(w.re), T::splat(w.im));
    Split {
        re: <T as LaneFloat>::mul_sub(x.re, wr, x.im * wi),
        im: <T as LaneFloat>::mul_add(x.re, wi, x.im * wr),
    }
}

/// One radix stage (of the Stockham FFT, or of [`LanesConvolution`]'s in-place pair): its
/// radix, the sub-length m it splits, and w_m^{kp} for k = 1 .. radix−1,
/// p = 0 .. m/radix (radix − 1 values per p).
struct Stage<T> {
    radix: usize,
    m: usize,
    twiddles: Vec<Complex<T>>,
}

/// The stages of a length-2^k transform: radix 8 while 8 divides what is left, then one
/// radix-4 or radix-2 stage. Stage i splits sub-length m = len / (product of the radices
/// before it).
fn radix_stages<T: LaneFloat>(len: usize) -> Vec<Stage<T>> {
    let mut stages = Vec::new();
    let mut m = len;
    while m > 1 {
        let radix = if m.is_multiple_of(8) {
            8
        } else if m.is_multiple_of(4) {
            4
        } else {
            2
        };
        let mut twiddles = Vec::with_capacity((radix - 1) * (m / radix));
        for p in 0..m / radix {
            for k in 1..radix {
                // Reduce k·p modulo m in integers: the angle is then exact to one
                // rounding, whatever the length.
                let angle = -2.0 * std::f64::consts::PI * ((k * p) % m) as f64 / m as f64;
                let (sin, cos) = angle.sin_cos();
                twiddles.push(Complex::new(
                    T::from_f64(cos).expect("a cosine fits in T"),
                    T::from_f64(sin).expect("a sine fits in T"),
                ));
            }
        }
        stages.push(Stage { radix, m, twiddles });
        m /= radix;
    }
    stages
}

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
    work: Vec<Split<T::V>>,
    lane: Vec<Complex<T>>,
    fft: Vec<Complex<T>>,
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
pub struct RealLanesFft<T: LaneFloat> {
    half: usize,
    forward: LanesFft<T>,
    inverse: LanesFft<T>,
    /// w_k for k = 0..=M.
    twiddles: Vec<Complex<T>>,
    /// The complex transforms of [`Self::round_trip`], in place.
    round: LanesConvolution<T>,
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
        RealLanesFft {
            half,
            forward: LanesFft::new(half, FftDirection::Forward),
            inverse: LanesFft::new(half, FftDirection::Inverse),
            twiddles,
            round: LanesConvolution::new(half),
        }
    }

    /// Where [`Self::round_trip`]'s `op` finds packed sample n: the packed sample at
    /// position i is `sample(i)` (a digit reversal; the identity when M is not a power
    /// of two).
    pub fn sample(&self, position: usize) -> usize {
        self.round.frequency(position)
    }

    /// M = N/2: the packed length of a real sequence; its spectrum has M + 1 values.
    pub fn half(&self) -> usize {
        self.half
    }

    pub fn scratch(&self) -> LanesScratch<T> {
        self.forward.scratch()
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
        self.unfold::<true>(spectrum, packed);
        self.round.process(packed, s, |i, y| {
            swapped::<_, true>(op(i, swapped::<_, true>(y)))
        });
        self.fold::<true>(packed, store);
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
        self.forward.process(packed, s);
        self.fold::<false>(packed, store);
    }

    /// The r2c's last step: X[k] for k = 0..=M from the complex transform Z of the packed
    /// sequence (read swapped when `SWAP`), handed over in order.
    #[inline(always)]
    fn fold<const SWAP: bool>(
        &self,
        packed: &[Split<T::V>],
        mut store: impl FnMut(usize, Split<T::V>),
    ) {
        let m = self.half;
        let half = T::splat(T::from_f64(0.5).expect("fits"));
        for (k, w) in self.twiddles.iter().enumerate() {
            let zk = swapped::<_, SWAP>(packed[k % m]);
            let zc = conj(swapped::<_, SWAP>(packed[(m - k) % m]));
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
    /// M + 1 values determine (written swapped when `SWAP`).
    #[inline(always)]
    fn unfold<const SWAP: bool>(&self, spectrum: &mut [Split<T::V>], packed: &mut [Split<T::V>]) {
        let m = self.half;
        assert_eq!(
            (packed.len(), spectrum.len()),
            (m, m + 1),
            "lengths are M and M + 1"
        );
        let zero = T::splat(T::zero());
        spectrum[0].im = zero;
        spectrum[m].im = zero;
        for (k, (z, w)) in packed.iter_mut().zip(&self.twiddles).enumerate() {
            let a = spectrum[k];
            let b = conj(spectrum[m - k]);
            // 2E_k = a + b, 2O_k = (a − b)·w̄_k;  Z[k] = 2E_k + i·2O_k.
            let e = a.add(b);
            let o = twiddle::<T>(a.sub(b), w.conj());
            *z = swapped::<_, SWAP>(Split {
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
        self.unfold::<false>(spectrum, packed);
        self.inverse.process(packed, s);
    }
}

/// Asks for `data`'s cache lines to be loaded into L2; no effect on the results.
#[inline(always)]
pub fn prefetch<V>(data: &[V]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        let bytes = std::mem::size_of_val(data);
        let start = data.as_ptr().cast::<i8>();
        for offset in (0..bytes).step_by(64) {
            // SAFETY: a prefetch never faults or changes memory; the address is inside
            // `data` anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(start.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

#[inline(always)]
fn conj<V: Copy + Neg<Output = V>>(x: Split<V>) -> Split<V> {
    Split {
        re: x.re,
        im: -x.im,
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

/// `data` cut into R equal rows.
#[inline(always)]
fn rows<V, const R: usize>(data: &mut [V]) -> [&mut [V]; R] {
    let mut rows = data.chunks_exact_mut(data.len() / R);
    std::array::from_fn(|_| rows.next().expect("R rows"))
}

/// The 8-point DFT: two 4-point DFTs (even and odd inputs) joined with w_8^k,
/// w_8 = (1 − i)/√2, w_8² = −i, w_8³ = −(1 + i)/√2.
#[inline(always)]
fn dft8<T: LaneFloat>(v: [Split<T::V>; 8]) -> [Split<T::V>; 8] {
    let h = T::splat(T::from_f64(std::f64::consts::FRAC_1_SQRT_2).expect("fits"));
    let [e0, e1, e2, e3] = dft4::<T>([v[0], v[2], v[4], v[6]]);
    let [o0, o1, o2, o3] = dft4::<T>([v[1], v[3], v[5], v[7]]);
    let t1 = Split {
        re: (o1.re + o1.im) * h,
        im: (o1.im - o1.re) * h,
    };
    let t2 = o2.times_minus_i();
    let t3 = Split {
        re: (o3.im - o3.re) * h,
        im: -(o3.re + o3.im) * h,
    };
    [
        e0.add(o0),
        e1.add(t1),
        e2.add(t2),
        e3.add(t3),
        e0.sub(o0),
        e1.sub(t1),
        e2.sub(t2),
        e3.sub(t3),
    ]
}

#[inline(always)]
fn dft4<T: LaneFloat>(v: [Split<T::V>; 4]) -> [Split<T::V>; 4] {
    let (a0, a1) = (v[0].add(v[2]), v[0].sub(v[2]));
    let (b0, b1) = (v[1].add(v[3]), v[1].sub(v[3]).times_minus_i());
    [a0.add(b0), a1.add(b1), a0.sub(b0), a1.sub(b1)]
}

#[inline(always)]
fn dft2<T: LaneFloat>(v: [Split<T::V>; 2]) -> [Split<T::V>; 2] {
    [v[0].add(v[1]), v[0].sub(v[1])]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `len` split values, lane j of value n holding `value(n, j)` rounded to T.
    pub(super) fn split_from<T: LaneFloat>(
        len: usize,
        value: impl Fn(usize, usize) -> Complex<f64>,
    ) -> Vec<Split<T::V>> {
        let w = T::LANES;
        let mut data = vec![Split::<T::V>::default(); len];
        let values: &mut [T] = bytemuck::cast_slice_mut(&mut data);
        for n in 0..len {
            for j in 0..w {
                let z = value(n, j);
                values[2 * w * n + j] = T::from_f64(z.re).unwrap();
                values[2 * w * n + w + j] = T::from_f64(z.im).unwrap();
            }
        }
        data
    }

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

    fn check_transpose<T: LaneFloat>() {
        let w = T::LANES;
        let mut src = vec![Split::<T::V>::default(); w];
        {
            let v: &mut [T] = bytemuck::cast_slice_mut(&mut src);
            for (k, x) in v.iter_mut().enumerate() {
                *x = T::from_usize(k).unwrap();
            }
        }
        let mut dst = vec![Split::<T::V>::default(); w];
        T::transpose(&src, &mut dst);
        // Value k of the tile is element k / 2W, part (k / W) % 2, lane k % W.
        let v: &[T] = bytemuck::cast_slice(&dst);
        for j in 0..w {
            for part in [0, 1] {
                for i in 0..w {
                    assert_eq!(
                        v[2 * w * j + w * part + i],
                        T::from_usize(2 * w * i + w * part + j).unwrap(),
                        "element {j}, part {part}, lane {i}"
                    );
                }
            }
        }
        let mut back = vec![Split::<T::V>::default(); w];
        transpose_scalar::<T>(&dst, &mut back);
        assert_eq!(
            bytemuck::cast_slice::<Split<T::V>, T>(&back),
            bytemuck::cast_slice::<Split<T::V>, T>(&src),
            "the definition undoes the fast transpose"
        );
    }

    /// Spacing of the floating-point numbers at |x| (the subnormal spacing below the
    /// normal range).
    fn ulp<T: LaneFloat>(x: T) -> f64 {
        let x = x.abs().to_f64().unwrap();
        let eps = T::epsilon().to_f64().unwrap();
        let tiny = T::min_positive_value().to_f64().unwrap() * eps;
        (x * eps).max(tiny)
    }

    fn check_division<T: LaneFloat>() {
        let w = T::LANES;
        // Exponents from the subnormals (a few binades below the normal range) to the top.
        let max_exp = T::max_value().to_f64().unwrap().log2().floor() as i64;
        let exponents = (max_exp + 8, 2 * max_exp + 8);
        // A reproducible spread of signs, mantissas and exponents over the whole range.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let mut random = || {
            let mantissa = 1.0 + next(1 << 52) as f64 / (1u64 << 52) as f64;
            let exponent = next(exponents.1 as u64) as i64 - exponents.0;
            let sign = if next(2) == 0 { 1.0 } else { -1.0 };
            T::from_f64(sign * mantissa * 2f64.powi(exponent as i32)).unwrap()
        };
        let inf = T::infinity();
        // (a, d, whether the result must be finite); None: as the general rules say.
        let edge = [
            (T::one(), T::zero(), Some(false)),
            (T::zero(), T::zero(), Some(false)),
            (T::one(), -T::zero(), Some(false)),
            (inf, T::one(), Some(false)),
            (T::nan(), T::one(), Some(false)),
            (T::one(), T::nan(), Some(false)),
            (T::max_value(), T::from_f64(0.25).unwrap(), Some(false)),
            (T::zero(), T::one(), Some(true)),
            (
                T::from_f64(3.0).unwrap(),
                T::from_f64(3.0).unwrap(),
                Some(true),
            ),
            (T::one(), inf, None),
        ];
        let mut pairs: Vec<(T, T)> = edge.iter().map(|&(a, d, _)| (a, d)).collect();
        pairs.extend((0..20_000).map(|_| (random(), random())));
        pairs.resize(pairs.len().next_multiple_of(w), (T::one(), T::one()));
        let mut finite = 0;
        for (chunk_index, chunk) in pairs.chunks(w).enumerate() {
            let (mut a, mut d) = (T::splat(T::zero()), T::splat(T::zero()));
            {
                let (va, vd): (&mut [T], &mut [T]) = (
                    bytemuck::cast_slice_mut(std::slice::from_mut(&mut a)),
                    bytemuck::cast_slice_mut(std::slice::from_mut(&mut d)),
                );
                for (j, &(x, y)) in chunk.iter().enumerate() {
                    (va[j], vd[j]) = (x, y);
                }
            }
            let q = T::div_fast(a, d);
            let q: &[T] = bytemuck::cast_slice(std::slice::from_ref(&q));
            for (j, &(x, y)) in chunk.iter().enumerate() {
                let (got, exact) = (q[j], x / y);
                let f = |v: T| v.to_f64().unwrap();
                let (xf, yf, gf, ef) = (f(x), f(y), f(got), f(exact));
                if let Some(&(_, _, Some(is_finite))) = edge.get(chunk_index * w + j) {
                    assert_eq!(got.is_finite(), is_finite, "{xf:e} / {yf:e}: {gf:e}");
                    if !is_finite {
                        continue;
                    }
                }
                if !got.is_finite() {
                    // Allowed only at the far ends of the range (see the contract).
                    assert!(
                        !exact.is_finite() || y.abs() < T::min_positive_value() || y == inf,
                        "{xf:e} / {yf:e}: {gf:e}, IEEE {ef:e}"
                    );
                    continue;
                }
                finite += 1;
                let err = (got - exact).abs().to_f64().unwrap();
                assert!(
                    err <= ulp(exact),
                    "{xf:e} / {yf:e}: {gf:e}, IEEE {ef:e} ({err:e} apart)"
                );
            }
        }
        // Most of the random quotients are in range: the check above is not vacuous.
        assert!(finite > 10_000, "{finite} finite quotients");
    }

    #[test]
    fn fast_division_is_within_an_ulp_and_not_finite_where_division_is_not() {
        check_division::<f64>();
        check_division::<f32>();
    }

    #[test]
    fn transposes_are_transposes() {
        check_transpose::<f64>();
        check_transpose::<f32>();
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
        // 4096: M = 2048 (radix 4 at the leaf); 64: M = 32; 24: M = 12, the fallback.
        for n in [2, 4, 64, 4096, 24] {
            check_round_trip::<f64>(n, f64::EPSILON);
            check_round_trip::<f32>(n, f32::EPSILON as f64);
        }
    }

    #[test]
    fn packed_real_transforms_match_realfft() {
        // The error bound is twice the complex one's (realfft's own rounding enters too);
        // 100 has a non-power-of-two half (per-lane path), 2 a half of 1 (no stages).
        for n in [2, 4, 16, 64, 100, 1024] {
            check_real::<f64>(n, f64::EPSILON);
            check_real::<f32>(n, f32::EPSILON as f64);
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

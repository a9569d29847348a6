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
//! One concern per submodule:
//!
//! - `stockham`: [`LanesFft`], complex transforms (Stockham autosort, mixed radix);
//! - `radix`: the radix stages (8, 4, 2, 7, 5, 3) and small DFTs that `stockham` and
//!   `convolution` share;
//! - `real`: [`RealLanesFft`], real transforms packed into complex ones of half the length;
//! - `convolution`: [`LanesConvolution`], forward, a pointwise step and back, in place;
//! - `strips`: moving W rows at a time between strip-major spectra and the lanes;
//! - `transpose`: the `LANES × LANES` tile transposes behind [`LaneFloat::transpose`];
//! - `division`: the AVX-512 quotient behind [`LaneFloat::div_fast`].
//!
//! Lengths: every length whose prime factors are among 2, 3, 5 and 7 (1000 = 8·5³,
//! 1200 = 8·2·5²·3, 1920, 3000, 5000, ...) stays in SIMD lanes, in place and depth first
//! in the convolution. Any other length (a prime factor of 11 or more) goes to rustfft one
//! lane at a time (its Rader or Bluestein plans for large primes): correct, not fast.
//!
//! This module holds what they all share: the [`LaneFloat`] types, the [`Split`] values
//! and their arithmetic, and [`prefetch`].

use std::ops::{Add, Div, Mul, Neg, Sub};

use num_complex::Complex;

use super::Float;

mod convolution;
mod division;
mod radix;
mod real;
mod stockham;
mod strips;
mod transpose;

pub use convolution::LanesConvolution;
pub use radix::in_lanes;
pub use real::RealLanesFft;
pub use stockham::{LanesFft, LanesScratch};
pub use strips::{NextTiles, get_across, tiles_out};
// For `convolution`, which reaches the shared radix stages through `super::`.
use radix::{Stage, radix_stages, rows};

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
        transpose::avx512::transpose_f64(src, dst);
        #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
        transpose::transpose_scalar::<f64>(src, dst);
    }
    #[inline(always)]
    fn div_fast(a: Self::V, d: Self::V) -> Self::V {
        #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
        return division::avx512::div_f64(a, d);
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
        transpose::avx512::transpose_f32(src, dst);
        #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
        transpose::transpose_scalar::<f32>(src, dst);
    }
    #[inline(always)]
    fn div_fast(a: Self::V, d: Self::V) -> Self::V {
        #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
        return division::avx512::div_f32(a, d);
        #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
        return a / d;
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

#[inline(always)]
fn conj<V: Copy + Neg<Output = V>>(x: Split<V>) -> Split<V> {
    Split {
        re: x.re,
        im: -x.im,
    }
}

/// Asks for `data`'s cache lines to be loaded into L2; no effect on the results.
#[inline(always)]
pub fn prefetch<V>(data: &[V]) {
    prefetch_bytes(data.as_ptr().cast(), std::mem::size_of_val(data));
}

/// Asks for the cache lines of the value at `at` (one [`Split`]: two lines) to be loaded
/// into L2. `at` need not point into anything: a prefetch reads nothing and never faults.
#[inline(always)]
pub fn prefetch_at<V>(at: *const V) {
    prefetch_bytes(at.cast(), size_of::<V>());
}

/// L2 prefetches of the cache lines of `bytes` bytes from `start`.
#[inline(always)]
fn prefetch_bytes(start: *const i8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        for offset in (0..bytes).step_by(64) {
            // SAFETY: a prefetch never faults or changes memory, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(start.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, bytes);
}

/// Helpers for the tests of every submodule.
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
}

//! The building blocks of the power-of-two transforms: the radix-8, -4 and -2 stage plans
//! with their twiddles, the small DFTs of one butterfly, and the cut of a block into rows.
//! Shared by the Stockham FFT (`stockham`) and the in-place convolution (`convolution`).

use num_complex::Complex;

use super::{LaneFloat, Split};

/// One radix stage (of the Stockham FFT, or of
/// [`LanesConvolution`](super::LanesConvolution)'s in-place pair): its radix, the
/// sub-length m it splits, and w_m^{kp} for k = 1 .. radix−1, p = 0 .. m/radix (radix − 1
/// values per p).
pub(super) struct Stage<T> {
    pub(super) radix: usize,
    pub(super) m: usize,
    pub(super) twiddles: Vec<Complex<T>>,
}

/// The stages of a length-2^k transform: radix 8 while 8 divides what is left, then one
/// radix-4 or radix-2 stage. Stage i splits sub-length m = len / (product of the radices
/// before it).
pub(super) fn radix_stages<T: LaneFloat>(len: usize) -> Vec<Stage<T>> {
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

/// `data` cut into R equal rows.
#[inline(always)]
pub(super) fn rows<V, const R: usize>(data: &mut [V]) -> [&mut [V]; R] {
    let mut rows = data.chunks_exact_mut(data.len() / R);
    std::array::from_fn(|_| rows.next().expect("R rows"))
}

/// The 8-point DFT: two 4-point DFTs (even and odd inputs) joined with w_8^k,
/// w_8 = (1 − i)/√2, w_8² = −i, w_8³ = −(1 + i)/√2.
#[inline(always)]
pub(super) fn dft8<T: LaneFloat>(v: [Split<T::V>; 8]) -> [Split<T::V>; 8] {
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
pub(super) fn dft4<T: LaneFloat>(v: [Split<T::V>; 4]) -> [Split<T::V>; 4] {
    let (a0, a1) = (v[0].add(v[2]), v[0].sub(v[2]));
    let (b0, b1) = (v[1].add(v[3]), v[1].sub(v[3]).times_minus_i());
    [a0.add(b0), a1.add(b1), a0.sub(b0), a1.sub(b1)]
}

#[inline(always)]
pub(super) fn dft2<T: LaneFloat>(v: [Split<T::V>; 2]) -> [Split<T::V>; 2] {
    [v[0].add(v[1]), v[0].sub(v[1])]
}

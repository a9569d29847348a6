//! The building blocks of the mixed-radix transforms: the stage plans (radices 8, 4, 2, 5,
//! 3 and 7) with their twiddles, the small DFTs of one butterfly, and the cut of a block
//! into rows. Shared by the Stockham FFT (`stockham`) and the in-place convolution
//! (`convolution`).
//!
//! The odd radices use the symmetric form of the P-point DFT (P odd, H = (P − 1)/2,
//! w = e^{−2πi/P}): with a_m = x_m + x_{P−m} and b_m = x_m − x_{P−m},
//!
//! ```text
//! y_0     = x_0 + Σ_m a_m
//! y_k     = x_0 + Σ_m cos(2πkm/P)·a_m − i·Σ_m sin(2πkm/P)·b_m     k = 1..=H
//! y_{P−k} = x_0 + Σ_m cos(2πkm/P)·a_m + i·Σ_m sin(2πkm/P)·b_m
//! ```
//!
//! H² real multiply-adds per part instead of (P − 1)² complex products.

use num_complex::Complex;

use super::{LaneFloat, Split};

/// The radices the lane engine has butterflies for. A length whose prime factors are all
/// among 2, 3, 5 and 7 is split into these; any other length has no stage plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Radix {
    Two,
    Three,
    Four,
    Five,
    Seven,
    Eight,
}

impl Radix {
    pub(super) fn size(self) -> usize {
        match self {
            Radix::Two => 2,
            Radix::Three => 3,
            Radix::Four => 4,
            Radix::Five => 5,
            Radix::Seven => 7,
            Radix::Eight => 8,
        }
    }

    /// The radix of the next stage for a sub-length `m` > 1: 8 while 8 divides it, then
    /// one 4 or 2 for the rest of the power of two, then the odd primes, largest first.
    /// None when `m` has a prime factor above 7. Not 16: a radix-16 stage (two 8-point
    /// DFTs joined by w₁₆^k, 3 stages instead of 4 at 4096) made 4096² deconvolution
    /// 1.300 [1.297–1.305] slower in f64 and 1.303 [1.299–1.312] in f32 (`harness compare
    /// --against-bin`, `--budget 25`): its 16 values fill all 32 vector registers.
    fn next(m: usize) -> Option<Radix> {
        [
            Radix::Eight,
            Radix::Four,
            Radix::Two,
            Radix::Seven,
            Radix::Five,
            Radix::Three,
        ]
        .into_iter()
        .find(|r| m.is_multiple_of(r.size()))
    }
}

/// Whether a transform of length `len` stays in SIMD lanes: every prime factor is at
/// most 7, by the same rule that picks the stages ([`Radix::next`]). Other lengths go to
/// rustfft one lane at a time, and a caller may prefer another engine for them.
pub fn in_lanes(len: usize) -> bool {
    let mut m = len;
    while m > 1 {
        match Radix::next(m) {
            Some(r) => m /= r.size(),
            None => return false,
        }
    }
    true
}

/// Runs `$body` with the const `$r` (the radix as a number) and `$dft` (its small DFT,
/// for element type `T`) bound for the radix `$radix`: one exhaustive match, so that a new
/// radix fails to compile here rather than falling through to another butterfly.
macro_rules! with_radix {
    ($radix:expr, |$r:ident, $dft:ident| $body:expr) => {
        match $radix {
            Radix::Two => {
                const $r: usize = 2;
                let $dft = super::radix::dft2::<T>;
                $body
            }
            Radix::Three => {
                const $r: usize = 3;
                let $dft = super::radix::dft3::<T>;
                $body
            }
            Radix::Four => {
                const $r: usize = 4;
                let $dft = super::radix::dft4::<T>;
                $body
            }
            Radix::Five => {
                const $r: usize = 5;
                let $dft = super::radix::dft5::<T>;
                $body
            }
            Radix::Seven => {
                const $r: usize = 7;
                let $dft = super::radix::dft7::<T>;
                $body
            }
            Radix::Eight => {
                const $r: usize = 8;
                let $dft = super::radix::dft8::<T>;
                $body
            }
        }
    };
}
pub(super) use with_radix;

/// One radix stage (of the Stockham FFT, or of
/// [`LanesConvolution`](super::LanesConvolution)'s in-place pair): its radix, the
/// sub-length m it splits, and w_m^{kp} for k = 1 .. radix−1, p = 0 .. m/radix (radix − 1
/// values per p).
pub(super) struct Stage<T> {
    pub(super) radix: Radix,
    pub(super) m: usize,
    pub(super) twiddles: Vec<Complex<T>>,
}

/// The stages of a transform of length `len` (see [`Radix::next`] for the order), or
/// None when `len` has a prime factor above 7. Stage i splits sub-length m = len / (product
/// of the radices before it).
pub(super) fn radix_stages<T: LaneFloat>(len: usize) -> Option<Vec<Stage<T>>> {
    let mut stages = Vec::new();
    let mut m = len;
    while m > 1 {
        let radix = Radix::next(m)?;
        let r = radix.size();
        let mut twiddles = Vec::with_capacity((r - 1) * (m / r));
        for p in 0..m / r {
            for k in 1..r {
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
        m /= r;
    }
    Some(stages)
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

/// cos(2πm/3), sin(2πm/3) for m = 1.
const COS3: [f64; 1] = [-0.5];
const SIN3: [f64; 1] = [0.866_025_403_784_438_6];
/// cos(2πm/5), sin(2πm/5) for m = 1, 2.
const COS5: [f64; 2] = [0.309_016_994_374_947_45, -0.809_016_994_374_947_3];
const SIN5: [f64; 2] = [0.951_056_516_295_153_5, 0.587_785_252_292_473_2];
/// cos(2πm/7), sin(2πm/7) for m = 1, 2, 3.
const COS7: [f64; 3] = [
    0.623_489_801_858_733_6,
    -0.222_520_933_956_314_34,
    -0.900_968_867_902_419,
];
const SIN7: [f64; 3] = [
    0.781_831_482_468_029_8,
    0.974_927_912_181_823_6,
    0.433_883_739_117_558_23,
];

#[inline(always)]
pub(super) fn dft3<T: LaneFloat>(v: [Split<T::V>; 3]) -> [Split<T::V>; 3] {
    dft_odd::<T, 3, 1>(v, COS3, SIN3)
}

#[inline(always)]
pub(super) fn dft5<T: LaneFloat>(v: [Split<T::V>; 5]) -> [Split<T::V>; 5] {
    dft_odd::<T, 5, 2>(v, COS5, SIN5)
}

#[inline(always)]
pub(super) fn dft7<T: LaneFloat>(v: [Split<T::V>; 7]) -> [Split<T::V>; 7] {
    dft_odd::<T, 7, 3>(v, COS7, SIN7)
}

/// The P-point DFT of an odd P = 2H + 1 in the symmetric form of the module notes;
/// `cos[m − 1]`, `sin[m − 1]` are cos(2πm/P), sin(2πm/P) for m = 1..=H.
#[inline(always)]
fn dft_odd<T: LaneFloat, const P: usize, const H: usize>(
    v: [Split<T::V>; P],
    cos: [f64; H],
    sin: [f64; H],
) -> [Split<T::V>; P] {
    let mut a = [Split::default(); H];
    let mut b = [Split::default(); H];
    let mut out = [v[0]; P];
    for m in 0..H {
        a[m] = v[m + 1].add(v[P - 1 - m]);
        b[m] = v[m + 1].sub(v[P - 1 - m]);
        out[0] = out[0].add(a[m]);
    }
    for k in 1..=H {
        let mut c = v[0];
        let mut s = Split::default();
        for m in 1..=H {
            // km mod P folded into 1..=H: cos is even, sin odd about P/2.
            let km = (k * m) % P;
            let (at, sign) = if km <= H { (km, 1.0) } else { (P - km, -1.0) };
            let cw = T::splat(T::from_f64(cos[at - 1]).expect("fits"));
            let sw = T::splat(T::from_f64(sign * sin[at - 1]).expect("fits"));
            c = Split {
                re: <T as LaneFloat>::mul_add(a[m - 1].re, cw, c.re),
                im: <T as LaneFloat>::mul_add(a[m - 1].im, cw, c.im),
            };
            s = Split {
                re: <T as LaneFloat>::mul_add(b[m - 1].re, sw, s.re),
                im: <T as LaneFloat>::mul_add(b[m - 1].im, sw, s.im),
            };
        }
        // y_k = c − i·s, y_{P−k} = c + i·s; −i·s = s.im − i·s.re.
        out[k] = Split {
            re: c.re + s.im,
            im: c.im - s.re,
        };
        out[P - k] = Split {
            re: c.re - s.im,
            im: c.im + s.re,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::in_lanes;

    /// The largest prime factor of `n` (1 for n = 1), by trial division.
    fn largest_prime_factor(mut n: usize) -> usize {
        let mut largest = 1;
        let mut p = 2;
        while n > 1 {
            while n.is_multiple_of(p) {
                n /= p;
                largest = p;
            }
            p += 1;
        }
        largest
    }

    #[test]
    fn in_lanes_holds_exactly_for_lengths_without_a_prime_factor_above_7() {
        let wrong: Vec<usize> = (1..=2048)
            .filter(|&n| in_lanes(n) != (largest_prime_factor(n) <= 7))
            .collect();
        assert!(wrong.is_empty(), "in_lanes wrong at {wrong:?}");
        for n in [1000, 1200, 1920, 3000, 5000, 4096] {
            assert!(in_lanes(n), "{n}");
        }
        for n in [11, 254, 1022, 4093] {
            assert!(!in_lanes(n), "{n}");
        }
    }
}

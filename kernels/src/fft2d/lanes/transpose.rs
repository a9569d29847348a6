//! The `LANES × LANES` tile transposes behind [`LaneFloat::transpose`]: by their definition
//! (other CPUs, and the oracle of the test) and in AVX-512 registers.

use super::{LaneFloat, Split};

/// The transpose by its definition (other CPUs; the oracle of the AVX-512 version's test).
#[allow(dead_code)]
pub(super) fn transpose_scalar<T: LaneFloat>(src: &[Split<T::V>], dst: &mut [Split<T::V>]) {
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
pub(super) mod avx512 {
    use std::arch::x86_64::{
        __m512, __m512d, __m512i, _mm512_loadu_pd, _mm512_loadu_ps, _mm512_permutex2var_pd,
        _mm512_permutex2var_ps, _mm512_storeu_pd, _mm512_storeu_ps,
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

    // SAFETY (every transmute below): [i64; 8], [i32; 16] and __m512i are 64 plain bytes
    // each, every bit pattern valid (transmute checks the sizes). SAFETY (every
    // intrinsic): this module exists only in builds for CPUs with AVX-512F (the cfg
    // above); every load and store is inside `src` or `dst`, whose lengths are asserted
    // (W Split values of 2W reals each).

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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn transposes_are_transposes() {
        check_transpose::<f64>();
        check_transpose::<f32>();
    }
}

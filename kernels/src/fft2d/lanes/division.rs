//! The AVX-512 quotient behind [`LaneFloat::div_fast`](super::LaneFloat::div_fast): a
//! reciprocal estimate, Newton steps and one correction instead of the divider, and the
//! test of its contract against IEEE division over the whole exponent range. Other CPUs
//! divide with `/`.

/// Division without the divider: `vrcp14`, Newton steps, one correction of the quotient.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
pub(super) mod avx512 {
    use std::arch::x86_64::{
        __m512, __m512d, _mm512_fmadd_pd, _mm512_fmadd_ps, _mm512_fnmadd_pd, _mm512_fnmadd_ps,
        _mm512_mul_pd, _mm512_mul_ps, _mm512_rcp14_pd, _mm512_rcp14_ps, _mm512_set1_pd,
        _mm512_set1_ps,
    };
    use std::mem::transmute;

    // SAFETY (every transmute below): f64x8, f32x16, __m512d and __m512 are 64 plain bytes
    // each, every bit pattern valid (transmute checks the sizes). SAFETY (every
    // intrinsic): this module exists only in builds for CPUs with AVX-512F (the cfg
    // above); these intrinsics work on registers only, with no load or store.

    /// [`super::super::LaneFloat::div_fast`] for f64. The reciprocal estimate r has a
    /// relative error δ ≤ 2^−14; each Newton step squares it (2^−28, then 2^−56), so
    /// q = a·r is already within about an ulp, and the correction q + r·(a − d·q) (the
    /// residual exact in an FMA up to one rounding) brings it within one ulp. With one
    /// step fewer the correction would have to make up 2^−28 on its own: enough for
    /// normal a by the same argument, marginal for subnormal a, whose residual is rounded
    /// to the subnormal grid. The second step costs two FMAs.
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

    /// [`super::super::LaneFloat::div_fast`] for f32: one Newton step (2^−28 < 2^−24).
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
}

#[cfg(test)]
mod tests {
    use super::super::LaneFloat;

    /// Spacing of the floating-point numbers at |x| (the subnormal spacing below the
    /// normal range).
    fn ulp<T: LaneFloat>(x: T) -> f64 {
        let x = x.abs().to_f64().unwrap();
        let eps = T::epsilon().to_f64().unwrap();
        let tiny = T::min_positive_value().to_f64().unwrap() * eps;
        (x * eps).max(tiny)
    }

    /// The quotients to check: the edge cases first, each with whether its result must be
    /// finite (None: as the general rules say), then random pairs over the whole range,
    /// padded to whole vectors.
    fn division_cases<T: LaneFloat>() -> (Vec<Option<bool>>, Vec<(T, T)>) {
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
        (edge.iter().map(|&(_, _, finite)| finite).collect(), pairs)
    }

    fn check_division<T: LaneFloat>() {
        let w = T::LANES;
        let inf = T::infinity();
        let (edge, pairs) = division_cases::<T>();
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
                if let Some(&Some(is_finite)) = edge.get(chunk_index * w + j) {
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
}

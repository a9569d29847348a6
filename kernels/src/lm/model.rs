//! The fit models, written once over a number type [`Real`] so that the same source serves
//! one fit at a time (`f64`: naive, library, validation) and eight fits per SIMD register
//! (`wide::f64x8`: vectorised, parallel).
//!
//! - [`Gauss2d`] — Gpufit's `GAUSS_2D`: f = A·exp(−((x−x₀)² + (y−y₀)²)/(2σ²)) + b on a 5×5
//!   grid, point k at (x, y) = (k mod 5, k div 5); p = [A, x₀, y₀, σ, b].
//! - [`Lorentzians`] — the ODMR model (QDMPy's Lorentzian): a baseline minus N dips,
//!   f(ν) = c [+ m·(ν − ν_c)] − Σ_d amp_d·(fwhm_d²/4)/((ν − pos_d)² + fwhm_d²/4);
//!   p = [c, (m,) fwhm_1, pos_1, amp_1, fwhm_2, ...] (QDMPy's per-peak order fwhm, pos, amp).
//!   QDMPy writes the sum with a plus sign and negative amplitudes; here amp > 0 is a dip.
//!
//! Each model gives the value and the analytic gradient ∂f/∂p at one data point; the tests
//! check the gradients against finite differences of the values.

use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

/// The arithmetic a model needs: `f64` (one fit) or a SIMD vector of fits.
pub trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
{
    fn splat(v: f64) -> Self;
    fn exp(self) -> Self;
    /// self·a + b (fused where the hardware has it).
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl Real for f64 {
    #[inline(always)]
    fn splat(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        // Plain multiply-add: the naive oracle reads as the formula, and a software fma
        // would be slow on targets without FMA.
        self * a + b
    }
}

impl Real for wide::f64x8 {
    #[inline(always)]
    fn splat(v: f64) -> Self {
        wide::f64x8::splat(v)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        // wide's polynomial exp (fdlibm-style reduction, degree-13 Taylor): ≲ 1 ulp.
        wide::f64x8::exp(self)
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        wide::f64x8::mul_add(self, a, b)
    }
}

/// A model: values and gradients at the data points of one fit.
pub trait Model: Sync {
    /// Data points per fit.
    fn points(&self) -> usize;
    /// Parameters per fit.
    fn params(&self) -> usize;
    /// f(point k; p). `p` has [`Model::params`] entries.
    fn value<T: Real>(&self, k: usize, p: &[T]) -> T;
    /// f(point k; p), and ∂f/∂p_i in `grad[i]`.
    fn value_and_gradient<T: Real>(&self, k: usize, p: &[T], grad: &mut [T]) -> T;
    /// Parameters whose sign the model cannot see (they enter squared): σ, fwhm. The
    /// validation compares their absolute values.
    fn sign_free(&self, i: usize) -> bool;
    /// Short parameter names for reports (`A`, `x0`, `fwhm_2`, ...).
    fn name(&self, i: usize) -> String;
}

/// Side of Gpufit's benchmark grid.
pub const GAUSS_SIDE: usize = 5;

/// Gpufit's 2-D Gaussian with constant background (`GAUSS_2D`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauss2d;

impl Model for Gauss2d {
    fn points(&self) -> usize {
        GAUSS_SIDE * GAUSS_SIDE
    }
    fn params(&self) -> usize {
        5
    }
    #[inline(always)]
    fn value<T: Real>(&self, k: usize, p: &[T]) -> T {
        let (x, y) = (
            T::splat((k % GAUSS_SIDE) as f64),
            T::splat((k / GAUSS_SIDE) as f64),
        );
        let (a, x0, y0, s, b) = (p[0], p[1], p[2], p[3], p[4]);
        let (dx, dy) = (x - x0, y - y0);
        a * (-(dx * dx + dy * dy) / (T::splat(2.0) * s * s)).exp() + b
    }
    #[inline(always)]
    fn value_and_gradient<T: Real>(&self, k: usize, p: &[T], g: &mut [T]) -> T {
        let (x, y) = (
            T::splat((k % GAUSS_SIDE) as f64),
            T::splat((k / GAUSS_SIDE) as f64),
        );
        let (a, x0, y0, s, b) = (p[0], p[1], p[2], p[3], p[4]);
        let (dx, dy) = (x - x0, y - y0);
        let inv_s2 = T::splat(1.0) / (s * s);
        let r2 = dx * dx + dy * dy;
        let e = (-(r2 * inv_s2) * T::splat(0.5)).exp();
        let ae = a * e * inv_s2;
        g[0] = e;
        g[1] = ae * dx;
        g[2] = ae * dy;
        g[3] = ae * r2 / s;
        g[4] = T::splat(1.0);
        a * e + b
    }
    fn sign_free(&self, i: usize) -> bool {
        i == 3
    }
    fn name(&self, i: usize) -> String {
        ["A", "x0", "y0", "sigma", "b"][i].to_string()
    }
}

/// Constant (or linear) baseline minus `dips` Lorentzian dips, sampled at `freqs`.
#[derive(Clone, Debug)]
pub struct Lorentzians {
    pub freqs: Vec<f64>,
    pub dips: usize,
    /// Whether the baseline has a slope m about `centre` (the 8-dip case).
    pub slope: bool,
    pub centre: f64,
}

impl Lorentzians {
    /// Index of the first dip parameter (after c and, with a slope, m).
    pub fn first_dip(&self) -> usize {
        if self.slope { 2 } else { 1 }
    }
}

/// The layout (slope?, first dip parameter, dips) implied by a parameter count: 1 + 3N
/// (constant baseline) or 2 + 3N (sloped). Derived from `p.len()` rather than read from the
/// struct so that, when the SIMD code passes a fixed-size array, every loop bound and index
/// is a compile-time constant and the Jacobian stays in registers.
#[inline(always)]
fn layout(params: usize) -> (bool, usize, usize) {
    let slope = params % 3 == 2;
    let first = if slope { 2 } else { 1 };
    (slope, first, (params - first) / 3)
}

impl Model for Lorentzians {
    fn points(&self) -> usize {
        self.freqs.len()
    }
    fn params(&self) -> usize {
        self.first_dip() + 3 * self.dips
    }
    #[inline(always)]
    fn value<T: Real>(&self, k: usize, p: &[T]) -> T {
        let (slope, first, dips) = layout(p.len());
        debug_assert_eq!((slope, dips), (self.slope, self.dips));
        let nu = T::splat(self.freqs[k]);
        let mut f = p[0];
        if slope {
            f += p[1] * (nu - T::splat(self.centre));
        }
        for d in 0..dips {
            let (fwhm, pos, amp) = (p[first + 3 * d], p[first + 3 * d + 1], p[first + 3 * d + 2]);
            let h2 = T::splat(0.25) * fwhm * fwhm;
            let dx = nu - pos;
            f = f - amp * h2 / (dx * dx + h2);
        }
        f
    }
    #[inline(always)]
    fn value_and_gradient<T: Real>(&self, k: usize, p: &[T], g: &mut [T]) -> T {
        let (slope, first, dips) = layout(p.len());
        debug_assert_eq!((slope, dips), (self.slope, self.dips));
        let nu = T::splat(self.freqs[k]);
        let mut f = p[0];
        g[0] = T::splat(1.0);
        if slope {
            let dnu = nu - T::splat(self.centre);
            f += p[1] * dnu;
            g[1] = dnu;
        }
        for d in 0..dips {
            let i = first + 3 * d;
            let (fwhm, pos, amp) = (p[i], p[i + 1], p[i + 2]);
            // L = h²/(Δ² + h²) with h = fwhm/2, Δ = ν − pos:
            // ∂L/∂fwhm = h·Δ²/(Δ² + h²)² = (h/den)·(1 − L), ∂L/∂pos = 2Δ·h²/den² = 2Δ·L/den.
            let half = T::splat(0.5) * fwhm;
            let h2 = half * half;
            let dx = nu - pos;
            let inv = T::splat(1.0) / (dx * dx + h2);
            let l = h2 * inv;
            f = f - amp * l;
            g[i] = -(amp * half * inv * (T::splat(1.0) - l));
            g[i + 1] = -(T::splat(2.0) * amp * l * dx * inv);
            g[i + 2] = -l;
        }
        f
    }
    fn sign_free(&self, i: usize) -> bool {
        i >= self.first_dip() && (i - self.first_dip()).is_multiple_of(3)
    }
    fn name(&self, i: usize) -> String {
        match i {
            0 => "c".into(),
            1 if self.slope => "m".into(),
            _ => {
                let j = i - self.first_dip();
                format!("{}_{}", ["fwhm", "pos", "amp"][j % 3], j / 3 + 1)
            }
        }
    }
}

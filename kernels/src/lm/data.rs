//! Seeded, deterministic test data: a small documented generator, so that the same seed
//! gives the same numbers on every machine and in every variant (and, written to `.npy`, in
//! Python).
//!
//! - [`SplitMix64`] (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
//!   OOPSLA 2014; the constants are Java's `SplittableRandom` and Vigna's reference C code).
//! - Fit i draws from its own stream, seeded with the (i+1)-th output of SplitMix64(seed):
//!   its data do not depend on how many fits are generated, so the first 1 024 fits of a
//!   65 536-fit problem are the 1 024-fit reference set, and generation runs in parallel.
//! - Uniforms on [0, 1) from the top 53 bits; normals by Box–Muller (both values of a pair
//!   are used, in order). Box–Muller calls `ln`, `cos` and `sin`: the system libm may differ
//!   in the last ulp between platforms, which moves the noise by ~1e-16 relative.

use rayon::prelude::*;
use std::f64::consts::{PI, TAU};

/// SplitMix64: a 64-bit counter passed through a bijective mixing function.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The stream of fit `index` under `seed`: seeded with the (index+1)-th output of
    /// SplitMix64(seed), computed directly (the state after n steps is seed + n·γ).
    pub fn for_fit(seed: u64, index: usize) -> Self {
        SplitMix64(mix(
            seed.wrapping_add((index as u64 + 1).wrapping_mul(GAMMA))
        ))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// Uniform on [0, 1): the top 53 bits times 2⁻⁵³.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on [lo, hi).
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A pair of independent standard normals (Box–Muller; 1 − u keeps ln's argument in (0, 1]).
    pub fn normal_pair(&mut self) -> (f64, f64) {
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (TAU * u2).sin_cos();
        (r * c, r * s)
    }

    /// `out.len()` standard normals, pairs in order (the last pair's second value is dropped
    /// for an odd count).
    pub fn normals(&mut self, out: &mut [f64]) {
        for chunk in out.chunks_mut(2) {
            let (a, b) = self.normal_pair();
            chunk[0] = a;
            if let Some(x) = chunk.get_mut(1) {
                *x = b;
            }
        }
    }
}

/// One generated data set: per fit the data, the initial guess and the true parameters, all
/// row-major (fit-major).
#[derive(Clone, Debug)]
pub struct Generated {
    pub y: Vec<f64>,
    pub init: Vec<f64>,
    pub truth: Vec<f64>,
}

/// Generates `fits` fits: `draw(rng, truth, init)` fills one fit's true and initial
/// parameters, `model(k, truth)` is the noise-free value at point k, and `sigma` the
/// standard deviation of the Gaussian noise added to every point (drawn after the
/// parameters, from the same stream).
pub fn generate(
    fits: usize,
    points: usize,
    params: usize,
    seed: u64,
    sigma: f64,
    draw: impl Fn(&mut SplitMix64, &mut [f64], &mut [f64]) + Sync,
    model: impl Fn(usize, &[f64]) -> f64 + Sync,
) -> Generated {
    let mut g = Generated {
        y: vec![0.0; fits * points],
        init: vec![0.0; fits * params],
        truth: vec![0.0; fits * params],
    };
    g.y.par_chunks_mut(points)
        .zip(g.init.par_chunks_mut(params))
        .zip(g.truth.par_chunks_mut(params))
        .enumerate()
        .for_each(|(i, ((y, init), truth))| {
            let mut rng = SplitMix64::for_fit(seed, i);
            draw(&mut rng, truth, init);
            rng.normals(y);
            for (k, v) in y.iter_mut().enumerate() {
                *v = model(k, truth) + sigma * *v;
            }
        });
    g
}

/// Gpufit's noise level for its 2-D Gaussian benchmark at signal-to-noise ratio `snr`
/// (`add_gauss_noise` in Gpufit's `examples/Gpufit_Cpufit_Performance_Comparison.cpp`):
/// the signal is the Gaussian's mean amplitude over its full width at tenth maximum,
/// 2π·A·σ² / (4.292·σ)², and the noise standard deviation is that signal over the SNR.
/// Computed from the nominal A = 500, σ = 1 (not per fit), as Gpufit does: 17.05 at SNR 10.
pub fn gpufit_noise(amplitude: f64, width: f64, snr: f64) -> f64 {
    let fwtm = 4.292 * width;
    2.0 * PI * amplitude * width * width / (fwtm * fwtm) / snr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_outputs() {
        // First outputs of Vigna's splitmix64.c seeded with 1234567.
        let mut r = SplitMix64::new(1234567);
        let got: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423,
                4593380528125082431,
                16408922859458223821
            ]
        );
    }

    #[test]
    fn per_fit_streams_are_the_outputs_of_the_seed_stream() {
        let mut r = SplitMix64::new(42);
        for i in 0..4 {
            let expected = r.next_u64();
            let mut direct = SplitMix64::for_fit(42, i);
            // The fit's stream starts from the (i+1)-th output.
            assert_eq!(direct.0, expected);
            let _ = direct.next_u64();
        }
    }

    #[test]
    fn normals_have_unit_variance() {
        let mut r = SplitMix64::new(7);
        let mut z = vec![0.0; 200_001];
        r.normals(&mut z);
        let n = z.len() as f64;
        let mean = z.iter().sum::<f64>() / n;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        // Standard errors: 1/√n ≈ 2.2e-3 for the mean, √(2/n) ≈ 3.2e-3 for the variance.
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.015,
            "{mean} {var}"
        );
    }

    #[test]
    fn gpufit_noise_at_snr_10() {
        assert!((gpufit_noise(500.0, 1.0, 10.0) - 17.0537).abs() < 1e-3);
    }
}

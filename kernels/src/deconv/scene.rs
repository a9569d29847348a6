//! Where the images and PSFs come from: the seeded synthetic scene, the TRACE image, the
//! PSF. Nothing here is timed; it builds problems.
//!
//! The synthetic scene is generated here and only here: the Python reference script takes
//! it from `harness run --save` (the output carries the input image and PSF), so Rust and
//! aiapy deconvolve the same bits.

use std::path::{Path, PathBuf};

use ndarray::{Array2, s};
use num_complex::Complex64;

use crate::error::KernelError;
use crate::fft2d::Fft2d;

// ---- Random numbers --------------------------------------------------------------------

/// xoshiro256++ seeded through SplitMix64 (Blackman & Vigna): small, fast, reproducible on
/// every platform — the scene depends only on the seed.
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut splitmix = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [splitmix(), splitmix(), splitmix(), splitmix()],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A Poisson variate of mean `lam` ≥ 0: numpy's two algorithms — multiplication of
    /// uniforms below 10, Hörmann's PTRS transformed rejection (1993) above.
    pub fn poisson(&mut self, lam: f64) -> f64 {
        if lam <= 0.0 {
            return 0.0;
        }
        if lam < 10.0 {
            let limit = (-lam).exp();
            let (mut k, mut prod) = (0.0, 1.0);
            loop {
                prod *= self.uniform();
                if prod > limit {
                    k += 1.0;
                } else {
                    return k;
                }
            }
        }
        let slam = lam.sqrt();
        let loglam = lam.ln();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.02483 * b;
        let invalpha = 1.1239 + 1.1328 / (b - 3.4);
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lam + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if v.ln() + invalpha.ln() - (a / (us * us) + b).ln()
                <= -lam + k * loglam - log_gamma(k + 1.0)
            {
                return k;
            }
        }
    }
}

/// ln Γ(x) for x ≥ 1 (numpy's `random_loggam`: Stirling series, shifted up to x ≥ 7).
fn log_gamma(x: f64) -> f64 {
    const A: [f64; 10] = [
        8.333333333333333e-02,
        -2.777777777777778e-03,
        7.936507936507937e-04,
        -5.952380952380952e-04,
        8.417508417508418e-04,
        -1.917526917526918e-03,
        6.410_256_410_256_41e-3,
        -2.955065359477124e-02,
        1.796443723688307e-01,
        -1.39243221690590e+00,
    ];
    if x == 1.0 || x == 2.0 {
        return 0.0;
    }
    let n = if x < 7.0 { (7.0 - x) as i32 } else { 0 };
    let mut x0 = x + n as f64;
    let x2 = 1.0 / (x0 * x0);
    let mut gl0 = A[9];
    for &a in A[..9].iter().rev() {
        gl0 = gl0 * x2 + a;
    }
    let mut gl = gl0 / x0 + 0.5 * std::f64::consts::TAU.ln() + (x0 - 0.5) * x0.ln() - x0;
    for _ in 0..n {
        x0 -= 1.0;
        gl -= x0.ln();
    }
    gl
}

// ---- The PSF ------------------------------------------------------------------------

/// A normalised circular Gaussian of width `sigma` pixels centred on pixel (R/2, C/2) —
/// where aiapy's PSFs have their peak, so that aiapy's `np.roll` by (R//2, C//2) moves it
/// to (0, 0) (for even sides; for odd sides, exactly as in aiapy, to (R−1, C−1)).
///
/// Values below e^−690 ≈ 2e-300 of the peak are 0: further out exp() returns subnormal
/// numbers, which make every multiply-add that reads them 10–100× slower on x86 (a
/// microcode assist) and change nothing at 1e-300 of the peak.
pub fn gaussian_psf(rows: usize, cols: usize, sigma: f64) -> Array2<f64> {
    const CUTOFF: f64 = 690.0;
    let (ci, cj) = ((rows / 2) as f64, (cols / 2) as f64);
    let mut psf = Array2::from_shape_fn((rows, cols), |(i, j)| {
        let r2 = (i as f64 - ci).powi(2) + (j as f64 - cj).powi(2);
        let x = r2 / (2.0 * sigma * sigma);
        if x > CUTOFF { 0.0 } else { (-x).exp() }
    });
    let total = psf.sum();
    psf.mapv_inplace(|v| v / total);
    psf
}

/// The PSF a problem is deconvolved with — the one place that chooses. `sigma = 0` (the
/// default): the AIA PSF of `channel` computed on this grid by the PSF kernel
/// ([`crate::psf::compute_psf`], aiapy's `psf()` without the pre-flight core), square and
/// even sides only. `sigma > 0`: a Gaussian of that width in pixels (any shape; a fast PSF
/// for tests at small and odd sizes).
pub fn psf(channel: u32, sigma: f64, rows: usize, cols: usize) -> Result<Array2<f64>, KernelError> {
    if sigma > 0.0 {
        return Ok(gaussian_psf(rows, cols, sigma));
    }
    if rows != cols {
        return Err(KernelError::Input(format!(
            "the AIA PSF is computed on square grids, the image is {rows}×{cols}: give the \
             PSF as a second --input, or a Gaussian width with --sigma"
        )));
    }
    crate::psf::compute_psf(channel, rows, false)
}

/// What a problem's PSF is, in words (for listings and the reference manifest).
pub fn psf_label(channel: u32, sigma: f64) -> String {
    if sigma > 0.0 {
        format!("Gaussian σ = {sigma} px")
    } else {
        format!("AIA {channel} Å")
    }
}

// ---- The synthetic scene --------------------------------------------------------------

/// Counts of the sky background.
pub const BACKGROUND: f64 = 10.0;

/// The seeded test scene (counts): a background, an extended limb-darkened disk, Gaussian
/// blobs and point sources (their number grows with the area), blurred with `kernel` (the
/// PSF already moved to (0, 0), as the deconvolution uses it) by circular convolution, with
/// Poisson noise. The scene is R × C as the kernel is; a square scene draws the same
/// random numbers in the same order as it did before rectangles existed, so its pixels
/// (and the committed references) are unchanged. Every random number comes from `seed`.
pub fn synthetic(seed: u64, kernel: &Array2<f64>) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let (r, c) = kernel.dim();
    let (rf, cf) = (r as f64, c as f64);
    let mut sky = Array2::from_elem((r, c), BACKGROUND);

    // An extended disk of radius 0.3·min(R, C) with limb darkening, off-centre by up to
    // 0.05 of each side.
    let (di, dj) = (rf * rng.range(0.45, 0.55), cf * rng.range(0.45, 0.55));
    let radius = 0.3 * rf.min(cf);
    for ((i, j), v) in sky.indexed_iter_mut() {
        let d = ((i as f64 - di).powi(2) + (j as f64 - dj).powi(2)).sqrt() / radius;
        if d <= 1.0 {
            *v += 100.0 * (0.4 + 0.6 * (1.0 - d * d).sqrt());
        }
    }

    // Gaussian blobs of widths 1–8 px, evaluated within ±5σ (cut at the edges).
    for _ in 0..3 + r * c / 8192 {
        let (bi, bj) = (rng.range(0.0, rf), rng.range(0.0, cf));
        let sigma = rng.range(1.0, 8.0);
        let amplitude = rng.range(50.0, 500.0);
        let reach = 5.0 * sigma;
        let rows = ((bi - reach).max(0.0) as usize)..((bi + reach).min(rf - 1.0) as usize + 1);
        let cols = ((bj - reach).max(0.0) as usize)..((bj + reach).min(cf - 1.0) as usize + 1);
        for i in rows {
            for j in cols.clone() {
                let r2 = (i as f64 - bi).powi(2) + (j as f64 - bj).powi(2);
                sky[[i, j]] += amplitude * (-r2 / (2.0 * sigma * sigma)).exp();
            }
        }
    }

    // Point sources: one pixel each.
    for _ in 0..5 + r * c / 4096 {
        let (i, j) = (rng.next_u64() as usize % r, rng.next_u64() as usize % c);
        sky[[i, j]] += rng.range(1000.0, 10000.0);
    }

    let blurred = convolve_fft(&sky, kernel);
    // FFT rounding can leave the blurred sky a few ulps below 0 far from any source; the
    // background keeps it positive, the max() keeps the Poisson mean defined regardless.
    blurred.mapv(|mean| rng.poisson(mean.max(0.0)))
}

/// Circular convolution with a kernel at (0, 0): irfft2(rfft2(a)·rfft2(kernel)), as aiapy
/// convolves (used to blur the scene; parallel passes, bit-identical to serial ones).
fn convolve_fft(a: &Array2<f64>, kernel: &Array2<f64>) -> Array2<f64> {
    let (r, c) = a.dim();
    let fft = Fft2d::<f64>::new(r, c);
    let mut scratch = fft.scratches();
    let mut spec_a = vec![Complex64::default(); fft.spectrum_len()];
    let mut spec_k = spec_a.clone();
    fft.rfft2_par(
        a.as_slice().expect("standard layout"),
        &mut spec_a,
        &mut scratch,
    );
    fft.rfft2_par(
        kernel.as_slice().expect("standard layout"),
        &mut spec_k,
        &mut scratch,
    );
    spec_a.iter_mut().zip(&spec_k).for_each(|(a, k)| *a *= k);
    let mut out = Array2::zeros((r, c));
    fft.irfft2_par(
        &mut spec_a,
        out.as_slice_mut().expect("standard layout"),
        &mut scratch,
    );
    out
}

// ---- The TRACE image ------------------------------------------------------------------

/// The real image of the `trace` case, outside the repository (see its README).
pub const TRACE_FILE: &str = "real-data/trace_171_1024.fits";

/// The folder of external data: `$HARNESS_SHARED`, else `shared/` beside the repository.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("HARNESS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("..")
                .join("shared")
        })
}

/// Where the TRACE image is looked for.
pub fn trace_path() -> PathBuf {
    shared_dir().join(TRACE_FILE)
}

/// The TRACE 171 Å image (1024 × 1024, physical values BZERO + BSCALE·raw), row-major as
/// astropy reads it (row 0 is the first row in the file), cropped to its central n × n.
pub fn trace(path: &Path, n: usize) -> Result<Array2<f64>, KernelError> {
    trace_crop(path, n, n)
}

/// [`trace`] cropped to its central `rows` × `cols`.
pub fn trace_crop(path: &Path, rows: usize, cols: usize) -> Result<Array2<f64>, KernelError> {
    let path = path.to_path_buf();
    let err = |reason: String| KernelError::Read {
        path: path.clone(),
        reason,
    };
    // A FIFO or a device at this path is refused before it is opened (it could block).
    let (file, file_len) = crate::io::open_regular(&path).map_err(|e| {
        err(format!(
            "{e}: the trace case reads the TRACE image from outside the repository; set \
             HARNESS_SHARED to the folder that holds {TRACE_FILE}"
        ))
    })?;
    let mut fits = fitsrs::Fits::from_reader(std::io::BufReader::new(file));
    let hdu = match fits.next() {
        Some(Ok(fitsrs::HDU::Primary(hdu))) => hdu,
        Some(Ok(_)) => return Err(err("the first HDU is not a primary image".into())),
        Some(Err(e)) => return Err(err(format!("not a readable FITS file: {e}"))),
        None => return Err(err("empty FITS file".into())),
    };
    let header = hdu.get_header();
    let (width, height) = match header.get_xtension().get_naxis() {
        &[w, h] => (w as usize, h as usize),
        other => {
            return Err(err(format!(
                "expected a 2-D image, NAXIS = {}",
                other.len()
            )));
        }
    };
    let bytes_per_pixel = header.get_xtension().get_bitpix().byte_size();
    check_data_len(width, height, bytes_per_pixel, file_len).map_err(err)?;
    // Integer data with BSCALE/BZERO stand for BZERO + BSCALE·raw (FITS 4.0, 5.3.2).
    let card = |key: &str, default: f64| match header.get(key) {
        None => Ok(default),
        Some(fitsrs::card::Value::Integer { value, .. }) => Ok(*value as f64),
        Some(fitsrs::card::Value::Float { value, .. }) => Ok(*value),
        Some(other) => Err(err(format!("{key} is not a number: {other:?}"))),
    };
    let (bscale, bzero) = (card("BSCALE", 1.0)?, card("BZERO", 0.0)?);
    // Bounded above: at most the pixels the file can hold.
    let mut raw: Vec<f64> = Vec::with_capacity(width * height);
    match fits.get_data(&hdu).pixels() {
        fitsrs::Pixels::U8(it) => raw.extend(it.map(f64::from)),
        fitsrs::Pixels::I16(it) => raw.extend(it.map(f64::from)),
        fitsrs::Pixels::I32(it) => raw.extend(it.map(f64::from)),
        fitsrs::Pixels::I64(it) => raw.extend(it.map(|v| v as f64)),
        fitsrs::Pixels::F32(it) => raw.extend(it.map(f64::from)),
        fitsrs::Pixels::F64(it) => raw.extend(it),
    }
    let image = Array2::from_shape_vec((height, width), raw)
        .map_err(|e| {
            err(format!(
                "data block does not hold NAXIS1·NAXIS2 pixels: {e}"
            ))
        })?
        .mapv(|v| bzero + bscale * v);
    for (name, side, limit) in [("rows", rows, height), ("cols", cols, width)] {
        if side > limit {
            // Named after --n when the crop is square (--rows and --cols left at 0).
            let name = if rows == cols { "n" } else { name };
            return Err(KernelError::invalid(
                name,
                side,
                format!(
                    "the TRACE image is {height} × {width}: the crop is of its centre, so \
                     {name} ≤ {limit}"
                ),
            ));
        }
    }
    let (i0, j0) = ((height - rows) / 2, (width - cols) / 2);
    Ok(image.slice(s![i0..i0 + rows, j0..j0 + cols]).to_owned())
}

/// The pixels a FITS header declares fit in the file after its first 2880-byte header
/// block, so that nothing is allocated from an unchecked number (NAXIS1 · NAXIS2 of a few
/// header bytes could ask for terabytes; their product could overflow).
fn check_data_len(
    width: usize,
    height: usize,
    bytes_per_pixel: usize,
    file_len: u64,
) -> Result<(), String> {
    let room = file_len.saturating_sub(2880);
    let declared = width
        .checked_mul(height)
        .and_then(|p| p.checked_mul(bytes_per_pixel));
    match declared {
        Some(bytes) if bytes as u64 <= room => Ok(()),
        _ => Err(format!(
            "the header declares {width} × {height} pixels of {bytes_per_pixel} bytes, more than \
             the {file_len} bytes of the file hold after its header: a damaged or cut file \
             (copy {TRACE_FILE} again)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_has_the_right_mean_and_variance() {
        // Both algorithms: 20 000 draws, mean and variance within 4 standard errors.
        for lam in [0.5, 3.0, 9.9, 10.0, 42.0, 1234.5] {
            let mut rng = Rng::new(7);
            let draws: Vec<f64> = (0..20_000).map(|_| rng.poisson(lam)).collect();
            let n = draws.len() as f64;
            let mean = draws.iter().sum::<f64>() / n;
            let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0);
            assert!(
                (mean - lam).abs() < 4.0 * (lam / n).sqrt(),
                "λ={lam}: mean {mean}"
            );
            // Var of the sample variance ≈ (2λ² + λ)/n for a Poisson.
            let se = ((2.0 * lam * lam + lam) / n).sqrt();
            assert!((var - lam).abs() < 4.0 * se, "λ={lam}: variance {var}");
            assert!(draws.iter().all(|d| d.fract() == 0.0 && *d >= 0.0));
        }
    }

    #[test]
    fn log_gamma_matches_factorials() {
        let mut fact = 1.0f64;
        for k in 1..30 {
            fact *= k as f64;
            let want = fact.ln();
            assert!(
                (log_gamma(k as f64 + 1.0) - want).abs() < 1e-12 * want.max(1.0),
                "{k}"
            );
        }
    }

    #[test]
    fn gaussian_psf_is_normalised_and_centred() {
        let p = gaussian_psf(16, 12, 1.5);
        assert!((p.sum() - 1.0).abs() < 1e-15);
        let peak = p
            .indexed_iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(peak, (8, 6));
    }

    #[test]
    fn a_missing_trace_file_says_where_to_put_it() {
        let e = trace(Path::new("/nonexistent/trace.fits"), 16)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/trace.fits") && e.contains("HARNESS_SHARED"),
            "{e}"
        );
    }

    #[test]
    fn the_scene_depends_only_on_the_seed() {
        let k = gaussian_psf(32, 32, 1.0);
        let a = synthetic(3, &k);
        assert_eq!(a, synthetic(3, &k));
        assert_ne!(a, synthetic(4, &k));
        assert!(a.iter().all(|v| *v >= 0.0 && v.fract() == 0.0));
        let wide = synthetic(3, &gaussian_psf(12, 40, 1.0));
        assert_eq!(wide.dim(), (12, 40), "the kernel's shape");
    }
}

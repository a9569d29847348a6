//! Richardson–Lucy deconvolution, exactly as `aiapy.psf.deconvolve` (aiapy 0.10) does it.
//!
//! ```text
//! img  = image, with negative pixels set to 0 (clip, aiapy's clip_negative=True)
//! k    = np.roll(psf, (R//2, C//2))            the PSF's centre moved to (0, 0)
//! P    = rfft2(k)
//! est  = img
//! repeat `iterations` times:
//!     ratio = img / irfft2(rfft2(est) · P)         img / (est ⊛ k)
//!     est   = est · irfft2(rfft2(ratio) · conj(P))   est · (ratio ⋆ k)
//! ```
//!
//! ⊛ is circular convolution, ⋆ circular correlation:
//! `(a ⊛ k)[i, j] = Σ_p Σ_q a[p, q] · k[(i − p) mod R, (j − q) mod C]` and
//! `(a ⋆ k)[i, j] = Σ_p Σ_q a[p, q] · k[(p − i) mod R, (q − j) mod C]`. The `naive` and
//! `vectorised` variants compute these sums directly (O((R·C)²) per convolution); the FFT
//! variants compute them as aiapy does. For odd sides `np.roll` by R//2 puts a centred
//! PSF's peak at (R−1, C−1), not (0, 0): reproduced as is, like everything else here.
//!
//! No epsilon, no regularisation, no clipping inside the loop. **Where the ratio is not
//! finite** — the blurred estimate is exactly 0 (an all-zero image, or a zero region wider
//! than the PSF's support with a compact PSF), or so small that img/den overflows — aiapy
//! silently returns an image full of inf/NaN. This harness computes the same arithmetic
//! (so the output is what aiapy would give), remembers the first such pixel (earliest
//! iteration, then row-major order) and `run` returns [`NonFinite::error`]: the run fails
//! with the iteration, the pixel and the image value, rather than handing on NaNs. A
//! failed run is never timed, and validation would reject the NaNs anyway.
//!
//! Variants, each teaching one step (f32 twins of the FFT ones, with their error stated):
//! `naive` and `vectorised` (the sums above, directly: the oracle, and SIMD that no SIMD
//! can rescue from O((RC)²)); `fft` (aiapy's algorithm, one step per pass, one thread);
//! `parallel` (four fused passes per iteration over rayon's threads); `lanes` (the same
//! passes with the spectrum stored as strips of columns, and columns and rows transformed
//! one per SIMD lane by our own FFT, [`crate::fft2d::lanes`], each convolution or row
//! round trip in place and depth first so that it works in L1); `gpu` (every iteration
//! on the device, WGSL FFT).
//!
//! Cases: `synthetic` (a seeded scene of point sources, Gaussian blobs and an extended
//! disk, blurred with the PSF and given Poisson noise; [`scene::synthetic`]) and `trace`
//! (the TRACE 171 Å 1024² image, read with fitsrs from `shared/real-data/`, its central
//! n × n). Any case takes a user image instead: `--input image.npy [--input psf.npy]`.
//! Images are R × C: `--n` sets both sides, `--rows`/`--cols` either one ([`shape`]; the
//! AIA PSF is square, so a rectangle takes a Gaussian `--sigma` or a PSF `--input`).
//! Every variant works on rectangles except `gpu` (powers of two on both sides).
//!
//! Work (the yardstick of every variant): aiapy's algorithm, 4 real 2-D FFTs of
//! 2.5·RC·log₂(RC) flops, 2 complex products of 6 flops per spectrum value and 2 flops per
//! pixel per iteration. The direct variants do (RC)/(2.5·log₂ RC)·… times more arithmetic,
//! so their GFLOP/s read as "effective", far below what they really execute.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use ndarray::{Array2, ArrayD};
use num_complex::{Complex, Complex64};

use crate::check::{Output, RelativeTolerance, Tolerance};
use crate::error::KernelError;
use crate::fft2d::{Fft2d, Float};
use crate::kernel::{Case, GpuScale, Kernel};
use crate::params::{ParamKind, ParamSpec, Params};
use crate::variant::{Availability, Precision, Variant, VariantInfo, Work};

pub mod engine;
pub mod fft;
pub mod gpu;
pub mod gpu_four_step;
pub mod gpu_shared;
pub mod lanes;
pub mod naive;
pub mod parallel;
pub mod scene;
pub mod vectorised;

// workshop exercise modules: `harness new-variant` inserts lines below, `harness remove-variant` deletes them.

/// AIA's EUV channels (Å): the PSF's `--channel`.
pub const CHANNELS: &[i64] = &[94, 131, 171, 193, 211, 304, 335];

/// Where a problem's image comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Synthetic {
        seed: u64,
    },
    Trace,
    /// Arrays the user gave with `--input`.
    Input,
}

/// One deconvolution: the image, the PSF (centred, as aiapy takes it), the iterations.
/// The arrays are shared (`Arc`): every prepared variant keeps the problem for its output.
#[derive(Clone, Debug)]
pub struct DeconvProblem {
    pub source: Source,
    /// The image as given (before clipping): the "before" picture of reports.
    pub image: Arc<Array2<f64>>,
    /// The PSF with its centre at (R/2, C/2), normalised as given.
    pub psf: Arc<Array2<f64>>,
    pub iterations: usize,
    /// aiapy's `clip_negative`: negative pixels of the image become 0.
    pub clip: bool,
    /// What the PSF is, in words.
    pub psf_label: String,
    /// Why the image could not be built (the TRACE file is missing): every variant skips.
    pub missing: Option<String>,
    /// `synthetic_n256`, ... when the parameters are those of a committed reference.
    reference: Option<String>,
    /// [`rounding_bound`] at ε = 1, computed once: it runs Richardson–Lucy through again
    /// (40 s single-threaded at 4096² on the H200 machine's host), and every variant's
    /// check asks for it.
    unit_rounding: OnceLock<f64>,
}

impl DeconvProblem {
    pub fn rows(&self) -> usize {
        self.image.nrows()
    }
    pub fn cols(&self) -> usize {
        self.image.ncols()
    }
    pub fn pixels(&self) -> usize {
        self.rows() * self.cols()
    }

    /// Ready, unless the input image is missing (then every variant skips, saying why).
    pub fn availability(&self) -> Availability {
        match &self.missing {
            Some(why) => Availability::Skipped(why.clone()),
            None => Availability::Ready,
        }
    }

    /// The image the iterations use: aiapy's `np.where(img < 0, 0, img)` when clipping.
    pub fn clipped_image(&self) -> Vec<f64> {
        self.image.iter().map(|&v| self.clipped(v)).collect()
    }

    /// One pixel value as the iterations use it: 0 for a negative value when clipping.
    pub fn clipped(&self, v: f64) -> f64 {
        if self.clip && v < 0.0 { 0.0 } else { v }
    }

    /// [`Self::clipped_image`] written into `out` in a variant's precision, without
    /// allocating (the pipeline kernel loads each image of a stack into one prepared state).
    pub fn clip_into<T: Float>(&self, out: &mut [T]) {
        assert_eq!(out.len(), self.pixels(), "one value per pixel");
        for (o, &v) in out.iter_mut().zip(self.image.iter()) {
            *o = T::from_f64(self.clipped(v)).expect("finite f64 converts");
        }
    }

    /// The same deconvolution (PSF, iterations, clipping) of another image of the same
    /// shape: the pipeline kernel's stack shares one PSF. No committed reference applies.
    pub fn with_image(&self, source: Source, image: Arc<Array2<f64>>) -> DeconvProblem {
        assert_eq!(image.dim(), self.image.dim(), "the PSF's shape");
        DeconvProblem {
            source,
            image,
            reference: None,
            unit_rounding: OnceLock::new(),
            ..self.clone()
        }
    }

    /// The convolution kernel k: the PSF rolled by (R//2, C//2) as aiapy's `np.roll`.
    pub fn kernel(&self) -> Array2<f64> {
        roll(&self.psf)
    }

    /// P = rfft2(k), row-major R × (C/2+1), in f64 (every FFT variant starts from it).
    pub fn transfer(&self) -> Vec<Complex64> {
        let fft = Fft2d::<f64>::new(self.rows(), self.cols());
        let mut p = vec![Complex64::default(); fft.spectrum_len()];
        let k = self.kernel();
        fft.rfft2(
            k.as_slice().expect("standard layout"),
            &mut p,
            &mut fft.scratch(),
        );
        p
    }

    /// Wraps a deconvolved image (row-major R·C) with the input image and PSF, so that a
    /// saved output carries its "before" and a reference check covers the inputs too.
    pub fn output(&self, deconvolved: Vec<f64>) -> Output {
        let shape = [self.rows(), self.cols()];
        let out = ArrayD::from_shape_vec(ndarray::IxDyn(&shape), deconvolved)
            .expect("variants write exactly R·C values");
        Output {
            arrays: vec![
                ("deconvolved".to_string(), out),
                ("image".to_string(), self.image.as_ref().clone().into_dyn()),
                ("psf".to_string(), self.psf.as_ref().clone().into_dyn()),
            ],
        }
    }
}

/// `np.roll(np.roll(a, R//2, axis=0), C//2, axis=1)`: out[(i + R/2) % R, (j + C/2) % C] = a[i, j].
pub fn roll(a: &Array2<f64>) -> Array2<f64> {
    let (r, c) = a.dim();
    let mut out = Array2::zeros((r, c));
    for ((i, j), &v) in a.indexed_iter() {
        out[[(i + r / 2) % r, (j + c / 2) % c]] = v;
    }
    out
}

/// The first pixel where `img / den` was not finite: see the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonFinite {
    /// 1-based.
    pub iteration: usize,
    pub row: usize,
    pub col: usize,
    /// The image value there (0 for 0/0 = NaN, positive for x/0 = inf).
    pub image: f64,
    /// The ratio computed there (inf or NaN).
    pub ratio: f64,
}

impl NonFinite {
    /// The error `run` returns.
    pub fn error(&self) -> KernelError {
        KernelError::Failed(format!(
            "Richardson–Lucy: at iteration {} the blurred estimate at pixel ({}, {}) is 0 (or \
             so small that image/blurred overflows): image {} / blurred = {}. aiapy has no \
             epsilon and would return inf/NaN from here on; so does this computation. Typical \
             cause: an all-zero image, or a zero region wider than a compact PSF",
            self.iteration, self.row, self.col, self.image, self.ratio
        ))
    }

    /// The earlier of two (iteration, then row-major position).
    pub fn first(a: Option<NonFinite>, b: Option<NonFinite>) -> Option<NonFinite> {
        match (a, b) {
            (Some(x), Some(y)) => Some(
                if (y.iteration, y.row, y.col) < (x.iteration, x.row, x.col) {
                    y
                } else {
                    x
                },
            ),
            (x, None) => x,
            (None, y) => y,
        }
    }
}

/// `den[j] = img[j] / den[j]` for one row (the ratio step), returning the first column
/// where the ratio is not finite. One pass; the position is searched only on failure.
#[inline]
pub fn divide_row<T: Float>(img: &[T], den: &mut [T]) -> Option<usize> {
    let mut finite = true;
    for (d, &i) in den.iter_mut().zip(img) {
        *d = i / *d;
        finite &= d.is_finite();
    }
    if finite {
        None
    } else {
        den.iter().position(|d| !d.is_finite())
    }
}

/// The [`NonFinite`] record of a failed row.
pub fn non_finite<T: Float>(
    iteration: usize,
    row: usize,
    col: usize,
    img: &[T],
    ratio: &[T],
) -> NonFinite {
    NonFinite {
        iteration,
        row,
        col,
        image: img[col].to_f64().unwrap_or(f64::NAN),
        ratio: ratio[col].to_f64().unwrap_or(f64::NAN),
    }
}

/// `spec[i] *= p[i]` (or `conj(p[i])`): the frequency-domain product of one convolution.
#[inline]
pub fn multiply<T: Float>(spec: &mut [Complex<T>], p: &[Complex<T>], conjugate: bool) {
    if conjugate {
        spec.iter_mut().zip(p).for_each(|(s, p)| *s = *s * p.conj());
    } else {
        spec.iter_mut().zip(p).for_each(|(s, p)| *s = *s * *p);
    }
}

/// Converts a real array of a variant's precision.
pub fn cast<T: Float>(v: &[f64]) -> Vec<T> {
    v.iter()
        .map(|&x| T::from_f64(x).expect("finite f64 converts"))
        .collect()
}

/// Back to f64 for the output.
pub fn widen<T: Float>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.to_f64().unwrap_or(f64::NAN)).collect()
}

/// The kernel's declaration.
pub struct Deconv;

/// Nominal bytes of a problem of `pixels` pixels: its three f64 outputs (the deconvolved
/// image, and the image and PSF it came from).
fn nominal_bytes(pixels: f64) -> f64 {
    3.0 * 8.0 * pixels
}

/// f64 images every run holds besides its outputs and the reference's: the problem's image
/// and PSF, and the variant's own image and estimate (the direct and f64 FFT variants hold
/// these and more in f64; the f32 ones at least four half-size arrays: image, estimate,
/// spectrum and transfer function).
const HELD_IMAGES: f64 = 4.0;

/// The longest side `--rows`/`--cols` take: a 3000 × 5000 frame stack (issue 20) has
/// 15 Mpx, less than the 4096² AIA image; the memory estimate refuses what does not fit.
pub(crate) const MAX_SIDE: i64 = 8192;

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "n",
        help: "image side: the synthetic scene's size, or the central n×n crop of the TRACE image",
        kind: ParamKind::Int { min: 2, max: 4096 },
        default: 256.0,
        is_size: true,
    },
    ParamSpec {
        name: "rows",
        help: "image rows R for a rectangular R×C image (0: n); the AIA PSF is square, so give \
               --sigma or a PSF --input with it",
        kind: ParamKind::Int {
            min: 0,
            max: MAX_SIDE,
        },
        default: 0.0,
        is_size: false,
    },
    ParamSpec {
        name: "cols",
        help: "image columns C for a rectangular R×C image (0: n)",
        kind: ParamKind::Int {
            min: 0,
            max: MAX_SIDE,
        },
        default: 0.0,
        is_size: false,
    },
    ParamSpec {
        name: "iterations",
        help: "Richardson–Lucy iterations (aiapy's default 25)",
        kind: ParamKind::Int { min: 0, max: 1000 },
        default: 25.0,
        is_size: false,
    },
    ParamSpec {
        name: "channel",
        help: "AIA channel (Å) whose PSF deconvolves the image when --sigma is 0",
        kind: ParamKind::Choice(CHANNELS),
        default: 171.0,
        is_size: false,
    },
    ParamSpec {
        name: "sigma",
        help: "0: the AIA PSF of --channel (even n ≥ 16); > 0: a Gaussian PSF of this width (px)",
        kind: ParamKind::Float {
            min: 0.0,
            max: 100.0,
        },
        default: 0.0,
        is_size: false,
    },
    ParamSpec {
        name: "seed",
        help: "seed of the synthetic scene (positions, brightnesses, Poisson noise)",
        kind: ParamKind::Int {
            min: 0,
            max: 2_147_483_647,
        },
        default: 1.0,
        is_size: false,
    },
    ParamSpec {
        name: "clip",
        help: "set negative image pixels to 0 first (aiapy's clip_negative)",
        kind: ParamKind::Flag,
        default: 1.0,
        is_size: false,
    },
];

const CASES: &[Case] = &[
    Case {
        name: "synthetic",
        about: "seeded scene (point sources, Gaussian blobs, a disk) blurred with the PSF, Poisson noise",
    },
    Case {
        name: "trace",
        about: "the TRACE 171 Å 1024² image (shared/real-data), its central n×n",
    },
];

/// Parameters of the committed references (scripts/make_deconv_references.py).
const REFERENCE_SIZES: &[(&str, usize)] = &[("synthetic", 64), ("synthetic", 256), ("trace", 128)];

impl Kernel for Deconv {
    fn external_inputs(p: &DeconvProblem) -> Vec<(&'static str, ArrayD<f64>)> {
        vec![
            ("image", p.image.as_ref().clone().into_dyn()),
            ("psf", p.psf.as_ref().clone().into_dyn()),
        ]
    }
    fn external_output(p: &DeconvProblem, array: ArrayD<f64>) -> Result<Output, KernelError> {
        crate::external::expect_shape(Self::NAME, &array, &[p.rows(), p.cols()])?;
        Ok(p.output(array.iter().copied().collect()))
    }
    type Problem = DeconvProblem;
    const NAME: &'static str = "deconv";
    const ABOUT: &'static str = "Richardson–Lucy deconvolution as aiapy.psf.deconvolve: 25 × \
        (ratio = img / (est ⊛ psf); est = est · (ratio ⋆ psf)), on a synthetic scene or the TRACE \
        171 Å image (aiapy 0.10).";

    fn cases() -> &'static [Case] {
        CASES
    }

    fn params() -> &'static [ParamSpec] {
        PARAMS
    }

    fn defaults(case: &str) -> Params {
        let d = Params::defaults(PARAMS);
        match case {
            "trace" => d.with("n", 1024.0),
            _ => d,
        }
    }

    /// Inputs: `[image]` (the PSF then comes from --sigma/--channel) or `[image, psf]`.
    fn problem(
        case: &str,
        p: &Params,
        inputs: &[ArrayD<f64>],
    ) -> Result<DeconvProblem, KernelError> {
        let n = p.usize("n")?;
        let (rows, cols) = shape(p)?;
        let iterations = p.usize("iterations")?;
        let channel = p.usize("channel")? as u32;
        let sigma = p.get("sigma")?;
        let seed = p.usize("seed")? as u64;
        let clip = p.flag("clip")?;
        let psf_label = scene::psf_label(channel, sigma);
        let mut missing = None;
        let (source, image, psf) = match (case, inputs) {
            (_, [image, rest @ ..]) if rest.len() <= 1 => {
                let image = two_d(image, "image")?;
                let psf = match rest.first() {
                    Some(psf) => two_d(psf, "psf")?,
                    None => scene::psf(channel, sigma, image.nrows(), image.ncols())?,
                };
                if psf.dim() != image.dim() {
                    return Err(KernelError::Input(format!(
                        "the PSF is {:?} but the image is {:?}: aiapy multiplies their spectra, \
                         so they must have the same shape",
                        psf.dim(),
                        image.dim()
                    )));
                }
                (Source::Input, image, psf)
            }
            (_, [_, ..]) => {
                return Err(KernelError::Input(format!(
                    "{} input arrays: give the image, and optionally the PSF (--input image.npy \
                     --input psf.npy)",
                    inputs.len()
                )));
            }
            ("synthetic", []) => {
                let psf = scene::psf(channel, sigma, rows, cols)?;
                let image = scene::synthetic(seed, &roll(&psf));
                (Source::Synthetic { seed }, image, psf)
            }
            ("trace", []) => {
                let psf = scene::psf(channel, sigma, rows, cols)?;
                // A missing or unreadable file skips the variants (the case still lists);
                // a wrong n is the user's error.
                let image = match scene::trace_crop(&scene::trace_path(), rows, cols) {
                    Ok(image) => image,
                    Err(e @ KernelError::Read { .. }) => {
                        missing = Some(e.to_string());
                        Array2::zeros((rows, cols))
                    }
                    Err(e) => return Err(e),
                };
                (Source::Trace, image, psf)
            }
            (other, []) => unreachable!("case `{other}` is checked against CASES before this call"),
        };
        let reference = (source != Source::Input
            && iterations == 25
            && sigma == 0.0
            && channel == 171
            && clip
            && (rows, cols) == (n, n)
            && (case == "trace" || seed == 1)
            && REFERENCE_SIZES.contains(&(case, n)))
        .then(|| format!("{case}_n{n}"));
        Ok(DeconvProblem {
            source,
            image: Arc::new(image),
            psf: Arc::new(psf),
            iterations,
            clip,
            psf_label,
            missing,
            reference,
            unit_rounding: OnceLock::new(),
        })
    }

    fn variants() -> Vec<Box<dyn Variant<DeconvProblem>>> {
        vec![
            Box::new(naive::Naive),
            Box::new(vectorised::Vectorised),
            Box::new(fft::Fft(Precision::F64)),
            Box::new(fft::Fft(Precision::F32)),
            Box::new(parallel::Parallel(Precision::F64)),
            Box::new(parallel::Parallel(Precision::F32)),
            Box::new(lanes::Lanes(Precision::F64)),
            Box::new(lanes::Lanes(Precision::F32)),
            Box::new(gpu::Gpu::F32),
            Box::new(gpu::Gpu::F64),
            Box::new(gpu::Gpu::StockhamF32),
            Box::new(gpu::Gpu::StockhamF64),
            // workshop exercise variants: `harness new-variant` inserts lines below, `harness remove-variant` deletes them.
        ]
    }

    fn work(p: &DeconvProblem) -> Work {
        let (r, c) = (p.rows() as f64, p.cols() as f64);
        let pixels = r * c;
        let fft = 2.5 * pixels * pixels.log2().max(1.0);
        let products = 6.0 * r * (p.cols() / 2 + 1) as f64;
        Work {
            flops: p.iterations as f64 * (4.0 * fft + 2.0 * products + 2.0 * pixels),
            bytes: nominal_bytes(pixels),
            items: pixels,
        }
    }

    /// Bytes a validated run needs at least, from N: the generic estimate of the nominal
    /// bytes ([`crate::kernel::run_memory`]: the variant's three output arrays and the
    /// reference's three) plus what every variant holds besides them, [`HELD_IMAGES`] N²
    /// f64 images. 10 × 8·N² in all, 1.3 GB at N = 4096, where a validated FFT variant
    /// measures about 25 × 8·N² (the problem's generation and the FFT state on top). `--input`
    /// arrays are not described by N (they are already in memory when this is asked; the
    /// check of the built problem covers them).
    fn memory_estimate(case: &str, p: &Params) -> Option<u64> {
        let pixels = match case {
            "synthetic" | "trace" => {
                let (r, c) = shape(p).ok()?;
                (r * c) as f64
            }
            _ => return None,
        };
        let held = 8.0 * HELD_IMAGES * pixels;
        Some(crate::kernel::run_memory(nominal_bytes(pixels)).saturating_add(held as u64))
    }

    fn naive_seconds(case: &str, p: &Params) -> Option<f64> {
        let pixels = match case {
            "synthetic" | "trace" => {
                let (r, c) = shape(p).ok()?;
                r * c
            }
            _ => return None,
        };
        Some(naive::seconds(pixels, p.usize("iterations").ok()?))
    }

    fn tolerance(p: &DeconvProblem, v: &VariantInfo) -> Tolerance {
        conditioned_tolerance(p, v.precision)
    }

    fn reference_files(p: &DeconvProblem) -> Vec<(String, PathBuf)> {
        let Some(key) = &p.reference else {
            return Vec::new();
        };
        // A HARNESS_REFERENCES naming no folder is reported by the gate's resolution.
        let Ok(dir) = crate::io::references_dir().map(|d| d.join("deconv")) else {
            return Vec::new();
        };
        let files: Vec<(String, PathBuf)> = ["deconvolved", "image", "psf"]
            .iter()
            .map(|a| (a.to_string(), dir.join(format!("{key}_{a}.npy"))))
            .collect();
        if files.iter().all(|(_, f)| f.exists()) {
            files
        } else {
            Vec::new()
        }
    }

    /// Above naive's time limit, the f64 FFT variant (aiapy's algorithm, itself checked
    /// against naive and against aiapy's output) is the reference.
    fn oracles() -> &'static [&'static str] {
        &["naive", "fft"]
    }

    /// The strategy rule would take `fft` (one thread). `lanes` was the fastest f64
    /// variant at every size measured on the 2-core development machine: 64², 256², 1000²
    /// at 0.48, 0.31 and 0.27 of `fft`'s time, where `parallel` took 0.87, 0.74, 0.90
    /// (`harness bench --kernel deconv --case synthetic --n 64,256,1000 --variant
    /// fft,parallel,lanes --interleave --baseline fft`).
    fn rule_of_thumb() -> &'static [&'static str] {
        &["lanes", "parallel"]
    }

    fn suite() -> Vec<(&'static str, Params)> {
        // 64²: every variant, naive in ~3 s. 1024²: the FFT variants (the direct ones skip
        // with their estimate). 256² is left to the tests: vectorised would take ~15 s.
        vec![
            ("synthetic", Self::defaults("synthetic").with("n", 64.0)),
            ("synthetic", Self::defaults("synthetic").with("n", 1024.0)),
            ("trace", Self::defaults("trace")),
        ]
    }

    fn gpu_suite(scale: GpuScale) -> Vec<(&'static str, Params)> {
        // AIA's full frame, 25 iterations, both GPU precisions (the suite's variants).
        let n = match scale {
            GpuScale::Device => 4096.0,
            GpuScale::Tiny => 32.0,
        };
        vec![("synthetic", Self::defaults("synthetic").with("n", n))]
    }
}

/// The image's shape R × C from `--rows`/`--cols`, each 0 (the default) meaning `--n`:
/// `--n 1000` is 1000 × 1000, `--rows 1200 --cols 1920` a camera frame.
pub fn shape(p: &Params) -> Result<(usize, usize), KernelError> {
    let n = p.usize("n")?;
    let side = |name: &str| -> Result<usize, KernelError> {
        Ok(match p.usize(name)? {
            0 => n,
            given => given,
        })
    };
    let (rows, cols) = (side("rows")?, side("cols")?);
    if rows < 2 && cols < 2 {
        return Err(KernelError::invalid(
            "rows",
            rows,
            "a 1×1 image has nothing to deconvolve: give --rows or --cols of 2 or more",
        ));
    }
    Ok((rows, cols))
}

/// How close a variant must come to the reference after `iterations` iterations on an
/// image of `pixels` pixels, with the reason, for a well-conditioned problem (the blurred
/// estimate nowhere far below the image's scale): the kernel's own checks use
/// [`conditioned_tolerance`], which measures that condition on the problem.
///
/// The bound B: a convolution through an FFT rounds to about ε·log₂(RC) of the image's
/// scale (each of the log₂(RC) butterfly stages rounds once); the direct sum of RC terms in
/// another order stays below that in practice. Two convolutions per iteration, and in the
/// worst case the errors of successive iterations add: B = 2·iterations·log₂(RC)·ε of the
/// peak. That rounding is absolute (a fraction of the image's scale), not relative to each
/// pixel, so where the reference exceeds t = 1e-3 of its peak the relative error is at most
/// B/t: the relative check is reported (it shows how the faint parts fare) with that bound.
///
/// Measured (f64): naive against fft, 25 iterations at 32², 1.7e-14 of the peak (B =
/// 1.1e-13); aiapy against the harness's fft at 256², 1.5e-15 (B = 1.8e-13), 1.6e-13
/// relative at 64² (B/t = 1.3e-10). In f32 the error does not follow B's growth: at 128²
/// with the AIA PSF it stays near 1e-7–3e-7 of the peak from 1 to 100 iterations (B: 3e-6
/// to 3e-4) while the relative error creeps from 7e-6 to 2e-5: `tests/deconv.rs` prints it
/// against the iteration count for the three f32 variants.
pub fn tolerance(iterations: usize, pixels: usize, precision: Precision) -> Tolerance {
    let steps = (2 * iterations.max(1)) as f64 * (pixels as f64).log2().max(1.0);
    let (eps, reason) = match precision {
        Precision::F64 => (
            f64::EPSILON,
            "f64: each convolution rounds to ~ε·log₂(RC) of the image's scale, two per \
             iteration, adding up over the iterations: B = 2·iterations·log₂(RC)·ε of the peak; \
             B/1e-3 relative where the reference exceeds 1e-3 of its peak",
        ),
        Precision::F32 => (
            f32::EPSILON as f64,
            "f32: the same bound with ε = 2⁻²⁴ (image, PSF spectrum and every FFT in f32): \
             B = 2·iterations·log₂(RC)·ε₃₂, B/1e-3 relative above 1e-3 of the peak; \
             tests/deconv.rs prints the error against the iteration count (it grows far more \
             slowly than this worst case)",
        ),
    };
    Tolerance {
        max_norm: steps * eps,
        relative: Some(RelativeTolerance {
            threshold: SIGNIFICANT,
            rtol: steps * eps / SIGNIFICANT,
        }),
        reason,
    }
}

/// The tolerance of a variant on problem `p`: the larger of [`tolerance`]'s B and the
/// first-order rounding estimate of [`rounding_bound`], which follows the division's
/// condition through the actual iterates. B/1e-3 relative above 1e-3 of the peak, as in
/// [`tolerance`]. Where the plain B was too tight: 3×3, σ = 0.3, 1 iteration (seed 151811),
/// measured 1.5e-15, B 1.4e-15, now 2e-14. Where it is looser than B: the AIA PSF reaches
/// every pixel, so 25 iterations at 64² give 6e-13 (B 1.3e-13; measured 5e-16 against
/// aiapy) and at 1024² 2e-12 (B 2.2e-13). Over the property test's domain (2..12 px,
/// 0..6 iterations, σ 0.3..5, clipped or not) the measured error stays below 0.18 of it.
pub fn conditioned_tolerance(p: &DeconvProblem, precision: Precision) -> Tolerance {
    let plain = tolerance(p.iterations, p.pixels(), precision);
    let eps = match precision {
        Precision::F64 => f64::EPSILON,
        Precision::F32 => f32::EPSILON as f64,
    };
    let b = plain.max_norm.max(rounding_bound(p, eps));
    Tolerance {
        max_norm: b,
        relative: Some(RelativeTolerance {
            threshold: SIGNIFICANT,
            rtol: b / SIGNIFICANT,
        }),
        reason: match precision {
            Precision::F64 => {
                "f64: each convolution errs by ≤ e = (1.5·log₂(RC) + 1)·ε of its input's scale \
                 (forward, PSF and inverse transforms, product); img/den amplifies that by \
                 max|est|/|den| where the blurred estimate is small: a first-order bound \
                 carried through the iterates (`deconv::rounding_bound`), at least \
                 2·iterations·log₂(RC)·ε of the peak; that over 1e-3 relative where the \
                 reference exceeds 1e-3 of its peak"
            }
            Precision::F32 => {
                "f32: the f64 bound with ε = 2⁻²⁴: each convolution e = (1.5·log₂(RC) + 1)·ε₃₂ \
                 of its input's scale, amplified by the division where the blurred estimate is \
                 small (`deconv::rounding_bound`), at least 2·iterations·log₂(RC)·ε₃₂; over \
                 1e-3 relative above 1e-3 of the peak"
            }
        },
    }
}

/// A first-order estimate of the rounding error of Richardson–Lucy on problem `p`, as a
/// fraction of the output's peak, with unit roundoff u = ε/2 and each circular convolution
/// erring by at most e·max|x| in any value (x its input; Σk = 1, k ≥ 0), with
/// e = (1.5·log₂(RC) + 1)·ε: log₂(RC) stages of u in the forward transform, in the PSF's
/// transform and in the inverse, and one ε for the spectrum product and the 1/(RC) scaling.
///
/// One iteration, est' = est·c with c = ratio ⋆ k, ratio = img/den, den = est ⊛ k:
///
/// ```text
/// δden_p   ≤ e·max|est|                                   (fresh rounding)
/// δratio_p = ratio_p·δden_p/den_p                         (the division's condition)
/// δc_i     = Σ_p k[p − i]·δratio_p + e·max|ratio| + u·|c_i|
/// ```
///
/// The δden_p of different pixels are independent roundings, so the sum over p is taken in
/// root-sum-square, e·max|est|·√((k² ⋆ q²)_i) with q = |ratio/den| (the worst-case sum of
/// absolute values grows with the number of pixels a wide PSF reaches and, over 25
/// iterations at 1024², gives 1e36: no information). The error already in est is carried
/// on multiplied by max|c| (≈ 1 near convergence), as [`tolerance`] lets iterations add.
/// Hence A' = max|c|·A + max_i |est_i|·δc_i, and the result is A/max|est| at the end.
///
/// The division is where tiny images go wrong: with a sharp PSF (σ = 0.3 px, 98.5 % of its
/// mass in one pixel) and a 3×3 image spanning 530..13697, a faint pixel's den is 1/24 of
/// the scale and its ratio carries 24 times the convolution's error into its bright
/// neighbour (n = 3, 1 iteration, seed 151811: fft 7ε off naive where 2·log₂(9)·ε = 6.3ε).
/// The iterates are computed here in f64 by FFT (three convolutions per iteration): an error
/// estimate needs their values only to a few digits. Infinite when a ratio is not finite
/// (the run then fails anyway).
///
/// Every term above is ε (or u = ε/2) times something the iterates fix, so the bound is ε
/// times its value at ε = 1, which the problem keeps after the first call; ε being a power
/// of two, the product is the same number as the bound computed at ε directly.
pub fn rounding_bound(p: &DeconvProblem, eps: f64) -> f64 {
    eps * *p.unit_rounding.get_or_init(|| rounding_bound_at(p, 1.0))
}

/// [`rounding_bound`] computed through the iterates at this ε.
fn rounding_bound_at(p: &DeconvProblem, eps: f64) -> f64 {
    let (r, c) = (p.rows(), p.cols());
    let fft = Fft2d::<f64>::new(r, c);
    let mut scratch = fft.scratch();
    let transfer = p.transfer();
    // The spectrum of k², for the root-sum-square correlation.
    let mut transfer2 = vec![Complex64::default(); fft.spectrum_len()];
    let k2: Vec<f64> = p.kernel().iter().map(|k| k * k).collect();
    fft.rfft2(&k2, &mut transfer2, &mut scratch);
    let mut spectrum = vec![Complex64::default(); fft.spectrum_len()];
    let mut conv = |x: &[f64], transfer: &[Complex64], conjugate: bool, out: &mut [f64]| {
        fft.rfft2(x, &mut spectrum, &mut scratch);
        multiply(&mut spectrum, transfer, conjugate);
        fft.irfft2(&mut spectrum, out, &mut scratch);
    };
    let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let u = eps / 2.0;
    let e = (1.5 * (p.pixels() as f64).log2().max(1.0) + 1.0) * eps;
    let img = p.clipped_image();
    let mut est = img.clone();
    let (mut ratio, mut q2, mut rss, mut corr) = (
        vec![0.0; r * c],
        vec![0.0; r * c],
        vec![0.0; r * c],
        vec![0.0; r * c],
    );
    let mut a = 0.0;
    for _ in 0..p.iterations {
        let s_est = max_abs(&est);
        conv(&est, &transfer, false, &mut ratio);
        // ratio ← img/den; q² = (ratio/den)².
        for ((d, q2), &i) in ratio.iter_mut().zip(q2.iter_mut()).zip(&img) {
            let den = *d;
            *d = i / den;
            *q2 = (*d / den).powi(2);
        }
        if !ratio.iter().chain(q2.iter()).all(|v| v.is_finite()) {
            return f64::INFINITY;
        }
        let s_ratio = max_abs(&ratio);
        conv(&q2, &transfer2, true, &mut rss);
        conv(&ratio, &transfer, true, &mut corr);
        let (mut fresh, mut growth) = (0.0f64, 0.0f64);
        for i in 0..r * c {
            let new = est[i] * corr[i];
            let dc = e * s_est * rss[i].max(0.0).sqrt() + e * s_ratio + u * corr[i].abs();
            fresh = fresh.max(est[i].abs() * dc + u * new.abs());
            growth = growth.max(corr[i].abs());
            est[i] = new;
        }
        a = growth * a + fresh;
    }
    let peak = max_abs(&est);
    if peak > 0.0 { a / peak } else { 0.0 }
}

/// Where the reference counts as significant for the relative error (of its peak).
const SIGNIFICANT: f64 = 1e-3;

/// A user array as a 2-D, finite, non-empty image.
fn two_d(a: &ArrayD<f64>, what: &str) -> Result<Array2<f64>, KernelError> {
    let a = a
        .clone()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|_| {
            KernelError::Input(format!(
                "the {what} has shape {:?}: a 2-D array is expected",
                a.shape()
            ))
        })?;
    if a.is_empty() {
        return Err(KernelError::Input(format!("the {what} is empty")));
    }
    if let Some((i, v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(KernelError::Input(format!(
            "the {what} has {v} at {i:?}: deconvolution needs finite values"
        )));
    }
    Ok(a.as_standard_layout().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_is_numpys() {
        // np.roll(np.roll(a, R//2, 0), C//2, 1): a centred peak lands on (0, 0) for even
        // sides and on (R−1, C−1) for odd ones, as in aiapy.
        for ((r, c), want) in [((6, 8), (0, 0)), ((7, 9), (6, 8)), ((6, 7), (0, 6))] {
            let mut a = Array2::zeros((r, c));
            a[[r / 2, c / 2]] = 1.0;
            let rolled = roll(&a);
            assert_eq!(rolled[want], 1.0, "{r}×{c}");
            assert_eq!(rolled.sum(), 1.0);
        }
        // numpy: np.roll(np.roll(np.arange(6).reshape(2, 3), 1, 0), 1, 1) = [[5,3,4],[2,0,1]]
        let a = Array2::from_shape_vec((2, 3), (0..6).map(f64::from).collect()).unwrap();
        assert_eq!(
            roll(&a).into_raw_vec_and_offset().0,
            vec![5.0, 3.0, 4.0, 2.0, 0.0, 1.0]
        );
    }

    #[test]
    fn the_kept_rounding_bound_is_the_bound_at_each_precision() {
        // A small odd-sided image, a wide Gaussian PSF, a few iterations.
        let params = Params::defaults(PARAMS)
            .with("n", 13.0)
            .with("sigma", 2.5)
            .with("iterations", 4.0);
        let p = Deconv::problem("synthetic", &params, &[]).unwrap();
        for eps in [f64::EPSILON, f32::EPSILON as f64] {
            let direct = rounding_bound_at(&p, eps);
            assert!(direct > 0.0 && direct.is_finite(), "{direct}");
            // Scaling by a power of two is exact: the same number, not a close one.
            assert_eq!(rounding_bound(&p, eps), direct, "ε = {eps:e}");
        }
        assert!(p.unit_rounding.get().is_some(), "kept after the first call");
        // Another image of the same shape starts without the first one's bound.
        let other = p.with_image(Source::Input, p.image.clone());
        assert!(other.unit_rounding.get().is_none());
    }

    #[test]
    fn divide_row_finds_the_first_non_finite_ratio() {
        let img = [1.0f64, 0.0, 2.0, 3.0];
        let mut den = [2.0f64, 0.0, 0.0, 1.0];
        assert_eq!(divide_row(&img, &mut den), Some(1));
        assert_eq!(den[0], 0.5);
        assert!(den[1].is_nan() && den[2].is_infinite());
        let mut fine = [1.0, 1.0, 1.0, 1.0];
        assert_eq!(divide_row(&img, &mut fine), None);
        // Overflow counts too: a tiny positive denominator.
        let mut tiny = [1e-310f64, 1.0, 1.0, 1.0];
        assert_eq!(divide_row(&[1e10, 0.0, 0.0, 0.0], &mut tiny), Some(0));
    }
}

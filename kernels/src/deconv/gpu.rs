//! `deconv/*/gpu-f32`, `deconv/*/gpu-f64` — every iteration on the device: the image and
//! the PSF spectrum are uploaded once (setup), one submission runs all the iterations, and
//! only the result (plus 16 bytes of state) comes back.
//!
//! The FFT is the shared WGSL one ([`crate::gpu::fft`]: complex, Stockham radix 4, power-of-
//! two sides), so each convolution transforms the real estimate as a complex array with
//! zero imaginary parts — twice the arithmetic of a real FFT, the price of reusing one
//! well-tested transform. One iteration is eight dispatch sequences, no host round trip:
//!
//! ```text
//! FFT → × P/(RC) → FFT⁻¹ → ratio = img / Re(·)     (gpu.wgsl `ratio`)
//! FFT → × conj(P)/(RC) → FFT⁻¹ → est *= Re(·)      (gpu.wgsl `update`)
//! ```
//!
//! P is rfft2(k) from the host (f64, rounded once to the precision), extended to all C
//! columns by Hermitian symmetry. The non-finite ratio of the module docs is detected on the
//! operands (a zero denominator, or |img|/MAX > |den|: WGSL may assume no inf/NaN exist) and
//! recorded with atomics; `run` then fails like the CPU variants.
//!
//! Availability: power-of-two sides (the FFT's), f64 only with SHADER_F64, the complex
//! array within one storage binding (128 MiB on lavapipe: 4096² works in f32, not in f64),
//! and on a software adapter a time estimate under the naive limit.

use std::sync::Arc;

use num_complex::Complex64;

use super::{DeconvProblem, NonFinite};
use crate::check::Output;
use crate::error::KernelError;
use crate::fft2d::Float;
use crate::gpu::fft::{Direction, FftBinding, GpuFft, GpuMultiply, MultiplyBinding, Shape};
use crate::gpu::fft_four_step::Split;
use crate::gpu::{self, BindGroup, Binding, Buffer, Element, Pipeline, Readback, Timer};
use crate::variant::{Availability, Precision, Prepared, Stage, Variant, VariantInfo};

/// `F32`/`F64`: the fused shared-memory path ([`super::gpu_shared`]) where the sides fit the
/// adapter's workgroup memory (columns as a four-step where only their factors fit), else
/// the Stockham path; `Stockham*`: always the Stockham
/// path (kept reachable to compare the two with `harness compare`).
pub enum Gpu {
    F32,
    F64,
    StockhamF32,
    StockhamF64,
}

/// Invocations per workgroup (gpu.wgsl's `@workgroup_size`).
const WORKGROUP: u32 = 64;

/// Seconds per pixel and iteration on lavapipe (llvmpipe on the 2-core reference machine):
/// 5.2e-7 s of CPU time in f64 and 3e-7 in f32 at 1024² (four complex 2-D FFTs and five
/// element-wise passes), spread over both cores.
const SOFTWARE_SECONDS_PER_PIXEL_ITERATION: f64 = 3e-7;

/// Which device algorithm a deconvolution runs: the plan, with its memory traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Fused shared-memory FFTs on the half spectrum ([`super::gpu_shared`]).
    Fused,
    /// The same with columns too long for workgroup memory run as a four-step
    /// ([`super::gpu_four_step`]): three passes per column step.
    FusedFourStep { split: Split },
    /// Complex Stockham FFTs and separate element-wise passes: `fft_passes` global passes
    /// per 2-D transform.
    Stockham { fft_passes: usize },
}

impl Path {
    /// The path `precision` takes for an R × C image on `ctx` (`stockham` forces the old
    /// one). Errors when the Stockham FFT cannot be planned.
    pub fn plan(
        ctx: &'static gpu::GpuContext,
        precision: Precision,
        rows: usize,
        cols: usize,
        stockham: bool,
    ) -> Result<Path, KernelError> {
        use super::gpu_shared::{Columns, fused_columns};
        match (stockham, fused_columns(ctx, precision, rows, cols)) {
            (false, Some(Columns::Whole)) => return Ok(Path::Fused),
            (false, Some(Columns::FourStep(split))) => return Ok(Path::FusedFourStep { split }),
            (true, _) | (false, None) => {}
        }
        let fft = GpuFft::new(ctx, precision, Shape::Grid { rows, cols })?;
        Ok(Path::Stockham {
            fft_passes: fft.global_passes(),
        })
    }

    /// Global-memory passes (each reads and writes the whole array) per iteration.
    pub fn global_passes_per_iteration(&self) -> usize {
        match *self {
            Path::Fused => super::gpu_shared::Columns::Whole.global_passes_per_iteration(),
            Path::FusedFourStep { split } => {
                super::gpu_shared::Columns::FourStep(split).global_passes_per_iteration()
            }
            // Four 2-D FFTs, two spectrum products, `ratio` and `update`.
            Path::Stockham { fft_passes } => 4 * fft_passes + 4,
        }
    }
}

impl Gpu {
    fn precision(&self) -> Precision {
        match self {
            Gpu::F32 | Gpu::StockhamF32 => Precision::F32,
            Gpu::F64 | Gpu::StockhamF64 => Precision::F64,
        }
    }

    fn stockham(&self) -> bool {
        match self {
            Gpu::F32 | Gpu::F64 => false,
            Gpu::StockhamF32 | Gpu::StockhamF64 => true,
        }
    }

    /// Why this problem cannot run here, if it cannot.
    fn unavailable(&self, p: &DeconvProblem) -> Option<Availability> {
        if !p.availability().is_ready() {
            return Some(p.availability());
        }
        let (r, c) = (p.rows(), p.cols());
        if !r.is_power_of_two() || !c.is_power_of_two() {
            return Some(Availability::NotApplicable(format!(
                "the shared GPU FFT takes power-of-two sides; this image is {r}×{c}"
            )));
        }
        let skip = |why: String| Some(Availability::Skipped(why));
        let ctx = match gpu::context() {
            Ok(c) => c,
            Err(e) => return skip(e.to_string()),
        };
        if self.precision() == Precision::F64 && !ctx.has_f64() {
            return skip(format!("adapter {} has no SHADER_F64", ctx.summary().name));
        }
        let (what, bytes) =
            super::gpu_shared::largest_binding(ctx, self.precision(), r, c, !self.stockham());
        if let Err(e) = ctx.check_binding(what, bytes) {
            return skip(e.to_string());
        }
        if ctx.summary().software {
            let estimate =
                (r * c * p.iterations.max(1)) as f64 * SOFTWARE_SECONDS_PER_PIXEL_ITERATION;
            let limit = match crate::naive_time_limit_s() {
                Ok(limit) => limit,
                Err(e) => return skip(e.to_string()),
            };
            if estimate > limit {
                return skip(format!(
                    "estimated {estimate:.0} s on the software adapter {} at {r}×{c} (limit \
                     {limit:.0} s, HARNESS_NAIVE_LIMIT_S)",
                    ctx.summary().name
                ));
            }
        }
        None
    }
}

const INFO: [VariantInfo; 2] = variant_pair!(
    "gpu-f64",
    "gpu-f32",
    Gpu,
    "every iteration on the GPU in one submission: shared-memory FFTs of the half spectrum, the element-wise steps fused in, data uploaded once"
);

const STOCKHAM_INFO: [VariantInfo; 2] = variant_pair!(
    "gpu-stockham-f64",
    "gpu-stockham-f32",
    Gpu,
    "the GPU baseline: complex Stockham FFT passes and separate element-wise passes"
);

impl Variant<DeconvProblem> for Gpu {
    fn info(&self) -> &VariantInfo {
        match self.stockham() {
            false => self.precision().pick(&INFO),
            true => self.precision().pick(&STOCKHAM_INFO),
        }
    }
    fn probe(&self, p: &DeconvProblem) -> Availability {
        self.unavailable(p).unwrap_or(Availability::Ready)
    }
    fn prepare(&self, p: &DeconvProblem) -> Result<Box<dyn Prepared>, KernelError> {
        if let Some(why) = self.unavailable(p) {
            return Err(KernelError::Gpu(why.reason().to_string()));
        }
        let stockham = self.stockham();
        Ok(match self.precision() {
            Precision::F32 => Box::new(Run::<f32>::new(p, Precision::F32, F32_MAX, stockham)?),
            Precision::F64 => Box::new(Run::<f64>::new(p, Precision::F64, F64_MAX, stockham)?),
        })
    }
}

/// P = rfft2(k) extended to all C columns: P[k, l] = conj(P[(R − k) mod R, C − l]) for
/// l > C/2 (the spectrum of a real array is Hermitian).
pub(crate) fn full_spectrum(half: &[Complex64], rows: usize, cols: usize) -> Vec<Complex64> {
    let h = cols / 2 + 1;
    let mut full = vec![Complex64::default(); rows * cols];
    for k in 0..rows {
        for l in 0..cols {
            full[k * cols + l] = if l < h {
                half[k * h + l]
            } else {
                half[((rows - k) % rows) * h + (cols - l)].conj()
            };
        }
    }
    full
}

/// f32's largest finite value as WGSL reads it (REAL_MAX of the f32 shader).
pub(crate) const F32_MAX: &str = "3.4028234663852886e38";
/// f64's, as an f64 literal.
const F64_MAX: &str = "1.7976931348623157e308lf";

/// deconv's WGSL (`gpu.wgsl`) for the real type `ty` (`f32` or `f64`) and its largest
/// finite value (the operand test of the non-finite ratio).
pub(crate) fn shader_source(ty: &str, real_max: &str) -> String {
    format!(
        "alias real = {ty};\nconst REAL_MAX: real = {real_max};\n{}{}",
        gpu::WGSL_FLAT_WORKGROUP,
        include_str!("gpu.wgsl")
    )
}

/// One image's Richardson–Lucy on the device: the three element-wise steps (`start`,
/// `ratio`, `update`) and the FFT and multiply bindings, all bound to that image's buffers.
/// `deconv/*/gpu-*` has one; the pipeline's GPU variants one per image slot.
pub(crate) struct Iterations {
    steps: [(Arc<Pipeline>, BindGroup); 3],
    work_fft: FftBinding,
    by_p: MultiplyBinding,
    by_conj_p: MultiplyBinding,
    workgroups: u32,
}

/// The buffers [`Iterations`] works on, in `gpu.wgsl`'s binding order.
pub(crate) struct ImageBuffers<'a> {
    pub params: &'a Buffer,
    pub image: &'a Buffer,
    pub estimate: &'a Buffer,
    pub work: &'a Buffer,
    pub state: &'a Buffer,
}

impl Iterations {
    /// Compiles (or reuses, by name) the steps for `ty` and binds everything to `b`;
    /// `spectrum` is P, `len` the pixels (P is scaled by 1/len: irfft2's normalisation).
    pub(crate) fn new(
        ty: &str,
        real_max: &str,
        fft: &GpuFft,
        multiply: &GpuMultiply,
        spectrum: &Buffer,
        len: usize,
        b: &ImageBuffers,
    ) -> Result<Iterations, KernelError> {
        let ctx = gpu::context()?;
        let source = shader_source(ty, real_max);
        use Binding::{ReadOnly, ReadWrite, Uniform};
        let layout = [Uniform, ReadOnly, ReadWrite, ReadWrite, ReadWrite];
        let step = |entry: &str| -> Result<(Arc<Pipeline>, BindGroup), KernelError> {
            let pipeline =
                ctx.pipeline(&format!("deconv-{ty}-{entry}"), &source, entry, &layout)?;
            let bind = ctx.bind(
                &pipeline,
                &[
                    b.params.into(),
                    b.image.into(),
                    b.estimate.into(),
                    b.work.into(),
                    b.state.into(),
                ],
            )?;
            Ok((pipeline, bind))
        };
        let scale = 1.0 / len as f64;
        Ok(Iterations {
            steps: [step("start")?, step("ratio")?, step("update")?],
            work_fft: fft.bind(b.work)?,
            by_p: multiply.bind(b.work, spectrum, false, scale)?,
            by_conj_p: multiply.bind(b.work, spectrum, true, scale)?,
            workgroups: (len as u32).div_ceil(WORKGROUP),
        })
    }

    /// The whole deconvolution as one dispatch sequence: `start`, then per iteration
    /// FFT → × P → FFT⁻¹ → `ratio` → FFT → × conj(P) → FFT⁻¹ → `update`. The caller resets
    /// the state buffer before and downloads after.
    pub(crate) fn encode(
        &self,
        enc: &mut gpu::Encoder,
        fft: &GpuFft,
        multiply: &GpuMultiply,
        iterations: usize,
    ) {
        let [start, ratio, update] = &self.steps;
        enc.dispatch(&start.0, &start.1, self.workgroups);
        for _ in 0..iterations {
            fft.encode(enc, &self.work_fft, Direction::Forward);
            multiply.encode(enc, &self.by_p);
            fft.encode(enc, &self.work_fft, Direction::Inverse);
            enc.dispatch(&ratio.0, &ratio.1, self.workgroups);
            fft.encode(enc, &self.work_fft, Direction::Forward);
            multiply.encode(enc, &self.by_conj_p);
            fft.encode(enc, &self.work_fft, Direction::Inverse);
            enc.dispatch(&update.0, &update.1, self.workgroups);
        }
    }
}

/// The dispatch sequence a run records: fused shared-memory passes, or the Stockham FFTs
/// with the element-wise steps.
enum Engine {
    Fused(super::gpu_shared::Fused),
    /// Boxed: much larger than the fused engine.
    Stockham(Box<StockhamSteps>),
}

/// The Stockham engine's transform, product and element-wise steps.
struct StockhamSteps {
    fft: GpuFft,
    multiply: GpuMultiply,
    iterations: Iterations,
}

impl Engine {
    fn encode(&self, enc: &mut gpu::Encoder, iterations: usize) {
        match self {
            Engine::Fused(f) => f.encode(enc, iterations),
            Engine::Stockham(s) => s.iterations.encode(enc, &s.fft, &s.multiply, iterations),
        }
    }
}

struct Run<T: Float + Element> {
    problem: DeconvProblem,
    engine: Engine,
    estimate: Buffer,
    state: Buffer,
    state_reset: Buffer,
    estimate_back: Readback,
    state_back: Readback,
    /// Kept alive: bound above.
    _buffers: Vec<Buffer>,
    timer: Timer,
    host: Vec<T>,
    non_finite: Option<NonFinite>,
}

/// The buffers both engines share: image, estimate, state, params.
struct Common {
    image: Buffer,
    estimate: Buffer,
    state: Buffer,
    params: Buffer,
}

impl<T: Float + Element> Run<T>
where
    [T; 2]: Element,
{
    fn new(
        p: &DeconvProblem,
        precision: Precision,
        real_max: &str,
        stockham: bool,
    ) -> Result<Self, KernelError> {
        let ctx = gpu::context()?;
        let (r, c) = (p.rows(), p.cols());
        let len = r * c;
        let real_bytes = (len * std::mem::size_of::<T>()) as u64;
        let cast = |v: f64| T::from_f64(v).expect("finite");
        let image: Vec<T> = p.clipped_image().into_iter().map(cast).collect();
        let common = Common {
            image: ctx.storage_from("deconv image", &image)?,
            estimate: ctx.storage("deconv estimate", real_bytes)?,
            state: ctx.storage("deconv state", 16)?,
            params: ctx.uniform_from("deconv params", &[[len as u32, 0, 0, 0]])?,
        };
        let (engine, mut buffers) = match Path::plan(ctx, precision, r, c, stockham)? {
            Path::Fused | Path::FusedFourStep { .. } => {
                Self::fused(p, precision, real_max, &common)?
            }
            Path::Stockham { .. } => Self::stockham(p, precision, real_max, &common)?,
        };
        Ok(Run {
            problem: p.clone(),
            engine,
            estimate_back: ctx.readback("deconv estimate back", real_bytes)?,
            state_back: ctx.readback("deconv state back", 16)?,
            estimate: common.estimate,
            state: common.state,
            state_reset: ctx.storage_from("deconv state reset", &[1u32, u32::MAX, u32::MAX, 0])?,
            _buffers: {
                buffers.extend([common.image, common.params]);
                buffers
            },
            timer: Timer::new(ctx, 3)?,
            host: vec![T::zero(); len],
            non_finite: None,
        })
    }

    /// The fused engine and the buffers it binds beyond `common`.
    fn fused(
        p: &DeconvProblem,
        precision: Precision,
        real_max: &str,
        common: &Common,
    ) -> Result<(Engine, Vec<Buffer>), KernelError> {
        let ctx = gpu::context()?;
        let (r, c) = (p.rows(), p.cols());
        let cast = |v: f64| T::from_f64(v).expect("finite");
        let transfer: Vec<[T; 2]> = super::gpu_shared::scaled_transfer(&p.transfer(), r, c)
            .into_iter()
            .map(|z| [cast(z.re), cast(z.im)])
            .collect();
        let transfer = ctx.storage_from("deconv psf half spectrum", &transfer)?;
        let spectrum = ctx.storage(
            "deconv half spectrum",
            std::mem::size_of::<[T; 2]>() as u64 * (r * (c / 2 + 1)) as u64,
        )?;
        // The shader reads rows, cols and the half width; `len` = R·C is gpu.wgsl's.
        let params = ctx.uniform_from(
            "deconv fused params",
            &[[r, c, c / 2 + 1, 0].map(|v| v as u32)],
        )?;
        let fused = super::gpu_shared::Fused::new(
            precision,
            real_max,
            r,
            c,
            &super::gpu_shared::FusedBuffers {
                params: &params,
                image: &common.image,
                estimate: &common.estimate,
                spectrum: &spectrum,
                state: &common.state,
                transfer: &transfer,
            },
        )?;
        Ok((Engine::Fused(fused), vec![spectrum, transfer, params]))
    }

    /// The Stockham engine and the buffers it binds beyond `common`.
    fn stockham(
        p: &DeconvProblem,
        precision: Precision,
        real_max: &str,
        common: &Common,
    ) -> Result<(Engine, Vec<Buffer>), KernelError> {
        let ctx = gpu::context()?;
        let (r, c) = (p.rows(), p.cols());
        let fft = GpuFft::new(ctx, precision, Shape::Grid { rows: r, cols: c })?;
        let multiply = GpuMultiply::new(ctx, precision)?;
        let cast = |v: f64| T::from_f64(v).expect("finite");
        let spectrum: Vec<[T; 2]> = full_spectrum(&p.transfer(), r, c)
            .into_iter()
            .map(|z| [cast(z.re), cast(z.im)])
            .collect();
        let p_buf = ctx.storage_from("deconv psf spectrum", &spectrum)?;
        let work = ctx.storage("deconv work", fft.bytes())?;
        let ty = crate::gpu::fft::real_type(precision);
        let iterations = Iterations::new(
            ty,
            real_max,
            &fft,
            &multiply,
            &p_buf,
            r * c,
            &ImageBuffers {
                params: &common.params,
                image: &common.image,
                estimate: &common.estimate,
                work: &work,
                state: &common.state,
            },
        )?;
        let engine = Engine::Stockham(Box::new(StockhamSteps {
            fft,
            multiply,
            iterations,
        }));
        Ok((engine, vec![work, p_buf]))
    }
}

impl<T: Float + Element> Prepared for Run<T>
where
    [T; 2]: Element,
{
    fn run(&mut self) -> Result<(), KernelError> {
        let ctx = gpu::context()?;
        self.timer.reset();
        let mut enc = ctx.encoder("deconv", Some(&mut self.timer));
        enc.stage("compute");
        enc.copy(&self.state_reset, 0, &self.state, 0, 16);
        self.engine.encode(&mut enc, self.problem.iterations);
        enc.stage("download");
        enc.download(&self.estimate, &self.estimate_back);
        enc.download(&self.state, &self.state_back);
        enc.submit()?;
        let mut state = [0u32; 4];
        let (back, host, state_back) = (&self.estimate_back, &mut self.host, &self.state_back);
        self.timer.time("download", || {
            back.read_into(host)?;
            state_back.read_into(&mut state)
        })?;
        self.non_finite = (state[1] != u32::MAX).then(|| {
            let pixel = state[2] as usize;
            let image = self.problem.clipped_image()[pixel];
            NonFinite {
                iteration: state[1] as usize,
                row: pixel / self.problem.cols(),
                col: pixel % self.problem.cols(),
                image,
                // x/0 is inf, 0/0 NaN (the device's value is not kept).
                ratio: if image == 0.0 {
                    f64::NAN
                } else {
                    f64::INFINITY
                },
            }
        });
        match self.non_finite {
            Some(bad) => Err(bad.error()),
            None => Ok(()),
        }
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self.problem.output(super::widen(&self.host)))
    }
    fn stages(&self) -> Vec<Stage> {
        self.timer.stages()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fft2d::Fft2d;

    #[test]
    fn the_full_spectrum_is_the_complex_fft() {
        // Against a complex 2-D DFT of a real array (rustfft rows, then columns).
        let (r, c) = (4, 8);
        let x: Vec<f64> = (0..r * c).map(|i| ((i * 37) % 11) as f64 - 3.0).collect();
        let fft = Fft2d::<f64>::new(r, c);
        let mut half = vec![Complex64::default(); fft.spectrum_len()];
        fft.rfft2(&x, &mut half, &mut fft.scratch());
        let full = full_spectrum(&half, r, c);
        for k in 0..r {
            for l in 0..c {
                let mut want = Complex64::default();
                for m in 0..r {
                    for n in 0..c {
                        let a = -std::f64::consts::TAU
                            * ((k * m % r) as f64 / r as f64 + (l * n % c) as f64 / c as f64);
                        want += x[m * c + n] * Complex64::new(a.cos(), a.sin());
                    }
                }
                assert!((full[k * c + l] - want).norm() < 1e-12, "({k}, {l})");
            }
        }
    }
}

//! Richardson–Lucy on the device with fused shared-memory FFTs (used by `deconv/*/gpu-*`
//! when the sides fit the adapter's workgroup memory; otherwise they run the Stockham path
//! of `gpu.rs`). The estimate is real, so each row is packed as C/2 complex numbers and only
//! the half spectrum R × (C/2 + 1) is ever transformed: half the data of the complex path.
//! Each dispatch transforms whole rows or whole columns out of workgroup memory
//! ([`crate::gpu::fft_shared`]) and does the element-wise work of the iteration on the way:
//!
//! ```text
//! start     rows:  est = img; H = rfft(img)                      (once)
//! convolve  cols:  H = ifft_c(fft_c(H) · P)                      forward, product, inverse
//! ratio     rows:  q = img / irfft(H); H = rfft(q)
//! correlate cols:  H = ifft_c(fft_c(H) · conj P)
//! update    rows:  est = est · irfft(H); H = rfft(est)            (the next iteration's)
//! ```
//!
//! Four global-memory passes per iteration ([`GLOBAL_PASSES_PER_ITERATION`]) against
//! 4·(Stockham passes) + 4 element-wise ones on the complex path (44 at 1024²). P is
//! rfft2(k)/(R·C) from the host (f64, rounded once): the 1/(R·C) of irfft2 folded in.
//!
//! Columns of R points that do not fit workgroup memory but whose four-step factors do
//! (f64 4096² on NVIDIA's 48 KiB) run each column step in three passes instead
//! ([`super::gpu_four_step`]): eight per iteration ([`Columns::global_passes_per_iteration`]).

use std::sync::Arc;

use num_complex::Complex64;

use super::gpu_four_step::{ColumnBuffers, FourStepColumns};
use crate::error::KernelError;
use crate::gpu::fft_four_step::Split;
use crate::gpu::fft_shared::{fits, shader_prelude, twiddles};
use crate::gpu::{self, BindGroup, Binding, Buffer, Encoder, GpuContext, Pipeline};
use crate::variant::Precision;

/// Global-memory passes of one fused iteration: convolve, ratio, correlate, update.
pub const GLOBAL_PASSES_PER_ITERATION: usize = 4;

/// How the fused path runs its column steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Columns {
    /// A whole column of R points in workgroup memory: one pass per step.
    Whole,
    /// The four-step: three passes per step ([`super::gpu_four_step`]).
    FourStep(Split),
}

impl Columns {
    /// Global-memory passes of one fused iteration: the two row steps and two column steps.
    pub fn global_passes_per_iteration(&self) -> usize {
        match self {
            Columns::Whole => GLOBAL_PASSES_PER_ITERATION,
            Columns::FourStep(_) => 2 + 2 * super::gpu_four_step::PASSES_PER_COLUMN_STEP,
        }
    }
}

/// The fused path's columns for an R × C problem on this adapter, or `None` when the fused
/// path does not apply: rows of C/2 points must fit workgroup memory (C ≥ 4), columns of R
/// points fit (R ≥ 2) or split into factors that fit (powers of two).
pub fn fused_columns(
    ctx: &GpuContext,
    precision: Precision,
    rows: usize,
    cols: usize,
) -> Option<Columns> {
    if cols < 4 || rows < 2 || !fits(ctx, precision, cols / 2) {
        return None;
    }
    match fits(ctx, precision, rows) {
        true => Some(Columns::Whole),
        false => Split::plan(ctx, precision, rows).map(Columns::FourStep),
    }
}

/// Whether an R × C problem takes the fused path (on the half spectrum) on this adapter,
/// with whole or four-step columns ([`fused_columns`]).
pub fn fused_fits(ctx: &GpuContext, precision: Precision, rows: usize, cols: usize) -> bool {
    fused_columns(ctx, precision, rows, cols).is_some()
}

/// The largest array an R × C problem binds on the device, named, and its bytes: the half
/// spectrum R × (C/2 + 1) on the fused paths, the complex image R × C (twice the bytes) on
/// the Stockham one, which `fused_allowed = false` forces. Probes check this against the
/// binding limit, so a size that only the fused path can hold is not skipped for the
/// Stockham path's needs.
pub fn largest_binding(
    ctx: &GpuContext,
    precision: Precision,
    rows: usize,
    cols: usize,
    fused_allowed: bool,
) -> (&'static str, u64) {
    let complex = match precision {
        Precision::F32 => 8,
        Precision::F64 => 16,
    };
    match fused_allowed && fused_fits(ctx, precision, rows, cols) {
        true => (
            "the half spectrum",
            (rows * (cols / 2 + 1)) as u64 * complex,
        ),
        false => ("the complex image", (rows * cols) as u64 * complex),
    }
}

/// The buffers of one image, in gpu_shared.wgsl's binding order (the twiddles are the
/// plan's own).
pub(crate) struct FusedBuffers<'a> {
    pub params: &'a Buffer,
    pub image: &'a Buffer,
    pub estimate: &'a Buffer,
    pub spectrum: &'a Buffer,
    pub state: &'a Buffer,
    pub transfer: &'a Buffer,
}

/// The fused steps bound to one image's buffers.
pub(crate) struct Fused {
    /// start, ratio, update (one workgroup per row).
    steps: [(Arc<Pipeline>, BindGroup); 3],
    column_steps: ColumnSteps,
    rows: u32,
    /// Kept alive: bound above.
    _table: Buffer,
}

/// The column steps: one pass each (convolve, correlate: one workgroup per column), or
/// the four-step's three.
enum ColumnSteps {
    Whole {
        steps: [(Arc<Pipeline>, BindGroup); 2],
        half: u32,
        /// Kept alive: bound above.
        _table: Buffer,
    },
    /// Boxed: much larger than the whole-column steps.
    FourStep(Box<FourStepColumns>),
}

impl Fused {
    /// Compiles (or reuses) the row and column modules for `precision` and binds them:
    /// whole or four-step columns as [`fused_columns`] says.
    pub(crate) fn new(
        precision: Precision,
        real_max: &str,
        rows: usize,
        cols: usize,
        b: &FusedBuffers,
    ) -> Result<Fused, KernelError> {
        let ctx = gpu::context()?;
        let columns = fused_columns(ctx, precision, rows, cols).ok_or_else(|| {
            KernelError::Gpu(format!(
                "a {rows}×{cols} {precision} image does not take the fused path on {}: use \
                 the Stockham path (deconv::gpu::Path::plan chooses it)",
                ctx.summary().name
            ))
        })?;
        let n = cols / 2;
        // Row module: n = C/2 points, table e^{−2πi m/C}.
        let table = twiddles(ctx, precision, cols, n + 1)?;
        let module = Module {
            precision,
            source: module_source(precision, real_max, n, 2)?,
            len: n,
            table: &table,
        };
        let column_steps = match columns {
            Columns::Whole => whole_columns(precision, real_max, rows, cols, b)?,
            Columns::FourStep(split) => {
                let buffers = ColumnBuffers {
                    params: b.params,
                    spectrum: b.spectrum,
                    transfer: b.transfer,
                };
                let steps = FourStepColumns::new(precision, split, cols, &buffers)?;
                ColumnSteps::FourStep(Box::new(steps))
            }
        };
        Ok(Fused {
            steps: [
                module.step("start", b)?,
                module.step("ratio", b)?,
                module.step("update", b)?,
            ],
            column_steps,
            rows: rows as u32,
            _table: table,
        })
    }

    /// The column steps' plan.
    pub(crate) fn columns(&self) -> Columns {
        match &self.column_steps {
            ColumnSteps::Whole { .. } => Columns::Whole,
            ColumnSteps::FourStep(f) => Columns::FourStep(f.split()),
        }
    }

    /// The whole deconvolution: `start`, then per iteration convolve → ratio → correlate →
    /// update. The caller resets the state buffer before and downloads after.
    pub(crate) fn encode(&self, enc: &mut Encoder, iterations: usize) {
        let [start, ratio, update] = &self.steps;
        enc.dispatch(&start.0, &start.1, self.rows);
        for _ in 0..iterations {
            self.column_steps.encode(enc, false);
            enc.dispatch(&ratio.0, &ratio.1, self.rows);
            self.column_steps.encode(enc, true);
            enc.dispatch(&update.0, &update.1, self.rows);
        }
    }
}

impl ColumnSteps {
    /// Records convolve (`correlate` false: × P) or correlate (× conj P).
    fn encode(&self, enc: &mut Encoder, correlate: bool) {
        match self {
            ColumnSteps::Whole { steps, half, .. } => {
                let (pipeline, group) = &steps[usize::from(correlate)];
                enc.dispatch(pipeline, group, *half);
            }
            ColumnSteps::FourStep(f) => f.encode(enc, correlate),
        }
    }
}

/// The column module (R points, one workgroup per column): convolve and correlate.
fn whole_columns(
    precision: Precision,
    real_max: &str,
    rows: usize,
    cols: usize,
    b: &FusedBuffers,
) -> Result<ColumnSteps, KernelError> {
    let ctx = gpu::context()?;
    let table = twiddles(ctx, precision, rows, (rows / 2).max(1))?;
    let module = Module {
        precision,
        source: module_source(precision, real_max, rows, 1)?,
        len: rows,
        table: &table,
    };
    Ok(ColumnSteps::Whole {
        steps: [module.step("convolve", b)?, module.step("correlate", b)?],
        half: (cols / 2 + 1) as u32,
        _table: table,
    })
}

/// gpu_shared.wgsl for transforms of `len` points, twiddle stride `tws`.
fn module_source(
    precision: Precision,
    real_max: &str,
    len: usize,
    tws: u32,
) -> Result<String, KernelError> {
    let ctx = gpu::context()?;
    Ok(format!(
        "{}\nconst REAL_MAX: real = {real_max};\n{}",
        shader_prelude(ctx, precision, len, tws),
        include_str!("gpu_shared.wgsl")
    ))
}

/// One compiled gpu_shared.wgsl module and its twiddle table.
struct Module<'a> {
    precision: Precision,
    source: String,
    len: usize,
    table: &'a Buffer,
}

impl Module<'_> {
    /// The pipeline of `entry`, bound to `b`.
    fn step(
        &self,
        entry: &str,
        b: &FusedBuffers,
    ) -> Result<(Arc<Pipeline>, BindGroup), KernelError> {
        let ctx = gpu::context()?;
        use Binding::{ReadOnly, ReadWrite, Uniform};
        let layout = [
            Uniform, ReadOnly, ReadWrite, ReadWrite, ReadWrite, ReadOnly, ReadOnly,
        ];
        let name = format!("deconv-shared-{}-{}-{entry}", self.precision, self.len);
        let pipeline = ctx.pipeline(&name, &self.source, entry, &layout)?;
        let bind = ctx.bind(
            &pipeline,
            &[
                b.params.into(),
                b.image.into(),
                b.estimate.into(),
                b.spectrum.into(),
                b.state.into(),
                b.transfer.into(),
                self.table.into(),
            ],
        )?;
        Ok((pipeline, bind))
    }
}

/// P/(R·C) as the fused path stores it: rfft2(k)'s R × (C/2 + 1) bins, scaled.
pub(crate) fn scaled_transfer(half: &[Complex64], rows: usize, cols: usize) -> Vec<Complex64> {
    let scale = 1.0 / (rows * cols) as f64;
    half.iter().map(|z| z * scale).collect()
}

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

use std::sync::Arc;

use num_complex::Complex64;

use crate::error::KernelError;
use crate::gpu::fft_shared::{fits, shader_prelude, twiddles};
use crate::gpu::{self, BindGroup, Binding, Buffer, Encoder, GpuContext, Pipeline};
use crate::variant::Precision;

/// Global-memory passes of one fused iteration: convolve, ratio, correlate, update.
pub const GLOBAL_PASSES_PER_ITERATION: usize = 4;

/// Whether an R × C problem fits the fused path on this adapter: C/2 points per row and R
/// per column in workgroup memory (C ≥ 4 and R ≥ 2, powers of two).
pub fn fused_fits(ctx: &GpuContext, precision: Precision, rows: usize, cols: usize) -> bool {
    cols >= 4 && rows >= 2 && fits(ctx, precision, cols / 2) && fits(ctx, precision, rows)
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

/// The five fused steps bound to one image's buffers.
pub(crate) struct Fused {
    /// start, ratio, update (one workgroup per row); convolve, correlate (per column).
    steps: [(Arc<Pipeline>, BindGroup); 5],
    rows: u32,
    half: u32,
    /// Kept alive: bound above.
    _tables: [Buffer; 2],
}

impl Fused {
    /// Compiles (or reuses) the row and column modules for `precision` and binds them.
    pub(crate) fn new(
        precision: Precision,
        real_max: &str,
        rows: usize,
        cols: usize,
        b: &FusedBuffers,
    ) -> Result<Fused, KernelError> {
        let ctx = gpu::context()?;
        let n = cols / 2;
        // Row module: n = C/2 points, table e^{−2πi m/C}; column module: R points.
        let row_table = twiddles(ctx, precision, cols, n + 1)?;
        let col_table = twiddles(ctx, precision, rows, (rows / 2).max(1))?;
        let module = |len: usize, tws: u32| {
            format!(
                "{}\nconst REAL_MAX: real = {real_max};\n{}",
                shader_prelude(ctx, precision, len, tws),
                include_str!("gpu_shared.wgsl")
            )
        };
        let (row_src, col_src) = (module(n, 2), module(rows, 1));
        use Binding::{ReadOnly, ReadWrite, Uniform};
        let layout = [
            Uniform, ReadOnly, ReadWrite, ReadWrite, ReadWrite, ReadOnly, ReadOnly,
        ];
        let step = |entry: &str, row: bool| -> Result<(Arc<Pipeline>, BindGroup), KernelError> {
            let (src, len, table) = match row {
                true => (&row_src, n, &row_table),
                false => (&col_src, rows, &col_table),
            };
            let name = format!("deconv-shared-{precision}-{len}-{entry}");
            let pipeline = ctx.pipeline(&name, src, entry, &layout)?;
            let bind = ctx.bind(
                &pipeline,
                &[
                    b.params.into(),
                    b.image.into(),
                    b.estimate.into(),
                    b.spectrum.into(),
                    b.state.into(),
                    b.transfer.into(),
                    table.into(),
                ],
            )?;
            Ok((pipeline, bind))
        };
        Ok(Fused {
            steps: [
                step("start", true)?,
                step("ratio", true)?,
                step("update", true)?,
                step("convolve", false)?,
                step("correlate", false)?,
            ],
            rows: rows as u32,
            half: (n + 1) as u32,
            _tables: [row_table, col_table],
        })
    }

    /// The whole deconvolution: `start`, then per iteration convolve → ratio → correlate →
    /// update. The caller resets the state buffer before and downloads after.
    pub(crate) fn encode(&self, enc: &mut Encoder, iterations: usize) {
        let [start, ratio, update, convolve, correlate] = &self.steps;
        enc.dispatch(&start.0, &start.1, self.rows);
        for _ in 0..iterations {
            enc.dispatch(&convolve.0, &convolve.1, self.half);
            enc.dispatch(&ratio.0, &ratio.1, self.rows);
            enc.dispatch(&correlate.0, &correlate.1, self.half);
            enc.dispatch(&update.0, &update.1, self.rows);
        }
    }
}

/// P/(R·C) as the fused path stores it: rfft2(k)'s R × (C/2 + 1) bins, scaled.
pub(crate) fn scaled_transfer(half: &[Complex64], rows: usize, cols: usize) -> Vec<Complex64> {
    let scale = 1.0 / (rows * cols) as f64;
    half.iter().map(|z| z * scale).collect()
}

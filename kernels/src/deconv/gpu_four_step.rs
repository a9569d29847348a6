//! The fused deconvolution's column step (`ifft_c(fft_c(H) · P)` along the columns of the
//! half spectrum) when a column of R points does not fit workgroup memory but its
//! four-step factors R = N1·N2 do ([`crate::gpu::fft_four_step`]): f64 4096² on an NVIDIA
//! GPU's 48 KiB, f32 8192² anywhere. Three global passes instead of one:
//!
//! ```text
//! A  (fft_four_step, forward A):  N1-point transforms (stride N2 rows), × e^{−2πi j2·k1/R}
//! B  (gpu_four_step.wgsl):        N2-point forward, × P[k1 + N1·k2] (or conj P), N2-point
//!                                 inverse, × e^{+2πi k1·j2/R}
//! A' (fft_four_step, inverse A):  N1-point inverse transforms (stride N2 rows)
//! ```
//!
//! The spectrum between A and A' is in the four-step's digit-transposed order; B reads P
//! at the bin each position holds, so nothing is reordered and P stays in natural order.
//!
//! Measured on lavapipe (2 cores, `harness compare`, 5 iterations, interleaved, against
//! `gpu-stockham-*`, the path these sizes took before): f64 4096 × 256 (columns 64 × 64 at
//! the real 32 KiB limit) 0.88 [0.71–0.98]; f32 8192 × 128 (64 × 128) 0.78 [0.72–0.95].
//! Forced to tiny factors (HARNESS_GPU_MAX_WORKGROUP_STORAGE=2048, f64 256², columns
//! 16 × 16) it is slower, 1.29 [1.07–1.49]: llvmpipe pays per workgroup, and 16-point
//! sub-lines give it little work each. Not yet measured on a GPU.

use std::sync::Arc;

use crate::error::KernelError;
use crate::gpu::fft_four_step::{FourStepAxis, FourStepAxisBinding, Split, Step};
use crate::gpu::fft_shared::{shader_prelude, twiddles};
use crate::gpu::{self, BindGroup, Binding, Buffer, Encoder, Pipeline};
use crate::variant::Precision;

/// Global-memory passes of one column step (convolve or correlate).
pub const PASSES_PER_COLUMN_STEP: usize = 3;

/// The column steps of one image's fused iteration, four-step: passes A and A' on the
/// half spectrum, and pass B ([convolve, correlate]) with the product fused in.
pub(crate) struct FourStepColumns {
    axis: FourStepAxis,
    axis_binding: FourStepAxisBinding,
    middle: [(Arc<Pipeline>, BindGroup); 2],
    workgroups: u32,
    /// Kept alive: bound above (pass B's two twiddle tables).
    _tables: [Buffer; 2],
}

/// What pass B binds: the fused path's parameters, half spectrum and P/(R·C).
pub(crate) struct ColumnBuffers<'a> {
    pub params: &'a Buffer,
    pub spectrum: &'a Buffer,
    pub transfer: &'a Buffer,
}

impl FourStepColumns {
    /// Plans the column steps of an R × C problem split as `split` (R = N1·N2).
    pub(crate) fn new(
        precision: Precision,
        split: Split,
        cols: usize,
        b: &ColumnBuffers,
    ) -> Result<FourStepColumns, KernelError> {
        let ctx = gpu::context()?;
        let (rows, half) = (split.len(), cols / 2 + 1);
        let axis = FourStepAxis::new(ctx, precision, rows, [half, half, 1])?;
        let axis_binding = axis.bind(ctx, b.spectrum)?;
        let n2 = split.n2;
        let tables = [
            twiddles(ctx, precision, n2, (n2 / 2).max(1))?,
            twiddles(ctx, precision, rows, rows)?,
        ];
        let source = format!(
            "{}\nconst N1: u32 = {}u;\n{}",
            shader_prelude(ctx, precision, n2, 1),
            split.n1,
            include_str!("gpu_four_step.wgsl")
        );
        use Binding::{ReadOnly, ReadWrite, Uniform};
        let layout = [Uniform, ReadWrite, ReadOnly, ReadOnly, ReadOnly];
        let middle = |entry: &str| -> Result<(Arc<Pipeline>, BindGroup), KernelError> {
            let name = format!("deconv-four-step-{precision}-{}x{n2}-{entry}", split.n1);
            let pipeline = ctx.pipeline(&name, &source, entry, &layout)?;
            let bind = ctx.bind(
                &pipeline,
                &[
                    b.params.into(),
                    b.spectrum.into(),
                    b.transfer.into(),
                    (&tables[0]).into(),
                    (&tables[1]).into(),
                ],
            )?;
            Ok((pipeline, bind))
        };
        Ok(FourStepColumns {
            axis,
            axis_binding,
            middle: [middle("convolve")?, middle("correlate")?],
            workgroups: (half * split.n1) as u32,
            _tables: tables,
        })
    }

    /// How the columns are split.
    pub(crate) fn split(&self) -> Split {
        self.axis.split()
    }

    /// Records one column step: passes A, B (with P, or conj P for `correlate`) and A'.
    pub(crate) fn encode(&self, enc: &mut Encoder, correlate: bool) {
        let (pipeline, group) = &self.middle[usize::from(correlate)];
        self.axis
            .encode_step(enc, &self.axis_binding, Step::ForwardA);
        enc.dispatch(pipeline, group, self.workgroups);
        self.axis
            .encode_step(enc, &self.axis_binding, Step::InverseA);
    }
}

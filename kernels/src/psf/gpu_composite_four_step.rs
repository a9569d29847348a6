//! aiapy's composite (`psf = |roll(fft2(fft2(fp) · fft2(e)), N/2)| / N²`, see
//! [`super::gpu_composite`]) when a side of N points does not fit workgroup memory but its
//! four-step factors N = N1·N2 do ([`crate::gpu::fft_four_step`]): f64 4096 on an NVIDIA
//! GPU's 48 KiB and on lavapipe's 32 KiB. Rows and columns both take the four-step; ten
//! global-memory passes, against 3·(Stockham passes) + 2 (38 at 4096²):
//!
//! ```text
//! rows    z_e, z_fp: pass A, pass B                  fft_four_step forward       4
//! columns z_e, z_fp: pass A                          fft_four_step forward A     2
//! product sub-columns: pass B of both, ×, pass B'    gpu_composite_four_step.wgsl 1
//! columns z_fp: pass A'                              fft_four_step inverse A     1
//! rows    z_fp: pass B'                              fft_four_step inverse B     1
//! finish  sub-rows: pass A', |·|, roll, /N²          gpu_composite_four_step.wgsl 1
//! ```
//!
//! Both spectra leave the forward transforms in the same digit-transposed order, so the
//! product needs no reordering, and the second transform starts from that order: the
//! four-step's inverse passes read it and end in natural order. They run with the inverse
//! sign, which the finish undoes by reading indices negated: the inverse-sign transform G
//! of the product Z has G[−a][−b] = Σ Z·e^{−2πi(a·r + b·c)/N} = fft2(Z)[a][b], so bin (a, b)
//! of numpy's second forward transform is G's element ((N − a) mod N, (N − b) mod N); the
//! same magnitudes, the same rounding, and every pass but the two fused ones is
//! fft_four_step's own dispatch.
//!
//! Where it runs: on lavapipe (32 KiB) no PSF size the device composes needs it (f32 up to
//! 4096 and f64 up to 2048 fit; f64 4096² complex is 256 MiB, over lavapipe's 128 MiB
//! binding, so that composite runs on the host); on an NVIDIA GPU (48 KiB) f64 4096 takes
//! it (64 × 64). Measured on lavapipe with the limit forced
//! (HARNESS_GPU_MAX_WORKGROUP_STORAGE, `harness compare --against-bin`, the main build
//! before this path, which took Stockham; whole `gpu-windowed-*` runs, interleaved): f32
//! 4096 at 16 KiB (64 × 64) 1.28 [0.91–1.41], no difference (3 rounds; composite stage
//! about 13 s either way); f32 2048 at 8 KiB (32 × 64) 1.95 [1.94–2.04], slower (5 rounds;
//! composite stage 6.5 s against Stockham's 3.0 s); f64 2048 at 16 KiB (32 × 64) 1.83
//! [1.66–1.92], slower: llvmpipe pays per workgroup, and
//! 32-point sub-lines give each little work (deconvolution's four-step columns measured
//! the same, gpu_four_step.rs). Not yet measured on a GPU.

use std::sync::Arc;

use super::gpu_composite::{CompositeBuffers, composite_source, composite_step};
use crate::gpu::fft::Direction;
use crate::gpu::fft_four_step::{FourStepAxis, FourStepAxisBinding, Split, Step};
use crate::gpu::fft_shared::twiddles;
use crate::gpu::{BindGroup, Buffer, Encoder, GpuContext, GpuError, Pipeline};
use crate::variant::Precision;

/// Global-memory passes of the four-step composite (see the module docs' table).
pub const FOUR_STEP_PASSES: usize = 10;

/// The four-step composite bound to one run's buffers.
pub(crate) struct FourStep {
    /// Rows (point stride 1) and columns (point stride N) of the N × N grid.
    rows: FourStepAxis,
    cols: FourStepAxis,
    /// [z_e, z_fp] for each axis.
    rows_bound: [FourStepAxisBinding; 2],
    cols_bound: [FourStepAxisBinding; 2],
    /// (pipeline, bind group, workgroups): `sub_column_product`, `sub_row_finish`.
    fused: [(Arc<Pipeline>, BindGroup, u32); 2],
    /// Kept alive: bound above (the N2- and N1-point tables and the N-point steps).
    _tables: [Buffer; 3],
}

impl FourStep {
    /// Plans side `n` split as `split` and binds it to `b`; an error when the split's
    /// factors do not fit this adapter's workgroup memory.
    pub(crate) fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        split: Split,
        b: &CompositeBuffers,
    ) -> Result<FourStep, GpuError> {
        let n = split.len();
        let rows = FourStepAxis::new(ctx, precision, n, [n, 1, n])?;
        let cols = FourStepAxis::new(ctx, precision, n, [n, n, 1])?;
        let Split { n1, n2 } = split;
        let tables = [
            twiddles(ctx, precision, n2, (n2 / 2).max(1))?,
            twiddles(ctx, precision, n1, (n1 / 2).max(1))?,
            twiddles(ctx, precision, n, n)?,
        ];
        let tail = format!(
            "const N1: u32 = {n1}u;\nconst N2: u32 = {n2}u;\nconst SIDE: u32 = {n}u;\n{}",
            include_str!("gpu_composite_four_step.wgsl")
        );
        let fused = |entry: &str, len: usize, table: &Buffer, workgroups: usize| {
            let name = format!("psf-composite-four-step-{precision}-{n1}x{n2}-{entry}");
            let source = composite_source(ctx, precision, len, &tail);
            let steps = &tables[2];
            let (pipeline, bind) = composite_step(ctx, &name, &source, entry, b, table, &[steps])?;
            Ok::<_, GpuError>((pipeline, bind, workgroups as u32))
        };
        Ok(FourStep {
            rows_bound: [rows.bind(ctx, b.z_e)?, rows.bind(ctx, b.z_fp)?],
            cols_bound: [cols.bind(ctx, b.z_e)?, cols.bind(ctx, b.z_fp)?],
            rows,
            cols,
            fused: [
                fused("sub_column_product", n2, &tables[0], n * n1)?,
                fused("sub_row_finish", n1, &tables[1], n * n2)?,
            ],
            _tables: tables,
        })
    }

    /// How each side is split (the tests' view of the plan a run holds).
    #[cfg(test)]
    pub(crate) fn split(&self) -> Split {
        self.rows.split()
    }

    /// Records the ten passes: the filters' complex copies in, the PSF out.
    pub(crate) fn encode(&self, enc: &mut Encoder<'_>) {
        let ([rows_e, rows_fp], [cols_e, cols_fp]) = (&self.rows_bound, &self.cols_bound);
        let [product, finish] = &self.fused;
        self.rows.encode(enc, rows_e, Direction::Forward);
        self.rows.encode(enc, rows_fp, Direction::Forward);
        self.cols.encode_step(enc, cols_e, Step::ForwardA);
        self.cols.encode_step(enc, cols_fp, Step::ForwardA);
        enc.dispatch(&product.0, &product.1, product.2);
        self.cols.encode_step(enc, cols_fp, Step::InverseA);
        self.rows.encode_step(enc, rows_fp, Step::InverseB);
        enc.dispatch(&finish.0, &finish.1, finish.2);
    }
}

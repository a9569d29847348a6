//! aiapy's composite on the device, after the normalised filters e and fp have been copied
//! into complex arrays: `psf = |roll(fft2(fft2(fp) · fft2(e)), N/2)| / N²` (numpy's own
//! complex path), for the `psf/aia/gpu-*` variants ([`super::gpu`]).
//!
//! Three plans ([`CompositePath`]), with their global-memory passes (each reads or writes
//! whole N × N arrays once):
//!
//! ```text
//! Fused (shared memory, N fits workgroup memory)           4 passes
//!   rows    z_e  = rows(e)                                 (gpu::fft_shared, one pass)
//!   rows    z_fp = rows(fp)
//!   product z_fp = cols(cols(z_fp) · cols(z_e))            gpu_composite.wgsl `product`
//!   finish  psf  = roll |rows(z_fp)| / N²                  gpu_composite.wgsl `finish`
//! FourStep (N does not fit, its factors N1·N2 do)          10 passes
//!   the same plan on gpu::fft_four_step's two-pass sides   super::gpu_composite_four_step
//! Stockham (fallback)                                      3·(FFT passes) + 2
//!   fft2(fp), fft2(e), × (its own pass), fft2, finish
//! ```
//!
//! The product happens in the pass that ends the forward transforms (their column halves,
//! decimated in frequency so that both spectra come out in the same bit-reversed order), and
//! the same pass starts the second transform with its columns (decimation in time takes the
//! bit-reversed order back to natural): no pass of its own, and the spectra are never
//! reordered. The finish (|·|, roll, /N²) rides on the second transform's row pass.

use std::sync::Arc;

use super::gpu_composite_four_step::{FOUR_STEP_PASSES, FourStep};
use crate::gpu::fft::{Direction, FftBinding, GpuFft, GpuMultiply, MultiplyBinding, Shape};
use crate::gpu::fft_four_step::Split;
use crate::gpu::fft_shared::{SharedBinding, SharedFft, fits, shader_prelude, twiddles};
use crate::gpu::{
    self, BindGroup, Binding, Buffer, Encoder, GpuContext, GpuError, Pipeline, Slice,
};
use crate::variant::Precision;

/// Invocations per workgroup of the Stockham path's finish shader.
const WG: usize = 256;

/// Which composite an N × N grid gets, and its global-memory passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompositePath {
    /// Shared-memory transforms with the product and the finish fused in.
    Fused,
    /// The same fusions on four-step sides of `split` (N1·N2 = N).
    FourStep { split: Split },
    /// Stockham transforms of `fft_passes` passes each, a product pass and a finish pass.
    Stockham { fft_passes: usize },
}

impl CompositePath {
    /// The path for side `n` (a power of two) in `precision` on `ctx`: Fused where N
    /// fits workgroup memory, else FourStep where its factors do, else Stockham;
    /// `stockham` forces the fallback. Errors when the Stockham FFT cannot be planned.
    pub fn plan(
        ctx: &'static GpuContext,
        precision: Precision,
        n: usize,
        stockham: bool,
    ) -> Result<CompositePath, GpuError> {
        if !stockham && fits(ctx, precision, n) {
            return Ok(CompositePath::Fused);
        }
        if let Some(split) = Split::plan(ctx, precision, n).filter(|_| !stockham) {
            return Ok(CompositePath::FourStep { split });
        }
        let fft = GpuFft::new(ctx, precision, Shape::Grid { rows: n, cols: n })?;
        Ok(CompositePath::Stockham {
            fft_passes: fft.global_passes(),
        })
    }

    /// Global-memory passes of the composite (the three 2-D transforms, the product and
    /// the finish; a regression to more fails a test).
    pub fn global_passes(&self) -> usize {
        match *self {
            // Rows of e, rows of fp, product (columns), finish (rows).
            CompositePath::Fused => 4,
            CompositePath::FourStep { .. } => FOUR_STEP_PASSES,
            CompositePath::Stockham { fft_passes } => 3 * fft_passes + 2,
        }
    }
}

/// The composite's dispatches, bound to one run's buffers.
pub(crate) enum DeviceFft {
    Fused(Box<Fused>),
    FourStep(Box<FourStep>),
    Stockham(Box<Stockham>),
}

/// The buffers the composite works on: both filters as complex N × N arrays (overwritten)
/// and the N × N PSF it writes.
pub(crate) struct CompositeBuffers<'a> {
    pub z_e: &'a Buffer,
    pub z_fp: &'a Buffer,
    pub psf: &'a Buffer,
}

impl DeviceFft {
    /// Plans side `n` on `path` and binds it to `b`.
    pub(crate) fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        n: usize,
        path: CompositePath,
        b: &CompositeBuffers,
    ) -> Result<DeviceFft, GpuError> {
        Ok(match path {
            CompositePath::Fused => DeviceFft::Fused(Box::new(Fused::new(ctx, precision, n, b)?)),
            CompositePath::FourStep { split } => {
                DeviceFft::FourStep(Box::new(FourStep::new(ctx, precision, split, b)?))
            }
            CompositePath::Stockham { .. } => {
                DeviceFft::Stockham(Box::new(Stockham::new(ctx, precision, n, b)?))
            }
        })
    }

    /// The path these dispatches follow (passes counted from the plan they hold; the
    /// tests' view of what a run was built with).
    #[cfg(test)]
    pub(crate) fn path(&self) -> CompositePath {
        match self {
            DeviceFft::Fused(_) => CompositePath::Fused,
            DeviceFft::FourStep(f) => CompositePath::FourStep { split: f.split() },
            DeviceFft::Stockham(s) => CompositePath::Stockham {
                fft_passes: s.fft.global_passes(),
            },
        }
    }

    /// Records the composite: the filters' complex copies in, the PSF out.
    pub(crate) fn encode(&self, enc: &mut Encoder<'_>) {
        match self {
            DeviceFft::Fused(f) => f.encode(enc),
            DeviceFft::FourStep(f) => f.encode(enc),
            DeviceFft::Stockham(s) => s.encode(enc),
        }
    }
}

/// The fused path: shared-memory row transforms and gpu_composite.wgsl's two entries.
pub(crate) struct Fused {
    n: u32,
    rows: SharedFft,
    rows_e: SharedBinding,
    rows_fp: SharedBinding,
    /// `product` (per column), `finish` (per row).
    steps: [(Arc<Pipeline>, BindGroup); 2],
    /// Kept alive: bound above.
    _table: Buffer,
}

impl Fused {
    fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        n: usize,
        b: &CompositeBuffers,
    ) -> Result<Fused, GpuError> {
        let rows = SharedFft::new(ctx, precision, Shape::Rows { batch: n, n })?;
        let table = twiddles(ctx, precision, n, (n / 2).max(1))?;
        let source = composite_source(ctx, precision, n, "");
        let step = |entry: &str| {
            let name = format!("psf-composite-{precision}-{n}-{entry}");
            composite_step(ctx, &name, &source, entry, b, &table, &[])
        };
        Ok(Fused {
            n: n as u32,
            rows_e: rows.bind(b.z_e)?,
            rows_fp: rows.bind(b.z_fp)?,
            rows,
            steps: [step("product")?, step("finish")?],
            _table: table,
        })
    }

    fn encode(&self, enc: &mut Encoder<'_>) {
        self.rows.encode(enc, &self.rows_e, Direction::Forward);
        self.rows.encode(enc, &self.rows_fp, Direction::Forward);
        let [product, finish] = &self.steps;
        enc.dispatch(&product.0, &product.1, self.n);
        enc.dispatch(&finish.0, &finish.1, self.n);
    }
}

/// gpu_composite.wgsl compiled for `len`-point transforms (fft_shared.wgsl's prelude, N =
/// `len`), with `tail` appended (a user's constants and entry points).
pub(crate) fn composite_source(
    ctx: &GpuContext,
    precision: Precision,
    len: usize,
    tail: &str,
) -> String {
    format!(
        "{}\n{}\n{tail}",
        shader_prelude(ctx, precision, len, 1),
        include_str!("gpu_composite.wgsl")
    )
}

/// Compiles `entry` of a [`composite_source`] and binds gpu_composite.wgsl's bindings (the
/// filters' spectra, the twiddle `table`, the PSF) and `extra` read-only buffers after them
/// (bindings 4, …).
pub(crate) fn composite_step(
    ctx: &GpuContext,
    name: &str,
    source: &str,
    entry: &str,
    b: &CompositeBuffers,
    table: &Buffer,
    extra: &[&Buffer],
) -> Result<(Arc<Pipeline>, BindGroup), GpuError> {
    use Binding::{ReadOnly, ReadWrite};
    let mut layout = vec![ReadOnly, ReadWrite, ReadOnly, ReadWrite];
    layout.extend(extra.iter().map(|_| ReadOnly));
    let pipeline = ctx.pipeline(name, source, entry, &layout)?;
    let mut buffers = vec![b.z_e.into(), b.z_fp.into(), table.into(), b.psf.into()];
    buffers.extend(extra.iter().map(|&e| Slice::from(e)));
    let bind = ctx.bind(&pipeline, &buffers)?;
    Ok((pipeline, bind))
}

/// The fallback: complex Stockham 2-D transforms, the product and the finish as passes.
pub(crate) struct Stockham {
    n: usize,
    fft: GpuFft,
    fft_e: FftBinding,
    fft_fp: FftBinding,
    multiply: GpuMultiply,
    multiply_bind: MultiplyBinding,
    finish: Arc<Pipeline>,
    finish_bind: BindGroup,
    /// Kept alive: bound above.
    _params: Buffer,
}

impl Stockham {
    fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        n: usize,
        b: &CompositeBuffers,
    ) -> Result<Stockham, GpuError> {
        let fft = GpuFft::new(ctx, precision, Shape::Grid { rows: n, cols: n })?;
        let multiply = GpuMultiply::new(ctx, precision)?;
        let float = crate::gpu::fft::real_type(precision);
        let finish = ctx.pipeline(
            &format!("psf-{float}-finish"),
            &format!("{}{}", gpu::WGSL_FLAT_WORKGROUP, WGSL_FINISH).replace("F_", float),
            "finish",
            &[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite],
        )?;
        let params = ctx.uniform_from("psf finish", &[[n as u32, 0, 0, 0]])?;
        let finish_bind = ctx.bind(&finish, &[(&params).into(), b.z_fp.into(), b.psf.into()])?;
        Ok(Stockham {
            n,
            fft_e: fft.bind(b.z_e)?,
            fft_fp: fft.bind(b.z_fp)?,
            multiply_bind: multiply.bind(b.z_fp, b.z_e, false, 1.0)?,
            fft,
            multiply,
            finish,
            finish_bind,
            _params: params,
        })
    }

    fn encode(&self, enc: &mut Encoder<'_>) {
        self.fft.encode(enc, &self.fft_fp, Direction::Forward);
        self.fft.encode(enc, &self.fft_e, Direction::Forward);
        self.multiply.encode(enc, &self.multiply_bind);
        self.fft.encode(enc, &self.fft_fp, Direction::Forward);
        let groups = (self.n * self.n).div_ceil(WG) as u32;
        enc.dispatch(&self.finish, &self.finish_bind, groups);
    }
}

/// psf[i][j] = |z[(i + N/2) mod N][(j + N/2) mod N]| / N² (numpy.roll by N/2, abs, /N²).
const WGSL_FINISH: &str = "
struct Finish { n: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> fp: Finish;
@group(0) @binding(1) var<storage, read> z: array<vec2<F_>>;
@group(0) @binding(2) var<storage, read_write> out: array<F_>;

@compute @workgroup_size(256)
fn finish(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) l: u32) {
    let n = fp.n;
    let i = flat_workgroup(wid, nwg) * 256u + l;
    if (i >= n * n) { return; }
    let row = (i / n + n / 2u) % n;
    let col = (i % n + n / 2u) % n;
    let v = z[row * n + col];
    out[i] = sqrt(v.x * v.x + v.y * v.y) / (F_(n) * F_(n));
}
";

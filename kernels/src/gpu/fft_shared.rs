//! A complex FFT whose every transform runs out of workgroup memory: one workgroup loads a
//! whole row (or column) into `var<workgroup>` memory, runs all log₂ n radix-2 stages there
//! with barriers between them, and writes the result back. A 2-D transform is therefore
//! two global-memory passes (rows, then columns), where the Stockham path of
//! [`super::fft`] makes one per radix-4 stage (12 for a 4096² grid, plus a copy when the
//! count is odd). Same conventions as [`super::fft`]: unnormalised, forward e^{−2πi jk/n}.
//!
//! Size: a transform of n points needs n complex numbers of workgroup memory (n·8 bytes in
//! f32, n·16 in f64). The limit is the adapter's `max_compute_workgroup_storage_size`,
//! queried, never assumed (NVIDIA exposes 48 KiB through Vulkan: f32 up to 4096 points,
//! f64 up to 2048). [`fits`] says whether a length fits; [`Fft2d::new`] runs a side that
//! does not as a four-step ([`super::fft_four_step`], two passes) when its two factors
//! fit, and falls back to the Stockham passes beyond.
//!
//! Algorithm (fft_shared.wgsl): the row is loaded in bit-reversed order, then decimation in
//! time in place (`dit`); `dif` (natural in, bit-reversed out) lets a fused convolution do
//! forward → product → inverse without any reordering (deconvolution's column pass).
//! Real rows of 2n points are packed as n complex numbers and untangled after the
//! transform (`r2c_bin`, `c2r_bin`): [`SharedReal`]. Twiddles come from a host table
//! computed in f64 and rounded once, as in [`super::fft`].

use std::f64::consts::TAU;
use std::sync::Arc;

use super::fft::{Direction, FftBinding, GpuFft, Shape, complex_bytes, host_round_trip, real_type};
use super::fft_four_step::{FourStepBinding, FourStepFft, Split};
use super::{BindGroup, Binding, Buffer, Element, Encoder, GpuContext, GpuError, Pipeline};
use crate::variant::Precision;

/// Largest workgroup (the WebGPU default limit of invocations per workgroup).
const MAX_WORKGROUP: u32 = 256;

/// Whether an `n`-point transform fits one workgroup's memory on this adapter (n a power of
/// two ≥ 2, f64 only with SHADER_F64).
pub fn fits(ctx: &GpuContext, precision: Precision, n: usize) -> bool {
    let f64_ok = match precision {
        Precision::F32 => true,
        Precision::F64 => ctx.has_f64(),
    };
    f64_ok
        && n >= 2
        && n.is_power_of_two()
        && n as u64 * complex_bytes(precision) <= ctx.max_workgroup_storage_bytes()
}

/// The WGSL constants and library a shared-memory shader starts with: `n` points per
/// transform, twiddle table e^{−2πi·m/(tws·n)}. Users append their own entry points.
pub fn shader_prelude(ctx: &GpuContext, precision: Precision, n: usize, tws: u32) -> String {
    format!(
        "alias real = {};\nconst N: u32 = {n}u;\nconst LOG2N: u32 = {}u;\nconst WG: u32 = {}u;\n\
         const TWS: u32 = {tws}u;\n{}\n{}",
        real_type(precision),
        n.trailing_zeros(),
        workgroup_size(ctx, n),
        super::WGSL_FLAT_WORKGROUP,
        include_str!("fft_shared.wgsl")
    )
}

/// Invocations per workgroup for an `n`-point transform: on a GPU one per butterfly, at
/// most 256; on a software adapter [`SOFTWARE_WORKGROUP`]. Why: llvmpipe runs a workgroup
/// on one CPU thread, 8 invocations per SIMD vector, and switches between those vectors
/// (coroutines) at every barrier: with 128 invocations, the 2·log₂ n barriers of a 256²
/// deconvolution made the shared path 2.1× slower than Stockham; with one vector per
/// workgroup a barrier costs nothing.
pub fn workgroup_size(ctx: &GpuContext, n: usize) -> u32 {
    let most = match ctx.summary().software {
        true => SOFTWARE_WORKGROUP,
        false => MAX_WORKGROUP,
    };
    ((n / 2) as u32).clamp(1, most)
}

/// Invocations per workgroup on a software adapter: one 256-bit vector of f32 lanes.
pub const SOFTWARE_WORKGROUP: u32 = 8;

/// e^{−2πi m/len} for m < count, from f64 `sin_cos`, rounded once to `precision`.
pub fn twiddles(
    ctx: &GpuContext,
    precision: Precision,
    len: usize,
    count: usize,
) -> Result<Buffer, GpuError> {
    let w = (0..count).map(|m| {
        let (s, c) = (-TAU * m as f64 / len as f64).sin_cos();
        [c, s]
    });
    match precision {
        Precision::F32 => {
            let t: Vec<[f32; 2]> = w.map(|[c, s]| [c as f32, s as f32]).collect();
            ctx.storage_from("shared fft twiddles", &t)
        }
        Precision::F64 => ctx.storage_from("shared fft twiddles", &w.collect::<Vec<_>>()),
    }
}

/// One axis of a shared-memory transform: `count` transforms of `n` points, element j of
/// transform b at b·batch_stride + j·elem_stride.
pub(super) struct Axis {
    /// [forward, inverse].
    pipelines: [Arc<Pipeline>; 2],
    params: Buffer,
    table: Buffer,
    count: u32,
}

impl Axis {
    pub(super) fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        n: usize,
        [count, elem_stride, batch_stride]: [usize; 3],
    ) -> Result<Axis, GpuError> {
        if !fits(ctx, precision, n) {
            return Err(GpuError(format!(
                "a {n}-point {} transform does not fit {} bytes of workgroup memory on {}: \
                 use the Stockham path (gpu::fft_shared::Fft2d falls back by itself)",
                real_type(precision),
                ctx.max_workgroup_storage_bytes(),
                ctx.summary().name
            )));
        }
        let pipelines = [("fwd", "-1.0"), ("inv", "1.0")].map(|(d, sign)| {
            let source = format!(
                "{}\nconst SIGN: real = {sign};\n{}",
                shader_prelude(ctx, precision, n, 1),
                include_str!("fft_shared_c2c.wgsl")
            );
            let name = format!("fft-shared-{}-{n}-{d}", real_type(precision));
            use Binding::{ReadOnly, ReadWrite, Uniform};
            ctx.pipeline(&name, &source, "c2c", &[Uniform, ReadWrite, ReadOnly])
        });
        let [f, i] = pipelines;
        let params = [count, elem_stride, batch_stride, 0].map(|v| v as u32);
        Ok(Axis {
            pipelines: [f?, i?],
            params: ctx.uniform_from("shared fft batch", &params)?,
            table: twiddles(ctx, precision, n, (n / 2).max(1))?,
            count: count as u32,
        })
    }

    /// [forward, inverse] bind groups for `data`.
    pub(super) fn bind(&self, ctx: &GpuContext, data: &Buffer) -> Result<[BindGroup; 2], GpuError> {
        let group = |d: usize| {
            ctx.bind(
                &self.pipelines[d],
                &[(&self.params).into(), data.into(), (&self.table).into()],
            )
        };
        Ok([group(0)?, group(1)?])
    }

    /// Records this axis's one dispatch.
    pub(super) fn encode(&self, enc: &mut Encoder<'_>, groups: &[BindGroup; 2], d: Direction) {
        let d = usize::from(d == Direction::Inverse);
        enc.dispatch(&self.pipelines[d], &groups[d], self.count);
    }
}

/// A planned shared-memory FFT of [`Shape`]: one pass for rows, two for a grid.
pub struct SharedFft {
    ctx: &'static GpuContext,
    precision: Precision,
    shape: Shape,
    axes: Vec<Axis>,
}

/// [`SharedFft`]'s bind groups for one buffer: per axis, [forward, inverse].
pub struct SharedBinding {
    groups: Vec<[BindGroup; 2]>,
}

impl SharedFft {
    /// Plans `shape` in `precision`; an error when a side does not fit workgroup memory.
    pub fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        shape: Shape,
    ) -> Result<SharedFft, GpuError> {
        let bytes = shape.len() as u64 * complex_bytes(precision);
        ctx.check_binding("the FFT's data", bytes)?;
        let axes = match shape {
            Shape::Rows { batch, n } => vec![Axis::new(ctx, precision, n, [batch, 1, n])?],
            Shape::Grid { rows, cols } => vec![
                Axis::new(ctx, precision, cols, [rows, 1, cols])?,
                Axis::new(ctx, precision, rows, [cols, cols, 1])?,
            ],
        };
        Ok(SharedFft {
            ctx,
            precision,
            shape,
            axes,
        })
    }

    /// Bytes of the array this plan transforms.
    pub fn bytes(&self) -> u64 {
        self.shape.len() as u64 * complex_bytes(self.precision)
    }

    /// Global-memory passes of one transform (each reads and writes the whole array once).
    pub fn global_passes(&self) -> usize {
        self.axes.len()
    }

    /// Prepares the transform of `data` (interleaved complex, row-major, this plan's shape).
    pub fn bind(&self, data: &Buffer) -> Result<SharedBinding, GpuError> {
        if data.bytes() != self.bytes() {
            return Err(GpuError(format!(
                "shared FFT of {:?} needs {} bytes, the buffer has {}",
                self.shape,
                self.bytes(),
                data.bytes()
            )));
        }
        let groups = self.axes.iter().map(|a| a.bind(self.ctx, data));
        Ok(SharedBinding {
            groups: groups.collect::<Result<_, _>>()?,
        })
    }

    /// Records the transform of the bound buffer into `enc`, in place.
    pub fn encode(&self, enc: &mut Encoder<'_>, binding: &SharedBinding, direction: Direction) {
        for (a, groups) in self.axes.iter().zip(&binding.groups) {
            a.encode(enc, groups, direction);
        }
    }
}

/// A 2-D (or batched 1-D) FFT plan: the shared-memory path when every side fits the
/// adapter's workgroup memory; the four-step ([`super::fft_four_step`]) when every side
/// fits or splits into two factors that fit; else the Stockham passes. Same `bind` /
/// `encode` API; the four-step's forward output is in digit-transposed order
/// ([`Fft2d::stored_order`]), which its inverse reads back.
pub enum Fft2d {
    Shared(SharedFft),
    FourStep(FourStepFft),
    Stockham(GpuFft),
}

/// The bind groups of an [`Fft2d`] for one buffer.
pub enum Fft2dBinding {
    Shared(SharedBinding),
    FourStep(FourStepBinding),
    Stockham(FftBinding),
}

impl Fft2d {
    /// Plans `shape`: one dispatch per side where every side fits, the four-step where
    /// every side fits or splits, Stockham otherwise.
    pub fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        shape: Shape,
    ) -> Result<Fft2d, GpuError> {
        let sides = match shape {
            Shape::Rows { n, .. } => [n, n],
            Shape::Grid { rows, cols } => [rows, cols],
        };
        let splits = |n: usize| fits(ctx, precision, n) || Split::plan(ctx, precision, n).is_some();
        if sides.iter().all(|&n| fits(ctx, precision, n)) {
            Ok(Fft2d::Shared(SharedFft::new(ctx, precision, shape)?))
        } else if sides.iter().all(|&n| splits(n)) {
            Ok(Fft2d::FourStep(FourStepFft::new(ctx, precision, shape)?))
        } else {
            Ok(Fft2d::Stockham(GpuFft::new(ctx, precision, shape)?))
        }
    }

    /// Global-memory passes of one transform (a regression to more fails a test).
    pub fn global_passes(&self) -> usize {
        match self {
            Fft2d::Shared(f) => f.global_passes(),
            Fft2d::FourStep(f) => f.global_passes(),
            Fft2d::Stockham(f) => f.global_passes(),
        }
    }

    /// For each stored position (row-major), the row-major index of the spectrum bin the
    /// forward transform leaves there: the identity except on the four-step path.
    pub fn stored_order(&self) -> Vec<usize> {
        match self {
            Fft2d::FourStep(f) => f.stored_order(),
            Fft2d::Shared(f) => (0..f.shape.len()).collect(),
            Fft2d::Stockham(f) => (0..f.shape().len()).collect(),
        }
    }

    /// Bytes of the array this plan transforms.
    pub fn bytes(&self) -> u64 {
        match self {
            Fft2d::Shared(f) => f.bytes(),
            Fft2d::FourStep(f) => f.bytes(),
            Fft2d::Stockham(f) => f.bytes(),
        }
    }

    /// Prepares the transform of `data` (interleaved complex, row-major, this plan's shape).
    pub fn bind(&self, data: &Buffer) -> Result<Fft2dBinding, GpuError> {
        Ok(match self {
            Fft2d::Shared(f) => Fft2dBinding::Shared(f.bind(data)?),
            Fft2d::FourStep(f) => Fft2dBinding::FourStep(f.bind(data)?),
            Fft2d::Stockham(f) => Fft2dBinding::Stockham(f.bind(data)?),
        })
    }

    /// Records the transform; a binding made by another kind of plan records nothing and
    /// is a programming error caught in debug builds.
    pub fn encode(&self, enc: &mut Encoder<'_>, binding: &Fft2dBinding, direction: Direction) {
        match (self, binding) {
            (Fft2d::Shared(f), Fft2dBinding::Shared(b)) => f.encode(enc, b, direction),
            (Fft2d::FourStep(f), Fft2dBinding::FourStep(b)) => f.encode(enc, b, direction),
            (Fft2d::Stockham(f), Fft2dBinding::Stockham(b)) => f.encode(enc, b, direction),
            (Fft2d::Shared(_), Fft2dBinding::FourStep(_) | Fft2dBinding::Stockham(_))
            | (Fft2d::FourStep(_), Fft2dBinding::Shared(_) | Fft2dBinding::Stockham(_))
            | (Fft2d::Stockham(_), Fft2dBinding::Shared(_) | Fft2dBinding::FourStep(_)) => {
                debug_assert!(false, "an Fft2d binding used with another plan")
            }
        }
    }
}

impl Fft2d {
    /// Transforms host data in place, whichever the plan (allocates; for tests and one-off
    /// use): the four-step's forward output and inverse input are in
    /// [`Fft2d::stored_order`]. `T` is `[f32; 2]` or `[f64; 2]` to match the precision.
    pub fn run_host<T: Element>(
        &self,
        data: &mut [T],
        direction: Direction,
    ) -> Result<(), GpuError> {
        host_round_trip(
            super::context()?,
            "fft plan",
            &|| "FFT plan".to_string(),
            self.bytes(),
            data,
            |buffer| self.bind(buffer),
            |enc, binding| self.encode(enc, binding, direction),
        )
    }
}

impl SharedFft {
    /// Transforms host data in place (allocates; for tests and one-off use). `T` is
    /// `[f32; 2]` or `[f64; 2]` to match the precision.
    pub fn run_host<T: Element>(
        &self,
        data: &mut [T],
        direction: Direction,
    ) -> Result<(), GpuError> {
        host_round_trip(
            self.ctx,
            "shared fft",
            &|| format!("shared FFT of {:?}", self.shape),
            self.bytes(),
            data,
            |buffer| self.bind(buffer),
            |enc, binding| self.encode(enc, binding, direction),
        )
    }
}

/// Real rows of `2n` points to their `n + 1` spectrum bins and back, each row one
/// workgroup: the row is packed as n complex numbers, transformed out of workgroup memory,
/// and untangled (fft_shared.wgsl `r2c_bin`, `c2r_bin`): half the arithmetic and half the
/// memory of a complex transform. The inverse is unnormalised (2n·x), as realfft's.
pub struct SharedReal {
    ctx: &'static GpuContext,
    precision: Precision,
    rows: usize,
    n: usize,
    /// [r2c, c2r].
    pipelines: [Arc<Pipeline>; 2],
    params: Buffer,
    table: Buffer,
}

impl SharedReal {
    /// Plans `rows` real rows of `cols` points (cols a power of two ≥ 4 whose half fits).
    pub fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        rows: usize,
        cols: usize,
    ) -> Result<SharedReal, GpuError> {
        let n = cols / 2;
        if cols < 4 || !fits(ctx, precision, n) {
            return Err(GpuError(format!(
                "real rows of {cols} points: need a power of two ≥ 4 whose half fits {} bytes \
                 of workgroup memory; use the complex Stockham path",
                ctx.max_workgroup_storage_bytes()
            )));
        }
        let source = format!(
            "{}\nconst SIGN: real = -1.0;\n{}",
            shader_prelude(ctx, precision, n, 2),
            include_str!("fft_shared_c2c.wgsl")
        );
        use Binding::{ReadOnly, ReadWrite, Uniform};
        let layout = [Uniform, ReadWrite, ReadOnly, ReadWrite];
        let ty = real_type(precision);
        let pipelines = ["r2c", "c2r"]
            .map(|e| ctx.pipeline(&format!("fft-real-{ty}-{n}-{e}"), &source, e, &layout));
        let [r2c, c2r] = pipelines;
        Ok(SharedReal {
            ctx,
            precision,
            rows,
            n,
            pipelines: [r2c?, c2r?],
            params: ctx.uniform_from("shared real batch", &[rows as u32, 1, 0, 0])?,
            table: twiddles(ctx, precision, 2 * n, n + 1)?,
        })
    }

    /// r2c (`Forward`: `real` → `spectrum`) or c2r (`Inverse`: `spectrum` → `real`) on host
    /// data (allocates; for tests). `R` is f32 or f64, `C` the matching `[R; 2]`.
    pub fn run_host<R: Element, C: Element>(
        &self,
        real: &mut [R],
        spectrum: &mut [C],
        direction: Direction,
    ) -> Result<(), GpuError> {
        let width = complex_bytes(self.precision);
        let (real_bytes, spectrum_bytes) = (
            (self.rows * self.n) as u64 * width,
            (self.rows * (self.n + 1)) as u64 * width,
        );
        if std::mem::size_of_val(real) as u64 != real_bytes
            || std::mem::size_of_val(spectrum) as u64 != spectrum_bytes
        {
            return Err(GpuError(format!(
                "real FFT of {} rows × {}: needs {real_bytes} and {spectrum_bytes} bytes",
                self.rows,
                2 * self.n
            )));
        }
        let r = self.ctx.storage_from("real rows", real)?;
        let z = self.ctx.storage_from("real spectrum", spectrum)?;
        let d = match direction {
            Direction::Forward => 0,
            Direction::Inverse => 1,
        };
        let group = self.ctx.bind(
            &self.pipelines[d],
            &[
                (&self.params).into(),
                (&r).into(),
                (&self.table).into(),
                (&z).into(),
            ],
        )?;
        let mut enc = self.ctx.encoder("shared real fft", None);
        enc.dispatch(&self.pipelines[d], &group, self.rows as u32);
        enc.submit()?;
        real.copy_from_slice(&self.ctx.read::<R>(&r)?);
        spectrum.copy_from_slice(&self.ctx.read::<C>(&z)?);
        Ok(())
    }
}

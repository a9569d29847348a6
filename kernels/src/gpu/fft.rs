//! A complex-to-complex FFT in WGSL for power-of-two sizes, f32 and f64: batched 1-D along
//! rows, or 2-D (rows, then columns), forward and inverse, unnormalised like rustfft
//! (forward e^{−2πi jk/n}, inverse e^{+2πi jk/n}; inverse ∘ forward = n·identity).
//!
//! Algorithm: Stockham autosort, radix 4, with one radix-2 pass first when log₂ n is odd.
//! A pass with radix r, after sub-transforms of length p are done, runs one invocation per
//! butterfly i < n/r: with k = i mod p it reads x[i + q·n/r] (q < r), multiplies by the
//! twiddle w^{q·k} (w = e^{∓2πi/(r·p)}), does an r-point DFT, and writes the results to
//! y[(i − k)·r + k + q·p]. Reads and writes go to different buffers (data ↔ scratch), so no
//! bit-reversal pass is needed; after log_r n passes the transform is in order. Columns are
//! transformed in place with strided access (consecutive invocations take consecutive
//! columns, so memory access stays coalesced): no transpose.
//!
//! Twiddles are computed in f64 on the host (e^{−2πi m/n} from `sin_cos`) and rounded once
//! to the working precision: WGSL has no f64 trigonometry, and f32 twiddles computed on
//! the device would add their own error.
//!
//! Reuse (PSF, deconvolution): plan in `prepare` ([`GpuFft::new`], [`GpuFft::bind`] for each
//! buffer to transform), then in the timed run **encode** into one [`Encoder`] — e.g.
//! forward FFT → [`GpuMultiply`] by a stored spectrum → inverse FFT — and submit once:
//! no host round trip between the steps. [`GpuFft::run_host`] is the convenience for tests.
//!
//! Limits: every binding (data, scratch) must fit the adapter's storage-binding limit
//! (128 MiB on lavapipe: 4096² complex f32 fits, 4096² complex f64 does not); `bind` says so.

use std::f64::consts::TAU;
use std::sync::Arc;

use super::{BindGroup, Binding, Buffer, Element, Encoder, GpuContext, GpuError, Pipeline};
use crate::variant::Precision;

/// Sign of the exponent: forward e^{−2πi…}, inverse e^{+2πi…} (unnormalised).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Inverse,
}

/// What one plan transforms: `batch` rows of `n` complex numbers, each row on its own
/// (1-D), or a row-major `rows` × `cols` grid in both dimensions (2-D).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Rows { batch: usize, n: usize },
    Grid { rows: usize, cols: usize },
}

impl Shape {
    /// Complex numbers in the array.
    pub fn len(&self) -> usize {
        match *self {
            Shape::Rows { batch, n } => batch * n,
            Shape::Grid { rows, cols } => rows * cols,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Invocations per workgroup (the shaders' `@workgroup_size`).
const WORKGROUP: u32 = 64;

/// The WGSL scalar type of a precision.
pub(crate) fn real_type(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "f32",
        Precision::F64 => "f64",
    }
}

/// Bytes of one complex number.
pub(super) fn complex_bytes(precision: Precision) -> u64 {
    match precision {
        Precision::F32 => 8,
        Precision::F64 => 16,
    }
}

fn check_precision(ctx: &GpuContext, precision: Precision) -> Result<(), GpuError> {
    match precision {
        Precision::F64 if !ctx.has_f64() => Err(GpuError(format!(
            "adapter {} has no SHADER_F64: no f64 FFT",
            ctx.summary().name
        ))),
        Precision::F32 | Precision::F64 => Ok(()),
    }
}

/// One Stockham pass: its radix, its parameters (the shader's `Pass`), its invocations.
struct PassPlan {
    radix: u32,
    params: Buffer,
    invocations: u32,
    /// Which twiddle table (one per distinct transform length).
    table: usize,
}

/// A planned FFT: compiled pipelines, twiddle tables, per-pass parameters, scratch space.
pub struct GpuFft {
    ctx: &'static GpuContext,
    precision: Precision,
    shape: Shape,
    /// [forward, inverse] × [radix 2, radix 4].
    pipelines: [[Arc<Pipeline>; 2]; 2],
    passes: Vec<PassPlan>,
    tables: Vec<Buffer>,
    scratch: Buffer,
}

/// The bind groups of one plan for one data buffer (made in `prepare`).
pub struct FftBinding {
    data: Buffer,
    /// Per pass: [forward, inverse].
    groups: Vec<[BindGroup; 2]>,
}

impl GpuFft {
    /// Plans the transform of `shape` (every length a power of two) in `precision`.
    pub fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        shape: Shape,
    ) -> Result<GpuFft, GpuError> {
        check_precision(ctx, precision)?;
        // (length, batch, element stride, batch stride, batch fastest) per axis.
        let axes = match shape {
            Shape::Rows { batch, n } => vec![(n, batch, 1, n, false)],
            Shape::Grid { rows, cols } => {
                vec![(cols, rows, 1, cols, false), (rows, cols, cols, 1, true)]
            }
        };
        for &(n, ..) in &axes {
            if !n.is_power_of_two() {
                return Err(GpuError(format!("FFT length {n} is not a power of two")));
            }
        }
        if shape.len() > u32::MAX as usize {
            return Err(GpuError(format!(
                "{} elements exceed u32 indexing",
                shape.len()
            )));
        }
        let bytes = shape.len() as u64 * complex_bytes(precision);
        ctx.check_binding("the FFT's data", bytes)?;

        let pipelines = pipelines(ctx, precision)?;
        let (passes, tables) = passes(ctx, precision, axes)?;
        Ok(GpuFft {
            ctx,
            precision,
            shape,
            pipelines,
            passes,
            tables,
            scratch: ctx.storage("fft scratch", bytes)?,
        })
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }
    pub fn precision(&self) -> Precision {
        self.precision
    }
    /// Bytes of the array this plan transforms.
    pub fn bytes(&self) -> u64 {
        self.shape.len() as u64 * complex_bytes(self.precision)
    }

    /// Global-memory passes of one transform: one per radix stage, plus the copy back from
    /// the scratch when their number is odd.
    pub fn global_passes(&self) -> usize {
        self.passes.len() + self.passes.len() % 2
    }

    /// Prepares the transform of `data` (interleaved complex, row-major, this plan's shape).
    pub fn bind(&self, data: &Buffer) -> Result<FftBinding, GpuError> {
        if data.bytes() != self.bytes() {
            return Err(GpuError(format!(
                "FFT of {:?} ({}) needs {} bytes, the buffer has {}",
                self.shape,
                real_type(self.precision),
                self.bytes(),
                data.bytes()
            )));
        }
        let mut groups = Vec::with_capacity(self.passes.len());
        for (q, pass) in self.passes.iter().enumerate() {
            // Ping-pong: even passes read the data, odd passes read the scratch.
            let (src, dst) = if q % 2 == 0 {
                (data, &self.scratch)
            } else {
                (&self.scratch, data)
            };
            let table = &self.tables[pass.table];
            let radix = usize::from(pass.radix == 4);
            let group = |d: usize| {
                self.ctx.bind(
                    &self.pipelines[d][radix],
                    &[(&pass.params).into(), src.into(), dst.into(), table.into()],
                )
            };
            groups.push([group(0)?, group(1)?]);
        }
        Ok(FftBinding {
            data: data.clone(),
            groups,
        })
    }

    /// Records the transform of the bound buffer into `enc` (in place, as seen by the
    /// caller: an odd number of passes ends with a copy back from the scratch).
    pub fn encode(&self, enc: &mut Encoder<'_>, binding: &FftBinding, direction: Direction) {
        let d = match direction {
            Direction::Forward => 0,
            Direction::Inverse => 1,
        };
        for (pass, groups) in self.passes.iter().zip(&binding.groups) {
            let pipeline = &self.pipelines[d][usize::from(pass.radix == 4)];
            enc.dispatch(pipeline, &groups[d], pass.invocations.div_ceil(WORKGROUP));
        }
        if self.passes.len() % 2 == 1 {
            enc.copy(&self.scratch, 0, &binding.data, 0, self.bytes());
        }
    }

    /// Transforms host data in place: upload, transform, wait, download (allocates; for
    /// tests and one-off use). `T` is `[f32; 2]` or `[f64; 2]` to match the precision.
    pub fn run_host<T: Element>(
        &self,
        data: &mut [T],
        direction: Direction,
    ) -> Result<(), GpuError> {
        let what = || format!("FFT of {:?} ({})", self.shape, real_type(self.precision));
        host_round_trip(
            self.ctx,
            "fft",
            &what,
            self.bytes(),
            data,
            |buffer| self.bind(buffer),
            |enc, binding| self.encode(enc, binding, direction),
        )
    }
}

/// What every plan's `run_host` does: checks that `data` is `bytes` long (else says that
/// `what` needs that many), uploads it, encodes the transform, waits, and downloads the
/// result in place. `label` names the encoder, and with " data" the buffer (what
/// `HARNESS_GPU_FAULT=…:LABEL` matches).
pub(super) fn host_round_trip<T: Element, B>(
    ctx: &GpuContext,
    label: &str,
    what: &dyn Fn() -> String,
    bytes: u64,
    data: &mut [T],
    bind: impl FnOnce(&Buffer) -> Result<B, GpuError>,
    encode: impl FnOnce(&mut Encoder<'_>, &B),
) -> Result<(), GpuError> {
    let given = std::mem::size_of_val(data);
    if given as u64 != bytes {
        return Err(GpuError(format!(
            "{} needs {bytes} bytes, {given} given",
            what()
        )));
    }
    let buffer = ctx.storage_from(&format!("{label} data"), data)?;
    let binding = bind(&buffer)?;
    let mut enc = ctx.encoder(label, None);
    encode(&mut enc, &binding);
    enc.submit()?;
    data.copy_from_slice(&ctx.read::<T>(&buffer)?);
    Ok(())
}

/// e^{−2πi m/n} for m < n, from f64 `sin_cos`, rounded once to `precision`.
fn twiddle_table(ctx: &GpuContext, precision: Precision, n: usize) -> Result<Buffer, GpuError> {
    let w = (0..n).map(|m| {
        let (s, c) = (-TAU * m as f64 / n as f64).sin_cos();
        [c, s]
    });
    match precision {
        Precision::F32 => {
            let t: Vec<[f32; 2]> = w.map(|[c, s]| [c as f32, s as f32]).collect();
            ctx.storage_from("fft twiddles", &t)
        }
        Precision::F64 => ctx.storage_from("fft twiddles", &w.collect::<Vec<_>>()),
    }
}

/// Element-wise complex multiply on the device, `data[i] ← scale · data[i] · s[i]` (or
/// `conj(s[i])`): the step between a forward and an inverse FFT.
pub struct GpuMultiply {
    ctx: &'static GpuContext,
    precision: Precision,
    pipeline: Arc<Pipeline>,
}

/// A [`GpuMultiply`] bound to its buffers and parameters (made in `prepare`).
pub struct MultiplyBinding {
    group: BindGroup,
    len: u32,
    _params: Buffer,
}

impl GpuMultiply {
    pub fn new(ctx: &'static GpuContext, precision: Precision) -> Result<GpuMultiply, GpuError> {
        check_precision(ctx, precision)?;
        let ty = real_type(precision);
        let source = format!(
            "{}\nalias real = {ty};\n{}",
            super::WGSL_FLAT_WORKGROUP,
            include_str!("fft_multiply.wgsl")
        );
        let pipeline = ctx.pipeline(
            &format!("fft-multiply-{ty}"),
            &source,
            "multiply",
            &[Binding::Uniform, Binding::ReadWrite, Binding::ReadOnly],
        )?;
        Ok(GpuMultiply {
            ctx,
            precision,
            pipeline,
        })
    }

    /// Binds `data` (multiplied in place) and `spectrum` (at least as long).
    pub fn bind(
        &self,
        data: &Buffer,
        spectrum: &Buffer,
        conjugate: bool,
        scale: f64,
    ) -> Result<MultiplyBinding, GpuError> {
        let len = data.bytes() / complex_bytes(self.precision);
        if spectrum.bytes() < data.bytes() || len > u32::MAX as u64 {
            return Err(GpuError(format!(
                "multiply: data of {} bytes, spectrum of {}",
                data.bytes(),
                spectrum.bytes()
            )));
        }
        // The shader's `Multiply`: len, conjugate, then the scale as a `real` at byte 8.
        let scale_bits: [u32; 2] = match self.precision {
            Precision::F32 => [(scale as f32).to_bits(), 0],
            Precision::F64 => {
                let b = scale.to_bits();
                [b as u32, (b >> 32) as u32]
            }
        };
        let params = self.ctx.uniform_from(
            "multiply params",
            &[[len as u32, conjugate as u32, scale_bits[0], scale_bits[1]]],
        )?;
        let group = self.ctx.bind(
            &self.pipeline,
            &[(&params).into(), data.into(), spectrum.into()],
        )?;
        Ok(MultiplyBinding {
            group,
            len: len as u32,
            _params: params,
        })
    }

    pub fn encode(&self, enc: &mut Encoder<'_>, binding: &MultiplyBinding) {
        enc.dispatch(
            &self.pipeline,
            &binding.group,
            binding.len.div_ceil(WORKGROUP),
        );
    }
}

/// The four entry points of `fft.wgsl`: [forward, inverse] × [radix 2, radix 4].
fn pipelines(ctx: &GpuContext, precision: Precision) -> Result<[[Arc<Pipeline>; 2]; 2], GpuError> {
    let pipelines = [Direction::Forward, Direction::Inverse].map(|d| {
        ["radix2", "radix4"].map(|entry| {
            let sign = match d {
                Direction::Forward => "-1.0",
                Direction::Inverse => "1.0",
            };
            let ty = real_type(precision);
            let source = format!(
                "{}\nalias real = {ty};\nconst SIGN: real = {sign};\n{}",
                super::WGSL_FLAT_WORKGROUP,
                include_str!("fft.wgsl")
            );
            ctx.pipeline(
                &format!("fft-{ty}-{d:?}-{entry}"),
                &source,
                entry,
                &[
                    Binding::Uniform,
                    Binding::ReadOnly,
                    Binding::ReadWrite,
                    Binding::ReadOnly,
                ],
            )
        })
    });
    let [[f2, f4], [i2, i4]] = pipelines;
    Ok([[f2?, f4?], [i2?, i4?]])
}

/// The passes over each axis (a radix-2 pass first when log₂ n is odd, then radix 4), and
/// one twiddle table per distinct length. `axes`: (length, batch, element stride, batch
/// stride, batch fastest) per axis.
fn passes(
    ctx: &GpuContext,
    precision: Precision,
    axes: Vec<(usize, usize, usize, usize, bool)>,
) -> Result<(Vec<PassPlan>, Vec<Buffer>), GpuError> {
    let mut tables: Vec<(usize, Buffer)> = Vec::new();
    let mut passes = Vec::new();
    for (n, batch, elem_stride, batch_stride, batch_fastest) in axes {
        let table = match tables.iter().position(|(len, _)| *len == n) {
            Some(t) => t,
            None => {
                tables.push((n, twiddle_table(ctx, precision, n)?));
                tables.len() - 1
            }
        };
        let log2 = n.trailing_zeros();
        let radices = std::iter::repeat_n(2u32, (log2 % 2) as usize)
            .chain(std::iter::repeat_n(4u32, (log2 / 2) as usize));
        let mut p = 1u32;
        for radix in radices {
            let n = n as u32;
            let t = n / radix;
            let params = [
                n,
                p,
                t,
                batch as u32,
                elem_stride as u32,
                batch_stride as u32,
                batch_fastest as u32,
                n / (radix * p),
            ];
            passes.push(PassPlan {
                radix,
                params: ctx.uniform_from("fft pass", &params)?,
                invocations: t * batch as u32,
                table,
            });
            p *= radix;
        }
    }
    Ok((passes, tables.into_iter().map(|(_, b)| b).collect()))
}

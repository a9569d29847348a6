//! `psf/aia/gpu-*` — the spike sums as WGSL compute shaders (wgpu, Vulkan).
//!
//! - `gpu-f32`, `gpu-f64` — dense, what the hack week's Numba kernel tried: one invocation
//!   per pixel, looping over every spike of the filter (1200·N² exponentials).
//! - `gpu-windowed-f32`, `gpu-windowed-f64` — one invocation per pixel, looping only over
//!   the spikes whose window (radius R = √(746/w), see `windowed.rs`) touches its 16 × 16
//!   tile. The per-tile lists depend only on the geometry (channel, N, width), like an FFT
//!   plan, so they are built and uploaded in `prepare`.
//!
//! f64 shaders: WGSL/SPIR-V has no 64-bit `exp`, so the shader carries the polynomial of
//! `vectorised::exp` (Cody–Waite, Taylor to degree 13, `ldexp`, flush below e^−680), and
//! computes each offset as (col + 0.5) − cx, the CPU's arithmetic. f32 shaders: a centre
//! near 2048 carries an f32 rounding of 1e-4 px, which would move a Gaussian's value by
//! 2w·|xc|·1e-4 ≈ 1e-3 relative; the host therefore splits each centre c into ⌊c⌋ (exact in
//! f32) and 0.5 − (c − ⌊c⌋) (rounded once from f64), and the shader forms
//! (col − ⌊c⌋) + (0.5 − frac): one rounding, 6e-8 relative.
//!
//! f32 range: on small grids every spike of a filter may sit so far off the grid that each
//! term I·e^e is below f32's smallest subnormal (e.g. 335 Å at N = 32: the closest entrance
//! term is e^−408), so the sums would be 0 and the normalisation 0/0. The filter is
//! s/Σs, invariant under a common factor, so the f32 shaders add a per-filter shift to every
//! exponent that brings the largest term up to about 1 (see [`f32_shift`]); it is 0 whenever
//! the unshifted sums are comfortably normal, so ordinary grids compute exactly as before.
//!
//! Everything else runs on the device too when the grid allows, in one submission: the core
//! (a shader), the three normalising sums (a two-level tree reduction), the normalisation,
//! and aiapy's composite ([`super::gpu_composite`]): complex 2-D forward transforms of both
//! filters, the product, a second forward transform, then |·|, the roll by N/2 and /N² —
//! numpy's own complex path — in 4 global-memory passes out of workgroup memory where N
//! fits (the product and the finish fused into the transforms' passes), in 10 where only
//! its four-step factors do ([`super::gpu_composite_four_step`]), else on the Stockham
//! passes of `crate::gpu::fft`. All handle powers of two and need an N × N
//! complex array in one storage binding (4096² complex f64 is 256 MiB: more than
//! lavapipe's 128 MiB); otherwise the spike sums come back to the host, which normalises
//! and runs the CPU composite of `composite.rs`, and the stages say `(host)`.

use std::sync::Arc;

use super::composite::Composite;
use super::gpu_composite::{CompositeBuffers, CompositePath, DeviceFft};
use super::{Filter, Gaussian, PsfProblem, combine, core};
use crate::check::Output;
use crate::error::KernelError;
use crate::gpu::{self, BindGroup, Binding, Buffer, GpuContext, Pipeline, Readback, Slice, Timer};
use crate::variant::{Availability, Precision, Prepared, Stage, Variant, VariantInfo};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gpu {
    F32,
    F64,
    WindowedF32,
    WindowedF64,
}

/// Pixels per side of the square tile one spike workgroup covers.
const TILE: usize = 16;
/// Invocations per workgroup of the one-dimensional shaders (reduction, normalise, finish).
const WG: usize = 256;
/// Elements each invocation adds in the first level of the reduction.
const PER_INVOCATION: usize = 64;

impl Gpu {
    fn windowed(self) -> bool {
        matches!(self, Gpu::WindowedF32 | Gpu::WindowedF64)
    }
    fn f64(self) -> bool {
        matches!(self, Gpu::F64 | Gpu::WindowedF64)
    }
    fn elem_bytes(self) -> u64 {
        if self.f64() { 8 } else { 4 }
    }
}

const DENSE: [VariantInfo; 2] = variant_pair!(
    "gpu-f64",
    "gpu-f32",
    Gpu,
    "one GPU invocation per pixel looping over every spike (the hack week's Numba kernel); \
     normalisation and composite (WGSL FFT) on the device"
);
const WINDOWED: [VariantInfo; 2] = variant_pair!(
    "gpu-windowed-f64",
    "gpu-windowed-f32",
    Gpu,
    "one GPU invocation per pixel, only over the spikes whose window touches its tile; \
     normalisation and composite (WGSL FFT) on the device"
);

impl Variant<PsfProblem> for Gpu {
    fn info(&self) -> &VariantInfo {
        let precision = if self.f64() {
            Precision::F64
        } else {
            Precision::F32
        };
        match self {
            Gpu::F32 | Gpu::F64 => precision.pick(&DENSE),
            Gpu::WindowedF32 | Gpu::WindowedF64 => precision.pick(&WINDOWED),
        }
    }
    fn probe(&self, p: &PsfProblem) -> Availability {
        let ctx = match gpu::context() {
            Ok(c) => c,
            Err(e) => return Availability::Skipped(e.to_string()),
        };
        if self.f64() && !ctx.has_f64() {
            return Availability::Skipped(format!(
                "{} has no f64 shaders (SHADER_F64)",
                ctx.summary().name
            ));
        }
        let bytes = (p.n * p.n) as u64 * self.elem_bytes();
        match ctx.check_binding("one filter's N² spike sums", bytes) {
            Ok(()) => Availability::Ready,
            Err(e) => Availability::Skipped(e.to_string()),
        }
    }
    fn prepare(&self, p: &PsfProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Ok(Box::new(GpuRun::new(*self, p, false)?))
    }
}

/// Device buffers of one filter's spike sums.
struct FilterBuffers {
    // Kept alive: the bind group refers to them.
    _params: Buffer,
    _spikes: Buffer,
    _weights: Buffer,
    _tiles: Option<Buffer>,
    /// The spike sums; the device composite normalises them in place.
    out: Buffer,
    readback: Readback,
    bind: BindGroup,
}

/// Uploads one set of Gaussians (centres split for f32, see the module docs) with the width
/// in `weights[0]`.
fn upload_gaussians(
    ctx: &GpuContext,
    kind: Gpu,
    width: f64,
    gaussians: &[Gaussian],
) -> Result<(Buffer, Buffer), KernelError> {
    let weights: Vec<f64> = std::iter::once(width)
        .chain(gaussians.iter().map(|g| g.weight))
        .collect();
    if kind.f64() {
        let s: Vec<[f64; 4]> = gaussians.iter().map(|g| [g.cx, 0.0, g.cy, 0.0]).collect();
        Ok((
            ctx.storage_from("psf spikes", &s)?,
            ctx.storage_from("psf weights", &weights)?,
        ))
    } else {
        let split = |c: f64| {
            let whole = c.floor();
            (whole as f32, (0.5 - (c - whole)) as f32)
        };
        let s: Vec<[f32; 4]> = gaussians
            .iter()
            .map(|g| {
                let ((xi, xf), (yi, yf)) = (split(g.cx), split(g.cy));
                [xi, xf, yi, yf]
            })
            .collect();
        let w: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
        Ok((
            ctx.storage_from("psf spikes", &s)?,
            ctx.storage_from("psf weights", &w)?,
        ))
    }
}

/// Below this, the largest f32 spike term of a filter is shifted up (see the module docs):
/// with the largest term ≥ 2⁻⁶⁴, every term down to 2⁻⁴⁸ of it (far below f32's 2⁻²⁴
/// resolution of the sum) is ≥ 2⁻¹¹², a normal f32 (≥ 2⁻¹²⁶), so the unshifted sum loses
/// nothing to underflow.
const F32_SMALLEST_UNSHIFTED: f64 = 5.421010862427522e-20; // 2⁻⁶⁴

/// The f32 shaders' exponent shift for one filter: 0 when its largest term is at least
/// `F32_SMALLEST_UNSHIFTED`, else −ln of (an upper bound on) that term, so that every
/// shifted term is ≤ 1 and the largest is close to 1. The bound takes the distance from
/// each centre to the grid's box of pixel centres, which is at most the distance to the
/// nearest pixel centre.
pub fn f32_shift(p: &PsfProblem, gaussians: &[Gaussian]) -> f32 {
    let hi = p.n as f64 - 0.5;
    let largest = gaussians
        .iter()
        .map(|g| {
            let dx = g.cx.clamp(0.5, hi) - g.cx;
            let dy = g.cy.clamp(0.5, hi) - g.cy;
            g.weight.ln() - p.width * (dx * dx + dy * dy)
        })
        .fold(f64::NEG_INFINITY, f64::max);
    if largest >= F32_SMALLEST_UNSHIFTED.ln() {
        0.0
    } else {
        (-largest) as f32
    }
}

/// What follows the spike sums.
enum Rest {
    /// Core, sums, normalisation and composite on the device.
    Device(Box<DeviceComposite>),
    /// Sums back to the host: core, normalisation and the CPU composite there.
    Host(Box<Composite>),
}

struct GpuRun {
    kind: Gpu,
    problem: PsfProblem,
    pipeline: Arc<Pipeline>,
    filters: Vec<FilterBuffers>,
    workgroups: u32,
    rest: Rest,
    timer: Timer,
    entrance: Vec<f64>,
    focal_plane: Vec<f64>,
    psf: Vec<f64>,
}

impl GpuRun {
    /// Setup; `stockham` forces the composite's Stockham fallback (tests compare the two).
    fn new(kind: Gpu, p: &PsfProblem, stockham: bool) -> Result<GpuRun, KernelError> {
        let ctx = gpu::context()?;
        let n = p.n;
        let tiles_x = n.div_ceil(TILE);
        let pipeline = spike_pipeline(ctx, kind)?;
        let filters = [Filter::Entrance, Filter::FocalPlane]
            .into_iter()
            .map(|filter| FilterBuffers::new(ctx, kind, p, p.spikes(filter), &pipeline))
            .collect::<Result<Vec<_>, _>>()?;
        let rest = Rest::new(ctx, kind, p, &filters, stockham)?;
        let nn = n * n;
        Ok(GpuRun {
            kind,
            problem: p.clone(),
            pipeline,
            filters,
            workgroups: (tiles_x * tiles_x) as u32,
            rest,
            // At most five stage marks and the end of the submission.
            timer: Timer::new(ctx, 6)?,
            entrance: vec![0.0; nn],
            focal_plane: vec![0.0; nn],
            psf: vec![0.0; nn],
        })
    }
}

/// The spike-sum shader of `kind`: dense (every spike) or windowed (per-tile lists).
fn spike_pipeline(ctx: &GpuContext, kind: Gpu) -> Result<Arc<Pipeline>, KernelError> {
    let float = if kind.f64() { "f64" } else { "f32" };
    let (entry, bindings, body): (&str, &[Binding], &str) = if kind.windowed() {
        ("windowed", &WINDOWED_BINDINGS, WGSL_WINDOWED)
    } else {
        ("dense", &DENSE_BINDINGS, WGSL_DENSE)
    };
    Ok(ctx.pipeline(
        &format!("psf-{float}-{entry}"),
        &spike_shader(kind, body),
        entry,
        bindings,
    )?)
}

impl FilterBuffers {
    /// Uploads one filter's `gaussians` (and, windowed, its tile lists) and binds them with
    /// its N² output to `pipeline`.
    fn new(
        ctx: &GpuContext,
        kind: Gpu,
        p: &PsfProblem,
        gaussians: &[Gaussian],
        pipeline: &Pipeline,
    ) -> Result<FilterBuffers, KernelError> {
        let n = p.n;
        let tiles_x = n.div_ceil(TILE);
        // The exponent shift travels as the bits of an f32 in the last slot.
        let shift = if kind.f64() {
            0
        } else {
            f32_shift(p, gaussians).to_bits()
        };
        let params = ctx.uniform_from(
            "psf params",
            &[[n as u32, gaussians.len() as u32, tiles_x as u32, shift]],
        )?;
        let (spikes, weights) = upload_gaussians(ctx, kind, p.width, gaussians)?;
        let tiles = if kind.windowed() {
            Some(ctx.storage_from("psf tiles", &tile_lists(p, gaussians, tiles_x))?)
        } else {
            None
        };
        let bytes = (n * n) as u64 * kind.elem_bytes();
        let out = ctx.storage("psf spike sums", bytes)?;
        let readback = ctx.readback("psf filter", bytes)?;
        let mut slices: Vec<Slice> = vec![(&params).into(), (&spikes).into(), (&weights).into()];
        slices.extend(tiles.as_ref().map(Slice::from));
        slices.push((&out).into());
        let bind = ctx.bind(pipeline, &slices)?;
        Ok(FilterBuffers {
            _params: params,
            _spikes: spikes,
            _weights: weights,
            _tiles: tiles,
            out,
            readback,
            bind,
        })
    }
}

impl Rest {
    /// The device composite where N is a power of two whose complex N × N array fits one
    /// binding and one buffer; the host otherwise.
    fn new(
        ctx: &'static GpuContext,
        kind: Gpu,
        p: &PsfProblem,
        filters: &[FilterBuffers],
        stockham: bool,
    ) -> Result<Rest, KernelError> {
        let n = p.n;
        let complex_bytes = (n * n) as u64 * 2 * kind.elem_bytes();
        let on_device = n.is_power_of_two()
            && ctx.check_binding("the composite", complex_bytes).is_ok()
            && complex_bytes <= ctx.max_buffer_bytes();
        Ok(match on_device {
            true => Rest::Device(Box::new(DeviceComposite::new(
                ctx,
                kind,
                p,
                [&filters[0].out, &filters[1].out],
                stockham,
            )?)),
            false => Rest::Host(Box::new(Composite::new(n, true))),
        })
    }
}

/// Reads a device array of the variant's precision into an f64 host array (f32 widened on
/// the way out of the mapping).
fn read_back(kind: Gpu, from: &Readback, out: &mut [f64]) -> Result<(), KernelError> {
    if kind.f64() {
        from.read_into(out)?;
    } else {
        from.read_converted(out, |v: f32| v as f64)?;
    }
    Ok(())
}

impl Prepared for GpuRun {
    fn run(&mut self) -> Result<(), KernelError> {
        let ctx = gpu::context()?;
        self.timer.reset();
        let mut enc = ctx.encoder("psf", Some(&mut self.timer));
        enc.stage("entrance spikes");
        enc.dispatch(&self.pipeline, &self.filters[0].bind, self.workgroups);
        enc.stage("focal-plane spikes");
        enc.dispatch(&self.pipeline, &self.filters[1].bind, self.workgroups);
        if let Rest::Device(d) = &self.rest {
            d.encode(&mut enc);
        }
        enc.stage("download");
        for f in &self.filters {
            enc.download(&f.out, &f.readback);
        }
        if let Rest::Device(d) = &self.rest {
            enc.download(&d.psf, &d.psf_readback);
        }
        enc.submit()?;

        let start = std::time::Instant::now();
        let kind = self.kind;
        read_back(kind, &self.filters[0].readback, &mut self.entrance)?;
        read_back(kind, &self.filters[1].readback, &mut self.focal_plane)?;
        if let Rest::Device(d) = &self.rest {
            read_back(kind, &d.psf_readback, &mut self.psf)?;
        }
        self.timer.add("download", start.elapsed());

        if let Rest::Host(composite) = &mut self.rest {
            let start = std::time::Instant::now();
            let core = core(&self.problem);
            combine(&mut self.entrance, &core, self.problem.n, true);
            combine(&mut self.focal_plane, &core, self.problem.n, true);
            self.timer.add("normalise (host)", start.elapsed());
            let start = std::time::Instant::now();
            composite.run(&self.focal_plane, &self.entrance, &mut self.psf)?;
            self.timer.add("composite (host)", start.elapsed());
        }
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        Ok(self
            .problem
            .output(&self.psf, &self.entrance, &self.focal_plane))
    }
    fn stages(&self) -> Vec<Stage> {
        self.timer.stages()
    }
}

/// The device half after the spike sums: core, sums, normalisation, composite.
struct DeviceComposite {
    n: usize,
    core_pipeline: Arc<Pipeline>,
    core_bind: BindGroup,
    reduce: Arc<Pipeline>,
    /// Each reduction dispatch, in order.
    reductions: Dispatches,
    normalise: Arc<Pipeline>,
    normalise_binds: [BindGroup; 2],
    /// The transforms, product and finish.
    composite: DeviceFft,
    psf: Buffer,
    psf_readback: Readback,
    // Kept alive for the bind groups.
    _buffers: Vec<Buffer>,
}

impl DeviceComposite {
    /// Plans the device half on the two filters' spike sums `[s_e, s_fp]` (normalised in
    /// place); `stockham` forces the composite's fallback.
    fn new(
        ctx: &'static GpuContext,
        kind: Gpu,
        p: &PsfProblem,
        [s_e, s_fp]: [&Buffer; 2],
        stockham: bool,
    ) -> Result<DeviceComposite, KernelError> {
        let nn = p.n * p.n;
        let elem = kind.elem_bytes();
        let mut keep = Vec::new();
        let (core_pipeline, core_bind, core) = core_step(ctx, kind, p, &mut keep)?;
        let (reduce, reductions, sums) = reductions(ctx, kind, nn, [s_e, s_fp, &core], &mut keep)?;
        let complex = nn as u64 * 2 * elem;
        let z_e = ctx.storage("psf entrance spectrum", complex)?;
        let z_fp = ctx.storage("psf focal-plane spectrum", complex)?;
        let normalised = [(s_e, &z_e), (s_fp, &z_fp)];
        let (normalise, normalise_binds) =
            normalise_step(ctx, kind, nn, normalised, [&core, &sums], &mut keep)?;

        // aiapy's composite: fft2(fft2(fp)·fft2(e)), then |·|, roll, /N²: fused
        // shared-memory passes where N fits workgroup memory, the four-step where its
        // factors do, else Stockham.
        let psf = ctx.storage("psf", nn as u64 * elem)?;
        let precision = kind.info().precision;
        let path = CompositePath::plan(ctx, precision, p.n, stockham)?;
        let buffers = CompositeBuffers {
            z_e: &z_e,
            z_fp: &z_fp,
            psf: &psf,
        };
        let composite = DeviceFft::new(ctx, precision, p.n, path, &buffers)?;
        let psf_readback = ctx.readback("psf", nn as u64 * elem)?;
        keep.extend([core, sums, z_e, z_fp]);
        Ok(DeviceComposite {
            n: p.n,
            core_pipeline,
            core_bind,
            reduce,
            reductions,
            normalise,
            normalise_binds,
            composite,
            psf,
            psf_readback,
            _buffers: keep,
        })
    }

    fn encode(&self, enc: &mut gpu::Encoder<'_>) {
        let nn = self.n * self.n;
        let tiles_x = self.n.div_ceil(TILE);
        enc.stage("normalise");
        enc.dispatch(
            &self.core_pipeline,
            &self.core_bind,
            (tiles_x * tiles_x) as u32,
        );
        for (bind, groups) in &self.reductions {
            enc.dispatch(&self.reduce, bind, *groups);
        }
        for bind in &self.normalise_binds {
            enc.dispatch(&self.normalise, bind, nn.div_ceil(WG) as u32);
        }
        enc.stage("composite");
        self.composite.encode(enc);
    }
}

/// The core: one Gaussian of weight 1 at the centre, evaluated on every pixel. Returns its
/// pipeline, bind group and N² output; its inputs go to `keep`.
fn core_step(
    ctx: &GpuContext,
    kind: Gpu,
    p: &PsfProblem,
    keep: &mut Vec<Buffer>,
) -> Result<(Arc<Pipeline>, BindGroup, Buffer), KernelError> {
    let n = p.n;
    let float = if kind.f64() { "f64" } else { "f32" };
    let pipeline = ctx.pipeline(
        &format!("psf-{float}-core"),
        &spike_shader(kind, WGSL_CORE),
        "core",
        &DENSE_BINDINGS,
    )?;
    let c = p.centre();
    let centre = [Gaussian {
        cx: c,
        cy: c,
        weight: 1.0,
    }];
    let tiles_x = n.div_ceil(TILE);
    let params = ctx.uniform_from("psf core params", &[[n as u32, 1, tiles_x as u32, 0]])?;
    let (spike, weights) = upload_gaussians(ctx, kind, p.width, &centre)?;
    let core = ctx.storage("psf core", (n * n) as u64 * kind.elem_bytes())?;
    let bind = ctx.bind(
        &pipeline,
        &[
            (&params).into(),
            (&spike).into(),
            (&weights).into(),
            (&core).into(),
        ],
    )?;
    keep.extend([params, spike, weights]);
    Ok((pipeline, bind, core))
}

/// (bind group, workgroups) of each dispatch of one pipeline, in order.
type Dispatches = Vec<(BindGroup, u32)>;

/// Σs_e, Σs_fp, Σcore of the three `arrays` of `nn` elements: per array, workgroups of
/// 256 × 64 elements into partial sums, then one workgroup over the partials into
/// sums[slot]. Returns the pipeline, its (bind group, workgroups) dispatches in order and
/// the sums; the rest goes to `keep`.
fn reductions(
    ctx: &GpuContext,
    kind: Gpu,
    nn: usize,
    arrays: [&Buffer; 3],
    keep: &mut Vec<Buffer>,
) -> Result<(Arc<Pipeline>, Dispatches, Buffer), KernelError> {
    let (float, elem) = (if kind.f64() { "f64" } else { "f32" }, kind.elem_bytes());
    let reduce = ctx.pipeline(
        &format!("psf-{float}-reduce"),
        &format!("{}{}", gpu::WGSL_FLAT_WORKGROUP, WGSL_REDUCE).replace("F_", float),
        "reduce",
        &[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite],
    )?;
    let groups = nn.div_ceil(WG * PER_INVOCATION);
    let partials = ctx.storage("psf partial sums", groups as u64 * elem)?;
    let sums = ctx.storage("psf sums", 4 * elem)?;
    let mut dispatches = Vec::new();
    for (slot, array) in arrays.into_iter().enumerate() {
        let first = ctx.uniform_from(
            "psf reduce",
            &[[nn as u32, PER_INVOCATION as u32, 0, groups as u32]],
        )?;
        let into_partials = [(&first).into(), array.into(), (&partials).into()];
        dispatches.push((ctx.bind(&reduce, &into_partials)?, groups as u32));
        let second = ctx.uniform_from(
            "psf reduce",
            &[[groups as u32, groups.div_ceil(WG) as u32, slot as u32, 1]],
        )?;
        let into_sums = [(&second).into(), (&partials).into(), (&sums).into()];
        dispatches.push((ctx.bind(&reduce, &into_sums)?, 1));
        keep.extend([first, second]);
    }
    keep.push(partials);
    Ok((reduce, dispatches, sums))
}

/// The normalisation of each (spike sums, complex copy) pair of `filters`, in place, plus
/// the complex copy the FFT transforms, from `[core, sums]`. Returns the pipeline and its
/// two bind groups; the parameters go to `keep`.
fn normalise_step(
    ctx: &GpuContext,
    kind: Gpu,
    nn: usize,
    filters: [(&Buffer, &Buffer); 2],
    [core, sums]: [&Buffer; 2],
    keep: &mut Vec<Buffer>,
) -> Result<(Arc<Pipeline>, [BindGroup; 2]), KernelError> {
    let float = if kind.f64() { "f64" } else { "f32" };
    let normalise = ctx.pipeline(
        &format!("psf-{float}-normalise"),
        &normalise_shader(kind),
        "normalise",
        &[
            Binding::Uniform,
            Binding::ReadWrite,
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
        ],
    )?;
    let mut bind = |slot: usize| -> Result<BindGroup, KernelError> {
        let (s, z) = filters[slot];
        let params = ctx.uniform_from("psf normalise", &[[nn as u32, slot as u32, 0, 0]])?;
        let slices = [
            (&params).into(),
            s.into(),
            core.into(),
            sums.into(),
            z.into(),
        ];
        let b = ctx.bind(&normalise, &slices)?;
        keep.push(params);
        Ok(b)
    };
    let binds = [bind(0)?, bind(1)?];
    Ok((normalise, binds))
}

const DENSE_BINDINGS: [Binding; 4] = [
    Binding::Uniform,
    Binding::ReadOnly,
    Binding::ReadOnly,
    Binding::ReadWrite,
];
const WINDOWED_BINDINGS: [Binding; 5] = [
    Binding::Uniform,
    Binding::ReadOnly,
    Binding::ReadOnly,
    Binding::ReadOnly,
    Binding::ReadWrite,
];

/// Per 16 × 16 tile, the spikes whose window touches it, in spike order (so that each pixel
/// sums its terms in naive's order). Layout: `tiles + 1` offsets into this same array, then
/// the spike indices.
fn tile_lists(p: &PsfProblem, gaussians: &[Gaussian], tiles_x: usize) -> Vec<u32> {
    let count = tiles_x * tiles_x;
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); count];
    for (s, g) in gaussians.iter().enumerate() {
        if let Some((r0, r1, c0, c1)) = p.window(g) {
            for ty in r0 / TILE..=r1 / TILE {
                for tx in c0 / TILE..=c1 / TILE {
                    lists[ty * tiles_x + tx].push(s as u32);
                }
            }
        }
    }
    let mut out = Vec::with_capacity(count + 1 + lists.iter().map(Vec::len).sum::<usize>());
    let mut offset = (count + 1) as u32;
    for l in &lists {
        out.push(offset);
        offset += l.len() as u32;
    }
    out.push(offset);
    for l in lists {
        out.extend(l);
    }
    out
}

/// A spike-type shader (spikes, core): the shared declarations over the float type `F_`,
/// the precision's offset and exponential, and `body`.
fn spike_shader(kind: Gpu, body: &str) -> String {
    let helpers = if kind.f64() { WGSL_F64 } else { WGSL_F32 };
    let float = if kind.f64() { "f64" } else { "f32" };
    format!("{}{helpers}{WGSL_COMMON}{body}", gpu::WGSL_FLAT_WORKGROUP).replace("F_", float)
}

/// The normalisation with aiapy's constants written in the shader's precision.
fn normalise_shader(kind: Gpu) -> String {
    let (float, a, b) = if kind.f64() {
        ("f64", "0.18000000000000005lf", "0.82lf")
    } else {
        ("f32", "0.18", "0.82")
    };
    format!("{}{}", gpu::WGSL_FLAT_WORKGROUP, WGSL_NORMALISE)
        .replace("F_", float)
        .replace("AREA_MESH", a)
        .replace("AREA_NOT_MESH", b)
}

const WGSL_COMMON: &str = "
// shift: the bits of the f32 exponent shift (f32 shaders; see `f32_shift`).
struct Params { n: u32, count: u32, tiles_x: u32, shift: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// Spike s: (x part 1, x part 2, y part 1, y part 2) of its centre, see `centred`.
@group(0) @binding(1) var<storage, read> spikes: array<vec4<F_>>;
// weights[0] = w; weights[1 + s] = I_s.
@group(0) @binding(2) var<storage, read> weights: array<F_>;

fn term(s: u32, col: u32, row: u32, w: F_) -> F_ {
    let g = spikes[s];
    let xc = centred(col, g.x, g.y);
    let yc = centred(row, g.z, g.w);
    // aiapy's association: ((-w)*xc)*xc - (w*yc)*yc, then the shift (0 unless needed).
    return expo(-w * xc * xc - w * yc * yc + shift()) * weights[s + 1u];
}

// The pixel (col, row) of this invocation: workgroups are 16 x 16 tiles, row-major.
fn pixel(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> vec2<u32> {
    let tile = flat_workgroup(wid, nwg);
    return vec2<u32>((tile % params.tiles_x) * 16u + lid.x, (tile / params.tiles_x) * 16u + lid.y);
}
";

const WGSL_DENSE: &str = "
@group(0) @binding(3) var<storage, read_write> out: array<F_>;

@compute @workgroup_size(16, 16)
fn dense(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_id) lid: vec3<u32>) {
    let at = pixel(wid, nwg, lid);
    if (at.x >= params.n || at.y >= params.n) { return; }
    let w = weights[0];
    var acc = F_(0);
    for (var s = 0u; s < params.count; s++) {
        acc += term(s, at.x, at.y, w);
    }
    out[at.y * params.n + at.x] = acc;
}
";

const WGSL_CORE: &str = "
@group(0) @binding(3) var<storage, read_write> out: array<F_>;

@compute @workgroup_size(16, 16)
fn core(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let at = pixel(wid, nwg, lid);
    if (at.x >= params.n || at.y >= params.n) { return; }
    let w = weights[0];
    let g = spikes[0];
    let xc = centred(at.x, g.x, g.y);
    let yc = centred(at.y, g.z, g.w);
    // aiapy's association for the core: -w*(xc**2) - w*(yc**2).
    out[at.y * params.n + at.x] = expo(-w * (xc * xc) - w * (yc * yc));
}
";

const WGSL_WINDOWED: &str = "
// tiles[t] .. tiles[t + 1]: where tile t's spike indices sit in this same array.
@group(0) @binding(3) var<storage, read> tiles: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<F_>;

@compute @workgroup_size(16, 16)
fn windowed(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_id) lid: vec3<u32>) {
    let tile = flat_workgroup(wid, nwg);
    if (tile >= params.tiles_x * params.tiles_x) { return; }
    let at = pixel(wid, nwg, lid);
    if (at.x >= params.n || at.y >= params.n) { return; }
    let w = weights[0];
    var acc = F_(0);
    for (var k = tiles[tile]; k < tiles[tile + 1u]; k++) {
        acc += term(tiles[k], at.x, at.y, w);
    }
    out[at.y * params.n + at.x] = acc;
}
";

/// Tree reduction: workgroup g adds `per` strided runs of 256 elements from g·256·per, then
/// halves in workgroup memory; `out[at + g]` receives its sum.
const WGSL_REDUCE: &str = "
struct Reduce { len: u32, per: u32, at: u32, groups: u32 }
@group(0) @binding(0) var<uniform> rp: Reduce;
@group(0) @binding(1) var<storage, read> input: array<F_>;
@group(0) @binding(2) var<storage, read_write> output: array<F_>;
var<workgroup> partial: array<F_, 256>;

@compute @workgroup_size(256)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) l: u32) {
    let g = flat_workgroup(wid, nwg);
    // Uniform per workgroup: the grid may hold a few more workgroups than asked.
    if (g >= rp.groups) { return; }
    var acc = F_(0);
    for (var k = 0u; k < rp.per; k++) {
        let i = (g * rp.per + k) * 256u + l;
        if (i < rp.len) { acc += input[i]; }
    }
    partial[l] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (l < s) { partial[l] += partial[l + s]; }
        workgroupBarrier();
    }
    if (l == 0u) { output[rp.at + g] = partial[0]; }
}
";

/// filter = (1 − 0.82)·s/Σs + 0.82·core/Σcore, in place, plus its complex copy.
const WGSL_NORMALISE: &str = "
struct Normalise { len: u32, slot: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> np: Normalise;
@group(0) @binding(1) var<storage, read_write> s: array<F_>;
@group(0) @binding(2) var<storage, read> core: array<F_>;
// Σs_e, Σs_fp, Σcore.
@group(0) @binding(3) var<storage, read> sums: array<F_>;
@group(0) @binding(4) var<storage, read_write> z: array<vec2<F_>>;

@compute @workgroup_size(256)
fn normalise(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) l: u32) {
    let i = flat_workgroup(wid, nwg) * 256u + l;
    if (i >= np.len) { return; }
    let f = AREA_MESH * s[i] / sums[np.slot] + AREA_NOT_MESH * core[i] / sums[2];
    s[i] = f;
    z[i] = vec2<F_>(f, F_(0));
}
";

/// f32: the centre arrives as (⌊c⌋, 0.5 − frac(c)); the built-in exp.
const WGSL_F32: &str = "
fn centred(i: u32, whole: f32, rest: f32) -> f32 {
    return (f32(i) - whole) + rest;
}
fn expo(x: f32) -> f32 {
    return exp(x);
}
fn shift() -> f32 {
    return bitcast<f32>(params.shift);
}
";

/// f64: the CPU's arithmetic for the offset, and `vectorised::exp` (no f64 exp in SPIR-V).
const WGSL_F64: &str = "
fn centred(i: u32, c: f64, unused: f64) -> f64 {
    return (f64(i) + 0.5lf) - c;
}
// f64 needs no shift: the problem refuses grids where every f64 term underflows.
fn shift() -> f64 {
    return 0.0lf;
}
fn expo(x_in: f64) -> f64 {
    let x = max(x_in, -680.0lf);
    let k = round(x * 1.4426950408889634lf);
    var r = fma(-k, 6.93147180369123816490e-1lf, x);
    r = fma(-k, 1.90821492927058770002e-10lf, r);
    var p = 1.0lf / 6227020800.0lf;
    p = fma(p, r, 1.0lf / 479001600.0lf);
    p = fma(p, r, 1.0lf / 39916800.0lf);
    p = fma(p, r, 1.0lf / 3628800.0lf);
    p = fma(p, r, 1.0lf / 362880.0lf);
    p = fma(p, r, 1.0lf / 40320.0lf);
    p = fma(p, r, 1.0lf / 5040.0lf);
    p = fma(p, r, 1.0lf / 720.0lf);
    p = fma(p, r, 1.0lf / 120.0lf);
    p = fma(p, r, 1.0lf / 24.0lf);
    p = fma(p, r, 1.0lf / 6.0lf);
    p = fma(p, r, 0.5lf);
    p = fma(p, r, 1.0lf);
    p = fma(p, r, 1.0lf);
    return select(ldexp(p, i32(k)), 0.0lf, x_in < -680.0lf);
}
";

#[cfg(test)]
mod tests {
    use super::*;

    /// The GPU context, or None (reason printed) where there is none and CI does not
    /// require one.
    fn context() -> Option<&'static GpuContext> {
        match gpu::context() {
            Ok(c) => Some(c),
            Err(e) if crate::gate::Policy::from_env().is_ok_and(|p| p.require_gpu) => {
                panic!("HARNESS_REQUIRE_GPU=1 but {e}")
            }
            Err(e) => {
                eprintln!("skipped: {e}");
                None
            }
        }
    }

    fn relative_rms(got: &[f64], want: &[f64]) -> f64 {
        let err: f64 = got.iter().zip(want).map(|(a, b)| (a - b) * (a - b)).sum();
        (err / want.iter().map(|b| b * b).sum::<f64>()).sqrt()
    }

    /// Both device composites (fused, Stockham) against the CPU composite (f64,
    /// composite.rs) of the very filters the device normalised, read back with the PSF.
    /// Bound: each 2-D FFT of N² points has relative RMS error ≤ 7·log₂(N²)·u (Higham,
    /// Thm 24.2, as tests/gpu_fft_shared.rs); the product carries the first two, the third
    /// adds its own: 3 × that, plus one rounding for the product.
    #[test]
    fn device_composite_matches_the_cpu_composite_on_both_paths() {
        let Some(ctx) = context() else { return };
        let n = 64;
        let p = PsfProblem::new(171, n, false).unwrap();
        let kinds: &[(Gpu, f64)] = match ctx.has_f64() {
            true => &[
                (Gpu::WindowedF32, 2f64.powi(-24)),
                (Gpu::WindowedF64, 2f64.powi(-53)),
            ],
            false => &[(Gpu::WindowedF32, 2f64.powi(-24))],
        };
        for &(kind, u) in kinds {
            let bound = (3.0 * 7.0 * (2.0 * n.ilog2() as f64) + 1.0) * u;
            for (stockham, want_path) in [
                (false, CompositePath::Fused),
                (true, CompositePath::Stockham { fft_passes: 6 }),
            ] {
                let mut run = GpuRun::new(kind, &p, stockham).unwrap();
                let Rest::Device(d) = &run.rest else {
                    panic!("{n}² must compose on the device")
                };
                assert_eq!(d.composite.path(), want_path, "{kind:?}");
                run.run().unwrap();
                let mut want = vec![0.0; n * n];
                Composite::new(n, false)
                    .run(&run.focal_plane, &run.entrance, &mut want)
                    .unwrap();
                let err = relative_rms(&run.psf, &want);
                eprintln!("{kind:?} {want_path:?}: {err:.2e} (bound {bound:.1e})");
                assert!(err <= bound, "{kind:?} {want_path:?}: {err:e} > {bound:e}");
            }
        }
    }

    #[test]
    fn f32_shift_is_zero_unless_the_terms_leave_f32s_range() {
        let p = PsfProblem::new(171, 64, false).unwrap();
        for filter in [Filter::Entrance, Filter::FocalPlane] {
            assert_eq!(f32_shift(&p, p.spikes(filter)), 0.0);
        }
        // 335 Å at N = 32: the closest entrance spike term is e^−408 (times its weight).
        let p = PsfProblem::new(335, 32, false).unwrap();
        assert_eq!(f32_shift(&p, p.spikes(Filter::FocalPlane)), 0.0);
        let shift = f32_shift(&p, p.spikes(Filter::Entrance)) as f64;
        assert!((400.0..420.0).contains(&shift), "{shift}");
        // Every shifted term is at most 1, and the largest is not far below.
        let largest = p
            .entrance
            .iter()
            .flat_map(|g| {
                (0..p.n).flat_map(move |i| {
                    (0..p.n).map(move |j| {
                        let (xc, yc) = (j as f64 + 0.5 - g.cx, i as f64 + 0.5 - g.cy);
                        (crate::psf::spike_exponent(p.width, xc, yc) + shift).exp() * g.weight
                    })
                })
            })
            .fold(0.0, f64::max);
        assert!((1e-3..=1.0).contains(&largest), "{largest}");
    }

    #[test]
    fn tile_lists_cover_every_window_in_order() {
        let p = PsfProblem::new(171, 64, false).unwrap();
        let t = tile_lists(&p, &p.entrance, 4);
        assert_eq!(t[0] as usize, 17);
        assert_eq!(t[16] as usize, t.len());
        for tile in 0..16 {
            let list = &t[t[tile] as usize..t[tile + 1] as usize];
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "spike order in tile {tile}"
            );
        }
        // The central tiles hold the low orders of all four arms.
        let centre = &t[t[5] as usize..t[6] as usize];
        assert!(!centre.is_empty());
    }
}

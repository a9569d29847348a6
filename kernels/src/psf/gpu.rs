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
//! Only the spike sums run on the device. The normalisation by the core and the composite
//! FFT run on the host (the composite with the parallel CPU FFT of `composite.rs`) until
//! the shared WGSL FFT lands in `crate::gpu`; the stages say so (`download`, then host
//! `core + normalise` and `composite`).

use std::sync::Arc;

use super::composite::Composite;
use super::{Filter, PsfProblem, combine, core};
use crate::check::Output;
use crate::error::KernelError;
use crate::gpu::{self, BindGroup, Binding, Buffer, Pipeline, Readback, Timer};
use crate::variant::{Availability, Precision, Prepared, Stage, Strategy, Variant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gpu {
    F32,
    F64,
    WindowedF32,
    WindowedF64,
}

/// Pixels per side of the square tile one workgroup covers.
const TILE: usize = 16;

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

impl Variant<PsfProblem> for Gpu {
    fn name(&self) -> &'static str {
        match self {
            Gpu::F32 => "gpu-f32",
            Gpu::F64 => "gpu-f64",
            Gpu::WindowedF32 => "gpu-windowed-f32",
            Gpu::WindowedF64 => "gpu-windowed-f64",
        }
    }
    fn strategy(&self) -> Strategy {
        Strategy::Gpu
    }
    fn precision(&self) -> Precision {
        if self.f64() {
            Precision::F64
        } else {
            Precision::F32
        }
    }
    fn idea(&self) -> &'static str {
        match self {
            Gpu::F32 | Gpu::F64 => {
                "one GPU invocation per pixel looping over every spike (the hack week's \
                 Numba kernel); normalisation and composite FFT on the CPU until the \
                 shared WGSL FFT lands"
            }
            Gpu::WindowedF32 | Gpu::WindowedF64 => {
                "one GPU invocation per pixel, only over the spikes whose window touches \
                 its tile; normalisation and composite FFT on the CPU until the shared \
                 WGSL FFT lands"
            }
        }
    }
    fn file(&self) -> &'static str {
        file!()
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
        Ok(Box::new(GpuRun::new(*self, p)?))
    }
}

/// Device buffers of one filter.
struct FilterBuffers {
    // Kept alive: the bind group refers to them.
    _params: Buffer,
    _spikes: Buffer,
    _weights: Buffer,
    _tiles: Option<Buffer>,
    out: Buffer,
    readback: Readback,
    bind: BindGroup,
}

struct GpuRun {
    kind: Gpu,
    problem: PsfProblem,
    pipeline: Arc<Pipeline>,
    filters: Vec<FilterBuffers>,
    workgroups: u32,
    timer: Timer,
    host32: Vec<f32>,
    entrance: Vec<f64>,
    focal_plane: Vec<f64>,
    /// Holds the core until the composite writes the PSF (as in `Buffers`).
    psf: Vec<f64>,
    composite: Composite,
}

impl GpuRun {
    fn new(kind: Gpu, p: &PsfProblem) -> Result<GpuRun, KernelError> {
        let ctx = gpu::context()?;
        let n = p.n;
        let tiles_x = n.div_ceil(TILE);
        let source = shader(kind);
        let (entry, bindings): (&str, &[Binding]) = if kind.windowed() {
            (
                "windowed",
                &[
                    Binding::Uniform,
                    Binding::ReadOnly,
                    Binding::ReadOnly,
                    Binding::ReadOnly,
                    Binding::ReadWrite,
                ],
            )
        } else {
            (
                "dense",
                &[
                    Binding::Uniform,
                    Binding::ReadOnly,
                    Binding::ReadOnly,
                    Binding::ReadWrite,
                ],
            )
        };
        let pipeline = ctx.pipeline(&format!("psf/{}", kind.name()), &source, entry, bindings)?;
        let bytes = (n * n) as u64 * kind.elem_bytes();
        let mut filters = Vec::new();
        for filter in [Filter::Entrance, Filter::FocalPlane] {
            let gaussians = p.spikes(filter);
            let params = ctx.uniform_from(
                "psf params",
                &[n as u32, gaussians.len() as u32, tiles_x as u32, 0],
            )?;
            // weights[0] is the width w; weights[1 + s] is spike s's weight.
            let weights: Vec<f64> = std::iter::once(p.width)
                .chain(gaussians.iter().map(|g| g.weight))
                .collect();
            let (spikes, weights) = if kind.f64() {
                let s: Vec<[f64; 4]> = gaussians.iter().map(|g| [g.cx, 0.0, g.cy, 0.0]).collect();
                (
                    ctx.storage_from("psf spikes", &s)?,
                    ctx.storage_from("psf weights", &weights)?,
                )
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
                (
                    ctx.storage_from("psf spikes", &s)?,
                    ctx.storage_from("psf weights", &w)?,
                )
            };
            let tiles = if kind.windowed() {
                Some(ctx.storage_from("psf tiles", &tile_lists(p, gaussians, tiles_x))?)
            } else {
                None
            };
            let out = ctx.storage("psf spike sums", bytes)?;
            let readback = ctx.readback("psf spike sums", bytes)?;
            let bind = match &tiles {
                Some(t) => ctx.bind(
                    &pipeline,
                    &[
                        (&params).into(),
                        (&spikes).into(),
                        (&weights).into(),
                        t.into(),
                        (&out).into(),
                    ],
                )?,
                None => ctx.bind(
                    &pipeline,
                    &[
                        (&params).into(),
                        (&spikes).into(),
                        (&weights).into(),
                        (&out).into(),
                    ],
                )?,
            };
            filters.push(FilterBuffers {
                _params: params,
                _spikes: spikes,
                _weights: weights,
                _tiles: tiles,
                out,
                readback,
                bind,
            });
        }
        let nn = n * n;
        Ok(GpuRun {
            kind,
            problem: p.clone(),
            pipeline,
            filters,
            workgroups: (tiles_x * tiles_x) as u32,
            // Three stage marks and the end of the submission.
            timer: Timer::new(ctx, 4)?,
            host32: if kind.f64() {
                Vec::new()
            } else {
                vec![0.0; nn]
            },
            entrance: vec![0.0; nn],
            focal_plane: vec![0.0; nn],
            psf: vec![0.0; nn],
            composite: Composite::new(n, true),
        })
    }

    fn read(&mut self, filter: usize) -> Result<(), KernelError> {
        let GpuRun {
            kind,
            filters,
            host32,
            entrance,
            focal_plane,
            ..
        } = self;
        let out = if filter == 0 { entrance } else { focal_plane };
        if kind.f64() {
            filters[filter].readback.read_into(out)?;
        } else {
            filters[filter].readback.read_into(host32)?;
            out.iter_mut()
                .zip(host32.iter())
                .for_each(|(o, &v)| *o = v as f64);
        }
        Ok(())
    }
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
        enc.stage("download");
        for f in &self.filters {
            enc.download(&f.out, &f.readback);
        }
        enc.submit()?;
        let start = std::time::Instant::now();
        self.read(0)?;
        self.read(1)?;
        self.timer.add("download", start.elapsed());
        let start = std::time::Instant::now();
        let core_sum = core(&self.problem, &mut self.psf);
        combine(&mut self.entrance, &self.psf, core_sum, true);
        combine(&mut self.focal_plane, &self.psf, core_sum, true);
        self.timer.add("core + normalise (host)", start.elapsed());
        let start = std::time::Instant::now();
        self.composite
            .run(&self.focal_plane, &self.entrance, &mut self.psf)?;
        self.timer.add("composite (host)", start.elapsed());
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

/// Per 16 × 16 tile, the spikes whose window touches it, in spike order (so that each pixel
/// sums its terms in naive's order). Layout: `tiles + 1` offsets into this same array, then
/// the spike indices.
fn tile_lists(p: &PsfProblem, gaussians: &[super::Gaussian], tiles_x: usize) -> Vec<u32> {
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

/// The WGSL source of a variant: a shared body over the float type `F`, with the
/// precision's offset and exponential.
fn shader(kind: Gpu) -> String {
    let (float, helpers) = if kind.f64() {
        ("f64", WGSL_F64)
    } else {
        ("f32", WGSL_F32)
    };
    let body = if kind.windowed() {
        WGSL_WINDOWED
    } else {
        WGSL_DENSE
    };
    format!("{}{helpers}{}{body}", gpu::WGSL_FLAT_WORKGROUP, WGSL_COMMON).replace("F_", float)
}

const WGSL_COMMON: &str = "
struct Params { n: u32, count: u32, tiles_x: u32, pad: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// Spike s: (x part 1, x part 2, y part 1, y part 2) of its centre, see `centred`.
@group(0) @binding(1) var<storage, read> spikes: array<vec4<F_>>;
// weights[0] = w; weights[1 + s] = I_s.
@group(0) @binding(2) var<storage, read> weights: array<F_>;

fn term(s: u32, col: u32, row: u32, w: F_) -> F_ {
    let g = spikes[s];
    let xc = centred(col, g.x, g.y);
    let yc = centred(row, g.z, g.w);
    // aiapy's association: ((-w)*xc)*xc - (w*yc)*yc.
    return expo(-w * xc * xc - w * yc * yc) * weights[s + 1u];
}
";

const WGSL_DENSE: &str = "
@group(0) @binding(3) var<storage, read_write> out: array<F_>;

@compute @workgroup_size(16, 16)
fn dense(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_id) lid: vec3<u32>) {
    let tile = flat_workgroup(wid, nwg);
    let col = (tile % params.tiles_x) * 16u + lid.x;
    let row = (tile / params.tiles_x) * 16u + lid.y;
    if (col >= params.n || row >= params.n) { return; }
    let w = weights[0];
    var acc = F_(0);
    for (var s = 0u; s < params.count; s++) {
        acc += term(s, col, row, w);
    }
    out[row * params.n + col] = acc;
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
    let col = (tile % params.tiles_x) * 16u + lid.x;
    let row = (tile / params.tiles_x) * 16u + lid.y;
    if (col >= params.n || row >= params.n) { return; }
    let w = weights[0];
    var acc = F_(0);
    for (var k = tiles[tile]; k < tiles[tile + 1u]; k++) {
        acc += term(tiles[k], col, row, w);
    }
    out[row * params.n + col] = acc;
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
";

/// f64: the CPU's arithmetic for the offset, and `vectorised::exp` (no f64 exp in SPIR-V).
const WGSL_F64: &str = "
fn centred(i: u32, c: f64, unused: f64) -> f64 {
    return (f64(i) + 0.5lf) - c;
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

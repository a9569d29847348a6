//! `lm/*/gpu-f32`, `lm/*/gpu-f64` — WGSL, one invocation per fit (Gpufit's design).
//!
//! Each invocation runs the whole loop of `naive` for its fit with the analytic Jacobian of
//! `model.rs`, written again in WGSL (`gpu.wgsl` plus a per-case preamble built here, its
//! loops over parameters written out term by term; `gpu.wgsl` says where the arrays live
//! and why). f32 is what
//! Gpufit computes in; f64 runs where the adapter has SHADER_F64. WGSL's `exp` is f32 only
//! (SPIR-V's GLSL.std.450 Exp has no 64-bit form), so the f64 shader carries its own
//! (Cody–Waite reduction and a degree-13 Taylor polynomial, ≲ 2 ulp).
//!
//! The timed run includes what a pipeline pays per image: staging and uploading the data
//! and initial guesses, the fits, and downloading the results (stages `upload`, `compute`,
//! `download`), as Gpufit's benchmark does. Fits are split into chunks that fit one storage
//! binding (128 MiB on lavapipe), one dispatch per chunk.

use super::{AnyModel, Fits, LmProblem};
use crate::check::Output;
use crate::error::KernelError;
use crate::gpu::{
    self, BindGroup, Binding, Buffer, Element, GpuContext, Pipeline, Readback, Staging, Timer,
};
use crate::variant::{Availability, Prepared, Stage, Variant, VariantInfo};

pub enum Gpu {
    F32,
    F64,
}

const INFO: [VariantInfo; 2] = variant_pair!(
    "gpu-f64",
    "gpu-f32",
    Gpu,
    "one GPU invocation per fit, the whole LM loop in private memory (Gpufit's design)"
);

impl Variant<LmProblem> for Gpu {
    fn info(&self) -> &VariantInfo {
        match self {
            Gpu::F64 => &INFO[0],
            Gpu::F32 => &INFO[1],
        }
    }
    fn probe(&self, p: &LmProblem) -> Availability {
        let c = match gpu::context() {
            Ok(c) => c,
            Err(e) => return Availability::Skipped(e.to_string()),
        };
        let elem = match self {
            Gpu::F64 if !c.has_f64() => {
                return Availability::Skipped(format!(
                    "{} has no f64 shaders (SHADER_F64)",
                    c.summary().name
                ));
            }
            Gpu::F64 => 8,
            Gpu::F32 => 4,
        };
        if c.summary().software && loop_iterations(p) > LAVAPIPE_LOOP_LIMIT {
            return Availability::Skipped(format!(
                "{} stops a shader invocation after {LAVAPIPE_LOOP_LIMIT} loop iterations; \
                 {} iterations per fit need up to {} (lower --max_iterations)",
                c.summary().name,
                p.max_iterations,
                loop_iterations(p)
            ));
        }
        match memory_fits(c, p, elem) {
            Ok(()) => Availability::Ready,
            Err(e) => Availability::Skipped(e.to_string()),
        }
    }
    fn prepare(&self, p: &LmProblem) -> Result<Box<dyn Prepared>, KernelError> {
        let ctx = gpu::context()?;
        match self {
            Gpu::F32 => Ok(Box::new(Run::<f32>::new(ctx, p)?)),
            Gpu::F64 => Ok(Box::new(Run::<f64>::new(ctx, p)?)),
        }
    }
}

/// The shader's number type.
trait Real: Element + Default + Send {
    const WGSL: &'static str;
    /// `fn expr(x: R) -> R`, e^x in this precision.
    const EXP: &'static str;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Real for f32 {
    const WGSL: &'static str = "f32";
    const EXP: &'static str = "fn expr(x: f32) -> f32 { return exp(x); }";
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    const WGSL: &'static str = "f64";
    const EXP: &'static str = "
// e^x = 2^k·e^r, k = round(x/ln 2), r = x − k·ln 2 in two parts (Cody–Waite: k·LN2_HI is
// exact), e^r by Horner on its Taylor series to r¹³/13! (|r| ≤ ln2/2: truncation < 2e-17).
fn expr(x: f64) -> f64 {
    let xc = clamp(x, f64(-708.0), f64(709.0));
    let k = round(xc * f64(1.4426950408889634));
    let r = (xc - k * f64(0.693145751953125)) - k * f64(1.42860682030941723212e-6);
    var s = f64(1.0);
    s = f64(1.0) + r * s / f64(13.0);
    s = f64(1.0) + r * s / f64(12.0);
    s = f64(1.0) + r * s / f64(11.0);
    s = f64(1.0) + r * s / f64(10.0);
    s = f64(1.0) + r * s / f64(9.0);
    s = f64(1.0) + r * s / f64(8.0);
    s = f64(1.0) + r * s / f64(7.0);
    s = f64(1.0) + r * s / f64(6.0);
    s = f64(1.0) + r * s / f64(5.0);
    s = f64(1.0) + r * s / f64(4.0);
    s = f64(1.0) + r * s / f64(3.0);
    s = f64(1.0) + r * s / f64(2.0);
    s = f64(1.0) + r * s;
    return ldexp(s, i32(k));
}";
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// lavapipe (Mesa's software Vulkan driver) ends a shader invocation after 65 535 loop
/// iterations in all; beyond that it silently skips the rest of every loop.
const LAVAPIPE_LOOP_LIMIT: usize = 65_535;

/// Loop iterations one invocation of the shader makes at most (`gpu.wgsl`): per pass the
/// points and the gradient's copy on accepting (N + P); per step the step loop itself and
/// the solve's loops over rows and columns (1 + 3P + P(P−1)/2); the scaling's
/// initialisation (P).
fn loop_iterations(p: &LmProblem) -> usize {
    let (n, k, m) = (p.points, p.n_params, p.max_iterations);
    k + (m + 1) * (n + k) + m * (1 + 3 * k + k * (k - 1) / 2)
}

/// Scratch elements per fit: three P×P matrices and four P-vectors (see `gpu.wgsl`).
fn scratch(k: usize) -> usize {
    3 * k * k + 4 * k
}

/// The case's part of the shader (see `gpu.wgsl`): sizes, the model, and the functions
/// whose loops over parameters are written out, one statement per term.
fn preamble<R: Real>(p: &LmProblem) -> String {
    let k = p.n_params;
    let mut s = format!(
        "alias R = {r};\nconst P: u32 = {k}u;\nconst N: u32 = {n}u;\nconst PP: u32 = {pp}u;\nconst PT: u32 = {pt}u;\n{exp}\n{flat}\n",
        r = R::WGSL,
        n = p.points,
        pp = k * k,
        pt = k * (k + 1) / 2,
        exp = R::EXP,
        flat = gpu::WGSL_FLAT_WORKGROUP,
    );
    s += &model(p);
    let mut f = |signature: &str, body: String| {
        s += &format!("fn {signature} {{\n{body}}}\n");
    };
    let lines = |line: &dyn Fn(usize) -> String| (0..k).map(line).collect::<String>();
    f(
        "load(fit: u32)",
        lines(&|i| format!("    trial[{i}] = init[fit * P + {i}u];\n")),
    );
    f(
        "store(fit: u32)",
        lines(&|i| format!("    out_params[fit * P + {i}u] = p[{i}];\n")),
    );
    f(
        "step()",
        lines(&|i| format!("    trial[{i}] = p[{i}] + work[ix(DELTA + {i}u)];\n")),
    );
    // accumulate: a point's √w-scaled terms into the pass's sums (private, constant
    // indices: registers); save: the sums into the trial point's scratch.
    let mut body = lines(&|i| format!("    let j{i} = jac[{i}] * sw;\n"));
    let mut save = String::new();
    let mut t = 0;
    for i in 0..k {
        body += &format!("    gt[{i}] += j{i} * r;\n");
        save += &format!("    work[ix(GT + {i}u)] = gt[{i}];\n");
        for j in i..k {
            body += &format!("    ht[{t}] += j{i} * j{j};\n");
            save += &format!("    work[ix(HT + {}u)] = ht[{t}];\n", i * k + j);
            t += 1;
        }
    }
    f("accumulate(r: R, sw: R)", body);
    f("save()", save);
    // The sums over q of the LDLᵀ solve, each term behind a guard (the bound is the row or
    // column the loop is at), so that they need no loop.
    let sum = |guard: &str, term: &dyn Fn(usize) -> String| {
        let mut b = String::from("    var s = R(0);\n");
        for q in 0..k {
            b += &format!("    if ({q}u {guard}) {{ s += {}; }}\n", term(q));
        }
        b + "    return s;\n"
    };
    let a = |row: &str, col: &str| format!("work[ix(A + {row} * P + {col})]");
    let d = |q: usize| format!("work[ix(A + {}u)]", q * k + q);
    f(
        "dot_d(j: u32) -> R",
        sum("< j", &|q| {
            let l = a("j", &format!("{q}u"));
            format!("{l} * {l} * {}", d(q))
        }),
    );
    f(
        "dot_l(i: u32, j: u32) -> R",
        sum("< j", &|q| {
            let c = format!("{q}u");
            format!("{} * {} * {}", a("i", &c), a("j", &c), d(q))
        }),
    );
    f(
        "dot_forward(i: u32) -> R",
        sum("< i", &|q| {
            format!("{} * work[ix(DELTA + {q}u)]", a("i", &format!("{q}u")))
        }),
    );
    f(
        "dot_back(i: u32) -> R",
        sum("> i", &|q| {
            format!("{} * work[ix(DELTA + {q}u)]", a(&format!("{q}u"), "i"))
        }),
    );
    s
}

/// `fn model(k)`: the model of `model.rs` in WGSL, one block per dip.
fn model(p: &LmProblem) -> String {
    match &p.model {
        AnyModel::Gauss2d(_) => format!(
            "
fn model(k: u32) -> R {{
    let dx = R(k % {side}u) - trial[1];
    let dy = R(k / {side}u) - trial[2];
    let inv_s2 = R(1) / (trial[3] * trial[3]);
    let r2 = dx * dx + dy * dy;
    let e = expr(-(r2 * inv_s2) * R(0.5));
    let ae = trial[0] * e * inv_s2;
    jac[0] = e;
    jac[1] = ae * dx;
    jac[2] = ae * dy;
    jac[3] = ae * r2 / trial[3];
    jac[4] = R(1);
    return trial[0] * e + trial[4];
}}
",
            side = super::model::GAUSS_SIDE
        ),
        AnyModel::Lorentzians(m) => {
            let mut s = String::from(
                "
fn model(k: u32) -> R {
    let nu = consts[3u + k];
    var f = trial[0];
    jac[0] = R(1);
",
            );
            if m.slope {
                s += "    f += trial[1] * (nu - consts[2]);\n    jac[1] = nu - consts[2];\n";
            }
            for d in 0..m.dips {
                // L = h²/(Δ² + h²), h = fwhm/2, Δ = ν − pos (see model.rs for the derivatives).
                let i = m.first_dip() + 3 * d;
                s += &format!(
                    "    {{
        let half = R(0.5) * trial[{i}];
        let h2 = half * half;
        let dx = nu - trial[{pos}];
        let inv = R(1) / (dx * dx + h2);
        let l = h2 * inv;
        f -= trial[{amp}] * l;
        jac[{i}] = -(trial[{amp}] * half * (dx * inv) * (dx * inv));
        jac[{pos}] = -(R(2) * trial[{amp}] * l * dx * inv);
        jac[{amp}] = -l;
    }}
",
                    pos = i + 1,
                    amp = i + 2
                );
            }
            s + "    return f;\n}\n"
        }
    }
}

/// Whether the buffers fit this device: the smallest chunk (64 fits) in one binding, and
/// the largest whole array (the data of every fit) in one buffer.
fn memory_fits(ctx: &GpuContext, p: &LmProblem, elem: usize) -> Result<(), gpu::GpuError> {
    let per_fit = (p.points.max(scratch(p.n_params)) * elem) as u64;
    ctx.check_binding("one chunk of 64 fits (data or scratch)", 64 * per_fit)?;
    let largest = p.points.max(p.n_params).max(3);
    ctx.check_buffer("the data of every fit", (p.fits * largest * elem) as u64)
}

/// Fits per chunk: as many as one storage binding holds of the largest per-fit array (the
/// data or the scratch), a multiple of 64 so that every chunk's byte offsets meet the
/// binding alignment.
fn chunk_fits(ctx: &GpuContext, p: &LmProblem, elem: usize) -> usize {
    let per_fit = (p.points.max(scratch(p.n_params)) * elem) as u64;
    let fits = (ctx.max_binding_bytes() / per_fit) as usize / 64 * 64;
    fits.clamp(64, p.fits.next_multiple_of(64))
}

struct Chunk {
    bind: BindGroup,
    fits: usize,
    // Kept alive for the bind group.
    _config: Buffer,
}

struct Run<R: Real> {
    problem: LmProblem,
    pipeline: std::sync::Arc<Pipeline>,
    chunks: Vec<Chunk>,
    /// Inputs in the shader's precision (converted once, in setup).
    host_y: Vec<R>,
    host_init: Vec<R>,
    stage_y: Staging,
    stage_init: Staging,
    y: Buffer,
    init: Buffer,
    out_params: Buffer,
    out_info: Buffer,
    _consts: Buffer,
    _work: Buffer,
    read_params: Readback,
    read_info: Readback,
    params: Vec<R>,
    info: Vec<R>,
    timer: Timer,
}

impl<R: Real> Run<R> {
    fn new(ctx: &'static GpuContext, p: &LmProblem) -> Result<Self, KernelError> {
        let elem = std::mem::size_of::<R>();
        let wgsl = format!("{}{}", preamble::<R>(p), include_str!("gpu.wgsl"));
        let name = format!("lm-{}-{}", p.kind.name(), R::WGSL);
        let pipeline = ctx.pipeline(
            &name,
            &wgsl,
            "main",
            &[
                Binding::Uniform,
                Binding::ReadOnly,
                Binding::ReadOnly,
                Binding::ReadOnly,
                Binding::ReadWrite,
                Binding::ReadWrite,
                Binding::ReadWrite,
            ],
        )?;
        let mut consts = vec![p.tolerance, p.weight, 0.0];
        if let AnyModel::Lorentzians(m) = &p.model {
            consts[2] = m.centre;
            consts.extend(&m.freqs);
        }
        let consts: Vec<R> = consts.into_iter().map(R::from_f64).collect();
        let host_y: Vec<R> = p.y.iter().map(|&v| R::from_f64(v)).collect();
        let host_init: Vec<R> = p.init.iter().map(|&v| R::from_f64(v)).collect();
        let bytes = |values: usize| (values * elem) as u64;
        let (fits, n, k) = (p.fits, p.points, p.n_params);
        let consts = ctx.storage_from("lm consts", &consts)?;
        let y = ctx.storage("lm y", bytes(fits * n))?;
        let init = ctx.storage("lm init", bytes(fits * k))?;
        let out_params = ctx.storage("lm params", bytes(fits * k))?;
        let out_info = ctx.storage("lm info", bytes(fits * 3))?;
        let per_chunk = chunk_fits(ctx, p, elem);
        let work = ctx.storage("lm scratch", bytes(per_chunk.min(fits) * scratch(k)))?;
        let mut chunks = Vec::new();
        for first in (0..fits).step_by(per_chunk) {
            let count = per_chunk.min(fits - first);
            let config = ctx.uniform_from(
                "lm config",
                &[[count as u32, p.max_iterations as u32, 0, 0]],
            )?;
            let range = |per_fit: usize| bytes(first * per_fit)..bytes((first + count) * per_fit);
            let bind = ctx.bind(
                &pipeline,
                &[
                    (&config).into(),
                    (&consts).into(),
                    y.slice(range(n)),
                    init.slice(range(k)),
                    out_params.slice(range(k)),
                    out_info.slice(range(3)),
                    work.slice(0..bytes(count * scratch(k))),
                ],
            )?;
            chunks.push(Chunk {
                bind,
                fits: count,
                _config: config,
            });
        }
        Ok(Run {
            stage_y: ctx.staging("lm y staging", bytes(fits * n))?,
            stage_init: ctx.staging("lm init staging", bytes(fits * k))?,
            read_params: ctx.readback("lm params readback", bytes(fits * k))?,
            read_info: ctx.readback("lm info readback", bytes(fits * 3))?,
            params: vec![R::default(); fits * k],
            info: vec![R::default(); fits * 3],
            timer: Timer::new(ctx, 4)?,
            problem: p.clone(),
            pipeline,
            chunks,
            host_y,
            host_init,
            y,
            init,
            out_params,
            out_info,
            _consts: consts,
            _work: work,
        })
    }
}

impl<R: Real> Prepared for Run<R> {
    fn run(&mut self) -> Result<(), KernelError> {
        let ctx = gpu::context()?;
        self.timer.reset();
        let (y, init) = (&self.host_y, &self.host_init);
        let (sy, si) = (&self.stage_y, &self.stage_init);
        self.timer.time("upload", || -> Result<(), gpu::GpuError> {
            sy.write(y)?;
            si.write(init)
        })?;
        let mut enc = ctx.encoder("lm", Some(&mut self.timer));
        enc.stage("upload");
        enc.upload(&self.stage_y, &self.y);
        enc.upload(&self.stage_init, &self.init);
        enc.stage("compute");
        for c in &self.chunks {
            enc.dispatch(&self.pipeline, &c.bind, c.fits.div_ceil(64) as u32);
        }
        enc.stage("download");
        enc.download(&self.out_params, &self.read_params);
        enc.download(&self.out_info, &self.read_info);
        enc.submit()?;
        let (rp, ri) = (&self.read_params, &self.read_info);
        let (params, info) = (&mut self.params, &mut self.info);
        self.timer
            .time("download", || -> Result<(), gpu::GpuError> {
                rp.read_into(params)?;
                ri.read_into(info)
            })?;
        Ok(())
    }

    fn output(&self) -> Result<Output, KernelError> {
        let p = &self.problem;
        let mut fits = Fits::new(p.fits, p.n_params);
        for (o, v) in fits.params.iter_mut().zip(&self.params) {
            *o = v.to_f64();
        }
        for i in 0..p.fits {
            fits.chi2[i] = self.info[3 * i].to_f64();
            fits.iterations[i] = self.info[3 * i + 1].to_f64();
            fits.state[i] = self.info[3 * i + 2].to_f64();
        }
        Ok(fits.output())
    }

    fn stages(&self) -> Vec<Stage> {
        self.timer.stages()
    }
}

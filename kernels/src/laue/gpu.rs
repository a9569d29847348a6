//! `laue/*/gpu-f32`, `laue/*/gpu-f64` — a wgpu compute shader (WGSL), one invocation per
//! output point (h_i, k_j), each looping over the crystal's cells as the formula reads.
//!
//! The idea it teaches: the GPU runs the naive algorithm, massively parallel — but its
//! arithmetic must be prepared so that f32 keeps its accuracy and f64 works at all.
//!
//! **f32** (`gpu_f32.wgsl`). A phase h·x of up to (|H|+|K|+1)·N turns (~600 at N = 128)
//! keeps only ~2⁻¹⁴ turn of accuracy in f32: useless. Only the phase modulo one turn
//! matters, so the host computes, in f64, per cell c and axis, the fractional turns
//! frac(h₀·x_c) and frac(δ_h·x_c) (numpy's arange is h_i = h₀ + i·δ_h), and stores them as
//! 32-bit fixed point (turns·2³²). The shader forms
//! `A + i·D + B + j·E` in wrapping u32 arithmetic — exactly the phase modulo one turn, up to
//! the rounding of A, D, B, E — takes the quadrant from the top two bits (exact), converts
//! the remainder (≤ 1/8 turn) to f32 radians, and evaluates sin/cos with its own minimax
//! polynomials on [−π/4, π/4] (WGSL only promises 2⁻¹¹ absolute for the built-in sin/cos).
//! Terms are summed in blocks of B ≈ √C cells, then the blocks.
//!
//! Error bound, relative to the peak C² (C cells, M = len(h) = len(k) outputs per axis):
//! - phase: fixed-point rounding of A, B (2⁻³³ turn each) and of D, E times i, j < M:
//!   ≤ M·2⁻³² turn; f32 conversion of the remainder and the constant 2π/2³²: ≤ 2·2⁻²⁴·π/4 rad;
//!   the polynomials: ≤ ~1.5·2⁻²⁴. Per term, at M = 384: ≤ 5.6e-7 + 1e-7 + 1e-7 ≈ 8e-7.
//!   (numpy's rounded h_i differ from h₀ + i·δ by ≤ ½ ulp(h_i)·|x| ≈ 1e-14 turn: nothing.)
//! - blocked summation of C unit terms: ≤ (B + C/B)·2⁻²⁴·C = 2√C·2⁻²⁴·C ≈ 1.5e-5·C at
//!   N = 128 (C ≤ 16 384), instead of C·2⁻²⁴·C ≈ 1e-3·C for one running sum;
//! - so |ΔS| ≤ 1.6e-5·C and |ΔI| ≤ 2|S||ΔS| + |ΔS|² ≤ 3.3e-5·C² (plus 2⁻²³ of I for the
//!   final f32 square): within the f32 tolerance 1e-4 at N = 128 with a factor 3 to spare.
//!   The summation term dominates and grows like 4·N·2⁻²⁴ ≈ 2.4e-7·N: beyond N ≈ 400 the
//!   bound no longer guarantees 1e-4 (typical errors, √C·2⁻²⁴, stay far below).
//!
//! **f64** (`gpu_f64.wgsl`). WGSL has no f64 sin or cos. The shader computes the naive
//! variant's phase t = h·x + k·y turns in f64, reduces it exactly (t − round(t), then the
//! nearest quarter turn: both subtractions are exact by Sterbenz's lemma), and evaluates
//! fdlibm's f64 sin/cos polynomials on [−π/4, π/4] (≤ ~2 ulp). Its per-term error is that of
//! the naive variant: the rounding of t (≈ 1e-13 rad at N = 128), which the f64 tolerance
//! allows for; blocked summation keeps the sum's rounding ≤ 2√C·2⁻⁵³ ≈ 3e-14 of the peak.
//!
//! Setup (`prepare`): compile the pipeline, upload cells and axes, allocate the output and
//! the readback memory. The timed run: dispatch, copy to host-readable memory, wait,
//! download; `stages()` gives compute and download from device timestamps (plus the host's
//! copy out of mapped memory).

use std::sync::Arc;

use super::LaueProblem;
use crate::check::Output;
use crate::error::KernelError;
use crate::gpu::{self, BindGroup, Binding, Buffer, Pipeline, Readback, Timer};
use crate::variant::{Availability, Prepared, Stage, Variant, VariantInfo};

pub enum Gpu {
    F32,
    F64,
}

/// Invocations per workgroup (the shaders' `@workgroup_size`).
const WORKGROUP: u32 = 64;

/// Time per (h, k, cell) term on lavapipe (llvmpipe, 2 cores, f32 and f64 alike): 18.4 s
/// for the 1.9e9 terms of the strained crystal at N = 128, measured on a busy machine.
const SOFTWARE_SECONDS_PER_TERM: f64 = 10e-9;

impl Gpu {
    fn shader(&self) -> (&'static str, String, &'static [Binding]) {
        use Binding::{ReadOnly, ReadWrite, Uniform};
        match self {
            Gpu::F32 => (
                "laue-f32",
                format!(
                    "{}{}",
                    gpu::WGSL_FLAT_WORKGROUP,
                    include_str!("gpu_f32.wgsl")
                ),
                &[Uniform, ReadOnly, ReadWrite],
            ),
            Gpu::F64 => (
                "laue-f64",
                format!(
                    "{}{}",
                    gpu::WGSL_FLAT_WORKGROUP,
                    include_str!("gpu_f64.wgsl")
                ),
                &[Uniform, ReadOnly, ReadOnly, ReadOnly, ReadWrite],
            ),
        }
    }

    fn element_bytes(&self) -> u64 {
        match self {
            Gpu::F32 => 4,
            Gpu::F64 => 8,
        }
    }

    /// Why this problem cannot run on this device, if it cannot.
    fn unavailable(&self, p: &LaueProblem) -> Option<String> {
        let ctx = match gpu::context() {
            Ok(c) => c,
            Err(e) => return Some(e.to_string()),
        };
        if matches!(self, Gpu::F64) && !ctx.has_f64() {
            return Some(format!("adapter {} has no SHADER_F64", ctx.summary().name));
        }
        let [nh, nk] = p.shape();
        let cells = p.cells().len() as u64;
        let outputs = (nh * nk) as u64;
        if outputs > u32::MAX as u64 {
            return Some(format!(
                "{outputs} output points exceed the shader's u32 index"
            ));
        }
        if let Err(e) = ctx
            .check_binding("the output", outputs * self.element_bytes())
            .and_then(|()| ctx.check_binding("the cells", cells * 16))
        {
            return Some(e.to_string());
        }
        // A software adapter runs the shader on the CPU: like the naive loops, skip sizes
        // that would take minutes (N = 128 takes ~19 s on lavapipe here, 2 cores).
        if ctx.summary().software {
            let estimate = (outputs * cells) as f64 * SOFTWARE_SECONDS_PER_TERM;
            let limit = match crate::naive_time_limit_s() {
                Ok(limit) => limit,
                Err(e) => return Some(e.to_string()),
            };
            if estimate > limit {
                return Some(format!(
                    "estimated {estimate:.0} s on the software adapter {} at n = {} (limit {limit:.0} s, \
                     HARNESS_NAIVE_LIMIT_S)",
                    ctx.summary().name,
                    p.n
                ));
            }
        }
        None
    }
}

const F32: VariantInfo = variant!(
    "gpu-f32",
    Gpu,
    F32,
    "one GPU invocation per output point; phases as 32-bit fixed-point turns (exact modulo one \
     turn) keep f32 accurate"
);
const F64: VariantInfo = variant!(
    "gpu-f64",
    Gpu,
    F64,
    "one GPU invocation per output point; exact f64 range reduction and a polynomial sincos \
     (WGSL has no f64 sin/cos)"
);

impl Variant<LaueProblem> for Gpu {
    fn info(&self) -> &VariantInfo {
        match self {
            Gpu::F32 => &F32,
            Gpu::F64 => &F64,
        }
    }
    fn probe(&self, p: &LaueProblem) -> Availability {
        match self.unavailable(p) {
            Some(why) => Availability::Skipped(why),
            None => Availability::Ready,
        }
    }
    fn prepare(&self, p: &LaueProblem) -> Result<Box<dyn Prepared>, KernelError> {
        if let Some(why) = self.unavailable(p) {
            return Err(KernelError::Gpu(why));
        }
        let ctx = gpu::context()?;
        let (name, source, bindings) = self.shader();
        let pipeline = ctx.pipeline(name, &source, "main", bindings)?;

        let [nh, nk] = p.shape();
        let cells = p.cells();
        let block = (cells.len() as f64).sqrt().ceil().max(1.0) as u32;
        let params = ctx.uniform_from(
            "laue params",
            &[[nh as u32, nk as u32, cells.len() as u32, block]],
        )?;
        let outputs = (nh * nk) as u64;
        let out = ctx.storage("laue intensity", outputs * self.element_bytes())?;
        let readback = ctx.readback("laue readback", outputs * self.element_bytes())?;
        // A runtime-sized array binding needs at least one element, even with no cells.
        let mut inputs: Vec<Buffer> = Vec::new();
        match self {
            Gpu::F32 => {
                let mut fixed = fixed_point_phases(p, &cells);
                if fixed.is_empty() {
                    fixed.push([0; 4]);
                }
                inputs.push(ctx.storage_from("laue cells", &fixed)?);
            }
            Gpu::F64 => {
                let mut xy: Vec<[f64; 2]> = cells.iter().map(|&(x, y)| [x, y]).collect();
                if xy.is_empty() {
                    xy.push([0.0; 2]);
                }
                inputs.push(ctx.storage_from("laue cells", &xy)?);
                inputs.push(ctx.storage_from("laue h", &p.h)?);
                inputs.push(ctx.storage_from("laue k", &p.k)?);
            }
        }
        let mut slices: Vec<gpu::Slice> = vec![(&params).into()];
        slices.extend(inputs.iter().map(gpu::Slice::from));
        slices.push((&out).into());
        let bind = ctx.bind(&pipeline, &slices)?;
        Ok(Box::new(Run {
            problem: p.clone(),
            pipeline,
            bind,
            out,
            readback,
            _inputs: (params, inputs),
            workgroups: (outputs as u32).div_ceil(WORKGROUP),
            timer: Timer::new(ctx, 3)?,
            host: match self {
                Gpu::F32 => Host::F32(vec![0.0; outputs as usize]),
                Gpu::F64 => Host::F64(vec![0.0; outputs as usize]),
            },
        }))
    }
}

/// Per cell: frac(h₀·x), frac(δ_h·x), frac(k₀·y), frac(δ_k·y) as turns·2³² (wrapping), so
/// that the shader's u32 sum A + i·D + B + j·E is h_i·x + k_j·y modulo one turn.
fn fixed_point_phases(p: &LaueProblem, cells: &[(f64, f64)]) -> Vec<[u32; 4]> {
    fn fixed(turns: f64) -> u32 {
        let frac = turns - turns.floor();
        // frac·2³² < 2³² + 1 fits u64; a fraction that rounds up to one turn wraps to 0.
        (frac * 4294967296.0).round() as u64 as u32
    }
    let step = |axis: &[f64]| {
        if axis.len() > 1 {
            axis[1] - axis[0]
        } else {
            0.0
        }
    };
    let (h0, dh) = (p.h.first().copied().unwrap_or(0.0), step(&p.h));
    let (k0, dk) = (p.k.first().copied().unwrap_or(0.0), step(&p.k));
    cells
        .iter()
        .map(|&(x, y)| [fixed(h0 * x), fixed(dh * x), fixed(k0 * y), fixed(dk * y)])
        .collect()
}

enum Host {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

struct Run {
    problem: LaueProblem,
    pipeline: Arc<Pipeline>,
    bind: BindGroup,
    out: Buffer,
    readback: Readback,
    /// Bound to the pipeline; kept with it.
    _inputs: (Buffer, Vec<Buffer>),
    workgroups: u32,
    timer: Timer,
    host: Host,
}

impl Prepared for Run {
    fn run(&mut self) -> Result<(), KernelError> {
        let ctx = gpu::context()?;
        self.timer.reset();
        let mut enc = ctx.encoder("laue", Some(&mut self.timer));
        enc.stage("compute");
        enc.dispatch(&self.pipeline, &self.bind, self.workgroups);
        enc.stage("download");
        enc.download(&self.out, &self.readback);
        enc.submit()?;
        let (readback, host) = (&self.readback, &mut self.host);
        self.timer.time("download", || match host {
            Host::F32(v) => readback.read_into(v),
            Host::F64(v) => readback.read_into(v),
        })?;
        Ok(())
    }
    fn output(&self) -> Result<Output, KernelError> {
        let intensity = match &self.host {
            Host::F32(v) => v.iter().map(|&x| x as f64).collect(),
            Host::F64(v) => v.clone(),
        };
        Ok(self.problem.output(intensity))
    }
    fn stages(&self) -> Vec<Stage> {
        self.timer.stages()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laue::Shape;

    /// The fixed-point phases reproduce h_i·x + k_j·y modulo one turn to within the bound
    /// of the module docs, M·2⁻³² turn, for the largest phases of an N = 128 problem.
    #[test]
    fn fixed_point_phases_are_exact_modulo_one_turn() {
        let p = LaueProblem::new(Shape::Strained, 128, 3, 0.0, 4.0, 0.01, 5.0);
        let cells = p.cells();
        let fixed = fixed_point_phases(&p, &cells);
        let m = p.h.len();
        let bound = m as f64 / 4294967296.0;
        let mut worst: f64 = 0.0;
        for (c, &(x, y)) in cells.iter().enumerate().step_by(97) {
            let [a, d, b, e] = fixed[c];
            for i in (0..m).step_by(7) {
                for j in (0..m).step_by(11) {
                    let u = a
                        .wrapping_add((i as u32).wrapping_mul(d))
                        .wrapping_add(b)
                        .wrapping_add((j as u32).wrapping_mul(e));
                    let t = p.h[i] * x + p.k[j] * y;
                    let diff = u as f64 / 4294967296.0 - (t - t.floor());
                    worst = worst.max((diff - diff.round()).abs());
                }
            }
        }
        assert!(worst <= bound, "{worst:e} turn > {bound:e}");
    }

    /// A run reports its device stages (and nothing else) when an adapter is here.
    #[test]
    fn a_run_reports_compute_and_download() {
        let p = LaueProblem::new(Shape::Circle, 6, 2, 0.0, 4.0, 0.01, 5.0);
        if let Availability::Skipped(why) = Gpu::F32.probe(&p) {
            assert!(
                !crate::gate::Policy::from_env().unwrap().require_gpu,
                "{why}"
            );
            return;
        }
        let mut run = Gpu::F32.prepare(&p).unwrap();
        run.run().unwrap();
        let names: Vec<_> = run.stages().iter().map(|s| s.name).collect();
        assert_eq!(names, ["compute", "download"]);
    }
}

//! The adapter's ceilings, for the roofline of GPU rows: a copy kernel (bytes read plus
//! written per second, STREAM's convention) and an FMA-bound kernel (FLOP/s, f32, and f64
//! where the adapter has SHADER_F64). Each is timed on the host around a synchronised
//! submission (wall) and, where the adapter records timestamp queries, on the device; the
//! rate uses the device time when there is one. Sizes grow until one run takes
//! [`MIN_SECONDS`], so the same code measures lavapipe and an H200; each figure is the best
//! of [`ROUNDS`].

use std::time::Instant;

use super::{Binding, GpuContext, GpuError, Timer};
use crate::variant::Precision;

/// Best of this many timed runs (after one untimed warm-up that compiles and faults in).
pub const ROUNDS: usize = 3;
/// A run shorter than this is grown (timer resolution, launch overhead).
pub const MIN_SECONDS: f64 = 0.02;
/// Multiply-adds per chain in the FMA loop (ceilings.wgsl `STEPS`).
const STEPS: u32 = 256;
/// Flops per invocation of `fma_loop`: 8 chains × 4 lanes × 2 × STEPS.
const FLOPS_PER_INVOCATION: f64 = 8.0 * 4.0 * 2.0 * STEPS as f64;

/// One measured rate with the times it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Rate {
    /// Bytes/s (copy) or FLOP/s (FMA), from the device time where there is one.
    pub per_second: f64,
    pub wall_s: f64,
    /// `None`: the adapter has no timestamp queries ("not supported").
    pub device_s: Option<f64>,
}

/// The adapter's measured ceilings.
#[derive(Clone, Debug, PartialEq)]
pub struct Ceilings {
    pub copy: Rate,
    pub fma_f32: Rate,
    /// `Err`: why there is no f64 figure (no SHADER_F64, or the shader failed).
    pub fma_f64: Result<Rate, String>,
}

/// Measures the ceilings of the process's adapter (a few hundred ms on lavapipe).
pub fn measure(ctx: &'static GpuContext) -> Result<Ceilings, GpuError> {
    let fma_f64 = match ctx.has_f64() {
        true => fma(ctx, Precision::F64).map_err(|e| e.to_string()),
        false => Err(format!("adapter {} has no SHADER_F64", ctx.summary().name)),
    };
    Ok(Ceilings {
        copy: copy(ctx)?,
        fma_f32: fma(ctx, Precision::F32)?,
        fma_f64,
    })
}

fn source(precision: Precision) -> String {
    let ty = super::fft::real_type(precision);
    format!(
        "alias real = {ty};\nconst STEPS: u32 = {STEPS}u;\n{}{}",
        super::WGSL_FLAT_WORKGROUP,
        include_str!("ceilings.wgsl")
    )
}

const LAYOUT: [Binding; 3] = [Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite];

/// Copy bandwidth: the largest f32 buffer one binding allows, up to 256 MiB.
fn copy(ctx: &'static GpuContext) -> Result<Rate, GpuError> {
    let bytes = ctx.max_binding_bytes().min(256 << 20) / 16 * 16;
    let len = (bytes / 16) as u32;
    let pipeline = ctx.pipeline("ceiling-copy-f32", &source(Precision::F32), "copy", &LAYOUT)?;
    let src = ctx.storage("ceiling copy src", bytes)?;
    let dst = ctx.storage("ceiling copy dst", bytes)?;
    let params = ctx.uniform_from("ceiling copy", &[[len, 0, 0, 0]])?;
    let bind = ctx.bind(&pipeline, &[(&params).into(), (&src).into(), (&dst).into()])?;
    let (wall_s, device_s) = best(ctx, |enc| enc.dispatch(&pipeline, &bind, len.div_ceil(64)))?;
    Ok(rate(2.0 * bytes as f64, wall_s, device_s))
}

/// FMA throughput in `precision`: invocations double until one run takes MIN_SECONDS.
fn fma(ctx: &'static GpuContext, precision: Precision) -> Result<Rate, GpuError> {
    let name = format!("ceiling-fma-{precision}");
    let pipeline = ctx.pipeline(&name, &source(precision), "fma_loop", &LAYOUT)?;
    let constants: Vec<[f64; 4]> = vec![[0.999; 4], [0.001; 4]];
    let src = match precision {
        Precision::F32 => {
            let c: Vec<[f32; 4]> = constants.iter().map(|v| v.map(|x| x as f32)).collect();
            ctx.storage_from("ceiling fma constants", &c)?
        }
        Precision::F64 => ctx.storage_from("ceiling fma constants", &constants)?,
    };
    let dst = ctx.storage("ceiling fma out", 1 << 20)?;
    let mut invocations: u32 = 1 << 14;
    loop {
        let params = ctx.uniform_from("ceiling fma", &[[invocations, 0, 0, 0]])?;
        let bind = ctx.bind(&pipeline, &[(&params).into(), (&src).into(), (&dst).into()])?;
        let (wall_s, device_s) = best(ctx, |enc| {
            enc.dispatch(&pipeline, &bind, invocations.div_ceil(64))
        })?;
        let t = device_s.unwrap_or(wall_s);
        if t >= MIN_SECONDS || invocations >= 1 << 26 {
            let flops = FLOPS_PER_INVOCATION * invocations as f64;
            return Ok(rate(flops, wall_s, device_s));
        }
        invocations *= 2;
    }
}

fn rate(amount: f64, wall_s: f64, device_s: Option<f64>) -> Rate {
    Rate {
        per_second: amount / device_s.unwrap_or(wall_s),
        wall_s,
        device_s,
    }
}

/// (best wall seconds, best device seconds) of ROUNDS runs of `record`, after a warm-up.
fn best(
    ctx: &'static GpuContext,
    record: impl Fn(&mut super::Encoder<'_>),
) -> Result<(f64, Option<f64>), GpuError> {
    let mut timer = Timer::new(ctx, 3)?;
    let (mut wall, mut device) = (f64::INFINITY, None::<f64>);
    for round in 0..=ROUNDS {
        timer.reset();
        let start = Instant::now();
        let mut enc = ctx.encoder("ceiling", Some(&mut timer));
        enc.stage("compute");
        record(&mut enc);
        enc.submit()?;
        let w = start.elapsed().as_secs_f64();
        if round == 0 {
            continue;
        }
        wall = wall.min(w);
        if ctx.has_timestamps() {
            let d = timer
                .stages()
                .iter()
                .find(|s| s.name == "compute")
                .map(|s| s.time.as_secs_f64());
            if let Some(d) = d.filter(|d| *d > 0.0) {
                device = Some(device.map_or(d, |b: f64| b.min(d)));
            }
        }
    }
    Ok((wall, device))
}

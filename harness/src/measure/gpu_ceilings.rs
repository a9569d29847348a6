//! The GPU adapter's ceilings ([`kernels::gpu::ceilings`]: a copy kernel and an FMA-bound
//! kernel), measured at the start of a bench whose selection has a GPU variant and recorded
//! in `run.json`, so that GPU rows get a `% of roofline` against the device they ran on.
//! No adapter: the run goes on, and `run.json` says why there is no GPU ceiling.

use kernels::Precision;
use serde::{Deserialize, Serialize};

/// What `run.json` keeps of the adapter's ceilings.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct GpuCeiling {
    pub adapter: String,
    /// A software adapter (lavapipe): the "GPU" is these CPU cores.
    pub software: bool,
    /// Bytes read plus written per second by the copy kernel.
    pub copy_gbps: f64,
    pub fma_f32_gflops: f64,
    /// `None`: see `f64_missing`.
    pub fma_f64_gflops: Option<f64>,
    /// Why there is no f64 figure (no SHADER_F64, or its shader failed).
    pub f64_missing: Option<String>,
    /// "timestamp queries" when the rates come from device time, else "not supported"
    /// (the rates then come from wall time around a synchronised submission).
    pub device_time: String,
    /// Wall and device seconds of the best copy and f32 FMA runs (device: None when the
    /// adapter has no timestamp queries).
    pub copy_wall_s: f64,
    pub copy_device_s: Option<f64>,
    pub fma_f32_wall_s: f64,
    pub fma_f32_device_s: Option<f64>,
}

impl GpuCeiling {
    /// The roofline limit in GFLOP/s at arithmetic intensity `ai`, or None without a peak
    /// in this precision.
    pub fn limit_gflops(&self, ai: f64, precision: Precision) -> Option<f64> {
        let peak = match precision {
            Precision::F32 => Some(self.fma_f32_gflops),
            Precision::F64 => self.fma_f64_gflops,
        }?;
        Some(peak.min(ai * self.copy_gbps))
    }

    /// One line for the console.
    pub fn describe(&self) -> String {
        let f64 = match (self.fma_f64_gflops, &self.f64_missing) {
            (Some(g), _) => format!("{g:.1}"),
            (None, Some(why)) => format!("none ({why})"),
            (None, None) => "none".into(),
        };
        format!(
            "GPU ceilings on {}: FMA {:.1} GFLOP/s f32, {f64} f64 · copy {:.1} GB/s · device time: {}",
            self.adapter, self.fma_f32_gflops, self.copy_gbps, self.device_time
        )
    }
}

/// Measures the adapter's ceilings, or says why it cannot (no adapter, a shader failed).
pub fn measure() -> Result<GpuCeiling, String> {
    let ctx = kernels::gpu::context().map_err(|e| e.to_string())?;
    let m = kernels::gpu::ceilings::measure(ctx).map_err(|e| e.to_string())?;
    let (fma_f64_gflops, f64_missing) = match m.fma_f64 {
        Ok(r) => (Some(r.per_second / 1e9), None),
        Err(why) => (None, Some(why)),
    };
    Ok(GpuCeiling {
        adapter: ctx.summary().name.clone(),
        software: ctx.summary().software,
        copy_gbps: m.copy.per_second / 1e9,
        fma_f32_gflops: m.fma_f32.per_second / 1e9,
        fma_f64_gflops,
        f64_missing,
        device_time: match m.copy.device_s {
            Some(_) => "timestamp queries".into(),
            None => "not supported".into(),
        },
        copy_wall_s: m.copy.wall_s,
        copy_device_s: m.copy.device_s,
        fma_f32_wall_s: m.fma_f32.wall_s,
        fma_f32_device_s: m.fma_f32.device_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_roofline_and_f64_may_be_missing() {
        let c = GpuCeiling {
            copy_gbps: 100.0,
            fma_f32_gflops: 1000.0,
            ..GpuCeiling::default()
        };
        assert_eq!(c.limit_gflops(1.0, Precision::F32), Some(100.0));
        assert_eq!(c.limit_gflops(50.0, Precision::F32), Some(1000.0));
        assert_eq!(c.limit_gflops(50.0, Precision::F64), None);
    }
}

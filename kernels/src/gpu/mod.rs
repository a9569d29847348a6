//! GPU plumbing shared by every kernel: adapter and device (wgpu, Vulkan only), buffers,
//! pipelines, timestamp queries. Without the `gpu` feature every probe says so.

/// What the harness records about the GPU adapter (a software adapter such as lavapipe
/// must never pass for a real GPU).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    /// wgpu's device type: DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu (software), Other.
    pub device_type: String,
    pub backend: String,
    pub driver: String,
    /// True for a software rasteriser (lavapipe/llvmpipe: device type Cpu).
    pub software: bool,
    pub shader_f64: bool,
    pub timestamps: bool,
}

/// The adapter the GPU variants would use, or why there is none.
pub fn adapter() -> Result<AdapterSummary, String> {
    Err("GPU plumbing not built yet".into())
}

//! The process's one GPU device: its creation (Vulkan adapter probe, device request, error
//! callbacks), what it can do (features and limits), and the error scopes and waits that
//! the buffer, pipeline, encoder and timer code all go through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::super::{AdapterSummary, GpuError};
use super::pipeline::Pipeline;

const NO_ADAPTER: &str = "no Vulkan adapter: install the software driver (Debian: apt-get install \
     mesa-vulkan-drivers libvulkan1) or a GPU driver";

/// The process's one GPU device, with what it can do.
pub struct GpuContext {
    // Kept alive for the lifetime of the device.
    _instance: wgpu::Instance,
    _adapter: wgpu::Adapter,
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    pub(super) summary: AdapterSummary,
    pub(super) features: wgpu::Features,
    pub(super) limits: wgpu::Limits,
    pub(super) pipelines: Mutex<HashMap<String, Arc<Pipeline>>>,
    /// Set by the device-lost callback; every later call fails with it.
    lost: Arc<Mutex<Option<String>>>,
    /// An error no scope caught (wgpu's default handler would panic); reported once.
    uncaptured: Arc<Mutex<Option<String>>>,
}

static CONTEXT: OnceLock<Result<GpuContext, GpuError>> = OnceLock::new();

/// The shared GPU context, created on first use (the outcome, error included, is kept for
/// the life of the process).
pub fn context() -> Result<&'static GpuContext, GpuError> {
    CONTEXT.get_or_init(create).as_ref().map_err(Clone::clone)
}

fn create() -> Result<GpuContext, GpuError> {
    private_runtime_dir();
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::VULKAN;
    let instance = wgpu::Instance::new(desc);
    let adapter = request_adapter(&instance)?;

    let wanted = wgpu::Features::SHADER_F64
        | wgpu::Features::TIMESTAMP_QUERY
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
    let features = adapter.features() & wanted;
    let available = adapter.limits();
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: available.max_storage_buffer_binding_size,
        max_buffer_size: available.max_buffer_size,
        // The shared-memory FFT (`gpu::fft_shared`) sizes itself to what the adapter offers.
        max_compute_workgroup_storage_size: available.max_compute_workgroup_storage_size,
        ..wgpu::Limits::default()
    };
    let info = adapter.get_info();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("kernels"),
        required_features: features,
        required_limits: limits.clone(),
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    }))
    .map_err(|e| GpuError(format!("adapter {} refused a device: {e}", info.name)))?;

    let lost = Arc::new(Mutex::new(None));
    let uncaptured = Arc::new(Mutex::new(None));
    {
        let lost = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            *lock(&lost) = Some(format!("device lost ({reason:?}): {message}"));
        });
        let uncaptured = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            lock(&uncaptured).get_or_insert_with(|| e.to_string());
        }));
    }
    let summary = AdapterSummary {
        name: info.name.clone(),
        device_type: format!("{:?}", info.device_type),
        backend: format!("{:?}", info.backend),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        software: info.device_type == wgpu::DeviceType::Cpu,
        shader_f64: features.contains(wgpu::Features::SHADER_F64),
        timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
    };
    Ok(GpuContext {
        _instance: instance,
        _adapter: adapter,
        device,
        queue,
        summary,
        features,
        limits,
        pipelines: Mutex::new(HashMap::new()),
        lost,
        uncaptured,
    })
}

/// The Vulkan adapter (high-performance preference), or an error that says which driver to
/// install.
fn request_adapter(instance: &wgpu::Instance) -> Result<wgpu::Adapter, GpuError> {
    pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .map_err(|e| {
        // wgpu lists every backend it did not try; keep only what it says about Vulkan.
        let why = e.to_string();
        match why
            .split([';', ','])
            .find(|s| s.to_lowercase().contains("vulkan"))
        {
            Some(vulkan) => GpuError(format!("{NO_ADAPTER} ({})", vulkan.trim())),
            None => GpuError(NO_ADAPTER.into()),
        }
    })
}

/// Mesa warns on stderr when `XDG_RUNTIME_DIR` is unset: point it at a private 0700
/// directory under the temporary directory before the Vulkan loader starts.
fn private_runtime_dir() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("kernels-runtime-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    // Only a directory that is ours and private will do (someone else may have made it).
    let private = std::fs::symlink_metadata(&dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0);
    if private {
        // Safety: `set_var` races only with another thread reading or writing the
        // environment through libc at the same moment. This runs once, inside the
        // `OnceLock` initialiser of the GPU context, before the Vulkan loader (the only
        // C code here that reads it) is started; Rust's own env access is locked.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl GpuContext {
    pub fn summary(&self) -> &AdapterSummary {
        &self.summary
    }
    /// The adapter runs `f64` in shaders (SHADER_F64).
    pub fn has_f64(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_F64)
    }
    /// The device records timestamp queries (stages are then measured on the device).
    pub fn has_timestamps(&self) -> bool {
        self.features.contains(wgpu::Features::TIMESTAMP_QUERY)
    }
    /// Largest storage buffer one binding may see (128 MiB on lavapipe).
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size
    }
    /// Bytes of `var<workgroup>` memory one workgroup may use (queried from the adapter:
    /// 48 KiB on NVIDIA through Vulkan; never assumed).
    pub fn max_workgroup_storage_bytes(&self) -> u64 {
        self.limits.max_compute_workgroup_storage_size as u64
    }
    /// Largest buffer the device allocates.
    pub fn max_buffer_bytes(&self) -> u64 {
        self.limits.max_buffer_size
    }
    /// Element ranges of an array of `len` × `elem_bytes` that each fit one storage binding.
    pub fn chunks(&self, len: usize, elem_bytes: usize) -> Vec<std::ops::Range<usize>> {
        super::super::chunk_ranges(
            len,
            elem_bytes,
            self.max_binding_bytes(),
            self.limits.min_storage_buffer_offset_alignment as u64,
        )
    }
    /// `Ok` when `bytes` fit one storage binding, else an error that says what to do.
    pub fn check_binding(&self, what: &str, bytes: u64) -> Result<(), GpuError> {
        if bytes > self.max_binding_bytes() {
            return Err(GpuError(format!(
                "{what} needs {:.1} MiB in one storage binding; {} binds at most {:.1} MiB: \
                 use smaller parameters, or split the array with GpuContext::chunks",
                bytes as f64 / 1048576.0,
                self.summary.name,
                self.max_binding_bytes() as f64 / 1048576.0
            )));
        }
        Ok(())
    }

    /// Fails if the device was lost or an error escaped every scope since the last check.
    pub(super) fn check(&self) -> Result<(), GpuError> {
        if let Some(why) = lock(&self.lost).clone() {
            return Err(GpuError(why));
        }
        if let Some(why) = lock(&self.uncaptured).take() {
            return Err(GpuError(format!("GPU error: {why}")));
        }
        Ok(())
    }

    /// Runs `f` inside validation, out-of-memory and internal error scopes: whatever wgpu
    /// reports becomes an `Err` naming `what`, never a panic.
    pub(super) fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T, GpuError> {
        self.check()?;
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let errors = [
            pollster::block_on(validation.pop()),
            pollster::block_on(memory.pop()),
            pollster::block_on(internal.pop()),
        ];
        if let Some(e) = errors.into_iter().flatten().next() {
            return Err(GpuError(format!("{what}: {e}")));
        }
        self.check()?;
        Ok(out)
    }

    pub(super) fn wait(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError(format!("waiting for the device: {e}")))?;
        self.check()
    }
}

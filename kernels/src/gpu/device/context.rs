//! The process's one GPU device: its creation (Vulkan adapter probe, device request, error
//! callbacks), what it can do (features and limits), and the error scopes and waits that
//! the buffer, pipeline, encoder and timer code all go through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::super::faults::{self, Fault, FaultKind};
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
    lost: Note,
    /// An error no scope caught (wgpu's default handler would panic); reported once.
    uncaptured: Note,
    /// The fault `HARNESS_GPU_FAULT` injects into this device (`gpu::faults`).
    pub(super) fault: Option<Fault>,
}

/// The current context, once created (the outcome, error included, is kept), and how
/// many times a lost device has been replaced.
struct Slot {
    current: Option<Result<&'static GpuContext, GpuError>>,
    renewals: u32,
}

static SLOT: Mutex<Slot> = Mutex::new(Slot {
    current: None,
    renewals: 0,
});

/// How many lost devices a process replaces before it gives up (a driver that keeps losing
/// its device will not be cured by a fourth one).
const MAX_RENEWALS: u32 = 3;

/// The shared GPU context, created on first use (the outcome, error included, is kept
/// until [`renew_if_lost`] replaces a lost device).
pub fn context() -> Result<&'static GpuContext, GpuError> {
    lock(&SLOT)
        .current
        .get_or_insert_with(|| create().map(leak))
        .clone()
}

/// Replaces the context when its device was lost, so that the variants after the one that
/// met the loss run on a new device (the gate calls this before each variant). A context
/// that is still in use elsewhere stays valid memory (contexts are never freed) and keeps
/// answering "device lost". After [`MAX_RENEWALS`] replacements the lost one stays.
pub fn renew_if_lost() {
    let mut slot = lock(&SLOT);
    let Some(Ok(ctx)) = slot.current else {
        return;
    };
    if lock(&ctx.lost).is_none() || slot.renewals >= MAX_RENEWALS {
        return;
    }
    slot.renewals += 1;
    slot.current = Some(create().map(leak));
}

/// Contexts live for the rest of the process: prepared variants may hold them.
fn leak(ctx: GpuContext) -> &'static GpuContext {
    Box::leak(Box::new(ctx))
}

/// The injected fault and binding limit (`gpu::faults`).
struct Injection {
    fault: Option<Fault>,
    max_binding: Option<u64>,
    max_workgroup_storage: Option<u64>,
}

/// The [`Injection`] the environment asks for, read once.
fn injection() -> Result<&'static Injection, GpuError> {
    static INJECTION: OnceLock<Result<Injection, GpuError>> = OnceLock::new();
    INJECTION
        .get_or_init(|| {
            let env = |e: crate::error::KernelError| GpuError(e.to_string());
            Ok(Injection {
                fault: faults::fault_from_env().map_err(env)?,
                max_binding: faults::max_binding_from_env().map_err(env)?,
                max_workgroup_storage: faults::max_workgroup_storage_from_env().map_err(env)?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn create() -> Result<GpuContext, GpuError> {
    private_runtime_dir();
    let Injection {
        fault,
        max_binding,
        max_workgroup_storage,
    } = injection()?;
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::VULKAN;
    if fault.as_ref().is_some_and(|f| f.kind == FaultKind::Oom) {
        // wgpu refuses, as out of memory, an allocation that would take the heap past 1 %
        // of its budget; the allocations the fault aims at ask for the largest buffer.
        desc.memory_budget_thresholds.for_resource_creation = Some(1);
    }
    let instance = wgpu::Instance::new(desc);
    let adapter = request_adapter(&instance)?;

    let mut wanted = wgpu::Features::SHADER_F64
        | wgpu::Features::TIMESTAMP_QUERY
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
    if fault.as_ref().is_some_and(|f| f.kind == FaultKind::NoF64) {
        wanted.remove(wgpu::Features::SHADER_F64);
    }
    let features = adapter.features() & wanted;
    let limits = limits(&adapter.limits(), *max_binding, *max_workgroup_storage);
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

    let (lost, uncaptured) = watch(&device);
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
        injected_fault: fault.as_ref().map(|f| f.to_string()).unwrap_or_default(),
        lowered_max_binding: *max_binding,
        lowered_max_workgroup_storage: *max_workgroup_storage,
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
        fault: fault.clone(),
    })
}

/// The limits to request: the adapter's own storage, buffer and workgroup-memory limits
/// (the shared-memory FFT, `gpu::fft_shared`, sizes itself to them), the binding and
/// buffer limits lowered to `max_binding` and the workgroup memory to
/// `max_workgroup_storage` when they are imposed (`gpu::faults`).
fn limits(
    available: &wgpu::Limits,
    max_binding: Option<u64>,
    max_workgroup_storage: Option<u64>,
) -> wgpu::Limits {
    let workgroup = available.max_compute_workgroup_storage_size;
    let workgroup = max_workgroup_storage.map_or(workgroup, |m| workgroup.min(m as u32));
    let binding = available.max_storage_buffer_binding_size;
    let binding = max_binding.map_or(binding, |m| m.min(binding));
    wgpu::Limits {
        max_storage_buffer_binding_size: binding,
        max_buffer_size: max_binding.map_or(available.max_buffer_size, |m| {
            m.min(available.max_buffer_size)
        }),
        max_compute_workgroup_storage_size: workgroup,
        ..wgpu::Limits::default()
    }
}

/// A message a wgpu callback leaves for the next check.
type Note = Arc<Mutex<Option<String>>>;

/// The device-lost and uncaptured-error callbacks, and where they leave their message.
fn watch(device: &wgpu::Device) -> (Note, Note) {
    let lost = Arc::new(Mutex::new(None));
    let uncaptured = Arc::new(Mutex::new(None));
    {
        let lost = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            // An injected loss has already said so: keep that message.
            lock(&lost).get_or_insert_with(|| lost_message(&format!("{reason:?}"), &message));
        });
        let uncaptured = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            lock(&uncaptured).get_or_insert_with(|| e.to_string());
        }));
    }
    (lost, uncaptured)
}

/// What an allocation refused for want of memory reports (`detail`: wgpu's words).
pub(super) fn out_of_memory(what: &str, detail: &str) -> String {
    format!(
        "{what}: out of GPU memory ({detail}): use smaller parameters, or free device memory \
         (other processes on the GPU)"
    )
}

/// wgpu's error on one line (rows and table cells are one line each): its lines joined,
/// without the "Caused by:" headings and the source excerpt drawn under a shader error.
fn one_line(e: &wgpu::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "Caused by:")
        .filter(|l| !l.contains('│') && !l.starts_with('┌') && !l.starts_with('='))
        .collect();
    lines.join("; ")
}

/// What a variant that met a lost device reports.
fn lost_message(reason: &str, message: &str) -> String {
    let message = if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    };
    format!(
        "GPU device lost ({reason}{message}); the next variant gets a new device: if this \
         recurs, check the driver's log (dmesg, nvidia-smi -q)"
    )
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
    /// `Ok` when `bytes` fit one storage binding (and so one buffer), else an error that
    /// names both sizes and says what to do. Call it for a variant's largest binding in
    /// its probe, before anything is allocated.
    pub fn check_binding(&self, what: &str, bytes: u64) -> Result<(), GpuError> {
        let limit = self.max_binding_bytes().min(self.max_buffer_bytes());
        if bytes > limit {
            return Err(GpuError(format!(
                "{what} needs {} in one storage binding; {} binds at most {}{}: use smaller \
                 parameters, or split the array with GpuContext::chunks",
                faults::human_bytes(bytes),
                self.summary.name,
                faults::human_bytes(limit),
                self.lowered_note()
            )));
        }
        Ok(())
    }

    /// `Ok` when a buffer of `bytes` (bound in chunks of at most the binding limit) can be
    /// allocated, else an error that names both sizes.
    pub fn check_buffer(&self, what: &str, bytes: u64) -> Result<(), GpuError> {
        if bytes > self.max_buffer_bytes() {
            return Err(GpuError(format!(
                "{what} needs a buffer of {}; {} allocates at most {}{}: use smaller parameters",
                faults::human_bytes(bytes),
                self.summary.name,
                faults::human_bytes(self.max_buffer_bytes()),
                self.lowered_note()
            )));
        }
        Ok(())
    }

    /// Where a limit comes from when `HARNESS_GPU_MAX_BINDING` lowered it.
    fn lowered_note(&self) -> String {
        match self.summary.lowered_max_binding {
            Some(_) => format!(" (lowered by {})", faults::MAX_BINDING_VAR),
            None => String::new(),
        }
    }

    /// The injected device loss (`HARNESS_GPU_FAULT=device-lost`): after the first
    /// submission of an encoder labelled like the target, the device is destroyed, once
    /// per process. wgpu then loses it as it loses a crashed one, with every later call
    /// failing.
    pub(super) fn inject_loss_after(&self, label: &str) {
        static FIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let aimed = self
            .fault
            .as_ref()
            .is_some_and(|f| f.hits(FaultKind::DeviceLost, label));
        if aimed && !FIRED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let why = format!(
                "injected by {} after submitting `{label}`",
                self.fault_text()
            );
            lock(&self.lost).get_or_insert_with(|| lost_message(&why, ""));
            self.device.destroy();
        }
    }

    /// The injected fault as `HARNESS_GPU_FAULT=...`, for messages.
    pub(super) fn fault_text(&self) -> String {
        self.fault
            .as_ref()
            .map(|f| f.to_string())
            .unwrap_or_default()
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
            pollster::block_on(validation.pop()).map(|e| format!("{what}: {}", one_line(&e))),
            pollster::block_on(memory.pop()).map(|e| out_of_memory(what, &one_line(&e))),
            pollster::block_on(internal.pop())
                .map(|e| format!("{what}: internal error of the GPU driver: {}", one_line(&e))),
        ];
        if let Some(e) = errors.into_iter().flatten().next() {
            return Err(GpuError(e));
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

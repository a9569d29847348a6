//! The wgpu implementation of the GPU plumbing (built with the `gpu` feature).

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{AdapterSummary, Binding, GpuError, grid};
use crate::variant::Stage;

/// How long a mapping may stay unanswered after the device has finished all submitted work
/// (the answer normally arrives within microseconds; see `GpuContext::map`).
const MAP_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Plain data that can be copied to and from GPU buffers byte for byte.
pub trait Element: bytemuck::Pod {}

macro_rules! elements {
    ($($t:ty),*) => { $(impl Element for $t {})* };
}
elements!(
    f32, f64, u32, i32, [f32; 2], [f64; 2], [u32; 2], [f32; 4], [f64; 4], [u32; 4]
);

const NO_ADAPTER: &str = "no Vulkan adapter: install the software driver (Debian: apt-get install \
     mesa-vulkan-drivers libvulkan1) or a GPU driver";

/// The process's one GPU device, with what it can do.
pub struct GpuContext {
    // Kept alive for the lifetime of the device.
    _instance: wgpu::Instance,
    _adapter: wgpu::Adapter,
    device: wgpu::Device,
    queue: wgpu::Queue,
    summary: AdapterSummary,
    features: wgpu::Features,
    limits: wgpu::Limits,
    pipelines: Mutex<HashMap<String, Arc<Pipeline>>>,
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
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
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
    })?;

    let wanted = wgpu::Features::SHADER_F64
        | wgpu::Features::TIMESTAMP_QUERY
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
    let features = adapter.features() & wanted;
    let available = adapter.limits();
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: available.max_storage_buffer_binding_size,
        max_buffer_size: available.max_buffer_size,
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
    /// Largest buffer the device allocates.
    pub fn max_buffer_bytes(&self) -> u64 {
        self.limits.max_buffer_size
    }
    /// Element ranges of an array of `len` × `elem_bytes` that each fit one storage binding.
    pub fn chunks(&self, len: usize, elem_bytes: usize) -> Vec<std::ops::Range<usize>> {
        super::chunk_ranges(
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
    fn check(&self) -> Result<(), GpuError> {
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
    fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T, GpuError> {
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

    fn buffer(
        &self,
        label: &str,
        bytes: u64,
        usage: wgpu::BufferUsages,
        init: Option<&[u8]>,
    ) -> Result<wgpu::Buffer, GpuError> {
        if bytes > self.max_buffer_bytes() {
            return Err(GpuError(format!(
                "{label}: {:.1} MiB exceeds the largest buffer of {} ({:.1} MiB)",
                bytes as f64 / 1048576.0,
                self.summary.name,
                self.max_buffer_bytes() as f64 / 1048576.0
            )));
        }
        // Copies and mappings work in multiples of 4 bytes; empty arrays still get a buffer.
        let size = bytes.max(4).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        self.scoped(label, || {
            let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: init.is_some(),
            });
            if let Some(data) = init {
                let mut view = buffer
                    .get_mapped_range_mut(..)
                    .expect("a buffer mapped at creation has a mapped range");
                view.slice(..data.len()).copy_from_slice(data);
                drop(view);
                buffer.unmap();
            }
            buffer
        })
    }

    /// A storage buffer holding `data` (also a copy source and destination).
    pub fn storage_from<T: Element>(&self, label: &str, data: &[T]) -> Result<Buffer, GpuError> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let raw = self.buffer(label, bytes.len() as u64, storage_usage(), Some(bytes))?;
        Ok(Buffer {
            raw,
            bytes: bytes.len() as u64,
        })
    }

    /// A zero-filled storage buffer of `bytes` bytes.
    pub fn storage(&self, label: &str, bytes: u64) -> Result<Buffer, GpuError> {
        let raw = self.buffer(label, bytes, storage_usage(), None)?;
        Ok(Buffer { raw, bytes })
    }

    /// A uniform buffer holding `data` (small parameters: sizes, strides, scales).
    pub fn uniform_from<T: Element>(&self, label: &str, data: &[T]) -> Result<Buffer, GpuError> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let raw = self.buffer(
            label,
            bytes.len() as u64,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            Some(bytes),
        )?;
        Ok(Buffer {
            raw,
            bytes: bytes.len() as u64,
        })
    }

    /// Host-readable space that a run downloads into ([`Encoder::download`]).
    pub fn readback(&self, label: &str, bytes: u64) -> Result<Readback, GpuError> {
        let usage = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        let raw = self.buffer(label, bytes, usage, None)?;
        Ok(Readback { raw, bytes })
    }

    /// Host-writable space that a run uploads from ([`Encoder::upload`]).
    pub fn staging(&self, label: &str, bytes: u64) -> Result<Staging, GpuError> {
        let usage = wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC;
        let raw = self.buffer(label, bytes, usage, None)?;
        Ok(Staging { raw, bytes })
    }

    /// Writes `data` into `buffer` at `offset` bytes through the queue (setup-time uploads;
    /// it lands before the next submission).
    pub fn write<T: Element>(
        &self,
        buffer: &Buffer,
        offset: u64,
        data: &[T],
    ) -> Result<(), GpuError> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        if offset + bytes.len() as u64 > buffer.bytes {
            return Err(GpuError(format!(
                "writing {} bytes at {offset} into a buffer of {} bytes",
                bytes.len(),
                buffer.bytes
            )));
        }
        self.scoped("write", || {
            self.queue.write_buffer(&buffer.raw, offset, bytes)
        })
    }

    /// Reads a whole buffer back to the host (convenience for tests and setup; allocates).
    pub fn read<T: Element>(&self, buffer: &Buffer) -> Result<Vec<T>, GpuError> {
        let readback = self.readback("read", buffer.bytes)?;
        let mut enc = self.encoder("read", None);
        enc.download(buffer, &readback);
        enc.submit()?;
        let mut out = vec![T::zeroed(); buffer.bytes as usize / std::mem::size_of::<T>()];
        readback.read_into(&mut out)?;
        Ok(out)
    }

    /// Maps `buffer` (idle, or its last submission waited for) and waits for the mapping.
    fn map(&self, buffer: &wgpu::Buffer, bytes: u64, mode: wgpu::MapMode) -> Result<(), GpuError> {
        let (tx, rx) = std::sync::mpsc::channel();
        buffer
            .slice(..bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT).max(4))
            .map_async(mode, move |r| {
                let _ = tx.send(r);
            });
        self.wait()?;
        // The device is shared by every thread of the process (tests run in parallel, the
        // harness may too). When two threads poll at once, the other thread's poll can
        // collect this mapping's callback and run it a moment after our own poll returned
        // empty-handed, so an empty channel right after `wait` is not yet an answer: wait a
        // little, polling again, until the callback has run or has been dropped unrun.
        let deadline = Instant::now() + MAP_ANSWER_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => return Err(GpuError(format!("mapping a buffer: {e}"))),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    self.check()?;
                    return Err(GpuError(
                        "mapping a buffer: wgpu dropped the request unanswered".into(),
                    ));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if Instant::now() > deadline {
                        return Err(GpuError(format!(
                            "mapping a buffer: no answer {MAP_ANSWER_TIMEOUT:?} after the device \
                             finished its work"
                        )));
                    }
                    self.wait()?;
                }
            }
        }
    }

    fn wait(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError(format!("waiting for the device: {e}")))?;
        self.check()
    }

    /// Compiles a compute pipeline from WGSL, or returns the one compiled before under
    /// `name`. Call it in `prepare`: compilation (LLVM on lavapipe) is slow. A shader error
    /// comes back as `Err` with wgpu's message.
    pub fn pipeline(
        &self,
        name: &str,
        wgsl: &str,
        entry: &str,
        bindings: &[Binding],
    ) -> Result<Arc<Pipeline>, GpuError> {
        let fingerprint = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (wgsl, entry, bindings).hash(&mut h);
            h.finish()
        };
        if let Some(p) = lock(&self.pipelines).get(name) {
            if p.fingerprint != fingerprint {
                return Err(GpuError(format!(
                    "pipeline `{name}` was compiled before from another source: give each shader its own name"
                )));
            }
            return Ok(p.clone());
        }
        let entries: Vec<_> = bindings
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b {
                        Binding::ReadOnly => wgpu::BufferBindingType::Storage { read_only: true },
                        Binding::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                        Binding::Uniform => wgpu::BufferBindingType::Uniform,
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let (raw, layout) = self.scoped(&format!("compiling shader `{name}`"), || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(wgsl)),
                });
            let layout = self
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(name),
                    entries: &entries,
                });
            let pipeline_layout =
                self.device
                    .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(name),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size: 0,
                    });
            let raw = self
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(name),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                });
            (raw, layout)
        })?;
        let pipeline = Arc::new(Pipeline {
            name: name.to_string(),
            raw,
            layout,
            bindings: bindings.to_vec(),
            fingerprint,
        });
        // Two threads may have compiled the same shader at once: keep the first.
        Ok(lock(&self.pipelines)
            .entry(name.to_string())
            .or_insert(pipeline)
            .clone())
    }

    /// Binds buffers (or byte ranges of buffers) to a pipeline's bindings 0, 1, ...
    pub fn bind(&self, pipeline: &Pipeline, slices: &[Slice<'_>]) -> Result<BindGroup, GpuError> {
        if slices.len() != pipeline.bindings.len() {
            return Err(GpuError(format!(
                "pipeline `{}` has {} bindings, {} buffers given",
                pipeline.name,
                pipeline.bindings.len(),
                slices.len()
            )));
        }
        let align = self.limits.min_storage_buffer_offset_alignment as u64;
        for (i, (s, b)) in slices.iter().zip(&pipeline.bindings).enumerate() {
            let what = format!("binding {i} of `{}`", pipeline.name);
            match b {
                Binding::ReadOnly | Binding::ReadWrite => self.check_binding(&what, s.size)?,
                Binding::Uniform if s.size > self.limits.max_uniform_buffer_binding_size => {
                    return Err(GpuError(format!(
                        "{what}: uniform of {} bytes is too large",
                        s.size
                    )));
                }
                Binding::Uniform => {}
            }
            if s.offset % align != 0 || s.size == 0 || s.offset + s.size > s.buffer.raw.size() {
                return Err(GpuError(format!(
                    "{what}: bytes {}..{} of a {}-byte buffer (offsets must be multiples of {align}, sizes non-zero)",
                    s.offset,
                    s.offset + s.size,
                    s.buffer.raw.size()
                )));
            }
        }
        let entries: Vec<_> = slices
            .iter()
            .enumerate()
            .map(|(i, s)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &s.buffer.raw,
                    offset: s.offset,
                    size: wgpu::BufferSize::new(s.size),
                }),
            })
            .collect();
        let raw = self.scoped(&format!("binding buffers to `{}`", pipeline.name), || {
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&pipeline.name),
                layout: &pipeline.layout,
                entries: &entries,
            })
        })?;
        Ok(BindGroup { raw })
    }

    /// Starts recording commands. With a timer, [`Encoder::stage`] marks are timestamped.
    pub fn encoder<'a>(&'a self, label: &str, timer: Option<&'a mut Timer>) -> Encoder<'a> {
        let raw = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        Encoder {
            ctx: self,
            raw,
            timer,
        }
    }
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

/// A device buffer (storage or uniform). Cloning gives another handle to the same memory.
#[derive(Clone)]
pub struct Buffer {
    raw: wgpu::Buffer,
    /// Bytes asked for (the allocation may be rounded up to 4).
    bytes: u64,
}

impl Buffer {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Bytes `range` of the buffer, for binding a chunk.
    pub fn slice(&self, range: std::ops::Range<u64>) -> Slice<'_> {
        Slice {
            buffer: self,
            offset: range.start,
            size: range.end.saturating_sub(range.start),
        }
    }
}

/// A byte range of a buffer to bind.
#[derive(Clone, Copy)]
pub struct Slice<'a> {
    buffer: &'a Buffer,
    offset: u64,
    size: u64,
}

impl<'a> From<&'a Buffer> for Slice<'a> {
    fn from(buffer: &'a Buffer) -> Self {
        Slice {
            buffer,
            offset: 0,
            size: buffer.raw.size(),
        }
    }
}

/// Host-readable memory that results are downloaded into.
pub struct Readback {
    raw: wgpu::Buffer,
    bytes: u64,
}

impl Readback {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Copies the downloaded bytes into `out` (after [`Encoder::submit`] has waited).
    pub fn read_into<T: Element>(&self, out: &mut [T]) -> Result<(), GpuError> {
        let ctx = context()?;
        let dst: &mut [u8] = bytemuck::cast_slice_mut(out);
        if dst.len() as u64 > self.bytes {
            return Err(GpuError(format!(
                "reading {} bytes from a readback buffer of {}",
                dst.len(),
                self.bytes
            )));
        }
        ctx.map(&self.raw, self.bytes, wgpu::MapMode::Read)?;
        {
            let view = self
                .raw
                .get_mapped_range(..self.bytes.next_multiple_of(4).max(4))
                .map_err(|e| GpuError(format!("reading back: {e}")))?;
            dst.copy_from_slice(&view[..dst.len()]);
        }
        self.raw.unmap();
        Ok(())
    }
}

/// Host-writable memory that inputs are uploaded from.
pub struct Staging {
    raw: wgpu::Buffer,
    bytes: u64,
}

impl Staging {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Fills the staging memory with `data`; [`Encoder::upload`] then copies it to the device.
    pub fn write<T: Element>(&self, data: &[T]) -> Result<(), GpuError> {
        let ctx = context()?;
        let src: &[u8] = bytemuck::cast_slice(data);
        if src.len() as u64 > self.bytes {
            return Err(GpuError(format!(
                "writing {} bytes into a staging buffer of {}",
                src.len(),
                self.bytes
            )));
        }
        ctx.map(&self.raw, self.bytes, wgpu::MapMode::Write)?;
        {
            let mut view = self
                .raw
                .get_mapped_range_mut(..self.bytes.next_multiple_of(4).max(4))
                .map_err(|e| GpuError(format!("staging: {e}")))?;
            view.slice(..src.len()).copy_from_slice(src);
        }
        self.raw.unmap();
        Ok(())
    }
}

/// A compiled compute pipeline and the layout of its bindings.
pub struct Pipeline {
    name: String,
    raw: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    bindings: Vec<Binding>,
    fingerprint: u64,
}

impl Pipeline {
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Buffers bound to a pipeline.
pub struct BindGroup {
    raw: wgpu::BindGroup,
}

/// Commands being recorded for one submission.
pub struct Encoder<'a> {
    ctx: &'a GpuContext,
    raw: wgpu::CommandEncoder,
    timer: Option<&'a mut Timer>,
}

impl Encoder<'_> {
    /// Starts the stage `name` here (and ends the previous one). Without a timer, nothing.
    pub fn stage(&mut self, name: &'static str) {
        if let Some(t) = self.timer.as_deref_mut() {
            t.mark(&mut self.raw, Some(name));
        }
    }

    /// Runs `workgroups` workgroups of `pipeline`, spread over x, y, z when they exceed the
    /// per-dimension limit (the shader uses [`super::WGSL_FLAT_WORKGROUP`]).
    pub fn dispatch(&mut self, pipeline: &Pipeline, bind: &BindGroup, workgroups: u32) {
        let g = grid(
            workgroups,
            self.ctx.limits.max_compute_workgroups_per_dimension,
        );
        self.dispatch_grid(pipeline, bind, g);
    }

    /// Runs an explicit (x, y, z) grid of workgroups.
    pub fn dispatch_grid(&mut self, pipeline: &Pipeline, bind: &BindGroup, [x, y, z]: [u32; 3]) {
        let mut pass = self.raw.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(&pipeline.name),
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipeline.raw);
        pass.set_bind_group(0, &bind.raw, &[]);
        pass.dispatch_workgroups(x, y, z);
    }

    /// Copies `bytes` bytes between device buffers.
    pub fn copy(
        &mut self,
        src: &Buffer,
        src_offset: u64,
        dst: &Buffer,
        dst_offset: u64,
        bytes: u64,
    ) {
        self.raw
            .copy_buffer_to_buffer(&src.raw, src_offset, &dst.raw, dst_offset, bytes);
    }

    /// Copies staged input to the device buffer `dst`.
    pub fn upload(&mut self, src: &Staging, dst: &Buffer) {
        let bytes = src.bytes.min(dst.bytes).next_multiple_of(4);
        self.raw
            .copy_buffer_to_buffer(&src.raw, 0, &dst.raw, 0, bytes);
    }

    /// Copies the device buffer `src` to host-readable memory.
    pub fn download(&mut self, src: &Buffer, dst: &Readback) {
        let bytes = src.bytes.min(dst.bytes).next_multiple_of(4);
        self.raw
            .copy_buffer_to_buffer(&src.raw, 0, &dst.raw, 0, bytes);
    }

    /// Fills a buffer with zeros.
    pub fn clear(&mut self, buffer: &Buffer) {
        self.raw.clear_buffer(&buffer.raw, 0, None);
    }

    /// Submits the commands and waits for the device to finish them.
    pub fn submit(mut self) -> Result<(), GpuError> {
        if let Some(t) = self.timer.as_deref_mut() {
            t.mark(&mut self.raw, None);
            t.resolve(&mut self.raw);
        }
        let Encoder { ctx, raw, timer } = self;
        let start = Instant::now();
        ctx.scoped("submitting GPU work", || {
            ctx.queue.submit([raw.finish()]);
        })?;
        ctx.wait()?;
        if let Some(t) = timer {
            t.submitted(start.elapsed())?;
        }
        Ok(())
    }
}

/// Work submitted with [`Encoder::submit_async`], possibly still running on the device.
pub struct Submission {
    index: wgpu::SubmissionIndex,
}

impl Encoder<'_> {
    /// Submits the commands WITHOUT waiting: the host goes on (stages the next upload, reads
    /// back an earlier result) while the device works — how a pipeline keeps the device
    /// busy. Wait for this submission alone with [`GpuContext::wait_for`] or
    /// [`Readback::read_into_after`] (not for later ones, unlike [`Encoder::submit`]).
    /// Timer marks are resolved as in `submit`; without timestamp queries nothing is timed.
    pub fn submit_async(mut self) -> Result<Submission, GpuError> {
        if let Some(t) = self.timer.as_deref_mut() {
            t.mark(&mut self.raw, None);
            t.resolve(&mut self.raw);
        }
        let Encoder { ctx, raw, .. } = self;
        let index = ctx.scoped("submitting GPU work", || ctx.queue.submit([raw.finish()]))?;
        Ok(Submission { index })
    }
}

impl GpuContext {
    /// Waits until `submission` (and all work submitted before it) has finished, but not
    /// for anything submitted after it.
    pub fn wait_for(&self, submission: &Submission) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission.index.clone()),
                timeout: None,
            })
            .map_err(|e| GpuError(format!("waiting for the device: {e}")))?;
        self.check()
    }
}

impl Readback {
    /// Like [`Readback::read_into`] for a download recorded in `submission`: waits for that
    /// submission only, so later submissions keep the device busy meanwhile.
    pub fn read_into_after<T: Element>(
        &self,
        submission: &Submission,
        out: &mut [T],
    ) -> Result<(), GpuError> {
        let ctx = context()?;
        let dst: &mut [u8] = bytemuck::cast_slice_mut(out);
        if dst.len() as u64 > self.bytes {
            return Err(GpuError(format!(
                "reading {} bytes from a readback buffer of {}",
                dst.len(),
                self.bytes
            )));
        }
        let range = ..self.bytes.next_multiple_of(4).max(4);
        let (tx, rx) = std::sync::mpsc::channel();
        self.raw
            .slice(range)
            .map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
        ctx.wait_for(submission)?;
        // As in `GpuContext::map`: another thread's poll may run the callback a moment later.
        let deadline = Instant::now() + MAP_ANSWER_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(1)) {
                Ok(Ok(())) => break,
                Ok(Err(e)) => return Err(GpuError(format!("mapping a buffer: {e}"))),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    ctx.check()?;
                    return Err(GpuError(
                        "mapping a buffer: wgpu dropped the request unanswered".into(),
                    ));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if Instant::now() > deadline {
                        return Err(GpuError(format!(
                            "mapping a buffer: no answer {MAP_ANSWER_TIMEOUT:?} after its \
                             submission finished"
                        )));
                    }
                    ctx.wait_for(submission)?;
                }
            }
        }
        {
            let view = self
                .raw
                .get_mapped_range(range)
                .map_err(|e| GpuError(format!("reading back: {e}")))?;
            dst.copy_from_slice(&view[..dst.len()]);
        }
        self.raw.unmap();
        Ok(())
    }
}

/// Times the stages of a run: device timestamps around what the encoder records between
/// [`Encoder::stage`] marks, plus host time added with [`Timer::time`] (mapping and
/// copying on the host). Without timestamp queries, each submission's host wall time counts
/// as `compute` (device copies included).
pub struct Timer {
    queries: Option<Queries>,
    capacity: u32,
    /// Per query index: the stage that starts there, or `None` for the end of a submission.
    marks: Vec<Option<&'static str>>,
    host: Vec<Stage>,
}

struct Queries {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// Nanoseconds per tick.
    period: f64,
    /// `CommandEncoder::write_timestamp` allowed; else an empty pass carries the timestamp.
    inside_encoders: bool,
}

impl Timer {
    /// A timer for up to `marks` stage marks per run (count the end of each submission too).
    pub fn new(ctx: &GpuContext, marks: u32) -> Result<Timer, GpuError> {
        let capacity = marks.max(2);
        let queries = if ctx.has_timestamps() {
            let bytes = capacity as u64 * wgpu::QUERY_SIZE as u64;
            let (set, resolve, readback) = ctx.scoped("creating timestamp queries", || {
                let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("timer"),
                    ty: wgpu::QueryType::Timestamp,
                    count: capacity,
                });
                let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timer resolve"),
                    size: bytes,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                });
                let readback = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timer readback"),
                    size: bytes,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                (set, resolve, readback)
            })?;
            Some(Queries {
                set,
                resolve,
                readback,
                period: ctx.queue.get_timestamp_period() as f64,
                inside_encoders: ctx
                    .features
                    .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS),
            })
        } else {
            None
        };
        Ok(Timer {
            queries,
            capacity,
            marks: Vec::new(),
            host: Vec::new(),
        })
    }

    /// Forgets the previous run's stages. Call at the start of each run.
    pub fn reset(&mut self) {
        self.marks.clear();
        self.host.clear();
    }

    /// Runs `f` and adds its host time to the stage `name`.
    pub fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.add(name, start.elapsed());
        out
    }

    /// Adds `time` to the stage `name`.
    pub fn add(&mut self, name: &'static str, time: Duration) {
        match self.host.iter_mut().find(|s| s.name == name) {
            Some(s) => s.time += time,
            None => self.host.push(Stage { name, time }),
        }
    }

    fn mark(&mut self, encoder: &mut wgpu::CommandEncoder, stage: Option<&'static str>) {
        let Some(q) = &self.queries else {
            return;
        };
        let index = self.marks.len() as u32;
        if index >= self.capacity {
            // Recorded as a marker so that `submitted` reports it.
            self.marks.push(stage);
            return;
        }
        if q.inside_encoders {
            encoder.write_timestamp(&q.set, index);
        } else {
            // An empty pass whose only content is its start timestamp (TIMESTAMP_QUERY).
            encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("timestamp"),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &q.set,
                    beginning_of_pass_write_index: Some(index),
                    end_of_pass_write_index: None,
                }),
            });
        }
        self.marks.push(stage);
    }

    fn resolve(&mut self, encoder: &mut wgpu::CommandEncoder) {
        let Some(q) = &self.queries else {
            return;
        };
        // Resolve every query so far (the destination offset must be 256-aligned, so earlier
        // submissions' queries are resolved again, to the same values).
        let n = (self.marks.len() as u32).min(self.capacity);
        if n > 0 {
            encoder.resolve_query_set(&q.set, 0..n, &q.resolve, 0);
            encoder.copy_buffer_to_buffer(&q.resolve, 0, &q.readback, 0, n as u64 * 8);
        }
    }

    fn submitted(&mut self, wall: Duration) -> Result<(), GpuError> {
        if self.queries.is_none() {
            self.add("compute", wall);
        }
        if self.marks.len() > self.capacity as usize {
            return Err(GpuError(format!(
                "Timer::new was given {} marks, the run made {}: raise it",
                self.capacity,
                self.marks.len()
            )));
        }
        Ok(())
    }

    /// The stages of the last run, in order of first appearance, device and host parts of
    /// the same name added together.
    pub fn stages(&self) -> Vec<Stage> {
        let mut out: Vec<Stage> = Vec::new();
        let mut add =
            |name: &'static str, time: Duration| match out.iter_mut().find(|s| s.name == name) {
                Some(s) => s.time += time,
                None => out.push(Stage { name, time }),
            };
        if let (Some(q), Ok(ctx)) = (&self.queries, context()) {
            let n = self.marks.len().min(self.capacity as usize);
            if n > 1
                && ctx
                    .map(&q.readback, n as u64 * 8, wgpu::MapMode::Read)
                    .is_ok()
            {
                if let Ok(view) = q.readback.get_mapped_range(..n as u64 * 8) {
                    let ticks: &[u64] = bytemuck::cast_slice(&view);
                    for i in 0..n - 1 {
                        if let Some(name) = self.marks[i] {
                            let dt = ticks[i + 1].saturating_sub(ticks[i]) as f64 * q.period;
                            add(name, Duration::from_nanos(dt.round() as u64));
                        }
                    }
                }
                q.readback.unmap();
            }
        }
        for s in &self.host {
            add(s.name, s.time);
        }
        out
    }
}

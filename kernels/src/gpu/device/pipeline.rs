//! Compute pipelines compiled from WGSL (cached by name in the context, compiled once per
//! process) and the bind groups that attach buffers to their bindings.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::super::faults::FaultKind;
use super::super::{Binding, GpuError};
use super::buffers::Slice;
use super::context::{GpuContext, lock};

impl GpuContext {
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
        let entries = layout_entries(bindings);
        let (wgsl, what) = self.inject_compile_error(name, wgsl);
        let (raw, layout) = self.scoped(&what, || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(wgsl),
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

    /// The source to compile and how to name the step in an error: the injected fault
    /// `HARNESS_GPU_FAULT=shader` (`gpu::faults`) appends a syntax error to the pipelines it
    /// aims at, so that compilation fails through wgpu's own error path.
    fn inject_compile_error<'s>(&self, name: &str, wgsl: &'s str) -> (Cow<'s, str>, String) {
        let aimed = self
            .fault
            .as_ref()
            .is_some_and(|f| f.hits(FaultKind::Shader, name));
        if aimed {
            let broken = format!("{wgsl}\nfn injected_fault( {{\n");
            let what = format!(
                "compiling shader `{name}` (a syntax error injected by {})",
                self.fault_text()
            );
            (Cow::Owned(broken), what)
        } else {
            (Cow::Borrowed(wgsl), format!("compiling shader `{name}`"))
        }
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
}

/// The bind group layout entries of `bindings` (group 0, binding i, compute stage).
fn layout_entries(bindings: &[Binding]) -> Vec<wgpu::BindGroupLayoutEntry> {
    bindings
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
        .collect()
}

/// A compiled compute pipeline and the layout of its bindings.
pub struct Pipeline {
    pub(super) name: String,
    pub(super) raw: wgpu::ComputePipeline,
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
    pub(super) raw: wgpu::BindGroup,
}

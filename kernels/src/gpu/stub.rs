//! The GPU API without the `gpu` feature: the same names, and `context()` says why there
//! is no device. Every other type holds a value of the empty type [`Never`], so none can
//! be made and their methods are unreachable by construction.

use std::sync::Arc;
use std::time::Duration;

use super::{AdapterSummary, Binding, GpuError};
use crate::variant::Stage;

/// Plain data that can be copied to and from GPU buffers byte for byte.
pub trait Element: Copy + 'static {}

macro_rules! elements {
    ($($t:ty),*) => { $(impl Element for $t {})* };
}
elements!(
    f32, f64, u32, i32, [f32; 2], [f64; 2], [u32; 2], [f32; 4], [f64; 4], [u32; 4]
);

#[derive(Clone, Copy)]
enum Never {}

const NOT_BUILT: &str = "built without the `gpu` feature: rebuild with default features \
     (cargo build --release) to run the GPU variants";

pub fn context() -> Result<&'static GpuContext, GpuError> {
    Err(GpuError(NOT_BUILT.into()))
}

/// Nothing to renew without a device.
pub fn renew_if_lost() {}

pub struct GpuContext(Never);

impl GpuContext {
    pub fn summary(&self) -> &AdapterSummary {
        match self.0 {}
    }
    pub fn has_f64(&self) -> bool {
        match self.0 {}
    }
    pub fn has_timestamps(&self) -> bool {
        match self.0 {}
    }
    pub fn max_binding_bytes(&self) -> u64 {
        match self.0 {}
    }
    pub fn max_workgroup_storage_bytes(&self) -> u64 {
        match self.0 {}
    }
    pub fn max_buffer_bytes(&self) -> u64 {
        match self.0 {}
    }
    pub fn chunks(&self, _len: usize, _elem_bytes: usize) -> Vec<std::ops::Range<usize>> {
        match self.0 {}
    }
    pub fn check_binding(&self, _what: &str, _bytes: u64) -> Result<(), GpuError> {
        match self.0 {}
    }
    pub fn check_buffer(&self, _what: &str, _bytes: u64) -> Result<(), GpuError> {
        match self.0 {}
    }
    pub fn storage_from<T: Element>(&self, _label: &str, _data: &[T]) -> Result<Buffer, GpuError> {
        match self.0 {}
    }
    pub fn storage(&self, _label: &str, _bytes: u64) -> Result<Buffer, GpuError> {
        match self.0 {}
    }
    pub fn uniform_from<T: Element>(&self, _label: &str, _data: &[T]) -> Result<Buffer, GpuError> {
        match self.0 {}
    }
    pub fn readback(&self, _label: &str, _bytes: u64) -> Result<Readback, GpuError> {
        match self.0 {}
    }
    pub fn staging(&self, _label: &str, _bytes: u64) -> Result<Staging, GpuError> {
        match self.0 {}
    }
    pub fn write<T: Element>(
        &self,
        _buffer: &Buffer,
        _offset: u64,
        _data: &[T],
    ) -> Result<(), GpuError> {
        match self.0 {}
    }
    pub fn read<T: Element>(&self, _buffer: &Buffer) -> Result<Vec<T>, GpuError> {
        match self.0 {}
    }
    pub fn pipeline(
        &self,
        _name: &str,
        _wgsl: &str,
        _entry: &str,
        _bindings: &[Binding],
    ) -> Result<Arc<Pipeline>, GpuError> {
        match self.0 {}
    }
    pub fn bind(&self, _pipeline: &Pipeline, _slices: &[Slice<'_>]) -> Result<BindGroup, GpuError> {
        match self.0 {}
    }
    pub fn encoder<'a>(&'a self, _label: &str, _timer: Option<&'a mut Timer>) -> Encoder<'a> {
        match self.0 {}
    }
}

#[derive(Clone)]
pub struct Buffer(Never);

impl Buffer {
    pub fn bytes(&self) -> u64 {
        match self.0 {}
    }
    pub fn slice(&self, _range: std::ops::Range<u64>) -> Slice<'_> {
        match self.0 {}
    }
}

#[derive(Clone, Copy)]
pub struct Slice<'a>(Never, std::marker::PhantomData<&'a Buffer>);

impl<'a> From<&'a Buffer> for Slice<'a> {
    fn from(buffer: &'a Buffer) -> Self {
        match buffer.0 {}
    }
}

pub struct Readback(Never);

impl Readback {
    pub fn bytes(&self) -> u64 {
        match self.0 {}
    }
    pub fn read_into<T: Element>(&self, _out: &mut [T]) -> Result<(), GpuError> {
        match self.0 {}
    }
    pub fn read_converted<S: Element + Sync, D: Send>(
        &self,
        _out: &mut [D],
        _convert: impl Fn(S) -> D + Sync,
    ) -> Result<(), GpuError> {
        match self.0 {}
    }
}

pub struct Staging(Never);

impl Staging {
    pub fn bytes(&self) -> u64 {
        match self.0 {}
    }
    pub fn write<T: Element>(&self, _data: &[T]) -> Result<(), GpuError> {
        match self.0 {}
    }
}

pub struct Pipeline(Never);

impl Pipeline {
    pub fn name(&self) -> &str {
        match self.0 {}
    }
}

pub struct BindGroup(Never);

pub struct Encoder<'a>(Never, std::marker::PhantomData<&'a mut Timer>);

impl Encoder<'_> {
    pub fn stage(&mut self, _name: &'static str) {
        match self.0 {}
    }
    pub fn dispatch(&mut self, _pipeline: &Pipeline, _bind: &BindGroup, _workgroups: u32) {
        match self.0 {}
    }
    pub fn dispatch_grid(&mut self, _pipeline: &Pipeline, _bind: &BindGroup, _grid: [u32; 3]) {
        match self.0 {}
    }
    pub fn copy(
        &mut self,
        _src: &Buffer,
        _src_offset: u64,
        _dst: &Buffer,
        _dst_offset: u64,
        _bytes: u64,
    ) {
        match self.0 {}
    }
    pub fn upload(&mut self, _src: &Staging, _dst: &Buffer) {
        match self.0 {}
    }
    pub fn download(&mut self, _src: &Buffer, _dst: &Readback) {
        match self.0 {}
    }
    pub fn clear(&mut self, _buffer: &Buffer) {
        match self.0 {}
    }
    pub fn submit(self) -> Result<(), GpuError> {
        match self.0 {}
    }
}

pub struct Timer(Never);

impl Timer {
    pub fn new(ctx: &GpuContext, _marks: u32) -> Result<Timer, GpuError> {
        match ctx.0 {}
    }
    pub fn reset(&mut self) {
        match self.0 {}
    }
    pub fn time<T>(&mut self, _name: &'static str, _f: impl FnOnce() -> T) -> T {
        match self.0 {}
    }
    pub fn add(&mut self, _name: &'static str, _time: Duration) {
        match self.0 {}
    }
    pub fn stages(&self) -> Vec<Stage> {
        match self.0 {}
    }
}

/// Work submitted with `Encoder::submit_async` (never, without the `gpu` feature).
pub struct Submission(Never);

impl Encoder<'_> {
    pub fn submit_async(self) -> Result<Submission, GpuError> {
        match self.0 {}
    }
}

impl GpuContext {
    pub fn wait_for(&self, _submission: &Submission) -> Result<(), GpuError> {
        match self.0 {}
    }
}

impl Readback {
    pub fn read_into_after<T: Element>(
        &self,
        _submission: &Submission,
        _out: &mut [T],
    ) -> Result<(), GpuError> {
        match self.0 {}
    }
}

//! Device memory and the host side of it: storage and uniform buffers, byte ranges of
//! them to bind, the host-mapped readback and staging spaces, and the mapping (with its
//! wait for the device) that moves bytes between those and the host.

use std::time::{Duration, Instant};

use super::super::GpuError;
use super::super::faults::FaultKind;
use super::context::{GpuContext, context, out_of_memory};
use super::encoder::Submission;

/// How long a mapping may stay unanswered after the device has finished all submitted work
/// (the answer normally arrives within microseconds; see `GpuContext::map`).
const MAP_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes per task when moving data between mapped and host memory: far more work than
/// rayon's hand-off costs, and a 64 MiB download still shared among 16 threads 64 ways.
const COPY_CHUNK: usize = 1 << 20;

/// `dst.copy_from_slice(src)` over the pool's threads. One thread's copy out of mapped
/// memory is bounded by one core's memory bandwidth: on the H200 machine's host the PSF's
/// three 4096² downloads (copied, then widened to f64) took 80–106 ms of a 102–125 ms run
/// whose device work took 4–23 ms.
fn par_copy(dst: &mut [u8], src: &[u8]) {
    use rayon::prelude::*;
    dst.par_chunks_mut(COPY_CHUNK)
        .zip(src.par_chunks(COPY_CHUNK))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

/// `out[i] = convert(src[i])` over the pool's threads, `src` the mapped bytes of `out.len()`
/// values of `S` (copied first where the mapping is not aligned for `S`).
fn par_convert<S: Element + Sync, D: Send>(
    src: &[u8],
    out: &mut [D],
    convert: impl Fn(S) -> D + Sync,
) {
    use rayon::prelude::*;
    let n = COPY_CHUNK / std::mem::size_of::<S>();
    let mut spread = |typed: &[S]| {
        out.par_chunks_mut(n)
            .zip(typed.par_chunks(n))
            .for_each(|(o, s)| o.iter_mut().zip(s).for_each(|(o, &s)| *o = convert(s)));
    };
    match bytemuck::try_cast_slice::<u8, S>(src) {
        Ok(typed) => spread(typed),
        Err(_) => spread(&bytemuck::pod_collect_to_vec::<u8, S>(src)),
    }
}

/// Plain data that can be copied to and from GPU buffers byte for byte.
pub trait Element: bytemuck::Pod {}

macro_rules! elements {
    ($($t:ty),*) => { $(impl Element for $t {})* };
}
elements!(
    f32, f64, u32, i32, [f32; 2], [f64; 2], [u32; 2], [f32; 4], [f64; 4], [u32; 4]
);

impl GpuContext {
    fn buffer(
        &self,
        label: &str,
        bytes: u64,
        usage: wgpu::BufferUsages,
        init: Option<&[u8]>,
    ) -> Result<wgpu::Buffer, GpuError> {
        // Copies and mappings work in multiples of 4 bytes; empty arrays still get a buffer.
        let size = bytes.max(4).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        self.check_buffer(&format!("`{label}`"), size)?;
        let (size, what, aimed) = self.inject_oom(label, size, init.is_some());
        let buffer = self.scoped(&what, || {
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
        })?;
        if aimed {
            // wgpu allocated it: the adapter reports no memory budget (lavapipe has none),
            // so wgpu could not refuse it. Refuse it here, in the words of the error scope.
            buffer.destroy();
            return Err(GpuError(out_of_memory(
                &what,
                "refused by the harness: this adapter reports no memory budget to wgpu",
            )));
        }
        Ok(buffer)
    }

    /// The size to ask wgpu for and how to name the allocation in an error: under the
    /// injected fault `HARNESS_GPU_FAULT=oom` (`gpu::faults`), an aimed allocation asks for
    /// the largest buffer, far past the 1 % memory budget that the fault sets, and wgpu
    /// refuses it as out of memory. Where the adapter reports no memory budget (lavapipe),
    /// wgpu cannot refuse it and `buffer` does, with the same message. (An
    /// initialised buffer keeps its size: its contents are copied in at creation.)
    fn inject_oom(&self, label: &str, size: u64, initialised: bool) -> (u64, String, bool) {
        let aimed = self
            .fault
            .as_ref()
            .is_some_and(|f| f.hits(FaultKind::Oom, label));
        if aimed && !initialised {
            let largest =
                self.max_buffer_bytes() / wgpu::COPY_BUFFER_ALIGNMENT * wgpu::COPY_BUFFER_ALIGNMENT;
            let what = format!(
                "allocating `{label}` ({} asked for by {})",
                super::super::faults::human_bytes(largest),
                self.fault_text()
            );
            (largest.max(size), what, true)
        } else {
            (size, format!("allocating `{label}`"), false)
        }
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

    /// Host-readable space that a run downloads into
    /// ([`Encoder::download`](super::Encoder::download)).
    pub fn readback(&self, label: &str, bytes: u64) -> Result<Readback, GpuError> {
        let usage = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        let raw = self.buffer(label, bytes, usage, None)?;
        Ok(Readback { raw, bytes })
    }

    /// Host-writable space that a run uploads from
    /// ([`Encoder::upload`](super::Encoder::upload)).
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
    pub(super) fn map(
        &self,
        buffer: &wgpu::Buffer,
        bytes: u64,
        mode: wgpu::MapMode,
    ) -> Result<(), GpuError> {
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
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

/// A device buffer (storage or uniform). Cloning gives another handle to the same memory.
#[derive(Clone)]
pub struct Buffer {
    pub(super) raw: wgpu::Buffer,
    /// Bytes asked for (the allocation may be rounded up to 4).
    pub(super) bytes: u64,
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
    pub(super) buffer: &'a Buffer,
    pub(super) offset: u64,
    pub(super) size: u64,
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
    pub(super) raw: wgpu::Buffer,
    pub(super) bytes: u64,
}

impl Readback {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Copies the downloaded bytes into `out`
    /// (after [`Encoder::submit`](super::Encoder::submit) has waited).
    pub fn read_into<T: Element>(&self, out: &mut [T]) -> Result<(), GpuError> {
        let ctx = context()?;
        let dst: &mut [u8] = bytemuck::cast_slice_mut(out);
        self.check_fits(dst.len())?;
        ctx.map(&self.raw, self.bytes, wgpu::MapMode::Read)?;
        self.consume(|view| par_copy(dst, &view[..dst.len()]))
    }

    /// Like [`Readback::read_into`], converting each downloaded `S` on the way (f32 results
    /// widened into the f64 arrays a variant outputs), without a host copy in between.
    pub fn read_converted<S: Element + Sync, D: Send>(
        &self,
        out: &mut [D],
        convert: impl Fn(S) -> D + Sync,
    ) -> Result<(), GpuError> {
        let ctx = context()?;
        let len = out.len() * std::mem::size_of::<S>();
        self.check_fits(len)?;
        ctx.map(&self.raw, self.bytes, wgpu::MapMode::Read)?;
        self.consume(|view| par_convert(&view[..len], out, convert))
    }

    fn check_fits(&self, bytes: usize) -> Result<(), GpuError> {
        if bytes as u64 > self.bytes {
            return Err(GpuError(format!(
                "reading {bytes} bytes from a readback buffer of {}",
                self.bytes
            )));
        }
        Ok(())
    }

    /// Hands the mapped bytes (mapping done, its wait over) to `read`, then unmaps.
    fn consume(&self, read: impl FnOnce(&[u8])) -> Result<(), GpuError> {
        {
            let view = self
                .raw
                .get_mapped_range(..self.bytes.next_multiple_of(4).max(4))
                .map_err(|e| GpuError(format!("reading back: {e}")))?;
            read(&view);
        }
        self.raw.unmap();
        Ok(())
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
        self.check_fits(dst.len())?;
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
        self.consume(|view| par_copy(dst, &view[..dst.len()]))
    }
}

/// Host-writable memory that inputs are uploaded from.
pub struct Staging {
    pub(super) raw: wgpu::Buffer,
    pub(super) bytes: u64,
}

impl Staging {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Fills the staging memory with `data`; [`Encoder::upload`](super::Encoder::upload)
    /// then copies it to the device.
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
        // Disjoint ranges of the one mapping, each written by one of the pool's threads (a
        // view of mapped memory is `WriteOnly` and stays on the thread that made it): one
        // core's copy took 419 ms of the 711 ms that 10⁷ LM fits took on the H200 machine.
        let written = {
            use rayon::prelude::*;
            src.par_chunks(COPY_CHUNK)
                .enumerate()
                .try_for_each(|(k, part)| {
                    let start = (k * COPY_CHUNK) as u64;
                    let mut view = self
                        .raw
                        .get_mapped_range_mut(start..start + part.len() as u64)
                        .map_err(|e| GpuError(format!("staging: {e}")))?;
                    view.slice(..).copy_from_slice(part);
                    Ok(())
                })
        };
        self.raw.unmap();
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_copies_and_conversions_cover_every_chunk() {
        // Two and a half chunks: whole chunks and a partial last one.
        let src: Vec<u8> = (0..COPY_CHUNK * 5 / 2)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut dst = vec![0u8; src.len()];
        par_copy(&mut dst, &src);
        assert_eq!(dst, src);

        let values: Vec<f32> = (0..COPY_CHUNK / 2 + 3).map(|i| i as f32 * 0.5).collect();
        let bytes: &[u8] = bytemuck::cast_slice(&values);
        let mut out = vec![f64::NAN; values.len()];
        par_convert(bytes, &mut out, |v: f32| v as f64);
        assert!(out.iter().zip(&values).all(|(&o, &v)| o == v as f64));
        // A mapping not aligned for f32 is copied to aligned memory first.
        let mut shifted = vec![0u8; bytes.len() + 1];
        shifted[1..].copy_from_slice(bytes);
        let mut out = vec![f64::NAN; values.len()];
        par_convert(&shifted[1..], &mut out, |v: f32| v as f64);
        assert!(out.iter().zip(&values).all(|(&o, &v)| o == v as f64));
    }
}

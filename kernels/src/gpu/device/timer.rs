//! Stage timing: device timestamp queries written at the encoder's stage marks, resolved at
//! each submission and read back after the run, plus host time added around host work.

use std::time::{Duration, Instant};

use super::super::GpuError;
use super::context::{GpuContext, context};
use crate::variant::Stage;

/// Times the stages of a run: device timestamps around what the encoder records between
/// [`Encoder::stage`](super::Encoder::stage) marks, plus host time added with
/// [`Timer::time`] (mapping and copying on the host). Without timestamp queries, each
/// submission's host wall time counts as `compute` (device copies included).
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

    pub(super) fn mark(&mut self, encoder: &mut wgpu::CommandEncoder, stage: Option<&'static str>) {
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

    pub(super) fn resolve(&mut self, encoder: &mut wgpu::CommandEncoder) {
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

    pub(super) fn submitted(&mut self, wall: Duration) -> Result<(), GpuError> {
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

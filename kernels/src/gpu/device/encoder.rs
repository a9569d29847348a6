//! Recording GPU work and handing it to the device: the command encoder (stage marks,
//! dispatches, copies, uploads and downloads), submission that waits for the device, and
//! asynchronous submission with its own wait.

use std::time::Instant;

use super::super::{GpuError, grid};
use super::buffers::{Buffer, Readback, Staging};
use super::context::GpuContext;
use super::pipeline::{BindGroup, Pipeline};
use super::timer::Timer;

impl GpuContext {
    /// Starts recording commands. With a timer, [`Encoder::stage`] marks are timestamped.
    pub fn encoder<'a>(&'a self, label: &str, timer: Option<&'a mut Timer>) -> Encoder<'a> {
        let raw = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        Encoder {
            ctx: self,
            raw,
            timer,
            label: label.to_string(),
        }
    }
}

/// Commands being recorded for one submission.
pub struct Encoder<'a> {
    ctx: &'a GpuContext,
    raw: wgpu::CommandEncoder,
    timer: Option<&'a mut Timer>,
    /// Names the work in messages (and is what an injected device loss aims at).
    label: String,
}

impl Encoder<'_> {
    /// Starts the stage `name` here (and ends the previous one). Without a timer, nothing.
    pub fn stage(&mut self, name: &'static str) {
        if let Some(t) = self.timer.as_deref_mut() {
            t.mark(&mut self.raw, Some(name));
        }
    }

    /// Runs `workgroups` workgroups of `pipeline`, spread over x, y, z when they exceed the
    /// per-dimension limit (the shader uses [`crate::gpu::WGSL_FLAT_WORKGROUP`]).
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
        let Encoder {
            ctx,
            raw,
            timer,
            label,
        } = self;
        let start = Instant::now();
        ctx.scoped(&format!("submitting `{label}`"), || {
            ctx.queue.submit([raw.finish()]);
        })?;
        ctx.inject_loss_after(&label);
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
        let Encoder {
            ctx, raw, label, ..
        } = self;
        let index = ctx.scoped(&format!("submitting `{label}`"), || {
            ctx.queue.submit([raw.finish()])
        })?;
        ctx.inject_loss_after(&label);
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

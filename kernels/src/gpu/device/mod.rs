//! The wgpu implementation of the GPU plumbing (built with the `gpu` feature), one concern
//! per submodule, all re-exported here so that `crate::gpu` keeps one flat API:
//!
//! - `context`: the process's one device (Vulkan adapter probe, creation), what it can do
//!   (features, limits), and the error scopes and waits every other part goes through;
//! - `buffers`: device buffers, byte ranges to bind, host readback and staging memory, and
//!   the mapping that moves bytes between them and the host;
//! - `pipeline`: compute pipelines compiled from WGSL (cached by name) and bind groups;
//! - `encoder`: recording commands (stages, dispatches, copies) and submitting them, waited
//!   for or not;
//! - `timer`: stage times from device timestamp queries plus host time.

mod buffers;
mod context;
mod encoder;
mod pipeline;
mod timer;

pub use buffers::{Buffer, Element, Readback, Slice, Staging};
pub use context::{GpuContext, context, renew_if_lost};
pub use encoder::{Encoder, Submission};
pub use pipeline::{BindGroup, Pipeline};
pub use timer::Timer;

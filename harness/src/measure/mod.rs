//! Measurement: everything that observes a variant or the machine, below the commands and
//! above nothing but the kernels.
//!
//! - [`timing`]: warm-up until stable, then samples until a time budget (`run` only).
//! - [`rounds`]: several variants timed in shuffled rounds, so that their times pair up.
//! - [`stats`]: quantiles, bootstrap interval of the median, outliers, power-law and Amdahl fits.
//! - [`paired`]: the ratio of two variants' times with its interval, paired by round or
//!   not, and the verdict it supports.
//! - [`cpu_time`]: a process's CPU time from `/proc` (the profiler's own, a worker's).
//! - [`memory`]: bytes allocated (the counting allocator) and peak resident memory.
//! - [`ceilings`]: the machine's GEMM peak and copy bandwidth, for the roofline, and the
//!   best ones kept per machine ([`ceilings_store`]).
//! - [`drift`]: a short fixed probe between rows or rounds: how the machine's speed moved.
//! - [`machine`]: the machine fingerprint written into every row.

pub mod ceilings;
pub mod ceilings_store;
pub mod cpu_time;
pub mod drift;
pub mod gpu_ceilings;
pub mod machine;
pub mod memory;
pub mod paired;
pub mod rounds;
pub mod stats;
pub mod timing;

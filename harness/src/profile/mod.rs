//! Sampling profiles: pprof's sampler around a loop of `run()` calls only, the samples as
//! folded stacks ([`folded`]), flamegraphs (inferno, via [`flamegraph`]) and differential
//! flamegraphs ([`diff`]), and what `profile.json` records ([`Entry`], [`Manifest`]).
//! `harness profile` ([`crate::cmd::profile`]) drives it; the criterion benches
//! (`benches/`) use the same sampler and graphs.
//!
//! Sampling: pprof at 1000 Hz asked, but Linux delivers SIGPROF at most once per kernel tick
//! (250 Hz per CPU-second here), so by default a variant is sampled until the process has
//! used 8 CPU-seconds (≈2000 samples; a parallel variant gets there sooner), within a
//! wall-clock cap of 8 s shortened when many variants share the run (a whole kernel stays
//! near a minute; on a busy machine the cap comes first and the samples are fewer). The
//! sample count and the rate obtained are printed: a graph with a few hundred samples shows
//! only the broad picture. Samples that land in libc (memcpy, malloc) are dropped by the
//! blocklist that keeps unwinding safe, and code without symbols or unwind info (assembly
//! micro-kernels) shows as one `[unknown: ...]` frame.
//!
//! GPU variants: the host thread mostly waits for the device, so the CPU-side graph is thin;
//! on Mesa's software adapter the shaders run in the driver's threads, which block SIGPROF,
//! and get no samples at all. Their time is in the stage timeline.
//!
//! Stacks are cut at the sampled loop (`harness::profile::profiled_runs`, or the thread's
//! start on other threads) and, unless `--full-stacks`, runs of rayon's frames become one
//! `[rayon]` frame ([`folded::Rayon`]).
//!
//! Threads: the pool's rayon workers are named `harness-w-N` (Linux keeps 15 bytes of a
//! thread's name: bench's `harness-worker-N` would lose its number). By default they merge
//! into one root `harness-w-*` ([`folded::Threads::Merged`]): a function's width is
//! then its CPU time summed over workers — the measure a single-threaded variant's graph
//! shows, so graphs (and differential graphs) of serial and parallel variants compare.
//! `--per-thread` keeps one root per thread to show the balance between workers. Other
//! threads (a software GPU driver's, say) keep their names as roots.

pub mod diff;
pub mod files;
pub mod folded;
mod manifest;

// The one place where the `profiling` feature (pprof) is switched.
#[cfg(not(feature = "profiling"))]
#[path = "no_sampler.rs"]
mod sampler;
#[cfg(feature = "profiling")]
mod sampler;

use std::time::{Duration, Instant};

use kernels::Prepared;

pub use manifest::{Entry, Manifest};
pub use sampler::{ASKED_HZ, Labels, Sampler, flamegraph, sample};

/// Samples per CPU-second that Linux delivers here (one per 250 Hz kernel tick).
pub const TICK_HZ: f64 = 250.0;
/// Samples aimed at for a single-threaded variant with the default duration.
pub const TARGET_SAMPLES: f64 = 2000.0;
/// The whole command's sampling time aimed at when many variants share the run.
pub const TOTAL_SECONDS: f64 = 48.0;
/// Shortest default duration per variant.
pub const MIN_SECONDS: f64 = 3.0;

/// The wall-clock cap per variant: 8 s (≈2000 samples single-threaded), or ~48 s shared
/// among many variants, at least 3 s.
pub fn default_seconds(variants: usize) -> f64 {
    let full = TARGET_SAMPLES / TICK_HZ;
    (TOTAL_SECONDS / variants.max(1) as f64).clamp(MIN_SECONDS, full)
}

/// The process's CPU time (user + system, all threads), in seconds; None without `/proc`.
pub fn process_cpu_s() -> Option<f64> {
    crate::measure::cpu_time::of_process("self")
}

/// How long the sampled loop runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// Wall-clock seconds at most.
    pub seconds: f64,
    /// Stop earlier once the process has used this much CPU time (samples come per
    /// CPU-second: a parallel variant, or a quiet machine, gets its samples sooner).
    pub cpu_s: Option<f64>,
}

/// The sampled loop: only `run()` calls (and, every 50 ms, a look at the clock and at the
/// process's CPU time). A frame of its own in every graph (`harness::profile::profiled_runs`),
/// directly above the variant's `run`.
#[inline(never)]
pub fn profiled_runs(prepared: &mut dyn Prepared, budget: Budget) -> Result<Looped, String> {
    let start = Instant::now();
    let cpu0 = budget.cpu_s.and_then(|_| process_cpu_s());
    let mut last_look = start;
    let mut runs = 0u64;
    let mut last_run;
    loop {
        let t = Instant::now();
        prepared.run().map_err(|e| e.to_string())?;
        runs += 1;
        let now = Instant::now();
        last_run = now - t;
        if now.duration_since(last_look).as_secs_f64() < 0.05 {
            continue;
        }
        last_look = now;
        // Stop at the cap, or before a run that would end well past it.
        let elapsed = now.duration_since(start).as_secs_f64();
        if elapsed + 0.5 * elapsed / runs as f64 >= budget.seconds {
            break;
        }
        if let (Some(target), Some(c0)) = (budget.cpu_s, cpu0)
            && process_cpu_s().is_some_and(|c| c - c0 >= target)
        {
            break;
        }
    }
    Ok(Looped {
        runs,
        elapsed: start.elapsed(),
        last_run,
    })
}

/// What the sampled loop did.
pub struct Looped {
    pub runs: u64,
    pub elapsed: Duration,
    /// The wall time of the last run (its stages are the ones `stages()` reports).
    pub last_run: Duration,
}

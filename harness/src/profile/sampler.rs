//! The pprof side of profiling (built with the `profiling` feature): sample a closure's CPU
//! time, and draw folded stacks as inferno flamegraphs (inferno through pprof's re-export).

use std::io::Write;

use anyhow::{Context, Result};
use pprof::flamegraph::{self, Options, Palette};

use super::folded::{Frame, RawStack};

/// What pprof is asked for. Linux delivers SIGPROF at most once per kernel tick, so this
/// machine's kernel (250 Hz) gives about 250 samples per CPU-second whatever is asked.
pub const ASKED_HZ: i32 = 1000;

/// Runs `f` with the sampler on and returns its result and the raw stacks. Only `f` is
/// sampled: the report is built after it returns.
pub fn sample<T>(f: impl FnOnce() -> T) -> Result<(T, Vec<RawStack>)> {
    let sampler = Sampler::start()?;
    let out = f();
    Ok((out, sampler.finish()?))
}

/// The sampler between [`Sampler::start`] and [`Sampler::finish`] (for hooks that start and
/// stop in two calls, as criterion's `Profiler`).
pub struct Sampler(pprof::ProfilerGuard<'static>);

impl Sampler {
    pub fn start() -> Result<Sampler> {
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(ASKED_HZ)
            // The DWARF unwinder (pprof's default) keeps the callers inside libm; unwinding
            // through libc/libgcc/pthread/vdso from a signal handler can deadlock: samples
            // that land there are dropped.
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
            .context("starting the pprof sampler")?;
        Ok(Sampler(guard))
    }

    /// Stops sampling and returns the stacks. pprof drops the samples that arrive while the
    /// report is being built (it holds the profiler's lock), so the symbolisation below
    /// is not in the profile.
    pub fn finish(self) -> Result<Vec<RawStack>> {
        let report = self
            .0
            .report()
            .build()
            .context("building the pprof report")?;
        drop(self);
        Ok(report
            .data
            .iter()
            .map(|(frames, &count)| RawStack {
                thread: frames.thread_name_or_id(),
                // pprof lists the innermost frame first and, within a frame, the innermost
                // inlined function first: reversed, root → leaf.
                frames: frames
                    .frames
                    .iter()
                    .rev()
                    .flat_map(|f| {
                        f.iter().rev().map(|s| Frame {
                            name: s.name(),
                            file: s.filename().into_owned(),
                        })
                    })
                    .collect(),
                count: count.max(0) as u64,
            })
            .collect())
    }
}

/// How a flamegraph is labelled.
pub struct Labels<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    /// What a count is ("samples", "ns per run").
    pub unit: &'a str,
}

/// Draws folded lines (`root;...;leaf count`, or `... before after` for a differential
/// graph) as an SVG flamegraph. `negate`: for differential lines given as (after, before),
/// draw the before-shape with the colours of before → after.
pub fn flamegraph(
    lines: &[String],
    labels: &Labels<'_>,
    negate: bool,
    out: impl Write,
) -> Result<()> {
    let mut opt = Options::default();
    opt.title = labels.title.to_string();
    opt.subtitle = Some(labels.subtitle.to_string());
    opt.count_name = labels.unit.to_string();
    // Colours by crate family (std/core/alloc apart from ours), and the same colour for
    // the same function in every graph, so that two variants' graphs compare at a glance.
    opt.colors = Palette::Multi(flamegraph::color::MultiPalette::Rust);
    opt.hash = true;
    opt.deterministic = true;
    opt.negate_differentials = negate;
    // Frames narrower than this many pixels are left out of the SVG (not of the counts).
    opt.min_width = 0.1;
    opt.image_width = Some(1400);
    flamegraph::from_lines(&mut opt, lines.iter().map(String::as_str), out)
        .context("drawing the flamegraph")?;
    Ok(())
}

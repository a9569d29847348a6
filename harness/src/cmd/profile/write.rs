//! What `harness profile` writes per variant — the folded stacks, the top-functions table,
//! the flamegraph, the stage timeline — and its closing summary, with the lines that say so.

use anyhow::Result;
use kernels::Prepared;

use super::Ctx;
use crate::profile::files::{Out, write_new};
use crate::profile::folded::{Folded, Threads};
use crate::profile::{Entry, Labels, Manifest, TARGET_SAMPLES, TICK_HZ, flamegraph};
use crate::render::fmt::fmt_duration;
use crate::render::timeline;
use crate::results::stages::{self, RunStages};
use kernels::gate::run_guarded;

/// The folded stacks, the top-functions table and the flamegraph (none without samples),
/// with what they show printed.
pub(super) fn write_flamegraph(
    ctx: &Ctx,
    entry: &mut Entry,
    folded: &Folded,
    title: &str,
) -> Result<()> {
    let dir = &ctx.out.dir;
    let runs = entry.runs;
    let per_run = entry.seconds / runs as f64;
    let rate = entry
        .hz()
        .map(|h| format!(" (≈{h:.0} per CPU-second)"))
        .unwrap_or_default();
    let subtitle = format!(
        "{} samples{rate} over {:.1} s: {runs} runs of run() only ({} each while sampled); \
         setup and validation excluded · {} · {}",
        entry.samples,
        entry.seconds,
        fmt_duration(per_run),
        match ctx.roots {
            Threads::Merged => "worker threads merged",
            Threads::PerThread => "one root per thread",
        },
        ctx.machine.cpu
    );
    let top = folded.top();
    let table = top.render(ctx.top_rows, "samples");
    write_new(&dir.join(&entry.folded), folded.to_text().as_bytes())?;
    write_new(
        &dir.join(&entry.top),
        format!("{title}\n{subtitle}\n\n{table}").as_bytes(),
    )?;
    println!(
        "    {} samples in {:.2} CPU-s{rate} · {runs} runs, {} per run (while sampled)",
        entry.samples,
        entry.cpu_s.unwrap_or(f64::NAN),
        fmt_duration(per_run)
    );
    if folded.stacks.is_empty() {
        // Typical of GPU variants on Mesa's software adapter: the shaders run in the
        // driver's threads, which block SIGPROF, while this thread waits in libc.
        entry.flamegraph.clear();
        entry.reason = "no samples: the CPU time was spent in threads that block SIGPROF (a \
                        GPU driver's, such as Mesa lavapipe's) or in libc (blocklisted), or the \
                        run was too short"
            .into();
        println!("    {}: no flamegraph", entry.reason);
        return Ok(());
    }
    let mut svg = Vec::new();
    flamegraph(
        &folded.lines(),
        &Labels {
            title,
            subtitle: &subtitle,
            unit: "samples",
        },
        false,
        &mut svg,
    )?;
    write_new(&dir.join(&entry.flamegraph), &svg)?;
    print_sampling_notes(entry);
    println!("    flamegraph: {}", dir.join(&entry.flamegraph).display());
    for line in table.lines() {
        println!("  {line}");
    }
    Ok(())
}

/// What to make of a graph with fewer samples than hoped.
fn print_sampling_notes(entry: &Entry) {
    if entry.hz().is_some_and(|h| h < 0.8 * TICK_HZ) {
        println!(
            "    fewer samples than CPU time suggests: pprof drops samples that land in libc \
             (memcpy, malloc, futex waits: blocklisted to keep unwinding safe), samples of \
             threads that block SIGPROF (GPU drivers'), and samples that arrive while \
             another thread's is being recorded"
        );
    }
    if entry.samples < 1000 {
        println!(
            "    few samples: the graph shows the broad picture only (--seconds {:.0} for \
             ~2000)",
            (entry.seconds * TARGET_SAMPLES / entry.samples.max(1) as f64).ceil()
        );
    }
}

/// The stage timeline (`entry.timeline`, and rows of `timeline.csv`): the last sampled
/// run's stages (`first`), and up to four more runs (not sampled) while they take under a
/// second in all, each read back.
pub(super) fn stage_timeline(
    ctx: &Ctx,
    prepared: &mut dyn Prepared,
    entry: &Entry,
    gpu: bool,
    first: RunStages,
    title: &str,
) -> Result<()> {
    let per_run = entry.seconds / entry.runs as f64;
    let mut runs = vec![first];
    let more = ((1.0 / per_run.max(1e-9)) as usize).min(4);
    for _ in 0..more {
        let (r, wall) = run_guarded(prepared);
        if r.is_err() {
            break;
        }
        runs.push(RunStages {
            wall,
            stages: prepared.stages(),
        });
    }
    let machine = ctx.machine;
    let sub = if gpu {
        format!(
            "stages from the variant's timestamp queries · adapter: {} [{}]",
            machine.gpu_adapter, machine.gpu_type
        )
    } else {
        "stages timed inside the variant's run".to_string()
    };
    let svg = timeline::stages(title, &sub, &runs);
    write_new(&ctx.out.dir.join(&entry.timeline), svg.as_bytes())?;
    let rows = stages::rows(
        [
            &entry.kernel,
            &entry.case,
            &entry.variant,
            &entry.strategy,
            &entry.params,
        ],
        &runs,
    );
    stages::append_csv(&ctx.out.dir, &rows)?;
    let medians = stages::medians(&runs)
        .iter()
        .map(|(name, t)| format!("{name} {}", fmt_duration(*t)))
        .collect::<Vec<_>>()
        .join(" · ");
    println!(
        "    stages (median of {} runs): {medians} · timeline: {}",
        runs.len(),
        ctx.out.dir.join(&entry.timeline).display()
    );
    Ok(())
}

/// One line per variant: status, samples, rate, runs, time per run and hottest function.
pub(super) fn summary(m: &Manifest, out: &Out) {
    println!(
        "\n{:<34} {:>8} {:>8} {:>7} {:>6} {:>10}  hottest function (self time)",
        "variant", "status", "samples", "Hz/CPU", "runs", "per run"
    );
    for e in &m.entries {
        let hottest = if e.status == "profiled" {
            std::fs::read_to_string(out.dir.join(&e.folded))
                .ok()
                .and_then(|t| Folded::parse(&t).ok())
                .and_then(|f| f.top().by_self.into_iter().next())
                .map(|r| format!("{:.0}% {}", 100.0 * r.share, r.function))
                .unwrap_or_else(|| e.reason.clone())
        } else {
            e.reason.clone()
        };
        println!(
            "{:<34} {:>8} {:>8} {:>7} {:>6} {:>10}  {hottest}",
            e.id(),
            e.status,
            if e.status == "profiled" {
                e.samples.to_string()
            } else {
                "-".into()
            },
            e.hz().map(|h| format!("{h:.0}")).unwrap_or("-".into()),
            if e.runs > 0 {
                e.runs.to_string()
            } else {
                "-".into()
            },
            if e.runs > 0 {
                fmt_duration(e.seconds / e.runs as f64)
            } else {
                "-".into()
            }
        );
    }
    println!("\nfiles: {}", out.dir.display());
}

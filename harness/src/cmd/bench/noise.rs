//! What a bench says about the machine's state: the ceilings it uses (today's or the kept
//! best, [`crate::measure::ceilings_store`]) with a warning when today's are far below, and
//! at the end the drift its probe saw ([`crate::measure::drift`]).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use crate::measure::ceilings;
use crate::measure::ceilings_store;
use crate::measure::drift::Drift;
use crate::measure::gpu_ceilings;
use crate::measure::machine::Machine;
use crate::results::{RunManifest, utc_stamp};

/// Measures the ceilings at `threads` (the caller says so first, in its own log target),
/// merges them with those kept under `out`, records
/// both in the manifest and prints what is used.
pub(super) fn ceilings(
    manifest: &mut RunManifest,
    out: &Path,
    machine: &Machine,
    threads: &[usize],
    stop: &AtomicBool,
) {
    let measured = ceilings::measure_until(threads, stop);
    for c in &measured {
        tracing::debug!("ceilings: measured {c:?}");
    }
    let merged = ceilings_store::apply(out, machine, &measured, &utc_stamp());
    for c in &merged.used {
        println!(
            "ceilings on {} thread(s): GEMM {:.1} GFLOP/s f64, {:.1} f32 · copy {:.1} GB/s",
            c.threads, c.gemm_f64_gflops, c.gemm_f32_gflops, c.copy_gbps
        );
    }
    for c in &merged.used {
        tracing::debug!("ceilings: used {c:?}");
    }
    for b in &merged.below {
        if b.far_below {
            tracing::warn!(
                "{}: the machine is busy or throttled now; % of roofline uses the \
                 kept value, and this run's times may be slow too (see its drift at the end)",
                b.describe()
            );
        } else {
            println!("  ({}: the kept value is used)", b.describe());
        }
    }
    manifest.ceilings = merged.used;
    manifest.ceilings_measured = measured;
    manifest.ceilings_below_kept = merged.below;
}

/// Measures the GPU adapter's ceilings when the selection has a GPU variant (else says
/// why not), records them in the manifest and prints them.
pub(super) fn gpu_ceiling(manifest: &mut RunManifest, wants_gpu: bool) {
    if !wants_gpu {
        manifest.gpu_ceiling_skipped = Some("no GPU variant selected".into());
        return;
    }
    tracing::info!("measuring the GPU adapter's ceilings (copy, FMA)...");
    match gpu_ceilings::measure() {
        Ok(g) => {
            println!("{}", g.describe());
            manifest.gpu_ceiling = Some(g);
        }
        Err(why) => {
            println!("GPU ceilings skipped: {why}");
            manifest.gpu_ceiling_skipped = Some(why);
        }
    }
}

/// The closing line on the drift, and what to do when it is wide: with the results on
/// stdout, as the note on noisy rows (a caveat on the figures, not a fault of the run).
pub(super) fn print_drift(drift: Option<&Drift>) {
    let Some(d) = drift else { return };
    tracing::debug!("drift: {d:?}");
    println!("\n{}", d.describe());
    if let Some(advice) = d.advice() {
        println!("warning: {advice}");
    }
}

//! A bench row and its sinks: its identity and rates, the terminal table, and the reference
//! images saved for the report.

use anyhow::{Context, Result};
use kernels::{Instance, Output, Precision, Strategy, VariantRef};

use crate::cmd::plan::Job;
use crate::measure::ceilings::{self, Ceiling};
use crate::measure::gpu_ceilings::GpuCeiling;
use crate::measure::machine::Machine;
use crate::render::fmt::{fmt_pct, fmt_ratio, fmt_sci, fmt_time};
use crate::results::{ImageEntry, Row, utc_stamp};

/// Largest 2-D output saved for the report's image (elements).
const IMAGE_MAX: usize = 1024 * 1024;

pub(super) fn new_row(
    run_id: &str,
    job: &Job,
    instance: &dyn Instance,
    variant: VariantRef,
    threads: usize,
    machine: &Machine,
) -> Row {
    let work = instance.work();
    let size_param = job
        .kernel
        .params()
        .iter()
        .find(|p| p.is_size)
        .map(|p| p.name)
        .unwrap_or_default();
    let mut row = Row {
        run_id: run_id.into(),
        kernel: job.kernel.name().into(),
        case: job.case.clone(),
        variant: variant.name().into(),
        strategy: variant.info.strategy,
        precision: variant.info.precision,
        params: job.params.clone(),
        size_param: size_param.into(),
        size: job.params.get(size_param).unwrap_or(0.0),
        threads,
        flops: work.flops,
        bytes: work.bytes,
        items: work.items,
        timestamp: utc_stamp(),
        ..Row::default()
    }
    .with_machine(machine);
    // An external variant's language or tool, as the peers' rows have it.
    if let Some(runtime) = crate::external::runtime_of(job.kernel.name(), variant.name()) {
        row.runtime = runtime;
    }
    row
}

/// Throughput and distance to the roofline. GPU rows use the adapter's measured ceilings
/// when the run has them; without, only a software adapter's rows (it runs on these CPU
/// cores) use the CPU ceilings.
pub(super) fn rates(
    row: &mut Row,
    machine: &Machine,
    ceilings: &[Ceiling],
    gpu: Option<&GpuCeiling>,
) {
    let Some(m) = row.median_s.filter(|m| *m > 0.0) else {
        return;
    };
    row.gflops = Some(row.flops / m / 1e9);
    row.gbps = Some(row.bytes / m / 1e9);
    row.items_per_s = Some(row.items / m);
    if let (Strategy::Gpu, Some(g)) = (row.strategy, gpu) {
        gpu_rates(row, g, m);
        return;
    }
    let cpu_bound = row.strategy != Strategy::Gpu || machine.gpu_type.contains("software");
    if let Some(c) = ceilings::for_threads(ceilings, row.threads).filter(|_| cpu_bound) {
        row.peak_gflops = Some(if row.precision == Precision::F32 {
            c.gemm_f32_gflops
        } else {
            c.gemm_f64_gflops
        });
        row.peak_gbps = Some(c.copy_gbps);
        if row.bytes > 0.0 && row.flops > 0.0 {
            let limit = c.limit_gflops(row.flops / row.bytes, row.precision);
            row.roofline_pct = Some(100.0 * row.flops / m / 1e9 / limit);
        }
    }
}

/// A GPU row against the adapter's ceilings (`m`: its median seconds).
fn gpu_rates(row: &mut Row, g: &GpuCeiling, m: f64) {
    row.peak_gflops = match row.precision {
        Precision::F32 => Some(g.fma_f32_gflops),
        Precision::F64 => g.fma_f64_gflops,
    };
    row.peak_gbps = Some(g.copy_gbps);
    if row.bytes > 0.0
        && row.flops > 0.0
        && let Some(limit) = g.limit_gflops(row.flops / row.bytes, row.precision)
    {
        row.roofline_pct = Some(100.0 * row.flops / m / 1e9 / limit);
    }
}

/// Whether an output array reads as a picture: 2-D, at most `IMAGE_MAX` values, at least
/// 8 pixels a side and not a long strip (a table of fitted parameters is 2-D but no image).
pub fn is_picture(shape: &[usize]) -> bool {
    match *shape {
        [r, c] => {
            let (lo, hi) = (r.min(c), r.max(c));
            lo >= 8 && hi <= 8 * lo && r * c <= IMAGE_MAX
        }
        _ => false,
    }
}

/// Parameters as a file-name part: `n=64_seed=1`.
pub(super) fn slug(params: &str) -> String {
    params
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '=' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Saves the 2-D arrays of a problem's reference (small enough) as `.npy` for the report.
/// Each file is written whole or not at all ([`kernels::io::write_f64`]: a temporary name,
/// then a link): on a full disk the error names the file and the cause, and nothing is left
/// under its name or a temporary one, so the report shows the rest.
pub(super) fn save_images(
    run: &std::path::Path,
    job: &Job,
    output: &Output,
    source: &str,
) -> Result<Vec<ImageEntry>> {
    let dir = run.join("images");
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the folder {}", dir.display()))?;
    let slug = slug(&job.params.to_string());
    let mut entries = Vec::new();
    for (i, (name, array)) in output.arrays.iter().enumerate() {
        if !is_picture(array.shape()) {
            continue;
        }
        let suffix = if i == 0 {
            String::new()
        } else {
            format!(".{name}")
        };
        let file = format!("{}-{}-{slug}{suffix}.npy", job.kernel.name(), job.case);
        kernels::io::write_f64(&dir.join(&file), array)?;
        entries.push(ImageEntry {
            kernel: job.kernel.name().into(),
            case: job.case.clone(),
            params: job.params.clone(),
            array: name.clone(),
            file: format!("images/{file}"),
            shape: array.shape().to_vec(),
            source: source.into(),
        });
    }
    Ok(entries)
}

pub(super) fn print_header(job: &Job) {
    println!("\n{}/{} [{}]", job.kernel.name(), job.case, job.params);
    println!(
        "  {:<16} {:<11} {:<4} {:>3} {:<7} {:>8} {:>10} {:>10} {:>7} {:>6} {:>9} {:>8} {:>6}",
        "variant",
        "strategy",
        "prec",
        "thr",
        "status",
        "error",
        "setup",
        "median",
        "±CI",
        "spread",
        "speedup",
        "GFLOP/s",
        "%roof"
    );
}

/// An interleaved row's ratio: `×0.512 [0.508–0.517] vs naive: faster`; None without one.
pub fn ratio_text(r: &Row) -> Option<String> {
    use crate::render::fmt::{fmt_paired_ratio, fmt_paired_value};
    Some(match (r.ratio?, r.ratio_low, r.ratio_high) {
        (ratio, Some(low), Some(high)) => format!(
            "×{} vs {}: {}",
            fmt_paired_ratio(ratio, low, high),
            r.baseline,
            r.verdict
        ),
        // Too few rounds for an interval: the row's reason says so.
        (ratio, _, _) => format!(
            "×{} vs {}: no interval",
            fmt_paired_value(ratio),
            r.baseline
        ),
    })
}

/// What a `%roof` above 100 means, said on the row that shows one: the GFLOP/s count the
/// formula's work (the same for every variant), and an algorithmic variant (FFT, windowed,
/// factorised) does less of it; no CPU computes faster than its measured roofline.
fn above_roofline(r: &Row) -> Option<&'static str> {
    r.roofline_pct
        .filter(|p| *p > 100.0)
        .map(|_| "%roof over 100: counted on the formula's work, which this variant does less of")
}

pub(super) fn print_row(r: &Row) {
    let ci = match (r.median_s, r.ci_low_s, r.ci_high_s) {
        (Some(m), Some(lo), Some(hi)) if m > 0.0 && r.samples > 1 => {
            format!("±{:.1}%", 50.0 * (hi - lo) / m)
        }
        _ => "-".into(),
    };
    let mut note = match (r.output_summary.is_empty(), r.reason.is_empty()) {
        (true, _) => r.reason.clone(),
        (false, true) => r.output_summary.clone(),
        (false, false) => format!("{}; {}", r.output_summary, r.reason),
    };
    if let Some(text) = ratio_text(r) {
        note = if note.is_empty() {
            text
        } else {
            format!("{text}; {note}")
        };
    }
    if let Some(text) = above_roofline(r) {
        note = if note.is_empty() {
            text.into()
        } else {
            format!("{note}; {text}")
        };
    }
    if r.noisy {
        note = if note.is_empty() {
            "NOISY (spread above the threshold)".into()
        } else {
            format!("NOISY (spread above the threshold); {note}")
        };
    }
    println!(
        "  {:<16} {:<11} {:<4} {:>3} {:<7} {:>8} {:>10} {:>10} {:>7} {:>6} {:>9} {:>8} {:>6}{}",
        r.variant,
        r.strategy,
        r.precision,
        r.threads,
        r.status,
        fmt_sci(r.error),
        fmt_time(r.setup_s),
        fmt_time(r.median_s),
        ci,
        fmt_pct(r.spread.filter(|_| r.samples > 1).map(|s| 100.0 * s)),
        fmt_ratio(r.speedup_vs_naive),
        r.gflops.map(|g| format!("{g:.2}")).unwrap_or("-".into()),
        fmt_pct(r.roofline_pct),
        if note.is_empty() {
            String::new()
        } else {
            format!("  {note}")
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roofline_share_above_100_is_explained_and_one_below_is_not() {
        let row = |p| Row {
            roofline_pct: p,
            ..Row::default()
        };
        assert!(above_roofline(&row(Some(1773.0))).is_some());
        assert!(above_roofline(&row(Some(99.0))).is_none());
        assert!(above_roofline(&row(None)).is_none());
    }
}

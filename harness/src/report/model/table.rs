//! A problem's table: one row per (variant, threads, machine), the same cells for the HTML
//! and the Markdown.

use super::{Ctx, Table, TableRow, naive_median};
use crate::render::fmt::{fmt_bytes, fmt_pct, fmt_rate, fmt_ratio, fmt_sci, fmt_time};
use crate::report::data::Entry;
use crate::results::Status;

/// The column headers of a problem's table. `status` comes early so that a reader sees at
/// once which rows are results; `notes` holds the reason of a status and measurement notes.
pub const COLUMNS: [&str; 19] = [
    "variant",
    "strategy",
    "prec",
    "threads",
    "machine",
    "status",
    "median",
    "95% CI",
    "spread",
    "speedup vs naive",
    "GFLOP/s",
    "GB/s",
    "% of roofline",
    "error (tolerance)",
    "setup",
    "RSS growth",
    "heap peak",
    "alloc per run",
    "notes",
];

pub(super) fn problem_table(ctx: &Ctx, rows: &[&Entry]) -> Table {
    let mut header: Vec<&'static str> = COLUMNS.to_vec();
    if !ctx.multi_machine {
        header.retain(|h| *h != "machine");
    }
    let table_rows = rows
        .iter()
        .map(|e| TableRow {
            cells: cells(ctx, rows, e),
            class: class_of(e),
        })
        .collect();
    Table {
        header,
        rows: table_rows,
    }
}

/// The row's look: ok, noisy, python, skipped, na, failed.
fn class_of(e: &Entry) -> &'static str {
    let (r, ok) = (&e.row, e.ok());
    if !ok {
        match r.status.as_str() {
            "skipped" => "skipped",
            "n/a" => "na",
            _ => "failed",
        }
    } else if r.noisy {
        "noisy"
    } else if !e.is_rust() {
        "python"
    } else {
        "ok"
    }
}

fn status_of(e: &Entry) -> String {
    let (r, ok) = (&e.row, e.ok());
    match (ok, r.noisy) {
        (true, true) => "ok ⚠ noisy".to_string(),
        (true, false) => "ok".into(),
        (false, _) if r.status == Status::Ok => "failed".into(),
        (false, _) => r.status.to_string(),
    }
}

/// The reason of a status and the measurement notes.
fn notes_of(e: &Entry) -> String {
    let (r, ok) = (&e.row, e.ok());
    let notes = match (ok, r.noisy) {
        (true, true) => {
            let spread = format!("spread {}", fmt_pct(r.spread.map(|s| 100.0 * s)));
            if r.reason.is_empty() {
                spread
            } else {
                format!("{spread}; {}", r.reason)
            }
        }
        (false, _) if r.status == Status::Ok => "no time recorded".into(),
        _ => r.reason.clone(),
    };
    let notes = match (ok, r.output_summary.is_empty()) {
        (true, false) if notes.is_empty() => r.output_summary.clone(),
        (true, false) => format!("{}; {notes}", r.output_summary),
        _ => notes,
    };
    // Pipeline rows (a recorded timeline): throughput, latency and device busy first.
    match (ok, r.latency_s) {
        (true, Some(latency)) => {
            let mut head = format!(
                "{} images/s · latency per image {}",
                fmt_rate(r.items_per_s),
                fmt_time(Some(latency))
            );
            if let Some(b) = r.device_busy {
                head.push_str(&format!(" · device busy {}", fmt_pct(Some(100.0 * b))));
            }
            if notes.is_empty() {
                head
            } else {
                format!("{head}; {notes}")
            }
        }
        _ => notes,
    }
}

/// The row's cells, in the order of the header.
fn cells(ctx: &Ctx, rows: &[&Entry], e: &Entry) -> Vec<String> {
    let r = &e.row;
    let ok = e.ok();
    // A variant that is not ok shows no measurement at all, whatever the file says.
    let m = |v: String| if ok { v } else { String::new() };
    // Neither an interval nor a spread comes from a single sample.
    let several = |v: String| if r.samples > 1 { v } else { "-".into() };
    let naive = naive_median(rows, e.machine);
    let speedup = naive.map(|n| n / e.median());
    let mut cells = vec![
        r.variant.clone(),
        r.strategy.to_string(),
        r.precision.to_string(),
        r.threads.to_string(),
    ];
    if ctx.multi_machine {
        cells.push(ctx.data.machines[e.machine].label.clone());
    }
    cells.extend([
        status_of(e),
        m(fmt_time(r.median_s)),
        m(several(match (r.ci_low_s, r.ci_high_s) {
            (Some(lo), Some(hi)) => {
                format!("{} – {}", fmt_time(Some(lo)), fmt_time(Some(hi)))
            }
            _ => "-".into(),
        })),
        m(several(fmt_pct(r.spread.map(|s| 100.0 * s)))),
        m(fmt_ratio(speedup)),
        m(fmt_rate(r.gflops)),
        m(fmt_rate(r.gbps)),
        m(fmt_pct(ctx.data.roofline_pct(e))),
        // The error is shown for a failed validation too: it is why it failed.
        match (r.error, r.tolerance) {
            (Some(err), Some(t)) => {
                format!("{} ≤ {}", fmt_sci(Some(err)), fmt_sci(Some(t)))
            }
            (Some(err), None) => fmt_sci(Some(err)),
            _ => "-".into(),
        },
        m(fmt_time(r.setup_s)),
        m(match (r.peak_rss_mib, r.base_rss_mib) {
            (Some(p), Some(b)) => fmt_bytes(Some((p - b).max(0.0) * 1048576.0)),
            _ => "-".into(),
        }),
        m(fmt_bytes(r.heap_peak_bytes.map(|b| b as f64))),
        m(fmt_bytes(r.alloc_run_bytes.map(|b| b as f64))),
        notes_of(e),
    ]);
    cells
}

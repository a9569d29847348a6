//! `harness explain --kernel K`: the formula, the variants and the ladder of speedups.

use kernels::Params;
use std::path::{Path, PathBuf};

use anyhow::Result;
use kernels::registry;

use crate::render::fmt::fmt_time_fixed;
use crate::results::{Row, read_rows};

/// Prints the kernel's formula, every variant with its idea and file, and the measured ladder
/// from the latest run folder under `reports` that has rows for the kernel.
pub fn explain(kernel: &str, reports: &Path) -> Result<()> {
    let k = registry::kernel(kernel)?;
    println!("{}: {}\n", k.name(), k.about());
    println!(
        "More on the formula and where it comes from: the module docs in kernels/src/{}/mod.rs\n\
         (cargo doc -p kernels --open, then kernels::{}).\n",
        k.name(),
        k.name()
    );
    println!("cases:");
    for c in k.cases() {
        println!("  {:<12} {}", c.name, c.about);
    }
    println!("\nvariants (each teaches one idea; the file is the worked solution):");
    for v in k.variants() {
        println!(
            "  {:<14} {:<11} {}  {}\n  {:<14} {}",
            v.name,
            v.strategy.as_str(),
            v.precision.as_str(),
            v.idea,
            "",
            relative_source(v.file)
        );
    }
    println!();
    match latest_rows(reports, kernel) {
        Some((dir, rows)) => print_ladder(&dir, &rows),
        None => println!(
            "no measurements of {kernel} yet under {}: run\n  ./target/release/harness bench --kernel {kernel}\n\
             then `harness explain --kernel {kernel}` again for the ladder of speedups.",
            reports.display()
        ),
    }
    Ok(())
}

/// `file!()` is relative to the kernels crate's workspace; keep it as is when it already is.
fn relative_source(file: &str) -> String {
    match file.find("kernels/src/") {
        Some(i) => file[i..].to_string(),
        None => file.to_string(),
    }
}

/// The newest run folder (names start with their UTC time) whose results.csv has timed rows
/// for `kernel`, with those rows.
pub fn latest_rows(reports: &Path, kernel: &str) -> Option<(PathBuf, Vec<Row>)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(reports)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("results.csv").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter().rev().find_map(|d| {
        let rows: Vec<Row> = read_rows(&d.join("results.csv"))
            .ok()?
            .into_iter()
            .filter(|r| r.kernel == kernel && r.median_s.is_some())
            .collect();
        (!rows.is_empty()).then_some((d, rows))
    })
}

/// One table per (case, parameters): variants from slowest to fastest, with the speedup
/// over naive (or over the slowest when naive did not run at that size).
fn print_ladder(dir: &Path, rows: &[Row]) {
    println!(
        "measured ladder of speedups on this machine ({}):",
        dir.display()
    );
    let mut groups: Vec<(String, Params)> = Vec::new();
    for r in rows {
        let key = (r.case.clone(), r.params.clone());
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    for (case, params) in groups {
        let mut g: Vec<&Row> = rows
            .iter()
            .filter(|r| r.case == case && r.params == params)
            .collect();
        g.sort_by(|a, b| b.median_s.partial_cmp(&a.median_s).expect("finite times"));
        let naive = g
            .iter()
            .find(|r| r.variant == "naive" && r.threads <= 1)
            .or_else(|| g.iter().find(|r| r.variant == "naive"))
            .and_then(|r| r.median_s);
        let (base, label) = match naive {
            Some(t) => (t, "× naive"),
            None => (g[0].median_s.expect("timed"), "× slowest"),
        };
        println!("\n  {case}  {params}");
        println!(
            "  {:<14} {:<11} {:>4} {:>7} {:>12} {:>10}",
            "variant", "strategy", "prec", "threads", "median", label
        );
        for r in g {
            let t = r.median_s.expect("timed");
            println!(
                "  {:<14} {:<11} {:>4} {:>7} {:>12} {:>10.1}",
                r.variant,
                r.strategy,
                r.precision,
                r.threads,
                fmt_time_fixed(t),
                base / t
            );
        }
    }
    println!(
        "\nTimes are medians of one run on this machine; re-run bench on a quiet machine before quoting them."
    );
}

//! The Markdown summary: the advice and a compact table per problem, for terminals and
//! READMEs (the charts and images are in the HTML).

use std::fmt::Write;

use super::model::{CaseReport, KernelReport, Report, Table};
use crate::render::fmt::{fmt_pct, fmt_ratio, sig3};

/// The columns the summary keeps (the HTML has them all).
const KEEP: [&str; 13] = [
    "variant",
    "strategy",
    "prec",
    "threads",
    "machine",
    "status",
    "median",
    "95% CI",
    "speedup vs naive",
    "GFLOP/s",
    "% of roofline",
    "error (tolerance)",
    "notes",
];

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn table(t: &Table) -> String {
    let cols: Vec<usize> = KEEP.iter().filter_map(|k| t.column(k)).collect();
    let mut s = String::new();
    s.push('|');
    for &c in &cols {
        let _ = write!(s, " {} |", t.header[c]);
    }
    s.push_str("\n|");
    for &c in &cols {
        let right = !matches!(
            t.header[c],
            "variant" | "strategy" | "prec" | "machine" | "status" | "error (tolerance)" | "notes"
        );
        s.push_str(if right { "---:|" } else { "---|" });
    }
    s.push('\n');
    for r in &t.rows {
        s.push('|');
        for &c in &cols {
            let _ = write!(s, " {} |", cell(&r.cells[c]));
        }
        s.push('\n');
    }
    s
}

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Kernel benchmark summary\n");
    let _ = writeln!(
        s,
        "Generated {} by `harness report` from {} run folder(s); charts and images are in `report.html` next to this file. \
         Every timed variant was validated against its reference first.\n",
        r.generated,
        r.runs.len()
    );
    s.push_str(&machines(r));
    s.push('\n');
    for n in &r.notes {
        let _ = writeln!(s, "> {n}\n");
    }
    for k in &r.kernels {
        let _ = writeln!(s, "## {}\n", k.name);
        if !k.about.is_empty() {
            let _ = writeln!(s, "{}\n", k.about);
        }
        for c in &k.cases {
            s.push_str(&case_md(k, c));
        }
        if !k.flamegraphs.is_empty() {
            let links: Vec<String> = k
                .flamegraphs
                .iter()
                .map(|(l, h)| format!("[{l}]({h})"))
                .collect();
            let _ = writeln!(s, "Flamegraphs: {}\n", links.join(", "));
        }
    }
    s
}

/// One line per machine: what it is, its ceilings and runtimes.
fn machines(r: &Report) -> String {
    let mut s = String::new();
    for m in &r.machines {
        let ceilings = m
            .top_ceiling()
            .map(|c| {
                format!(
                    "; ceilings on {} threads: GEMM {} GFLOP/s f64, {} f32, copy {} GB/s",
                    c.threads,
                    sig3(c.gemm_f64_gflops),
                    sig3(c.gemm_f32_gflops),
                    sig3(c.copy_gbps)
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "- **{}**: {} · {} cores · {} · {} GiB · {} · GPU: {}{} (runtimes: {})",
            m.label,
            m.cpu,
            m.cores,
            m.simd,
            m.memory_gib,
            m.os,
            m.gpu,
            ceilings,
            m.runtimes.iter().cloned().collect::<Vec<_>>().join("; ")
        );
    }
    for n in &r.machine_notes {
        let _ = writeln!(s, "- {n}");
    }
    s
}

/// A case: its advice, tables, growth exponents and thread scaling.
fn case_md(k: &KernelReport, c: &CaseReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### {}/{}\n", k.name, c.name);
    for a in &c.advice {
        let _ = writeln!(s, "- {a}");
    }
    if !c.advice.is_empty() {
        s.push('\n');
    }
    for p in &c.tables {
        let _ = writeln!(s, "**{}/{} · {}**\n", k.name, c.name, p.params);
        s.push_str(&table(&p.table));
        s.push('\n');
    }
    if !c.fits.is_empty() {
        let fits: Vec<String> = c
            .fits
            .iter()
            .map(|f| format!("{} ∝ {}^{:.2}", f.label, k.size_param, f.fit.exponent))
            .collect();
        let _ = writeln!(s, "Growth exponents: {}.\n", fits.join(", "));
    }
    for f in &c.thread_fits {
        let pts: Vec<String> = f
            .points
            .iter()
            .map(|(p, _, sp, eff)| {
                format!(
                    "{p}: {} ({})",
                    fmt_ratio(Some(*sp)),
                    fmt_pct(Some(100.0 * eff))
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "Thread scaling of {} [{}]: {}; Amdahl serial fraction {:.3}.\n",
            f.label,
            f.params,
            pts.join(", "),
            f.fit.serial_fraction
        );
    }
    s
}

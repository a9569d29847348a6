//! The self-contained HTML report: inline CSS, inline SVG charts, base64 PNG images; no
//! JavaScript, no network.

use std::fmt::Write;

use super::model::{CaseReport, KernelReport, Report, Table};
use crate::render::fmt::{fmt_pct, fmt_ratio, fmt_time, sig3};
use crate::render::svg::escape;

/// An id usable in `href="#..."`.
fn anchor(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

const CSS: &str = r#"
:root { --fg: #1d2430; --muted: #5b6574; --line: #d9dee5; --bg: #ffffff; --band: #f5f7fa;
        --ok: #2e7d32; --warn: #b26a00; --bad: #c62828; --accent: #4e79a7; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; }
main { max-width: 1500px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 22px; margin: 40px 0 8px; padding-top: 12px; border-top: 3px solid var(--accent); }
h3 { font-size: 18px; margin: 28px 0 8px; }
h4 { font-size: 15px; margin: 18px 0 6px; color: var(--muted); font-weight: 600; }
p, li { max-width: 100ch; }
.muted { color: var(--muted); }
nav { background: var(--band); padding: 10px 16px; border-radius: 6px; margin: 16px 0; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; font-weight: 600; }
.advice { background: #eef4fb; border-left: 4px solid var(--accent); padding: 8px 16px; margin: 12px 0; }
.advice li { margin: 4px 0; }
.notes { background: #fff7e6; border-left: 4px solid var(--warn); padding: 8px 16px; }
.scroll { overflow-x: auto; margin: 8px 0 16px; }
table { border-collapse: collapse; font-size: 12.5px; width: 100%; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--band); position: sticky; top: 0; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.noisy td { background: #fff4e0; }
tr.python td { background: #f3f0fa; }
tr.skipped td, tr.na td { color: var(--muted); }
tr.failed td { color: var(--bad); }
td:first-child { white-space: nowrap; font-weight: 600; }
td.notes { font-size: 12px; color: var(--muted); min-width: 60ch; }
td.status { white-space: nowrap; }
td.reason { white-space: normal; }
table.compact { width: auto; }
td.error { white-space: nowrap; }
.chart { margin: 12px 0; }
.chart svg { width: 100%; height: auto; max-width: 900px; display: block; }
.pictures { display: flex; flex-wrap: wrap; gap: 24px; }
figure { margin: 0; }
figure img.map { image-rendering: pixelated; width: 384px; height: auto; border: 1px solid var(--line); }
figure img.bar { width: 384px; height: 12px; display: block; image-rendering: auto; }
.scale { display: flex; justify-content: space-between; width: 384px; font-size: 12px; color: var(--muted); }
figcaption { font-size: 13px; color: var(--muted); max-width: 384px; }
code { background: var(--band); padding: 0 4px; border-radius: 3px; }
"#;

/// Columns that hold numbers (right-aligned).
const NUMERIC: [&str; 12] = [
    "threads",
    "median",
    "95% CI",
    "spread",
    "speedup vs naive",
    "GFLOP/s",
    "GB/s",
    "% of roofline",
    "setup",
    "RSS growth",
    "heap peak",
    "alloc per run",
];

pub fn table(t: &Table) -> String {
    let mut s = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
    for h in &t.header {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    // Identity columns and status; a row without a measurement spans the rest with its reason.
    let ident = t.column("status").map_or(0, |i| i + 1);
    for r in &t.rows {
        let _ = write!(s, "<tr class=\"{}\">", r.class);
        if matches!(r.class, "skipped" | "na" | "failed") {
            for c in &r.cells[..ident] {
                let _ = write!(s, "<td>{}</td>", escape(c));
            }
            let _ = writeln!(
                s,
                "<td class=\"reason\" colspan=\"{}\">{}</td></tr>",
                t.header.len() - ident,
                escape(r.cells.last().map(String::as_str).unwrap_or(""))
            );
            continue;
        }
        for (h, c) in t.header.iter().zip(&r.cells) {
            let class = if NUMERIC.contains(h) {
                " class=\"num\""
            } else if *h == "status" {
                " class=\"status\""
            } else if *h == "notes" {
                " class=\"notes\""
            } else if *h == "error (tolerance)" {
                " class=\"error\""
            } else {
                ""
            };
            let _ = write!(s, "<td{class}>{}</td>", escape(c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table></div>\n");
    s
}

fn chart(c: &Option<super::model::Chart>) -> String {
    match c {
        Some(c) => format!(
            "<figure class=\"chart\" aria-label=\"{}\">{}</figure>\n",
            escape(&c.title),
            c.svg
        ),
        None => String::new(),
    }
}

fn case_html(k: &KernelReport, c: &CaseReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<h3 id=\"{}\">{}/{}</h3>",
        anchor(&format!("{}-{}", k.name, c.name)),
        escape(&k.name),
        escape(&c.name)
    );
    if !c.about.is_empty() {
        let _ = writeln!(s, "<p class=\"muted\">{}</p>", escape(&c.about));
    }
    if !c.advice.is_empty() {
        s.push_str(
            "<div class=\"advice\"><strong>Which variant, for which size, and why</strong><ul>\n",
        );
        for a in &c.advice {
            let _ = writeln!(s, "<li>{}</li>", escape(a));
        }
        s.push_str("</ul></div>\n");
    }
    for p in &c.tables {
        let _ = writeln!(
            s,
            "<h4>{}/{} · {}</h4>",
            escape(&k.name),
            escape(&c.name),
            escape(&p.params.to_string())
        );
        s.push_str(&table(&p.table));
        s.push_str(&chart(&p.distribution));
    }
    s.push_str(&chart(&c.bar));
    s.push_str(&chart(&c.scaling));
    s.push_str(&fits_html(c));
    s.push_str(&chart(&c.threads));
    s.push_str(&thread_fits_html(c));
    s.push_str(&pictures_html(c));
    if !c.timelines.is_empty() {
        s.push_str("<h4>Timelines (last timed run; one colour per image, hover for times)</h4>\n");
        for t in &c.timelines {
            s.push_str(&chart(&Some(t.clone())));
        }
    }
    s
}

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    s.push_str("<title>Kernel benchmark report</title>\n<style>");
    s.push_str(CSS);
    s.push_str("</style>\n</head>\n<body>\n<main>\n");
    let _ = writeln!(
        s,
        "<h1>Kernel benchmark report</h1>\n<p class=\"muted\">Generated {} by <code>harness report</code> from {} run folder(s). \
         Every variant shown with a time was validated against its reference first; a variant that failed validation \
         is listed with its error and never timed.</p>",
        escape(&r.generated),
        r.runs.len()
    );
    s.push_str(&nav(r));
    if !r.notes.is_empty() {
        s.push_str("<div class=\"notes\"><ul>\n");
        for n in &r.notes {
            let _ = writeln!(s, "<li>{}</li>", escape(n));
        }
        s.push_str("</ul></div>\n");
    }
    for k in &r.kernels {
        s.push_str(&kernel_html(k));
    }
    s.push_str(&machines_html(r));
    let _ = write!(
        s,
        "<h2 id=\"reading\">How to read this report</h2>\n<ul>\n\
        <li><b>median</b>: seconds per run, the median of the samples (short runs are grouped so that each sample lasts \
        long enough to time); <b>95% CI</b>: a bootstrap confidence interval of that median.</li>\n\
        <li><b>spread</b>: interquartile range over median. Above {} the row is flagged ⚠ noisy: the machine was busy.</li>\n\
        <li><b>speedup vs naive</b>: the naive variant's median over this one's, same machine and problem.</li>\n\
        <li><b>GFLOP/s, GB/s</b>: the kernel's nominal work (from its formula, the same for every variant) over the median. \
        A variant with a cheaper algorithm (FFT, factorised) shows an effective rate above what brute force could reach.</li>\n\
        <li><b>% of roofline</b>: GFLOP/s over min(GEMM peak, intensity × copy bandwidth), both measured by the harness on \
        this machine at the row's thread count and precision. Above 100 %, counted on the formula's work, the variant \
        does less work than the formula (an algorithmic variant), not faster arithmetic.</li>\n\
        <li><b>error</b>: max|reference − output| / max|reference|, against the tolerance stated with the reference.</li>\n\
        <li><b>RSS growth</b>: how far the process's peak resident memory rose above its level at the start, during setup \
        and one run; <b>heap peak</b>: the most heap bytes live at once in that time; <b>alloc per run</b>: bytes allocated \
        by one run (0 B: no allocation in the timed loop). Rust rows count through the harness's allocator (GPU driver \
        memory shows in RSS only); older Python rows (the former <code>scripts/peers.py</code>) used tracemalloc.</li>\n\
        <li>External variants (<code>external.toml</code>: the Python peers of <code>scripts/peers/</code>, your own \
        code) appear in the same tables, their language in the runtime column, validated against the same references \
        with the same error measure and timed with the same statistics.</li>\n</ul>\n",
        fmt_pct(Some(100.0 * r.noisy_threshold))
    );
    s.push_str("</main>\n</body>\n</html>\n");
    s
}

/// The growth exponents of a case.
fn fits_html(c: &CaseReport) -> String {
    let mut s = String::new();
    if c.fits.is_empty() {
        return s;
    }
    s.push_str("<h4>Growth exponents (least squares on log time against log size)</h4>\n<div class=\"scroll\"><table class=\"compact\"><thead><tr><th>series</th><th>exponent</th><th>R²</th><th>sizes</th></tr></thead><tbody>\n");
    for f in &c.fits {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.3}</td><td class=\"num\">{}</td></tr>",
            escape(&f.label),
            f.fit.exponent,
            f.fit.r2,
            f.fit.points
        );
    }
    s.push_str("</tbody></table></div>\n");
    s
}

/// The thread scaling table of a case.
fn thread_fits_html(c: &CaseReport) -> String {
    let mut s = String::new();
    if c.thread_fits.is_empty() {
        return s;
    }
    s.push_str("<h4>Thread scaling (speedup = T(1)/T(p), efficiency = speedup/p, Amdahl: T(p) = T(1)·(f + (1−f)/p))</h4>\n<div class=\"scroll\"><table class=\"compact\"><thead><tr><th>variant</th><th>parameters</th><th>threads</th><th>median</th><th>speedup</th><th>efficiency</th><th>serial fraction f</th><th>max speedup 1/f</th></tr></thead><tbody>\n");
    for f in &c.thread_fits {
        for (p, t, sp, eff) in &f.points {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{p}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td><td class=\"num\">{}</td></tr>",
                escape(&f.label),
                escape(&f.params.to_string()),
                fmt_time(Some(*t)),
                fmt_ratio(Some(*sp)),
                fmt_pct(Some(100.0 * eff)),
                f.fit.serial_fraction,
                if f.fit.serial_fraction > 0.0 {
                    fmt_ratio(Some(f.fit.max_speedup()))
                } else {
                    "∞".into()
                }
            );
        }
    }
    s.push_str("</tbody></table></div>\n");
    s
}

/// The output images of a case with their colour scales.
fn pictures_html(c: &CaseReport) -> String {
    let mut s = String::new();
    if c.pictures.is_empty() {
        return s;
    }
    s.push_str("<h4>Output</h4>\n<div class=\"pictures\">\n");
    for p in &c.pictures {
        let _ = writeln!(
            s,
            "<figure><img class=\"map\" alt=\"{}\" src=\"data:image/png;base64,{}\" width=\"{}\">\
             <img class=\"bar\" alt=\"colour scale\" src=\"data:image/png;base64,{}\">\
             <div class=\"scale\"><span>{}</span><span>{}</span><span>{}</span></div>\
             <figcaption>{}</figcaption></figure>",
            escape(&p.caption),
            p.png_base64,
            p.width,
            p.colour_bar_base64,
            escape(&p.lo),
            escape(&p.scale),
            escape(&p.hi),
            escape(&p.caption)
        );
    }
    s.push_str("</div>\n");
    s
}

/// Links to every kernel and case, then to the machines and the reading guide.
fn nav(r: &Report) -> String {
    let mut s = String::new();
    s.push_str("<nav>");
    for k in &r.kernels {
        let _ = write!(
            s,
            "<a href=\"#{}\">{}</a>",
            anchor(&k.name),
            escape(&k.name)
        );
        for c in &k.cases {
            let _ = write!(
                s,
                "<a class=\"muted\" href=\"#{}\">{}/{}</a>",
                anchor(&format!("{}-{}", k.name, c.name)),
                escape(&k.name),
                escape(&c.name)
            );
        }
    }
    s.push_str("<a href=\"#machines\">machines</a><a href=\"#reading\">how to read</a></nav>\n");
    s
}

/// A kernel: its cases, roofline and flamegraphs.
fn kernel_html(k: &KernelReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "<h2 id=\"{}\">{}</h2>", anchor(&k.name), escape(&k.name));
    if !k.about.is_empty() {
        let _ = writeln!(s, "<p>{}</p>", escape(&k.about));
    }
    for c in &k.cases {
        s.push_str(&case_html(k, c));
    }
    let _ = writeln!(
        s,
        "<h3 id=\"{}\">{}: roofline</h3>",
        anchor(&format!("{}-roofline", k.name)),
        escape(&k.name)
    );
    s.push_str(&chart(&k.roofline));
    let _ = writeln!(s, "<p class=\"muted\">{}</p>", escape(&k.roofline_note));
    if !k.flamegraphs.is_empty() {
        s.push_str("<h4>Flamegraphs</h4><ul>\n");
        for (label, href) in &k.flamegraphs {
            let _ = writeln!(
                s,
                "<li><a href=\"{}\">{}</a></li>",
                escape(href),
                escape(label)
            );
        }
        s.push_str("</ul>\n");
    }
    s
}

/// The machines and their ceilings, and the runs.
fn machines_html(r: &Report) -> String {
    let mut s = String::new();
    s.push_str("<h2 id=\"machines\">Machines and runs</h2>\n<div class=\"scroll\"><table><thead><tr>\
        <th>machine</th><th>CPU</th><th>cores</th><th>SIMD</th><th>memory</th><th>OS</th><th>GPU adapter</th>\
        <th>rustc</th><th>commit</th><th>runtimes</th><th>ceilings (threads: f64 / f32 GEMM GFLOP/s, copy GB/s)</th>\
        </tr></thead><tbody>\n");
    for m in &r.machines {
        let ceilings = m
            .ceilings
            .iter()
            .map(|c| {
                format!(
                    "{}: {} / {}, {}",
                    c.threads,
                    sig3(c.gemm_f64_gflops),
                    sig3(c.gemm_f32_gflops),
                    sig3(c.copy_gbps)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{} GiB</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.label),
            escape(&m.cpu),
            m.cores,
            escape(&m.simd),
            m.memory_gib,
            escape(&m.os),
            escape(&m.gpu),
            escape(&m.rustc.iter().cloned().collect::<Vec<_>>().join(", ")),
            escape(&m.commits.iter().cloned().collect::<Vec<_>>().join(", ")),
            escape(&m.runtimes.iter().cloned().collect::<Vec<_>>().join("; ")),
            escape(&ceilings)
        );
    }
    s.push_str("</tbody></table></div>\n<ul>\n");
    for (id, path, interrupted, rows) in &r.runs {
        let _ = writeln!(
            s,
            "<li><a href=\"{}\">{}</a>: {rows} row(s){}</li>",
            escape(path),
            escape(id),
            if *interrupted { " — interrupted" } else { "" }
        );
    }
    for n in &r.machine_notes {
        let _ = writeln!(s, "<li>{}</li>", escape(n));
    }
    s.push_str("</ul>\n");
    s
}

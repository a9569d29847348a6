//! A comparison as text: the terminal's aligned table and the Markdown file, the same
//! cells in both.

use std::fmt::Write as _;

use super::{Compared, Comparison, Lone, NotOk, SideInfo, fmt_ratio, fmt_threshold};
use crate::render::fmt::fmt_time;

const HEADER: [&str; 10] = [
    "kernel/case/variant",
    "parameters",
    "threads",
    "precision",
    "A median",
    "B median",
    "B/A",
    "95% interval",
    "verdict",
    "from",
];

/// Columns aligned to the right (numbers).
const NUMERIC: [bool; 10] = [
    false, false, true, false, true, true, true, true, false, false,
];

fn cells(r: &Compared) -> Vec<String> {
    let k = &r.key;
    vec![
        format!("{}/{}/{}", k.kernel, k.case, k.variant),
        k.params.to_string(),
        k.threads.to_string(),
        k.precision.as_str().to_string(),
        fmt_time(Some(r.a_median)),
        fmt_time(Some(r.b_median)),
        fmt_ratio(r.ratio),
        r.interval.map_or_else(
            || "-".to_string(),
            |(lo, hi)| format!("{} – {}", fmt_ratio(lo), fmt_ratio(hi)),
        ),
        r.verdict_text(),
        r.method.as_str().to_string(),
    ]
}

fn side_line(name: &str, s: &SideInfo) -> String {
    let mut line = format!("{name}: {}", s.folders.join(", "));
    if let Some((count, selection)) = &s.shards {
        let _ = write!(
            line,
            " ({} of {count} shards, selection {selection})",
            s.folders.len()
        );
    }
    if !s.commits.is_empty() {
        let _ = write!(line, " · commit {}", s.commits.join(", "));
    }
    line
}

/// The header lines: both sides, the machine(s), how to read the ratio.
fn header(c: &Comparison) -> Vec<String> {
    let mut lines = vec![side_line("A", &c.a), side_line("B", &c.b)];
    if c.same_machine() {
        lines.push(format!("machine: {} (both)", c.a.machine));
    } else {
        lines.push(format!(
            "different machines: A on {}, B on {}; the ratios compare the machines as well as the runs",
            c.a.machine, c.b.machine
        ));
    }
    lines.push(format!(
        "B/A = time in B / time in A (below 1: B is faster), with its 95% interval; verdict at a threshold of {}{}",
        fmt_threshold(c.threshold),
        if c.fail_above.is_some() {
            " (--fail-above)"
        } else {
            ""
        }
    ));
    lines
}

fn lone_line(l: &Lone) -> String {
    format!("{} ({})", l.key, l.status)
}

fn not_ok_line(n: &NotOk) -> String {
    let reason = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            format!(": {s}")
        }
    };
    format!(
        "{}: A {}{}; B {}{}",
        n.key,
        n.a_status,
        reason(&n.a_reason),
        n.b_status,
        reason(&n.b_reason)
    )
}

/// The lists after the table: rows not compared, notes, the gate's outcome.
fn sections(c: &Comparison) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut push = |title: String, items: Vec<String>| {
        if !items.is_empty() {
            out.push((title, items));
        }
    };
    push(
        format!("not ok on both sides ({})", c.not_ok.len()),
        c.not_ok.iter().map(not_ok_line).collect(),
    );
    push(
        format!("only in A ({})", c.only_in_a.len()),
        c.only_in_a.iter().map(lone_line).collect(),
    );
    push(
        format!("only in B ({})", c.only_in_b.len()),
        c.only_in_b.iter().map(lone_line).collect(),
    );
    push("notes".into(), c.notes.clone());
    if let Some(t) = c.fail_above {
        let slower: Vec<String> = c
            .regressions()
            .map(|r| {
                format!(
                    "{}: B/A {} (95% interval {} – {})",
                    r.key,
                    fmt_ratio(r.ratio),
                    fmt_ratio(r.interval.map_or(r.ratio, |i| i.0)),
                    fmt_ratio(r.interval.map_or(r.ratio, |i| i.1))
                )
            })
            .collect();
        push(
            format!(
                "slower beyond {} with 95% confidence ({}): the gate fails",
                fmt_threshold(t),
                slower.len()
            ),
            slower,
        );
    }
    out
}

/// A count of each verdict: `3 rows: 1 slower, 2 no difference`.
pub fn summary(c: &Comparison) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in &c.rows {
        let v = r.verdict_text();
        match counts.iter_mut().find(|(t, _)| *t == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(v, n)| format!("{n} {v}")).collect();
    format!("{} row(s) compared: {}", c.rows.len(), parts.join(", "))
}

/// The terminal's text: header, aligned table, summary, lists.
pub fn terminal(c: &Comparison) -> String {
    let mut s = header(c).join("\n");
    s.push_str("\n\n");
    let rows: Vec<Vec<String>> = c.rows.iter().map(cells).collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([HEADER[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(widths[i] - c.chars().count());
                if NUMERIC[i] {
                    format!("{pad}{c}")
                } else {
                    format!("{c}{pad}")
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let _ = writeln!(s, "{}", line(&header));
    for r in &rows {
        let _ = writeln!(s, "{}", line(r));
    }
    let _ = writeln!(s, "{}", summary(c));
    for (title, items) in sections(c) {
        let _ = writeln!(s, "\n{title}:");
        for i in items {
            let _ = writeln!(s, "  {i}");
        }
    }
    s
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown file: the same header, table and lists.
pub fn markdown(c: &Comparison) -> String {
    let mut s = String::from("# harness compare\n\n");
    for l in header(c) {
        let _ = writeln!(s, "- {}", md_cell(&l));
    }
    s.push('\n');
    let _ = writeln!(s, "| {} |", HEADER.join(" | "));
    let align: Vec<&str> = NUMERIC
        .iter()
        .map(|&n| if n { "---:" } else { "---" })
        .collect();
    let _ = writeln!(s, "|{}|", align.join("|"));
    for r in &c.rows {
        let cells: Vec<String> = cells(r).iter().map(|c| md_cell(c)).collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(s, "\n{}", summary(c));
    for (title, items) in sections(c) {
        let _ = writeln!(s, "\n**{}**\n", md_cell(&title));
        for i in items {
            let _ = writeln!(s, "- {}", md_cell(&i));
        }
    }
    s
}

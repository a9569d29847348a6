//! Differential flamegraphs: where time moved from profile A to profile B.
//!
//! They compare identical stacks (inferno's differential mode: the shape of B, coloured by
//! the change from A; `.before.svg` the shape of A), in CPU nanoseconds per run. They show
//! most for the same variant before and after a change (`--diff old.folded new.folded`);
//! two variants whose call paths differ mostly show code that is new or gone, and the
//! printed per-function self-time table is the better comparison.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;

use super::files::{Out, unique_stem, write_new};
use super::folded::{self, Folded};
use super::{Entry, Labels, Manifest, flamegraph};

/// One side of a comparison: its label, its stacks and, when known, its `profile.json` entry.
pub type Side<'a> = (&'a str, &'a Folded, Option<&'a Entry>);

/// The two differential graphs and a table of the functions whose time changed most.
/// Counts are CPU nanoseconds per run when both profiles know their CPU time and runs (so
/// "where time moved" means per unit of work); otherwise A's counts are scaled to B's total.
/// The names of the two graphs written.
pub fn write(
    out: &Out,
    stem: &str,
    (label_a, fa, ea): Side,
    (label_b, fb, eb): Side,
    top_rows: usize,
) -> Result<Vec<String>> {
    let factors = ea
        .and_then(Entry::ns_per_run_factor)
        .zip(eb.and_then(Entry::ns_per_run_factor));
    let (a, b, unit) = match factors {
        Some((xa, xb)) => (fa.scaled(xa), fb.scaled(xb), "CPU ns per run"),
        None => (
            fa.scaled(fb.total() as f64 / fa.total().max(1) as f64),
            fb.scaled(1.0),
            "samples (A scaled to B's total)",
        ),
    };
    let stem = unique_stem(
        &out.dir,
        &format!("diff-{stem}"),
        &["{}.svg", "{}.before.svg", "{}.folded"],
    );
    let title = format!("{label_a} → {label_b}");
    let files = graphs(out, &stem, &title, unit, &a, &b)?;
    print_self_time_changes(&title, unit, &a, &b, top_rows);
    println!(
        "  differential flamegraph: {}",
        out.dir.join(&files[0]).display()
    );
    println!("  (and {}: the shape of A)", files[1]);
    Ok(files)
}

/// `<stem>.svg` (the shape of B), `<stem>.before.svg` (the shape of A) and `<stem>.folded`.
fn graphs(
    out: &Out,
    stem: &str,
    title: &str,
    unit: &str,
    a: &BTreeMap<String, u64>,
    b: &BTreeMap<String, u64>,
) -> Result<Vec<String>> {
    let forward = folded::differential(a, b);
    let backward = folded::differential(b, a);
    let total = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
    let sub_after = format!(
        "shape of B; red: more time in B than in A, blue: less · {unit}: {} → {}",
        total(a),
        total(b)
    );
    let sub_before = format!(
        "shape of A (code gone in B is visible here); red: more time in B, blue: less · {unit}: {} → {}",
        total(a),
        total(b)
    );
    let mut files = Vec::new();
    for (lines, sub, negate, ext) in [
        (&forward, &sub_after, false, ".svg"),
        (&backward, &sub_before, true, ".before.svg"),
    ] {
        let mut svg = Vec::new();
        flamegraph(
            lines,
            &Labels {
                title,
                subtitle: sub,
                unit,
            },
            negate,
            &mut svg,
        )?;
        let name = format!("{stem}{ext}");
        write_new(&out.dir.join(&name), &svg)?;
        files.push(name);
    }
    write_new(
        &out.dir.join(format!("{stem}.folded")),
        (forward.join("\n") + "\n").as_bytes(),
    )?;
    Ok(files)
}

/// Self time per function, A and B, largest change first.
fn print_self_time_changes(
    title: &str,
    unit: &str,
    a: &BTreeMap<String, u64>,
    b: &BTreeMap<String, u64>,
    top_rows: usize,
) {
    let (sa, sb) = (folded::self_counts(a), folded::self_counts(b));
    let mut rows: Vec<(String, u64, u64)> = sa
        .keys()
        .chain(sb.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|f| {
            (
                f.clone(),
                sa.get(f).copied().unwrap_or(0),
                sb.get(f).copied().unwrap_or(0),
            )
        })
        .collect();
    rows.sort_by_key(|(_, x, y)| std::cmp::Reverse(x.abs_diff(*y)));
    println!("\n  {title}: self time, {unit}, largest changes first");
    println!("  {:>12} {:>12} {:>12}  function", "A", "B", "B − A");
    for (f, x, y) in rows.iter().take(top_rows) {
        println!("  {x:>12} {y:>12} {:>12}  {f}", *y as i128 - *x as i128);
    }
}

/// The `profile.json` entry (next to a `.folded` file) that describes it.
pub fn entry_of(folded: &Path) -> Option<Entry> {
    let dir = folded.parent()?;
    let name = folded.file_name()?.to_string_lossy().into_owned();
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with("profile") && n.ends_with(".json")
        })
        .filter_map(|p| serde_json::from_str::<Manifest>(&std::fs::read_to_string(p).ok()?).ok())
        .flat_map(|m| m.entries)
        .find(|e| e.folded == name)
}

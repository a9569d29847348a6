//! Folded stacks — one line per distinct stack, `root;caller;...;leaf count`, the text
//! format that inferno and flamegraph.pl read — and what is computed from them: the
//! top-functions table (self and total time) and the differential counts of two profiles.
//!
//! Everything the terminal table and the SVG show is computed from the same [`Folded`], so
//! that the `.folded` file, the `.top.txt` table and the flamegraph always agree.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// One sampled stack as pprof gives it: thread name, frames root → leaf, samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawStack {
    pub thread: String,
    pub frames: Vec<Frame>,
    pub count: u64,
}

/// A function on a stack (inlined ones included) and its source file from the debug info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub name: String,
    pub file: String,
}

/// What becomes of rayon's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rayon {
    /// A run of three or more frames from rayon (with the std/core frames between them)
    /// becomes one `[rayon]` frame followed by the run's last frame (which says what rayon
    /// was doing: `consume_iter`, `wait_until_cold`, ...). Parallel graphs are otherwise
    /// dozens of frames of `join_context`/`bridge_producer_consumer::helper` recursion tall.
    Collapsed,
    /// Every frame kept (`--full-stacks`).
    Full,
}

/// The frame of a sample whose stack pprof could not resolve at all.
pub const UNKNOWN_FRAME: &str = "[unknown: no symbol or unwind info]";

/// The frame that stands for a collapsed run of rayon frames.
pub const RAYON_FRAME: &str = "[rayon]";

/// Whether a source file is rayon's (`rayon-1.x` or `rayon-core-1.x` in the registry).
fn is_rayon(file: &str) -> bool {
    file.match_indices("/rayon-").any(|(i, m)| {
        let rest = &file[i + m.len()..];
        rest.starts_with("core-") || rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Whether a source file is Rust's standard library (std, core, alloc, stdarch).
fn is_std(file: &str) -> bool {
    [
        "/library/std/",
        "/library/core/",
        "/library/alloc/",
        "/library/stdarch/",
    ]
    .iter()
    .any(|p| file.contains(p))
}

/// Whether a function name belongs to the standard library, rayon or criterion, or is a
/// loop frame (for the total-time table, where such frames sit on every stack and say
/// little).
pub fn is_plumbing_name(name: &str) -> bool {
    let n = name.trim_start_matches('<');
    name == RAYON_FRAME
        || LOOP_FRAMES.contains(&name)
        || [
            "core::",
            "std::",
            "alloc::",
            "rayon::",
            "rayon_core::",
            "criterion::",
        ]
        .iter()
        .any(|p| n.starts_with(p))
}

/// The names of `frames`, each run of ≥ 3 rayon frames (std frames inside the run
/// absorbed) replaced by [`RAYON_FRAME`] and the run's last frame.
fn collapse_rayon(frames: &[Frame]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(frames.len());
    let mut i = 0;
    while i < frames.len() {
        if !is_rayon(&frames[i].file) {
            out.push(&frames[i].name);
            i += 1;
            continue;
        }
        // The run: rayon frames, and std frames followed by another rayon frame.
        let mut last = i;
        let mut j = i + 1;
        while j < frames.len() && (is_rayon(&frames[j].file) || is_std(&frames[j].file)) {
            if is_rayon(&frames[j].file) {
                last = j;
            }
            j += 1;
        }
        if last - i + 1 >= 3 {
            out.push(RAYON_FRAME);
            out.push(&frames[last].name);
        } else {
            out.extend(frames[i..=last].iter().map(|f| f.name.as_str()));
        }
        i = last + 1;
    }
    out
}

/// How threads become the flamegraph's roots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// Numbered threads of one pool merge into one root: `harness-w-0`, `harness-w-1` →
    /// `harness-w-*`. The default: each function's width is then
    /// its CPU time over all workers, the same measure as in a single-threaded variant's
    /// graph, so the two compare (and a differential graph matches their stacks).
    Merged,
    /// One root per thread: shows how evenly the work spreads over the workers.
    PerThread,
}

/// Part of the name of the frame through which every Rust thread (and `main`) enters its
/// own code: what lies above it is the C runtime and std's thread start, the same in every
/// stack. (An inlined frame's name comes from the debug info, with its generic arguments.)
const THREAD_ENTRY: &str = "__rust_begin_short_backtrace";

/// The harness's sampled loop: above it, only the harness and the pool's plumbing, the same
/// in every sample of the thread that runs the loop.
pub const LOOP_FRAME: &str = "harness::profile::profiled_runs";

/// Where stacks are cut (the frame itself kept): the harness's loop, and criterion's timing
/// loop for the benches' profiler bridge.
const LOOP_FRAMES: [&str; 2] = [LOOP_FRAME, "criterion::bencher::Bencher<M>::iter"];

/// Folded stacks: stack (`;`-joined, thread first) → count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Folded {
    pub stacks: BTreeMap<String, u64>,
}

/// A function's row in the top-functions table.
#[derive(Clone, Debug, PartialEq)]
pub struct TopRow {
    pub function: String,
    pub samples: u64,
    pub share: f64,
}

/// Self time (samples whose leaf is the function) and total time (samples with the function
/// anywhere on the stack, counted once per sample even under recursion), largest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Top {
    pub total_samples: u64,
    pub by_self: Vec<TopRow>,
    pub by_total: Vec<TopRow>,
}

/// A function name as it goes into a folded line: without the legacy-mangling hash
/// (`::h0123456789abcdef`), and without `;` (the frame separator; it appears in array types
/// such as `[f64; 4]`).
pub fn clean_name(name: &str) -> String {
    let name = match name.rfind("::h") {
        Some(i) if name.len() - i == 19 && name[i + 3..].bytes().all(|b| b.is_ascii_hexdigit()) => {
            &name[..i]
        }
        _ => name,
    };
    name.replace(';', ",")
}

/// `harness-w-3` → `harness-w-*` (a trailing `-N` or `:N` number), other names as
/// they are.
pub fn merged_thread(name: &str) -> String {
    let digits = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if digits.len() < name.len() && (digits.ends_with('-') || digits.ends_with(':')) {
        format!("{digits}*")
    } else {
        name.to_string()
    }
}

impl Folded {
    /// From pprof's stacks: thread root (merged or not), names cleaned, and the frames
    /// above the sampled loop ([`LOOP_FRAME`], or criterion's) or, on other threads, above
    /// the thread's entry, removed; identical stacks add up.
    pub fn from_raw(raw: &[RawStack], threads: Threads, rayon: Rayon) -> Folded {
        let mut stacks = BTreeMap::new();
        for s in raw.iter().filter(|s| s.count > 0) {
            let root = match threads {
                Threads::Merged => merged_thread(&s.thread),
                Threads::PerThread => s.thread.clone(),
            };
            let start = s
                .frames
                .iter()
                .position(|f| LOOP_FRAMES.contains(&clean_name(&f.name).as_str()))
                .or_else(|| {
                    s.frames
                        .iter()
                        .rposition(|f| f.name.contains(THREAD_ENTRY))
                        .map(|i| i + 1)
                })
                .unwrap_or(0);
            let kept: Vec<&str> = match rayon {
                Rayon::Collapsed => collapse_rayon(&s.frames[start..]),
                Rayon::Full => s.frames[start..].iter().map(|f| f.name.as_str()).collect(),
            };
            let mut line = clean_name(&root).replace(' ', "_");
            for name in kept {
                line.push(';');
                line.push_str(&clean_name(name));
            }
            if !line.contains(';') {
                // pprof found no symbol even for the sampled instruction: code the unwinder
                // and symboliser cannot see (assembly without unwind info, as in some GEMM
                // micro-kernels, or generated code). Named, so it is not taken for the root.
                line.push(';');
                line.push_str(UNKNOWN_FRAME);
            }
            *stacks.entry(line).or_insert(0) += s.count;
        }
        Folded { stacks }
    }

    pub fn total(&self) -> u64 {
        self.stacks.values().sum()
    }

    /// The folded text, one `stack count` line per stack, sorted by stack.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (stack, count) in &self.stacks {
            let _ = writeln!(s, "{stack} {count}");
        }
        s
    }

    /// The lines for the flamegraph writer.
    pub fn lines(&self) -> Vec<String> {
        self.stacks
            .iter()
            .map(|(s, c)| format!("{s} {c}"))
            .collect()
    }

    /// Parses folded text (the count is the last space-separated field: names may contain
    /// spaces, as in `<T as Trait>::f`).
    pub fn parse(text: &str) -> Result<Folded> {
        let mut stacks = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            let (stack, count) = line
                .rsplit_once(' ')
                .with_context(|| format!("line {}: no count in `{line}`", i + 1))?;
            let count: u64 = count
                .parse()
                .with_context(|| format!("line {}: `{count}` is not a sample count", i + 1))?;
            *stacks.entry(stack.to_string()).or_insert(0) += count;
        }
        Ok(Folded { stacks })
    }

    pub fn read(path: &Path) -> Result<Folded> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let folded = Folded::parse(&text).with_context(|| path.display().to_string())?;
        if folded.stacks.is_empty() {
            bail!("{}: no stacks", path.display());
        }
        Ok(folded)
    }

    /// Each stack's count times `factor`, rounded (for counts per run); a stack that rounds
    /// to zero is kept at zero, not dropped, so that it still shows in a differential graph.
    pub fn scaled(&self, factor: f64) -> BTreeMap<String, u64> {
        self.stacks
            .iter()
            .map(|(s, &c)| (s.clone(), (c as f64 * factor).round() as u64))
            .collect()
    }

    /// The top-functions table. A root (thread) frame is not a function and is left out;
    /// so are, from the total-time list only, the standard library's and rayon's frames and
    /// the harness's loop, which sit on nearly every stack and would fill it.
    pub fn top(&self) -> Top {
        let mut own: BTreeMap<&str, u64> = BTreeMap::new();
        let mut total: BTreeMap<&str, u64> = BTreeMap::new();
        for (stack, &count) in &self.stacks {
            let frames: Vec<&str> = stack.split(';').skip(1).collect();
            if let Some(leaf) = frames.last() {
                *own.entry(leaf).or_insert(0) += count;
            }
            let unique: BTreeSet<&str> = frames
                .into_iter()
                .filter(|f| !is_plumbing_name(f))
                .collect();
            for f in unique {
                *total.entry(f).or_insert(0) += count;
            }
        }
        let all = self.total();
        let rows = |m: BTreeMap<&str, u64>| {
            let mut v: Vec<TopRow> = m
                .into_iter()
                .map(|(f, n)| TopRow {
                    function: f.to_string(),
                    samples: n,
                    share: if all > 0 { n as f64 / all as f64 } else { 0.0 },
                })
                .collect();
            // Largest first; ties by name so that the table is stable.
            v.sort_by(|a, b| b.samples.cmp(&a.samples).then(a.function.cmp(&b.function)));
            v
        };
        Top {
            total_samples: all,
            by_self: rows(own),
            by_total: rows(total),
        }
    }
}

impl Top {
    /// The table as text: `rows` functions by self time, then by total time.
    pub fn render(&self, rows: usize, unit: &str) -> String {
        let mut s = String::new();
        for (title, note, list) in [
            ("self", "", &self.by_self),
            (
                "total",
                ", callees included; std/core/rayon frames not listed",
                &self.by_total,
            ),
        ] {
            let _ = writeln!(
                s,
                "  top functions by {title} time ({} {unit} in all{note})",
                self.total_samples
            );
            let _ = writeln!(s, "  {:>9} {:>6}  function", unit_head(unit), "%");
            for r in list.iter().take(rows) {
                let _ = writeln!(
                    s,
                    "  {:>9} {:>5.1}%  {}",
                    r.samples,
                    100.0 * r.share,
                    r.function
                );
            }
        }
        s
    }

    /// Parses a table written by [`Top::render`] back: (section, function, count) rows.
    pub fn parse_rendered(text: &str) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        let mut section = String::new();
        for line in text.lines() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("top functions by ") {
                section = rest.split(' ').next().unwrap_or_default().to_string();
                continue;
            }
            let mut parts = t.split_whitespace();
            let (Some(n), Some(pct)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(n), true) = (n.parse::<u64>(), pct.ends_with('%')) else {
                continue;
            };
            let function = t
                .split_once('%')
                .map(|(_, f)| f.trim().to_string())
                .unwrap_or_default();
            out.push((section.clone(), function, n));
        }
        out
    }
}

fn unit_head(unit: &str) -> &str {
    match unit {
        "samples" => "samples",
        _ => "count",
    }
}

/// Differential folded lines `stack before after` from two profiles already in the same
/// unit; a stack missing from one side counts zero there.
pub fn differential(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Vec<String> {
    let stacks: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    stacks
        .into_iter()
        .map(|s| {
            format!(
                "{s} {} {}",
                before.get(s).copied().unwrap_or(0),
                after.get(s).copied().unwrap_or(0)
            )
        })
        .collect()
}

/// Self count per function (leaf frames) of counts already in one unit.
pub fn self_counts(stacks: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut own = BTreeMap::new();
    for (stack, &c) in stacks {
        if let Some((_, frames)) = stack.split_once(';')
            && let Some(leaf) = frames.rsplit(';').next()
        {
            *own.entry(leaf.to_string()).or_insert(0) += c;
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(thread: &str, frames: &[&str], count: u64) -> RawStack {
        RawStack {
            thread: thread.into(),
            frames: frames.iter().map(|s| frame(s, "src/x.rs")).collect(),
            count,
        }
    }

    fn frame(name: &str, file: &str) -> Frame {
        Frame {
            name: name.into(),
            file: file.into(),
        }
    }

    #[test]
    fn names_and_threads() {
        assert_eq!(
            clean_name("kernels::laue::naive::run::h0123456789abcdef"),
            "kernels::laue::naive::run"
        );
        assert_eq!(
            clean_name("core::ptr::drop_in_place<[f64; 4]>"),
            "core::ptr::drop_in_place<[f64, 4]>"
        );
        assert_eq!(clean_name("a::hello"), "a::hello");
        assert_eq!(merged_thread("harness-worker-12"), "harness-worker-*");
        assert_eq!(merged_thread("main"), "main");
        assert_eq!(merged_thread("llvmpipe-3"), "llvmpipe-*");
        assert_eq!(merged_thread("v2"), "v2");
    }

    #[test]
    fn folding_top_and_round_trip() {
        let entry = "std::sys::backtrace::__rust_begin_short_backtrace<F, T>";
        let stacks = [
            raw("harness-w-0", &["start_thread", entry, "a", "b", "exp"], 5),
            raw(
                "harness-w-1",
                &["start_thread", entry, "rayon", LOOP_FRAME, "a", "b", "exp"],
                3,
            ),
            raw("harness-w-1", &["start_thread", entry, "a", "a", "c"], 2),
            raw("harness-w-0", &["a"], 1),
            raw("harness-w-0", &[], 4),
        ];
        let f = Folded::from_raw(&stacks, Threads::Merged, Rayon::Collapsed);
        assert_eq!(f.stacks["harness-w-*;a;b;exp"], 5);
        assert_eq!(f.stacks[&format!("harness-w-*;{LOOP_FRAME};a;b;exp")], 3);
        assert_eq!(f.stacks["harness-w-*;a;a;c"], 2);
        assert_eq!(f.stacks[&format!("harness-w-*;{UNKNOWN_FRAME}")], 4);
        assert_eq!(f.total(), 15);
        assert_eq!(
            Folded::from_raw(&stacks, Threads::PerThread, Rayon::Full)
                .stacks
                .len(),
            5
        );
        let top = f.top();
        assert_eq!(top.by_self[0].function, "exp");
        assert_eq!(top.by_self[0].samples, 8);
        // `a` is on every resolved stack, twice on one: counted once per sample.
        assert_eq!(top.by_total[0].function, "a");
        assert_eq!(top.by_total[0].samples, 11);
        assert_eq!(top.by_total[0].share, 11.0 / 15.0);
        assert_eq!(Folded::parse(&f.to_text()).unwrap(), f);
        let parsed = Top::parse_rendered(&top.render(10, "samples"));
        assert!(parsed.contains(&("self".into(), "exp".into(), 8)));
        assert!(parsed.contains(&("total".into(), "a".into(), 11)));
    }

    #[test]
    fn rayon_runs_collapse() {
        let ry = "/r/.cargo/registry/src/x/rayon-core-1.13.0/src/join/mod.rs";
        let r2 = "/r/.cargo/registry/src/x/rayon-1.12.0/src/iter/plumbing/mod.rs";
        let st = "/rustc/abc/library/std/src/panicking.rs";
        let own = "/w/kernels/src/laue/parallel.rs";
        let frames = [
            frame("kernels::run", own),
            frame("join_context", ry),
            frame("std::panicking::catch_unwind", st),
            frame("helper", r2),
            frame("consume_iter", r2),
            frame(
                "core::iter::for_each",
                "/rustc/abc/library/core/src/iter.rs",
            ),
            frame("kernels::rows", own),
            frame("a", ry),
            frame("b", ry),
        ];
        assert_eq!(
            collapse_rayon(&frames),
            vec![
                "kernels::run",
                RAYON_FRAME,
                "consume_iter",
                "core::iter::for_each",
                "kernels::rows",
                "a",
                "b"
            ]
        );
        assert!(is_rayon(ry) && is_rayon(r2) && !is_rayon("/w/rayonx/src/a.rs"));
        let stack = RawStack {
            thread: "t".into(),
            frames: frames.to_vec(),
            count: 1,
        };
        let f = Folded::from_raw(std::slice::from_ref(&stack), Threads::Merged, Rayon::Full);
        assert_eq!(f.stacks.keys().next().unwrap().split(';').count(), 10);
        assert!(is_plumbing_name("<rayon::iter::Zip<A,B> as X>::f"));
        assert!(!is_plumbing_name("kernels::laue::naive::laue_naive"));
    }

    #[test]
    fn differential_lines() {
        let a = BTreeMap::from([("t;x".to_string(), 4), ("t;y".to_string(), 1)]);
        let b = BTreeMap::from([("t;y".to_string(), 3), ("t;z".to_string(), 2)]);
        assert_eq!(differential(&a, &b), vec!["t;x 4 0", "t;y 1 3", "t;z 0 2"]);
        assert_eq!(self_counts(&b)["z"], 2);
    }
}

//! `harness profile` as a user runs it: a short profile of one variant into a temporary
//! folder, then checks on what a reader gets — a flamegraph SVG that names the variant's
//! own functions, folded stacks and a top-functions table that agree with each other, a
//! differential graph, and files that are never overwritten.
#![cfg(feature = "profiling")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn harness() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harness"));
    // Mesa's software Vulkan warns without a private runtime dir; keep test output clean.
    let xdg = std::env::temp_dir().join(format!("harness-xdg-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&xdg);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700));
    }
    c.env("XDG_RUNTIME_DIR", xdg);
    c
}

fn run_ok(args: &[&str]) -> String {
    let out = harness().args(args).output().expect("harness runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "harness {args:?} failed:\n{text}");
    text
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// One profile of laue/square/naive at n = 8 for about a second, shared by the tests.
struct Profiled {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    stdout: String,
}

fn naive() -> &'static Profiled {
    static P: OnceLock<Profiled> = OnceLock::new();
    P.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_str().unwrap().to_string();
        let stdout = run_ok(&[
            "profile",
            "--variant",
            "laue/square/naive",
            "--n",
            "8",
            "--seconds",
            "1",
            "--out",
            &out,
        ]);
        let dirs = subdirs(tmp.path());
        assert_eq!(dirs.len(), 1, "one new folder: {dirs:?}");
        let dir = dirs[0].clone();
        assert!(
            dir.file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with("-profile-laue"),
            "{}",
            dir.display()
        );
        Profiled {
            _tmp: tmp,
            dir,
            stdout,
        }
    })
}

/// The last field of a folded line is its count; the frame before it, its leaf.
fn folded_lines(text: &str) -> Vec<(Vec<String>, u64)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (stack, count) = l.rsplit_once(' ').expect("`stack count`");
            (
                stack.split(';').map(str::to_string).collect(),
                count.parse().expect("an integer count"),
            )
        })
        .collect()
}

/// Rows of the `.top.txt` section whose heading starts with `heading`: (count, function).
fn table_rows(text: &str, heading: &str) -> Vec<(u64, String)> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("top functions by ") {
            inside = t.starts_with(heading);
            continue;
        }
        if !inside {
            continue;
        }
        let mut parts = t.split_whitespace();
        let (Some(n), Some(pct)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let (Ok(n), true) = (n.parse::<u64>(), pct.ends_with('%')) {
            let function = t.split_once('%').unwrap().1.trim().to_string();
            rows.push((n, function));
        }
    }
    rows
}

#[test]
fn flamegraph_is_an_svg_with_the_variants_own_functions() {
    let p = naive();
    let svg_path = p.dir.join("flamegraph-laue-square-naive.svg");
    let svg = std::fs::read_to_string(&svg_path)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", svg_path.display(), p.stdout));
    let head = svg.trim_start();
    assert!(
        head.starts_with("<?xml") || head.starts_with("<svg"),
        "not an SVG: {}",
        &head[..head.len().min(80)]
    );
    assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    // Balanced frames: every <g> closed (a truncated file would not be).
    assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
    assert!(
        svg.contains("kernels::laue::naive"),
        "the variant's own frames are missing from the flamegraph"
    );
    // What is sampled is the run loop only: setup and validation are not in the graph.
    assert!(svg.contains("harness::profile::profiled_runs"));
    for absent in ["validate::validate", "References", "Instance>::prepare"] {
        assert!(!svg.contains(absent), "`{absent}` was sampled");
    }
    // The sample count is printed and stated in the graph.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.dir.join("profile.json")).unwrap())
            .unwrap();
    let entry = &json["entries"][0];
    assert_eq!(entry["status"], "profiled", "{entry}");
    let samples = entry["samples"].as_u64().unwrap();
    assert!(samples > 0, "no samples:\n{}", p.stdout);
    assert!(
        p.stdout.contains(&format!("{samples} samples")),
        "{}",
        p.stdout
    );
    assert!(svg.contains(&format!("{samples} samples")));
}

#[test]
fn folded_stacks_and_top_table_agree() {
    let p = naive();
    let folded = std::fs::read_to_string(p.dir.join("flamegraph-laue-square-naive.folded"))
        .expect("the folded stacks");
    let lines = folded_lines(&folded);
    let total: u64 = lines.iter().map(|(_, c)| c).sum();
    assert!(total > 0);
    // Every stack: the thread root, then the sampled loop directly (nothing above it).
    for (frames, _) in &lines {
        assert!(frames.len() >= 2, "{frames:?}");
    }
    let top = std::fs::read_to_string(p.dir.join("flamegraph-laue-square-naive.top.txt"))
        .expect("the top-functions table");
    assert!(top.contains(&format!("({total} samples in all")), "{top}");
    let by_self = table_rows(&top, "top functions by self");
    let (count, function) = by_self.first().expect("a self-time row").clone();
    let from_folded: u64 = lines
        .iter()
        .filter(|(frames, _)| frames.last() == Some(&function))
        .map(|(_, c)| c)
        .sum();
    assert_eq!(
        count, from_folded,
        "table says {function} has {count} samples of self time, the folded file {from_folded}"
    );
    // Every self-time row, and every total-time row, agrees with the folded stacks too.
    let mut own: BTreeMap<&str, u64> = BTreeMap::new();
    for (frames, c) in &lines {
        *own.entry(frames.last().unwrap()).or_default() += c;
    }
    for (n, f) in &by_self {
        assert_eq!(own.get(f.as_str()), Some(n), "self time of {f}");
    }
    for (n, f) in table_rows(&top, "top functions by total") {
        let with_f: u64 = lines
            .iter()
            .filter(|(frames, _)| frames[1..].contains(&f))
            .map(|(_, c)| c)
            .sum();
        assert_eq!(n, with_f, "total time of {f}");
    }
    // The printed table is the file's.
    let first = format!("{count:>9}");
    assert!(p.stdout.contains(&first) && p.stdout.contains(&function));
}

#[test]
fn differential_between_two_variants_and_two_folded_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let text = run_ok(&[
        "profile",
        "--kernel",
        "laue",
        "--case",
        "square",
        "--n",
        "8",
        "--seconds",
        "1",
        "--diff",
        "naive",
        "vectorised",
        "--out",
        out,
    ]);
    let dir = subdirs(tmp.path()).pop().unwrap();
    let forward = dir.join("diff-laue-square-naive-vs-vectorised.svg");
    let before = dir.join("diff-laue-square-naive-vs-vectorised.before.svg");
    let svg = std::fs::read_to_string(&forward).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // B's shape (vectorised), A's shape (naive) in the other graph.
    assert!(svg.contains("kernels::laue::vectorised"));
    assert!(
        std::fs::read_to_string(&before)
            .unwrap()
            .contains("kernels::laue::naive")
    );
    // Differential folded lines: `stack before after`, in CPU nanoseconds per run.
    let folded =
        std::fs::read_to_string(dir.join("diff-laue-square-naive-vs-vectorised.folded")).unwrap();
    for line in folded.lines() {
        let f: Vec<&str> = line.rsplitn(3, ' ').collect();
        assert!(
            f[0].parse::<u64>().is_ok() && f[1].parse::<u64>().is_ok(),
            "{line}"
        );
    }
    assert!(text.contains("CPU ns per run"), "{text}");

    // Two folded files: the per-run scale comes from the profile.json beside them.
    let a = dir.join("flamegraph-laue-square-naive.folded");
    let b = dir.join("flamegraph-laue-square-vectorised.folded");
    let out2 = tmp.path().join("files");
    let text = run_ok(&[
        "profile",
        "--diff",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
    ]);
    let dir2 = subdirs(&out2).pop().unwrap();
    assert!(
        dir2.join("diff-laue-square-naive-vs-laue-square-vectorised.svg")
            .is_file(),
        "{text}"
    );
    assert!(text.contains("CPU ns per run"), "{text}");
}

#[test]
fn into_a_run_folder_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("20260101T000000Z-laue");
    std::fs::create_dir(&run).unwrap();
    let args = [
        "profile",
        "--variant",
        "laue/square/fft",
        "--n",
        "8",
        "--seconds",
        "0.5",
        "--into",
        run.to_str().unwrap(),
    ];
    run_ok(&args);
    let first = run.join("flamegraphs/flamegraph-laue-square-fft.svg");
    let before = std::fs::read(&first).unwrap();
    run_ok(&args);
    assert_eq!(std::fs::read(&first).unwrap(), before, "overwritten");
    for f in [
        "flamegraph-laue-square-fft-1.svg",
        "flamegraph-laue-square-fft-1.folded",
        "profile.json",
        "profile-1.json",
    ] {
        assert!(run.join("flamegraphs").join(f).is_file(), "{f} missing");
    }
}

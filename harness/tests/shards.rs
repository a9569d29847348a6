//! `bench --shard i/n` (issue 17): the slices of a selection together make exactly the rows
//! of the unsharded run, each records its place and the selection's hash in `run.json`, and
//! a malformed spec is refused before anything is written. Each run also records the drift
//! its probe saw and the ceilings it measured, which the report shows.
//!
//! Every test runs the real `harness` binary (`CARGO_BIN_EXE_harness`).

use std::path::{Path, PathBuf};
use std::process::Output;

#[path = "support/cli.rs"]
mod cli;

use cli::{harness_env, refused_in_one_line, text};
use harness::results::{RunManifest, read_rows};

/// Three (kernel, case) groups of seven variants, each row a few tens of milliseconds.
const SELECTION: [&str; 11] = [
    "bench",
    "--kernel",
    "laue",
    "--n",
    "8",
    "--budget",
    "0.02",
    "--threads",
    "1",
    "--suite",
    "full",
];

fn bench(out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&str> = SELECTION.to_vec();
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(extra);
    harness_env(&args, &[])
}

/// The one run folder under `out` (next to `ceilings.json`).
fn run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "one run folder expected in {}",
        out.display()
    );
    dirs[0].clone()
}

type Key = (String, String, String, String, usize, String);

/// The rows' identities and statuses, sorted.
fn keys(dir: &Path) -> Vec<Key> {
    let mut keys: Vec<Key> = read_rows(&dir.join("results.csv"))
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.kernel,
                r.case,
                r.variant,
                r.params.to_string(),
                r.threads,
                r.status.to_string(),
            )
        })
        .collect();
    keys.sort();
    keys
}

#[track_caller]
fn ran(out: &Output) {
    assert!(
        out.status.success(),
        "bench failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn three_shards_make_exactly_the_unsharded_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let whole_out = tmp.path().join("whole");
    let whole = bench(&whole_out, &[]);
    ran(&whole);
    let whole_dir = run_dir(&whole_out);
    let expected = keys(&whole_dir);
    let mut unique = expected.clone();
    unique.dedup();
    assert_eq!(
        unique.len(),
        expected.len(),
        "the unsharded run repeats a row"
    );
    assert!(RunManifest::read(&whole_dir).unwrap().shard.is_none());

    let mut union = Vec::new();
    let mut dirs = Vec::new();
    let mut selections = Vec::new();
    for i in 1..=3 {
        let out = tmp.path().join(format!("shard{i}"));
        let spec = format!("{i}/3");
        ran(&bench(&out, &["--shard", &spec]));
        let dir = run_dir(&out);
        let rows = keys(&dir);
        assert!(!rows.is_empty(), "shard {spec} ran nothing");
        union.extend(rows);
        let shard = RunManifest::read(&dir)
            .unwrap()
            .shard
            .expect("shard in run.json");
        assert_eq!((shard.index, shard.count), (i, 3));
        assert_eq!(shard.selection.len(), 16, "{}", shard.selection);
        assert!(shard.selection.bytes().all(|b| b.is_ascii_hexdigit()));
        selections.push(shard.selection);
        dirs.push(dir);
    }
    union.sort();
    assert_eq!(
        union, expected,
        "the shards' rows differ from the unsharded run's"
    );
    assert!(
        selections.iter().all(|s| *s == selections[0]),
        "{selections:?}"
    );

    // The report reads the three slices as one suite, with each run's drift line.
    let report_out = tmp.path().join("report");
    let mut args = vec!["report", "--out", report_out.to_str().unwrap()];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    let out = harness_env(&args, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = run_dir(&report_out);
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("are shards of one suite"), "{md}");
    for d in &dirs {
        let id = d.file_name().unwrap().to_string_lossy();
        assert!(
            md.contains(&format!("Run {id}: machine speed varied")),
            "no drift line for {id} in:\n{md}"
        );
    }
}

#[test]
fn a_run_records_its_drift_and_ceilings() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bench(&tmp.path().join("a"), &["--case", "square"]);
    ran(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("machine speed varied"), "{stdout}");
    let m = RunManifest::read(&run_dir(&tmp.path().join("a"))).unwrap();
    let d = m.drift.expect("drift in run.json");
    // Three reference probes and one at the end, at least.
    assert!(d.probes >= 4, "{d:?}");
    assert!(d.min > 0.0 && d.min <= 1.0 && 1.0 <= d.max, "{d:?}");
    assert!(d.probe_s > 0.0 && d.probe_s < 1.0, "{d:?}");
    assert_eq!(m.ceilings_measured.len(), 1);
    assert_eq!(m.ceilings.len(), 1);
    assert!(tmp.path().join("a/ceilings.json").is_file());

    // A second run under the same root uses the kept best: never below the first's.
    ran(&bench(
        &tmp.path().join("a"),
        &["--case", "square", "--variant", "naive"],
    ));
    let second = std::fs::read_dir(tmp.path().join("a"))
        .unwrap()
        .filter_map(|e| RunManifest::read(&e.unwrap().path()))
        .find(|r| r.command.iter().any(|a| a == "naive"))
        .expect("the second run's run.json");
    let (first, used) = (&m.ceilings[0], &second.ceilings[0]);
    assert!(used.gemm_f64_gflops >= first.gemm_f64_gflops);
    assert!(used.gemm_f32_gflops >= first.gemm_f32_gflops);
    assert!(used.copy_gbps >= first.copy_gbps);
    for b in &second.ceilings_below_kept {
        assert!(b.measured < b.kept, "{b:?}");
    }
}

#[test]
fn malformed_or_too_many_shards_are_refused_before_anything_is_written() {
    for (spec, needle) in [
        ("3/2", "numbered 1 to 2"),
        ("0/0", "at least one slice"),
        ("0/3", "numbered 1 to 3"),
        ("a/b", "whole numbers"),
        ("1/0", "at least one slice"),
        ("1/3/4", "whole numbers"),
        ("2", "not of the form i/n"),
        // Three (kernel, case) groups: four slices would leave one empty.
        ("4/4", "give at most 3 slices"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = bench(tmp.path(), &["--shard", spec]);
        refused_in_one_line(&out, &[&format!("--shard {spec}"), needle]);
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "--shard {spec}: something was written"
        );
    }
}

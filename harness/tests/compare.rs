//! `harness compare RUN_A RUN_B` as a user runs it: synthetic run folders (rows, samples
//! files, run.json) for what must come out exactly (a variant made 20 % slower fails the
//! gate, two runs of one distribution do not, the JSON schema, rows on one side only,
//! shards, bad input), and one real pair of short `harness bench` runs.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/runs.rs"]
mod runs;

use std::path::{Path, PathBuf};

use cli::{harness_env, refused_in_one_line, text};
use harness::results::{Shard, Status};
use runs::{Spec, machine, row, samples, write_run};
use serde_json::Value;

fn harness(args: &[&str]) -> std::process::Output {
    harness_env(args, &[])
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A run of three variants at n = 32; `slow` multiplies the times of one variant.
fn three_variants(dir: &Path, seed: u64, slow: Option<(&str, f64)>) -> PathBuf {
    let m = machine("Test CPU");
    let rows = [("naive", 10e-3), ("vectorised", 2e-3), ("parallel", 1e-3)]
        .iter()
        .enumerate()
        .map(|(i, (v, t))| {
            let factor = slow.filter(|(w, _)| w == v).map_or(1.0, |(_, f)| f);
            let kept = samples(t * factor, 0.01, 40, seed * 10 + i as u64);
            (row(v, 32), Some(kept))
        })
        .collect();
    write_run(
        dir,
        Spec {
            machine: &m,
            shard: None,
            rows,
        },
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn variant_of(v: &Value) -> &str {
    v["variant"].as_str().unwrap()
}

#[test]
fn a_variant_made_slower_fails_the_gate_and_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let a = three_variants(&tmp.path().join("a"), 1, None);
    let b = three_variants(&tmp.path().join("b"), 2, Some(("vectorised", 1.2)));
    let json = tmp.path().join("cmp.json");
    let out = harness(&[
        "compare",
        s(&a),
        s(&b),
        "--fail-above",
        "5%",
        "--json",
        s(&json),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let gate = &stdout[stdout
        .find("slower beyond 5% with 95% confidence (1)")
        .unwrap_or_else(|| panic!("no gate section:\n{stdout}"))..];
    assert!(gate.contains("laue/strained/vectorised"), "{gate}");
    assert!(!gate.contains("laue/strained/naive") && !gate.contains("laue/strained/parallel"));
    let doc = read_json(&json);
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        let ratio = r["ratio"].as_f64().unwrap();
        let (lo, hi) = (
            r["ratio_low"].as_f64().unwrap(),
            r["ratio_high"].as_f64().unwrap(),
        );
        assert!(lo <= ratio && ratio <= hi, "{r}");
        assert_eq!(r["method"], "samples");
        if variant_of(r) == "vectorised" {
            assert!(
                (ratio - 1.2).abs() < 0.02,
                "the 20 % slowdown recovered: {ratio}"
            );
            assert!(lo > 1.05, "{r}");
            assert_eq!(r["verdict"], "slower");
        } else {
            assert_eq!(r["verdict"], "no difference", "{r}");
        }
    }
    let regressions = doc["regressions"].as_array().unwrap();
    assert_eq!(regressions.len(), 1);
    assert_eq!(variant_of(&regressions[0]), "vectorised");
    // Within a wider threshold the same pair passes.
    let out = harness(&["compare", s(&a), s(&b), "--fail-above", "0.25"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn two_runs_of_one_distribution_show_no_difference() {
    let tmp = tempfile::tempdir().unwrap();
    let a = three_variants(&tmp.path().join("a"), 3, None);
    let b = three_variants(&tmp.path().join("b"), 4, None);
    let json = tmp.path().join("cmp.json");
    let md = tmp.path().join("cmp.md");
    let out = harness(&[
        "compare",
        s(&a),
        s(&b),
        "--fail-above",
        "5%",
        "--json",
        s(&json),
        "--markdown",
        s(&md),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("3 row(s) compared: 3 no difference"),
        "{stdout}"
    );
    assert!(stdout.contains("machine: Test CPU · 2 cores · 8.0 GiB · Test OS (both)"));
    let doc = read_json(&json);
    assert!(
        doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["verdict"] == "no difference")
    );
    assert!(doc["regressions"].as_array().unwrap().is_empty());
    // Without --fail-above there is no gate: exit code 0 whatever the verdicts.
    let out = harness(&["compare", s(&a), s(&b)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The Markdown file holds the same table.
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("| kernel/case/variant | parameters |"));
    assert_eq!(md.matches("| laue/strained/").count(), 3, "{md}");
}

/// Every key of `v` (an object), sorted.
fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[test]
fn json_output_follows_schema_1() {
    let tmp = tempfile::tempdir().unwrap();
    let m = machine("Test CPU");
    let mut failed = row("vectorised", 32);
    failed.status = Status::Failed;
    failed.reason = "validation failed, not timed".into();
    // One row without samples (intervals), one only in A, one only in B, one failed in B.
    let mut interval_row = row("fft", 32);
    interval_row.median_s = Some(1e-3);
    interval_row.ci_low_s = Some(0.99e-3);
    interval_row.ci_high_s = Some(1.01e-3);
    interval_row.samples = 10;
    let a = write_run(
        &tmp.path().join("a"),
        Spec {
            machine: &m,
            shard: None,
            rows: vec![
                (row("naive", 32), Some(samples(1e-2, 0.01, 20, 1))),
                (row("vectorised", 32), Some(samples(2e-3, 0.01, 20, 2))),
                (row("parallel", 32), Some(samples(1e-3, 0.01, 20, 3))),
                (interval_row.clone(), None),
            ],
        },
    );
    let b = write_run(
        &tmp.path().join("b"),
        Spec {
            machine: &m,
            shard: None,
            rows: vec![
                (row("naive", 32), Some(samples(1e-2, 0.01, 20, 4))),
                (failed, None),
                (row("gpu-f32", 32), Some(samples(3e-3, 0.01, 20, 5))),
                (interval_row, None),
            ],
        },
    );
    let json = tmp.path().join("cmp.json");
    let out = harness(&["compare", s(&a), s(&b), "--json", s(&json)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc = read_json(&json);
    assert_eq!(
        keys(&doc),
        [
            "a",
            "b",
            "fail_above",
            "not_ok",
            "notes",
            "only_in_a",
            "only_in_b",
            "regressions",
            "rows",
            "same_machine",
            "schema",
            "threshold"
        ]
    );
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["same_machine"], true);
    assert_eq!(doc["threshold"], 0.0);
    assert!(doc["fail_above"].is_null());
    for side in [&doc["a"], &doc["b"]] {
        assert_eq!(
            keys(side),
            ["commits", "folders", "machine", "run_ids", "shards"]
        );
        assert_eq!(keys(&side["machine"]), ["cores", "cpu", "memory_gib", "os"]);
        assert_eq!(side["machine"]["cpu"], "Test CPU");
        assert_eq!(side["commits"][0], "abc1234");
        assert!(side["shards"].is_null());
    }
    assert_eq!(doc["a"]["run_ids"][0], "a");
    let key_fields = [
        "case",
        "kernel",
        "params",
        "precision",
        "threads",
        "variant",
    ];
    let with = |extra: &[&'static str]| {
        let mut k: Vec<&str> = key_fields.iter().chain(extra).copied().collect();
        k.sort_unstable();
        k
    };
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "naive and fft compared");
    for r in rows {
        assert_eq!(
            keys(r),
            with(&[
                "a_median_s",
                "b_median_s",
                "method",
                "ratio",
                "ratio_high",
                "ratio_low",
                "verdict"
            ])
        );
        assert_eq!(r["kernel"], "laue");
        assert_eq!(r["params"], "e0=0.01 h=0 k=4 n=32 oversampling=3 w=5");
        assert_eq!(r["threads"], 1);
        assert_eq!(r["precision"], "f64");
        let method = if variant_of(r) == "fft" {
            "intervals"
        } else {
            "samples"
        };
        assert_eq!(r["method"], method, "{r}");
    }
    let fft = rows.iter().find(|r| variant_of(r) == "fft").unwrap();
    assert_eq!(fft["ratio"], 1.0);
    assert_eq!(fft["verdict"], "no difference");
    let not_ok = doc["not_ok"].as_array().unwrap();
    assert_eq!(not_ok.len(), 1);
    assert_eq!(
        keys(&not_ok[0]),
        with(&["a_reason", "a_status", "b_reason", "b_status"])
    );
    assert_eq!(not_ok[0]["a_status"], "ok");
    assert_eq!(not_ok[0]["b_status"], "failed");
    assert_eq!(not_ok[0]["b_reason"], "validation failed, not timed");
    for (list, variant) in [("only_in_a", "parallel"), ("only_in_b", "gpu-f32")] {
        let l = doc[list].as_array().unwrap();
        assert_eq!(l.len(), 1, "{list}");
        assert_eq!(keys(&l[0]), with(&["status"]));
        assert_eq!(variant_of(&l[0]), variant);
        assert_eq!(l[0]["status"], "ok");
    }
    // The terminal says the same.
    let stdout = text(&out.stdout);
    for needle in [
        "not ok on both sides (1):",
        "laue/strained/vectorised [e0=0.01 h=0 k=4 n=32 oversampling=3 w=5] ×1 f64: A ok; B failed: validation failed, not timed",
        "only in A (1):",
        "only in B (1):",
        "laue/strained/gpu-f32",
    ] {
        assert!(stdout.contains(needle), "`{needle}` missing:\n{stdout}");
    }
}

#[test]
fn a_missing_samples_file_falls_back_to_the_intervals_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let a = three_variants(&tmp.path().join("a"), 5, None);
    let b = three_variants(&tmp.path().join("b"), 6, None);
    let gone = std::fs::read_dir(b.join("samples"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("-naive-"))
        .unwrap();
    std::fs::remove_file(&gone).unwrap();
    let json = tmp.path().join("cmp.json");
    let out = harness(&["compare", s(&a), s(&b), "--json", s(&json)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc = read_json(&json);
    for r in doc["rows"].as_array().unwrap() {
        let want = if variant_of(r) == "naive" {
            "intervals"
        } else {
            "samples"
        };
        assert_eq!(r["method"], want, "{r}");
        assert!(r["ratio_low"].is_f64() && r["ratio_high"].is_f64());
    }
    let notes = doc["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note = notes[0].as_str().unwrap();
    assert!(
        note.starts_with("RUN_B: ") && note.contains(&*gone.file_name().unwrap().to_string_lossy())
    );
    assert!(
        note.ends_with("is compared from the rows' intervals"),
        "{note}"
    );
    assert!(text(&out.stdout).contains(note));
}

#[test]
fn a_folder_that_is_not_a_run_is_refused_and_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let a = three_variants(&tmp.path().join("a"), 1, None);
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let json = tmp.path().join("cmp.json");
    let out = harness(&["compare", s(&a), s(&empty), "--json", s(&json)]);
    refused_in_one_line(&out, &["RUN_B", "no results.csv", "harness bench"]);
    let missing = tmp.path().join("nowhere");
    let out = harness(&["compare", s(&missing), s(&a), "--json", s(&json)]);
    refused_in_one_line(&out, &["RUN_A", "is not a folder"]);
    assert!(!json.exists(), "nothing written");
}

#[test]
fn two_runs_with_nothing_in_common_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = three_variants(&tmp.path().join("a"), 1, None);
    let m = machine("Test CPU");
    let mut other = row("naive", 64);
    other.case = "square".into();
    let b = write_run(
        &tmp.path().join("b"),
        Spec {
            machine: &m,
            shard: None,
            rows: vec![(other, Some(samples(1e-2, 0.01, 10, 1)))],
        },
    );
    let md = tmp.path().join("cmp.md");
    let out = harness(&["compare", s(&a), s(&b), "--markdown", s(&md)]);
    refused_in_one_line(
        &out,
        &[
            "RUN_A (3 rows)",
            "RUN_B (1 rows)",
            "no (kernel, case",
            "in common",
        ],
    );
    assert!(!md.exists(), "nothing written");
    assert!(text(&out.stdout).is_empty());
    // A selection that leaves nothing in common says so too.
    let out = harness(&["compare", s(&a), s(&a), "--variant", "fft"]);
    refused_in_one_line(&out, &["0 rows selected", "select fewer rows"]);
}

#[test]
fn bad_thresholds_and_existing_outputs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = three_variants(&tmp.path().join("a"), 1, None);
    for bad in ["abc", "nan", "5", "2000%", "-5%", "inf"] {
        let flag = format!("--fail-above={bad}");
        let out = harness(&["compare", s(&a), s(&a), &flag]);
        refused_in_one_line(&out, &[&format!("--fail-above {bad}:"), "5%"]);
    }
    let md = tmp.path().join("kept.md");
    std::fs::write(&md, "mine").unwrap();
    let out = harness(&["compare", s(&a), s(&a), "--markdown", s(&md)]);
    refused_in_one_line(&out, &["--markdown", "exists", "choose another name"]);
    assert_eq!(std::fs::read_to_string(&md).unwrap(), "mine");
    let out = harness(&["compare", s(&a), s(&a), "--baseline", "naive"]);
    refused_in_one_line(&out, &["--baseline", "RUN_A is the baseline"]);
}

#[test]
fn different_machines_are_said_in_the_header() {
    let tmp = tempfile::tempdir().unwrap();
    let a = three_variants(&tmp.path().join("a"), 1, None);
    let m = machine("Other CPU");
    let b = write_run(
        &tmp.path().join("b"),
        Spec {
            machine: &m,
            shard: None,
            rows: vec![(row("naive", 32), Some(samples(5e-3, 0.01, 40, 9)))],
        },
    );
    let json = tmp.path().join("cmp.json");
    let out = harness(&["compare", s(&a), s(&b), "--json", s(&json)]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "different machines: A on Test CPU · 2 cores · 8.0 GiB · Test OS, B on Other CPU"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("faster"),
        "B's naive is twice as fast: {stdout}"
    );
    let doc = read_json(&json);
    assert_eq!(doc["same_machine"], false);
    assert_eq!(doc["b"]["machine"]["cpu"], "Other CPU");
}

/// Shard `index` of 2 of suite `selection`: the naive row at n = 16 (shard 1) or 32 (2).
fn shard(dir: &Path, index: usize, selection: &str, cpu: &str) -> PathBuf {
    let m = machine(cpu);
    let n = if index == 1 { 16 } else { 32 };
    write_run(
        dir,
        Spec {
            machine: &m,
            shard: Some(Shard {
                index,
                count: 2,
                selection: selection.into(),
            }),
            rows: vec![(
                row("naive", n),
                Some(samples(1e-3 * f64::from(n), 0.01, 20, n.into())),
            )],
        },
    )
}

#[test]
fn shard_folders_are_one_side() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (s1, s2) = (
        shard(&t.join("s1"), 1, "5eed", "Test CPU"),
        shard(&t.join("s2"), 2, "5eed", "Test CPU"),
    );
    let m = machine("Test CPU");
    let whole = write_run(
        &t.join("whole"),
        Spec {
            machine: &m,
            shard: None,
            rows: vec![
                (row("naive", 16), Some(samples(16e-3, 0.01, 20, 7))),
                (row("naive", 32), Some(samples(32e-3, 0.01, 20, 8))),
            ],
        },
    );
    let shards = format!("{},{}", s(&s1), s(&s2));
    let json = t.join("cmp.json");
    let out = harness(&["compare", &shards, s(&whole), "--json", s(&json)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("(2 of 2 shards, selection 5eed)"),
        "{stdout}"
    );
    let doc = read_json(&json);
    assert_eq!(
        doc["rows"].as_array().unwrap().len(),
        2,
        "both shards' rows compared"
    );
    assert!(doc["only_in_a"].as_array().unwrap().is_empty());
    assert_eq!(doc["a"]["shards"]["count"], 2);
    assert_eq!(doc["a"]["folders"].as_array().unwrap().len(), 2);
    // One shard alone on a side: its rows, the other's listed on B's side only, a note.
    let out = harness(&["compare", &format!("{},", s(&s1)), s(&whole)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("only in B (1):"));
    // Folders that are not slices of one suite on one machine are refused.
    let other_suite = shard(&t.join("x2"), 2, "beef", "Test CPU");
    let out = harness(&[
        "compare",
        &format!("{},{}", s(&s1), s(&other_suite)),
        s(&whole),
    ]);
    refused_in_one_line(&out, &["RUN_A", "shards of different suites or machines"]);
    let other_machine = shard(&t.join("m2"), 2, "5eed", "Other CPU");
    let out = harness(&[
        "compare",
        &format!("{},{}", s(&s1), s(&other_machine)),
        s(&whole),
    ]);
    refused_in_one_line(&out, &["RUN_A", "shards of different suites or machines"]);
    let out = harness(&["compare", &format!("{},{}", s(&s1), s(&whole)), s(&whole)]);
    refused_in_one_line(&out, &["RUN_A", "is not a shard run"]);
    let out = harness(&["compare", &format!("{},{}", s(&s1), s(&s1)), s(&whole)]);
    refused_in_one_line(&out, &["RUN_A", "shard 1/2 is given twice"]);
}

#[test]
fn a_real_pair_of_short_runs_compares() {
    let tmp = tempfile::tempdir().unwrap();
    let mut folders = Vec::new();
    for side in ["a", "b"] {
        let out_dir = tmp.path().join(side);
        let out = harness(&[
            "bench",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "8",
            "--budget",
            "0.05",
            "--threads",
            "1",
            "--out",
            s(&out_dir),
        ]);
        assert!(
            out.status.success() || out.status.code() == Some(1),
            "bench failed: {}",
            text(&out.stderr)
        );
        let run = std::fs::read_dir(&out_dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            // The run folder, not ceilings.json beside it.
            .find(|p| p.is_dir())
            .unwrap();
        folders.push(run);
    }
    let out = harness(&["compare", s(&folders[0]), s(&folders[1])]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let ok = harness::results::read_rows(&folders[0].join("results.csv"))
        .unwrap()
        .iter()
        .filter(|r| r.status == Status::Ok)
        .count();
    assert!(ok >= 2, "at least naive and one more timed");
    let header = stdout
        .lines()
        .find(|l| l.starts_with("kernel/case/variant"))
        .unwrap_or_else(|| panic!("no table:\n{stdout}"));
    assert!(
        header.contains("B/A") && header.contains("95% interval") && header.contains("verdict")
    );
    let table: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("laue/square/"))
        .collect();
    assert_eq!(table.len(), ok, "{stdout}");
    // Aligned: the ratio column (right-aligned) ends at the same place on every line.
    let end = header[..header.find("B/A").unwrap()].chars().count() + 2;
    assert!(
        table
            .iter()
            .all(|l| l.chars().nth(end).is_some_and(|c| c.is_ascii_digit())
                && l.chars().nth(end + 1) == Some(' ')),
        "{stdout}"
    );
    assert!(
        table.iter().all(|l| l.ends_with("samples")),
        "both runs kept their samples"
    );
}

//! Interleaved timing end to end: `harness compare --kernel K --variant A,B` and `bench
//! --interleave` write one row per variant with its paired ratio and samples aligned by
//! round; bad selections are refused before anything is written; a failing variant is a
//! failed row while the others are timed; a problem whose variants do not fit in memory
//! together is timed sequentially and says so; Ctrl-C keeps whole problems.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/faulty.rs"]
mod faulty;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cli::{harness_env, refused_in_one_line, rows_on_disk, spawn_quiet, stop_when, text, words};
use harness::cli::{BenchArgs, Limits, Select, Suite};
use harness::cmd::bench::bench_plan;
use harness::cmd::plan::{Job, Plan};
use harness::results::{Row, Status, read_rows, samples};
use kernels::Params;

/// The one run folder under `out`.
fn run_folder(out: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("results.csv").is_file())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

fn samples_of(run: &Path, row: &Row) -> Vec<f64> {
    assert!(!row.samples_file.is_empty(), "{row:?}");
    samples::read(&run.join(&row.samples_file)).unwrap()
}

#[test]
fn compare_gives_each_variant_a_paired_ratio_and_samples_aligned_by_round() {
    let dir = tempfile::tempdir().unwrap();
    let (json, md) = (dir.path().join("c.json"), dir.path().join("c.md"));
    let out = harness_env(
        &[
            "compare",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "8",
            "--variant",
            "factorised,naive",
            "--budget",
            "0.2",
            "--threads",
            "1",
            "--out",
            dir.path().join("runs").to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let run = run_folder(&dir.path().join("runs"));
    let rows = read_rows(&run.join("results.csv")).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let rounds = rows[0].rounds;
    // The fewest rounds an interleaved run makes: enough for a 95 % interval.
    assert!(rounds >= 6, "{rows:?}");
    for r in &rows {
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert!(
            r.interleaved && r.rounds == rounds && r.samples == rounds,
            "{r:?}"
        );
        assert_eq!(r.baseline, "naive", "naive is the default baseline");
        assert_eq!(samples_of(&run, r).len(), rounds);
        let (lo, ratio, hi) = (
            r.ratio_low.unwrap(),
            r.ratio.unwrap(),
            r.ratio_high.unwrap(),
        );
        assert!(lo <= ratio && ratio <= hi, "{r:?}");
    }
    let row = |v: &str| rows.iter().find(|r| r.variant == v).unwrap();
    assert_eq!(row("naive").ratio, Some(1.0));
    // The factorised sum is about 50 times less work than the naive one at this size.
    assert!(
        row("factorised").ratio.unwrap() < 0.5,
        "{:?}",
        row("factorised")
    );
    assert_eq!(row("factorised").verdict, "faster");
    assert!(stdout.contains("ratio to naive (95 %)"), "{stdout}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["mode"], "interleaved");
    assert_eq!(doc["rows"].as_array().unwrap().len(), 2, "{doc}");
    assert_eq!(doc["rows"][0]["baseline"], "naive");
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("| factorised |") && md.contains("faster"),
        "{md}"
    );
}

#[test]
fn a_ratio_from_too_few_rounds_is_said_without_an_interval_or_a_verdict() {
    // Naive at n = 32 (~10⁷ phases) takes far longer than three budgets of 1 ms: one
    // round, and one ratio, which cannot say how much the machine moved it.
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let mut args = words(
        "compare --kernel laue --case square --n 32 --variant factorised,naive --budget 0.001 \
         --threads 1 --out",
    );
    args.push(runs.to_str().unwrap());
    let out = harness_env(&args, &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let rows = read_rows(&run_folder(&runs).join("results.csv")).unwrap();
    let row = |v: &str| rows.iter().find(|r| r.variant == v).unwrap();
    let fact = row("factorised");
    assert_eq!((fact.status, fact.rounds), (Status::Ok, 1), "{fact:?}");
    assert!(fact.ratio.is_some_and(|r| r < 1.0), "{fact:?}");
    assert_eq!((fact.ratio_low, fact.ratio_high), (None, None), "{fact:?}");
    assert_eq!(fact.verdict, "", "{fact:?}");
    assert!(
        fact.reason
            .contains("1 round(s): a 95 % interval needs 6 or more"),
        "{fact:?}"
    );
    assert!(
        stdout.contains("(no interval)") && stdout.contains("1 round(s): a 95 %"),
        "{stdout}"
    );
}

/// Every refusal: exit code 2, one line, and no folder made under `--out`.
#[test]
fn bad_selections_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let o = out.to_str().unwrap();
    let base = [
        "--kernel", "laue", "--case", "square", "--n", "8", "--out", o,
    ];
    let cases: [(&[&str], &[&str]); 7] = [
        (
            &["compare", "--variant", "naive,nope"],
            &["unknown variant `nope`"],
        ),
        (
            &["compare", "--variant", "naive"],
            &["at least two variants"],
        ),
        (
            &["compare", "--variant", "naive,,parallel"],
            &["empty name"],
        ),
        (&["compare", "--variant", "naive,naive"], &["given twice"]),
        (
            &[
                "compare",
                "--variant",
                "naive,parallel",
                "--baseline",
                "fft",
            ],
            &["--baseline fft", "add it to --variant"],
        ),
        (
            &["bench", "--interleave", "--baseline", "nope"],
            &["--baseline nope: unknown variant"],
        ),
        (&["bench", "--baseline", "naive"], &["add --interleave"]),
    ];
    for (args, needles) in cases {
        let all: Vec<&str> = args.iter().chain(base.iter()).copied().collect();
        refused_in_one_line(&harness_env(&all, &[]), needles);
        assert!(!out.exists(), "{args:?} made {}", out.display());
    }
    let save = dir.path().join("x.npy");
    let run = [
        "run",
        "--kernel",
        "laue",
        "--variant",
        "naive,parallel",
        "--save",
        save.to_str().unwrap(),
    ];
    refused_in_one_line(&harness_env(&run, &[]), &["one variant"]);
    assert!(!save.exists());
}

#[test]
fn comma_lists_select_variants_in_list_and_validate() {
    let out = harness_env(
        &[
            "validate",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "8",
            "--variant",
            "laue/square/naive,factorised",
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let ids: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("laue/square/"))
        .collect();
    assert_eq!(
        ids,
        ["laue/square/naive", "laue/square/factorised"],
        "{stdout}"
    );
}

fn faulty_plan() -> Plan {
    Plan {
        jobs: vec![Job {
            kernel: &faulty::FAULTY,
            case: "only".into(),
            params: Params::defaults(faulty::FAULTY_PARAMS),
        }],
        variant: None,
    }
}

fn faulty_rows(interleave: bool) -> (PathBuf, Vec<Row>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let args = BenchArgs {
        select: Select::default(),
        threads: vec![1],
        budget: 0.05,
        min_samples: 3,
        out: dir.path().to_path_buf(),
        limits: Limits {
            suite: Suite::Full,
            time_limit: None,
        },
        interleave,
        ..harness::cmd::bench::default_args()
    };
    let code = bench_plan(&faulty_plan(), &args).expect("the bench itself does not err");
    assert_eq!(code, std::process::ExitCode::FAILURE, "failed rows exit 1");
    let run = run_folder(dir.path());
    let rows = read_rows(&run.join("results.csv")).unwrap();
    (run, rows, dir)
}

#[test]
fn interleaved_rows_match_sequential_rows_and_a_failing_variant_fails_alone() {
    let (_, sequential, _d1) = faulty_rows(false);
    let (run, rows, _d2) = faulty_rows(true);
    let keys = |rows: &[Row]| -> BTreeSet<(String, String, String, usize, Status)> {
        rows.iter()
            .map(|r| {
                let id = (r.kernel.clone(), r.case.clone(), r.variant.clone());
                (id.0, id.1, id.2, r.threads, r.status)
            })
            .collect()
    };
    assert_eq!(keys(&rows), keys(&sequential));
    assert_eq!(rows.len(), sequential.len());
    let row = |v: &str| rows.iter().find(|r| r.variant == v).unwrap();
    let timed = row("panics-when-timed");
    assert_eq!(timed.status, Status::Failed, "{timed:?}");
    assert!(
        timed
            .reason
            .contains("failed while timing: panicked: deliberate panic while timed"),
        "{}",
        timed.reason
    );
    assert!(timed.ratio.is_none() && timed.samples_file.is_empty());
    for bad in ["panics", "setup-panics", "nan", "wrong"] {
        assert!(
            !row(bad).interleaved && row(bad).ratio.is_none(),
            "{:?}",
            row(bad)
        );
    }
    let (naive, right) = (row("naive"), row("right"));
    for r in [naive, right] {
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert!(
            r.interleaved && r.baseline == "naive" && r.ratio.is_some(),
            "{r:?}"
        );
        assert_eq!(samples_of(&run, r).len(), naive.rounds);
    }
    assert_eq!(right.rounds, naive.rounds);
}

/// Bytes `laue/square` at n = 8 counts per prepared variant, as the interleaved bench does:
/// the kernel's own estimate, or twice the problem's nominal bytes without one.
fn laue_bytes_per_variant() -> f64 {
    let laue = kernels::registry::kernel("laue").unwrap();
    let params = laue.defaults("square").with("n", 8.0);
    match laue.memory_estimate("square", &params) {
        Some(bytes) => bytes as f64,
        None => 2.0 * laue.instance("square", &params, &[]).unwrap().work().bytes,
    }
}

#[test]
fn variants_that_do_not_fit_together_are_timed_sequentially_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    // One variant fits, two do not.
    let limit = (1.5 * laue_bytes_per_variant()) as u64;
    let out = harness_env(
        &[
            "bench",
            "--interleave",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "8",
            "--variant",
            "naive,factorised",
            "--threads",
            "1",
            "--budget",
            "0.05",
            "--out",
            dir.path().to_str().unwrap(),
        ],
        &[("HARNESS_MEMORY_LIMIT", &limit.to_string())],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("timing them one after another instead"),
        "{stdout}"
    );
    let rows = read_rows(&run_folder(dir.path()).join("results.csv")).unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert!(!r.interleaved && r.ratio.is_none(), "{r:?}");
        assert!(
            r.reason.contains("timed sequentially, not interleaved"),
            "{r:?}"
        );
    }
}

#[test]
fn ctrl_c_keeps_whole_problems() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_quiet(
        &words(concat!(
            "compare --kernel laue --case square --n 5,6,7,8,9,10,11,12,13,14,15,16",
            " --variant naive,factorised --threads 1 --budget 0.2 --out"
        )),
        dir.path(),
    );
    let run = stop_when(&mut child, dir.path(), "-INT", |run| {
        rows_on_disk(&run.join("results.csv")) >= 1
    });
    let csv = run.join("results.csv");
    let rows = read_rows(&csv).unwrap();
    assert!(!rows.is_empty() && rows.len() < 24, "{} rows", rows.len());
    // Both rows of every problem, each with its ratio: no problem cut in half.
    assert_eq!(rows.len() % 2, 0, "{rows:?}");
    assert!(rows.iter().all(|r| r.ratio.is_some()), "{rows:?}");
}

#[test]
fn ctrl_c_before_any_problem_finished_writes_no_json() {
    let dir = tempfile::tempdir().unwrap();
    let (json, runs) = (dir.path().join("c.json"), dir.path().join("runs"));
    let json_arg = json.to_str().unwrap();
    let mut child = spawn_quiet(
        &[
            words("compare --kernel laue --case square --n 40 --variant naive,factorised"),
            words("--threads 1 --budget 5 --json"),
            vec![json_arg, "--out"],
        ]
        .concat(),
        &runs,
    );
    // The run folder exists from the start; its problem (naive at n = 40: seconds of
    // warm-up, then 5 s of rounds per variant) is far from finished when Ctrl-C comes.
    stop_when(&mut child, &runs, "-INT", |run| run.is_dir());
    // An empty comparison in a file would read as "nothing differs".
    assert!(!json.exists(), "an empty {} was written", json.display());
}

// ---- compare --against-bin ------------------------------------------------------------------

#[test]
fn compare_against_a_build_pairs_the_two_builds_round_by_round() {
    let dir = tempfile::tempdir().unwrap();
    let (json, runs) = (dir.path().join("b.json"), dir.path().join("runs"));
    // This very binary as "the other build": an A/A comparison.
    let out = harness_env(
        &[
            "compare",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "8",
            "--variant",
            "naive,factorised",
            "--threads",
            "1",
            "--budget",
            "0.1",
            "--against-bin",
            env!("CARGO_BIN_EXE_harness"),
            "--json",
            json.to_str().unwrap(),
            "--out",
            runs.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("ratio this/other (95 %)"), "{stdout}");
    assert!(!runs.exists(), "no run folder in this mode");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["mode"], "against-bin");
    assert!(doc["rounds"].as_u64().unwrap() >= 5, "{doc}");
    let rows = doc["rows"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["variant"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["naive", "factorised"], "{doc}");
    for r in rows {
        assert_eq!(r["status"], "ok", "{r}");
        let (lo, ratio, hi) = (
            r["ratio_low"].as_f64().unwrap(),
            r["ratio"].as_f64().unwrap(),
            r["ratio_high"].as_f64().unwrap(),
        );
        // The same build on both sides: about 1 (a loaded machine moves it, not 2×).
        assert!(
            lo <= ratio && ratio <= hi && 0.5 < ratio && ratio < 2.0,
            "{r}"
        );
    }
}

/// A shell script standing in for a binary: `--version` answers `version`, anything else
/// prints `first_line` and waits.
fn fake_binary(dir: &Path, name: &str, version: &str, first_line: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo '{version}'; exit 0; fi\n\
         echo '{first_line}'\nsleep 5\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn against_bin_refuses_what_is_not_a_harness_of_this_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let missing = dir.path().join("no-such-harness");
    let not_harness = fake_binary(dir.path(), "tool", "tool 1.0", "");
    let old = fake_binary(dir.path(), "old", "harness 0.0.1", "machine: an old build");
    let other = fake_binary(dir.path(), "other", "harness 9.9.9", r#"{"protocol": 99}"#);
    let cases = [
        (&missing, "no such file"),
        (&not_harness, "is not a harness binary"),
        (&old, "does not speak the rounds protocol"),
        (&other, "speaks rounds protocol 99"),
    ];
    for (bin, needle) in cases {
        let out = harness_env(
            &[
                "compare",
                "--kernel",
                "laue",
                "--case",
                "square",
                "--n",
                "8",
                "--variant",
                "naive",
                "--against-bin",
                bin.to_str().unwrap(),
                "--out",
                runs.to_str().unwrap(),
            ],
            &[],
        );
        refused_in_one_line(&out, &[needle]);
        assert!(!runs.exists());
    }
    // Two problems: the rounds protocol times one.
    let out = harness_env(
        &[
            "compare",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "8,16",
            "--against-bin",
            env!("CARGO_BIN_EXE_harness"),
        ],
        &[],
    );
    refused_in_one_line(&out, &["matches 2 problems"]);
}

#[test]
fn rounds_out_answers_each_request_with_one_line() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rounds.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "bench",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "8",
            "--variant",
            "naive,factorised",
            "--threads",
            "1",
            "--budget",
            "0.05",
            "--rounds-out",
        ])
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("runs"))
        .env_remove("HARNESS_MEMORY_LIMIT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"round\nround\nquit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0]["protocol"], harness::cmd::bench::ROUNDS_PROTOCOL);
    let ready = lines[1]["ready"].as_array().unwrap();
    assert!(ready.iter().all(|r| r["status"] == "ok"), "{ready:?}");
    for (i, round) in lines[2..].iter().enumerate() {
        assert_eq!(round["round"], i + 1);
        for v in ["naive", "factorised"] {
            assert!(round["seconds"][v].as_f64().unwrap() > 0.0, "{round}");
        }
    }
    assert!(!dir.path().join("runs").exists(), "no run folder");
}

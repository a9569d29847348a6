//! External variants (issue 18): a worker registered in a TOML file appears in `list`,
//! `validate`, `bench` (one table with ours), `report` and `compare`, and every fault of a
//! worker is a failed row of its own while the run goes on.
//!
//! The worker is `harness/examples/fake_worker.rs`, found in `target/<profile>/examples/`
//! next to this test's folder. `cargo test --release --workspace` builds the examples; a
//! run of this file alone (`--test external`) does not: build them first with `cargo build
//! --release --workspace --examples`, or the test meets a missing or stale worker.

#[path = "support/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};

use cli::{harness_env, interrupt, refused_in_one_line, run_folder, text, wait_for, words};
use harness::results::{Row, Status, read_rows};

/// The example worker, built by cargo next to this test.
fn fake_worker() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().unwrap().parent().unwrap();
    let path = profile.join("examples").join("fake_worker");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --release --workspace --examples`",
        path.display()
    );
    path
}

/// One `[[variant]]` per (name, mode) running the fake worker, with extra lines.
fn registration(dir: &Path, entries: &[(&str, &str, &str)]) -> PathBuf {
    let worker = fake_worker();
    let mut text = String::new();
    for (name, mode, extra) in entries {
        text += &format!(
            "[[variant]]\nname = \"{name}\"\nkernel = \"laue\"\nstrategy = \"rust-worker\"\n\
             command = [\"{}\", \"{mode}\"]\ntimeout_s = 5\n{extra}\n",
            worker.display()
        );
    }
    let path = dir.join("external.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str]) -> std::process::Output {
    harness_env(args, &[])
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn row<'a>(rows: &'a [Row], variant: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.variant == variant)
        .unwrap_or_else(|| panic!("no row for {variant}"))
}

#[test]
fn list_shows_external_variants_with_status_label_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = registration(
        tmp.path(),
        &[
            ("theirs", "correct", ""),
            (
                "absent",
                "correct",
                "probe = [\"sh\", \"-c\", \"echo no such module >&2; exit 1\"]\nsetup = \"pip install it\"",
            ),
            ("small", "correct", "max_n = 4"),
            ("squares", "correct", "cases = [\"square\"]"),
        ],
    );
    let out = run(&[
        "list",
        "--kernel",
        "laue",
        "--case",
        "strained",
        "--n",
        "8",
        "--external",
        s(&toml),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let line = |v: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("laue/strained/{v} ")))
            .unwrap_or_else(|| panic!("no line for {v}:\n{stdout}"))
            .to_string()
    };
    assert!(
        line("theirs").contains("rust-worker") && line("theirs").contains(" ok "),
        "{stdout}"
    );
    let absent = line("absent");
    assert!(absent.contains("skipped"), "{absent}");
    assert!(
        absent.contains("no such module; set up with: pip install it"),
        "{absent}"
    );
    assert!(line("small").contains("above max_n = 4"), "{stdout}");
    assert!(
        line("naive").contains(" ok "),
        "ours are listed too:\n{stdout}"
    );
    assert!(
        !stdout.contains("laue/strained/squares"),
        "only its cases:\n{stdout}"
    );
}

#[test]
fn bench_shows_ours_and_theirs_in_one_table_and_report_draws_them() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = registration(tmp.path(), &[("theirs", "correct", "")]);
    let out_dir = tmp.path().join("out");
    let out = run(&[
        "bench",
        "--kernel",
        "laue",
        "--case",
        "strained",
        "--n",
        "16",
        "--variant",
        "naive,factorised,theirs",
        "--budget",
        "0.5",
        "--threads",
        "1",
        "--out",
        s(&out_dir),
        "--external",
        s(&toml),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for v in ["naive", "factorised", "theirs"] {
        assert!(stdout.contains(v), "{v} missing from the table:\n{stdout}");
    }
    let dir = run_folder(&out_dir);
    let rows = read_rows(&dir.join("results.csv")).unwrap();
    let theirs = row(&rows, "theirs");
    assert_eq!(theirs.status, Status::Ok, "{}", theirs.reason);
    assert_eq!(theirs.runtime, "rust-worker");
    assert!(theirs.error.unwrap() <= theirs.tolerance.unwrap());
    assert!(theirs.samples >= 5 && theirs.median_s.unwrap() > 0.0);
    assert!(
        theirs.speedup_vs_naive.is_some(),
        "ratios against our naive"
    );
    assert!(theirs.stages.contains("worker=") && theirs.stages.contains("round_trip="));
    assert!(
        theirs.reason.contains("round trip added"),
        "{}",
        theirs.reason
    );
    // The fake worker computes on one thread: where /proc gives its CPU time (Linux), the
    // note says how many cores it kept busy, at most one. Not exactly one: with the other
    // tests' processes on the same cores it is descheduled part of its clock (0.4 was seen
    // in CI), so the lower bound is loose: a field that does not count this process's CPU
    // (its children's, 0) leaves no `worker_cpu` at all, and one that is not a CPU time
    // (the start time, in ticks since boot) breaks the upper bound, which allows /proc's
    // 10 ms ticks over the ≥ 0.2 s it must have used and the validation run averaged in.
    if std::path::Path::new("/proc/self/stat").exists() {
        assert!(theirs.stages.contains("worker_cpu="), "{}", theirs.stages);
        let cores: f64 = theirs
            .reason
            .split("it kept ")
            .nth(1)
            .and_then(|r| r.split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no core count in: {}", theirs.reason));
        assert!((0.05..=1.3).contains(&cores), "{}", theirs.reason);
        assert!(
            theirs.reason.contains("where ours had 1 thread(s)"),
            "{}",
            theirs.reason
        );
    }
    // The inputs and output stayed inside the run folder.
    assert!(dir.join("external/theirs").is_dir());

    let report_dir = tmp.path().join("report");
    let out = run(&["report", s(&dir), "--out", s(&report_dir)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::read_dir(&report_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("report.md"))
        .find(|p| p.is_file())
        .expect("report.md");
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.contains("theirs"),
        "the report shows the external variant:\n{md}"
    );
}

/// Every fault mode of the worker, with what its failed row must say.
const FAULTS: [(&str, &str); 9] = [
    ("crash", "exited before answering `run`"),
    ("hang", "gave no answer to `run` within 5 s"),
    ("garbage", "answered garbage `this is not an answer`"),
    ("wrong-version", "speaks protocol 2, this harness speaks 1"),
    ("wrong-shape", "expected [48, 48]"),
    ("nan", "holds NaN at [0, 0]"),
    ("not-npy", "is not a .npy file"),
    ("int-dtype", "not a little-endian float64 or float32"),
    ("no-output", "wrote no output"),
];

#[test]
fn every_fault_is_a_failed_row_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let mut entries: Vec<(&str, &str, &str)> = FAULTS.iter().map(|(m, _)| (*m, *m, "")).collect();
    entries.push(("wrong", "wrong", ""));
    entries.push(("skips", "skip", ""));
    entries.push(("refuses", "refuse", ""));
    entries.push(("theirs", "correct", ""));
    entries.push(("missing", "correct", ""));
    let toml = registration(tmp.path(), &entries);
    // A worker that cannot start: its program is not there.
    let text_toml = std::fs::read_to_string(&toml).unwrap().replacen(
        &format!("name = \"missing\"\nkernel = \"laue\"\nstrategy = \"rust-worker\"\ncommand = [\"{}\"", fake_worker().display()),
        "name = \"missing\"\nkernel = \"laue\"\nstrategy = \"rust-worker\"\ncommand = [\"no-such-worker-program\"",
        1,
    );
    std::fs::write(&toml, text_toml).unwrap();
    let out_dir = tmp.path().join("out");
    let out = run(&[
        "bench",
        "--kernel",
        "laue",
        "--case",
        "square",
        "--n",
        "16",
        "--budget",
        "0.05",
        "--threads",
        "1",
        "--out",
        s(&out_dir),
        "--external",
        s(&toml),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let dir = run_folder(&out_dir);
    let rows = read_rows(&dir.join("results.csv")).unwrap();
    for (mode, why) in FAULTS {
        let r = row(&rows, mode);
        assert_eq!(r.status, Status::Failed, "{mode}: {}", r.reason);
        assert!(r.reason.contains(why), "{mode}: {}", r.reason);
        assert!(!r.reason.contains('\n'), "one line: {}", r.reason);
        let stderr = dir.join(format!("external/{mode}.stderr.txt"));
        let saved = std::fs::read_to_string(&stderr).unwrap_or_default();
        assert!(
            saved.contains(&format!("fake worker: mode {mode}")),
            "{mode}: {saved}"
        );
        let pid: u32 = saved
            .lines()
            .find_map(|l| l.strip_prefix("fake worker: pid "))
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("{mode}: no pid in {saved}"));
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{mode}: worker {pid} not reaped"
        );
    }
    // An error answer (refuses) fails the problem; the worker itself is not at fault.
    for (name, status, needle) in [
        ("wrong", Status::Failed, "validation failed, not timed"),
        ("skips", Status::Skipped, "skips everything"),
        ("refuses", Status::Failed, "refuses every problem"),
        (
            "missing",
            Status::Failed,
            "cannot start `no-such-worker-program",
        ),
    ] {
        let r = row(&rows, name);
        assert_eq!(r.status, status, "{name}: {}", r.reason);
        assert!(r.reason.contains(needle), "{name}: {}", r.reason);
    }
    assert!(!dir.join("external/refuses.stderr.txt").exists());
    // The run went on: ours and the correct worker after all of them.
    assert_eq!(
        row(&rows, "theirs").status,
        Status::Ok,
        "{}",
        row(&rows, "theirs").reason
    );
    assert_eq!(row(&rows, "factorised").status, Status::Ok);
}

#[test]
fn validate_checks_theirs_against_our_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = registration(
        tmp.path(),
        &[("theirs", "correct", ""), ("wrong", "wrong", "")],
    );
    let out = run(&[
        "validate",
        "--kernel",
        "laue",
        "--case",
        "circle",
        "--n",
        "8",
        "--variant",
        "theirs,wrong",
        "--external",
        s(&toml),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let line = |v: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!("laue/circle/{v} ")))
            .unwrap()
            .to_string()
    };
    assert!(line("theirs").contains(" ok "), "{stdout}");
    assert!(line("wrong").contains("FAILED"), "{stdout}");
}

#[test]
fn compare_interleaves_ours_and_theirs() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = registration(tmp.path(), &[("theirs", "correct", "")]);
    let out = run(&[
        "compare",
        "--kernel",
        "laue",
        "--case",
        "strained",
        "--n",
        "16",
        "--variant",
        "factorised,theirs",
        "--budget",
        "0.2",
        "--threads",
        "1",
        "--out",
        s(&tmp.path().join("out")),
        "--external",
        s(&toml),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let line = stdout
        .lines()
        .find(|l| l.contains("theirs"))
        .unwrap_or_else(|| panic!("no row for theirs:\n{stdout}"));
    assert!(
        line.contains("factorised") || stdout.contains("baseline"),
        "{stdout}"
    );
    let rows = read_rows(&run_folder(&tmp.path().join("out")).join("results.csv")).unwrap();
    let theirs = row(&rows, "theirs");
    assert!(theirs.interleaved && theirs.ratio.is_some(), "{theirs:?}");
}

/// Ctrl-C in a terminal reaches the whole foreground process group, workers included (as
/// `timeout`'s SIGTERM does): an interleaved run stopped so keeps the worker's finished
/// rounds and its ratio. Before, the worker died of the signal in the middle of a round
/// and its row was "failed while timing", with no ratio.
#[test]
#[cfg(unix)]
fn ctrl_c_to_the_process_group_keeps_the_workers_rounds() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let toml = registration(tmp.path(), &[("theirs", "correct", "")]);
    let out = tmp.path().join("out");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(words(
            "compare --kernel laue --case strained --n 16 --variant factorised,theirs \
             --baseline factorised --budget 60 --threads 1 --external",
        ))
        .args([s(&toml), "--out", s(&out)])
        .env_remove("HARNESS_MEMORY_LIMIT")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // A group of its own, led by the harness, as a shell makes for a command line.
        .process_group(0)
        .spawn()
        .unwrap();
    let run = wait_for(&mut child, &out, |run| {
        std::fs::read_to_string(run.join("run.log"))
            .is_ok_and(|log| log.contains("4 round(s) finished"))
    });
    let group = format!("-{}", child.id());
    interrupt(&mut child, &["-INT", "--", &group]);
    let rows = read_rows(&run.join("results.csv")).unwrap();
    let theirs = row(&rows, "theirs");
    assert_eq!(theirs.status, Status::Ok, "{theirs:?}");
    assert!(theirs.rounds >= 4, "{theirs:?}");
    assert!(theirs.ratio.is_some(), "a paired ratio: {theirs:?}");
    assert!(theirs.reason.contains("interrupted after"), "{theirs:?}");
}

/// `bench` of Laue's square at n = 64 with a time limit: its rows.
fn bench_with_time_limit(toml: &Path, out_dir: &Path, variants: &str, limit: &str) -> Vec<Row> {
    let out = run(&[
        "bench",
        "--kernel",
        "laue",
        "--case",
        "square",
        "--n",
        "64",
        "--variant",
        variants,
        "--budget",
        "0.05",
        "--threads",
        "1",
        "--time-limit",
        limit,
        "--out",
        s(out_dir),
        "--external",
        s(toml),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    read_rows(&run_folder(out_dir).join("results.csv")).unwrap()
}

#[test]
fn the_time_limit_skips_a_slow_worker_from_one_small_run() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = registration(tmp.path(), &[("theirs", "correct", "")]);
    let out_dir = tmp.path().join("out");
    let rows = bench_with_time_limit(&toml, &out_dir, "theirs", "0.001");
    let theirs = row(&rows, "theirs");
    assert_eq!(theirs.status, Status::Skipped, "{}", theirs.reason);
    assert!(theirs.reason.contains("estimated"), "{}", theirs.reason);
}

#[test]
fn a_worker_that_fixes_its_size_is_estimated_from_the_time_it_declares() {
    // Both refuse the calibration problem (an eighth of n = 64): only the declared time tells
    // the time limit what a run costs; the undeclared one runs, nothing being known.
    let tmp = tempfile::tempdir().unwrap();
    let toml = registration(
        tmp.path(),
        &[
            ("declared", "fixed-64", "seconds_per_run = 100"),
            ("undeclared", "fixed-64", ""),
        ],
    );
    let out_dir = tmp.path().join("out");
    let rows = bench_with_time_limit(&toml, &out_dir, "declared,undeclared", "5");
    let declared = row(&rows, "declared");
    assert_eq!(declared.status, Status::Skipped, "{}", declared.reason);
    assert!(
        declared.reason.contains("estimated 100 s per run")
            && declared.reason.contains("seconds_per_run = 100"),
        "{}",
        declared.reason
    );
    let undeclared = row(&rows, "undeclared");
    assert_eq!(undeclared.status, Status::Ok, "{}", undeclared.reason);
}

/// `compare` of Laue's square at n = 64, a worker that declares 100 s per run against one
/// that declares nothing, with `extra` options: its printed table and its rows. The naive
/// variants' limit, which sizes named on the command line get, is pinned at 60 s.
fn compare_declared(toml: &Path, out_dir: &Path, extra: &[&str]) -> (String, Vec<Row>) {
    let mut args = words(
        "compare --kernel laue --case square --n 64 --variant theirs,declared --baseline theirs \
         --budget 0.05 --threads 1",
    );
    args.extend(["--out", s(out_dir), "--external", s(toml)]);
    args.extend(extra);
    let out = harness_env(&args, &[("HARNESS_NAIVE_LIMIT_S", "60")]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let rows = read_rows(&run_folder(out_dir).join("results.csv")).unwrap();
    (stdout, rows)
}

#[test]
fn compare_takes_the_options_a_row_skipped_for_time_names() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = registration(
        tmp.path(),
        &[
            ("theirs", "correct", ""),
            ("declared", "fixed-64", "seconds_per_run = 100"),
        ],
    );
    let (stdout, rows) = compare_declared(&toml, &tmp.path().join("limited"), &[]);
    let declared = row(&rows, "declared");
    assert_eq!(declared.status, Status::Skipped, "{}", declared.reason);
    for option in ["--suite full", "--time-limit S"] {
        assert!(declared.reason.contains(option), "{}", declared.reason);
        assert!(stdout.contains(option), "{stdout}");
    }
    // Either option, given to compare, runs it (the fake worker takes far less than 100 s).
    for (i, extra) in [["--time-limit", "200"], ["--suite", "full"]]
        .iter()
        .enumerate()
    {
        let (_, rows) = compare_declared(&toml, &tmp.path().join(i.to_string()), extra);
        let declared = row(&rows, "declared");
        assert_eq!(
            declared.status,
            Status::Ok,
            "{extra:?}: {}",
            declared.reason
        );
        assert!(declared.ratio.is_some(), "{extra:?}: paired with theirs");
    }
}

#[test]
fn bad_registrations_are_refused_in_one_line_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[variant]]\nname = \"a\"\nkernel = \"laue\"\ncommand = [\"x\"]\ncolour = \"red\"\n",
            "unknown field `colour`",
        ),
        (
            "[[variant]]\nname = \"a\"\nkernel = \"laue\"\ncommand = [\"x\"]\n[[variant]]\nname = \"a\"\nkernel = \"lm\"\ncommand = [\"x\"]\n",
            "registered twice",
        ),
        (
            "[[variant]]\nname = \"a\"\nkernel = \"fft\"\ncommand = [\"x\"]\n",
            "unknown kernel `fft`",
        ),
        (
            "[[variant]]\nname = \"a\"\nkernel = \"laue\"\ncases = [\"cube\"]\ncommand = [\"x\"]\n",
            "unknown case `cube`",
        ),
        ("[[variant]\n", "not a valid registration"),
    ];
    for (i, (body, why)) in cases.iter().enumerate() {
        let toml = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&toml, body).unwrap();
        let out_dir = tmp.path().join(format!("out{i}"));
        let out = run(&[
            "bench",
            "--kernel",
            "laue",
            "--n",
            "8",
            "--out",
            s(&out_dir),
            "--external",
            s(&toml),
        ]);
        let line = refused_in_one_line(&out, &[why]);
        assert!(
            line.contains(&format!("bad{i}.toml")),
            "names the file: {line}"
        );
        assert!(!out_dir.exists(), "nothing written for {why}");
    }
}

/// The report's file of kind `name` (report.md, report.html) under `out`.
fn report_file(out: &Path, name: &str) -> String {
    let path = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path().join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no {name} under {}", out.display()));
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn report_advice_compares_peers_and_says_where_one_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = registration(tmp.path(), &[("small", "correct", "max_n = 8")]);
    let out_dir = tmp.path().join("out");
    let out = run(&[
        "bench",
        "--kernel",
        "laue",
        "--case",
        "square",
        "--n",
        "8,16",
        "--variant",
        "factorised,small",
        "--budget",
        "0.05",
        "--threads",
        "1",
        "--out",
        s(&out_dir),
        "--external",
        s(&toml),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report_dir = tmp.path().join("report");
    let dir = run_folder(&out_dir);
    let out = run(&["report", s(&dir), "--out", s(&report_dir)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = report_file(&report_dir, "report.md");
    assert!(
        md.contains("Peers at n = 8: the fastest, small"),
        "peer advice:\n{md}"
    );
    assert!(
        md.contains("small ran only up to n = 8: above, skipped (n = 16 is above max_n = 8"),
        "range advice:\n{md}"
    );
    let html = report_file(&report_dir, "report.html");
    assert!(html.contains("small"), "the charts and tables show it");
}

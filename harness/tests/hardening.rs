//! Hardening: bad parameters, oversized runs, variants that panic or produce NaN, and an
//! interrupted benchmark. Each test fails without the behaviour it names.
//!
//! The command-line tests run the real `harness` binary (`CARGO_BIN_EXE_harness`). Variants
//! that panic, return NaN or a wrong answer are in tests/faults.rs.

use std::process::{Command, Output as ProcessOutput, Stdio};
use std::time::{Duration, Instant};

#[path = "support/cli.rs"]
mod cli;

use cli::{harness_env, refused_in_one_line, rows_on_disk, spawn_quiet, stop_when, text, words};

fn harness(args: &[&str]) -> ProcessOutput {
    harness_env(args, &[])
}

// ---- unknown names ------------------------------------------------------------------------

#[test]
fn unknown_kernel_case_or_variant_lists_the_valid_ones() {
    refused_in_one_line(
        &harness(&["validate", "--kernel", "lau"]),
        &["lau", "laue", "psf", "lm", "deconv"],
    );
    refused_in_one_line(
        &harness(&["validate", "--kernel", "laue", "--case", "squar"]),
        &["squar", "square", "circle", "strained"],
    );
    refused_in_one_line(
        &harness(&[
            "validate",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--variant",
            "fastest",
        ]),
        &["fastest", "naive", "vectorised", "parallel"],
    );
    refused_in_one_line(
        &harness(&["bench", "--variant", "laue/square/fastest", "--n", "4"]),
        &["fastest", "naive"],
    );
}

// ---- parameters ---------------------------------------------------------------------------

#[test]
fn sizes_that_are_zero_negative_non_integer_or_not_numbers_are_refused() {
    for (kernel, flag, value, why) in [
        ("laue", "--n", "0", "between"),
        ("laue", "--n", "-3", "between"),
        ("laue", "--n", "2.5", "integer"),
        ("laue", "--n", "abc", "not a number"),
        ("laue", "--n", "nan", "finite"),
        ("laue", "--n", "1e9", "between"),
        ("laue", "--oversampling", "0", "between"),
        ("lm", "--fits", "0", "between"),
        ("lm", "--fits", "12.5", "integer"),
        ("lm", "--max_iterations", "-1", "between"),
        ("deconv", "--n", "1", "between"),
        ("deconv", "--iterations", "3.5", "integer"),
        ("psf", "--n", "-64", "between"),
        ("psf", "--channel", "172", "one of"),
    ] {
        // `--n=-3`: with a space, a negative number reads as an unknown flag to clap, which
        // refuses it too but with its own multi-line usage text.
        let arg = format!("{flag}={value}");
        let out = harness(&["validate", "--kernel", kernel, &arg]);
        refused_in_one_line(&out, &[flag, value, why]);
    }
}

#[test]
fn thread_counts_beyond_the_machine_are_refused_before_a_run_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    for threads in ["0", "100000"] {
        let out = harness(&[
            "bench",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "4",
            "--threads",
            threads,
            "--out",
            out_dir,
        ]);
        refused_in_one_line(&out, &[&format!("--threads {threads}"), "cores"]);
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_run_too_large_for_memory_is_refused_with_the_estimate_before_allocating() {
    // laue n=4096, 64 points per unit: (64·4096)² output points = 550 GB of f64. The check
    // happens before any variant allocates, so this returns at once instead of dying.
    let start = Instant::now();
    let out = harness(&[
        "validate",
        "--kernel",
        "laue",
        "--case",
        "square",
        "--n",
        "4096",
        "--oversampling",
        "64",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("FAILED")
            && stdout.contains("needs at least")
            && stdout.contains("GB are available"),
        "{stdout}"
    );
    assert!(start.elapsed() < Duration::from_secs(30));

    // The same check with a small limit set: any kernel's run is refused, with its estimate.
    for (kernel, size) in [
        ("psf", "--n=64"),
        ("lm", "--fits=1000"),
        ("deconv", "--n=32"),
    ] {
        let out = harness_env(
            &["validate", "--kernel", kernel, size],
            &[("HARNESS_MEMORY_LIMIT", "1000")],
        );
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{kernel}: {stdout}");
        assert!(
            stdout.contains("needs at least") && stdout.contains("0.0 GB are available"),
            "{kernel}: {stdout}"
        );
        assert!(
            !stdout.contains(" ok "),
            "{kernel}: something ran: {stdout}"
        );
    }
}

// ---- faults inside variants ---------------------------------------------------------------

// ---- interruption -------------------------------------------------------------------------

/// Starts a small bench, waits for its first finished row, sends `signal`, and checks the
/// finished rows are on disk and run.json says the run was interrupted.
fn interrupt_with(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_quiet(
        &words(concat!(
            "bench --kernel laue --case square --n 5,6,7,8,9,10,11,12,13,14,15,16",
            " --threads 1 --budget 0.2 --min-samples 1 --out"
        )),
        dir.path(),
    );
    let run = stop_when(&mut child, dir.path(), signal, |run| {
        rows_on_disk(&run.join("results.csv")) >= 1
    });
    let finished = rows_on_disk(&run.join("results.csv"));
    assert!(finished >= 1, "{signal}: finished rows lost");
    // Every row on disk is whole (a complete CSV record with a status).
    let csv = std::fs::read_to_string(run.join("results.csv")).unwrap();
    let columns = csv.lines().next().unwrap().split(',').count();
    for l in csv.lines().skip(1) {
        assert!(l.split(',').count() >= columns, "{signal}: half a row: {l}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(manifest["interrupted"], true, "{signal}: {manifest}");
    assert!(manifest["finished"].is_string(), "{signal}: {manifest}");
}

#[test]
fn sigint_keeps_finished_rows_and_marks_the_run_interrupted() {
    interrupt_with("-INT");
}

#[test]
fn sigterm_keeps_finished_rows_and_marks_the_run_interrupted() {
    interrupt_with("-TERM");
}

/// An interleaved bench stopped by SIGTERM (as `timeout` sends) in its rounds keeps the
/// rounds finished: every timed row is written with its statistics, its paired ratio and
/// the reason, and run.json says the run was interrupted. Before, such a run lost them all.
#[test]
fn sigterm_in_interleaved_rounds_keeps_the_rounds_finished() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_quiet(
        &words(concat!(
            "bench --kernel laue --case square --n 8 --variant naive,parallel --interleave",
            " --baseline naive --threads 1 --budget 60 --min-samples 1 --out"
        )),
        dir.path(),
    );
    // run.log (debug) says when 4 rounds are done; the budget asks for two minutes.
    let run = stop_when(&mut child, dir.path(), "-TERM", |run| {
        std::fs::read_to_string(run.join("run.log"))
            .is_ok_and(|log| log.contains("4 round(s) finished"))
    });
    let mut csv = csv::Reader::from_path(run.join("results.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2, "both timed rows kept: {rows:?}");
    for row in &rows {
        assert_eq!(&row[col("status")], "ok", "{row:?}");
        let rounds: usize = row[col("rounds")].parse().unwrap();
        assert!(
            rounds >= 4,
            "the rounds finished before the signal: {row:?}"
        );
        assert!(
            row[col("reason")].contains("interrupted after"),
            "the reason says so: {row:?}"
        );
        assert!(!row[col("ratio")].is_empty(), "a paired ratio: {row:?}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(manifest["interrupted"], true, "{manifest}");
}

/// No Vulkan adapter at all (the loader is pointed at a driver list that does not exist, as
/// on a machine without mesa-vulkan-drivers): the GPU variants are reported as skipped with
/// the install hint, every other variant still validates, and the run succeeds — unless the
/// GPU is required (CI's `HARNESS_REQUIRE_GPU=1`), which turns the skip into a failure.
#[test]
fn without_a_vulkan_adapter_gpu_variants_skip_with_the_install_hint() {
    let args = [
        "validate", "--kernel", "laue", "--case", "square", "--n", "4",
    ];
    let no_driver = [
        ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
        ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
    ];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(args).env_remove("HARNESS_REQUIRE_GPU");
    for (k, v) in no_driver {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the harness binary runs");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for v in ["gpu-f32", "gpu-f64"] {
        let line = stdout
            .lines()
            .find(|l| l.contains(&format!("laue/square/{v}")))
            .unwrap_or_else(|| panic!("no line for {v}:\n{stdout}"));
        assert!(
            line.contains("skipped")
                && line.contains("no Vulkan adapter")
                && line.contains("apt-get install mesa-vulkan-drivers"),
            "{line}"
        );
    }
    for v in ["naive", "vectorised", "parallel", "fft", "factorised"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(&format!("laue/square/{v} ")) && l.contains(" ok ")),
            "{v} did not validate without a GPU:\n{stdout}"
        );
    }
    let mut env: Vec<(&str, &str)> = no_driver.to_vec();
    env.push(("HARNESS_REQUIRE_GPU", "1"));
    let required = harness_env(&args, &env);
    assert!(
        !required.status.success(),
        "a required GPU that is missing must fail"
    );
    assert!(text(&required.stdout).contains("GPU required"));
}

// ---- a closed stdout ----------------------------------------------------------------------

/// `harness list | head -3`: the reader is gone before the harness writes (the pipe's read
/// end is closed before it starts, so every write fails). It exits as a tool killed by
/// SIGPIPE would (141), with no panic or backtrace on stderr.
#[test]
fn a_closed_stdout_ends_the_harness_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["list"])
        .env_remove("RUST_LOG")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

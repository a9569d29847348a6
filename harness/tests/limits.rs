//! Limits enforced up front (issue 16): each refusal is one line on stderr with exit code 2,
//! before anything starts — no run folder is created. Plus the quick suite's time limit
//! (skipped with the estimate, lifted by `--suite full`) and a prompt first Ctrl-C during
//! the ceilings' measurement.
//!
//! Every test runs the real `harness` binary (`CARGO_BIN_EXE_harness`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/cli.rs"]
mod cli;

use cli::{harness_env as harness, text};

/// `args` (with `--out` a fresh folder where the command has one) is refused: exit code 2,
/// one line on stderr containing every one of `needles`, and the folder left empty.
#[track_caller]
fn refused(args: &[&str], env: &[(&str, &str)], needles: &[&str]) -> String {
    refused_under("", args, env, needles)
}

/// [`refused`], with the harness started by `bash` after the shell line `shell` (a
/// `ulimit`, say) when it is not empty.
#[track_caller]
fn refused_under(shell: &str, args: &[&str], env: &[(&str, &str)], needles: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut all: Vec<&str> = args.to_vec();
    let takes_out = matches!(args[0], "bench" | "profile");
    if takes_out {
        all.extend(["--out", dir.path().to_str().unwrap()]);
    }
    let out = if shell.is_empty() {
        harness(&all, env)
    } else {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!("{shell}; exec \"$@\""))
            .arg("bash")
            .arg(env!("CARGO_BIN_EXE_harness"))
            .args(&all)
            .env_remove("HARNESS_MEMORY_LIMIT")
            .envs(env.iter().copied());
        cmd.output().expect("bash runs the harness")
    };
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{all:?}: expected a refusal, got {:?}\nstdout: {}\nstderr: {err}",
        out.status,
        text(&out.stdout)
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{all:?}: one line expected, got:\n{err}");
    for n in needles {
        assert!(
            lines[0].contains(n),
            "{all:?}: `{n}` missing from: {}",
            lines[0]
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "{all:?}: something was created under --out"
    );
    lines[0].to_string()
}

/// A small bench selection (laue, square, n = 4, one thread).
const SMALL: [&str; 9] = [
    "bench",
    "--kernel",
    "laue",
    "--case",
    "square",
    "--n",
    "4",
    "--threads",
    "1",
];

fn small_with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = SMALL.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn budget_outside_0_to_3600_seconds_is_refused() {
    for b in ["0", "-1", "nan", "inf", "1e300", "3600.5"] {
        let arg = format!("--budget={b}");
        refused(&small_with(&[&arg]), &[], &["--budget", "3600"]);
    }
}

#[test]
fn min_samples_of_zero_or_beyond_the_sample_cap_is_refused() {
    for m in ["0", "5001", "1000000"] {
        refused(
            &small_with(&["--min-samples", m]),
            &[],
            &[&format!("--min-samples {m}"), "between 1 and 5000"],
        );
    }
}

#[test]
fn a_thread_count_given_twice_is_refused() {
    refused(
        &[
            "bench",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "4",
            "--threads",
            "1,2,1",
        ],
        &[],
        &["--threads", "1 is given twice"],
    );
}

#[test]
fn thread_counts_beyond_the_machine_are_refused() {
    for t in ["0", "100000"] {
        refused(
            &[
                "bench",
                "--kernel",
                "laue",
                "--case",
                "square",
                "--n",
                "4",
                "--threads",
                t,
            ],
            &[],
            &[&format!("--threads {t}"), "cores"],
        );
    }
}

#[test]
fn noisy_outside_0_to_10_or_not_finite_is_refused() {
    for v in ["0", "-1", "nan", "inf", "10.5"] {
        let arg = format!("--noisy={v}");
        refused(&small_with(&[&arg]), &[], &["--noisy", "at most 10"]);
    }
}

#[test]
fn a_time_limit_that_is_not_a_positive_number_is_refused() {
    for v in ["0", "-2", "nan", "inf"] {
        let arg = format!("--time-limit={v}");
        refused(&small_with(&[&arg]), &[], &["--time-limit", "--suite full"]);
    }
}

#[test]
fn a_job_beyond_free_memory_is_refused_before_the_bench_starts_with_needed_and_free() {
    // The second job does not fit; the first would: nothing starts at all.
    refused(
        &[
            "bench",
            "--kernel",
            "pipeline",
            "--n",
            "32,4096",
            "--images",
            "2",
            "--threads",
            "1",
        ],
        &[("HARNESS_MEMORY_LIMIT", "100000000")],
        &[
            "pipeline",
            "n=4096",
            "needs at least",
            "0.1 GB are available",
        ],
    );
}

/// The memory check counts the address-space limit (`ulimit -v`, finding 17): deconv at
/// n = 4096 under 1.5 GB passed the check (MemAvailable alone) and then aborted on a 134 MB
/// allocation.
#[test]
fn an_address_space_limit_counts_as_the_memory_available() {
    let line = refused_under(
        "ulimit -v 1500000",
        &[
            "bench",
            "--kernel",
            "deconv",
            "--case",
            "synthetic",
            "--n",
            "4096",
            "--threads",
            "1",
        ],
        &[],
        &[
            "deconv/synthetic",
            "n=4096",
            "needs at least",
            "are available",
            "ulimit -v",
        ],
    );
    assert!(line.contains("1.5 GB of address space"), "{line}");
}

/// Every kernel's memory need is estimated from its parameters, so that `bench` refuses a
/// job too big before the first starts and before the run folder exists (laue, psf and
/// deconv were checked only on their built problem, as each job started).
#[test]
fn laue_beyond_free_memory_is_refused_before_the_bench_starts() {
    // (64·4096)² output points of f64: 550 GB, twice over with the reference.
    let laue = [
        "--kernel",
        "laue",
        "--case",
        "square",
        "--variant",
        "fft",
        "--n",
        "4096",
        "--oversampling",
        "64",
    ];
    let needles = [
        "laue/square",
        "n=4096",
        "oversampling=64",
        "needs at least 1100.0 GB",
    ];
    refused(
        &[&["bench"][..], &laue, &["--threads", "1"]].concat(),
        &[],
        &needles,
    );
    let tmp = tempfile::tempdir().unwrap();
    let save = tmp.path().join("never.npy");
    let run = [&["run"][..], &laue, &["--save", save.to_str().unwrap()]].concat();
    refused(&run, &[], &needles);
    assert!(!save.exists());
}

#[test]
fn psf_beyond_free_memory_is_refused_before_the_bench_starts() {
    // Three 4096² f64 arrays, twice: 0.8 GB.
    refused(
        &["bench", "--kernel", "psf", "--n", "4096", "--threads", "1"],
        &[("HARNESS_MEMORY_LIMIT", "100000000")],
        &[
            "psf/aia",
            "n=4096",
            "needs at least 0.8 GB",
            "0.1 GB are available",
            "HARNESS_MEMORY_LIMIT",
        ],
    );
}

#[test]
fn deconv_beyond_free_memory_is_refused_before_the_bench_starts() {
    // Ten 4096² f64 images: 1.3 GB.
    refused(
        &[
            "bench",
            "--kernel",
            "deconv",
            "--case",
            "synthetic",
            "--n",
            "64,4096",
            "--threads",
            "1",
        ],
        &[("HARNESS_MEMORY_LIMIT", "1000000000")],
        &[
            "deconv/synthetic",
            "n=4096",
            "needs at least 1.3 GB",
            "1.0 GB are available",
        ],
    );
}

/// A malformed HARNESS_MEMORY_LIMIT switched the memory check off (finding 4).
#[test]
fn a_malformed_memory_limit_is_refused_not_ignored() {
    for bad in ["abc", "-1", "", "1e9", "4GB", " 1000"] {
        refused(
            &["validate", "--kernel", "laue", "--n", "4"],
            &[("HARNESS_MEMORY_LIMIT", bad)],
            &["HARNESS_MEMORY_LIMIT", "digits"],
        );
    }
}

/// The > 2 h estimate summed budgets only: a naive variant estimated at hours per run (its
/// limit raised) started without `--yes`. Its own estimate now counts.
#[test]
fn the_naive_variants_own_estimates_count_toward_the_two_hours() {
    // laue naive at n = 400, 3 points per cell: 1200² points × 400² cells × 65 ns = 4.2 h.
    let line = refused(
        &[
            "bench",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--variant",
            "naive",
            "--n",
            "400",
            "--threads",
            "1",
            "--budget",
            "1",
        ],
        &[("HARNESS_NAIVE_LIMIT_S", "100000")],
        &["at least 4.2 h", "1 rows", "naive", "--yes"],
    );
    assert!(line.contains("4.2 h of them"), "{line}");
}

/// Values far out of range are said in exponent form, never as 301 digits (finding 17).
#[test]
fn huge_values_are_said_in_exponent_form() {
    for (args, flag) in [
        (small_with(&["--budget=1e300"]), "--budget 1e300"),
        (small_with(&["--noisy=1e300"]), "--noisy 1e300"),
        (small_with(&["--time-limit=-1e300"]), "--time-limit -1e300"),
        (
            vec![
                "profile",
                "--kernel",
                "laue",
                "--case",
                "square",
                "--n",
                "4",
                "--seconds=1e300",
            ],
            "--seconds 1e300",
        ),
    ] {
        let line = refused(&args, &[], &[flag]);
        assert!(line.len() < 200, "{line}");
    }
}

#[test]
fn a_selection_of_more_than_two_hours_needs_yes() {
    refused(
        &[
            "bench", "--kernel", "laue", "--case", "square", "--n", "4,5,6", "--budget", "3600",
        ],
        &[],
        &["at least", " h ", "--yes"],
    );
}

#[test]
fn profile_seconds_outside_0_to_3600_is_refused() {
    for s in ["0", "-3", "nan", "inf", "1e9"] {
        let arg = format!("--seconds={s}");
        refused(
            &[
                "profile", "--kernel", "laue", "--case", "square", "--n", "4", &arg,
            ],
            &[],
            &["--seconds", "3600"],
        );
    }
}

#[test]
fn an_integer_parameter_beyond_2_pow_53_is_refused_not_rounded() {
    refused(
        &[
            "bench",
            "--kernel",
            "lm",
            "--case",
            "gauss2d",
            "--fits",
            "16",
            "--seed",
            "9007199254740993",
        ],
        &[],
        &["--seed", "9007199254740993", "2^53"],
    );
    refused(
        &[
            "validate",
            "--kernel",
            "lm",
            "--seed",
            "99999999999999999999",
        ],
        &[],
        &["--seed", "2^53"],
    );
}

fn rows_of(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("results.csv"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

#[test]
fn the_quick_suite_skips_with_the_estimate_and_full_runs_everything() {
    // n = 4 runs and measures; n = 32 is 4096× the work of n = 4: with a limit of 1 ms per
    // run the slow variants are skipped with their estimate and the flag that lifts it.
    let dir = tempfile::tempdir().unwrap();
    let out = harness(
        &[
            "bench",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--variant",
            "naive",
            "--n",
            "4,32",
            "--threads",
            "1",
            "--budget",
            "0.02",
            "--time-limit",
            "0.001",
            "--out",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let run = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        // The run folder, not ceilings.json beside it.
        .find(|p| p.is_dir())
        .unwrap();
    let rows = rows_of(&run);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[0].contains(",ok,"), "{}", rows[0]);
    assert!(
        rows[1].contains(",skipped,") && rows[1].contains("estimated"),
        "{}",
        rows[1]
    );
    assert!(stdout.contains("bench took"), "{stdout}");
    assert!(
        stdout.contains("skipped for time") && stdout.contains("--suite full"),
        "{stdout}"
    );

    // --suite full: the same selection, nothing skipped for time.
    let dir = tempfile::tempdir().unwrap();
    let out = harness(
        &[
            "bench",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--variant",
            "naive",
            "--n",
            "4,32",
            "--threads",
            "1",
            "--budget",
            "0.02",
            "--suite",
            "full",
            "--out",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(!stdout.contains("skipped for time"), "{stdout}");
    let run = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        // The run folder, not ceilings.json beside it.
        .find(|p| p.is_dir())
        .unwrap();
    assert!(rows_of(&run).iter().all(|r| r.contains(",ok,")), "{stdout}");
}

#[test]
fn the_first_ctrl_c_during_the_ceilings_acts_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "bench",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "4",
            "--threads",
            "1,2",
            "--out",
        ])
        .arg(dir.path())
        .env_remove("HARNESS_MEMORY_LIMIT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no ceilings line");
        if line.contains("measuring the machine's ceilings") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Drain stderr so that the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(took < Duration::from_secs(4), "took {took:?} to stop");
    let run = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        // The run folder, not ceilings.json beside it.
        .find(|p| p.is_dir())
        .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(manifest["interrupted"], true, "{manifest}");
    assert!(rows_of(&run).is_empty());
}

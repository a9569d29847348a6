//! Log levels (issue 16, item 4): `-q`, `-v`, `RUST_LOG` on the terminal, and the run
//! folder's `run.log` at debug whatever the terminal shows. Every test runs the real
//! `harness` binary on a problem that takes well under a second.

use std::path::{Path, PathBuf};
use std::process::Output;

#[path = "support/cli.rs"]
mod cli;

use cli::{harness_env, refused_in_one_line, text};

/// `bench` of laue/square at n = 8 into `out` (only `variants` when given), with `extra`
/// flags before the subcommand's and `env`.
fn bench(out: &Path, variant: Option<&str>, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args: Vec<&str> = extra.to_vec();
    args.extend([
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
    ]);
    if let Some(v) = variant {
        args.extend(["--variant", v]);
    }
    args.extend(["--out", out.to_str().unwrap()]);
    let output = harness_env(&args, env);
    assert!(
        output.status.success(),
        "{args:?}: {:?}\nstdout: {}\nstderr: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// The one folder the command made under `root`.
fn only_folder(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        // Folders only: ceilings.json sits beside them.
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

const PLAN_LINE: &str = "debug: plan: laue/square/naive [";
const CEILINGS_NOTE: &str = "measuring the machine's ceilings";

#[test]
fn the_default_shows_info_only_in_the_short_format_and_no_progress_bar_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let err = text(&bench(dir.path(), Some("naive"), &[], &[]).stderr);
    // Info is the plain message: no level, no time, no module path.
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with(CEILINGS_NOTE), "{err}");
    // stderr is a pipe here: no progress bar, no cursor movements.
    assert!(!err.contains('\r') && !err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn quiet_silences_info_even_when_rust_log_asks_for_debug() {
    for (flags, env) in [
        (&["-q"][..], &[][..]),
        (&["-q"][..], &[("RUST_LOG", "debug")][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = bench(dir.path(), Some("naive"), flags, env);
        assert_eq!(text(&out.stderr), "", "{flags:?} {env:?}");
        // Only the log is quiet: the results table is still on stdout.
        assert!(text(&out.stdout).contains("naive"), "{}", text(&out.stdout));
    }
}

#[test]
fn verbose_and_rust_log_debug_show_the_plan_and_the_estimates() {
    for (flags, env) in [
        (&["-v"][..], &[][..]),
        (&[][..], &[("RUST_LOG", "debug")][..]),
        // A flag wins over RUST_LOG.
        (&["-v"][..], &[("RUST_LOG", "error")][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let err = text(&bench(dir.path(), Some("naive"), flags, env).stderr);
        for needle in [
            PLAN_LINE,
            "debug: estimate: laue/square/naive",
            CEILINGS_NOTE,
        ] {
            assert!(
                err.contains(needle),
                "{flags:?} {env:?}: `{needle}` missing:\n{err}"
            );
        }
    }
    // -vv: trace, the warm-up of each timing too.
    let dir = tempfile::tempdir().unwrap();
    let err = text(&bench(dir.path(), Some("naive"), &["-vv"], &[]).stderr);
    assert!(
        err.contains("trace: warm-up batch 1:") && err.contains(PLAN_LINE),
        "{err}"
    );
    // -v works after the subcommand too (the flags are global).
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["bench", "-v", "--kernel", "laue", "--variant", "naive"];
    args.extend([
        "--case",
        "square",
        "--n",
        "8",
        "--budget",
        "0.05",
        "--threads",
        "1",
    ]);
    args.extend(["--out", dir.path().to_str().unwrap()]);
    let out = harness_env(&args, &[]);
    assert!(
        text(&out.stderr).contains(PLAN_LINE),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn every_bench_run_folder_has_a_debug_run_log_whatever_the_terminal_shows() {
    let dir = tempfile::tempdir().unwrap();
    let err = text(&bench(dir.path(), None, &[], &[]).stderr);
    assert!(!err.contains("debug:"), "{err}");
    let log = std::fs::read_to_string(only_folder(dir.path()).join("run.log")).unwrap();
    for needle in [
        // Logged before the run folder existed: kept until it did.
        "DEBUG harness::cmd::plan: plan: laue/square/naive [",
        "estimate: laue/square/naive",
        "estimate: laue/square/vectorised",
        "reference: laue/square/fft",
        "ceilings: ",
        "run folder: ",
        "INFO harness::cmd::bench: measuring the machine's ceilings",
        "row: laue/square/parallel",
    ] {
        assert!(
            log.contains(needle),
            "`{needle}` missing from run.log:\n{log}"
        );
    }
    // Every line has its time (RFC 3339, UTC) and its level.
    for line in log.lines() {
        let (time, rest) = line.split_once(' ').unwrap_or_default();
        assert!(
            time.len() > 20 && time.starts_with("20") && time.ends_with('Z'),
            "{line}"
        );
        assert!(
            ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
                .iter()
                .any(|l| rest.trim_start().starts_with(l)),
            "{line}"
        );
    }
    // -q changes the terminal only.
    let quiet = tempfile::tempdir().unwrap();
    bench(quiet.path(), Some("naive"), &["-q"], &[]);
    let log = std::fs::read_to_string(only_folder(quiet.path()).join("run.log")).unwrap();
    assert!(log.contains("plan: laue/square/naive"), "{log}");
}

#[test]
fn every_profile_folder_has_a_run_log_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = harness_env(
        &[
            "profile",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--variant",
            "naive",
            "--n",
            "8",
            "--seconds",
            "0.2",
            "--threads",
            "1",
            "--out",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = std::fs::read_to_string(only_folder(dir.path()).join("run.log")).unwrap();
    for needle in ["plan: laue/square/naive", "reference: laue/square/naive"] {
        assert!(
            log.contains(needle),
            "`{needle}` missing from run.log:\n{log}"
        );
    }
}

#[test]
fn a_malformed_rust_log_is_refused_in_one_line_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["bench", "--kernel", "laue", "--n", "8", "--out"];
    let mut all = args.to_vec();
    all.push(dir.path().to_str().unwrap());
    let out = harness_env(&all, &[("RUST_LOG", "harness=loud")]);
    refused_in_one_line(&out, &["RUST_LOG=harness=loud", "unset it"]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // -q and -v together make no sense: clap refuses them (exit code 2).
    let out = harness_env(&["-q", "-v", "list"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

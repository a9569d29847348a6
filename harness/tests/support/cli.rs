//! Running the real `harness` binary from a test, and the one check every refusal shares:
//! exit code 2 with exactly one line on stderr. Shared by the command-line tests
//! (hardening, attack, limits, logging) as a source file (`#[path]`).

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary with `args` and `env` (and without the caller's HARNESS_MEMORY_LIMIT or
/// RUST_LOG: a developer's `RUST_LOG=debug` would add lines to the one-line refusals).
pub fn harness_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(args)
        .env_remove("HARNESS_MEMORY_LIMIT")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the harness binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The command failed (exit code 2: a usage error, nothing run) with exactly one line on
/// stderr, which contains every one of `needles`; that line.
#[track_caller]
pub fn refused_in_one_line(out: &Output, needles: &[&str]) -> String {
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected a refusal, got {:?}\nstdout: {}\nstderr: {err}",
        out.status,
        text(&out.stdout)
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected on stderr, got:\n{err}");
    for n in needles {
        assert!(lines[0].contains(n), "`{n}` missing from: {}", lines[0]);
    }
    lines[0].to_string()
}

/// The run folder a bench made under `out` (the first folder there).
pub fn run_folder(out: &Path) -> PathBuf {
    std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("a run folder")
}

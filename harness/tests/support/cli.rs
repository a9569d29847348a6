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

/// A command line's words (`"bench --kernel laue --n 8"`), for arguments without spaces.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The binary started in the background with `args` then `out` (the `--out` value), its
/// output discarded: a run for a test to stop with [`stop_when`].
pub fn spawn_quiet(args: &[&str], out: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .arg(out)
        .env_remove("HARNESS_MEMORY_LIMIT")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the harness binary starts")
}

/// Waits (120 s at most, failing if `child` ends first) until a run folder under `out` is
/// `ready`; that folder.
#[track_caller]
pub fn wait_for(
    child: &mut std::process::Child,
    out: &Path,
    ready: impl Fn(&Path) -> bool,
) -> PathBuf {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready within 120 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be interrupted"
        );
        // `out` itself may not be made yet.
        let ready = std::fs::read_dir(out)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| ready(p));
        if let Some(run) = ready {
            return run;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `kill` with `args` (the signal, then the process: `-INT 123`, or a group: `-INT --
/// -123`), then the exit code of an interrupted run, 130, asserted.
#[track_caller]
pub fn interrupt(child: &mut std::process::Child, args: &[&str]) {
    let kill = Command::new("kill").args(args).status().unwrap();
    assert!(kill.success(), "kill {args:?}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{args:?}: {status:?}");
}

/// [`wait_for`] the run to be `ready`, then [`interrupt`] it with `signal` (`-INT`,
/// `-TERM`); the run folder.
#[track_caller]
pub fn stop_when(
    child: &mut std::process::Child,
    out: &Path,
    signal: &str,
    ready: impl Fn(&Path) -> bool,
) -> PathBuf {
    let run = wait_for(child, out, ready);
    interrupt(child, &[signal, &child.id().to_string()]);
    run
}

/// Rows in a results.csv so far (0 when there is none yet).
pub fn rows_on_disk(csv: &Path) -> usize {
    std::fs::read_to_string(csv).map_or(0, |t| t.lines().count().saturating_sub(1))
}

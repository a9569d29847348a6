//! The planner (issue 20): the fastest variant measured on this machine at the nearest
//! size, else the rule; the report's advice ranks with the same function; `harness plan`
//! and `--variant best` on synthetic run folders.

use std::path::Path;

#[path = "support/cli.rs"]
mod cli;
#[path = "support/runs.rs"]
mod runs;

use cli::{harness_env, refused_in_one_line, text};
use harness::measure::machine::Machine;
use harness::planner::{self, Basis};
use kernels::{Instance, Params, Strategy, registry};
use runs::{Spec, row, samples, write_run};

/// A laue/strained row of `variant` at `n`, timed around `ms` milliseconds.
fn timed_row(
    variant: &str,
    strategy: Strategy,
    n: u32,
    ms: f64,
) -> (harness::results::Row, Option<Vec<f64>>) {
    let mut r = row(variant, n);
    r.strategy = strategy;
    (
        r,
        Some(samples(ms * 1e-3, 0.02, 9, u64::from(n) + ms as u64)),
    )
}

/// At n = 16 factorised wins, at n = 64 parallel does; naive only at 16.
fn measured_runs(root: &Path, machine: &Machine) {
    write_run(
        &root.join("20260101T000000Z-laue"),
        Spec {
            machine,
            shard: None,
            rows: vec![
                timed_row("naive", Strategy::Naive, 16, 50.0),
                timed_row("factorised", Strategy::Algorithmic, 16, 1.0),
                timed_row("parallel", Strategy::Parallel, 16, 2.0),
                timed_row("factorised", Strategy::Algorithmic, 64, 8.0),
                timed_row("parallel", Strategy::Parallel, 64, 5.0),
            ],
        },
    );
}

/// `harness plan` for laue/strained at n = 16 over the runs under `root`.
fn plan_strained_16(root: &str) -> std::process::Output {
    harness_env(
        &[
            "plan", "--kernel", "laue", "--case", "strained", "--n", "16", "--root", root,
        ],
        &[],
    )
}

fn strained(n: f64) -> Box<dyn Instance> {
    let k = registry::kernel("laue").unwrap();
    let params: Params = k.defaults("strained").with("n", n);
    k.instance("strained", &params, &[]).unwrap()
}

#[test]
fn the_fastest_measured_here_at_the_nearest_size_is_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let here = Machine::identity();
    measured_runs(dir.path(), &here);
    let data = planner::measurements(dir.path()).unwrap();
    let key = planner::this_machine();
    let at16 = planner::choose(&data, &key, strained(16.0).as_ref()).unwrap();
    assert_eq!(at16.variant, "factorised");
    assert!(
        matches!(at16.basis, Basis::Measured { exact: true, .. }),
        "{at16:?}"
    );
    // 48 is nearer 64 (×1.33) than 16 (×3): parallel, measured at 64.
    let at48 = planner::choose(&data, &key, strained(48.0).as_ref()).unwrap();
    assert_eq!(at48.variant, "parallel");
    match &at48.basis {
        Basis::Measured {
            size,
            exact,
            runner_up,
            ..
        } => {
            assert_eq!((*size, *exact), (64.0, false));
            assert_eq!(runner_up.as_ref().map(|r| r.0.as_str()), Some("factorised"));
        }
        Basis::Rule | Basis::RuleOfThumb => panic!("{at48:?}"),
    }
}

#[test]
fn rows_of_another_machine_leave_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    measured_runs(dir.path(), &runs::machine("Some Other CPU"));
    let data = planner::measurements(dir.path()).unwrap();
    let c = planner::choose(&data, &planner::this_machine(), strained(64.0).as_ref()).unwrap();
    // The rule: a cheaper algorithm first; laue's is the factorised GEMM.
    assert_eq!((c.variant, c.basis), ("factorised", Basis::Rule));
    // Nothing under the root at all: the rule too, no error.
    let empty = tempfile::tempdir().unwrap();
    let none = planner::measurements(empty.path()).unwrap();
    let c = planner::choose(&none, &planner::this_machine(), strained(64.0).as_ref()).unwrap();
    assert_eq!(c.basis, Basis::Rule);
}

#[test]
fn the_report_advises_what_the_planner_chooses() {
    let dir = tempfile::tempdir().unwrap();
    measured_runs(dir.path(), &Machine::identity());
    let run = dir.path().join("20260101T000000Z-laue");
    let w = harness::report::write(std::slice::from_ref(&run), &dir.path().join("out")).unwrap();
    let summary = std::fs::read_to_string(&w.markdown).unwrap();
    for (n, variant) in [(16.0, "factorised"), (64.0, "parallel")] {
        let data = planner::measurements(dir.path()).unwrap();
        let c = planner::choose(&data, &planner::this_machine(), strained(n).as_ref()).unwrap();
        assert_eq!(c.variant, variant);
        let sentence = format!("At n = {n}, use {variant}");
        assert!(summary.contains(&sentence), "{sentence} not in:\n{summary}");
    }
}

#[test]
fn plan_and_best_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    measured_runs(dir.path(), &Machine::identity());
    let root = dir.path().to_str().unwrap();
    let out = plan_strained_16(root);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("use factorised: the fastest measured"),
        "{stdout}"
    );
    // bench --variant best over sizes whose best differ: refused, naming both.
    refused_in_one_line(
        &harness_env(
            &[
                "bench",
                "--kernel",
                "laue",
                "--case",
                "strained",
                "--n",
                "16,64",
                "--variant",
                "best",
                "--out",
                root,
            ],
            &[],
        ),
        &["best differs", "factorised", "parallel"],
    );
}

/// Rows only from other machines: `harness plan` names this machine and theirs, so that a
/// user can see why their measurements were not used (another CPU, or the same one written
/// by a build that did not record the CPU's family).
#[test]
fn plan_names_the_machines_when_none_of_the_rows_is_from_here() {
    let dir = tempfile::tempdir().unwrap();
    measured_runs(dir.path(), &runs::machine("Some Other CPU"));
    let root = dir.path().to_str().unwrap();
    let out = plan_strained_16(root);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("(0 from this machine)"), "{stdout}");
    let here = format!("this machine:  {}", planner::this_machine());
    assert!(stdout.contains(&here), "{here} not in:\n{stdout}");
    assert!(
        stdout.contains("measured on:   Some Other CPU |") && stdout.contains("(5 rows)"),
        "{stdout}"
    );
    // Rows from here: no such list.
    let mine = tempfile::tempdir().unwrap();
    measured_runs(mine.path(), &Machine::identity());
    let root = mine.path().to_str().unwrap();
    let out = plan_strained_16(root);
    assert!(
        !text(&out.stdout).contains("measured on:"),
        "{}",
        text(&out.stdout)
    );
}

/// Where nothing was measured, a kernel's rule of thumb beats the strategy rule: by
/// strategy, deconvolution would get `fft` (one thread, the slowest FFT variant) and the
/// PSF `separable`.
#[test]
fn nothing_measured_takes_the_kernels_rule_of_thumb() {
    let empty = tempfile::tempdir().unwrap();
    let none = planner::measurements(empty.path()).unwrap();
    for (kernel, case, n, variant) in [
        ("deconv", "synthetic", 64.0, "lanes"),
        ("psf", "aia", 256.0, "windowed"),
    ] {
        let k = registry::kernel(kernel).unwrap();
        let params: Params = k.defaults(case).with("n", n);
        let instance = k.instance(case, &params, &[]).unwrap();
        let c = planner::choose(&none, &planner::this_machine(), instance.as_ref()).unwrap();
        assert_eq!(
            (c.variant, c.basis),
            (variant, Basis::RuleOfThumb),
            "{kernel}"
        );
    }
}

/// With nothing measured, every problem follows a rule: `harness plan` says it once under
/// the list, not once per problem (it is as long as a line of the list).
#[test]
fn plan_says_each_rule_once() {
    let empty = tempfile::tempdir().unwrap();
    let root = empty.path().to_str().unwrap();
    let out = harness_env(&["plan", "--kernel", "laue", "--root", root], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.matches("so the rule (below)").count() >= 3,
        "one line per problem (laue's three cases):\n{stdout}"
    );
    assert_eq!(stdout.matches(planner::RULE).count(), 1, "{stdout}");
}

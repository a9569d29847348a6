//! Issue 16's findings that live in the kernels crate, one test (or a few) each; every one
//! fails without its fix. Tests that need an environment variable or a resource limit of
//! their own run in a child process (this test binary again, that one test selected), so
//! that no test changes the environment the others read.

mod common;

use std::process::Command;

use kernels::Availability;
use kernels::gate::{Admission, Phase, Policy, References, admit};
use kernels::io::references_dir;

// ---- helpers ------------------------------------------------------------------------------

/// Set in a child process to the name of the test that must do its work there.
const CHILD: &str = "KERNELS_HARDENING_CHILD";
/// What the child must find (`ok:<value>` or `err`).
const EXPECT: &str = "KERNELS_HARDENING_EXPECT";

/// In the child process run for `test`: what it must find.
fn child_expectation(test: &str) -> Option<String> {
    if std::env::var(CHILD).is_ok_and(|v| v == test) {
        Some(std::env::var(EXPECT).unwrap_or_default())
    } else {
        None
    }
}

/// Runs `test` of this binary in a child process with `env` set (None: removed) and
/// `expect` in [`EXPECT`], after the shell line `shell` (a `ulimit`, say); panics with the
/// child's output if it failed or ran no test.
fn in_child(test: &str, env: &[(&str, Option<&str>)], expect: &str, shell: &str) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{shell}\nexec \"$0\" \"$@\""))
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .env(EXPECT, expect);
    for (name, value) in env {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{test} with {env:?}, expecting {expect}:\n{text}"
    );
}

// ---- 4. environment values ------------------------------------------------------------------

/// `nan` removed the limit, `abc` silently meant 60 s.
#[test]
fn naive_time_limit_is_parsed_strictly() {
    const TEST: &str = "naive_time_limit_is_parsed_strictly";
    const NAME: &str = "HARNESS_NAIVE_LIMIT_S";
    let Some(expect) = child_expectation(TEST) else {
        in_child(TEST, &[(NAME, None)], "ok:60", "");
        in_child(TEST, &[(NAME, Some("30"))], "ok:30", "");
        in_child(TEST, &[(NAME, Some("0.5"))], "ok:0.5", "");
        for bad in ["nan", "NaN", "abc", "-1", "0", "", "inf", "60s", " 60"] {
            in_child(TEST, &[(NAME, Some(bad))], "err", "");
        }
        return;
    };
    let got = kernels::naive_time_limit_s();
    if let Some(value) = expect.strip_prefix("ok:") {
        assert_eq!(got.unwrap(), value.parse::<f64>().unwrap());
        return;
    }
    let e = got.unwrap_err().to_string();
    assert!(e.contains(NAME) && e.contains("positive"), "{e}");
    assert!(kernels::check_environment().is_err());
    // The time-limited probes say it, rather than running without a limit or with 60 s.
    let laue = common::instance("laue", "square", &[("n", 4.0)]);
    match common::probe(laue.as_ref(), "naive") {
        Availability::Skipped(why) => assert!(why.contains(NAME), "{why}"),
        other => panic!("laue naive: {}", other.label()),
    }
    let lm = common::instance("lm", "gauss2d", &[("fits", 4.0)]);
    match common::probe(lm.as_ref(), "naive") {
        Availability::Skipped(why) => assert!(why.contains(NAME), "{why}"),
        other => panic!("lm naive: {}", other.label()),
    }
}

/// `HARNESS_REQUIRE_GPU=true|yes|2` were ignored (only `1` worked).
#[test]
fn require_gpu_is_parsed_strictly() {
    const TEST: &str = "require_gpu_is_parsed_strictly";
    const NAME: &str = "HARNESS_REQUIRE_GPU";
    let Some(expect) = child_expectation(TEST) else {
        in_child(TEST, &[(NAME, None)], "ok:false", "");
        for (on, expect) in [("1", "ok:true"), ("true", "ok:true")] {
            in_child(TEST, &[(NAME, Some(on))], expect, "");
        }
        for off in ["0", "false"] {
            in_child(TEST, &[(NAME, Some(off))], "ok:false", "");
        }
        for bad in ["yes", "2", "", "TRUE", "on"] {
            in_child(TEST, &[(NAME, Some(bad))], "err", "");
        }
        return;
    };
    let got = Policy::from_env();
    match expect.as_str() {
        "ok:true" => assert!(got.unwrap().require_gpu),
        "ok:false" => assert!(!got.unwrap().require_gpu),
        _ => {
            let e = got.unwrap_err().to_string();
            assert!(e.contains(NAME) && !e.contains('\n'), "{e}");
            assert!(kernels::check_environment().is_err());
        }
    }
}

/// `HARNESS_REFERENCES` pointing nowhere silently dropped every committed reference.
#[test]
fn references_folder_that_does_not_exist_is_said() {
    const TEST: &str = "references_folder_that_does_not_exist_is_said";
    const NAME: &str = "HARNESS_REFERENCES";
    let Some(expect) = child_expectation(TEST) else {
        let committed = references_dir().unwrap();
        in_child(TEST, &[(NAME, None)], "ok", "");
        in_child(TEST, &[(NAME, committed.to_str())], "ok", "");
        in_child(
            TEST,
            &[(NAME, Some("/nonexistent/kernels-references"))],
            "err",
            "",
        );
        let file = committed.join("lm").join("gauss2d_chi2.npy");
        in_child(TEST, &[(NAME, file.to_str())], "err", "");
        return;
    };
    // lm/gauss2d at its defaults has committed reference files.
    let inst = common::instance("lm", "gauss2d", &[]);
    if expect == "ok" {
        references_dir().unwrap();
        assert!(!inst.reference_files().is_empty());
        return;
    }
    let e = references_dir().unwrap_err().to_string();
    assert!(e.contains(NAME), "{e}");
    assert!(kernels::check_environment().is_err());
    // The gate's validation says so instead of passing against the oracle alone (naive
    // first: the oracle's own output must not become the reference either).
    let mut refs = References::new(inst.as_ref(), None).unwrap();
    for name in ["naive", "vectorised"] {
        let variant = common::variant(inst.as_ref(), name);
        match admit(
            inst.as_ref(),
            variant,
            &mut refs,
            Policy::default(),
            &mut (),
        ) {
            Admission::Failed(f) => {
                assert_eq!(f.phase, Phase::Validation, "{name}");
                assert!(f.reason.contains(NAME), "{name}: {}", f.reason);
            }
            other => panic!("{name} admitted as {}", other.label()),
        }
    }
}

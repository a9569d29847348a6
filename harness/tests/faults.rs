//! A variant that panics in setup, in its first run or while it is timed, or that returns
//! NaN or a wrong answer, is a failed row of its own in `validate`, `bench` and `profile`,
//! with its reason, and every other variant still runs. (The criterion bench harness is
//! checked the same way in benches/tests/faults.rs.) The kernel is tests/support/faulty.rs,
//! never registered.

#[path = "support/faulty.rs"]
mod faulty;

use std::path::Path;

use harness::cli::{BenchArgs, ProfileArgs, Select};
use harness::cmd::bench::bench_plan;
use harness::cmd::plan::{Job, Plan};
use harness::cmd::profile::profile_with_plan;
use harness::cmd::validate::validate_plan;
use harness::results::{Row, Status};
use kernels::Params;

fn plan() -> Plan {
    Plan {
        jobs: vec![Job {
            kernel: &faulty::FAULTY,
            case: "only".into(),
            params: Params::defaults(faulty::FAULTY_PARAMS),
        }],
        variant: None,
    }
}

/// The variants that must fail, with what their reason must say, in every command.
const BEFORE_TIMING: [(&str, &str); 4] = [
    ("panics", "panicked: deliberate panic in run"),
    ("setup-panics", "setup panicked: deliberate panic in setup"),
    ("nan", "non-finite value NaN at [1]"),
    ("wrong", "worst at [2]"),
];

#[test]
fn validate_reports_each_fault_and_goes_on() {
    let mut out = Vec::new();
    let all_ok = validate_plan(&plan(), None, &mut out).expect("validation itself does not err");
    let out = String::from_utf8(out).unwrap();
    assert!(!all_ok, "{out}");
    let line = |v: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("faulty/only/{v} ")))
            .unwrap_or_else(|| panic!("no line for {v} in:\n{out}"))
            .to_string()
    };
    for (v, why) in BEFORE_TIMING {
        let l = line(v);
        assert!(l.contains("FAILED") && l.contains(why), "{v}: {l}");
    }
    // Validation runs once: a fault that only timing meets is not validation's to see.
    assert!(line("panics-when-timed").contains(" ok "), "{out}");
    assert!(line("naive").contains(" ok "), "{out}");
    // After all of that, the last variant still ran and passed.
    assert!(line("right").contains(" ok "), "{out}");
}

#[test]
fn bench_writes_a_failed_row_for_each_fault_and_times_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let args = BenchArgs {
        select: Select::default(),
        threads: vec![1],
        budget: 0.05,
        min_samples: 3,
        out: dir.path().to_path_buf(),
        limits: harness::cli::Limits {
            suite: harness::cli::Suite::Full,
            time_limit: None,
        },
        ..harness::cmd::bench::default_args()
    };
    let code = bench_plan(&plan(), &args).expect("the bench itself does not err");
    assert_eq!(code, std::process::ExitCode::FAILURE, "failed rows exit 1");
    let rows = rows_of(dir.path());
    let row = |v: &str| {
        rows.iter()
            .find(|r| r.variant == v)
            .unwrap_or_else(|| panic!("no row for {v}: {rows:?}"))
    };
    for (v, why) in BEFORE_TIMING {
        let r = row(v);
        assert_eq!(r.status, Status::Failed, "{v}: {r:?}");
        assert!(
            r.reason.contains(why) && r.median_s.is_none(),
            "{v}: {}",
            r.reason
        );
    }
    let timed = row("panics-when-timed");
    assert_eq!(timed.status, Status::Failed, "{timed:?}");
    assert!(
        timed.reason.contains("deliberate panic while timed"),
        "{}",
        timed.reason
    );
    for good in ["naive", "right"] {
        let r = row(good);
        assert_eq!(r.status, Status::Ok, "{good}: {r:?}");
        assert!(r.median_s.is_some_and(|m| m >= 0.0), "{good}: {r:?}");
    }
}

#[test]
fn profile_marks_each_fault_failed_and_profiles_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let args = ProfileArgs {
        select: Select::default(),
        seconds: Some(0.1),
        threads: Some(1),
        diff: Vec::new(),
        per_thread: false,
        full_stacks: false,
        top: 5,
        out: dir.path().to_path_buf(),
        into: None,
    };
    let all_ok = profile_with_plan(&args, &plan(), &[]).expect("profiling itself does not err");
    assert!(!all_ok);
    let folder = only_folder(dir.path());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("profile.json")).unwrap())
            .unwrap();
    let entries = manifest["entries"].as_array().expect("entries");
    let entry = |v: &str| {
        entries
            .iter()
            .find(|e| e["variant"] == v)
            .unwrap_or_else(|| panic!("no entry for {v}: {manifest}"))
    };
    for (v, why) in BEFORE_TIMING {
        let e = entry(v);
        assert_eq!(e["status"], "failed", "{v}: {e}");
        assert!(e["reason"].as_str().unwrap().contains(why), "{v}: {e}");
    }
    let timed = entry("panics-when-timed");
    assert_eq!(timed["status"], "failed", "{timed}");
    assert!(
        timed["reason"]
            .as_str()
            .unwrap()
            .contains("deliberate panic while timed"),
        "{timed}"
    );
    for good in ["naive", "right"] {
        assert_eq!(entry(good)["status"], "profiled", "{good}: {manifest}");
    }
}

fn only_folder(root: &Path) -> std::path::PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.pop().unwrap()
}

fn rows_of(root: &Path) -> Vec<Row> {
    let csv = only_folder(root).join("results.csv");
    csv::Reader::from_path(&csv)
        .unwrap()
        .deserialize()
        .collect::<Result<Vec<Row>, _>>()
        .unwrap()
}

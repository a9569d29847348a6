//! Workshop mode, checked as a learner would use it.
//!
//! The fast tests check the text transformations (registration lines, names, templates) on
//! the real kernel sources. The end-to-end test scaffolds a variant in a temporary copy of
//! the workspace and builds it, which rebuilds the workspace crates (minutes): it is
//! `#[ignore]`d, and CI runs it with
//!
//! ```text
//! cargo test --release -p harness --test workshop -- --ignored
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harness::workshop::{
    KERNELS, TAG, TODO_END, TODO_START, insert_registration, registered_exercises,
    remove_registration, template, validate_name,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ is inside the workspace")
        .to_path_buf()
}

fn mod_rs(kernel: &str) -> String {
    std::fs::read_to_string(root().join("kernels/src").join(kernel).join("mod.rs"))
        .expect("kernel mod.rs")
}

#[test]
fn names_are_checked() {
    let existing = ["naive", "fft"];
    assert!(validate_name("my_simd", &existing).is_ok());
    assert!(validate_name("v2", &existing).is_ok());
    for bad in [
        "", "2fast", "My", "my-simd", "my simd", "é", "_x", "fn", "self",
    ] {
        assert!(validate_name(bad, &existing).is_err(), "`{bad}` accepted");
    }
    let clash = validate_name("naive", &existing).unwrap_err().to_string();
    assert!(clash.contains("already exists"), "{clash}");
    assert!(validate_name(&"a".repeat(41), &existing).is_err());
}

#[test]
fn every_kernel_has_exactly_one_pair_of_markers_and_round_trips() {
    for (kernel, problem) in KERNELS {
        let src = mod_rs(kernel);
        assert!(
            registered_exercises(&src).is_empty(),
            "{kernel}: committed sources must not register exercises"
        );
        let one = insert_registration(&src, "my_simd").expect("markers present");
        let two = insert_registration(&one, "other").unwrap();
        assert_eq!(registered_exercises(&two), ["other", "my_simd"]);
        assert!(one.contains(&format!("pub mod exercise_my_simd; {TAG}")));
        assert!(one.contains(&format!("Box::new(exercise_my_simd::Exercise), {TAG}")));
        assert_eq!(one.lines().count(), src.lines().count() + 2);
        // Removing one leaves the other; removing all restores the file byte for byte.
        assert_eq!(remove_registration(&two, Some("other")), one);
        assert_eq!(remove_registration(&one, Some("my_simd")), src);
        assert_eq!(remove_registration(&two, None), src);
        // A name that is a prefix of another is not confused with it.
        let three = insert_registration(&src, "my").unwrap();
        let four = insert_registration(&three, "my_simd").unwrap();
        assert_eq!(remove_registration(&four, Some("my")), one);
        let t = template(kernel, "c", "my_simd").unwrap();
        assert!(t.contains(&format!("impl Variant<{problem}> for Exercise")));
    }
}

#[test]
fn untagged_lines_are_never_removed() {
    let src = "pub mod exercise_x;\n// workshop exercise modules:\nfn f() {}\n";
    assert_eq!(remove_registration(src, Some("x")), src);
    assert_eq!(remove_registration(src, None), src);
    assert!(insert_registration("fn f() {}\n", "x").is_err());
}

#[test]
fn unknown_kernels_are_refused() {
    assert!(template("nope", "c", "x").is_err());
}

// ---- end to end (ignored: rebuilds the workspace crates in a temporary copy) ----

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("command starts");
    eprintln!(
        "$ {cmd:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Copies the tracked files of the workspace (what a fresh clone has) into `to`.
fn copy_tracked(to: &Path) {
    let ls = run(Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root()));
    assert!(ls.status.success());
    for rel in String::from_utf8(ls.stdout)
        .unwrap()
        .split('\0')
        .filter(|s| !s.is_empty())
    {
        let (from, dest) = (root().join(rel), to.join(rel));
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&from, &dest).unwrap();
    }
}

/// Builds the harness in `dir`, reusing this worktree's target/ for compiled dependencies
/// (the workspace crates themselves rebuild: their path differs). Note: this replaces
/// target/release/harness until the next `cargo build` here relinks it.
fn build(dir: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let out = run(Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "harness"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(dir));
    assert!(out.status.success(), "build failed:\n{}", text(&out));
    target.join("release/harness")
}

// CI runs this with: cargo test --release -p harness --test workshop -- --ignored
#[test]
#[ignore = "rebuilds the workspace crates (minutes); CI: cargo test --release -p harness --test workshop -- --ignored"]
fn a_learner_scaffolds_fails_fills_in_validates_and_is_ranked() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path();
    copy_tracked(ws);
    let harness_in = |bin: &Path, args: &[&str]| {
        run(Command::new(bin)
            .args(args)
            .env("XDG_RUNTIME_DIR", ws)
            .current_dir(ws))
    };
    let here = env!("CARGO_BIN_EXE_harness");
    let original = std::fs::read_to_string(ws.join("kernels/src/laue/mod.rs")).unwrap();

    // 1. Scaffold: file written, registered, next steps printed.
    let new = harness_in(
        Path::new(here),
        &[
            "new-variant",
            "--kernel",
            "laue",
            "--case",
            "strained",
            "--name",
            "my_simd",
        ],
    );
    assert!(new.status.success(), "{}", text(&new));
    let file = ws.join("kernels/src/laue/exercise_my_simd.rs");
    assert!(file.is_file());
    let said = text(&new);
    for hint in [
        "kernels/src/laue/exercise_my_simd.rs",
        "cargo build --release -p harness",
        "harness validate --variant laue/strained/my_simd",
    ] {
        assert!(
            said.contains(hint),
            "new-variant should say `{hint}`:\n{said}"
        );
    }

    // 2. It compiles and fails validation, saying where and by how much.
    let bin = build(ws);
    let small = ["--n", "8"];
    let v = harness_in(
        &bin,
        &[
            &["validate", "--variant", "laue/strained/my_simd"][..],
            &small[..],
        ]
        .concat(),
    );
    assert!(
        !v.status.success(),
        "the empty exercise must fail:\n{}",
        text(&v)
    );
    let said = text(&v);
    assert!(said.contains("my_simd") && said.contains("FAIL"), "{said}");
    assert!(
        said.contains("worst"),
        "validate should show the worst point:\n{said}"
    );

    // 3. Fill in a correct body (delegate to the naive loops): it validates.
    let src = std::fs::read_to_string(&file).unwrap();
    let (start, end) = (src.find(TODO_START).unwrap(), src.find(TODO_END).unwrap());
    let body = "let mut naive = super::naive::Naive.prepare(&self.problem)?;\n        \
                naive.run()?;\n        self.output = naive.output()?;\n        ";
    let filled = format!("{}{}{}", &src[..start], body, &src[end + TODO_END.len()..]);
    std::fs::write(&file, filled).unwrap();
    let bin = build(ws);
    let v = harness_in(
        &bin,
        &[
            &["validate", "--variant", "laue/strained/my_simd"][..],
            &small[..],
        ]
        .concat(),
    );
    assert!(
        v.status.success(),
        "the filled-in exercise must pass:\n{}",
        text(&v)
    );

    // 4. It is ranked in the bench table and the CSV next to ours.
    let reports = ws.join("reports-test");
    let b = harness_in(
        &bin,
        &[
            "bench",
            "--kernel",
            "laue",
            "--case",
            "strained",
            "--n",
            "8",
            "--budget",
            "0.05",
            "--min-samples",
            "2",
            "--threads",
            "1",
            "--out",
            reports.to_str().unwrap(),
        ],
    );
    assert!(b.status.success(), "{}", text(&b));
    assert!(text(&b).contains("my_simd"), "bench table lacks my_simd");
    let (_, rows) = harness::workshop::explain::latest_rows(&reports, "laue").expect("rows");
    let mine = rows
        .iter()
        .find(|r| r.variant == "my_simd")
        .expect("my_simd row");
    assert_eq!(mine.strategy, kernels::Strategy::Exercise);
    assert!(mine.median_s.is_some());

    // 5. Removed with one command: the sources are as before.
    let r = harness_in(
        &bin,
        &["remove-variant", "--variant", "laue/strained/my_simd"],
    );
    assert!(r.status.success(), "{}", text(&r));
    assert!(!file.exists());
    assert_eq!(
        std::fs::read_to_string(ws.join("kernels/src/laue/mod.rs")).unwrap(),
        original
    );
}

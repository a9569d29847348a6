//! The attack findings of issue 16 on run folders, the report, `run --save`, `check-png`
//! and the workshop: one test per finding, named after it, each failing without its fix.
//!
//! A full disk is simulated with a file-size limit (`ulimit -f`, SIGXFSZ ignored): writes
//! past it fail with EFBIG as they would with ENOSPC, without root or a tmpfs mount.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use harness::results::{self, Row, RunDir, RunManifest, Status};
use kernels::{Precision, Strategy};

#[path = "support/cli.rs"]
mod cli;

use cli::{refused_in_one_line, text};

fn harness() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harness"));
    let xdg = std::env::temp_dir().join(format!("harness-xdg-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&xdg);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700));
    }
    c.env("XDG_RUNTIME_DIR", xdg)
        .env_remove("HARNESS_MEMORY_LIMIT");
    c
}

/// The harness with every file it writes limited to `kib` KiB: a disk that fills up.
fn harness_on_full_disk(kib: u32, args: &[&str]) -> Output {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$@\""))
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_harness"))
        .args(args);
    let h = harness();
    for (k, v) in h.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.output().expect("bash runs the harness")
}

/// Runs `cmd`, killing it (and failing the test) if it takes longer than `limit`.
fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "still running after {limit:?} (blocked?); stderr: {}",
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[track_caller]
fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn row(variant: &str, strategy: Strategy, median: Option<f64>) -> Row {
    Row {
        run_id: "attack".into(),
        kernel: "laue".into(),
        case: "square".into(),
        variant: variant.into(),
        strategy,
        precision: Precision::F64,
        params: "e0=0.01 h=0 k=4 n=16 oversampling=3 w=5".parse().unwrap(),
        size_param: "n".into(),
        size: 16.0,
        threads: 1,
        status: if median.is_some() {
            Status::Ok
        } else {
            Status::Failed
        },
        median_s: median,
        ci_low_s: median.map(|m| 0.99 * m),
        ci_high_s: median.map(|m| 1.01 * m),
        spread: median.map(|_| 0.02),
        samples: 10,
        flops: 1e9,
        bytes: 1e6,
        cpu: "Test CPU".into(),
        cores: 2,
        memory_gib: 8.0,
        os: "linux".into(),
        runtime: "rust".into(),
        timestamp: "20260101T000000Z".into(),
        ..Row::default()
    }
}

fn rows() -> Vec<Row> {
    vec![
        row("naive", Strategy::Naive, Some(0.01)),
        row("vectorised", Strategy::Vectorised, Some(0.004)),
        row("parallel", Strategy::Parallel, Some(0.002)),
    ]
}

/// A run folder holding `rows` in results.csv (and run.json when given).
fn run_folder(dir: &Path, rows: &[Row], manifest: Option<&RunManifest>) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut w = csv::Writer::from_path(dir.join("results.csv")).unwrap();
    for r in rows {
        w.serialize(r).unwrap();
    }
    w.flush().unwrap();
    if let Some(m) = manifest {
        results::write_json(&dir.join("run.json"), m).unwrap();
    }
    dir.to_path_buf()
}

/// `harness report`, given a minute at most (without the fix of finding 2 it never ends).
fn report(run: &Path, out: &Path) -> Output {
    let mut c = harness();
    c.arg("report").arg(run).arg("--out").arg(out);
    output_within(c, Duration::from_secs(60))
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn no_temporaries(dir: &Path) {
    let tmp: Vec<PathBuf> = files_under(dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".tmp") || name.contains(".tmp.") || name.ends_with(".probe")
        })
        .collect();
    assert!(tmp.is_empty(), "temporary files left behind: {tmp:?}");
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(ok.success(), "mkfifo {}", path.display());
}

// ---- 2: non-physical values ---------------------------------------------------------------

#[test]
fn finding_02_report_refuses_a_non_physical_median_with_its_row() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rs = rows();
    rs[1].median_s = Some(1e306);
    let run = run_folder(&tmp.path().join("run"), &rs, None);
    let out = report(&run, &tmp.path().join("out"));
    let line = refused_in_one_line(&out, &["results.csv", "line 3", "median_s", "1e306"]);
    // The huge value in exponent form, never 309 digits (finding 17).
    assert!(line.len() < 400, "{line}");
    let out = {
        let mut rs = rows();
        rs[0].size = -4.0;
        let run = run_folder(&tmp.path().join("run2"), &rs, None);
        report(&run, &tmp.path().join("out"))
    };
    refused_in_one_line(&out, &["line 2", "size"]);
}

// ---- 6: PNG decompression bomb ------------------------------------------------------------

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    c.extend_from_slice(&body);
    c.extend_from_slice(&crc32(&body).to_be_bytes());
    c
}

/// A PNG header declaring `w` × `h` RGB pixels, with no image data.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn finding_06_check_png_refuses_a_decompression_bomb_before_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    let bomb = tmp.path().join("bomb.png");
    std::fs::write(&bomb, png_declaring(100_000, 100_000)).unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 100);
    let mut cmd = harness();
    cmd.arg("check-png").arg(&bomb);
    // Without the check: a 30 GB allocation (an abort, or minutes of swapping).
    let out = output_within(cmd, Duration::from_secs(20));
    refused_in_one_line(&out, &["bomb.png", "100000×100000", "decompression bomb"]);
    // Within the pixel limit but far more than 80 bytes can hold.
    std::fs::write(&bomb, png_declaring(10_000, 10_000)).unwrap();
    let mut cmd = harness();
    cmd.arg("check-png").arg(&bomb);
    let out = output_within(cmd, Duration::from_secs(20));
    refused_in_one_line(&out, &["bomb.png", "more than it can hold"]);
    // A real image still passes through.
    let rgb: Vec<u8> = (0..64 * 64 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let png = harness::report::image::encode_png(&rgb, 64, 64).unwrap();
    let good = tmp.path().join("good.png");
    std::fs::write(&good, png).unwrap();
    let out = harness().arg("check-png").arg(&good).output().unwrap();
    succeeded(&out);
    assert!(text(&out.stdout).contains("not blank"));
}

// ---- 7: a full disk -----------------------------------------------------------------------

#[test]
fn finding_07_disk_full_leaves_no_truncated_files() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    // bench: 3 KiB holds the header and three rows; the fourth does not fit.
    let out = harness_on_full_disk(
        3,
        &[
            "bench",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--n",
            "8",
            "--budget",
            "0.02",
            "--threads",
            "1",
            "--out",
            runs.to_str().unwrap(),
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("results.csv") && last.contains("free some disk space"),
        "the error names the file and what to do: {err}"
    );
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        // The run folder, not ceilings.json beside it.
        .find(|p| p.is_dir())
        .unwrap();
    let csv = std::fs::read_to_string(run.join("results.csv")).unwrap();
    assert!(csv.ends_with('\n'), "results.csv cut mid-row:\n{csv}");
    let n = results::read_rows(&run.join("results.csv")).unwrap().len();
    assert!(n >= 1, "complete rows kept");
    let manifest = RunManifest::read(&run).expect("run.json intact");
    assert_eq!(manifest.rows, n, "run.json counts the rows written");
    assert!(manifest.finished.is_some() && manifest.interrupted);
    no_temporaries(&run);
    succeeded(&report(&run, &tmp.path().join("reports")));

    // report --out: no empty report.html, no folder that looks like a report.
    let out_dir = tmp.path().join("full");
    let out = harness_on_full_disk(
        3,
        &[
            "report",
            run.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    refused_in_one_line(&out, &["report.html", "free some disk space"]);
    assert!(
        files_under(&out_dir).is_empty(),
        "left behind: {:?}",
        files_under(&out_dir)
    );

    // run --save: no cut .npy under the requested name; a retry is not refused as "exists".
    let save = tmp.path().join("out.npy");
    let args = [
        "run",
        "--kernel",
        "laue",
        "--case",
        "square",
        "--variant",
        "naive",
        "--n",
        "16",
        "--save",
        save.to_str().unwrap(),
    ];
    let out = harness_on_full_disk(3, &args);
    refused_in_one_line(&out, &["out.npy", "free some disk space"]);
    assert!(!save.exists(), "a truncated out.npy was left");
    no_temporaries(tmp.path());
    succeeded(&harness().args(args).output().unwrap());
    assert_eq!(
        kernels::io::read_f64(&save).unwrap().shape(),
        &[48, 48],
        "the retry wrote the whole array"
    );
}

#[test]
fn finding_07_run_json_write_failure_names_the_file_and_leaves_no_temporary() {
    let tmp = tempfile::tempdir().unwrap();
    // A folder in place of the file: the rename fails after the temporary was written.
    let path = tmp.path().join("run.json");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("keep"), "x").unwrap();
    let err = results::write_json(&path, &RunManifest::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("run.json"), "{err}");
    no_temporaries(tmp.path());
}

/// The reference images bench saves for the report: on a full disk (4 KiB: the rows fit,
/// a 24 × 24 image of 4.7 KB does not) the warning names the file and the cause, nothing
/// is left under its name or a temporary one, and the run and its report carry on without
/// the image.
#[test]
fn finding_07_an_image_that_does_not_fit_names_its_file_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let out = harness_on_full_disk(
        4,
        &[
            "bench",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--variant",
            "naive",
            "--n",
            "8",
            "--budget",
            "0.02",
            "--threads",
            "1",
            "--out",
            runs.to_str().unwrap(),
        ],
    );
    succeeded(&out);
    let err = text(&out.stderr);
    let warning = err
        .lines()
        .find(|l| l.contains("image not saved"))
        .unwrap_or_else(|| panic!("no warning about the image: {err}"));
    assert!(
        warning.contains("laue-square-")
            && warning.contains(".npy")
            && warning.contains("File too large"),
        "the warning names the file and the cause: {warning}"
    );
    // The run folder (beside it, ceilings.json keeps the machine's best ceilings).
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run folder");
    assert_eq!(
        files_under(&run.join("images")),
        Vec::<PathBuf>::new(),
        "left in images/"
    );
    let manifest = RunManifest::read(&run).expect("run.json intact");
    assert!(
        manifest.images.is_empty(),
        "run.json lists an image that is not there"
    );
    assert_eq!(
        results::read_rows(&run.join("results.csv")).unwrap().len(),
        1
    );
    succeeded(&report(&run, &tmp.path().join("reports")));
}

// ---- 8: a cut last row --------------------------------------------------------------------

#[test]
fn finding_08_report_skips_a_truncated_last_row_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_folder(&tmp.path().join("run"), &rows(), None);
    let csv = run.join("results.csv");
    let full = std::fs::read(&csv).unwrap();
    // Cut the last row in the middle (no final line break).
    let last_start = full[..full.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    std::fs::write(&csv, &full[..last_start + 57]).unwrap();
    let out = report(&run, &tmp.path().join("out"));
    succeeded(&out);
    let err = text(&out.stderr);
    assert!(
        err.contains("results.csv") && err.contains("incomplete") && err.contains("skipped"),
        "{err}"
    );
    assert_eq!(results::read_rows(&csv).unwrap().len(), 2);
    // A damaged row that is not the last is still refused, with its line.
    let mut text_ = String::from_utf8(full).unwrap();
    text_ = text_.replacen("laue,square,naive", "laue,square", 1);
    std::fs::write(&csv, text_).unwrap();
    refused_in_one_line(
        &report(&run, &tmp.path().join("out")),
        &["line 2", "fields"],
    );
}

// ---- 9: broken metadata -------------------------------------------------------------------

#[test]
fn finding_09_report_says_when_run_json_is_broken_and_refuses_a_csv_without_status() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, content) in [("invalid", "{\"rows\": 3,"), ("empty", "")] {
        let run = run_folder(&tmp.path().join(name), &rows(), None);
        std::fs::write(run.join("run.json"), content).unwrap();
        let out = report(&run, &tmp.path().join("out"));
        succeeded(&out);
        let err = text(&out.stderr);
        assert!(
            err.contains("warning") && err.contains("run.json"),
            "{name} run.json not mentioned: {err}"
        );
    }
    let run = tmp.path().join("nostatus");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(
        run.join("results.csv"),
        "kernel,case,variant\nlaue,square,naive\n",
    )
    .unwrap();
    refused_in_one_line(
        &report(&run, &tmp.path().join("out")),
        &["results.csv", "status", "median_s"],
    );
}

// ---- 10: image paths ----------------------------------------------------------------------

#[test]
fn finding_10_run_json_image_paths_are_confined_to_the_run_folder() {
    use ndarray_npy::WriteNpyExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret.npy");
    let array = ndarray::Array2::<f64>::from_shape_fn((8, 8), |(i, j)| (i * 8 + j) as f64);
    array
        .write_npy(std::fs::File::create(&secret).unwrap())
        .unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir_all(run.join("images")).unwrap();
    std::os::unix::fs::symlink(&secret, run.join("images/link.npy")).unwrap();
    let image = |array: &str, file: &str| results::ImageEntry {
        kernel: "laue".into(),
        case: "square".into(),
        params: "e0=0.01 h=0 k=4 n=16 oversampling=3 w=5".parse().unwrap(),
        array: array.into(),
        file: file.into(),
        shape: vec![8, 8],
        source: "attack".into(),
    };
    let manifest = RunManifest {
        started: "20260101T000000Z".into(),
        images: vec![
            image("absolute", secret.to_str().unwrap()),
            image("dotdot", "../secret.npy"),
            image("symlink", "images/link.npy"),
        ],
        ..RunManifest::default()
    };
    run_folder(&run, &rows(), Some(&manifest));
    let out_dir = tmp.path().join("out");
    let out = report(&run, &out_dir);
    succeeded(&out);
    let err = text(&out.stderr);
    assert!(err.contains("outside"), "{err}");
    let html_path = files_under(&out_dir)
        .into_iter()
        .find(|p| p.ends_with("report.html"))
        .unwrap();
    let html = std::fs::read_to_string(html_path).unwrap();
    for name in ["`absolute`", "`dotdot`", "`symlink`"] {
        assert!(!html.contains(name), "image {name} read from outside");
    }
    for bad in [secret.to_str().unwrap(), "../secret.npy", "images/link.npy"] {
        assert!(results::inside_run(&run, bad).is_err(), "{bad}");
    }
}

// ---- 11: unwritable --out -----------------------------------------------------------------

#[test]
fn finding_11_unwritable_out_names_the_path_and_the_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_folder(&tmp.path().join("run"), &rows(), None);
    // /proc takes no new folders, even for root.
    refused_in_one_line(
        &report(&run, Path::new("/proc")),
        &["/proc", "cannot create a new folder", "os error"],
    );
    // A file where a folder should be.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    refused_in_one_line(
        &report(&run, &file.join("reports")),
        &["file/reports", "os error", "--out"],
    );
}

// ---- 12: run --save -----------------------------------------------------------------------

fn run_save(save: &Path, input: Option<&Path>) -> Output {
    let mut c = harness();
    c.args([
        "run",
        "--kernel",
        "laue",
        "--case",
        "square",
        "--variant",
        "naive",
        "--n",
        "16",
        "--save",
    ])
    .arg(save);
    if let Some(i) = input {
        c.arg("--input").arg(i);
    }
    output_within(c, Duration::from_secs(60))
}

#[test]
fn finding_12_run_save_checks_every_name_first_and_says_the_real_cause() {
    let tmp = tempfile::tempdir().unwrap();
    // A sibling that another output array would take: refused before computing.
    let save = tmp.path().join("out.npy");
    std::fs::write(tmp.path().join("out.chi2.npy"), "x").unwrap();
    let line = refused_in_one_line(&run_save(&save, None), &["out.chi2.npy", "--save"]);
    assert!(!text(&run_save(&save, None).stdout).contains("laue/square/naive"));
    assert!(!save.exists(), "{line}");
    // A missing folder: said as such, not "never overwrites".
    let line = refused_in_one_line(
        &run_save(&tmp.path().join("nowhere/out.npy"), None),
        &["nowhere", "No such file or directory"],
    );
    assert!(!line.contains("never overwrites"), "{line}");
    // A missing input: not "references are regenerated by scripts/".
    let line = refused_in_one_line(
        &run_save(
            &tmp.path().join("x.npy"),
            Some(&tmp.path().join("missing.npy")),
        ),
        &["missing.npy", "No such file or directory"],
    );
    assert!(!line.contains("references"), "{line}");
}

// ---- 13: the header first -----------------------------------------------------------------

#[test]
fn finding_13_results_csv_has_its_header_before_the_first_row() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dir = RunDir::create(tmp.path(), "attack", &RunManifest::default()).unwrap();
    let csv = dir.path.join("results.csv");
    let text_ = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text_.starts_with("run_id,kernel,case,variant,") && text_.ends_with('\n'),
        "no header in a new results.csv: {text_:?}"
    );
    assert_eq!(text_.lines().count(), 1);
    assert!(results::read_rows(&csv).unwrap().is_empty());
    dir.append(&rows()[0]).unwrap();
    dir.append(&rows()[1]).unwrap();
    let back = results::read_rows(&csv).unwrap();
    assert_eq!(back, rows()[..2].to_vec());
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 3);
}

// ---- 15: latest run -----------------------------------------------------------------------

#[test]
fn finding_15_latest_run_is_the_last_started_not_the_last_name() {
    let tmp = tempfile::tempdir().unwrap();
    let at = |started: &str| RunManifest {
        started: started.into(),
        ..RunManifest::default()
    };
    let newer = tmp.path().join("20261121T042513Z-suite");
    run_folder(&newer, &rows(), Some(&at("20261121T042513Z")));
    run_folder(
        &tmp.path().join("baseline"),
        &rows(),
        Some(&at("20250101T000000Z")),
    );
    assert_eq!(results::latest_run(tmp.path()), Some(newer.clone()));
    let out_dir = tmp.path().join("reports-out");
    let out = harness()
        .args(["report", "--root"])
        .arg(tmp.path())
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    succeeded(&out);
}

// ---- 16: workshop -------------------------------------------------------------------------

/// A workspace with laue's real mod.rs, enough for new-variant.
fn fake_workspace(dir: &Path) -> PathBuf {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels/src");
    let laue = dir.join("kernels/src/laue");
    std::fs::create_dir_all(&laue).unwrap();
    std::fs::write(dir.join("kernels/src/registry.rs"), "").unwrap();
    std::fs::copy(real.join("laue/mod.rs"), laue.join("mod.rs")).unwrap();
    dir.to_path_buf()
}

#[test]
fn finding_16_new_variant_never_follows_a_symlink_nor_leaves_an_orphan() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fake_workspace(&tmp.path().join("ws"));
    let outside = tmp.path().join("outside.rs");
    std::os::unix::fs::symlink(&outside, root.join("kernels/src/laue/exercise_evil.rs")).unwrap();
    let err = harness::workshop::new_variant(&root, "laue", "square", "evil")
        .unwrap_err()
        .to_string();
    assert!(err.contains("already exists"), "{err}");
    assert!(
        !outside.exists(),
        "the template was written through the link"
    );

    // mod.rs cannot be written (the disk fills up): no orphan, mod.rs intact, retry works.
    let mod_rs = root.join("kernels/src/laue/mod.rs");
    let before = std::fs::read_to_string(&mod_rs).unwrap();
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg("trap '' XFSZ; ulimit -f 8; exec \"$@\"")
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_harness"))
        .args([
            "new-variant",
            "--kernel",
            "laue",
            "--case",
            "square",
            "--name",
            "mine",
        ])
        .current_dir(&root);
    let out = c.output().unwrap();
    refused_in_one_line(&out, &["mod.rs", "run new-variant again"]);
    let exercise = root.join("kernels/src/laue/exercise_mine.rs");
    assert!(!exercise.exists(), "orphaned exercise file");
    assert_eq!(std::fs::read_to_string(&mod_rs).unwrap(), before);
    no_temporaries(&root);
    harness::workshop::new_variant(&root, "laue", "square", "mine").unwrap();
    assert!(exercise.exists());
}

// ---- 17: FIFOs ----------------------------------------------------------------------------

#[test]
fn finding_17_fifos_in_run_folders_and_inputs_are_refused_not_waited_on() {
    let tmp = tempfile::tempdir().unwrap();
    let limit = Duration::from_secs(20);
    // results.csv as a FIFO with no writer.
    let run = tmp.path().join("fifo-run");
    std::fs::create_dir_all(&run).unwrap();
    mkfifo(&run.join("results.csv"));
    let mut c = harness();
    c.arg("report")
        .arg(&run)
        .arg("--out")
        .arg(tmp.path().join("o"));
    refused_in_one_line(
        &output_within(c, limit),
        &["results.csv", "not a regular file"],
    );
    // run.json as a FIFO: said, and the report goes on from the rows.
    let run = run_folder(&tmp.path().join("fifo-json"), &rows(), None);
    mkfifo(&run.join("run.json"));
    let mut c = harness();
    c.arg("report")
        .arg(&run)
        .arg("--out")
        .arg(tmp.path().join("o"));
    let out = output_within(c, limit);
    succeeded(&out);
    assert!(text(&out.stderr).contains("run.json"));
    // check-png and run --input.
    let fifo = tmp.path().join("pipe");
    mkfifo(&fifo);
    let mut c = harness();
    c.arg("check-png").arg(&fifo);
    refused_in_one_line(&output_within(c, limit), &["pipe", "not a regular file"]);
    refused_in_one_line(
        &run_save(&tmp.path().join("y.npy"), Some(&fifo)),
        &["pipe", "not a regular file"],
    );
    let _ = std::io::stdout().flush();
}

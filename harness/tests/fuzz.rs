//! Fuzzing of every parser of outside input in the harness (issue 16, item 5): run folders
//! (`results.csv`, `peers*.csv`, `run.json`, timelines, and the whole report built from
//! them) and the PNG reader behind `check-png`. cargo-fuzz needs a nightly compiler, so
//! these are proptest harnesses of arbitrary and of mutated bytes: each must give rows or a
//! one-line error, never a panic, a hang or an allocation the input does not justify.
//!
//! Bounded for CI: each target is sized to run well under 20 s in release mode on a
//! 2-core machine; `PROPTEST_RNG_SEED` fixes the inputs, `PROPTEST_CASES` overrides the
//! counts for a longer local run. Crashes found are kept below as named regression tests.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::Config;

use harness::report::image::decode_png;
use harness::results::{self, Row, RunManifest, Status};
use kernels::{Precision, Strategy as Kind};

/// `cases` unless `PROPTEST_CASES` says otherwise; no regression files (crashes become
/// named tests here).
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    }
}

fn row(variant: &str, strategy: Kind, median: f64, n: f64) -> Row {
    Row {
        run_id: "fuzz".into(),
        kernel: "laue".into(),
        case: "square".into(),
        variant: variant.into(),
        strategy,
        precision: Precision::F64,
        params: format!("e0=0.01 h=0 k=4 n={n} oversampling=3 w=5")
            .parse()
            .unwrap(),
        size_param: "n".into(),
        size: n,
        threads: 1,
        status: Status::Ok,
        median_s: Some(median),
        ci_low_s: Some(0.99 * median),
        ci_high_s: Some(1.01 * median),
        spread: Some(0.02),
        samples: 10,
        flops: 1e9,
        bytes: 1e6,
        gflops: Some(1e9 / median / 1e9),
        stages: "setup=0.001;compute=0.002".into(),
        cpu: "Fuzz CPU".into(),
        cores: 2,
        memory_gib: 8.0,
        os: "linux".into(),
        runtime: "rust".into(),
        timestamp: "20260101T000000Z".into(),
        ..Row::default()
    }
}

/// A valid results.csv: three variants at two sizes.
fn seed_csv() -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for n in [16.0, 32.0] {
        let k = n / 16.0;
        w.serialize(row("naive", Kind::Naive, 0.01 * k * k, n))
            .unwrap();
        w.serialize(row("vectorised", Kind::Vectorised, 0.004 * k * k, n))
            .unwrap();
        w.serialize(row("gpu-f32", Kind::Gpu, 0.002 * k, n))
            .unwrap();
    }
    w.into_inner().unwrap()
}

/// A valid run.json with a machine, a ceiling and an image entry.
fn seed_json() -> Vec<u8> {
    let text = r#"{
  "harness": "0.1.0",
  "command": ["harness", "bench"],
  "machine": {"cpu": "Fuzz CPU", "cores": 2, "memory_gib": 8.0, "os": "linux", "simd": "avx2"},
  "budget_s": 1.0,
  "ceilings": [{"threads": 1, "gemm_f64_gflops": 10.0, "gemm_f32_gflops": 20.0, "copy_gbps": 5.0, "gemm_n": 256, "copy_mib": 64}],
  "started": "20260101T000000Z",
  "rows": 6,
  "images": [{"kernel": "laue", "case": "square", "params": "e0=0.01 h=0 k=4 n=32 oversampling=3 w=5", "array": "intensity", "file": "images/a.npy", "shape": [4, 4], "source": "naive"}]
}
"#;
    text.as_bytes().to_vec()
}

/// A valid 8 × 8 RGB PNG.
fn seed_png() -> Vec<u8> {
    let rgb: Vec<u8> = (0..8 * 8 * 3).map(|i| (i * 37 % 256) as u8).collect();
    harness::report::image::encode_png(&rgb, 8, 8).unwrap()
}

/// Values that have broken parsers before: huge, tiny, negative, not numbers, separators.
const TOKENS: &[&str] = &[
    "1e306",
    "-1",
    "NaN",
    "inf",
    "-inf",
    "0",
    "1e-300",
    "",
    ",",
    "\n",
    "\"",
    "\r\n",
    "=",
    ";",
    "n=",
    "ok",
    "failed",
    "\u{0}",
    "\u{feff}",
    "99999999999999999999",
    "../../etc/passwd",
    "/etc/passwd",
    "{",
    "}",
    "[",
    "]",
    "null",
    "true",
];

/// One mutation: (kind, position, byte, token).
type Op = (u8, usize, u8, usize);

fn mutate(seed: &[u8], ops: &[Op]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for &(kind, pos, byte, token) in ops {
        let at = if b.is_empty() { 0 } else { pos % (b.len() + 1) };
        match kind % 5 {
            0 if at < b.len() => b[at] = byte,
            1 => b.insert(at, byte),
            2 if at < b.len() => {
                b.remove(at);
            }
            3 => b.truncate(at),
            _ => {
                let t = TOKENS[token % TOKENS.len()].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
        }
    }
    b
}

fn ops(max: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        (any::<u8>(), any::<usize>(), any::<u8>(), any::<usize>()),
        1..max,
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Rows read from any file are physical (the report's axes depend on it).
fn check_rows(rows: &[Row]) {
    for r in rows {
        if let Some(m) = r.median_s {
            assert!(
                m == 0.0 || (1e-12..=1e6).contains(&m),
                "median {m} let through"
            );
        }
        assert!(
            (0.0..=1e30).contains(&r.size),
            "size {} let through",
            r.size
        );
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn fuzz_results_csv_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let tmp = tempfile::tempdir().unwrap();
        let path = write(tmp.path(), "results.csv", &bytes);
        if let Ok(rows) = results::read_rows(&path) {
            check_rows(&rows);
        }
    }

    #[test]
    fn fuzz_results_csv_mutated(ops in ops(12)) {
        let tmp = tempfile::tempdir().unwrap();
        let path = write(tmp.path(), "results.csv", &mutate(&seed_csv(), &ops));
        if let Ok(rows) = results::read_rows(&path) {
            check_rows(&rows);
        }
    }

    #[test]
    fn fuzz_run_json(bytes in prop::collection::vec(any::<u8>(), 0..1024), ops in ops(12)) {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "run.json", &bytes);
        let _ = RunManifest::load(tmp.path());
        write(tmp.path(), "run.json", &mutate(&seed_json(), &ops));
        if let Ok(Some(m)) = RunManifest::load(tmp.path()) {
            for img in &m.images {
                // Whatever the file says, nothing outside the folder resolves.
                if let Ok(p) = results::inside_run(tmp.path(), &img.file) {
                    prop_assert!(p.starts_with(tmp.path().canonicalize().unwrap()));
                }
            }
        }
    }

    #[test]
    fn fuzz_timeline_csv(bytes in prop::collection::vec(any::<u8>(), 0..1024), ops in ops(12)) {
        let tmp = tempfile::tempdir().unwrap();
        let path = write(tmp.path(), "t.csv", &bytes);
        let _ = results::events::read_csv(&path);
        let seed = b"lane,image,start_s,end_s\ncpu,0,0.000000000,0.001000000\ngpu,0,0.001000000,0.003000000\n";
        let path = write(tmp.path(), "t.csv", &mutate(seed, &ops));
        let _ = results::events::read_csv(&path);
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn fuzz_png_arbitrary_and_mutated(bytes in prop::collection::vec(any::<u8>(), 0..512), ops in ops(8)) {
        let tmp = tempfile::tempdir().unwrap();
        let path = write(tmp.path(), "a.png", &bytes);
        let _ = decode_png(&path);
        let path = write(tmp.path(), "b.png", &mutate(&seed_png(), &ops));
        if let Ok((w, h, px)) = decode_png(&path) {
            prop_assert_eq!(px.len() as u64, u64::from(w) * u64::from(h));
        }
    }

    /// Headers of any size, depth and colour type over a little random image data: the
    /// declared size is refused or decoded, never allocated blindly.
    #[test]
    fn fuzz_png_declared_sizes(
        w in prop_oneof![1u32..64, any::<u32>()],
        h in prop_oneof![1u32..64, any::<u32>()],
        depth in prop::sample::select(vec![1u8, 2, 4, 8, 16, 3]),
        colour in prop::sample::select(vec![0u8, 2, 3, 4, 6, 5]),
        interlace in 0u8..3,
        data in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let path = write(tmp.path(), "c.png", &png_with(w, h, depth, colour, interlace, &data));
        if let Ok((w, h, _)) = decode_png(&path) {
            prop_assert!(u64::from(w) * u64::from(h) <= harness::report::image::MAX_PNG_PIXELS);
        }
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// A whole run folder, mutated, through `harness report`'s loading, model and
    /// rendering: a report or an error, never a panic.
    #[test]
    fn fuzz_run_folder_report(csv_ops in ops(12), json_ops in ops(12), keep_json in any::<bool>()) {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("20260101T000000Z-laue");
        std::fs::create_dir_all(run.join("images")).unwrap();
        write(&run, "results.csv", &mutate(&seed_csv(), &csv_ops));
        if keep_json {
            write(&run, "run.json", &mutate(&seed_json(), &json_ops));
        }
        std::fs::copy(npy_4x4(tmp.path()), run.join("images/a.npy")).unwrap();
        let _ = harness::report::write(&[run], &tmp.path().join("out"));
    }
}

fn npy_4x4(dir: &Path) -> PathBuf {
    use ndarray_npy::WriteNpyExt as _;
    let p = dir.join("a.npy");
    let a = ndarray::Array2::<f64>::from_shape_fn((4, 4), |(i, j)| 1.0 + (i * 4 + j) as f64);
    a.write_npy(std::fs::File::create(&p).unwrap()).unwrap();
    p
}

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

/// A PNG with the given header fields and `data` as its (zlib) image data.
fn png_with(w: u32, h: u32, depth: u8, colour: u8, interlace: u8, data: &[u8]) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, interlace]);
    png.extend(chunk(b"IHDR", &ihdr));
    if colour == 3 {
        png.extend(chunk(b"PLTE", &[0, 0, 0, 255, 255, 255]));
    }
    png.extend(chunk(b"IDAT", data));
    png.extend(chunk(b"IEND", &[]));
    png
}

// ---- regressions found by the targets above -------------------------------------------------

/// The seeds themselves are valid (else the mutated targets above test only refusals).
#[test]
fn seeds_are_valid_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("20260101T000000Z-laue");
    std::fs::create_dir_all(run.join("images")).unwrap();
    write(&run, "results.csv", &seed_csv());
    write(&run, "run.json", &seed_json());
    std::fs::copy(npy_4x4(tmp.path()), run.join("images/a.npy")).unwrap();
    assert_eq!(
        results::read_rows(&run.join("results.csv")).unwrap().len(),
        6
    );
    let m = RunManifest::load(&run).unwrap().unwrap();
    assert_eq!(m.images.len(), 1);
    let w = harness::report::write(&[run], &tmp.path().join("out")).unwrap();
    let html = std::fs::read_to_string(w.html).unwrap();
    assert!(html.contains("vectorised") && html.contains("data:image/png;base64"));
    let png = write(tmp.path(), "s.png", &seed_png());
    assert_eq!(decode_png(&png).unwrap().2.len(), 64);
}

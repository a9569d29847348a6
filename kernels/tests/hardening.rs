//! Issue 16's findings that live in the kernels crate, one test (or a few) each; every one
//! fails without its fix. Tests that need an environment variable or a resource limit of
//! their own run in a child process (this test binary again, that one test selected), so
//! that no test changes the environment the others read.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kernels::gate::{Admission, Phase, Policy, References, admit};
use kernels::io::{read_f64, references_dir, write_f64};
use kernels::{Availability, registry};
use ndarray::{ArrayD, IxDyn};

// ---- helpers ------------------------------------------------------------------------------

/// A fresh, empty folder for one test.
fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kernels-hardening-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An `.npy` file written by hand: format version `major`.0, the header dictionary padded
/// to 64 bytes, then `data`.
fn npy(dir: &Path, name: &str, major: u8, descr: &str, shape: &str, data: &[u8]) -> PathBuf {
    let prefix = if major == 1 { 10 } else { 12 };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (prefix + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY".to_vec();
    bytes.extend([major, 0]);
    if major == 1 {
        bytes.extend((header.len() as u16).to_le_bytes());
    } else {
        bytes.extend((header.len() as u32).to_le_bytes());
    }
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn message(path: &Path) -> String {
    read_f64(path).unwrap_err().to_string()
}

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

/// Runs `read` in a thread and gives up after `limit` (a read that blocks fails the test
/// instead of hanging it).
fn within<T: Send + 'static>(limit: Duration, read: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(read());
    });
    receive
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still blocked after {limit:?}"))
}

// ---- 1. the .npy reader ---------------------------------------------------------------------

/// A 192-byte file declaring shape (4000000000, 4): ndarray-npy allocated 128 GB from it.
#[test]
fn npy_header_declaring_more_data_than_the_file_holds_is_refused_before_allocating() {
    let dir = folder("declared");
    let data = [0u8; 64];
    let p = npy(&dir, "huge.npy", 1, "<f8", "(4000000000, 4)", &data);
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 192);
    let m = message(&p);
    assert!(
        m.contains("huge.npy")
            && m.contains("128000000000 bytes")
            && m.contains("holds 64 bytes")
            && !m.contains('\n'),
        "{m}"
    );
    // The same through version 2 and 3 headers, and for a wrong dtype (ndarray-npy allocates
    // shape × 8 before it checks the type).
    for major in [2, 3] {
        let p = npy(&dir, "huge2.npy", major, "<f8", "(4000000000, 4)", &data);
        assert!(
            message(&p).contains("128000000000 bytes"),
            "{}",
            message(&p)
        );
    }
    let p = npy(&dir, "huge4.npy", 1, "<f4", "(4000000000, 4)", &data);
    assert!(message(&p).contains("float64"), "{}", message(&p));
    // A shape whose byte count overflows 64 bits.
    let p = npy(
        &dir,
        "overflow.npy",
        1,
        "<f8",
        "(4611686018427387904, 4)",
        &data,
    );
    assert!(message(&p).contains("64-bit"), "{}", message(&p));
    // Extra data is refused too, with both sizes.
    let p = npy(&dir, "extra.npy", 1, "<f8", "(2,)", &[0; 24]);
    assert!(
        message(&p).contains("16 bytes of data") && message(&p).contains("holds 24"),
        "{}",
        message(&p)
    );
}

/// A version 2 header length of 0xFFFFFFF0: ndarray-npy allocated 4 GB for the header.
#[test]
fn npy_header_length_is_bounded_before_it_is_read() {
    let dir = folder("header-length");
    let p = dir.join("long-header.npy");
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend(0xFFFF_FFF0u32.to_le_bytes());
    bytes.extend([b' '; 52]);
    std::fs::write(&p, bytes).unwrap();
    let m = message(&p);
    assert!(
        m.contains("4294967280") && m.contains("10000") && !m.contains('\n'),
        "{m}"
    );
    // A length within numpy's bound but beyond the file.
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend(9000u16.to_le_bytes());
    bytes.extend([b' '; 52]);
    std::fs::write(&p, bytes).unwrap();
    let m = message(&p);
    assert!(m.contains("9000") && m.contains("holds 52"), "{m}");
    // An unknown format version.
    std::fs::write(&p, b"\x93NUMPY\x09\x00\x10\x00{}").unwrap();
    assert!(message(&p).contains("version 9.0"), "{}", message(&p));
}

/// A FIFO with no writer blocked the reader forever; a folder got a misleading message.
#[cfg(unix)]
#[test]
fn npy_reader_refuses_what_is_not_a_regular_file() {
    let dir = folder("fifo");
    let fifo = dir.join("pipe.npy");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let path = fifo.clone();
    let result = std::panic::catch_unwind(|| {
        within(Duration::from_secs(20), move || {
            read_f64(&path).map_err(|e| e.to_string())
        })
    });
    if result.is_err() {
        // Unblock the reader (it waits for a writer) before failing.
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
        panic!("reading a FIFO blocked");
    }
    let m = result.unwrap().unwrap_err();
    assert!(m.contains("pipe.npy") && m.contains("FIFO"), "{m}");
    // The TRACE image (deconv/pipeline `trace`) is read the same way.
    let path = fifo.clone();
    let m = within(Duration::from_secs(20), move || {
        kernels::deconv::scene::trace(&path, 16)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .unwrap_err();
    assert!(m.contains("FIFO"), "{m}");
    let m = message(&dir);
    assert!(m.contains("a folder"), "{m}");
}

/// Every open error of a user's file said "references are regenerated by scripts/".
#[test]
fn read_errors_say_the_real_cause() {
    let m = message(Path::new("no/such/input.npy"));
    assert!(
        m.contains("No such file") && m.contains("check the path") && !m.contains("scripts/"),
        "{m}"
    );
    let missing_reference = references_dir().unwrap().join("lm").join("no_such.npy");
    let m = message(&missing_reference);
    assert!(m.contains("scripts/"), "{m}");
}

// ---- 2. the .npy writer ---------------------------------------------------------------------

fn ramp(n: usize) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(&[n]), |i| i[0] as f64)
}

/// A full disk (here a file-size limit) left a cut `.npy` under the requested name, and a
/// retry was then refused as "exists".
#[cfg(unix)]
#[test]
fn a_failed_write_leaves_nothing_under_the_name() {
    const TEST: &str = "a_failed_write_leaves_nothing_under_the_name";
    if child_expectation(TEST).is_none() {
        // 16 blocks of 512 or 1024 bytes: far below the 512 KiB written. SIGXFSZ ignored, so
        // that the write returns EFBIG (as a full disk returns ENOSPC) instead of killing.
        in_child(TEST, &[], "", "trap '' XFSZ; ulimit -f 16");
        return;
    }
    let dir = folder("write-fails");
    let path = dir.join("out.npy");
    let e = write_f64(&path, &ramp(65_536)).unwrap_err().to_string();
    assert!(
        e.contains("out.npy") && e.contains("too large") && !e.contains("never overwrites"),
        "{e}"
    );
    assert!(!path.exists(), "{e}: a cut file was left under the name");
    assert_eq!(listing(&dir), Vec::<String>::new(), "temporary file left");
}

/// Every write error said "(the harness never overwrites a file…)", even for a missing
/// folder.
#[test]
fn write_errors_say_the_real_cause_and_exists_only_when_it_does() {
    let dir = folder("write-causes");
    let e = write_f64(&dir.join("missing").join("out.npy"), &ramp(4))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("out.npy") && e.contains("No such file") && !e.contains("never overwrites"),
        "{e}"
    );
    let path = dir.join("out.npy");
    write_f64(&path, &ramp(1000)).unwrap();
    assert_eq!(read_f64(&path).unwrap(), ramp(1000));
    assert_eq!(listing(&dir), ["out.npy"], "temporary file left");
    let e = write_f64(&path, &ramp(3)).unwrap_err().to_string();
    assert!(e.contains("never overwrites"), "{e}");
    assert_eq!(read_f64(&path).unwrap(), ramp(1000));
    assert_eq!(listing(&dir), ["out.npy"], "temporary file left");
}

// ---- 3. lm's memory estimate ------------------------------------------------------------------

/// `--fits 100000000` is in range and built ~28 GB of data before any memory check.
#[test]
fn lm_estimates_its_memory_from_the_parameters() {
    let lm = registry::kernel("lm").unwrap();
    let (n, k) = (25.0, 5.0); // gauss2d
    let at = |case: &str, fits: f64| {
        lm.memory_estimate(case, &lm.defaults(case).with("fits", fits))
            .unwrap_or_else(|| panic!("lm/{case} has no memory estimate"))
    };
    let largest = at("gauss2d", 1e8);
    let data = 8.0 * 1e8 * (n + 2.0 * k);
    assert!(largest as f64 >= data, "{largest} < the data alone, {data}");
    // Honest for every case: at least the problem and the variant's copy of it (what
    // generation really allocates), and no more than a few times that.
    for case in ["gauss2d", "odmr", "odmr8"] {
        let kind = match case {
            "gauss2d" => kernels::lm::Kind::Gauss2d,
            "odmr" => kernels::lm::Kind::Odmr,
            _ => kernels::lm::Kind::Odmr8,
        };
        let g = kernels::lm::generate(kind, 100, 1);
        let problem = 8 * (g.y.len() + g.init.len() + g.truth.len()) as u64;
        let estimate = at(case, 100.0);
        assert!(
            (2 * problem..=4 * problem).contains(&estimate),
            "lm/{case}: {estimate} bytes for a problem of {problem}"
        );
        assert_eq!(at(case, 1000.0), 10 * estimate, "lm/{case}: not linear");
    }
    assert_eq!(
        lm.memory_estimate("nonsense", &lm.defaults("gauss2d")),
        None
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

// ---- 5. lm with zero fits -------------------------------------------------------------------

/// `run --variant lm/gauss2d/gpu-f64` with y of shape (0, 25) panicked ("min > max" in the
/// GPU chunking). Zero fits are refused when the problem is built, so no variant — CPU or
/// GPU — is ever prepared with them; the `--fits` parameter already starts at 1.
#[test]
fn lm_refuses_zero_fits_for_every_variant() {
    let lm = registry::kernel("lm").unwrap();
    for (case, points, params) in [("gauss2d", 25, 5), ("odmr", 101, 7), ("odmr8", 201, 26)] {
        let y = ArrayD::<f64>::zeros(IxDyn(&[0, points]));
        let init = ArrayD::<f64>::zeros(IxDyn(&[0, params]));
        let e = lm
            .instance(case, &lm.defaults(case), &[y, init])
            .err()
            .unwrap_or_else(|| panic!("lm/{case} built a problem of 0 fits"))
            .to_string();
        assert!(e.contains("0 fits") && e.contains("at least one"), "{e}");
    }
    // One fit still runs, on the CPU and on the GPU (the smallest batch of the chunking).
    let k = registry::kernel("lm").unwrap();
    let g = kernels::lm::generate(kernels::lm::Kind::Gauss2d, 1, 1);
    let y = ArrayD::from_shape_vec(IxDyn(&[1, 25]), g.y).unwrap();
    let init = ArrayD::from_shape_vec(IxDyn(&[1, 5]), g.init).unwrap();
    let inst = k
        .instance("gauss2d", &k.defaults("gauss2d"), &[y, init])
        .unwrap();
    for name in ["vectorised", "gpu-f64"] {
        let v = common::variant(inst.as_ref(), name);
        if common::not_run(inst.as_ref(), v).is_some() {
            continue;
        }
        let out = common::run_once(inst.as_ref(), name);
        assert_eq!(out.arrays[0].1.shape(), [1, 5], "{name}");
    }
}

// ---- limits checked before anything is built ---------------------------------------------------

/// Every kernel of the registry estimates its memory from the parameters, so that the
/// harness refuses a job too big before building it (laue, psf and deconv were checked
/// only once built). Laue's and psf's estimate is the generic one of the built problem
/// (one formula: the two checks agree); deconv's adds the images every run holds, so it is
/// never below it.
#[test]
fn every_kernel_estimates_its_memory_from_the_parameters() {
    for kernel in registry::kernels() {
        for case in kernel.cases() {
            let size = kernel.params().iter().find(|p| p.is_size).unwrap().name;
            let params = kernel.defaults(case.name).with(size, 32.0);
            let estimate = kernel
                .memory_estimate(case.name, &params)
                .unwrap_or_else(|| {
                    panic!("{}/{} has no memory estimate", kernel.name(), case.name)
                });
            let built = kernel.instance(case.name, &params, &[]).unwrap();
            let generic = kernels::kernel::run_memory(built.work().bytes);
            match kernel.name() {
                "laue" | "psf" => assert_eq!(estimate, generic, "{}/{}", kernel.name(), case.name),
                "deconv" => assert!(estimate > generic, "{}/{}", kernel.name(), case.name),
                _ => {}
            }
        }
    }
    // The FFT at n = 4096, oversampling 64: (64·4096)² points of f64, twice: 1100 GB.
    let laue = registry::kernel("laue").unwrap();
    let big = laue
        .defaults("square")
        .with("n", 4096.0)
        .with("oversampling", 64.0);
    let bytes = laue.memory_estimate("square", &big).unwrap() as f64;
    assert!((1.0999e12..1.1001e12).contains(&bytes), "{bytes}");
}

/// The naive variants' run time, estimated from the parameters for the harness's up-front
/// duration check, is the very estimate their probes compare with the limit.
#[test]
fn the_naive_estimate_from_parameters_is_the_probes_own() {
    use kernels::Kernel;
    use kernels::{deconv, laue, lm, psf};
    let p = laue::Laue::defaults("circle")
        .with("n", 40.0)
        .with("h", 0.3);
    let problem = laue::Laue::problem("circle", &p, &[]).unwrap();
    let own = laue::naive::seconds(problem.h.len() * problem.k.len(), problem.n);
    assert_eq!(laue::Laue::naive_seconds("circle", &p), Some(own));

    let p = psf::Psf::defaults("aia")
        .with("n", 64.0)
        .with("channel", 94.0);
    let problem = psf::Psf::problem("aia", &p, &[]).unwrap();
    assert_eq!(
        psf::Psf::naive_seconds("aia", &p),
        Some(psf::naive::seconds(&problem))
    );

    let p = deconv::Deconv::defaults("synthetic")
        .with("n", 48.0)
        .with("iterations", 3.0);
    let problem = deconv::Deconv::problem("synthetic", &p, &[]).unwrap();
    let own = deconv::naive::seconds(problem.pixels(), problem.iterations);
    assert_eq!(deconv::Deconv::naive_seconds("synthetic", &p), Some(own));

    for case in ["gauss2d", "odmr", "odmr8"] {
        let p = lm::Lm::defaults(case).with("fits", 50.0);
        let problem = lm::Lm::problem(case, &p, &[]).unwrap();
        let own = lm::naive::seconds(problem.fits, problem.points, problem.n_params);
        assert_eq!(lm::Lm::naive_seconds(case, &p), Some(own), "{case}");
    }
}

/// A malformed HARNESS_MEMORY_LIMIT switched the memory check off (finding 4).
#[test]
fn memory_limit_is_parsed_strictly() {
    const TEST: &str = "memory_limit_is_parsed_strictly";
    const NAME: &str = "HARNESS_MEMORY_LIMIT";
    let Some(expect) = child_expectation(TEST) else {
        in_child(TEST, &[(NAME, None)], "ok:none", "");
        in_child(TEST, &[(NAME, Some("1000"))], "ok:1000", "");
        in_child(TEST, &[(NAME, Some("0"))], "ok:0", "");
        for bad in ["abc", "-1", "", "1e9", "4GB", " 1000", "1000 "] {
            in_child(TEST, &[(NAME, Some(bad))], "err", "");
        }
        return;
    };
    let got = kernels::memory::limit_from_env();
    match expect.as_str() {
        "ok:none" => assert_eq!(got.unwrap(), None),
        "err" => {
            let e = got.unwrap_err().to_string();
            assert!(
                e.contains(NAME) && e.contains("digits") && !e.contains('\n'),
                "{e}"
            );
            assert!(kernels::check_environment().is_err());
            assert!(kernels::memory::available().is_err());
        }
        value => {
            let bytes: u64 = value.strip_prefix("ok:").unwrap().parse().unwrap();
            assert_eq!(got.unwrap(), Some(bytes));
            // The least bound wins: the environment's here, far below the machine's.
            let a = kernels::memory::available().unwrap().unwrap();
            assert_eq!((a.bytes, a.bound.as_str()), (bytes, NAME));
        }
    }
}

/// Under `ulimit -v` the address space left is the bound (finding 17): the limit less what
/// the process maps already.
#[test]
fn the_address_space_limit_bounds_the_memory_available() {
    const TEST: &str = "the_address_space_limit_bounds_the_memory_available";
    let Some(_) = child_expectation(TEST) else {
        in_child(
            TEST,
            &[("HARNESS_MEMORY_LIMIT", None)],
            "",
            "ulimit -v 4000000",
        );
        return;
    };
    // Read first: the address space in use only grows meanwhile, so what is left shrinks.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let in_use = kernels::memory::address_space_in_use(&status).unwrap();
    let a = kernels::memory::available().unwrap().unwrap();
    assert!(a.bytes <= 4_096_000_000 - in_use, "{a:?}");
    // Unless the machine itself has less free (then MemAvailable is the bound).
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    if kernels::memory::mem_available(&meminfo).unwrap() > 4_096_000_000 {
        assert!(
            a.bound.starts_with("ulimit -v: 4.1 GB of address space"),
            "{a:?}"
        );
    }
}

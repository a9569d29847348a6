//! Faults of the GPU itself (issue 19, "Bad input and faults"), injected on this machine's
//! adapter (lavapipe in CI) through `HARNESS_GPU_FAULT` (kernels::gpu::faults): a device
//! lost after a submission, an allocation refused as out of memory, a shader that does not
//! compile, an adapter without f64; and a binding limit lowered with
//! `HARNESS_GPU_MAX_BINDING`. Each ends in the rows it hit, saying which, and every other
//! row runs. The harness's conventions for the exit code: a failed row makes `validate` and
//! `bench` exit 1, a skipped one does not.
//!
//! The tiny laue problems of the `gpu-tiny` suite (n = 8 and 12: a fraction of a second on
//! lavapipe) carry every check. Where this machine has no adapter (allowed only without
//! HARNESS_REQUIRE_GPU) there is nothing to inject into and the tests say so and return.

#[path = "support/cli.rs"]
mod cli;

use cli::{harness_env, refused_in_one_line, run_folder, text};
use harness::results::{RunManifest, Status, read_rows};

/// The variant lines (`  laue/strained/gpu-f32   ok ...`) of a validate run.
fn variant_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("  ")).collect()
}

/// Validates the tiny laue problems with `variants`, under `env`; the exit code and the
/// variant lines. `None` when there is no adapter to inject a fault into.
fn validate(variants: &str, env: &[(&str, &str)]) -> Option<(Option<i32>, String)> {
    if !adapter_here() {
        return None;
    }
    let out = harness_env(
        &[
            "validate",
            "--suite",
            "gpu-tiny",
            "--kernel",
            "laue",
            "--variant",
            variants,
        ],
        env,
    );
    let stdout = text(&out.stdout);
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    Some((out.status.code(), stdout))
}

fn adapter_here() -> bool {
    match kernels::gpu::adapter() {
        Ok(_) => true,
        Err(why) => {
            let required = kernels::gate::Policy::from_env().is_ok_and(|p| p.require_gpu);
            assert!(!required, "HARNESS_REQUIRE_GPU=1 but no adapter: {why}");
            eprintln!("no GPU adapter here ({why}): nothing to inject faults into");
            false
        }
    }
}

/// The lines of `variant` (both tiny problems).
fn lines_of<'a>(stdout: &'a str, variant: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = variant_lines(stdout)
        .into_iter()
        .filter(|l| l.contains(&format!("/{variant} ")))
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "two problems of {variant} expected:\n{stdout}"
    );
    lines
}

#[track_caller]
fn all_ok(stdout: &str, variant: &str) {
    for l in lines_of(stdout, variant) {
        assert!(l.contains(" ok "), "{variant} should be ok: {l}\n{stdout}");
    }
}

#[test]
fn a_shader_that_does_not_compile_fails_its_variant_only() {
    let fault = "HARNESS_GPU_FAULT=shader:laue-f32";
    let env = [("HARNESS_GPU_FAULT", "shader:laue-f32")];
    let Some((code, out)) = validate("gpu-f32,gpu-f64,factorised", &env) else {
        return;
    };
    assert_eq!(code, Some(1), "a failed variant fails validate:\n{out}");
    for l in lines_of(&out, "gpu-f32") {
        assert!(l.contains("FAILED"), "{l}");
        assert!(l.contains("compiling shader `laue-f32`"), "{l}");
        assert!(
            l.contains(fault) && l.contains("expected"),
            "wgpu's message: {l}"
        );
    }
    all_ok(&out, "gpu-f64");
    all_ok(&out, "factorised");
}

#[test]
fn an_allocation_out_of_memory_fails_its_variants_and_the_cpu_goes_on() {
    let env = [("HARNESS_GPU_FAULT", "oom:laue intensity")];
    let Some((code, out)) = validate("gpu-f32,gpu-f64,factorised", &env) else {
        return;
    };
    assert_eq!(code, Some(1), "{out}");
    for v in ["gpu-f32", "gpu-f64"] {
        for l in lines_of(&out, v) {
            assert!(l.contains("FAILED"), "{l}");
            assert!(
                l.contains("allocating `laue intensity`") && l.contains("out of GPU memory"),
                "{l}"
            );
        }
    }
    all_ok(&out, "factorised");
}

#[test]
fn a_lost_device_fails_the_variant_it_ran_and_the_next_gets_a_new_one() {
    let env = [("HARNESS_GPU_FAULT", "device-lost:laue")];
    let Some((code, out)) = validate("gpu-f32,gpu-f64", &env) else {
        return;
    };
    assert_eq!(code, Some(1), "{out}");
    let lines = variant_lines(&out);
    assert_eq!(lines.len(), 4, "{out}");
    // The first submission labelled `laue` loses the device: that variant's first run.
    assert!(lines[0].contains("FAILED"), "{out}");
    assert!(lines[0].contains("GPU device lost (injected by HARNESS_GPU_FAULT=device-lost:laue after submitting `laue`)"), "{out}");
    for l in &lines[1..] {
        assert!(
            l.contains(" ok "),
            "the next variants run on a new device: {l}\n{out}"
        );
    }
}

#[test]
fn without_f64_the_f64_variants_are_skipped_and_the_rest_pass() {
    let env = [("HARNESS_GPU_FAULT", "no-f64")];
    let Some((code, out)) = validate("gpu-f32,gpu-f64", &env) else {
        return;
    };
    assert_eq!(code, Some(0), "a skipped variant is not a failure:\n{out}");
    for l in lines_of(&out, "gpu-f64") {
        assert!(l.contains("skipped") && l.contains("no SHADER_F64"), "{l}");
    }
    all_ok(&out, "gpu-f32");
}

#[test]
fn a_binding_over_the_limit_is_skipped_with_both_sizes() {
    // 4 KiB bindings: n = 8's output fits in f32 (2.2 KiB), not in f64 (4.5 KiB); n = 12's
    // (5.1 and 10.1 KiB) in neither.
    let env = [("HARNESS_GPU_MAX_BINDING", "4096")];
    let Some((code, out)) = validate("gpu-f32,gpu-f64", &env) else {
        return;
    };
    assert_eq!(code, Some(0), "a skipped variant is not a failure:\n{out}");
    let f32_lines = lines_of(&out, "gpu-f32");
    assert!(f32_lines[0].contains(" ok "), "{out}");
    let too_big = [
        f32_lines[1],
        lines_of(&out, "gpu-f64")[0],
        lines_of(&out, "gpu-f64")[1],
    ];
    for (l, size) in too_big.iter().zip(["5.1 KiB", "4.5 KiB", "10.1 KiB"]) {
        assert!(l.contains("skipped"), "{l}");
        assert!(
            l.contains(&format!("the output needs {size} in one storage binding"))
                && l.contains("binds at most 4.0 KiB (lowered by HARNESS_GPU_MAX_BINDING)"),
            "the reason names the size and the limit: {l}"
        );
    }
}

/// Deconvolution's probe checks the binding of the path it will take: at 16² in f32 the
/// fused path's half spectrum (16 × 9 complex, 1.1 KiB) fits a 1.5 KiB limit, the Stockham
/// path's complex image (16 × 16, 2.0 KiB) does not. So `gpu-f32` runs and validates, and
/// only `gpu-stockham-f32` is skipped, for its own array.
#[test]
fn deconv_checks_the_binding_of_the_path_it_takes() {
    if !adapter_here() {
        return;
    }
    let out = harness_env(
        &[
            "validate",
            "--kernel",
            "deconv",
            "--case",
            "synthetic",
            "--n",
            "16",
            "--variant",
            "gpu-f32,gpu-stockham-f32",
        ],
        &[("HARNESS_GPU_MAX_BINDING", "1536")],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let line = |v: &str| {
        variant_lines(&stdout)
            .into_iter()
            .find(|l| l.contains(&format!("/{v} ")))
            .unwrap_or_else(|| panic!("no {v} line:\n{stdout}"))
    };
    assert!(line("gpu-f32").contains(" ok "), "{stdout}");
    let stockham = line("gpu-stockham-f32");
    assert!(
        stockham.contains(" skipped ")
            && stockham.contains("the complex image needs 2.0 KiB")
            && stockham.contains("at most 1.5 KiB"),
        "{stockham}"
    );
}

/// Every GPU variant of every kernel checks its largest binding in its probe: under a
/// 2 KiB limit (the smallest binding among them is laue's f32 output at n = 8, 2.2 KiB),
/// each one of the tiny suite is skipped (none fails in setup) with a reason
/// that names its size and the limit.
#[test]
fn every_gpu_variant_checks_its_largest_binding_before_allocating() {
    if !adapter_here() {
        return;
    }
    for kernel in ["laue", "psf", "lm", "deconv", "pipeline"] {
        let out = harness_env(
            &["validate", "--suite", "gpu-tiny", "--kernel", kernel],
            &[("HARNESS_GPU_MAX_BINDING", "2048")],
        );
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{kernel}:\n{stdout}");
        let lines = variant_lines(&stdout);
        assert!(!lines.is_empty(), "{kernel}: no variant:\n{stdout}");
        for l in lines {
            assert!(
                l.contains(" skipped ") && l.contains(" needs ") && l.contains("at most 2.0 KiB"),
                "{kernel}: {l}"
            );
        }
    }
}

#[test]
fn bench_writes_the_fault_in_the_failed_rows_and_times_the_others() {
    if !adapter_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = harness_env(
        &[
            "bench",
            "--suite",
            "gpu-tiny",
            "--kernel",
            "laue",
            "--variant",
            "gpu-f32,gpu-f64",
            "--budget",
            "0.05",
            "--threads",
            "1",
            "--out",
            tmp.path().to_str().unwrap(),
        ],
        &[("HARNESS_GPU_FAULT", "shader:laue-f64")],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let dir = run_folder(tmp.path());
    let rows = read_rows(&dir.join("results.csv")).unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    for r in &rows {
        match r.variant.as_str() {
            "gpu-f64" => {
                assert_eq!(r.status, Status::Failed, "{r:?}");
                assert!(
                    r.reason.contains("compiling shader `laue-f64`")
                        && r.reason.contains("HARNESS_GPU_FAULT=shader:laue-f64"),
                    "{}",
                    r.reason
                );
                assert!(r.median_s.is_none());
            }
            _ => {
                assert_eq!(r.status, Status::Ok, "{r:?}");
                assert!(r.median_s.is_some_and(|m| m > 0.0), "{r:?}");
            }
        }
    }
    // The table on the terminal says it too, and run.json marks the run as a test.
    assert!(stdout.contains("compiling shader `laue-f64`"), "{stdout}");
    let manifest = RunManifest::read(&dir).expect("run.json");
    assert_eq!(manifest.gpu_injected, "HARNESS_GPU_FAULT=shader:laue-f64");
    assert_eq!(
        manifest.status_counts.get("failed"),
        Some(&2),
        "{manifest:?}"
    );
}

#[test]
fn a_malformed_fault_or_limit_is_refused_before_anything_runs() {
    for (var, value, needle) in [
        (
            "HARNESS_GPU_FAULT",
            "meltdown",
            "expected device-lost, oom or shader",
        ),
        ("HARNESS_GPU_FAULT", "no-f64:laue", "no-f64 takes no label"),
        ("HARNESS_GPU_MAX_BINDING", "64k", "positive multiple of 4"),
    ] {
        let out = harness_env(
            &["validate", "--suite", "gpu-tiny", "--kernel", "laue"],
            &[(var, value)],
        );
        assert!(out.stdout.is_empty(), "nothing runs: {}", text(&out.stdout));
        refused_in_one_line(&out, &[var, needle]);
    }
}

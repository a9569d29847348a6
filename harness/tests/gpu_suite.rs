//! The `gpu` suite (issue 19): which problems and variants `--suite gpu` selects, and the
//! tiny suite run for real on whatever adapter this machine has (lavapipe in CI).

use std::collections::BTreeMap;

#[path = "support/cli.rs"]
mod cli;

use cli::{harness_env, refused_in_one_line, text};
use harness::cli::{Select, Suite};
use harness::cmd::plan::{Plan, plan_suite};
use kernels::Strategy;

fn gpu_plan(kernel: Option<&str>, suite: Suite) -> Plan {
    let select = Select {
        kernel: kernel.map(str::to_string),
        ..Select::default()
    };
    plan_suite(&select, &BTreeMap::new(), suite).unwrap()
}

/// Each problem as `kernel/case param=value`, for the parameters named.
fn problems(plan: &Plan, param: &[&str]) -> Vec<String> {
    plan.jobs
        .iter()
        .map(|j| {
            let values: Vec<String> = param
                .iter()
                .filter_map(|p| j.params.get(p).ok().map(|v| format!("{p}={v}")))
                .collect();
            format!("{}/{} {}", j.kernel.name(), j.case, values.join(" "))
        })
        .collect()
}

#[test]
fn the_gpu_suite_has_the_sizes_that_mean_something_on_a_gpu() {
    let plan = gpu_plan(None, Suite::Gpu);
    let got = problems(&plan, &["n", "fits", "images"]);
    for want in [
        "laue/strained n=128",
        "laue/strained n=256",
        "psf/aia n=4096",
        "lm/gauss2d fits=1000000",
        "lm/gauss2d fits=10000000",
        "lm/odmr fits=1000000",
        "deconv/synthetic n=4096",
        "pipeline/deconv-stack n=1024 images=64",
    ] {
        assert!(got.iter().any(|g| g == want), "{want} missing from {got:?}");
    }
}

#[test]
fn the_gpu_suites_select_only_gpu_variants_unless_named() {
    for suite in [Suite::Gpu, Suite::GpuTiny] {
        let plan = gpu_plan(None, suite);
        for job in &plan.jobs {
            let chosen: Vec<_> = job
                .kernel
                .variants()
                .into_iter()
                .filter(|v| plan.wants(v.name))
                .collect();
            assert!(!chosen.is_empty(), "{}: no variant", job.kernel.name());
            for v in chosen {
                assert_eq!(
                    v.strategy,
                    Strategy::Gpu,
                    "{}/{}",
                    job.kernel.name(),
                    v.name
                );
            }
        }
    }
    // Named variants are taken as given (a CPU one beside the GPU one, to compare).
    let select = Select {
        kernel: Some("laue".into()),
        variant: Some("factorised,gpu-f32".into()),
        ..Select::default()
    };
    let plan = plan_suite(&select, &BTreeMap::new(), Suite::Gpu).unwrap();
    assert!(plan.wants("factorised") && plan.wants("gpu-f32") && !plan.wants("gpu-f64"));
}

#[test]
fn the_tiny_suite_is_the_same_problems_smaller() {
    let (device, tiny) = (gpu_plan(None, Suite::Gpu), gpu_plan(None, Suite::GpuTiny));
    let shape = |p: &Plan| -> Vec<String> {
        let mut v: Vec<String> = p
            .jobs
            .iter()
            .map(|j| format!("{}/{}", j.kernel.name(), j.case))
            .collect();
        v.dedup();
        v
    };
    assert_eq!(shape(&device), shape(&tiny));
    for (d, t) in device.jobs.iter().zip(&tiny.jobs) {
        for p in ["n", "fits", "images"] {
            if let (Ok(dv), Ok(tv)) = (d.params.get(p), t.params.get(p)) {
                assert!(
                    tv < dv,
                    "{}/{} {p}: tiny {tv} vs {dv}",
                    d.kernel.name(),
                    d.case
                );
            }
        }
    }
}

#[test]
fn validate_runs_the_tiny_gpu_suite_on_this_machines_adapter() {
    let out = harness_env(
        &["validate", "--suite", "gpu-tiny", "--kernel", "laue"],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    // Both tiny problems, the GPU variants only (validated, or skipped with the reason
    // where this machine has no adapter), the CPU oracle computed but not listed.
    assert_eq!(stdout.matches("laue/strained [").count(), 2, "{stdout}");
    let variant_lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(variant_lines.len(), 4, "{stdout}");
    assert!(
        variant_lines.iter().all(|l| l.contains("/gpu-f")),
        "{stdout}"
    );
}

#[test]
fn a_case_outside_the_gpu_suite_is_refused_in_one_line() {
    refused_in_one_line(
        &harness_env(
            &[
                "bench", "--suite", "gpu", "--kernel", "laue", "--case", "square",
            ],
            &[],
        ),
        &["square", "suite"],
    );
}

//! `harness`: validate, benchmark and report every variant of every kernel.
//!
//! Every variant is validated against a reference before it is timed; one that fails is
//! reported with its error and never timed. See `harness --help`.

mod cli;
mod jobs;
mod machine;
mod measure;
mod results;
mod validate;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use kernels::{Availability, Instance, Strategy};

use cli::{BenchArgs, Cmd, RunArgs, Select, ValidateArgs};
use jobs::{Job, Plan};
use machine::Machine;
use results::{Row, RunDir};
use validate::{References, run_guarded};

fn main() -> ExitCode {
    let parsed = match cli::parse() {
        Ok(p) => p,
        Err(e) => e.exit(),
    };
    let result = match parsed.cli.command {
        Some(Cmd::List(select)) => list(&select, &parsed.params),
        Some(Cmd::Validate(args)) => validate_cmd(&args, &parsed.params),
        Some(Cmd::Bench(args)) => bench(&args, &parsed.params),
        Some(Cmd::Run(args)) => run(&args, &parsed.params),
        None => bench(&default_bench(), &parsed.params),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn default_bench() -> BenchArgs {
    BenchArgs {
        select: Select::default(),
        threads: Vec::new(),
        budget: 1.0,
        min_samples: 5,
        out: "reports".into(),
    }
}

/// The variants of `instance` selected by `--variant` (all when none was given).
fn selected(instance: &dyn Instance, plan: &Plan) -> Vec<&'static str> {
    instance
        .variants()
        .into_iter()
        .map(|v| v.name)
        .filter(|n| plan.variant.as_deref().is_none_or(|want| want == *n))
        .collect()
}

fn instance_of(job: &Job) -> Result<Box<dyn Instance>> {
    job.kernel
        .instance(&job.case, &job.params, &[])
        .with_context(|| format!("{}/{} {}", job.kernel.name(), job.case, job.params))
}

/// With `HARNESS_REQUIRE_GPU=1` (CI), a GPU variant that is skipped is a failure: the
/// software adapter must be there and work.
fn gpu_required() -> bool {
    std::env::var("HARNESS_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

fn list(select: &Select, params: &std::collections::BTreeMap<String, Vec<String>>) -> Result<bool> {
    let plan = jobs::plan(select, params)?;
    let mut last_kernel = "";
    for job in &plan.jobs {
        let k = job.kernel;
        if k.name() != last_kernel {
            last_kernel = k.name();
            println!("\n{} — {}", k.name(), k.about());
            for p in k.params() {
                println!("    --{:<14} {} (default {})", p.name, p.help, p.default);
            }
        }
        let instance = instance_of(job)?;
        println!("  {}/{}  [{}]", k.name(), job.case, job.params);
        for v in instance.variants() {
            if plan.variant.as_deref().is_some_and(|want| want != v.name) {
                continue;
            }
            let a = instance.probe(v.name)?;
            println!(
                "    {:<34} {:<12} {:<4} {:<8} {}",
                format!("{}/{}/{}", k.name(), job.case, v.name),
                v.strategy,
                v.precision,
                a.label(),
                if a.is_ready() { v.idea } else { a.reason() }
            );
        }
    }
    Ok(true)
}

fn validate_cmd(
    args: &ValidateArgs,
    params: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<bool> {
    let plan = jobs::plan(&args.select, params)?;
    let mut all_ok = true;
    for job in &plan.jobs {
        let instance = match instance_of(job) {
            Ok(i) => i,
            Err(e) => {
                println!("FAILED {e:#}");
                all_ok = false;
                continue;
            }
        };
        let mut refs = References::new(instance.as_ref(), args.reference.as_deref())?;
        println!("{}/{} [{}]", job.kernel.name(), job.case, job.params);
        for name in selected(instance.as_ref(), &plan) {
            let id = format!("{}/{}/{name}", job.kernel.name(), job.case);
            let info = instance.info(name)?;
            match instance.probe(name)? {
                Availability::Ready => {}
                a => {
                    let strict = gpu_required()
                        && info.strategy == Strategy::Gpu
                        && matches!(a, Availability::Skipped(_));
                    all_ok &= !strict;
                    let label = if strict {
                        "FAILED (GPU required)"
                    } else {
                        a.label()
                    };
                    println!("  {id:<36} {label:<8} {}", a.reason());
                    continue;
                }
            }
            let outcome = (|| -> Result<validate::Validation, String> {
                let mut prepared = instance.prepare(name).map_err(|e| e.to_string())?;
                run_guarded(prepared.as_mut()).0?;
                Ok(validate::validate(
                    instance.as_ref(),
                    &mut refs,
                    name,
                    prepared.as_ref(),
                ))
            })();
            let (ok, text, reference) = match outcome {
                Ok(v) => (v.passed(), v.summary(), v.reference),
                Err(e) => (false, e, String::new()),
            };
            all_ok &= ok;
            println!(
                "  {id:<36} {:<8} {text}{}",
                if ok { "ok" } else { "FAILED" },
                if reference.is_empty() {
                    String::new()
                } else {
                    format!(" [reference: {reference}]")
                }
            );
        }
    }
    Ok(all_ok)
}

#[derive(serde::Serialize)]
struct RunManifest<'a> {
    command: Vec<String>,
    machine: &'a Machine,
    budget_s: f64,
    min_samples: usize,
    threads: &'a [usize],
    interrupted: bool,
}

fn bench(
    args: &BenchArgs,
    params: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<bool> {
    let plan = jobs::plan(&args.select, params)?;
    let machine = Machine::detect();
    let threads = if args.threads.is_empty() {
        vec![machine.cores]
    } else {
        args.threads.clone()
    };
    if let Some(&t) = threads.iter().find(|&&t| t == 0 || t > 4 * machine.cores) {
        bail!(
            "--threads {t}: choose between 1 and {} (this machine has {} cores)",
            4 * machine.cores,
            machine.cores
        );
    }
    let label = args.select.kernel.clone().unwrap_or_else(|| "suite".into());
    let manifest = RunManifest {
        command: std::env::args().collect(),
        machine: &machine,
        budget_s: args.budget,
        min_samples: args.min_samples,
        threads: &threads,
        interrupted: false,
    };
    let mut dir = RunDir::create(&args.out, &label, &manifest)?;
    println!(
        "machine: {} · {} cores · {} · GPU: {} [{}]\nrun folder: {}",
        machine.cpu,
        machine.cores,
        machine.simd,
        machine.gpu_adapter,
        machine.gpu_type,
        dir.path.display()
    );
    let mut all_ok = true;
    for job in &plan.jobs {
        let instance = match instance_of(job) {
            Ok(i) => i,
            Err(e) => {
                println!("FAILED {e:#}");
                all_ok = false;
                continue;
            }
        };
        let work = instance.work();
        let size_param = job
            .kernel
            .params()
            .iter()
            .find(|p| p.is_size)
            .map(|p| p.name);
        let size = size_param
            .and_then(|n| job.params.get(n).ok())
            .unwrap_or(0.0);
        println!("\n{}/{} [{}]", job.kernel.name(), job.case, job.params);
        println!(
            "  {:<16} {:<11} {:<4} {:<7} {:>9} {:>10} {:>10} {:>7} {:>9} {:>9}",
            "variant",
            "strategy",
            "prec",
            "status",
            "error",
            "setup",
            "median",
            "spread",
            "speedup",
            "GFLOP/s"
        );
        let mut refs = References::new(instance.as_ref(), None)?;
        for &t in &threads {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .thread_name(|i| format!("harness-worker-{i}"))
                .build()?;
            let mut naive_median = None;
            for name in selected(instance.as_ref(), &plan) {
                let info = instance.info(name)?;
                let mut row = Row {
                    run_id: dir.id.clone(),
                    kernel: job.kernel.name().into(),
                    case: job.case.clone(),
                    variant: name.into(),
                    strategy: info.strategy.to_string(),
                    precision: info.precision.to_string(),
                    params: job.params.to_string(),
                    size,
                    threads: t,
                    timestamp: results::utc_stamp(),
                    ..Row::default()
                }
                .with_machine(&machine);
                pool.install(|| bench_one(instance.as_ref(), &mut refs, name, args, &mut row));
                if gpu_required() && info.strategy == Strategy::Gpu && row.status == "skipped" {
                    row.status = "failed".into();
                    row.reason = format!("GPU required (HARNESS_REQUIRE_GPU=1): {}", row.reason);
                }
                all_ok &= row.status != "failed";
                if let Some(m) = row.median_s {
                    if info.strategy == Strategy::Naive {
                        naive_median = Some(m);
                    }
                    row.speedup_vs_naive = naive_median.map(|n| n / m);
                    row.gflops = Some(work.flops / m / 1e9);
                    row.gbps = Some(work.bytes / m / 1e9);
                    row.items_per_s = Some(work.items / m);
                }
                print_row(&row);
                dir.append(&row)?;
            }
        }
    }
    println!("\nresults: {}", dir.path.join("results.csv").display());
    Ok(all_ok)
}

/// Probe, prepare (timed), run once, validate, then — only if valid — time.
fn bench_one(
    instance: &dyn Instance,
    refs: &mut References<'_>,
    name: &str,
    args: &BenchArgs,
    row: &mut Row,
) {
    let availability = match instance.probe(name) {
        Ok(a) => a,
        Err(e) => {
            row.status = "failed".into();
            row.reason = e.to_string();
            return;
        }
    };
    if !availability.is_ready() {
        row.status = availability.label().into();
        row.reason = availability.reason().into();
        return;
    }
    let fail = |row: &mut Row, why: String| {
        row.status = "failed".into();
        row.reason = why;
    };
    let start = Instant::now();
    let prepared =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| instance.prepare(name)));
    row.setup_s = Some(start.elapsed().as_secs_f64());
    let mut prepared = match prepared {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return fail(row, format!("setup: {e}")),
        Err(p) => {
            return fail(
                row,
                format!("setup panicked: {}", validate::panic_message(&p)),
            );
        }
    };
    let (first, first_time) = run_guarded(prepared.as_mut());
    if let Err(e) = first {
        return fail(row, e);
    }
    let v = validate::validate(instance, refs, name, prepared.as_ref());
    row.reference = if refs.is_oracle(name) {
        format!("{} (oracle)", v.reference)
    } else {
        v.reference.clone()
    };
    if let Some(c) = &v.check {
        row.error = Some(c.error());
        row.tolerance = Some(c.tolerance.max_norm);
    }
    if !v.passed() {
        return fail(
            row,
            format!("validation failed, not timed: {}", v.summary()),
        );
    }
    match measure::measure(
        prepared.as_mut(),
        first_time.as_secs_f64(),
        args.budget,
        args.min_samples,
    ) {
        Ok(samples) => {
            let s = samples.summary().expect("at least one sample");
            row.status = "ok".into();
            row.median_s = Some(s.median);
            row.min_s = Some(s.min);
            row.max_s = Some(s.max);
            row.spread = Some(s.spread);
            row.samples = s.samples;
            row.stages = prepared
                .stages()
                .iter()
                .map(|st| format!("{}={:.6}", st.name, st.time.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(";");
        }
        Err(e) => fail(row, format!("failed while timing: {e}")),
    }
}

fn fmt_time(s: Option<f64>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s < 1e-3 => format!("{:.1} µs", s * 1e6),
        Some(s) if s < 1.0 => format!("{:.2} ms", s * 1e3),
        Some(s) => format!("{s:.2} s"),
    }
}

fn print_row(r: &Row) {
    println!(
        "  {:<16} {:<11} {:<4} {:<7} {:>9} {:>10} {:>10} {:>7} {:>9} {:>9}{}",
        r.variant,
        r.strategy,
        r.precision,
        r.status,
        r.error.map(|e| format!("{e:.1e}")).unwrap_or("-".into()),
        fmt_time(r.setup_s),
        fmt_time(r.median_s),
        r.spread
            .map(|s| format!("{:.1}%", 100.0 * s))
            .unwrap_or("-".into()),
        r.speedup_vs_naive
            .map(|s| format!("{s:.1}×"))
            .unwrap_or("-".into()),
        r.gflops.map(|g| format!("{g:.2}")).unwrap_or("-".into()),
        if r.reason.is_empty() {
            String::new()
        } else {
            format!("  {}", r.reason)
        }
    );
}

fn run(args: &RunArgs, params: &std::collections::BTreeMap<String, Vec<String>>) -> Result<bool> {
    let plan = jobs::plan(&args.select, params)?;
    let variant = plan
        .variant
        .clone()
        .context("--variant is required: which variant should run?")?;
    let job = match plan.jobs.as_slice() {
        [job] => job,
        _ => bail!(
            "the selection matches {} problems: give --case (and one value per parameter) to run one",
            plan.jobs.len()
        ),
    };
    let inputs = args
        .input
        .iter()
        .map(|p| kernels::io::read_f64(p))
        .collect::<Result<Vec<_>, _>>()?;
    let instance = job
        .kernel
        .instance(&job.case, &job.params, &inputs)
        .with_context(|| format!("{}/{}", job.kernel.name(), job.case))?;
    let mut prepared = instance.prepare(&variant)?;
    let (result, time) = run_guarded(prepared.as_mut());
    result.map_err(anyhow::Error::msg)?;
    let output = prepared.output()?;
    for (i, (name, array)) in output.arrays.iter().enumerate() {
        let path = if i == 0 {
            args.save.clone()
        } else {
            let stem = args.save.file_stem().unwrap_or_default().to_string_lossy();
            args.save.with_file_name(format!("{stem}.{name}.npy"))
        };
        kernels::io::write_f64(&path, array)?;
        println!(
            "wrote {} ({name}, shape {:?})",
            path.display(),
            array.shape()
        );
    }
    println!(
        "{}/{}/{variant} [{}]: {}",
        job.kernel.name(),
        job.case,
        job.params,
        fmt_time(Some(time.as_secs_f64()))
    );
    Ok(true)
}

//! `harness bench`: validate every selected variant, then time the valid ones, writing one
//! row per (kernel, case, variant, parameters, threads) to a new run folder as it finishes.
//!
//! Per variant: probe → prepare (timed: setup) → one run (timed: the first warm-up) →
//! validation against the reference → only if valid, warm-up until stable and samples
//! until the budget ([`crate::measure`]) → statistics ([`crate::stats`]). Around it:
//! allocation counts and peak resident memory ([`crate::memory`]); once per run, the
//! machine's ceilings for the roofline ([`crate::ceilings`]).

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kernels::{Instance, Output, Strategy};

use crate::ceilings::{self, Ceiling};
use crate::cli::{BenchArgs, Select};
use crate::commands::{gpu_required, instance_of, selected};
use crate::jobs::{self, Job};
use crate::machine::Machine;
use crate::measure::{self, Config};
use crate::memory;
use crate::report::format::{fmt_pct, fmt_ratio, fmt_sci, fmt_time};
use crate::results::{ImageEntry, Row, RunDir, RunManifest, utc_stamp};
use crate::stats::Summary;
use crate::validate::{self, References, run_guarded};

/// Largest 2-D output saved for the report's image (elements).
const IMAGE_MAX: usize = 1024 * 1024;

/// The quick suite's arguments (`harness` without a subcommand).
pub fn default_args() -> BenchArgs {
    BenchArgs {
        select: Select::default(),
        threads: Vec::new(),
        thread_scaling: false,
        budget: 1.0,
        min_samples: 5,
        noisy: crate::stats::NOISY_SPREAD,
        out: "reports".into(),
    }
}

// ---- Ctrl-C / SIGTERM -------------------------------------------------------------------

static STOP: AtomicBool = AtomicBool::new(false);
static SIGNALS: AtomicUsize = AtomicUsize::new(0);
static RUN_JSON: OnceLock<std::path::PathBuf> = OnceLock::new();

/// First Ctrl-C (or SIGTERM): finish the current sample, write nothing half-done, mark the
/// run interrupted. Second: mark it and exit at once (every finished row is on disk).
fn install_stop_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            STOP.store(true, Ordering::SeqCst);
            if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
                eprintln!(
                    "\nstopping after the current sample: finished rows are kept \
                     (Ctrl-C again to stop at once)"
                );
            } else {
                if let Some(path) = RUN_JSON.get() {
                    mark_interrupted(path);
                }
                eprintln!("\nstopped: finished rows are in results.csv");
                std::process::exit(130);
            }
        });
        if let Err(e) = installed {
            eprintln!("note: no Ctrl-C handler ({e}); an interrupted run keeps its rows anyway");
        }
    });
}

fn mark_interrupted(path: &std::path::Path) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) {
        v["interrupted"] = true.into();
        v["finished"] = utc_stamp().into();
        let _ = crate::results::write_json(path, &v);
    }
}

// ---- thread counts -----------------------------------------------------------------------

/// 1, 2, 4, ... below `cores`, then `cores`: the thread-scaling ladder.
pub fn thread_ladder(cores: usize) -> Vec<usize> {
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |t| Some(t * 2))
        .take_while(|&t| t < cores)
        .collect();
    v.push(cores.max(1));
    v
}

struct Threads {
    base: Vec<usize>,
    ladder: Vec<usize>,
}

impl Threads {
    /// Thread counts a variant of this strategy runs at.
    fn of(&self, strategy: Strategy) -> Vec<usize> {
        let mut v = self.base.clone();
        if strategy == Strategy::Parallel {
            v.extend(self.ladder.iter().filter(|t| !self.base.contains(t)));
        }
        v
    }
    /// Every count, the base ones first (so that naive comes before the others).
    fn all(&self) -> Vec<usize> {
        let mut v = self.base.clone();
        v.extend(self.ladder.iter().filter(|t| !self.base.contains(t)));
        v
    }
}

// ---- the command -------------------------------------------------------------------------

pub fn bench(args: &BenchArgs, params: &BTreeMap<String, Vec<String>>) -> Result<ExitCode> {
    let plan = jobs::plan(&args.select, params)?;
    if !(args.budget > 0.0 && args.budget.is_finite()) {
        bail!(
            "--budget {}: give a positive number of seconds",
            args.budget
        );
    }
    let machine = Machine::detect();
    let threads = Threads {
        base: if args.threads.is_empty() {
            vec![machine.cores]
        } else {
            args.threads.clone()
        },
        ladder: if args.thread_scaling {
            thread_ladder(machine.cores)
        } else {
            Vec::new()
        },
    };
    if let Some(&t) = threads
        .base
        .iter()
        .find(|&&t| t == 0 || t > 4 * machine.cores)
    {
        bail!(
            "--threads {t}: choose between 1 and {} (this machine has {} cores)",
            4 * machine.cores,
            machine.cores
        );
    }
    install_stop_handler();
    let label = args.select.kernel.clone().unwrap_or_else(|| "suite".into());
    let mut manifest = RunManifest {
        harness: env!("CARGO_PKG_VERSION").into(),
        command: std::env::args().collect(),
        machine: machine.clone(),
        budget_s: args.budget,
        min_samples: args.min_samples,
        noisy_threshold: args.noisy,
        threads: threads.base.clone(),
        thread_scaling: threads.ladder.clone(),
        started: utc_stamp(),
        counting_allocator: memory::counting(),
        ..RunManifest::default()
    };
    let mut dir = RunDir::create(&args.out, &label, &manifest)?;
    let _ = RUN_JSON.set(dir.path.join("run.json"));
    println!(
        "machine: {} · {} cores · {} · {} GiB · GPU: {} [{}]\nrun folder: {}",
        machine.cpu,
        machine.cores,
        machine.simd,
        machine.memory_gib,
        machine.gpu_adapter,
        machine.gpu_type,
        dir.path.display()
    );
    eprintln!(
        "measuring the machine's ceilings (GEMM peak, copy bandwidth) on {:?} threads...",
        threads.all()
    );
    manifest.ceilings = ceilings::measure(&threads.all());
    for c in &manifest.ceilings {
        println!(
            "ceilings on {} thread(s): GEMM {:.1} GFLOP/s f64, {:.1} f32 · copy {:.1} GB/s",
            c.threads, c.gemm_f64_gflops, c.gemm_f32_gflops, c.copy_gbps
        );
    }
    manifest.rss_peak_reset = memory::reset_rss_peak();
    dir.update(&manifest)?;

    let total: u64 = plan
        .jobs
        .iter()
        .map(|j| {
            j.kernel
                .variants()
                .iter()
                .filter(|v| plan.variant.as_deref().is_none_or(|w| w == v.name))
                .map(|v| threads.of(v.strategy).len() as u64)
                .sum::<u64>()
        })
        .sum();
    let bar = progress_bar(total);
    let cfg = Config {
        budget: args.budget,
        min_samples: args.min_samples,
    };
    let mut failed = 0usize;
    'jobs: for job in &plan.jobs {
        let instance = match instance_of(job) {
            Ok(i) => i,
            Err(e) => {
                bar.suspend(|| println!("FAILED {e:#}"));
                failed += 1;
                continue;
            }
        };
        bar.suspend(|| print_header(job));
        let mut refs = References::new(instance.as_ref(), None)?;
        let mut naive: HashMap<usize, f64> = HashMap::new();
        let mut image_saved = false;
        for t in threads.all() {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .thread_name(|i| format!("harness-worker-{i}"))
                .build()?;
            for name in selected(instance.as_ref(), &plan) {
                if STOP.load(Ordering::SeqCst) {
                    break 'jobs;
                }
                let info = instance.info(name)?;
                if !threads.of(info.strategy).contains(&t) {
                    continue;
                }
                bar.set_message(format!(
                    "{}/{}/{name} [{}] · {t} thread(s)",
                    job.kernel.name(),
                    job.case,
                    job.params
                ));
                let mut row = new_row(&dir.id, job, instance.as_ref(), name, t, &machine)?;
                let progress = |f: f64, phase: &str| {
                    bar.set_message(format!(
                        "{}/{}/{name} [{}] · {t} thread(s) · {phase} {:.0}%",
                        job.kernel.name(),
                        job.case,
                        job.params,
                        100.0 * f.min(1.0)
                    ));
                };
                let mut events = Vec::new();
                let outcome = pool.install(|| {
                    bench_one(
                        instance.as_ref(),
                        &mut refs,
                        name,
                        cfg,
                        &mut row,
                        &mut events,
                        progress,
                    )
                });
                if outcome == Outcome::Interrupted {
                    break 'jobs;
                }
                if !events.is_empty() {
                    let file = format!(
                        "timelines/{}-{}-{name}-{}-t{t}.csv",
                        job.kernel.name(),
                        job.case,
                        slug(&job.params.to_string())
                    );
                    match crate::events::write_csv(&dir.path.join(&file), &events) {
                        Ok(()) => row.timeline = file,
                        Err(e) => bar.suspend(|| eprintln!("  (timeline not saved: {e:#})")),
                    }
                }
                if gpu_required()
                    && info.strategy == Strategy::Gpu
                    && row.status == "skipped"
                    && kernels::gpu::adapter().is_err()
                {
                    row.status = "failed".into();
                    row.reason = format!("GPU required (HARNESS_REQUIRE_GPU=1): {}", row.reason);
                }
                if row.status == "failed" {
                    failed += 1;
                }
                if let Some(m) = row.median_s {
                    if info.strategy == Strategy::Naive {
                        naive.insert(t, m);
                    }
                    // Naive is single-threaded: any thread count's time will do.
                    let base = naive.get(&t).or_else(|| naive.values().next());
                    row.speedup_vs_naive = base.map(|n| n / m);
                    rates(&mut row, &machine, &manifest.ceilings);
                    row.noisy = row.spread.is_some_and(|s| s > args.noisy);
                }
                if row.status == "ok"
                    && !image_saved
                    && let Some(r) = refs.reference()
                {
                    image_saved = true;
                    match save_images(&dir.path, job, &r.output, &r.label) {
                        Ok(entries) => manifest.images.extend(entries),
                        Err(e) => bar.suspend(|| eprintln!("  (image not saved: {e:#})")),
                    }
                }
                bar.suspend(|| print_row(&row));
                dir.append(&row)?;
                manifest.rows += 1;
                *manifest
                    .status_counts
                    .entry(row.status.clone())
                    .or_default() += 1;
                if row.noisy {
                    manifest.noisy += 1;
                }
                bar.inc(1);
            }
        }
        dir.update(&manifest)?;
    }
    bar.finish_and_clear();
    manifest.interrupted = STOP.load(Ordering::SeqCst);
    manifest.finished = Some(utc_stamp());
    dir.update(&manifest)?;
    if manifest.noisy > 0 {
        println!(
            "\n{} result(s) flagged noisy (spread > {:.0}%): the machine was busy; rerun on a quieter \
             machine or with a longer --budget before trusting small differences.",
            manifest.noisy,
            100.0 * args.noisy
        );
    }
    println!("\nresults: {}", dir.path.join("results.csv").display());
    println!(
        "report:  harness report {}   (Python peers first: scripts/peers.py {})",
        dir.path.display(),
        dir.path.display()
    );
    Ok(if manifest.interrupted {
        println!("interrupted: {} finished row(s) kept", manifest.rows);
        ExitCode::from(130)
    } else if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn progress_bar(total: u64) -> ProgressBar {
    // Drawn on stderr only when it is a terminal (indicatif hides it otherwise), so logs
    // and pipes get the plain table.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

fn new_row(
    run_id: &str,
    job: &Job,
    instance: &dyn Instance,
    name: &str,
    threads: usize,
    machine: &Machine,
) -> Result<Row> {
    let info = instance.info(name)?;
    let work = instance.work();
    let size_param = job
        .kernel
        .params()
        .iter()
        .find(|p| p.is_size)
        .map(|p| p.name)
        .unwrap_or_default();
    Ok(Row {
        run_id: run_id.into(),
        kernel: job.kernel.name().into(),
        case: job.case.clone(),
        variant: name.into(),
        strategy: info.strategy.to_string(),
        precision: info.precision.to_string(),
        params: job.params.to_string(),
        size_param: size_param.into(),
        size: job.params.get(size_param).unwrap_or(0.0),
        threads,
        flops: work.flops,
        bytes: work.bytes,
        items: work.items,
        timestamp: utc_stamp(),
        ..Row::default()
    }
    .with_machine(machine))
}

/// Throughput and distance to the roofline. GPU rows get a roofline only on a software
/// adapter (it runs on these CPU cores); a real GPU's ceilings are not measured here.
fn rates(row: &mut Row, machine: &Machine, ceilings: &[Ceiling]) {
    let Some(m) = row.median_s.filter(|m| *m > 0.0) else {
        return;
    };
    row.gflops = Some(row.flops / m / 1e9);
    row.gbps = Some(row.bytes / m / 1e9);
    row.items_per_s = Some(row.items / m);
    let cpu_bound = row.strategy != "gpu" || machine.gpu_type.contains("software");
    if let Some(c) = ceilings::for_threads(ceilings, row.threads).filter(|_| cpu_bound) {
        row.peak_gflops = Some(if row.precision == "f32" {
            c.gemm_f32_gflops
        } else {
            c.gemm_f64_gflops
        });
        row.peak_gbps = Some(c.copy_gbps);
        if row.bytes > 0.0 && row.flops > 0.0 {
            let limit = c.limit_gflops(row.flops / row.bytes, &row.precision);
            row.roofline_pct = Some(100.0 * row.flops / m / 1e9 / limit);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Interrupted,
}

/// Probe, prepare (timed), run once, validate, then — only if valid — time.
fn bench_one(
    instance: &dyn Instance,
    refs: &mut References<'_>,
    name: &str,
    cfg: Config,
    row: &mut Row,
    events: &mut Vec<crate::events::Interval>,
    mut progress: impl FnMut(f64, &str),
) -> Outcome {
    let availability = match instance.probe(name) {
        Ok(a) => a,
        Err(e) => {
            row.status = "failed".into();
            row.reason = e.to_string();
            return Outcome::Done;
        }
    };
    if !availability.is_ready() {
        row.status = availability.label().into();
        row.reason = availability.reason().into();
        return Outcome::Done;
    }
    let fail = |row: &mut Row, why: String| {
        row.status = "failed".into();
        row.reason = why;
        Outcome::Done
    };
    // Memory: peak RSS and heap peak over prepare + one run (what the variant needs).
    let rss_reset = memory::reset_rss_peak();
    let base_rss = memory::rss().map(|r| r.0);
    memory::reset_heap_peak();
    let h0 = memory::heap();
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
    let h1 = memory::heap();
    let (first, first_time) = run_guarded(prepared.as_mut());
    let h2 = memory::heap();
    if memory::counting() {
        row.alloc_setup_bytes = Some(h1.allocated - h0.allocated);
        row.alloc_run_bytes = Some(h2.allocated - h1.allocated);
        row.heap_peak_bytes = Some(memory::heap_peak().saturating_sub(h0.live));
    }
    if let (true, Some(base), Some((_, peak))) = (rss_reset, base_rss, memory::rss()) {
        row.base_rss_mib = Some(base as f64 / 1048576.0);
        row.peak_rss_mib = Some(peak as f64 / 1048576.0);
    }
    if let Err(e) = first {
        return fail(row, e);
    }
    let v = validate::validate(instance, refs, name, prepared.as_ref());
    row.reference = if refs.is_oracle(name) {
        format!("{} (oracle)", v.reference)
    } else {
        v.reference.clone()
    };
    row.output_summary = v.summary.clone().unwrap_or_default();
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
    let m = match measure::measure(
        prepared.as_mut(),
        first_time.as_secs_f64(),
        cfg,
        &STOP,
        &mut progress,
    ) {
        Ok(m) => m,
        Err(e) => return fail(row, format!("failed while timing: {e}")),
    };
    if m.interrupted {
        return Outcome::Interrupted;
    }
    let s = Summary::of(&m.samples).expect("at least one sample");
    row.status = "ok".into();
    row.median_s = Some(s.median);
    row.ci_low_s = Some(s.ci_low);
    row.ci_high_s = Some(s.ci_high);
    row.mean_s = Some(s.mean);
    row.min_s = Some(s.min);
    row.max_s = Some(s.max);
    row.spread = Some(s.spread);
    row.samples = s.samples;
    row.iters_per_sample = m.iters_per_sample;
    row.outliers_mild = s.outliers.mild();
    row.outliers_severe = s.outliers.severe();
    row.warmup_runs = m.warmup_runs;
    row.warmup_s = Some(m.warmup_s);
    row.warmup_stable = m.warmup_stable;
    if s.samples == 1 {
        row.reason = "one run exceeded the budget: a single sample, no spread".into();
    } else if !m.warmup_checked {
        row.reason =
            "one run is over a quarter of the budget: warm-up not checked (raise --budget)".into();
    } else if !m.warmup_stable {
        row.reason = format!(
            "warm-up did not settle within {:.0}% of the budget (last two batch medians {} apart)",
            100.0 * measure::WARMUP_SHARE,
            fmt_pct(m.warmup_change.map(|c| 100.0 * c))
        );
    }
    row.stages = prepared
        .stages()
        .iter()
        .map(|st| format!("{}={:.6}", st.name, st.time.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(";");
    *events = crate::events::to_intervals(&prepared.events());
    let summary = crate::events::summarise(events);
    row.latency_s = summary.latency_s;
    row.device_busy = summary.device_busy;
    Outcome::Done
}

/// Whether an output array reads as a picture: 2-D, at most `IMAGE_MAX` values, at least
/// 8 pixels a side and not a long strip (a table of fitted parameters is 2-D but no image).
pub fn is_picture(shape: &[usize]) -> bool {
    match *shape {
        [r, c] => {
            let (lo, hi) = (r.min(c), r.max(c));
            lo >= 8 && hi <= 8 * lo && r * c <= IMAGE_MAX
        }
        _ => false,
    }
}

/// Parameters as a file-name part: `n=64_seed=1`.
fn slug(params: &str) -> String {
    params
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '=' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Saves the 2-D arrays of a problem's reference (small enough) as `.npy` for the report.
fn save_images(
    run: &std::path::Path,
    job: &Job,
    output: &Output,
    source: &str,
) -> Result<Vec<ImageEntry>> {
    let dir = run.join("images");
    std::fs::create_dir_all(&dir)?;
    let slug = slug(&job.params.to_string());
    let mut entries = Vec::new();
    for (i, (name, array)) in output.arrays.iter().enumerate() {
        if !is_picture(array.shape()) {
            continue;
        }
        let suffix = if i == 0 {
            String::new()
        } else {
            format!(".{name}")
        };
        let file = format!("{}-{}-{slug}{suffix}.npy", job.kernel.name(), job.case);
        kernels::io::write_f64(&dir.join(&file), array)?;
        entries.push(ImageEntry {
            kernel: job.kernel.name().into(),
            case: job.case.clone(),
            params: job.params.to_string(),
            array: name.clone(),
            file: format!("images/{file}"),
            shape: array.shape().to_vec(),
            source: source.into(),
        });
    }
    Ok(entries)
}

fn print_header(job: &Job) {
    println!("\n{}/{} [{}]", job.kernel.name(), job.case, job.params);
    println!(
        "  {:<16} {:<11} {:<4} {:>3} {:<7} {:>8} {:>10} {:>10} {:>7} {:>6} {:>9} {:>8} {:>6}",
        "variant",
        "strategy",
        "prec",
        "thr",
        "status",
        "error",
        "setup",
        "median",
        "±CI",
        "spread",
        "speedup",
        "GFLOP/s",
        "%roof"
    );
}

fn print_row(r: &Row) {
    let ci = match (r.median_s, r.ci_low_s, r.ci_high_s) {
        (Some(m), Some(lo), Some(hi)) if m > 0.0 && r.samples > 1 => {
            format!("±{:.1}%", 50.0 * (hi - lo) / m)
        }
        _ => "-".into(),
    };
    let mut note = match (r.output_summary.is_empty(), r.reason.is_empty()) {
        (true, _) => r.reason.clone(),
        (false, true) => r.output_summary.clone(),
        (false, false) => format!("{}; {}", r.output_summary, r.reason),
    };
    if r.noisy {
        note = if note.is_empty() {
            "NOISY (spread above the threshold)".into()
        } else {
            format!("NOISY (spread above the threshold); {note}")
        };
    }
    println!(
        "  {:<16} {:<11} {:<4} {:>3} {:<7} {:>8} {:>10} {:>10} {:>7} {:>6} {:>9} {:>8} {:>6}{}",
        r.variant,
        r.strategy,
        r.precision,
        r.threads,
        r.status,
        fmt_sci(r.error),
        fmt_time(r.setup_s),
        fmt_time(r.median_s),
        ci,
        fmt_pct(r.spread.filter(|_| r.samples > 1).map(|s| 100.0 * s)),
        fmt_ratio(r.speedup_vs_naive),
        r.gflops.map(|g| format!("{g:.2}")).unwrap_or("-".into()),
        fmt_pct(r.roofline_pct),
        if note.is_empty() {
            String::new()
        } else {
            format!("  {note}")
        }
    );
}

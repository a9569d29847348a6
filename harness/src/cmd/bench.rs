//! `harness bench`: validate every selected variant, then time the valid ones, writing one
//! row per (kernel, case, variant, parameters, threads) to a new run folder as it finishes.
//!
//! Plan ([`super::plan`]) → per variant, the lifecycle (`admit`: probe → prepare (timed:
//! setup) → one run (timed: the first warm-up) → validation against the reference) → only
//! if valid, warm-up until stable and samples until the budget ([`crate::measure::timing`])
//! → statistics ([`crate::measure::stats`]) → sinks: the terminal table, `results.csv`,
//! `run.json`, timelines and images in the run folder. Around the lifecycle: allocation
//! counts and peak resident memory ([`crate::measure::memory`]); once per run, the
//! machine's ceilings for the roofline ([`crate::measure::ceilings`], with the best kept per
//! machine: `bench/noise.rs`); between rows, the drift probe ([`crate::measure::drift`]). With
//! `--shard i/n`, the plan is first cut to its slice ([`shard`]).

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use kernels::gate::{Admission, Admitted, Phase, References, Validation, Watch};
use kernels::{Instance, Strategy, VariantRef};
use tracing::{debug, info, warn};

use super::plan::{self, Job, Plan};
use super::{instance_of, selected};
use crate::cli::{BenchArgs, Limits, Select, Suite};
use crate::measure::drift::DriftGuard;
use crate::measure::machine::Machine;
use crate::measure::memory;
use crate::measure::stats::Summary;
use crate::measure::timing::{self, Config, Measurement};
use crate::render::fmt::fmt_pct;
use crate::results::events::{self, Interval};
use crate::results::{Row, RunDir, RunManifest, Status, utc_stamp};
use estimate::Estimates;
use row::{new_row, print_header, print_row, rates, save_images, slug};

mod estimate;
mod interleave;
mod limits;
mod noise;
mod rounds_out;
mod row;
pub mod shard;

pub use interleave::VERDICT_THRESHOLD;
pub use limits::fmt_duration;
pub use rounds_out::PROTOCOL as ROUNDS_PROTOCOL;

pub use row::{is_picture, ratio_text};

/// The quick suite's arguments (`harness` without a subcommand).
pub fn default_args() -> BenchArgs {
    BenchArgs {
        select: Select::default(),
        threads: Vec::new(),
        thread_scaling: false,
        budget: 1.0,
        min_samples: 5,
        noisy: crate::measure::stats::NOISY_SPREAD,
        out: "reports".into(),
        limits: Limits::default(),
        yes: false,
        interleave: false,
        baseline: None,
        shard: None,
        rounds_out: None,
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
                info!(
                    "stopping after the current sample: finished rows are kept \
                     (Ctrl-C again to stop at once)"
                );
            } else {
                if let Some(path) = RUN_JSON.get() {
                    mark_interrupted(path);
                }
                info!("stopped: finished rows are in results.csv");
                std::process::exit(130);
            }
        });
        if let Err(e) = installed {
            warn!("no Ctrl-C handler ({e}); an interrupted run keeps its rows anyway");
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
    /// `--threads` (default: all cores) and, with `--thread-scaling`, the ladder.
    fn new(args: &BenchArgs, machine: &Machine) -> Result<Threads> {
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
        // The same count twice would time the same rows twice, as duplicates in the CSV.
        if let Some(t) = (1..threads.base.len())
            .map(|i| threads.base[i])
            .find(|t| threads.base.iter().filter(|&b| b == t).count() > 1)
        {
            bail!("--threads: {t} is given twice; give each thread count once");
        }
        Ok(threads)
    }

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
    if args.rounds_out.is_some() {
        return rounds_out::serve(&plan::plan(&args.select, params)?, args);
    }
    bench_finished(args, params).map(|f| f.code)
}

/// A finished bench: its exit code and its run folder.
pub struct Finished {
    pub code: ExitCode,
    pub dir: std::path::PathBuf,
}

/// `bench`, telling where its run folder is (`compare` reads its rows back).
pub fn bench_finished(
    args: &BenchArgs,
    params: &BTreeMap<String, Vec<String>>,
) -> Result<Finished> {
    let mut plan = plan::plan_suite(&args.select, params, args.limits.suite)?;
    super::choose::resolve_best(&mut plan, &args.out)?;
    if params.is_empty() || args.limits.time_limit.is_some() || args.limits.suite == Suite::Full {
        return bench_plan_finished(&plan, args);
    }
    // Sizes the user named: skip only what the naive variants would skip at them (their
    // limit), not what the quick suite's 5 s keeps out of the main job.
    let named = BenchArgs {
        limits: Limits {
            time_limit: Some(kernels::naive_time_limit_s()?),
            ..args.limits.clone()
        },
        ..args.clone()
    };
    bench_plan_finished(&plan, &named)
}

/// `bench` on a plan already made (tests give one with a kernel of their own).
pub fn bench_plan(plan: &Plan, args: &BenchArgs) -> Result<ExitCode> {
    bench_plan_finished(plan, args).map(|f| f.code)
}

/// [`bench_plan`], telling where its run folder is.
pub fn bench_plan_finished(plan: &Plan, args: &BenchArgs) -> Result<Finished> {
    let started = std::time::Instant::now();
    // Every limit before anything starts: a refusal leaves no run folder behind.
    limits::check_options(args)?;
    let spec = args.shard.as_deref().map(shard::parse).transpose()?;
    let sliced = spec.map(|s| shard::slice(plan, s)).transpose()?;
    let shard = spec.map(|s| shard::record(s, plan, args));
    let plan = sliced.as_ref().unwrap_or(plan);
    interleave::check(plan, args)?;
    let machine = Machine::detect();
    let threads = Threads::new(args, &machine)?;
    limits::check_duration(args, plan, row_count(plan, &threads), threads.base.len())?;
    limits::check_memory(plan)?;
    plan::log_plan(plan, |s| threads.of(s));
    install_stop_handler();
    let wants_gpu = plan.jobs.iter().any(|j| {
        (j.kernel.variants().iter()).any(|v| v.strategy == Strategy::Gpu && plan.wants(v.name))
    });
    let (dir, mut manifest) = start_run(args, &machine, &threads, shard, wants_gpu)?;
    // The reference probe, once the ceilings' work is done and before the first row.
    let drift = DriftGuard::new();
    manifest.drift = drift.summary();
    let limit = match (args.limits.time_limit, args.limits.suite) {
        (Some(s), _) => Some(s),
        (None, Suite::Quick) => Some(estimate::QUICK_LIMIT_S),
        (None, Suite::Full) => None,
        // Sizes chosen for a GPU: the naive oracles' limit, as on sizes the user names.
        (None, Suite::Gpu | Suite::GpuTiny) => Some(kernels::naive_time_limit_s()?),
    };
    let mut bench = Bench {
        args,
        plan,
        machine: &machine,
        threads: &threads,
        bar: progress_bar(row_count(plan, &threads)),
        cfg: Config {
            budget: args.budget,
            min_samples: args.min_samples,
        },
        dir,
        manifest,
        failed: 0,
        estimates: Estimates::new(limit, machine.gpu_type.contains("software")),
        started,
        drift,
    };
    for job in &plan.jobs {
        // Also a Ctrl-C during the ceilings' measurement: stop before building a problem.
        if STOP.load(Ordering::SeqCst) || bench.job(job)? == Outcome::Interrupted {
            break;
        }
    }
    bench.finish()
}

/// The run folder with its `run.json`, once the machine's ceilings are measured.
fn start_run(
    args: &BenchArgs,
    machine: &Machine,
    threads: &Threads,
    shard: Option<crate::results::Shard>,
    wants_gpu: bool,
) -> Result<(RunDir, RunManifest)> {
    let mut label = args.select.kernel.clone().unwrap_or_else(|| "suite".into());
    if let Some(s) = &shard {
        label += &format!("-shard{}of{}", s.index, s.count);
    }
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
        shard,
        interleaved: args.interleave,
        baseline: args.baseline.clone(),
        gpu_injected: if wants_gpu {
            gpu_injected()
        } else {
            String::new()
        },
        ..RunManifest::default()
    };
    let dir = RunDir::create(&args.out, &label, &manifest)?;
    crate::external::set_run_folder(&dir.path);
    let _ = RUN_JSON.set(dir.path.join("run.json"));
    crate::logging::attach_run_folder(&dir.path);
    debug!("run folder: {} · {machine:?}", dir.path.display());
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
    info!(
        "measuring the machine's ceilings (GEMM peak, copy bandwidth) on {:?} threads...",
        threads.all()
    );
    noise::ceilings(&mut manifest, &args.out, machine, &threads.all(), &STOP);
    for c in &manifest.ceilings {
        debug!("ceilings: {c:?}");
    }
    if !manifest.gpu_injected.is_empty() {
        println!(
            "GPU faults injected ({}): the GPU rows test the harness, they measure nothing",
            manifest.gpu_injected
        );
    }
    noise::gpu_ceiling(&mut manifest, wants_gpu);
    manifest.rss_peak_reset = memory::reset_rss_peak();
    dir.update(&manifest)?;
    Ok((dir, manifest))
}

/// Rows the run will write (for the progress bar).
fn row_count(plan: &Plan, threads: &Threads) -> u64 {
    plan.jobs
        .iter()
        .map(|j| {
            j.kernel
                .variants()
                .iter()
                .filter(|v| plan.wants(v.name))
                .map(|v| threads.of(v.strategy).len() as u64)
                .sum::<u64>()
        })
        .sum()
}

/// A bench run in progress: what every row needs, and the sinks it writes to.
struct Bench<'a> {
    args: &'a BenchArgs,
    plan: &'a Plan,
    machine: &'a Machine,
    threads: &'a Threads,
    bar: ProgressBar,
    cfg: Config,
    dir: RunDir,
    manifest: RunManifest,
    failed: usize,
    estimates: Estimates,
    started: std::time::Instant,
    /// The probe between rows: how the machine's speed moved during the run.
    drift: DriftGuard,
}

/// What the rows of one problem share.
struct Problem<'a> {
    job: &'a Job,
    instance: &'a dyn Instance,
    refs: References<'a>,
    /// The naive variant's median per thread count (for the speedups).
    naive: HashMap<usize, f64>,
    image_saved: bool,
    /// Added to the reason of the rows being recorded (`--interleave` fell back to
    /// sequential timing, and why).
    note: Option<String>,
}

impl Bench<'_> {
    /// Every selected variant of one problem at each of its thread counts.
    fn job(&mut self, job: &Job) -> Result<Outcome> {
        let instance = match instance_of(job) {
            Ok(i) => i,
            Err(e) => {
                self.bar.suspend(|| println!("FAILED {e:#}"));
                self.failed += 1;
                return Ok(Outcome::Done);
            }
        };
        self.bar.suspend(|| print_header(job));
        let mut problem = Problem {
            job,
            instance: instance.as_ref(),
            refs: References::new(instance.as_ref(), None)?,
            naive: HashMap::new(),
            image_saved: false,
            note: None,
        };
        for t in self.threads.all() {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .thread_name(|i| format!("harness-worker-{i}"))
                .build()?;
            let group: Vec<VariantRef> = selected(instance.as_ref(), self.plan)
                .into_iter()
                .filter(|v| self.threads.of(v.info.strategy).contains(&t))
                .collect();
            let outcome = if self.args.interleave {
                self.interleaved(&mut problem, &pool, &group, t)?
            } else {
                self.sequential(&mut problem, &pool, &group, t)?
            };
            if outcome == Outcome::Interrupted {
                return Ok(outcome);
            }
        }
        self.manifest.drift = self.drift.summary();
        self.dir.update(&self.manifest)?;
        Ok(Outcome::Done)
    }

    /// The variants of one problem at `t` threads, one after another.
    fn sequential(
        &mut self,
        p: &mut Problem,
        pool: &rayon::ThreadPool,
        group: &[VariantRef],
        t: usize,
    ) -> Result<Outcome> {
        for &variant in group {
            if STOP.load(Ordering::SeqCst) {
                return Ok(Outcome::Interrupted);
            }
            // At most 1 % of the run: skipped while rows are shorter than that allows.
            self.drift.probe_if_due();
            if self.variant(p, pool, variant, t)? == Outcome::Interrupted {
                return Ok(Outcome::Interrupted);
            }
        }
        Ok(Outcome::Done)
    }

    /// One row: the variant validated and timed in `pool`, then written to every sink.
    fn variant(
        &mut self,
        p: &mut Problem,
        pool: &rayon::ThreadPool,
        variant: VariantRef,
        t: usize,
    ) -> Result<Outcome> {
        let (job, name) = (p.job, variant.name());
        let what = format!(
            "{}/{}/{name} [{}] · {t} thread(s)",
            job.kernel.name(),
            job.case,
            job.params
        );
        self.bar.set_message(what.clone());
        let mut row = new_row(&self.dir.id, job, p.instance, variant, t, self.machine);
        let bar = &self.bar;
        let progress = |f: f64, phase: &str| {
            bar.set_message(format!("{what} · {phase} {:.0}%", 100.0 * f.min(1.0)));
        };
        let (mut events, mut samples) = (Vec::new(), Vec::new());
        if instance_ready(p.instance, variant)
            && let Some(why) = self.estimates.skip(job, p.instance, variant, t, pool)
        {
            row.status = Status::Skipped;
            row.reason = why;
            self.record(p, row)?;
            return Ok(Outcome::Done);
        }
        let (instance, refs, cfg) = (p.instance, &mut p.refs, self.cfg);
        let outcome = pool.install(|| {
            bench_one(
                instance,
                refs,
                variant,
                cfg,
                &mut row,
                (&mut events, &mut samples),
                progress,
            )
        });
        if outcome == Outcome::Interrupted {
            return Ok(outcome);
        }
        self.finish_row(p, variant, (&events, &samples), row)?;
        Ok(Outcome::Done)
    }

    /// A row whose variant went through the gate (and was timed if valid): its timeline
    /// and samples saved, speedup, rates and noise flag, then written to every sink.
    fn finish_row(
        &mut self,
        p: &mut Problem,
        variant: VariantRef,
        (events, samples): (&[Interval], &[f64]),
        mut row: Row,
    ) -> Result<()> {
        let (job, name, t) = (p.job, variant.name(), row.threads);
        self.save_timeline(job, name, t, events, &mut row);
        self.save_samples(job, name, t, samples, &mut row);
        if row.status == Status::Failed {
            self.failed += 1;
        }
        if let Some(m) = row.median_s {
            if variant.info.strategy == Strategy::Naive {
                p.naive.insert(t, m);
            }
            self.estimates.record(job, p.instance, variant, t, m);
            // Naive is single-threaded: any thread count's time will do.
            let base = p.naive.get(&t).or_else(|| p.naive.values().next());
            row.speedup_vs_naive = base.map(|n| n / m);
            rates(
                &mut row,
                self.machine,
                &self.manifest.ceilings,
                self.manifest.gpu_ceiling.as_ref(),
            );
            row.noisy = row.spread.is_some_and(|s| s > self.args.noisy);
        }
        self.save_image_once(p, &row);
        self.record(p, row)
    }

    /// The intervals a pipeline variant recorded, as `timelines/*.csv` named in its row.
    fn save_timeline(&self, job: &Job, name: &str, t: usize, events: &[Interval], row: &mut Row) {
        if events.is_empty() {
            return;
        }
        let file = format!(
            "timelines/{}-{}-{name}-{}-t{t}.csv",
            job.kernel.name(),
            job.case,
            slug(&job.params.to_string())
        );
        match events::write_csv(&self.dir.path.join(&file), events) {
            Ok(()) => row.timeline = file,
            Err(e) => warn!("timeline not saved: {e:#}"),
        }
    }

    /// The row's raw samples, as `samples/*.csv` named in its row.
    fn save_samples(&self, job: &Job, name: &str, t: usize, samples: &[f64], row: &mut Row) {
        if samples.is_empty() {
            return;
        }
        let file = format!(
            "samples/{}-{}-{name}-{}-t{t}.csv",
            job.kernel.name(),
            job.case,
            slug(&job.params.to_string())
        );
        match crate::results::samples::write(&self.dir.path.join(&file), samples) {
            Ok(()) => row.samples_file = file,
            Err(e) => self
                .bar
                .suspend(|| eprintln!("  (samples not saved: {e:#})")),
        }
    }

    /// The problem's reference images, once, after its first valid row.
    fn save_image_once(&mut self, p: &mut Problem, row: &Row) {
        if row.status == Status::Ok
            && !p.image_saved
            && let Some(r) = p.refs.reference()
        {
            p.image_saved = true;
            match save_images(&self.dir.path, p.job, &r.output, &r.label) {
                Ok(entries) => self.manifest.images.extend(entries),
                Err(e) => warn!("image not saved: {e:#}"),
            }
        }
    }

    /// The row in the terminal table and `results.csv`, counted in `run.json`'s summary;
    /// the problem's note (why it was not interleaved) added to its reason.
    fn record(&mut self, p: &Problem, mut row: Row) -> Result<()> {
        if let Some(note) = &p.note {
            row.reason = if row.reason.is_empty() {
                note.clone()
            } else {
                format!("{}; {note}", row.reason)
            };
        }
        let row = &row;
        debug!(
            "row: {}/{}/{} [{}] · {} thread(s): {} {} {}",
            row.kernel,
            row.case,
            row.variant,
            row.params,
            row.threads,
            row.status,
            crate::render::fmt::fmt_time(row.median_s),
            row.reason
        );
        self.bar.suspend(|| print_row(row));
        self.dir.append(row)?;
        self.manifest.rows += 1;
        *self
            .manifest
            .status_counts
            .entry(row.status.to_string())
            .or_default() += 1;
        if row.noisy {
            self.manifest.noisy += 1;
        }
        self.bar.inc(1);
        Ok(())
    }

    /// Closes `run.json` and says where the results are; the exit code.
    fn finish(mut self) -> Result<Finished> {
        self.bar.finish_and_clear();
        let manifest = &mut self.manifest;
        manifest.interrupted = STOP.load(Ordering::SeqCst);
        if !manifest.interrupted {
            // The speed at the end, however short the rows were.
            self.drift.probe();
        }
        manifest.drift = self.drift.summary();
        manifest.finished = Some(utc_stamp());
        self.dir.update(manifest)?;
        if manifest.noisy > 0 {
            println!(
                "\n{} result(s) flagged noisy (spread > {:.0}%): the machine was busy; rerun on a quieter \
                 machine or with a longer --budget before trusting small differences.",
                manifest.noisy,
                100.0 * self.args.noisy
            );
        }
        noise::print_drift(manifest.drift.as_ref());
        limits::print_time(self.started.elapsed().as_secs_f64(), &self.estimates);
        let path = &self.dir.path;
        println!("\nresults: {}", path.join("results.csv").display());
        println!("report:  harness report {}", path.display());
        let code = if manifest.interrupted {
            println!("interrupted: {} finished row(s) kept", manifest.rows);
            ExitCode::from(130)
        } else if self.failed > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
        Ok(Finished {
            code,
            dir: self.dir.path.clone(),
        })
    }
}

/// What the environment injected into the GPU (kernels::gpu::faults), for `run.json`: the
/// fault and the lowered binding and workgroup-memory limits, comma-separated; empty when
/// nothing (or no adapter).
fn gpu_injected() -> String {
    let Ok(adapter) = kernels::gpu::adapter() else {
        return String::new();
    };
    let mut parts = Vec::new();
    if !adapter.injected_fault.is_empty() {
        parts.push(adapter.injected_fault);
    }
    if let Some(bytes) = adapter.lowered_max_binding {
        parts.push(format!("HARNESS_GPU_MAX_BINDING={bytes}"));
    }
    if let Some(bytes) = adapter.lowered_max_workgroup_storage {
        parts.push(format!("HARNESS_GPU_MAX_WORKGROUP_STORAGE={bytes}"));
    }
    parts.join(", ")
}

/// Whether the variant's own probe lets it run (a variant it skips keeps its own reason
/// rather than a time estimate).
fn instance_ready(instance: &dyn Instance, variant: VariantRef) -> bool {
    instance.probe(variant).is_ready()
}

fn progress_bar(total: u64) -> ProgressBar {
    // Drawn on stderr only when it is a terminal (indicatif hides it otherwise), so logs
    // and pipes get the plain table; hidden with -q; log lines suspend it.
    let bar = ProgressBar::with_draw_target(Some(total), crate::logging::progress_target());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    crate::logging::show_progress(&bar);
    bar
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Interrupted,
}

/// The lifecycle ([`admit`]), then — only if valid — time, filling the row.
fn bench_one(
    instance: &dyn Instance,
    refs: &mut References<'_>,
    variant: VariantRef,
    cfg: Config,
    row: &mut Row,
    (events, samples): (&mut Vec<Interval>, &mut Vec<f64>),
    mut progress: impl FnMut(f64, &str),
) -> Outcome {
    let Some(mut admitted) = admit(instance, refs, variant, row) else {
        return Outcome::Done;
    };
    let prepared = &mut admitted.prepared;
    let m = match timing::measure(
        prepared.as_mut(),
        admitted.first_run.as_secs_f64(),
        cfg,
        &STOP,
        &mut progress,
    ) {
        Ok(m) => m,
        Err(e) => {
            row.status = Status::Failed;
            row.reason = format!("failed while timing: {e}");
            return Outcome::Done;
        }
    };
    if m.interrupted {
        return Outcome::Interrupted;
    }
    record_timing(row, &m);
    *samples = m.samples;
    *events = run_details(row, prepared.as_ref());
    Outcome::Done
}

/// What the variant's last run recorded: its stages, and for a timeline the latency and
/// the device's busy share, in the row; the timeline's intervals.
fn run_details(row: &mut Row, prepared: &dyn kernels::Prepared) -> Vec<Interval> {
    row.stages = prepared
        .stages()
        .iter()
        .map(|st| format!("{}={:.6}", st.name, st.time.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(";");
    note_round_trip(row);
    let intervals = events::to_intervals(&prepared.events());
    let summary = events::summarise(&intervals);
    row.latency_s = summary.latency_s;
    row.device_busy = summary.device_busy;
    intervals
}

/// The overhead a worker's round trip adds over its own clock (external variants, whose
/// stages are `worker` and `round_trip`), as a note in the row.
fn note_round_trip(row: &mut Row) {
    let stage = |name: &str| {
        row.stages
            .split(';')
            .find_map(|s| s.strip_prefix(name)?.strip_prefix('=')?.parse::<f64>().ok())
    };
    let (Some(worker), Some(seen)) = (stage("worker"), stage("round_trip")) else {
        return;
    };
    let mut note = format!(
        "worker's own clock; the round trip added {} per run ({} seen by the harness)",
        crate::render::fmt::fmt_time(Some((seen - worker).max(0.0))),
        crate::render::fmt::fmt_time(Some(seen))
    );
    // A peer that keeps fewer cores busy than our variant's threads loses less when other
    // programs load the machine, so its ratio to ours moves with the load: say how many it used.
    if let (Some(cpu), Some(median)) = (stage("worker_cpu"), row.median_s.filter(|m| *m > 0.0)) {
        note.push_str(&format!(
            "; it kept {:.1} cores busy (its CPU time ÷ its clock) where ours had {} thread(s)",
            cpu / median,
            row.threads
        ));
    }
    row.reason = if row.reason.is_empty() {
        note
    } else {
        format!("{}; {note}", row.reason)
    };
}

/// One variant through the gate, with the bytes allocated and the resident peak over its
/// setup and first run recorded in the row. The admitted variant when it is valid;
/// otherwise None, with the row saying why.
fn admit(
    instance: &dyn Instance,
    refs: &mut References<'_>,
    variant: VariantRef,
    row: &mut Row,
) -> Option<Admitted> {
    let mut watch = MemoryWatch::default();
    let admission = super::admit(instance, variant, refs, &mut watch);
    watch.record(row);
    match admission {
        Admission::Valid(a) => {
            row.setup_s = Some(a.setup.as_secs_f64());
            record_validation(row, &a.validation);
            Some(a)
        }
        Admission::NotRun(a) => {
            row.status = Status::of(&a);
            row.reason = a.reason().into();
            None
        }
        Admission::Failed(f) => {
            row.status = Status::Failed;
            row.setup_s = f.setup.map(|s| s.as_secs_f64());
            if let Some(v) = &f.validation {
                record_validation(row, v);
            }
            row.reason = match f.phase {
                Phase::GpuRequired => format!("GPU required (HARNESS_REQUIRE_GPU=1): {}", f.reason),
                Phase::Validation => format!("validation failed, not timed: {}", f.reason),
                Phase::Setup | Phase::Run => f.reason,
            };
            None
        }
    }
}

/// Where the reference came from, the error against it and the kernel's figures.
fn record_validation(row: &mut Row, v: &Validation) {
    row.reference = if v.oracle {
        format!("{} (oracle)", v.reference)
    } else {
        v.reference.clone()
    };
    row.output_summary = v.summary.clone().unwrap_or_default();
    if let Some(c) = &v.check {
        row.error = Some(c.error());
        row.tolerance = Some(c.tolerance.max_norm);
    }
}

/// Memory over prepare and the first run (what the variant needs): peak RSS (reset before
/// it) and the heap's allocations and peak, from the gate's hooks.
#[derive(Default)]
struct MemoryWatch {
    rss_reset: bool,
    base_rss: Option<u64>,
    heap: Vec<memory::Heap>,
    heap_peak: u64,
    rss: Option<(u64, u64)>,
}

impl Watch for MemoryWatch {
    fn before_prepare(&mut self) {
        self.rss_reset = memory::reset_rss_peak();
        self.base_rss = memory::rss().map(|r| r.0);
        memory::reset_heap_peak();
        self.heap.push(memory::heap());
    }
    fn after_prepare(&mut self) {
        self.heap.push(memory::heap());
    }
    fn after_first_run(&mut self) {
        self.heap.push(memory::heap());
        self.heap_peak = memory::heap_peak();
        self.rss = memory::rss();
    }
}

impl MemoryWatch {
    fn record(&self, row: &mut Row) {
        // Only once setup finished and the first run was made, as the figures need both.
        let [h0, h1, h2] = match self.heap.as_slice() {
            [a, b, c] => [a, b, c],
            _ => return,
        };
        if memory::counting() {
            row.alloc_setup_bytes = Some(h1.allocated - h0.allocated);
            row.alloc_run_bytes = Some(h2.allocated - h1.allocated);
            row.heap_peak_bytes = Some(self.heap_peak.saturating_sub(h0.live));
        }
        if let (true, Some(base), Some((_, peak))) = (self.rss_reset, self.base_rss, self.rss) {
            row.base_rss_mib = Some(base as f64 / 1048576.0);
            row.peak_rss_mib = Some(peak as f64 / 1048576.0);
        }
    }
}

/// The statistics of the samples and the notes on how they were taken.
fn record_timing(row: &mut Row, m: &Measurement) {
    let s = Summary::of(&m.samples).expect("at least one sample");
    row.status = Status::Ok;
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
            100.0 * timing::WARMUP_SHARE,
            fmt_pct(m.warmup_change.map(|c| 100.0 * c))
        );
    }
}

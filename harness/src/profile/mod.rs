//! `harness profile`: where does a variant spend its time? One flamegraph per variant.
//!
//! Per variant, as in `bench`: probe → prepare (not sampled) → one run → validation against
//! the reference (a wrong variant is reported and never profiled) → then only repeated
//! `run()` calls, for `--seconds`, under pprof's sampler. Setup, validation and the harness
//! itself stay out of the graph, as criterion keeps its analysis out of `--profile-time`.
//! Without kernel parameters, one problem per case: the suite's smallest.
//!
//! Written into a new folder `reports/<UTC time>-profile-<kernel>/` (or, with `--into RUN`,
//! into an existing bench run's `flamegraphs/`, where `harness report RUN` links them):
//!
//! | file | what |
//! |---|---|
//! | `flamegraph-<kernel>-<case>-<variant>.svg` | the flamegraph (inferno; open in a browser: click to zoom, Ctrl-F to search) |
//! | `flamegraph-<...>.folded` | the folded stacks (`root;...;leaf samples`), for inferno, flamegraph.pl, speedscope |
//! | `flamegraph-<...>.top.txt` | the top functions by self and by total time (also printed) |
//! | `gpu-timeline-<...>.svg`, `timeline.csv` | variants that time stages (GPU: upload, dispatches, download from timestamp queries; `stage-timeline-` for CPU variants that time their steps) |
//! | `diff-<...>.svg`, `.before.svg`, `.folded` | `--diff A B`: where time moved between two variants or two profiles |
//! | `profile.json` | command, machine, and per variant its samples, runs and files |
//!
//! Sampling: pprof at 1000 Hz asked, but Linux delivers SIGPROF at most once per kernel tick
//! (250 Hz per CPU-second here), so by default a variant is sampled until the process has
//! used 8 CPU-seconds (≈2000 samples; a parallel variant gets there sooner), within a
//! wall-clock cap of 8 s shortened when many variants share the run (a whole kernel stays
//! near a minute; on a busy machine the cap comes first and the samples are fewer). The
//! sample count and the rate obtained are printed: a graph with a few hundred samples shows
//! only the broad picture. Samples that land in libc (memcpy, malloc) are dropped by the
//! blocklist that keeps unwinding safe, and code without symbols or unwind info (assembly
//! micro-kernels) shows as one `[unknown: ...]` frame.
//!
//! GPU variants: the host thread mostly waits for the device, so the CPU-side graph is thin;
//! on Mesa's software adapter the shaders run in the driver's threads, which block SIGPROF,
//! and get no samples at all. Their time is in the stage timeline.
//!
//! Differential graphs compare identical stacks (inferno's differential mode: the shape of
//! B, coloured by the change from A; `.before.svg` the shape of A), in CPU nanoseconds per
//! run. They show most for the same variant before and after a change (`--diff old.folded
//! new.folded`); two variants whose call paths differ mostly show code that is new or gone,
//! and the printed per-function self-time table is the better comparison.
//!
//! Stacks are cut at the sampled loop (`harness::profile::profiled_runs`, or the thread's
//! start on other threads) and, unless `--full-stacks`, runs of rayon's frames become one
//! `[rayon]` frame ([`folded::Rayon`]).
//!
//! Threads: the pool's rayon workers are named `harness-w-N` (Linux keeps 15 bytes of a
//! thread's name: bench's `harness-worker-N` would lose its number). By default they merge
//! into one root `harness-w-*` ([`folded::Threads::Merged`]): a function's width is
//! then its CPU time summed over workers — the measure a single-threaded variant's graph
//! shows, so graphs (and differential graphs) of serial and parallel variants compare.
//! `--per-thread` keeps one root per thread to show the balance between workers. Other
//! threads (a software GPU driver's, say) keep their names as roots.

pub mod folded;
pub mod timeline;

// The one place where the `profiling` feature (pprof) is switched.
#[cfg(not(feature = "profiling"))]
#[path = "no_sampler.rs"]
mod sampler;
#[cfg(feature = "profiling")]
mod sampler;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use kernels::registry::VariantId;
use kernels::{Availability, Instance, Prepared, Strategy};
use serde::{Deserialize, Serialize};

use crate::cli::Select;
use crate::commands::{instance_of, selected};
use crate::jobs::{self, Job};
use crate::machine::Machine;
use crate::results::{new_folder, utc_stamp, write_json};
use crate::validate::{self, References, run_guarded};
use folded::{Folded, Rayon, Threads};
pub use sampler::{ASKED_HZ, Labels, Sampler, flamegraph, sample};
use timeline::RunStages;

/// Samples per CPU-second that Linux delivers here (one per 250 Hz kernel tick).
pub const TICK_HZ: f64 = 250.0;
/// Samples aimed at for a single-threaded variant with the default duration.
pub const TARGET_SAMPLES: f64 = 2000.0;
/// The whole command's sampling time aimed at when many variants share the run.
pub const TOTAL_SECONDS: f64 = 48.0;
/// Shortest default duration per variant.
pub const MIN_SECONDS: f64 = 3.0;

#[derive(Args, Debug, Clone)]
pub struct ProfileArgs {
    #[command(flatten)]
    pub select: Select,
    /// Seconds of sampled runs per variant. Default: until 8 CPU-seconds (≈2000 samples at
    /// 250 per CPU-second), within 8 s of wall time, shortened to share ~48 s among many
    /// variants (at least 3 s each).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Size of the rayon pool the variants run in. Default: all cores (as `bench`).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Differential flamegraph between two variants of the selection (names or ids,
    /// profiled here) or two `.folded` files (paths): where time moved from A to B.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub diff: Vec<String>,
    /// One flamegraph root per worker thread (default: workers merged into one root).
    #[arg(long)]
    pub per_thread: bool,
    /// Keep every frame (default: runs of rayon's frames shown as one `[rayon]` frame).
    #[arg(long)]
    pub full_stacks: bool,
    /// Rows of the top-functions tables.
    #[arg(long, default_value_t = 12)]
    pub top: usize,
    /// Folder under which the profile's new folder is created.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Write into this existing run folder's `flamegraphs/` instead (then `harness report
    /// RUN` links the flamegraphs); files already there are never overwritten.
    #[arg(long)]
    pub into: Option<PathBuf>,
}

/// One variant of `profile.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Entry {
    pub kernel: String,
    pub case: String,
    pub variant: String,
    pub strategy: String,
    pub params: String,
    pub threads: usize,
    /// profiled, failed (validation or run), skipped, n/a.
    pub status: String,
    pub reason: String,
    /// Validation: error against the tolerance, and the reference.
    pub validation: String,
    /// Wall time of the sampled runs, their number, samples, and the process's CPU time
    /// meanwhile (all threads).
    pub seconds: f64,
    pub runs: u64,
    pub samples: u64,
    pub cpu_s: Option<f64>,
    /// Files, relative to the folder.
    pub flamegraph: String,
    pub folded: String,
    pub top: String,
    pub timeline: String,
}

impl Entry {
    fn id(&self) -> String {
        format!("{}/{}/{}", self.kernel, self.case, self.variant)
    }

    /// Samples per CPU-second obtained.
    pub fn hz(&self) -> Option<f64> {
        self.cpu_s
            .filter(|c| *c > 0.0)
            .map(|c| self.samples as f64 / c)
    }

    /// Factor turning this profile's sample counts into CPU nanoseconds per run.
    pub fn ns_per_run_factor(&self) -> Option<f64> {
        let cpu = self.cpu_s.filter(|c| *c > 0.0)?;
        (self.samples > 0 && self.runs > 0)
            .then(|| cpu * 1e9 / self.samples as f64 / self.runs as f64)
    }
}

/// `profile.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub harness: String,
    pub command: Vec<String>,
    pub machine: Machine,
    pub asked_hz: i32,
    /// merged (workers under one root) or per-thread.
    pub thread_roots: String,
    pub seconds_per_variant: f64,
    pub started: String,
    pub finished: Option<String>,
    pub entries: Vec<Entry>,
    /// Differential flamegraphs written (file names).
    pub diffs: Vec<String>,
}

/// Where the files go.
struct Out {
    dir: PathBuf,
    manifest: PathBuf,
}

impl Out {
    fn create(args: &ProfileArgs, label: &str) -> Result<Out> {
        let dir = match &args.into {
            Some(run) => {
                if !run.is_dir() {
                    bail!("--into {}: not a folder", run.display());
                }
                let d = run.join("flamegraphs");
                std::fs::create_dir_all(&d)?;
                d
            }
            None => new_folder(&args.out, &format!("profile-{label}"))?.0,
        };
        let manifest = dir.join(unique_stem(&dir, "profile", &["{}.json"]) + ".json");
        Ok(Out { dir, manifest })
    }
}

/// `stem`, or `stem-1`, `stem-2`, ... : the first for which none of the `files` (templates
/// with `{}` for the stem) exists (files are never overwritten).
fn unique_stem(dir: &Path, stem: &str, files: &[&str]) -> String {
    (0..)
        .map(|i| {
            if i == 0 {
                stem.to_string()
            } else {
                format!("{stem}-{i}")
            }
        })
        .find(|s| files.iter().all(|f| !dir.join(f.replace("{}", s)).exists()))
        .expect("an unused name")
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// `n=64 oversampling=2` → `n64-oversampling2` (for file names).
fn slug(text: &str) -> String {
    text.split_whitespace()
        .map(|kv| {
            kv.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The process's CPU time (user + system, all threads) from `/proc/self/stat`, in seconds
/// (Linux reports it in USER_HZ = 100 ticks per second).
pub fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// How long the sampled loop runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// Wall-clock seconds at most.
    pub seconds: f64,
    /// Stop earlier once the process has used this much CPU time (samples come per
    /// CPU-second: a parallel variant, or a quiet machine, gets its samples sooner).
    pub cpu_s: Option<f64>,
}

/// The sampled loop: only `run()` calls (and, every 50 ms, a look at the clock and at the
/// process's CPU time). A frame of its own in every graph (`harness::profile::profiled_runs`),
/// directly above the variant's `run`.
#[inline(never)]
fn profiled_runs(prepared: &mut dyn Prepared, budget: Budget) -> Result<Looped, String> {
    let start = Instant::now();
    let cpu0 = budget.cpu_s.and_then(|_| process_cpu_s());
    let mut last_look = start;
    let mut runs = 0u64;
    let mut last_run;
    loop {
        let t = Instant::now();
        prepared.run().map_err(|e| e.to_string())?;
        runs += 1;
        let now = Instant::now();
        last_run = now - t;
        if now.duration_since(last_look).as_secs_f64() < 0.05 {
            continue;
        }
        last_look = now;
        // Stop at the cap, or before a run that would end well past it.
        let elapsed = now.duration_since(start).as_secs_f64();
        if elapsed + 0.5 * elapsed / runs as f64 >= budget.seconds {
            break;
        }
        if let (Some(target), Some(c0)) = (budget.cpu_s, cpu0)
            && process_cpu_s().is_some_and(|c| c - c0 >= target)
        {
            break;
        }
    }
    Ok(Looped {
        runs,
        elapsed: start.elapsed(),
        last_run,
    })
}

/// What the sampled loop did.
struct Looped {
    runs: u64,
    elapsed: Duration,
    /// The wall time of the last run (its stages are the ones `stages()` reports).
    last_run: Duration,
}

/// A profile taken here: the entry and its folded stacks.
struct Profiled {
    entry: Entry,
    folded: Option<Folded>,
}

pub fn profile_cmd(args: &ProfileArgs, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    if let [a, b] = args.diff.as_slice()
        && is_folded_path(a)
        && is_folded_path(b)
    {
        return diff_files(args, Path::new(a), Path::new(b));
    }
    let mut select = args.select.clone();
    let mut diff_names = Vec::new();
    for d in &args.diff {
        if is_folded_path(d) {
            bail!("--diff {d}: give two .folded files, or two variants (not one of each)");
        }
        if d.contains('/') {
            let id = VariantId::parse(d)?;
            for (flag, slot, value) in [
                ("kernel", &mut select.kernel, &id.kernel),
                ("case", &mut select.case, &id.case),
            ] {
                match slot {
                    Some(g) if g != value => bail!("--diff {d} contradicts --{flag} {g}"),
                    _ => *slot = Some(value.clone()),
                }
            }
            diff_names.push(id.variant);
        } else {
            diff_names.push(d.clone());
        }
    }
    if !diff_names.is_empty() && select.variant.is_some() {
        bail!("--diff A B names the variants: leave out --variant");
    }
    let mut plan = jobs::plan(&select, params)?;
    let suite_len = plan.jobs.len();
    if params.is_empty() {
        one_problem_per_case(&mut plan.jobs);
    }
    if plan.jobs.len() < suite_len {
        println!(
            "one problem per case: the suite's smallest (give the size parameter, e.g. --n, for \
             others)"
        );
    }
    for name in &diff_names {
        if !plan.jobs[0]
            .kernel
            .variants()
            .iter()
            .any(|v| v.name == name)
        {
            bail!(
                "--diff: `{name}` is not a variant of {}",
                plan.jobs[0].kernel.name()
            );
        }
    }
    if let Some(s) = args.seconds
        && !(s > 0.0 && s.is_finite())
    {
        bail!("--seconds {s}: give a positive number of seconds");
    }
    let machine = Machine::detect();
    let threads = args.threads.unwrap_or(machine.cores);
    if threads == 0 || threads > 4 * machine.cores {
        bail!(
            "--threads {threads}: choose between 1 and {}",
            4 * machine.cores
        );
    }

    // What will be profiled, to share the time among the variants that can run.
    let mut work: Vec<(&Job, Box<dyn Instance>, Vec<&'static str>)> = Vec::new();
    let mut ready = 0usize;
    for job in &plan.jobs {
        let instance = instance_of(job)?;
        let names: Vec<&'static str> = if diff_names.is_empty() {
            selected(instance.as_ref(), &plan)
        } else {
            diff_names
                .iter()
                .filter_map(|d| instance.variants().into_iter().find(|v| v.name == d))
                .map(|v| v.name)
                .collect()
        };
        ready += names
            .iter()
            .filter(|n| matches!(instance.probe(n), Ok(Availability::Ready)))
            .count();
        work.push((job, instance, names));
    }
    // Default: until ~2000 samples' worth of CPU time, within the variant's share of the
    // wall-clock time. `--seconds`: that long exactly.
    let budget = match args.seconds {
        Some(seconds) => Budget {
            seconds,
            cpu_s: None,
        },
        None => Budget {
            seconds: default_seconds(ready),
            cpu_s: Some(TARGET_SAMPLES / TICK_HZ),
        },
    };
    let seconds = budget.seconds;
    let label = match plan.jobs.as_slice() {
        [first, rest @ ..] if rest.iter().all(|j| j.kernel.name() == first.kernel.name()) => {
            first.kernel.name().to_string()
        }
        _ => "suite".into(),
    };
    let out = Out::create(args, &label)?;
    let mut manifest = Manifest {
        harness: env!("CARGO_PKG_VERSION").into(),
        command: std::env::args().collect(),
        machine: machine.clone(),
        asked_hz: ASKED_HZ,
        thread_roots: if args.per_thread {
            "per-thread".into()
        } else {
            "merged".into()
        },
        seconds_per_variant: seconds,
        started: utc_stamp(),
        ..Manifest::default()
    };
    write_json(&out.manifest, &manifest)?;
    println!(
        "machine: {} · {} cores · GPU: {} [{}]\nfolder:  {}\n\
         profiling {ready} variant(s) for {} on {threads} thread(s): pprof asks \
         {ASKED_HZ} Hz, this kernel delivers about {TICK_HZ:.0} samples per CPU-second",
        machine.cpu,
        machine.cores,
        machine.gpu_adapter,
        machine.gpu_type,
        out.dir.display(),
        match budget.cpu_s {
            Some(cpu) => format!(
                "{cpu:.0} CPU-seconds each (≈{TARGET_SAMPLES:.0} samples), at most {seconds:.1} s"
            ),
            None => format!("{seconds:.1} s each"),
        }
    );
    let roots = if args.per_thread {
        Threads::PerThread
    } else {
        Threads::Merged
    };
    let rayon = if args.full_stacks {
        Rayon::Full
    } else {
        Rayon::Collapsed
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        // Short enough for Linux's 15-byte thread names, so the number survives.
        .thread_name(|i| format!("harness-w-{i}"))
        .build()?;
    let several_per_case = |job: &Job| {
        plan.jobs
            .iter()
            .filter(|j| j.kernel.name() == job.kernel.name() && j.case == job.case)
            .count()
            > 1
    };
    let mut all_ok = true;
    for (job, instance, names) in &work {
        println!("\n{}/{} [{}]", job.kernel.name(), job.case, job.params);
        let mut refs = References::new(instance.as_ref(), None)?;
        let mut done: Vec<Profiled> = Vec::new();
        for name in names {
            let stem = {
                let mut s = format!("{}-{}-{name}", job.kernel.name(), job.case);
                if several_per_case(job) {
                    s = format!("{s}-{}", slug(&job.params.to_string()));
                }
                s
            };
            let p = pool.install(|| {
                profile_one(
                    instance.as_ref(),
                    &mut refs,
                    name,
                    budget,
                    threads,
                    roots,
                    rayon,
                    &out,
                    &stem,
                    &machine,
                    args.top,
                )
            })?;
            all_ok &= p.entry.status != "failed";
            manifest.entries.push(p.entry.clone());
            write_json(&out.manifest, &manifest)?;
            done.push(p);
        }
        if let [a, b] = done.as_slice() {
            if let (Some(fa), Some(fb)) = (&a.folded, &b.folded) {
                let name = diff_variants(&out, a, fa, b, fb, args.top)?;
                manifest.diffs.extend(name);
                write_json(&out.manifest, &manifest)?;
            } else {
                println!("  no differential graph: both variants must have been profiled");
            }
        }
    }
    manifest.finished = Some(utc_stamp());
    write_json(&out.manifest, &manifest)?;
    summary(&manifest, &out);
    Ok(all_ok)
}

/// Without parameters the plan holds the kernels' suites, several sizes per case: a profile
/// needs one, the smallest (where every variant, naive included, runs in seconds).
fn one_problem_per_case(jobs: &mut Vec<Job>) {
    let size = |j: &Job| {
        j.kernel
            .params()
            .iter()
            .find(|p| p.is_size)
            .and_then(|p| j.params.get(p.name).ok())
            .unwrap_or(0.0)
    };
    let mut kept: Vec<Job> = Vec::new();
    for job in jobs.drain(..) {
        match kept
            .iter_mut()
            .find(|k| k.kernel.name() == job.kernel.name() && k.case == job.case)
        {
            Some(k) if size(&job) < size(k) => *k = job,
            Some(_) => {}
            None => kept.push(job),
        }
    }
    *jobs = kept;
}

/// The wall-clock cap per variant: 8 s (≈2000 samples single-threaded), or ~48 s shared
/// among many variants, at least 3 s.
pub fn default_seconds(variants: usize) -> f64 {
    let full = TARGET_SAMPLES / TICK_HZ;
    (TOTAL_SECONDS / variants.max(1) as f64).clamp(MIN_SECONDS, full)
}

fn is_folded_path(s: &str) -> bool {
    s.ends_with(".folded") || Path::new(s).is_file()
}

/// Probe, prepare, run once, validate; then sample runs only, and write the files.
#[allow(clippy::too_many_arguments)]
fn profile_one(
    instance: &dyn Instance,
    refs: &mut References<'_>,
    name: &str,
    budget: Budget,
    threads: usize,
    roots: Threads,
    rayon: Rayon,
    out: &Out,
    stem: &str,
    machine: &Machine,
    top_rows: usize,
) -> Result<Profiled> {
    let info = instance.info(name)?;
    let mut entry = Entry {
        kernel: instance.kernel().into(),
        case: instance.case().into(),
        variant: name.into(),
        strategy: info.strategy.to_string(),
        params: instance.params().to_string(),
        threads,
        ..Entry::default()
    };
    let id = entry.id();
    let stop = |mut entry: Entry, status: &str, reason: String| {
        println!("  {name:<18} {status:<8} {reason}");
        entry.status = status.into();
        entry.reason = reason;
        Ok(Profiled {
            entry,
            folded: None,
        })
    };
    match instance.probe(name)? {
        Availability::Ready => {}
        a => return stop(entry, a.label(), a.reason().into()),
    }
    let mut prepared =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| instance.prepare(name))) {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return stop(entry, "failed", format!("setup: {e}")),
            Err(p) => {
                return stop(
                    entry,
                    "failed",
                    format!("setup panicked: {}", validate::panic_message(&p)),
                );
            }
        };
    if let Err(e) = run_guarded(prepared.as_mut()).0 {
        return stop(entry, "failed", e);
    }
    let v = validate::validate(instance, refs, name, prepared.as_ref());
    entry.validation = format!("{} [reference: {}]", v.summary(), v.reference);
    if !v.passed() {
        return stop(
            entry,
            "failed",
            format!("validation failed, not profiled: {}", v.summary()),
        );
    }
    println!("  {name:<18} valid ({}) · sampling ...", v.summary());

    // The sampled region: the run loop and nothing else.
    let ((cpu0, loop_result, cpu1), raw) = sample(|| {
        let cpu0 = process_cpu_s();
        let r = profiled_runs(prepared.as_mut(), budget);
        (cpu0, r, process_cpu_s())
    })?;
    let Looped {
        runs,
        elapsed,
        last_run,
    } = match loop_result {
        Ok(r) => r,
        Err(e) => return stop(entry, "failed", format!("failed while profiled: {e}")),
    };
    let folded = Folded::from_raw(&raw, roots, rayon);
    entry.seconds = elapsed.as_secs_f64();
    entry.runs = runs;
    entry.samples = folded.total();
    entry.cpu_s = cpu0.zip(cpu1).map(|(a, b)| b - a);
    entry.status = "profiled".into();

    let stem = unique_stem(
        &out.dir,
        stem,
        &[
            "flamegraph-{}.svg",
            "flamegraph-{}.folded",
            "flamegraph-{}.top.txt",
            "gpu-timeline-{}.svg",
            "stage-timeline-{}.svg",
        ],
    );
    let files = |prefix: &str, ext: &str| format!("{prefix}{stem}{ext}");
    entry.flamegraph = files("flamegraph-", ".svg");
    entry.folded = files("flamegraph-", ".folded");
    entry.top = files("flamegraph-", ".top.txt");
    let per_run = entry.seconds / runs as f64;
    let rate = entry
        .hz()
        .map(|h| format!(" (≈{h:.0} per CPU-second)"))
        .unwrap_or_default();
    let title = format!("{id} [{}]", entry.params);
    let subtitle = format!(
        "{} samples{rate} over {:.1} s: {runs} runs of run() only ({} each while sampled); \
         setup and validation excluded · {} · {}",
        entry.samples,
        entry.seconds,
        timeline::fmt_duration(per_run),
        match roots {
            Threads::Merged => "worker threads merged",
            Threads::PerThread => "one root per thread",
        },
        machine.cpu
    );
    let top = folded.top();
    let table = top.render(top_rows, "samples");
    write_new(&out.dir.join(&entry.folded), folded.to_text().as_bytes())?;
    write_new(
        &out.dir.join(&entry.top),
        format!("{title}\n{subtitle}\n\n{table}").as_bytes(),
    )?;
    println!(
        "    {} samples in {:.2} CPU-s{rate} · {runs} runs, {} per run (while sampled)",
        entry.samples,
        entry.cpu_s.unwrap_or(f64::NAN),
        timeline::fmt_duration(per_run)
    );
    if folded.stacks.is_empty() {
        // Typical of GPU variants on Mesa's software adapter: the shaders run in the
        // driver's threads, which block SIGPROF, while this thread waits in libc.
        entry.flamegraph.clear();
        entry.reason = "no samples: the CPU time was spent in threads that block SIGPROF (a \
                        GPU driver's, such as Mesa lavapipe's) or in libc (blocklisted), or the \
                        run was too short"
            .into();
        println!("    {}: no flamegraph", entry.reason);
    } else {
        let mut svg = Vec::new();
        flamegraph(
            &folded.lines(),
            &Labels {
                title: &title,
                subtitle: &subtitle,
                unit: "samples",
            },
            false,
            &mut svg,
        )?;
        write_new(&out.dir.join(&entry.flamegraph), &svg)?;
        if entry.hz().is_some_and(|h| h < 0.8 * TICK_HZ) {
            println!(
                "    fewer samples than CPU time suggests: pprof drops samples that land in libc \
                 (memcpy, malloc, futex waits: blocklisted to keep unwinding safe), samples of \
                 threads that block SIGPROF (GPU drivers'), and samples that arrive while \
                 another thread's is being recorded"
            );
        }
        if entry.samples < 1000 {
            println!(
                "    few samples: the graph shows the broad picture only (--seconds {:.0} for \
                 ~2000)",
                (entry.seconds * TARGET_SAMPLES / entry.samples.max(1) as f64).ceil()
            );
        }
        println!(
            "    flamegraph: {}",
            out.dir.join(&entry.flamegraph).display()
        );
        for line in table.lines() {
            println!("  {line}");
        }
    }

    // Stages (GPU timestamps): the last sampled run's, and up to four more runs (not
    // sampled) while they take under a second in all, each read back.
    let last_stages = prepared.stages();
    if !last_stages.is_empty() {
        let mut runs = vec![RunStages {
            wall: last_run,
            stages: last_stages,
        }];
        let more = ((1.0 / per_run.max(1e-9)) as usize).min(4);
        for _ in 0..more {
            let (r, wall) = run_guarded(prepared.as_mut());
            if r.is_err() {
                break;
            }
            runs.push(RunStages {
                wall,
                stages: prepared.stages(),
            });
        }
        let kind = if info.strategy == Strategy::Gpu {
            "gpu-timeline-"
        } else {
            "stage-timeline-"
        };
        entry.timeline = files(kind, ".svg");
        let sub = if info.strategy == Strategy::Gpu {
            format!(
                "stages from the variant's timestamp queries · adapter: {} [{}]",
                machine.gpu_adapter, machine.gpu_type
            )
        } else {
            "stages timed inside the variant's run".to_string()
        };
        let svg = timeline::svg(&title, &sub, &runs);
        write_new(&out.dir.join(&entry.timeline), svg.as_bytes())?;
        let rows = timeline::rows(
            [
                &entry.kernel,
                &entry.case,
                &entry.variant,
                &entry.strategy,
                &entry.params,
            ],
            &runs,
        );
        timeline::append_csv(&out.dir, &rows)?;
        let medians = timeline::medians(&runs)
            .iter()
            .map(|(name, t)| format!("{name} {}", timeline::fmt_duration(*t)))
            .collect::<Vec<_>>()
            .join(" · ");
        println!(
            "    stages (median of {} runs): {medians} · timeline: {}",
            runs.len(),
            out.dir.join(&entry.timeline).display()
        );
    }
    Ok(Profiled {
        entry,
        folded: (!folded.stacks.is_empty()).then_some(folded),
    })
}

/// The two differential graphs and a table of the functions whose time changed most.
/// Counts are CPU nanoseconds per run when both profiles know their CPU time and runs (so
/// "where time moved" means per unit of work); otherwise A's counts are scaled to B's total.
fn diff_write(
    out: &Out,
    stem: &str,
    (label_a, fa, ea): (&str, &Folded, Option<&Entry>),
    (label_b, fb, eb): (&str, &Folded, Option<&Entry>),
    top_rows: usize,
) -> Result<Vec<String>> {
    let factors = ea
        .and_then(Entry::ns_per_run_factor)
        .zip(eb.and_then(Entry::ns_per_run_factor));
    let (a, b, unit) = match factors {
        Some((xa, xb)) => (fa.scaled(xa), fb.scaled(xb), "CPU ns per run"),
        None => (
            fa.scaled(fb.total() as f64 / fa.total().max(1) as f64),
            fb.scaled(1.0),
            "samples (A scaled to B's total)",
        ),
    };
    let stem = unique_stem(
        &out.dir,
        &format!("diff-{stem}"),
        &["{}.svg", "{}.before.svg", "{}.folded"],
    );
    let forward = folded::differential(&a, &b);
    let backward = folded::differential(&b, &a);
    let title = format!("{label_a} → {label_b}");
    let total = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
    let sub_after = format!(
        "shape of B; red: more time in B than in A, blue: less · {unit}: {} → {}",
        total(&a),
        total(&b)
    );
    let sub_before = format!(
        "shape of A (code gone in B is visible here); red: more time in B, blue: less · {unit}: {} → {}",
        total(&a),
        total(&b)
    );
    let mut files = Vec::new();
    for (lines, sub, negate, ext) in [
        (&forward, &sub_after, false, ".svg"),
        (&backward, &sub_before, true, ".before.svg"),
    ] {
        let mut svg = Vec::new();
        flamegraph(
            lines,
            &Labels {
                title: &title,
                subtitle: sub,
                unit,
            },
            negate,
            &mut svg,
        )?;
        let name = format!("{stem}{ext}");
        write_new(&out.dir.join(&name), &svg)?;
        files.push(name);
    }
    write_new(
        &out.dir.join(format!("{stem}.folded")),
        (forward.join("\n") + "\n").as_bytes(),
    )?;
    // Self time per function, A and B, largest change first.
    let (sa, sb) = (folded::self_counts(&a), folded::self_counts(&b));
    let mut rows: Vec<(String, u64, u64)> = sa
        .keys()
        .chain(sb.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|f| {
            (
                f.clone(),
                sa.get(f).copied().unwrap_or(0),
                sb.get(f).copied().unwrap_or(0),
            )
        })
        .collect();
    rows.sort_by_key(|(_, x, y)| std::cmp::Reverse(x.abs_diff(*y)));
    println!("\n  {title}: self time, {unit}, largest changes first");
    println!("  {:>12} {:>12} {:>12}  function", "A", "B", "B − A");
    for (f, x, y) in rows.iter().take(top_rows) {
        println!("  {x:>12} {y:>12} {:>12}  {f}", *y as i128 - *x as i128);
    }
    println!(
        "  differential flamegraph: {}",
        out.dir.join(&files[0]).display()
    );
    println!("  (and {}: the shape of A)", files[1]);
    Ok(files)
}

fn diff_variants(
    out: &Out,
    a: &Profiled,
    fa: &Folded,
    b: &Profiled,
    fb: &Folded,
    top_rows: usize,
) -> Result<Vec<String>> {
    let stem = format!(
        "{}-{}-{}-vs-{}",
        a.entry.kernel, a.entry.case, a.entry.variant, b.entry.variant
    );
    diff_write(
        out,
        &stem,
        (&a.entry.id(), fa, Some(&a.entry)),
        (&b.entry.id(), fb, Some(&b.entry)),
        top_rows,
    )
}

/// `--diff A.folded B.folded`: counts per run when each file's folder has the
/// `profile.json` that describes it.
fn diff_files(args: &ProfileArgs, a: &Path, b: &Path) -> Result<bool> {
    let (fa, fb) = (Folded::read(a)?, Folded::read(b)?);
    let (ea, eb) = (entry_of(a), entry_of(b));
    let stem_of = |p: &Path| {
        p.file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .trim_start_matches("flamegraph-")
            .to_string()
    };
    let label = |p: &Path, e: &Option<Entry>| {
        e.as_ref()
            .map(Entry::id)
            .unwrap_or_else(|| p.display().to_string())
    };
    let out = Out::create(args, "diff")?;
    let manifest = Manifest {
        harness: env!("CARGO_PKG_VERSION").into(),
        command: std::env::args().collect(),
        machine: Machine::detect(),
        asked_hz: ASKED_HZ,
        started: utc_stamp(),
        ..Manifest::default()
    };
    println!("folder: {}", out.dir.display());
    let files = diff_write(
        &out,
        &format!("{}-vs-{}", stem_of(a), stem_of(b)),
        (&label(a, &ea), &fa, ea.as_ref()),
        (&label(b, &eb), &fb, eb.as_ref()),
        args.top,
    )?;
    write_json(
        &out.manifest,
        &Manifest {
            diffs: files,
            finished: Some(utc_stamp()),
            ..manifest
        },
    )?;
    Ok(true)
}

/// The `profile.json` entry (next to a `.folded` file) that describes it.
fn entry_of(folded: &Path) -> Option<Entry> {
    let dir = folded.parent()?;
    let name = folded.file_name()?.to_string_lossy().into_owned();
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with("profile") && n.ends_with(".json")
        })
        .filter_map(|p| serde_json::from_str::<Manifest>(&std::fs::read_to_string(p).ok()?).ok())
        .flat_map(|m| m.entries)
        .find(|e| e.folded == name)
}

fn summary(m: &Manifest, out: &Out) {
    println!(
        "\n{:<34} {:>8} {:>8} {:>7} {:>6} {:>10}  hottest function (self time)",
        "variant", "status", "samples", "Hz/CPU", "runs", "per run"
    );
    for e in &m.entries {
        let hottest = if e.status == "profiled" {
            std::fs::read_to_string(out.dir.join(&e.folded))
                .ok()
                .and_then(|t| Folded::parse(&t).ok())
                .and_then(|f| f.top().by_self.into_iter().next())
                .map(|r| format!("{:.0}% {}", 100.0 * r.share, r.function))
                .unwrap_or_else(|| e.reason.clone())
        } else {
            e.reason.clone()
        };
        println!(
            "{:<34} {:>8} {:>8} {:>7} {:>6} {:>10}  {hottest}",
            e.id(),
            e.status,
            if e.status == "profiled" {
                e.samples.to_string()
            } else {
                "-".into()
            },
            e.hz().map(|h| format!("{h:.0}")).unwrap_or("-".into()),
            if e.runs > 0 {
                e.runs.to_string()
            } else {
                "-".into()
            },
            if e.runs > 0 {
                timeline::fmt_duration(e.seconds / e.runs as f64)
            } else {
                "-".into()
            }
        );
    }
    println!("\nfiles: {}", out.dir.display());
}

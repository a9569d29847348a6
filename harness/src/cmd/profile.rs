//! `harness profile`: where does a variant spend its time? One flamegraph per variant.
//!
//! Per variant, as in `bench`: the lifecycle (`admit`: probe → prepare (not sampled) →
//! one run → validation against the reference; a wrong variant is reported and never
//! profiled) → then only repeated `run()` calls, for `--seconds`, under pprof's sampler
//! ([`crate::profile`]). Setup, validation and the harness itself stay out of the graph, as
//! criterion keeps its analysis out of `--profile-time`. Without kernel parameters, one
//! problem per case: the suite's smallest.
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
//! | `diff-<...>.svg`, `.before.svg`, `.folded` | `--diff A B`: where time moved between two variants or two profiles ([`crate::profile::diff`]) |
//! | `profile.json` | command, machine, and per variant its samples, runs and files |

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use kernels::registry::VariantId;
use std::panic::{AssertUnwindSafe, catch_unwind};

use kernels::gate::{self, Admission, Phase, References};
use kernels::{Instance, Prepared, Strategy, VariantRef};

use super::plan::{self, Job, Plan};
use super::{instance_of, selected};
use crate::cli::{ProfileArgs, Select};
use crate::measure::machine::Machine;
use crate::profile::diff::{self, entry_of};
use crate::profile::files::{Out, slug, unique_stem};
use crate::profile::folded::{Folded, Rayon, Threads};
use crate::profile::{
    ASKED_HZ, Budget, Entry, Looped, Manifest, TARGET_SAMPLES, TICK_HZ, default_seconds,
    process_cpu_s, profiled_runs, sample,
};
use crate::results::stages::RunStages;
use crate::results::{utc_stamp, write_json};

mod write;

use write::{stage_timeline, summary, write_flamegraph};

/// A profile taken here: the entry and its folded stacks.
struct Profiled {
    entry: Entry,
    folded: Option<Folded>,
}

/// What every variant of one `harness profile` shares.
struct Ctx<'a> {
    budget: Budget,
    threads: usize,
    roots: Threads,
    rayon: Rayon,
    out: &'a Out,
    machine: &'a Machine,
    top_rows: usize,
}

/// The problems to profile, each with its instance and the variants to profile in it.
type Work<'a> = Vec<(&'a Job, Box<dyn Instance>, Vec<VariantRef>)>;

pub fn profile_cmd(args: &ProfileArgs, params: &BTreeMap<String, Vec<String>>) -> Result<bool> {
    if let [a, b] = args.diff.as_slice()
        && is_folded_path(a)
        && is_folded_path(b)
    {
        return diff_files(args, Path::new(a), Path::new(b));
    }
    let (select, diff_names) = diff_selection(args)?;
    let plan = profile_plan(&select, params, &diff_names)?;
    profile_with_plan(args, &plan, &diff_names)
}

/// `profile` on a plan already made (tests give one with a kernel of their own);
/// `diff_names`: the two variants of `--diff`, or none.
pub fn profile_with_plan(args: &ProfileArgs, plan: &Plan, diff_names: &[String]) -> Result<bool> {
    if let Some(s) = args.seconds {
        super::check_seconds("--seconds", s)?;
    }
    let machine = Machine::detect();
    let threads = args.threads.unwrap_or(machine.cores);
    if threads == 0 || threads > 4 * machine.cores {
        bail!(
            "--threads {threads}: choose between 1 and {}",
            4 * machine.cores
        );
    }
    let (work, ready) = work_list(plan, diff_names)?;
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
    let out = Out::create(args.into.as_deref(), &args.out, &label_of(plan))?;
    crate::logging::attach_run_folder(&out.dir);
    plan::log_plan(plan, |_| vec![threads]);
    tracing::debug!("profile folder: {} · {machine:?}", out.dir.display());
    let mut manifest = start(args, &machine, &out, budget, ready, threads)?;
    let ctx = Ctx {
        budget,
        threads,
        roots: if args.per_thread {
            Threads::PerThread
        } else {
            Threads::Merged
        },
        rayon: if args.full_stacks {
            Rayon::Full
        } else {
            Rayon::Collapsed
        },
        out: &out,
        machine: &machine,
        top_rows: args.top,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        // Short enough for Linux's 15-byte thread names, so the number survives.
        .thread_name(|i| format!("harness-w-{i}"))
        .build()?;
    let mut all_ok = true;
    for (job, instance, names) in &work {
        all_ok &= profile_job(
            &ctx,
            plan,
            &pool,
            job,
            instance.as_ref(),
            names,
            &mut manifest,
        )?;
    }
    manifest.finished = Some(utc_stamp());
    write_json(&out.manifest, &manifest)?;
    summary(&manifest, &out);
    Ok(all_ok)
}

/// The selection with the kernel and case that `--diff` ids name, and the variants to
/// compare (none without `--diff`).
fn diff_selection(args: &ProfileArgs) -> Result<(Select, Vec<String>)> {
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
    Ok((select, diff_names))
}

/// The plan, one problem per case without parameters; the `--diff` names checked.
fn profile_plan(
    select: &Select,
    params: &BTreeMap<String, Vec<String>>,
    diff_names: &[String],
) -> Result<Plan> {
    let mut plan = plan::plan(select, params)?;
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
    for name in diff_names {
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
    Ok(plan)
}

/// What will be profiled, and how many variants can run (to share the time among them).
fn work_list<'a>(plan: &'a Plan, diff_names: &[String]) -> Result<(Work<'a>, usize)> {
    let mut work: Work = Vec::new();
    let mut ready = 0usize;
    for job in &plan.jobs {
        let instance = instance_of(job)?;
        let names: Vec<VariantRef> = if diff_names.is_empty() {
            selected(instance.as_ref(), plan)
        } else {
            diff_names
                .iter()
                .filter_map(|d| instance.variant(d).ok())
                .collect()
        };
        ready += names
            .iter()
            .filter(|v| instance.probe(**v).is_ready())
            .count();
        work.push((job, instance, names));
    }
    Ok((work, ready))
}

/// The kernel's name when the plan has one kernel, else `suite`.
fn label_of(plan: &Plan) -> String {
    match plan.jobs.as_slice() {
        [first, rest @ ..] if rest.iter().all(|j| j.kernel.name() == first.kernel.name()) => {
            first.kernel.name().to_string()
        }
        _ => "suite".into(),
    }
}

/// The first `profile.json`, and what is about to be profiled, printed.
fn start(
    args: &ProfileArgs,
    machine: &Machine,
    out: &Out,
    budget: Budget,
    ready: usize,
    threads: usize,
) -> Result<Manifest> {
    let seconds = budget.seconds;
    let manifest = Manifest {
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
    Ok(manifest)
}

/// Profiles the variants of one problem (and, for two, the differential graph between
/// them); whether none failed.
fn profile_job(
    ctx: &Ctx,
    plan: &Plan,
    pool: &rayon::ThreadPool,
    job: &Job,
    instance: &dyn Instance,
    names: &[VariantRef],
    manifest: &mut Manifest,
) -> Result<bool> {
    println!("\n{}/{} [{}]", job.kernel.name(), job.case, job.params);
    let several_per_case = plan
        .jobs
        .iter()
        .filter(|j| j.kernel.name() == job.kernel.name() && j.case == job.case)
        .count()
        > 1;
    let mut refs = References::new(instance, None)?;
    let mut done: Vec<Profiled> = Vec::new();
    let mut all_ok = true;
    for &variant in names {
        let mut stem = format!("{}-{}-{}", job.kernel.name(), job.case, variant.name());
        if several_per_case {
            stem = format!("{stem}-{}", slug(&job.params.to_string()));
        }
        let p = pool.install(|| profile_one(ctx, instance, &mut refs, variant, &stem))?;
        all_ok &= p.entry.status != "failed";
        manifest.entries.push(p.entry.clone());
        write_json(&ctx.out.manifest, manifest)?;
        done.push(p);
    }
    if let [a, b] = done.as_slice() {
        if let (Some(fa), Some(fb)) = (&a.folded, &b.folded) {
            let name = diff_variants(ctx.out, a, fa, b, fb, ctx.top_rows)?;
            manifest.diffs.extend(name);
            write_json(&ctx.out.manifest, manifest)?;
        } else {
            println!("  no differential graph: both variants must have been profiled");
        }
    }
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

fn is_folded_path(s: &str) -> bool {
    s.ends_with(".folded") || Path::new(s).is_file()
}

/// The lifecycle ([`admit`]); then sample runs only, and write the files.
fn profile_one(
    ctx: &Ctx,
    instance: &dyn Instance,
    refs: &mut References<'_>,
    variant: VariantRef,
    stem: &str,
) -> Result<Profiled> {
    let (name, info) = (variant.name(), variant.info);
    let entry = Entry {
        kernel: instance.kernel().into(),
        case: instance.case().into(),
        variant: name.into(),
        strategy: info.strategy.to_string(),
        params: instance.params().to_string(),
        threads: ctx.threads,
        ..Entry::default()
    };
    let (mut prepared, mut entry) = match admit(instance, refs, variant, entry) {
        Admitted::Valid(prepared, entry) => (prepared, entry),
        Admitted::Stopped(p) => return Ok(p),
    };
    let (folded, last_run) = match sample_runs(ctx, prepared.as_mut(), &mut entry)? {
        Ok(sampled) => sampled,
        Err(e) => {
            let why = format!("failed while profiled: {e}");
            return Ok(stopped(name, entry, "failed", why));
        }
    };
    let stem = unique_stem(
        &ctx.out.dir,
        stem,
        &[
            "flamegraph-{}.svg",
            "flamegraph-{}.folded",
            "flamegraph-{}.top.txt",
            "gpu-timeline-{}.svg",
            "stage-timeline-{}.svg",
        ],
    );
    entry.flamegraph = format!("flamegraph-{stem}.svg");
    entry.folded = format!("flamegraph-{stem}.folded");
    entry.top = format!("flamegraph-{stem}.top.txt");
    let title = format!("{} [{}]", entry.id(), entry.params);
    write_flamegraph(ctx, &mut entry, &folded, &title)?;
    // Stages (GPU timestamps): the last sampled run's, and more runs (not sampled).
    let last_stages = prepared.stages();
    if !last_stages.is_empty() {
        let first = RunStages {
            wall: last_run,
            stages: last_stages,
        };
        let gpu = info.strategy == Strategy::Gpu;
        let kind = if gpu {
            "gpu-timeline-"
        } else {
            "stage-timeline-"
        };
        entry.timeline = format!("{kind}{stem}.svg");
        stage_timeline(ctx, prepared.as_mut(), &entry, gpu, first, &title)?;
    }
    Ok(Profiled {
        entry,
        folded: (!folded.stacks.is_empty()).then_some(folded),
    })
}

/// The lifecycle's outcome in `profile`.
enum Admitted {
    /// Valid: the prepared variant (run once) and its entry with the validation.
    Valid(Box<dyn Prepared>, Entry),
    /// Not profiled: why, in the entry.
    Stopped(Profiled),
}

/// A variant that is not profiled: a line saying why, and its entry.
fn stopped(name: &str, mut entry: Entry, status: &str, reason: String) -> Profiled {
    println!("  {name:<18} {status:<8} {reason}");
    entry.status = status.into();
    entry.reason = reason;
    Profiled {
        entry,
        folded: None,
    }
}

/// One variant through the gate; the entry records the validation.
fn admit(
    instance: &dyn Instance,
    refs: &mut References<'_>,
    variant: VariantRef,
    mut entry: Entry,
) -> Admitted {
    let name = variant.name();
    match super::admit(instance, variant, refs, &mut ()) {
        Admission::NotRun(a) => {
            Admitted::Stopped(stopped(name, entry, a.label(), a.reason().into()))
        }
        Admission::Failed(f) => {
            let reason = match (&f.validation, f.phase) {
                (Some(v), _) => {
                    entry.validation = format!("{} [reference: {}]", v.summary(), v.reference);
                    format!("validation failed, not profiled: {}", f.reason)
                }
                (None, Phase::GpuRequired) => {
                    format!("GPU required (HARNESS_REQUIRE_GPU=1): {}", f.reason)
                }
                (None, _) => f.reason,
            };
            Admitted::Stopped(stopped(name, entry, "failed", reason))
        }
        Admission::Valid(a) => {
            let v = &a.validation;
            entry.validation = format!("{} [reference: {}]", v.summary(), v.reference);
            println!("  {name:<18} valid ({}) · sampling ...", v.summary());
            Admitted::Valid(a.prepared, entry)
        }
    }
}

/// The sampled region: the run loop and nothing else. The folded stacks and the last run's
/// wall time, with the entry's figures; or why the loop failed.
fn sample_runs(
    ctx: &Ctx,
    prepared: &mut dyn Prepared,
    entry: &mut Entry,
) -> Result<Result<(Folded, Duration), String>> {
    let budget = ctx.budget;
    let ((cpu0, loop_result, cpu1), raw) = sample(|| {
        let cpu0 = process_cpu_s();
        // A panic in a sampled run fails this variant, not the whole profile.
        let r = catch_unwind(AssertUnwindSafe(|| profiled_runs(&mut *prepared, budget)))
            .unwrap_or_else(|p| Err(format!("panicked: {}", gate::panic_message(&p))));
        (cpu0, r, process_cpu_s())
    })?;
    let Looped {
        runs,
        elapsed,
        last_run,
    } = match loop_result {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let folded = Folded::from_raw(&raw, ctx.roots, ctx.rayon);
    entry.seconds = elapsed.as_secs_f64();
    entry.runs = runs;
    entry.samples = folded.total();
    entry.cpu_s = cpu0.zip(cpu1).map(|(a, b)| b - a);
    entry.status = "profiled".into();
    Ok(Ok((folded, last_run)))
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
    diff::write(
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
    let out = Out::create(args.into.as_deref(), &args.out, "diff")?;
    let manifest = Manifest {
        harness: env!("CARGO_PKG_VERSION").into(),
        command: std::env::args().collect(),
        machine: Machine::detect(),
        asked_hz: ASKED_HZ,
        started: utc_stamp(),
        ..Manifest::default()
    };
    println!("folder: {}", out.dir.display());
    let files = diff::write(
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

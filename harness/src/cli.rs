//! Command line: the arguments of every command ([`crate::cmd`] runs them). Fixed flags are
//! derived with clap; each kernel parameter becomes a flag named after it (`--n 64
//! --oversampling 3`), added at run time from the kernels' declarations so that a new
//! parameter needs no change here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches, Parser, Subcommand};
use kernels::registry;

#[derive(Parser, Debug)]
#[command(
    name = "harness",
    version,
    about = "Validate, benchmark and report every variant of every kernel",
    long_about = "Validate, benchmark and report every variant of every kernel.\n\n\
        Every variant is checked against a reference before it is timed; a wrong one is \
        reported as failed and never timed.\n\nWithout a subcommand (the main job): `bench` on the default suite, then `report` on that run."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    /// -q / -v / -vv, on every command ([`crate::logging`]).
    #[command(flatten)]
    pub log: crate::logging::LogFlags,
    /// External variants (any language, run as worker processes) registered in this TOML
    /// file (docs/external.md). Default: external.toml in the current folder, when present.
    #[arg(long, global = true, value_name = "FILE")]
    pub external: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List every kernel/case/variant with its strategy, status (ok / skipped / n/a) and reason.
    List(Select),
    /// Check variants against their references; exit code 1 if any fails.
    Validate(ValidateArgs),
    /// Validate, then time: one CSV row per (kernel, case, variant, size, threads) in a new
    /// folder under reports/.
    Bench(BenchArgs),
    /// Compare variants, interleaved in one run (`--kernel K --variant A,B`), or two run
    /// folders (`compare RUN_A RUN_B`: two builds, two machines); each ratio with its 95 %
    /// interval and a verdict; `--fail-above 5%` makes it a regression gate.
    Compare(CompareArgs),
    /// Flamegraphs: sample only the runs of each valid variant (pprof), write one SVG per
    /// variant, its folded stacks and top functions into a new folder; `--diff A B` too.
    Profile(ProfileArgs),
    /// Run one variant and save its output as .npy (load it in numpy next to your code).
    Run(RunArgs),
    /// Which variant to use for a problem on this machine, and why: the fastest measured
    /// here at the nearest size (the latest runs under --root), else a rule of thumb.
    /// `--variant best` in run, bench and compare runs that choice.
    Plan(PlanArgs),
    /// Build an HTML report and a Markdown summary from run folders (default: the latest
    /// under reports/), in a new folder; several folders (machines) merge into one comparison.
    Report(ReportArgs),
    /// Check that a PNG (e.g. a headless browser's screenshot of a report) is not blank:
    /// exit code 1 if it has almost a single colour.
    CheckPng(CheckPngArgs),
    /// Workshop: create your own variant of a kernel (a file with a TODO, registered).
    NewVariant(NewVariantArgs),
    /// Workshop: delete a variant made by new-variant (its file and registration lines).
    RemoveVariant(RemoveVariantArgs),
    /// Workshop: a kernel's formula, its variants with the idea each teaches, and the
    /// measured ladder of speedups from the latest run folder.
    Explain(ExplainArgs),
}

/// Which kernels, cases and variants.
#[derive(Args, Debug, Clone, Default)]
pub struct Select {
    /// Kernel name (laue, ...). Default: all.
    #[arg(long)]
    pub kernel: Option<String>,
    /// Case of the kernel (e.g. strained). Default: the kernel's suite.
    #[arg(long)]
    pub case: Option<String>,
    /// Variant short name (parallel) or full id (laue/strained/parallel); several,
    /// comma-separated (factorised,parallel), where a command takes more than one.
    #[arg(long)]
    pub variant: Option<String>,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub select: Select,
    /// Validate against this .npy instead of the committed reference (same parameters given
    /// as flags, e.g. `--reference my.npy --n 64`).
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// gpu (or gpu-tiny): the GPU variants on the gpu suite's problems instead of every
    /// variant on the default ones; quick and full are the default problems.
    #[arg(long, value_enum, default_value_t = Suite::Quick)]
    pub suite: Suite,
}

/// Which problems a bench (or an interleaved comparison) takes, and which of its rows it
/// skips for time.
#[derive(Args, Debug, Clone, Default)]
pub struct Limits {
    /// quick (the default): a variant whose estimated time per run exceeds the time limit
    /// is skipped with its estimate, so that the main job stays within minutes on 2 cores;
    /// full: the same sizes, nothing skipped for time.
    #[arg(long, value_enum, default_value_t = Suite::Quick)]
    pub suite: Suite,
    /// Seconds one run of a variant may be estimated to take before it is skipped (quick
    /// suite: 5 on the default sizes; on sizes you name (`--n 4096`), the naive variants'
    /// limit, 60 or HARNESS_NAIVE_LIMIT_S; `--suite full`: no limit). Estimates come from an
    /// earlier row of the same variant in this run, or for GPU variants on a software
    /// adapter and workshop exercises from one small calibration problem, scaled by the
    /// nominal work.
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    #[command(flatten)]
    pub select: Select,
    /// Thread counts for the rayon pool (e.g. 1,2), for every variant. Default: all cores.
    #[arg(long, value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// Also run the parallel-strategy variants on 1, 2, 4, ... up to all cores (for the
    /// report's speedup, efficiency and Amdahl fit); other variants keep --threads.
    #[arg(long)]
    pub thread_scaling: bool,
    /// Time budget per variant in seconds (samples are taken until it is spent).
    #[arg(long, default_value_t = 1.0)]
    pub budget: f64,
    /// Minimum number of timed samples (unless one run alone exceeds the budget); in an
    /// interleaved run, rounds, at least 6: the fewest for a paired ratio's 95 % interval.
    #[arg(long, default_value_t = 5)]
    pub min_samples: usize,
    /// Spread (interquartile range / median) above which a result is flagged noisy.
    #[arg(long, default_value_t = crate::measure::stats::NOISY_SPREAD)]
    pub noisy: f64,
    /// Folder under which the run folder is created.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    #[command(flatten)]
    pub limits: Limits,
    /// Start even when the selection is estimated to run for more than 2 hours.
    #[arg(long)]
    pub yes: bool,
    /// Time the selected variants of each problem in rounds, each round running every
    /// variant once in a shuffled order, so that their ratios are paired round by round
    /// and the machine's drift cancels (the default of `compare`).
    #[arg(long)]
    pub interleave: bool,
    /// The variant every ratio of an interleaved run is against (default: the naive one
    /// when it is timed, else the first selected).
    #[arg(long, value_name = "VARIANT")]
    pub baseline: Option<String>,
    /// Run only the i-th of n deterministic slices of the selection (`--shard 2/3`), e.g.
    /// one per job of a Slurm array; `harness report` merges the slices of one machine.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Protocol of `compare --against-bin`: time one round of every selected variant and
    /// append its times to this file (one JSON object per line); no run folder.
    #[arg(long, value_name = "FILE", hide = true)]
    pub rounds_out: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Two run folders to compare, A (before) then B (after), each one folder or the shard
    /// folders of one suite separated by commas; none for an interleaved run of the
    /// selected variants.
    #[arg(num_args = 0..=2, value_names = ["RUN_A", "RUN_B"])]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub select: Select,
    /// The variant every ratio is against (interleaved run; default: naive when timed,
    /// else the first selected).
    #[arg(long, value_name = "VARIANT")]
    pub baseline: Option<String>,
    /// Time budget per variant in seconds (interleaved run).
    #[arg(long, default_value_t = 5.0)]
    pub budget: f64,
    /// Thread count of the rayon pool (interleaved run). Default: all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Exit with code 1 when a row is slower than this (e.g. `5%` or `0.05`) with 95 %
    /// confidence: a regression gate for CI.
    #[arg(long, value_name = "PCT")]
    pub fail_above: Option<String>,
    // The interleaved run's suite and time limit, as `bench`'s: a skipped row's reason names
    // them, so they are options here too.
    #[command(flatten)]
    pub limits: Limits,
    /// Also write the comparison as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also write the comparison as JSON (schema in reports/README.md) to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Another build of the harness: run the same problems in both binaries, one round
    /// each in turn, and compare this build against it.
    #[arg(long, value_name = "PATH")]
    pub against_bin: Option<PathBuf>,
    /// Folder under which an interleaved run's folder is created.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
}

/// Which problems a bench or validate takes, and what it keeps within its time (see
/// `BenchArgs::suite`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Suite {
    /// Skip what is estimated beyond the time limit (5 s per run unless --time-limit).
    #[default]
    Quick,
    /// Run everything selected, however long it takes.
    Full,
    /// The GPU variants at sizes that mean something on a real GPU (Laue N = 128, 256; the
    /// PSF at 4096; LM at 10⁶ and 10⁷ fits; deconvolution at 4096²; the pipeline at 64 ×
    /// 1024²), each validated against the kernel's oracle; what `scripts/device-check.sh`
    /// runs on the device machine.
    Gpu,
    /// The gpu suite shrunk until a software adapter (lavapipe) runs it in seconds: CI runs
    /// it through `scripts/device-check.sh --tiny` so that the script cannot rot.
    GpuTiny,
}

impl Suite {
    /// The scale of the GPU suite this is, if it is one.
    pub fn gpu_scale(self) -> Option<kernels::GpuScale> {
        match self {
            Suite::Quick | Suite::Full => None,
            Suite::Gpu => Some(kernels::GpuScale::Device),
            Suite::GpuTiny => Some(kernels::GpuScale::Tiny),
        }
    }
}

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

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: Select,
    /// Input arrays (.npy, float64), in the order the kernel documents.
    #[arg(long)]
    pub input: Vec<PathBuf>,
    /// Where to write the output (.npy); never overwritten.
    #[arg(long)]
    pub save: PathBuf,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub select: Select,
    /// Folder whose run folders hold this machine's measurements.
    #[arg(long, default_value = "reports")]
    pub root: std::path::PathBuf,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Run folders to report on (default: the latest under --root).
    pub runs: Vec<PathBuf>,
    /// Where to look for the latest run folder when none is given.
    #[arg(long, default_value = "reports")]
    pub root: PathBuf,
    /// Folder under which the report's own new folder is created.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct CheckPngArgs {
    pub png: PathBuf,
    /// Least share of pixels that must differ from the most common colour.
    #[arg(long, default_value_t = 0.01)]
    pub min_ink: f64,
}

#[derive(Args, Debug)]
pub struct NewVariantArgs {
    /// Kernel (laue, psf, lm, deconv).
    #[arg(long)]
    pub kernel: String,
    /// Case used in the suggested next commands (the variant runs on every case).
    #[arg(long)]
    pub case: String,
    /// Your variant's name: lowercase letters, digits and _ (e.g. my_simd).
    #[arg(long)]
    pub name: String,
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct RemoveVariantArgs {
    /// kernel/case/name of the exercise (e.g. laue/strained/my_simd).
    #[arg(long)]
    pub variant: Option<String>,
    /// Remove every exercise of every kernel.
    #[arg(long)]
    pub all_exercises: bool,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Kernel (laue, psf, lm, deconv).
    #[arg(long)]
    pub kernel: String,
    /// Where run folders are looked for (the latest with rows for the kernel is used).
    #[arg(long, default_value = "reports")]
    pub reports: std::path::PathBuf,
}

/// The whole parsed command: fixed flags plus kernel parameters as text, by name.
pub struct Parsed {
    pub cli: Cli,
    pub params: BTreeMap<String, Vec<String>>,
}

/// Every kernel parameter, once (kernels share names such as `n`).
fn param_args() -> Vec<Arg> {
    let mut seen = BTreeMap::new();
    for k in registry::kernels() {
        for p in k.params() {
            seen.entry(p.name).or_insert_with(|| {
                Arg::new(p.name)
                    .long(p.name)
                    .value_name("VALUE")
                    .help(format!(
                        "[kernel parameter] {} (default {})",
                        p.help, p.default
                    ))
                    .value_delimiter(',')
                    .num_args(1)
                    .action(ArgAction::Append)
                    .help_heading("Kernel parameters (several values, comma-separated, for bench)")
            });
        }
    }
    seen.into_values().collect()
}

pub fn command() -> Command {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    for sub in [
        "validate", "bench", "run", "list", "profile", "compare", "plan",
    ] {
        cmd = cmd.mut_subcommand(sub, |c| c.args(param_args()));
    }
    cmd
}

pub fn parse() -> Result<Parsed, clap::Error> {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(args: I) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let params = match matches.subcommand() {
        Some((_, sub)) => collect_params(sub),
        None => BTreeMap::new(),
    };
    Ok(Parsed { cli, params })
}

fn collect_params(m: &ArgMatches) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for arg in param_args() {
        let id = arg.get_id().as_str().to_string();
        if let Ok(Some(values)) = m.try_get_many::<String>(&id) {
            out.insert(id, values.cloned().collect());
        }
    }
    out
}

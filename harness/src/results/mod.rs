//! What runs leave on disk: run folders and the results CSV (here: one new folder per run,
//! never overwritten, and one row per (kernel, case, variant, size, threads, precision),
//! appended and flushed as it finishes), and the timelines' data: [`events`] (the
//! intervals a pipeline variant records) and [`stages`] (the stages a variant times inside
//! its run). Drawing them is [`crate::render`]'s.

pub mod events;
pub mod samples;
pub mod stages;

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use kernels::{Availability, Params, Precision, Strategy};

use crate::measure::ceilings::Ceiling;
use crate::measure::ceilings_store::Below;
use crate::measure::drift::Drift;
use crate::measure::machine::Machine;

/// `run.json`: the run's command and machine at the start, its ceilings once measured, and
/// a summary that grows as rows finish (rewritten atomically each time).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunManifest {
    pub harness: String,
    pub command: Vec<String>,
    pub machine: Machine,
    pub budget_s: f64,
    pub min_samples: usize,
    pub noisy_threshold: f64,
    /// Thread counts of every variant, and the extra ones of the parallel variants.
    pub threads: Vec<usize>,
    pub thread_scaling: Vec<usize>,
    /// The ceilings the rows' `% of roofline` uses: per thread count and value, the best of
    /// this run's and those kept for the machine in `<out>/ceilings.json`.
    pub ceilings: Vec<Ceiling>,
    /// The ceilings this run measured itself (older runs: empty, `ceilings` is theirs).
    pub ceilings_measured: Vec<Ceiling>,
    /// Ceilings measured below the kept ones (which were used instead); `far_below` when
    /// under 70 % of them: the machine was busy or throttled at the start.
    pub ceilings_below_kept: Vec<Below>,
    /// The GPU adapter's ceilings, measured when the selection has a GPU variant: GPU rows'
    /// `% of roofline` uses them.
    pub gpu_ceiling: Option<crate::measure::gpu_ceilings::GpuCeiling>,
    /// Why there is no `gpu_ceiling` (no GPU variant selected, no adapter, a failure).
    pub gpu_ceiling_skipped: Option<String>,
    /// What `HARNESS_GPU_FAULT`, `HARNESS_GPU_MAX_BINDING` and
    /// `HARNESS_GPU_MAX_WORKGROUP_STORAGE` injected into the GPU
    /// (empty: nothing): such a run tests the harness, and its GPU rows measure nothing.
    pub gpu_injected: String,
    /// How the machine's speed moved during the run, from a short fixed probe between rows.
    pub drift: Option<Drift>,
    /// The slice of the selection this run timed (`bench --shard i/n`).
    pub shard: Option<Shard>,
    pub started: String,
    pub finished: Option<String>,
    /// Stopped by Ctrl-C / SIGTERM: the rows present are complete, others are missing.
    pub interrupted: bool,
    pub rows: usize,
    pub status_counts: std::collections::BTreeMap<String, usize>,
    pub noisy: usize,
    /// Whether bytes allocated were counted and the peak RSS could be reset per variant.
    pub counting_allocator: bool,
    pub rss_peak_reset: bool,
    /// Small 2-D outputs saved for the report's images.
    pub images: Vec<ImageEntry>,
    /// `bench --interleave` / `compare`: the variants of each problem timed in rounds.
    pub interleaved: bool,
    /// `--baseline` as given (None: each problem's default, named in its rows).
    pub baseline: Option<String>,
}

/// A run that timed one of `count` slices of a selection: `index` (1 to `count`, as given
/// to `--shard`). Folders with the same `selection`, machine and `count` are slices of one
/// suite and merge into one (`harness report`, `harness compare`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
    /// A stable hash (16 hex digits, FNV-1a) of the unsharded selection: kernels, cases,
    /// parameters, variants, threads, suite and budget.
    pub selection: String,
}

/// One saved output image (`images/*.npy` in the run folder).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ImageEntry {
    pub kernel: String,
    pub case: String,
    pub params: Params,
    pub array: String,
    /// Relative to the run folder.
    pub file: String,
    pub shape: Vec<usize>,
    /// Which reference or variant it is the output of.
    pub source: String,
}

impl RunManifest {
    /// The folder's `run.json`, if it has one and it is intact.
    pub fn read(dir: &Path) -> Option<RunManifest> {
        RunManifest::load(dir).ok().flatten()
    }

    /// The folder's `run.json`: `None` when there is none (peers-only folders, old runs),
    /// an error naming the file and the cause when it is there but unreadable or invalid, so
    /// that the report can say what it lost instead of silently dropping ceilings and images.
    pub fn load(dir: &Path) -> Result<Option<RunManifest>> {
        let path = dir.join("run.json");
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(None);
        }
        let text = read_regular(&path, MAX_METADATA_BYTES)?;
        if text.trim().is_empty() {
            bail!(
                "{} is empty: restore it from a copy or delete it (the rows are read without it)",
                path.display()
            );
        }
        serde_json::from_str(&text).map(Some).map_err(|e| {
            anyhow::anyhow!(
                "{} is not a valid run.json ({e}): restore it from a copy or delete it (the rows are read without it)",
                path.display()
            )
        })
    }
}

/// Largest `run.json` / CSV the report reads (a real one is kilobytes to a few megabytes):
/// a bigger one is not a run's metadata, and reading it whole would only exhaust memory.
pub const MAX_METADATA_BYTES: u64 = 1 << 30;

/// Refuses what is not a regular file (a FIFO with no writer would block the command
/// forever, a device would never end), naming the path and saying what to do.
pub fn check_regular(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {} ({e}): check the path and its permissions",
            path.display()
        )
    })?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file ({}): give the path of an ordinary file",
            path.display(),
            if meta.is_dir() {
                "a folder"
            } else {
                "a FIFO, socket or device"
            }
        );
    }
    Ok(())
}

/// A regular file's text, refused when larger than `limit` bytes.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<String> {
    check_regular(path)?;
    let len = std::fs::metadata(path)?.len();
    if len > limit {
        bail!(
            "{} is {len} bytes, more than the {limit} a run folder's file can be: not a file the harness wrote",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not UTF-8 text (byte {}): not a file the harness wrote",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// A file a run folder's own metadata names (`images[].file`, a row's `timeline`),
/// resolved inside the folder: absolute paths, `..` and symbolic links leading out are
/// refused, so that a copied or edited `run.json` cannot make the report read (and
/// publish) files from elsewhere.
pub fn inside_run(dir: &Path, file: &str) -> Result<PathBuf> {
    let rel = Path::new(file);
    let plain = rel.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    });
    if file.is_empty() || !plain {
        bail!(
            "`{file}` (named in {}) is not a path inside the run folder: only relative paths without `..` are read",
            dir.display()
        );
    }
    let path = dir.join(rel);
    let (real, root) = (path.canonicalize(), dir.canonicalize());
    match (real, root) {
        (Ok(real), Ok(root)) if real.starts_with(&root) => {
            check_regular(&real)?;
            Ok(real)
        }
        (Ok(real), Ok(_)) => bail!(
            "{} leads outside its run folder (to {}): only files inside the folder are read",
            path.display(),
            real.display()
        ),
        (Err(e), _) | (_, Err(e)) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// What became of a row's variant: the `status` column.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Status {
    /// Validated and timed.
    #[serde(rename = "ok")]
    Ok,
    /// Failed setup, a run or validation (never timed), or a timing run; the reason says.
    /// A row nobody filled in is not ok: the default.
    #[default]
    #[serde(rename = "failed")]
    Failed,
    /// The machine lacks something (no GPU adapter, too slow at this size).
    #[serde(rename = "skipped")]
    Skipped,
    /// The strategy cannot apply to this case.
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotApplicable => "n/a",
        }
    }

    /// The status of a variant that did not run: skipped or n/a.
    pub fn of(a: &Availability) -> Status {
        match a {
            Availability::Ready => Status::Ok,
            Availability::Skipped(_) => Status::Skipped,
            Availability::NotApplicable(_) => Status::NotApplicable,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One result row. Every column is documented in reports/README.md; Python peers
/// (external variants, and the former `scripts/peers.py`) write the same columns.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Row {
    pub run_id: String,
    pub kernel: String,
    pub case: String,
    pub variant: String,
    pub strategy: Strategy,
    pub precision: Precision,
    /// All parameters, typed; written (and read back) as `name=value` separated by spaces.
    pub params: Params,
    /// The name of the kernel's size parameter (n, fits, ...).
    pub size_param: String,
    /// Its value, for scaling curves.
    pub size: f64,
    pub threads: usize,
    /// ok, failed, skipped, n/a.
    pub status: Status,
    pub reason: String,
    /// max|ref − out| / max|ref| (the worst over output arrays).
    pub error: Option<f64>,
    pub tolerance: Option<f64>,
    pub reference: String,
    pub setup_s: Option<f64>,
    /// Median seconds per run and its bootstrap 95 % confidence interval.
    pub median_s: Option<f64>,
    pub ci_low_s: Option<f64>,
    pub ci_high_s: Option<f64>,
    pub mean_s: Option<f64>,
    pub min_s: Option<f64>,
    pub max_s: Option<f64>,
    /// Interquartile range over median.
    pub spread: Option<f64>,
    /// Spread above the run's threshold: the median is less trustworthy.
    pub noisy: bool,
    pub samples: usize,
    pub iters_per_sample: u64,
    pub outliers_mild: usize,
    pub outliers_severe: usize,
    pub warmup_runs: u64,
    pub warmup_s: Option<f64>,
    pub warmup_stable: bool,
    pub speedup_vs_naive: Option<f64>,
    /// The kernel's nominal work of one run (from the formula, the same for all variants).
    pub flops: f64,
    pub bytes: f64,
    pub items: f64,
    pub gflops: Option<f64>,
    pub gbps: Option<f64>,
    pub items_per_s: Option<f64>,
    /// The machine's ceilings at this thread count and precision, and the row's GFLOP/s as
    /// a percentage of min(peak, intensity × bandwidth).
    pub peak_gflops: Option<f64>,
    pub peak_gbps: Option<f64>,
    pub roofline_pct: Option<f64>,
    /// Bytes allocated by `prepare`, and per run (mean over the timed runs).
    pub alloc_setup_bytes: Option<u64>,
    pub alloc_run_bytes: Option<u64>,
    /// Most heap bytes live at once during prepare and runs, above what was live before.
    pub heap_peak_bytes: Option<u64>,
    /// Resident memory of the process when the variant started, and its peak during the
    /// variant (VmHWM reset before it), in MiB.
    pub base_rss_mib: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    /// Stages measured inside the run, `name=seconds;...`.
    pub stages: String,
    /// For variants that record a timeline (the pipeline kernel): the mean time from an
    /// image's first to its last interval, the share of the run the device spent computing,
    /// and the timeline file (relative to the run folder). See [`events`].
    pub latency_s: Option<f64>,
    /// The kernel's figures of the validated output (lm: converged share, iterations per
    /// fit), in words.
    pub output_summary: String,
    pub device_busy: Option<f64>,
    pub timeline: String,
    /// `rust` for the harness; `python 3.x numpy y ...` for peers.
    pub runtime: String,
    pub cpu: String,
    pub cores: usize,
    pub simd: String,
    pub memory_gib: f64,
    pub os: String,
    pub gpu_adapter: String,
    pub gpu_type: String,
    pub gpu_backend: String,
    pub rustc: String,
    pub git_commit: String,
    pub timestamp: String,
    /// The raw per-sample seconds per run, relative to the run folder (see [`samples`]);
    /// empty for rows without samples and for runs older than this column.
    pub samples_file: String,
    /// Timed in rounds with the other variants of its problem and thread count (`bench
    /// --interleave`, `compare`): sample `i` of each of them is round `i`.
    #[serde(deserialize_with = "empty_as_default")]
    pub interleaved: bool,
    /// The variant `ratio` is against (interleaved rows; empty otherwise).
    pub baseline: String,
    /// Rounds of the interleaved timing (= `samples` of the row).
    #[serde(deserialize_with = "empty_as_default")]
    pub rounds: usize,
    /// time(variant) / time(baseline): the median of the per-round ratios, below 1 when the
    /// variant is faster, and its 95 % bootstrap interval over rounds
    /// ([`crate::measure::paired::paired`]); empty without a timed baseline.
    pub ratio: Option<f64>,
    pub ratio_low: Option<f64>,
    pub ratio_high: Option<f64>,
    /// What the ratio's interval says: faster, slower or no difference (empty without one).
    pub verdict: String,
}

/// An empty cell read as the type's default: files written before a column existed, or
/// by tools that leave columns they do not know empty (`scripts/peers.py` copies the header
/// and fills in its own), still read.
fn empty_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Row {
    /// Copies the machine fingerprint into the row (the CSV is flat: one column each).
    pub fn with_machine(mut self, m: &Machine) -> Row {
        self.cpu = m.cpu.clone();
        self.cores = m.cores;
        self.simd = m.simd.clone();
        self.memory_gib = m.memory_gib;
        self.os = m.os.clone();
        self.gpu_adapter = m.gpu_adapter.clone();
        self.gpu_type = m.gpu_type.clone();
        self.gpu_backend = m.gpu_backend.clone();
        self.rustc = m.rustc.clone();
        self.git_commit = m.git_commit.clone();
        self.runtime = "rust".into();
        self
    }
}

/// A run folder under `reports/`, with its CSV open for appending.
pub struct RunDir {
    pub path: PathBuf,
    pub id: String,
    /// `results.csv`, open for appending.
    file: File,
    /// Rows appended so far.
    rows: usize,
}

/// Creates `<root>/<UTC time>-<label>` (with a suffix if that exists: never reuses one).
pub fn new_folder(root: &Path, label: &str) -> Result<(PathBuf, String)> {
    std::fs::create_dir_all(root).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the folder {} ({e}): choose another --out or fix its permissions",
            root.display()
        )
    })?;
    let stamp = utc_stamp();
    for i in 0..1000 {
        let id = if i == 0 {
            format!("{stamp}-{label}")
        } else {
            format!("{stamp}-{label}-{i}")
        };
        let path = root.join(&id);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok((path, id)),
            // Same second, same label: the next suffix (never reuse a folder).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => bail!(
                "cannot create a new folder in {} ({e}): choose another --out or fix its permissions",
                root.display()
            ),
        }
    }
    bail!(
        "cannot create a new folder in {}: {stamp}-{label} and 999 suffixed names exist; wait a second or clean the folder",
        root.display()
    )
}

/// A temporary name next to `path` (same folder, so the rename is atomic), unique to this
/// process and call.
fn temporary_name(path: &Path) -> PathBuf {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// Writes `path` whole or not at all: through a temporary file that is removed on failure
/// (a full disk leaves neither a cut file nor a stray temporary), renamed when complete.
/// With `overwrite` false an existing `path` is refused and never replaced (a hard link
/// takes the place only if it is free).
pub fn write_whole(
    path: &Path,
    overwrite: bool,
    write: impl FnOnce(&mut std::io::BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let exists = || std::fs::symlink_metadata(path).is_ok();
    if !overwrite && exists() {
        bail!(
            "{} exists (the harness never overwrites a file): choose another name",
            path.display()
        );
    }
    let tmp = temporary_name(path);
    let result = (|| -> Result<()> {
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let mut w = std::io::BufWriter::new(file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        if overwrite {
            std::fs::rename(&tmp, path)?;
        } else {
            std::fs::hard_link(&tmp, path)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    result.map_err(|e| {
        let kind = io_kind(&e);
        if !overwrite && kind == Some(std::io::ErrorKind::AlreadyExists) && exists() {
            return anyhow::anyhow!(
                "{} exists (the harness never overwrites a file): choose another name",
                path.display()
            );
        }
        anyhow::anyhow!(
            "writing {} failed ({e:#}): {}; {}",
            path.display(),
            if overwrite {
                "the file is unchanged"
            } else {
                "nothing was left under that name"
            },
            what_to_do(kind)
        )
    })
}

/// The kind of the I/O error behind `e`, if one is.
fn io_kind(e: &anyhow::Error) -> Option<std::io::ErrorKind> {
    e.chain()
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
}

/// What to do about a failed write, from its cause.
fn what_to_do(kind: Option<std::io::ErrorKind>) -> &'static str {
    use std::io::ErrorKind as K;
    match kind {
        Some(K::NotFound) => "create the folder first or give another path",
        Some(K::PermissionDenied | K::ReadOnlyFilesystem) => {
            "choose a writable folder or fix its permissions"
        }
        Some(K::StorageFull | K::QuotaExceeded | K::FileTooLarge) => {
            "free some disk space or write elsewhere, then run again"
        }
        _ => "check the folder and the disk, then run again",
    }
}

/// Writes JSON through a temporary file and a rename, so that a reader (or a Ctrl-C)
/// never sees half a file.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    write_whole(path, true, |w| Ok(w.write_all(text.as_bytes())?))
}

impl RunDir {
    /// A new run folder with `run.json` (the manifest) and a `results.csv` holding the
    /// header line: an interrupted run with no rows yet still leaves a CSV that readers
    /// (pandas.read_csv, the report) accept.
    pub fn create(root: &Path, label: &str, manifest: &impl Serialize) -> Result<RunDir> {
        let (path, id) = new_folder(root, label)?;
        write_json(&path.join("run.json"), manifest)?;
        let csv_path = path.join("results.csv");
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&csv_path)
            .with_context(|| format!("creating {}", csv_path.display()))?;
        file.write_all(&csv_header()?)
            .and_then(|()| file.flush())
            .map_err(|e| {
                anyhow::anyhow!(
                    "writing {} failed ({e}): free some disk space or write elsewhere, then run again",
                    csv_path.display()
                )
            })?;
        Ok(RunDir {
            path,
            id,
            file,
            rows: 0,
        })
    }

    /// Rewrites `run.json` (the summary grows as the run goes).
    pub fn update(&self, manifest: &impl Serialize) -> Result<()> {
        write_json(&self.path.join("run.json"), manifest)
    }

    /// Appends one row and flushes it to disk at once (an interrupted run keeps it). The
    /// row is written whole or not at all: when the write fails (a full disk) the file is cut
    /// back to its last complete row and the error names the file and the cause.
    pub fn append(&mut self, row: &Row) -> Result<()> {
        let path = self.path.join("results.csv");
        let line = row_bytes(row)?;
        let file = &mut self.file;
        let before = file.metadata().map(|m| m.len());
        let written = file.write_all(&line).and_then(|()| file.flush());
        if let Err(e) = written {
            let cut = before.and_then(|len| file.set_len(len));
            let state = match cut {
                Ok(()) => "its complete rows are kept",
                Err(_) => "its last row may be cut (the report skips it)",
            };
            self.mark_stopped();
            bail!(
                "writing {} failed ({e}): {state}; free some disk space or write elsewhere, then run again",
                path.display()
            );
        }
        self.rows += 1;
        Ok(())
    }

    /// After a failed append: `run.json` says the run stopped with the rows written so far
    /// (as after Ctrl-C), if it can still be written.
    fn mark_stopped(&self) {
        let path = self.path.join("run.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) {
            v["rows"] = self.rows.into();
            v["interrupted"] = true.into();
            v["finished"] = utc_stamp().into();
            let _ = write_json(&path, &v);
        }
    }
}

/// The CSV header line of [`Row`], as the csv crate writes it.
fn csv_header() -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(Row::default())?;
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| i + 1);
    Ok(bytes[..end].to_vec())
}

/// One row as the CSV line the csv crate writes (no header).
fn row_bytes(row: &Row) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.serialize(row)?;
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The result files of a run folder: `results.csv` (the harness) and `peers*.csv`
/// (Python peers, same columns).
pub fn result_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".csv") && (name == "results.csv" || name.starts_with("peers"))
        })
        .collect();
    files.sort();
    files
}

/// Columns without which a CSV is not a results file: every version of the harness and of
/// `scripts/peers.py` wrote them, and without them every variant would look failed.
pub const REQUIRED_COLUMNS: [&str; 4] = ["kernel", "variant", "status", "median_s"];

/// Reads every row of a CSV written by the harness or by `scripts/peers.py` (columns
/// missing from an older file take their defaults). A last row cut off mid-write (a full
/// disk, a killed process: the file does not end with a line break) is skipped with a
/// warning rather than costing the whole folder; an empty file has no rows.
pub fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let text = read_regular(path, MAX_METADATA_BYTES)?;
    parse_rows(path, &text)
}

/// [`read_rows`] of text already read (`path` names it in messages).
pub fn parse_rows(path: &Path, text: &str) -> Result<Vec<Row>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .with_context(|| format!("reading {}", path.display()))?
        .clone();
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .into_iter()
        .filter(|c| !headers.iter().any(|h| h == *c))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} lacks the column(s) {}: not a results file of `harness bench` or scripts/peers.py (its first line must be their header)",
            path.display(),
            missing.join(", ")
        );
    }
    let records: Vec<(u64, csv::Result<csv::StringRecord>)> = reader
        .records()
        .map(|r| {
            let line = match &r {
                Ok(rec) => rec.position().map_or(0, |p| p.line()),
                Err(e) => e.position().map_or(0, |p| p.line()),
            };
            (line, r)
        })
        .collect();
    let cut = !text.ends_with('\n');
    let last = records.len().saturating_sub(1);
    let mut rows = Vec::with_capacity(records.len());
    for (i, (line, record)) in records.into_iter().enumerate() {
        let parsed = record.map_err(anyhow::Error::from).and_then(|rec| {
            if rec.len() != headers.len() {
                bail!(
                    "found {} fields where the header has {}",
                    rec.len(),
                    headers.len()
                );
            }
            Ok(rec.deserialize::<Row>(Some(&headers))?)
        });
        match parsed {
            Ok(row) => {
                check_physical(&row).map_err(|e| {
                    anyhow::anyhow!(
                        "{} line {line}: {e}: fix or delete that row (a measurement cannot have it)",
                        path.display()
                    )
                })?;
                rows.push(row);
            }
            Err(e) if cut && i == last => tracing::warn!(
                "{} line {line}: the last row is incomplete ({e:#}; cut off mid-write by a full disk or a killed run): skipped",
                path.display()
            ),
            Err(e) => bail!(
                "{} line {line}: {e:#}: fix or delete that row",
                path.display()
            ),
        }
    }
    Ok(rows)
}

/// Longest time a row can report, in seconds (about 11 days: longer than any run of the
/// harness), and the shortest non-zero one (a picosecond, below one clock cycle).
const MAX_SECONDS: f64 = 1e6;
const MIN_SECONDS: f64 = 1e-12;
/// Largest count (flops, bytes, items, a size) or rate a row can report.
const MAX_AMOUNT: f64 = 1e30;

/// Refuses values no measurement can have (a median of 1e306 s, a negative size): the
/// report's log axes would try to draw hundreds of decades.
fn check_physical(row: &Row) -> std::result::Result<(), String> {
    let times = [
        ("setup_s", row.setup_s),
        ("median_s", row.median_s),
        ("ci_low_s", row.ci_low_s),
        ("ci_high_s", row.ci_high_s),
        ("mean_s", row.mean_s),
        ("min_s", row.min_s),
        ("max_s", row.max_s),
        ("warmup_s", row.warmup_s),
        ("latency_s", row.latency_s),
    ];
    for (name, v) in times {
        if let Some(v) = v
            && !(v == 0.0 || (MIN_SECONDS..=MAX_SECONDS).contains(&v))
        {
            return Err(format!(
                "{name} = {} s is not a physical time (0, or {MIN_SECONDS:e} to {MAX_SECONDS:e} s)",
                short(v)
            ));
        }
    }
    let amounts = [
        ("size", Some(row.size)),
        ("flops", Some(row.flops)),
        ("bytes", Some(row.bytes)),
        ("items", Some(row.items)),
        ("gflops", row.gflops),
        ("gbps", row.gbps),
        ("items_per_s", row.items_per_s),
        ("speedup_vs_naive", row.speedup_vs_naive),
        ("peak_gflops", row.peak_gflops),
        ("peak_gbps", row.peak_gbps),
        ("roofline_pct", row.roofline_pct),
        ("device_busy", row.device_busy),
        ("ratio", row.ratio),
        ("ratio_low", row.ratio_low),
        ("ratio_high", row.ratio_high),
    ];
    for (name, v) in amounts {
        if let Some(v) = v
            && !(0.0..=MAX_AMOUNT).contains(&v)
        {
            return Err(format!(
                "{name} = {} is out of range (0 to {MAX_AMOUNT:e})",
                short(v)
            ));
        }
    }
    Ok(())
}

/// A number in a message: exponent form, never 309 digits.
fn short(v: f64) -> String {
    crate::render::fmt::fmt_number(v)
}

/// The most recent run folder under `root`: the latest `started` time recorded in its
/// `run.json` (a copied folder keeps its original time, whatever its name), else the
/// modification time of its `results.csv`; the folder name breaks ties.
pub fn latest_run(root: &Path) -> Option<PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("results.csv").is_file())
        .map(|p| (started_of(&p), p))
        .max()
        .map(|(_, p)| p)
}

/// When the run in `dir` started, as a sortable UTC stamp.
fn started_of(dir: &Path) -> String {
    RunManifest::read(dir)
        .map(|m| m.started)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let modified = std::fs::metadata(dir.join("results.csv"))
                .ok()?
                .modified()
                .ok()?;
            Some(stamp_of(modified))
        })
        .unwrap_or_default()
}

/// `20261121T042513Z`, from the system clock (no time-zone database needed).
pub fn utc_stamp() -> String {
    stamp_of(std::time::SystemTime::now())
}

/// `20261121T042513Z` of a given time.
fn stamp_of(time: std::time::SystemTime) -> String {
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_columns_left_empty_read_as_defaults() {
        let header = String::from_utf8(csv_header().unwrap()).unwrap();
        let names: Vec<&str> = header.trim_end().split(',').collect();
        let row = Row {
            kernel: "k".into(),
            variant: "v".into(),
            interleaved: true,
            rounds: 7,
            ..Row::default()
        };
        let line = String::from_utf8(row_bytes(&row).unwrap()).unwrap();
        let mut cells: Vec<String> = line.trim_end().split(',').map(String::from).collect();
        assert_eq!(cells.len(), names.len(), "{line}");
        for (i, name) in names.iter().enumerate() {
            if ["interleaved", "rounds", "baseline", "ratio", "verdict"].contains(name) {
                cells[i].clear();
            }
        }
        let text = format!("{header}{}\n", cells.join(","));
        let rows = parse_rows(Path::new("peers.csv"), &text).expect("empty cells read");
        assert!(!rows[0].interleaved && rows[0].rounds == 0 && rows[0].ratio.is_none());
        let text = format!("{header}{line}");
        let rows = parse_rows(Path::new("results.csv"), &text).unwrap();
        assert!(rows[0].interleaved && rows[0].rounds == 7, "{:?}", rows[0]);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20413), (2025, 11, 21));
        assert_eq!(civil_from_days(11016), (2000, 2, 29));
    }
}

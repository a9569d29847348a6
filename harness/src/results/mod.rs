//! What runs leave on disk: run folders and the results CSV (here: one new folder per run,
//! never overwritten, and one row per (kernel, case, variant, size, threads, precision),
//! appended and flushed as it finishes), and the timelines' data: [`events`] (the
//! intervals a pipeline variant records) and [`stages`] (the stages a variant times inside
//! its run). Drawing them is [`crate::render`]'s.

pub mod events;
pub mod stages;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use kernels::{Availability, Params, Precision, Strategy};

use crate::measure::ceilings::Ceiling;
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
    pub ceilings: Vec<Ceiling>,
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
    pub fn read(dir: &Path) -> Option<RunManifest> {
        let text = std::fs::read_to_string(dir.join("run.json")).ok()?;
        serde_json::from_str(&text).ok()
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
/// (`scripts/peers.py`) write the same columns.
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
    writer: csv::Writer<File>,
}

/// Creates `<root>/<UTC time>-<label>` (with a suffix if that exists: never reuses one).
pub fn new_folder(root: &Path, label: &str) -> Result<(PathBuf, String)> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let stamp = utc_stamp();
    (0..1000)
        .map(|i| {
            let id = if i == 0 {
                format!("{stamp}-{label}")
            } else {
                format!("{stamp}-{label}-{i}")
            };
            (root.join(&id), id)
        })
        .find(|(p, _)| std::fs::create_dir(p).is_ok())
        .context("could not create a new folder")
}

/// Writes JSON through a temporary file and a rename, so that a reader (or a Ctrl-C)
/// never sees half a file.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(value)? + "\n")?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

impl RunDir {
    /// A new run folder with `run.json` (the manifest) and an empty `results.csv`.
    pub fn create(root: &Path, label: &str, manifest: &impl Serialize) -> Result<RunDir> {
        let (path, id) = new_folder(root, label)?;
        write_json(&path.join("run.json"), manifest)?;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path.join("results.csv"))?;
        Ok(RunDir {
            path,
            id,
            writer: csv::Writer::from_writer(file),
        })
    }

    /// Rewrites `run.json` (the summary grows as the run goes).
    pub fn update(&self, manifest: &impl Serialize) -> Result<()> {
        write_json(&self.path.join("run.json"), manifest)
    }

    /// Appends one row and flushes it to disk at once (an interrupted run keeps it).
    pub fn append(&mut self, row: &Row) -> Result<()> {
        self.writer.serialize(row)?;
        self.writer.flush()?;
        Ok(())
    }
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

/// Reads every row of a CSV written by the harness or by `scripts/peers.py` (columns
/// missing from an older file take their defaults).
pub fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    reader
        .deserialize()
        .enumerate()
        .map(|(i, r)| r.with_context(|| format!("{} row {}", path.display(), i + 2)))
        .collect()
}

/// The most recent run folder under `root` (folder names start with their UTC time).
pub fn latest_run(root: &Path) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("results.csv").is_file())
        .collect();
    runs.sort();
    runs.pop()
}

/// `20261121T042513Z`, from the system clock (no time-zone database needed).
pub fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now()
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
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20413), (2025, 11, 21));
        assert_eq!(civil_from_days(11016), (2000, 2, 29));
    }
}

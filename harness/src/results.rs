//! Run folders and the results CSV: one new folder per run (never overwritten), one row per
//! (kernel, case, variant, size, threads, precision), appended and flushed as it finishes.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::machine::Machine;

/// One result row. Column meanings are documented in reports/README.md.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Row {
    pub run_id: String,
    pub kernel: String,
    pub case: String,
    pub variant: String,
    pub strategy: String,
    pub precision: String,
    /// All parameters, `name=value` separated by spaces.
    pub params: String,
    /// The value of the kernel's size parameter (n, fits, ...), for scaling curves.
    pub size: f64,
    pub threads: usize,
    /// ok, failed, skipped, n/a.
    pub status: String,
    pub reason: String,
    /// max|ref − out| / max|ref| (the worst over output arrays).
    pub error: Option<f64>,
    pub tolerance: Option<f64>,
    pub reference: String,
    pub setup_s: Option<f64>,
    pub median_s: Option<f64>,
    pub min_s: Option<f64>,
    pub max_s: Option<f64>,
    /// Interquartile range over median.
    pub spread: Option<f64>,
    pub samples: usize,
    pub speedup_vs_naive: Option<f64>,
    pub gflops: Option<f64>,
    pub gbps: Option<f64>,
    pub items_per_s: Option<f64>,
    /// Stages measured inside the run, `name=seconds;...`.
    pub stages: String,
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
        self
    }
}

/// A run folder under `reports/`, with its CSV open for appending.
pub struct RunDir {
    pub path: PathBuf,
    pub id: String,
    writer: csv::Writer<File>,
}

impl RunDir {
    /// Creates `<root>/<UTC time>-<label>` (with a suffix if that exists: never reuses one).
    pub fn create(root: &Path, label: &str, manifest: &impl Serialize) -> Result<RunDir> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let stamp = utc_stamp();
        let (path, id) = (0..1000)
            .map(|i| {
                let id = if i == 0 {
                    format!("{stamp}-{label}")
                } else {
                    format!("{stamp}-{label}-{i}")
                };
                (root.join(&id), id)
            })
            .find(|(p, _)| std::fs::create_dir(p).is_ok())
            .context("could not create a new run folder")?;
        std::fs::write(
            path.join("run.json"),
            serde_json::to_string_pretty(manifest)?,
        )?;
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

    /// Appends one row and flushes it to disk at once (an interrupted run keeps it).
    pub fn append(&mut self, row: &Row) -> Result<()> {
        self.writer.serialize(row)?;
        self.writer.flush()?;
        Ok(())
    }
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

//! Loading run folders into one dataset: rows from `results.csv` and `peers*.csv`, each
//! keyed by the machine it was measured on, with the machines' ceilings from `run.json`.

use kernels::Strategy;

use crate::results::Status;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::measure::ceilings::{self, Ceiling};
use crate::measure::machine::Machine;
use crate::results::{self, Row, RunManifest};

/// One row and where it came from.
#[derive(Clone, Debug)]
pub struct Entry {
    pub row: Row,
    /// Index into [`Dataset::machines`].
    pub machine: usize,
    /// Index into [`Dataset::runs`].
    pub run: usize,
    /// Position of this variant's first row in the files (order of unknown variants).
    pub order: usize,
}

impl Entry {
    pub fn ok(&self) -> bool {
        self.row.status == Status::Ok && self.row.median_s.is_some_and(|m| m > 0.0)
    }
    pub fn median(&self) -> f64 {
        self.row.median_s.unwrap_or(f64::NAN)
    }
    pub fn is_rust(&self) -> bool {
        self.row.runtime.is_empty() || self.row.runtime == "rust"
    }
}

#[derive(Clone, Debug)]
pub struct RunInfo {
    pub path: PathBuf,
    pub id: String,
    pub manifest: Option<RunManifest>,
    pub files: Vec<PathBuf>,
    /// `flamegraph-*.svg` in the folder (or its `flamegraphs/`).
    pub flamegraphs: Vec<PathBuf>,
}

/// A machine, as identified by its fingerprint (CPU model, cores, memory, OS).
#[derive(Clone, Debug, Default)]
pub struct MachineInfo {
    /// `M1`, `M2`, ... in order of appearance.
    pub label: String,
    pub key: String,
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub os: String,
    pub simd: String,
    pub gpu: String,
    pub gpu_software: bool,
    pub rustc: BTreeSet<String>,
    pub commits: BTreeSet<String>,
    pub runtimes: BTreeSet<String>,
    pub runs: BTreeSet<String>,
    pub ceilings: Vec<Ceiling>,
}

impl MachineInfo {
    /// The ceilings at the largest thread count measured.
    pub fn top_ceiling(&self) -> Option<&Ceiling> {
        self.ceilings.iter().max_by_key(|c| c.threads)
    }
    pub fn short(&self) -> String {
        format!("{} ({}, {} cores)", self.label, self.cpu, self.cores)
    }
}

pub fn machine_key(cpu: &str, cores: usize, memory_gib: f64, os: &str) -> String {
    format!("{cpu} | {cores} cores | {memory_gib:.1} GiB | {os}")
}

fn key_of_row(r: &Row) -> String {
    machine_key(&r.cpu, r.cores, r.memory_gib, &r.os)
}

fn key_of_machine(m: &Machine) -> String {
    machine_key(&m.cpu, m.cores, m.memory_gib, &m.os)
}

#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub runs: Vec<RunInfo>,
    pub machines: Vec<MachineInfo>,
    pub entries: Vec<Entry>,
    /// Rows dropped because a later run measured the same thing on the same machine.
    pub replaced: usize,
}

impl Dataset {
    pub fn load(dirs: &[PathBuf]) -> Result<Dataset> {
        let mut data = Dataset::default();
        for dir in dirs {
            let files = results::result_files(dir);
            if files.is_empty() {
                anyhow::bail!(
                    "{} has no results.csv or peers*.csv: give a run folder made by `harness bench`",
                    dir.display()
                );
            }
            let run = data.runs.len();
            let manifest = manifest_of(dir);
            let id = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| dir.display().to_string());
            if let Some(m) = &manifest {
                let i = data.machine_index(&key_of_machine(&m.machine));
                let info = &mut data.machines[i];
                fill_machine(info, &m.machine);
                if info.ceilings.is_empty() {
                    info.ceilings = m.ceilings.clone();
                }
                info.runs.insert(id.clone());
            }
            for file in &files {
                for row in results::read_rows(file)? {
                    let i = data.machine_index(&key_of_row(&row));
                    let info = &mut data.machines[i];
                    if info.cpu.is_empty() {
                        info.cpu = row.cpu.clone();
                        info.cores = row.cores;
                        info.memory_gib = row.memory_gib;
                        info.os = row.os.clone();
                    }
                    if row.runtime == "rust" || row.runtime.is_empty() {
                        if info.simd.is_empty() {
                            info.simd = row.simd.clone();
                            info.gpu = gpu_label(&row.gpu_adapter, &row.gpu_type, &row.gpu_backend);
                            info.gpu_software = row.gpu_type.contains("software");
                        }
                        if !row.rustc.is_empty() {
                            info.rustc.insert(row.rustc.clone());
                        }
                    }
                    if !row.git_commit.is_empty() {
                        info.commits.insert(row.git_commit.clone());
                    }
                    info.runtimes.insert(if row.runtime.is_empty() {
                        "rust".into()
                    } else {
                        row.runtime.clone()
                    });
                    info.runs.insert(id.clone());
                    let order = data
                        .entries
                        .iter()
                        .position(|e| e.row.kernel == row.kernel && e.row.variant == row.variant)
                        .unwrap_or(data.entries.len());
                    data.entries.push(Entry {
                        row,
                        machine: i,
                        run,
                        order,
                    });
                }
            }
            data.runs.push(RunInfo {
                path: dir.clone(),
                id,
                manifest,
                files,
                flamegraphs: flamegraphs(dir),
            });
        }
        data.dedup();
        Ok(data)
    }

    fn machine_index(&mut self, key: &str) -> usize {
        if let Some(i) = self.machines.iter().position(|m| m.key == key) {
            return i;
        }
        self.machines.push(MachineInfo {
            label: format!("M{}", self.machines.len() + 1),
            key: key.to_string(),
            ..MachineInfo::default()
        });
        self.machines.len() - 1
    }

    /// The same measurement (machine, problem, variant, threads, runtime) in several runs:
    /// the latest wins.
    fn dedup(&mut self) {
        let mut latest: HashMap<String, usize> = HashMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            let r = &e.row;
            let key = format!(
                "{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}",
                e.machine, r.kernel, r.case, r.params, r.variant, r.threads, r.runtime
            );
            match latest.get(&key) {
                Some(&j) if self.entries[j].row.timestamp > r.timestamp => {}
                _ => {
                    latest.insert(key, i);
                }
            }
        }
        let keep: BTreeSet<usize> = latest.into_values().collect();
        self.replaced = self.entries.len() - keep.len();
        let mut i = 0;
        self.entries.retain(|_| {
            i += 1;
            keep.contains(&(i - 1))
        });
    }

    /// The ceilings that apply to an entry (its machine's, at its thread count), if the
    /// entry runs on the CPU (a software GPU adapter does).
    pub fn ceiling(&self, e: &Entry) -> Option<&Ceiling> {
        let m = &self.machines[e.machine];
        if e.row.strategy == Strategy::Gpu && !m.gpu_software {
            return None;
        }
        ceilings::for_threads(&m.ceilings, e.row.threads)
    }

    /// Roofline percentage: the row's own, else computed from its machine's ceilings.
    pub fn roofline_pct(&self, e: &Entry) -> Option<f64> {
        if !e.ok() {
            return None;
        }
        if let Some(p) = e.row.roofline_pct {
            return Some(p);
        }
        let c = self.ceiling(e)?;
        let (f, b) = (e.row.flops, e.row.bytes);
        (f > 0.0 && b > 0.0)
            .then(|| 100.0 * (f / e.median() / 1e9) / c.limit_gflops(f / b, e.row.precision))
    }
}

/// The folder's `run.json`, said aloud when broken (the report goes on from the rows), its
/// images only those inside the folder.
fn manifest_of(dir: &Path) -> Option<RunManifest> {
    let mut m = match RunManifest::load(dir) {
        Ok(m) => m?,
        Err(e) => {
            tracing::warn!("{e:#}; the report leaves out its machine's ceilings and images");
            return None;
        }
    };
    m.images
        .retain(|img| match results::inside_run(dir, &img.file) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!("{e:#}; that image is left out of the report");
                false
            }
        });
    Some(m)
}

fn fill_machine(info: &mut MachineInfo, m: &Machine) {
    if info.cpu.is_empty() {
        info.cpu = m.cpu.clone();
        info.cores = m.cores;
        info.memory_gib = m.memory_gib;
        info.os = m.os.clone();
    }
    if info.simd.is_empty() && !m.simd.is_empty() {
        info.simd = m.simd.clone();
        info.gpu = gpu_label(&m.gpu_adapter, &m.gpu_type, &m.gpu_backend);
        info.gpu_software = m.gpu_type.contains("software");
    }
    if !m.rustc.is_empty() {
        info.rustc.insert(m.rustc.clone());
    }
}

fn gpu_label(adapter: &str, kind: &str, backend: &str) -> String {
    if kind == "none" || kind.is_empty() {
        adapter.to_string()
    } else {
        format!("{adapter} [{kind}, {backend}]")
    }
}

fn flamegraphs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = [dir.to_path_buf(), dir.join("flamegraphs")]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with("flamegraph-") && n.ends_with(".svg")
        })
        .collect();
    out.sort();
    out
}

/// `path` relative to folder `from` (both made absolute), for links between the report
/// folder and run folders.
pub fn relative_path(from: &Path, path: &Path) -> String {
    let abs = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (from, path) = (abs(from), abs(path));
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = path.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return path.display().to_string();
    }
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), a.len() - common).collect();
    parts.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// Checks that a folder exists and holds results, with a message that says what to do.
pub fn check_run_dir(dir: &Path) -> Result<()> {
    std::fs::metadata(dir)
        .with_context(|| format!("{}: no such run folder", dir.display()))
        .map(|_| ())
}

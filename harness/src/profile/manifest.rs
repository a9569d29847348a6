//! `profile.json`: the command, the machine, and per variant its samples, runs and files.

use serde::{Deserialize, Serialize};

use crate::measure::machine::Machine;

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
    /// `kernel/case/variant`.
    pub fn id(&self) -> String {
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

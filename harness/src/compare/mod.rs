//! Two runs compared row by row (`harness compare RUN_A RUN_B`): before and after a change,
//! two commits, two machines.
//!
//! Layers, as in the report: [`side`] loads each side (one run folder, or the shard
//! folders of one suite) with the report's reader, [`rows`] matches the rows and computes
//! each ratio `time in B / time in A` with its 95 % interval from
//! [`crate::measure::paired`] (from the samples files when both rows kept theirs, else
//! from the rows' intervals), [`text`] and [`json`] lay the result out; [`threshold`]
//! reads `--fail-above`. The command itself is [`crate::cmd::compare`].

pub mod json;
pub mod rows;
pub mod side;
pub mod text;
pub mod threshold;

use kernels::{Params, Precision};

use crate::measure::paired::Verdict;
use crate::results::Status;

/// What identifies a row across runs. Field order is the sort order of every output:
/// kernel, case, parameters (numerically), variant, threads, precision.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub kernel: String,
    pub case: String,
    pub params: Params,
    pub variant: String,
    pub threads: usize,
    pub precision: Precision,
}

impl std::fmt::Display for Key {
    /// `laue/square/naive [n=8] ×1 f64`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{} [{}] ×{} {}",
            self.kernel,
            self.case,
            self.variant,
            self.params,
            self.threads,
            self.precision.as_str()
        )
    }
}

/// Where a row's ratio interval comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Both samples files: [`crate::measure::paired::unpaired`].
    Samples,
    /// Both rows' medians and intervals: [`crate::measure::paired::from_intervals`].
    Intervals,
    /// A side has a single sample (or no interval): the ratio of medians, no interval.
    Medians,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Samples => "samples",
            Method::Intervals => "intervals",
            Method::Medians => "medians",
        }
    }
}

/// A row ok on both sides, compared.
#[derive(Clone, Debug, PartialEq)]
pub struct Compared {
    pub key: Key,
    pub a_median: f64,
    pub b_median: f64,
    /// `b_median / a_median` (or the samples' ratio of medians, the same number).
    pub ratio: f64,
    /// The ratio's 95 % interval; `None` with [`Method::Medians`].
    pub interval: Option<(f64, f64)>,
    /// At the comparison's threshold; `None` without an interval (unresolved).
    pub verdict: Option<Verdict>,
    pub method: Method,
}

impl Compared {
    /// The verdict in words: faster, slower, no difference, or unresolved.
    pub fn verdict_text(&self) -> String {
        self.verdict
            .map_or_else(|| "unresolved".to_string(), |v| v.to_string())
    }
}

/// A row present on both sides but not ok on both (a variant that now fails, or now runs).
#[derive(Clone, Debug, PartialEq)]
pub struct NotOk {
    pub key: Key,
    pub a_status: Status,
    pub b_status: Status,
    pub a_reason: String,
    pub b_reason: String,
}

/// A row on one side only.
#[derive(Clone, Debug, PartialEq)]
pub struct Lone {
    pub key: Key,
    pub status: Status,
}

/// One side as the outputs describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct SideInfo {
    /// The folders as given (several: the shards of one suite).
    pub folders: Vec<String>,
    pub run_ids: Vec<String>,
    pub machine: Fingerprint,
    pub commits: Vec<String>,
    /// `(count, selection)` when the side is a shard suite.
    pub shards: Option<(usize, String)>,
}

/// What identifies a machine (reports/README.md): CPU model, cores, memory, OS.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fingerprint {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub os: String,
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} · {} cores · {:.1} GiB · {}",
            self.cpu, self.cores, self.memory_gib, self.os
        )
    }
}

/// The whole comparison, as every output lays it out.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub a: SideInfo,
    pub b: SideInfo,
    /// The relative change verdicts ignore: `--fail-above`, else 0 (any change the
    /// intervals resolve).
    pub threshold: f64,
    pub fail_above: Option<f64>,
    /// By [`Key`].
    pub rows: Vec<Compared>,
    pub not_ok: Vec<NotOk>,
    pub only_in_a: Vec<Lone>,
    pub only_in_b: Vec<Lone>,
    /// Fallbacks and caveats (a samples file that could not be read, ...).
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn same_machine(&self) -> bool {
        self.a.machine == self.b.machine
    }

    /// Rows slower beyond the threshold with 95 % confidence: the whole interval above
    /// `1 + threshold`.
    pub fn regressions(&self) -> impl Iterator<Item = &Compared> {
        self.rows
            .iter()
            .filter(|r| r.verdict == Some(Verdict::Slower))
    }

    /// Whether `--fail-above` was given and some row is beyond it.
    pub fn gate_fails(&self) -> bool {
        self.fail_above.is_some() && self.regressions().next().is_some()
    }
}

/// A ratio with three decimals near 1 (`1.016`), three significant digits far from it.
pub fn fmt_ratio(r: f64) -> String {
    if (0.1..100.0).contains(&r) {
        format!("{r:.3}")
    } else {
        crate::render::fmt::sig3(r)
    }
}

/// A relative threshold as a percentage: `5%`, `0.5%`.
pub fn fmt_threshold(t: f64) -> String {
    let pct = 100.0 * t;
    if pct == pct.round() {
        format!("{pct:.0}%")
    } else {
        format!("{}%", crate::render::fmt::sig3(pct))
    }
}

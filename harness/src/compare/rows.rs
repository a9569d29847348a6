//! Matching two sides' rows by [`Key`] and comparing those ok on both: the ratio
//! `time in B / time in A` (below 1: B is faster) with its 95 % interval, from the best
//! evidence both rows kept (see [`Method`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};

use super::side::Side;
use super::{Compared, Comparison, Key, Lone, Method, NotOk};
use crate::measure::paired::{self, Interval, Ratio};
use crate::report::data::Entry;
use crate::report::shards;
use crate::results::{self, Status};

/// Which rows take part (the command's `--kernel`, `--case`, `--variant`, `--threads` and
/// kernel-parameter flags); the default keeps every row.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub kernel: Option<String>,
    pub case: Option<String>,
    /// Variant names or full ids (`laue/strained/parallel`); any of them.
    pub variants: Vec<String>,
    pub threads: Option<usize>,
    /// Parameter name → accepted values.
    pub params: BTreeMap<String, Vec<f64>>,
}

impl Filter {
    fn keeps(&self, k: &Key) -> bool {
        let id = format!("{}/{}/{}", k.kernel, k.case, k.variant);
        self.kernel.as_ref().is_none_or(|x| *x == k.kernel)
            && self.case.as_ref().is_none_or(|x| *x == k.case)
            && (self.variants.is_empty()
                || self.variants.iter().any(|v| *v == k.variant || *v == id))
            && self.threads.is_none_or(|t| t == k.threads)
            && self
                .params
                .iter()
                .all(|(name, values)| k.params.get(name).is_ok_and(|v| values.contains(&v)))
    }

    fn is_empty(&self) -> bool {
        self.kernel.is_none()
            && self.case.is_none()
            && self.variants.is_empty()
            && self.threads.is_none()
            && self.params.is_empty()
    }
}

fn key_of(e: &Entry) -> Key {
    let r = &e.row;
    Key {
        kernel: r.kernel.clone(),
        case: r.case.clone(),
        params: r.params.clone(),
        variant: r.variant.clone(),
        threads: r.threads,
        precision: r.precision,
    }
}

/// A side's rows by key, the latest row winning where one key appears twice.
fn by_key<'a>(side: &'a Side, filter: &Filter) -> BTreeMap<Key, (&'a Entry, &'a Path)> {
    let mut out: BTreeMap<Key, (&Entry, &Path)> = BTreeMap::new();
    for (e, dir) in side.entries() {
        let k = key_of(e);
        if !filter.keeps(&k) {
            continue;
        }
        match out.get(&k) {
            Some((old, _)) if old.row.timestamp > e.row.timestamp => {}
            _ => {
                out.insert(k, (e, dir));
            }
        }
    }
    out
}

/// Compares side `b` against side `a` at `threshold` (verdicts ignore relative changes
/// within it). Refuses two sides with no row in common.
pub fn compare(
    a: &Side,
    b: &Side,
    filter: &Filter,
    threshold: f64,
    fail_above: Option<f64>,
) -> Result<Comparison> {
    let (rows_a, rows_b) = (by_key(a, filter), by_key(b, filter));
    if !rows_a.keys().any(|k| rows_b.contains_key(k)) {
        bail!(
            "compare: RUN_A ({} rows{}) and RUN_B ({} rows) have no (kernel, case, variant, parameters, threads, precision) in common: give two runs of the same problems{}",
            rows_a.len(),
            if filter.is_empty() { "" } else { " selected" },
            rows_b.len(),
            if filter.is_empty() {
                ""
            } else {
                ", or select fewer rows"
            }
        );
    }
    let mut c = Comparison {
        a: a.info.clone(),
        b: b.info.clone(),
        threshold,
        fail_above,
        rows: Vec::new(),
        not_ok: Vec::new(),
        only_in_a: lone(&rows_a, &rows_b),
        only_in_b: lone(&rows_b, &rows_a),
        notes: shard_notes(a).into_iter().chain(shard_notes(b)).collect(),
    };
    for (key, (ea, dir_a)) in &rows_a {
        let Some((eb, dir_b)) = rows_b.get(key) else {
            continue;
        };
        if ea.ok() && eb.ok() {
            let (row, notes) = compared(key, (ea, dir_a), (eb, dir_b), threshold);
            c.rows.push(row);
            c.notes.extend(notes);
        } else {
            c.not_ok.push(NotOk {
                key: key.clone(),
                a_status: status_of(ea),
                b_status: status_of(eb),
                a_reason: ea.row.reason.clone(),
                b_reason: eb.row.reason.clone(),
            });
        }
    }
    Ok(c)
}

/// A row's status as compared: an `ok` row without a time is not ok.
fn status_of(e: &Entry) -> Status {
    match e.row.status {
        Status::Ok if !e.ok() => Status::Failed,
        s => s,
    }
}

fn lone(
    this: &BTreeMap<Key, (&Entry, &Path)>,
    other: &BTreeMap<Key, (&Entry, &Path)>,
) -> Vec<Lone> {
    this.iter()
        .filter(|(k, _)| !other.contains_key(k))
        .map(|(k, (e, _))| Lone {
            key: k.clone(),
            status: status_of(e),
        })
        .collect()
}

/// A side whose shards do not cover the whole suite.
fn shard_notes(side: &Side) -> Option<String> {
    let suite = shards::suites(&side.data).into_iter().next()?;
    let missing = suite.missing();
    (side.info.folders.len() > 1 && !missing.is_empty()).then(|| {
        let list: Vec<String> = missing
            .iter()
            .map(|i| format!("{i}/{}", suite.count))
            .collect();
        format!(
            "RUN_{} lacks shard(s) {}: their rows are missing from it",
            side.name,
            list.join(", ")
        )
    })
}

/// One row ok on both sides: the ratio and the notes on how it was obtained.
fn compared(
    key: &Key,
    (ea, dir_a): (&Entry, &Path),
    (eb, dir_b): (&Entry, &Path),
    threshold: f64,
) -> (Compared, Vec<String>) {
    let mut notes = Vec::new();
    let mut samples = |name: &str, e: &Entry, dir: &Path| {
        samples_of(e, dir)
            .map_err(|err| {
                notes.push(format!(
                    "RUN_{name}: {err:#}: {key} is compared from the rows' intervals"
                ))
            })
            .ok()
            .flatten()
    };
    let (sa, sb) = (samples("A", ea, dir_a), samples("B", eb, dir_b));
    let (method, ratio) = match (sa, sb) {
        (Some(sa), Some(sb)) if sa.len() > 1 && sb.len() > 1 => {
            (Method::Samples, paired::unpaired(&sb, &sa))
        }
        _ => match (interval_of(ea), interval_of(eb)) {
            (Some(ia), Some(ib)) => (Method::Intervals, Some(paired::from_intervals(ib, ia))),
            _ => (Method::Medians, None),
        },
    };
    let (a_median, b_median) = (ea.median(), eb.median());
    let row = Compared {
        key: key.clone(),
        a_median,
        b_median,
        ratio: ratio.map_or(b_median / a_median, |r: Ratio| r.ratio),
        interval: ratio.map(|r| (r.low, r.high)),
        verdict: ratio.map(|r| r.verdict(threshold)),
        method,
    };
    (row, notes)
}

/// The row's samples: `None` when it names no file; an error when it names one that
/// cannot be read (missing, outside the folder, not a samples file).
fn samples_of(e: &Entry, dir: &Path) -> Result<Option<Vec<f64>>> {
    if e.row.samples_file.is_empty() {
        return Ok(None);
    }
    let path = results::inside_run(dir, &e.row.samples_file)?;
    Ok(Some(results::samples::read(&path)?))
}

/// The row's median and 95 % interval, when it has a real one (two samples or more, the
/// interval around the median).
fn interval_of(e: &Entry) -> Option<Interval> {
    let r = &e.row;
    let (median, low, high) = (r.median_s?, r.ci_low_s?, r.ci_high_s?);
    (r.samples > 1 && 0.0 < low && low <= median && median <= high).then_some(Interval {
        median,
        low,
        high,
    })
}

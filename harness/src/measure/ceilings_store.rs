//! The best ceilings measured on each machine, kept with the date each was measured in
//! `<out>/ceilings.json`, so that one run on a busy machine does not make every
//! `% of roofline` wrong: a run once measured GEMM at 39.7 GFLOP/s f64 on a machine that
//! reaches 160–200 when quiet, and its factorised Laue showed "96 %" of a roofline four
//! times too low.
//!
//! A ceiling is the fastest the machine can go, so the best measurement is the truest: a
//! run uses the kept value when it measures less, keeps what it measures when it is more,
//! and flags a measurement under [`FAR_BELOW`] of the kept value (the machine was busy or
//! throttled then, and its timings may be slow too). Entries are keyed by the machine's
//! fingerprint (CPU with its family and model, cores, memory, OS) and thread count; one
//! measured with another GEMM size or copy size is replaced, not compared. The file is the
//! harness's own cache: an unreadable or invalid one is ignored with a warning and
//! rewritten, never fatal; delete it (or a machine's entry) to start afresh after changing
//! the machine.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ceilings::Ceiling;
use super::machine::Machine;

/// A measurement under this share of the kept one is flagged.
pub const FAR_BELOW: f64 = 0.7;

/// The file's name under the `--out` root.
pub const FILE: &str = "ceilings.json";

/// Largest ceilings.json read (a real one is a few kilobytes per machine).
const MAX_BYTES: u64 = 16 << 20;

/// Largest rate kept (GFLOP/s or GB/s): a petaflop is far beyond any CPU, so more is a
/// corrupt value that would make every roofline percentage tiny.
const MAX_RATE: f64 = 1e6;

/// `ceilings.json`: per machine fingerprint, its best ceilings per thread count.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Store {
    pub machines: BTreeMap<String, Vec<Kept>>,
}

/// The best ceilings kept for one thread count of one machine.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Kept {
    pub threads: usize,
    /// The measurement's sizes: values are compared only between equal sizes.
    pub gemm_n: usize,
    pub copy_mib: usize,
    pub gemm_f64_gflops: Best,
    pub gemm_f32_gflops: Best,
    pub copy_gbps: Best,
}

/// One kept value and when it was measured (`20261121T042513Z`, UTC).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Best {
    pub value: f64,
    pub date: String,
}

/// A ceiling this run measured below the kept one (`run.json`'s `ceilings_below_kept`):
/// the kept value was used.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Below {
    pub threads: usize,
    /// `gemm_f64_gflops`, `gemm_f32_gflops` or `copy_gbps`.
    pub metric: String,
    pub measured: f64,
    pub kept: f64,
    /// When the kept value was measured.
    pub kept_date: String,
    /// Measured under [`FAR_BELOW`] of the kept value.
    pub far_below: bool,
}

impl Below {
    /// `GEMM f64 on 2 thread(s): measured 39.7 GFLOP/s, kept 180 from 20261121T042513Z`.
    pub fn describe(&self) -> String {
        let (what, unit) = match self.metric.as_str() {
            "gemm_f64_gflops" => ("GEMM f64", "GFLOP/s"),
            "gemm_f32_gflops" => ("GEMM f32", "GFLOP/s"),
            _ => ("copy", "GB/s"),
        };
        format!(
            "{what} on {} thread(s): measured {:.1} {unit} ({:.0} % of the {:.1} kept from {})",
            self.threads,
            self.measured,
            100.0 * self.measured / self.kept,
            self.kept,
            self.kept_date
        )
    }
}

/// What a run uses: per thread count the best of today's and the kept ceilings, and where
/// today's were lower.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Merged {
    pub used: Vec<Ceiling>,
    pub below: Vec<Below>,
}

/// Merges today's `measured` ceilings (dated `date`) into a machine's `kept` list: kept
/// values raised where today's are higher, today's replaced by kept ones where lower.
pub fn merge(kept: &mut Vec<Kept>, measured: &[Ceiling], date: &str) -> Merged {
    let mut merged = Merged::default();
    for m in measured {
        let comparable = |k: &&mut Kept| {
            k.threads == m.threads && k.gemm_n == m.gemm_n && k.copy_mib == m.copy_mib
        };
        let Some(k) = kept.iter_mut().find(comparable) else {
            // Nothing comparable kept (none yet, or measured at other sizes): today's values
            // are the best known, when they were measured at all.
            let fresh = Kept::of(m, date);
            if fresh.sane() {
                kept.retain(|k| k.threads != m.threads);
                kept.push(fresh);
            }
            merged.used.push(m.clone());
            continue;
        };
        let mut used = m.clone();
        for (metric, today, best) in [
            (
                "gemm_f64_gflops",
                &mut used.gemm_f64_gflops,
                &mut k.gemm_f64_gflops,
            ),
            (
                "gemm_f32_gflops",
                &mut used.gemm_f32_gflops,
                &mut k.gemm_f32_gflops,
            ),
            ("copy_gbps", &mut used.copy_gbps, &mut k.copy_gbps),
        ] {
            if let Some(b) = keep_best(m.threads, metric, today, best, date) {
                merged.below.push(b);
            }
        }
        merged.used.push(used);
    }
    merged
}

/// One metric: raises `best` to `today` when higher (or when today's is the only sane one),
/// else sets `today` to the kept value and says by how much it was below.
fn keep_best(
    threads: usize,
    metric: &str,
    today: &mut f64,
    best: &mut Best,
    date: &str,
) -> Option<Below> {
    if !sane_rate(*today) {
        // Not measured (a Ctrl-C during the ceilings): the kept value stands in.
        *today = best.value;
        return None;
    }
    if *today >= best.value {
        *best = Best {
            value: *today,
            date: date.to_string(),
        };
        return None;
    }
    let below = Below {
        threads,
        metric: metric.to_string(),
        measured: *today,
        kept: best.value,
        kept_date: best.date.clone(),
        far_below: *today < FAR_BELOW * best.value,
    };
    *today = best.value;
    Some(below)
}

impl Kept {
    fn of(c: &Ceiling, date: &str) -> Kept {
        let best = |value: f64| Best {
            value,
            date: date.to_string(),
        };
        Kept {
            threads: c.threads,
            gemm_n: c.gemm_n,
            copy_mib: c.copy_mib,
            gemm_f64_gflops: best(c.gemm_f64_gflops),
            gemm_f32_gflops: best(c.gemm_f32_gflops),
            copy_gbps: best(c.copy_gbps),
        }
    }

    /// Whether every value could have been measured: a positive finite rate below
    /// [`MAX_RATE`] with a plausible date, and a thread count.
    fn sane(&self) -> bool {
        let date_ok = |d: &str| {
            !d.is_empty() && d.len() <= 32 && d.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        self.threads > 0
            && [
                &self.gemm_f64_gflops,
                &self.gemm_f32_gflops,
                &self.copy_gbps,
            ]
            .iter()
            .all(|b| sane_rate(b.value) && date_ok(&b.date))
    }
}

fn sane_rate(v: f64) -> bool {
    v.is_finite() && v > 0.0 && v < MAX_RATE
}

/// Parses `ceilings.json`'s text: the store and a warning for what was left out (the whole
/// file when it is not a store, single entries when their values are impossible).
pub fn parse(text: &str) -> (Store, Vec<String>) {
    let mut store: Store = match serde_json::from_str(text) {
        Ok(s) => s,
        Err(e) => {
            return (
                Store::default(),
                vec![format!("it is not a ceilings store ({e}); ignored")],
            );
        }
    };
    let mut warnings = Vec::new();
    for (machine, list) in store.machines.iter_mut() {
        let before = list.len();
        list.retain(Kept::sane);
        let mut seen = std::collections::BTreeSet::new();
        list.retain(|k| seen.insert(k.threads));
        if list.len() < before {
            warnings.push(format!(
                "{} entr(ies) of `{machine}` have impossible values or repeat a thread count; ignored",
                before - list.len()
            ));
        }
    }
    store.machines.retain(|_, list| !list.is_empty());
    (store, warnings)
}

/// The store at `path` (empty when there is none) and warnings on what could not be read.
pub fn load(path: &Path) -> (Store, Vec<String>) {
    if std::fs::symlink_metadata(path).is_err() {
        return (Store::default(), Vec::new());
    }
    match crate::results::read_regular(path, MAX_BYTES) {
        Ok(text) => parse(&text),
        Err(e) => (Store::default(), vec![format!("{e:#}; ignored")]),
    }
}

/// Today's `measured` ceilings against those kept for `machine` under `out`: what the run
/// uses, with the store updated on disk. Never fails: a store that cannot be read or
/// written is said in a warning on stderr, and the run goes on with today's values.
pub fn apply(out: &Path, machine: &Machine, measured: &[Ceiling], date: &str) -> Merged {
    if measured.is_empty() {
        // Interrupted before any ceiling was measured: nothing to compare or keep.
        return Merged::default();
    }
    let path = out.join(FILE);
    let (mut store, warnings) = load(&path);
    for w in warnings {
        tracing::warn!(
            "{}: {w}; it will be rewritten with this run's ceilings",
            path.display()
        );
    }
    let kept = store.machines.entry(machine.fingerprint()).or_default();
    let merged = merge(kept, measured, date);
    if let Err(e) = crate::results::write_json(&path, &store) {
        tracing::warn!("the best ceilings are not kept ({e:#})");
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ceiling(threads: usize, f64_: f64, f32_: f64, copy: f64) -> Ceiling {
        Ceiling {
            threads,
            gemm_f64_gflops: f64_,
            gemm_f32_gflops: f32_,
            copy_gbps: copy,
            gemm_n: 1024,
            copy_mib: 64,
        }
    }

    #[test]
    fn first_measurement_is_kept_with_its_date() {
        let mut kept = Vec::new();
        let m = merge(
            &mut kept,
            &[ceiling(2, 180.0, 350.0, 20.0)],
            "20260101T000000Z",
        );
        assert_eq!(m.used, vec![ceiling(2, 180.0, 350.0, 20.0)]);
        assert!(m.below.is_empty());
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].gemm_f64_gflops.value, 180.0);
        assert_eq!(kept[0].copy_gbps.date, "20260101T000000Z");
    }

    #[test]
    fn higher_raises_the_kept_lower_uses_it_and_far_lower_is_flagged() {
        let mut kept = Vec::new();
        merge(
            &mut kept,
            &[ceiling(2, 180.0, 350.0, 20.0)],
            "20260101T000000Z",
        );
        // GEMM f64 a busy 39.7 (22 %), f32 higher than kept, copy 15 (75 %: below, not far).
        let m = merge(
            &mut kept,
            &[ceiling(2, 39.7, 400.0, 15.0)],
            "20260202T000000Z",
        );
        assert_eq!(m.used, vec![ceiling(2, 180.0, 400.0, 20.0)]);
        assert_eq!(m.below.len(), 2);
        let f64_ = &m.below[0];
        assert_eq!(
            (
                f64_.metric.as_str(),
                f64_.measured,
                f64_.kept,
                f64_.far_below
            ),
            ("gemm_f64_gflops", 39.7, 180.0, true)
        );
        assert_eq!(f64_.kept_date, "20260101T000000Z");
        assert!(
            f64_.describe()
                .contains("22 % of the 180.0 kept from 20260101T000000Z")
        );
        let copy = &m.below[1];
        assert_eq!((copy.metric.as_str(), copy.far_below), ("copy_gbps", false));
        // The f32 value was raised with today's date; the others keep theirs.
        assert_eq!(kept[0].gemm_f32_gflops.value, 400.0);
        assert_eq!(kept[0].gemm_f32_gflops.date, "20260202T000000Z");
        assert_eq!(kept[0].gemm_f64_gflops.date, "20260101T000000Z");
        // Exactly 70 % is not far below.
        let m = merge(
            &mut kept,
            &[ceiling(2, 126.0, 400.0, 20.0)],
            "20260303T000000Z",
        );
        assert!(!m.below[0].far_below);
    }

    #[test]
    fn other_sizes_or_thread_counts_are_not_compared() {
        let mut kept = Vec::new();
        merge(
            &mut kept,
            &[ceiling(1, 90.0, 180.0, 12.0)],
            "20260101T000000Z",
        );
        // Another thread count: a new entry, the first one untouched.
        let m = merge(
            &mut kept,
            &[ceiling(2, 50.0, 90.0, 10.0)],
            "20260102T000000Z",
        );
        assert_eq!(m.used, vec![ceiling(2, 50.0, 90.0, 10.0)]);
        assert_eq!(kept.len(), 2);
        // Another GEMM size at 1 thread: replaces the kept entry, no flag.
        let mut c = ceiling(1, 30.0, 60.0, 12.0);
        c.gemm_n = 512;
        let m = merge(&mut kept, std::slice::from_ref(&c), "20260103T000000Z");
        assert_eq!((m.used, m.below), (vec![c], Vec::new()));
        let one = kept.iter().find(|k| k.threads == 1).unwrap();
        assert_eq!((one.gemm_n, one.gemm_f64_gflops.value), (512, 30.0));
    }

    #[test]
    fn unmeasured_values_are_neither_kept_nor_flagged() {
        // A Ctrl-C during the ceilings leaves rates of 0.
        let mut kept = Vec::new();
        merge(&mut kept, &[ceiling(2, 0.0, 0.0, 0.0)], "20260101T000000Z");
        assert!(kept.is_empty());
        merge(
            &mut kept,
            &[ceiling(2, 100.0, 200.0, 10.0)],
            "20260101T000000Z",
        );
        let m = merge(
            &mut kept,
            &[ceiling(2, 100.0, 0.0, 10.0)],
            "20260102T000000Z",
        );
        assert_eq!(m.used, vec![ceiling(2, 100.0, 200.0, 10.0)]);
        assert!(m.below.is_empty());
    }

    #[test]
    fn garbage_is_ignored_with_a_warning() {
        for text in [
            "",
            "not json",
            "[1,2]",
            "{\"machines\": 3}",
            "{\"machines\": {\"m\": [{}]}}",
        ] {
            let (store, warnings) = parse(text);
            assert_eq!(store, Store::default(), "{text}");
            assert_eq!(warnings.len(), 1, "{text}: {warnings:?}");
        }
        let entry = |threads: usize, v: &str, date: &str| {
            format!(
                "{{\"threads\":{threads},\"gemm_n\":1024,\"copy_mib\":64,\
                 \"gemm_f64_gflops\":{{\"value\":{v},\"date\":\"{date}\"}},\
                 \"gemm_f32_gflops\":{{\"value\":1.0,\"date\":\"{date}\"}},\
                 \"copy_gbps\":{{\"value\":1.0,\"date\":\"{date}\"}}}}"
            )
        };
        let good = entry(2, "150.0", "20260101T000000Z");
        let text = format!(
            "{{\"machines\":{{\"m\":[{good},{},{},{},{}],\"n\":[{}]}}}}",
            entry(4, "-1", "20260101T000000Z"),
            entry(8, "1e300", "20260101T000000Z"),
            entry(16, "5.0", "<script>"),
            entry(2, "500.0", "20260101T000000Z"),
            entry(0, "5.0", "20260101T000000Z"),
        );
        let (store, warnings) = parse(&text);
        assert_eq!(store.machines.len(), 1, "n had only an impossible entry");
        assert_eq!(store.machines["m"].len(), 1);
        assert_eq!(store.machines["m"][0].gemm_f64_gflops.value, 150.0);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn apply_keeps_the_store_on_disk_and_survives_a_broken_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let machine = Machine {
            cpu: "Test CPU".into(),
            cores: 2,
            memory_gib: 8.0,
            os: "Linux".into(),
            ..Machine::default()
        };
        let path = dir.join(FILE);
        std::fs::write(&path, "{ garbage").unwrap();
        let m = apply(
            dir,
            &machine,
            &[ceiling(2, 180.0, 350.0, 20.0)],
            "20260101T000000Z",
        );
        assert_eq!(m.used[0].gemm_f64_gflops, 180.0);
        let m = apply(
            dir,
            &machine,
            &[ceiling(2, 40.0, 350.0, 20.0)],
            "20260102T000000Z",
        );
        assert_eq!(
            m.used[0].gemm_f64_gflops, 180.0,
            "kept on disk from the run before"
        );
        assert!(m.below[0].far_below);
        let (store, warnings) = load(&path);
        assert!(warnings.is_empty());
        assert_eq!(
            store.machines.keys().collect::<Vec<_>>(),
            ["Test CPU | 2 cores | 8.0 GiB | Linux"]
        );
        // A folder where the file should be: today's values, a warning, no crash.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let m = apply(
            dir,
            &machine,
            &[ceiling(2, 40.0, 350.0, 20.0)],
            "20260103T000000Z",
        );
        assert_eq!(m.used[0].gemm_f64_gflops, 40.0);
    }
}

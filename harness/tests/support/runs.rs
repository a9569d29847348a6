//! Synthetic run folders as `harness bench` leaves them: `results.csv` written with the
//! `Row` struct, a samples file per timed row (its statistics computed from those samples),
//! and `run.json` with the machine and, for shard runs, the `shard` field. Shared by the
//! compare and report tests as a source file (`#[path]`).

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};

use harness::measure::machine::Machine;
use harness::measure::stats::Summary;
use harness::results::{self, Row, RunManifest, Shard, Status};
use kernels::{Precision, Strategy};

/// The test machine; `cpu` tells machines apart.
pub fn machine(cpu: &str) -> Machine {
    Machine {
        cpu: cpu.into(),
        cores: 2,
        memory_gib: 8.0,
        os: "Test OS".into(),
        git_commit: "abc1234".into(),
        ..Machine::default()
    }
}

/// A laue/strained row at size `n`, one thread, f64, not yet timed (status ok without a
/// time until [`timed`] or [`write_run`] fills it in).
pub fn row(variant: &str, n: u32) -> Row {
    Row {
        run_id: "synthetic".into(),
        kernel: "laue".into(),
        case: "strained".into(),
        variant: variant.into(),
        strategy: Strategy::Naive,
        precision: Precision::F64,
        params: format!("e0=0.01 h=0 k=4 n={n} oversampling=3 w=5")
            .parse()
            .unwrap(),
        size_param: "n".into(),
        size: f64::from(n),
        threads: 1,
        status: Status::Ok,
        timestamp: "20260101T000000Z".into(),
        ..Row::default()
    }
}

/// `count` samples around `median` seconds, each within ±`spread` (relative), from a fixed
/// seed: the same call always gives the same samples.
pub fn samples(median: f64, spread: f64, count: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..count)
        .map(|_| {
            // xorshift64*: uniform in [0, 1).
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let u = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            median * (1.0 + spread * (2.0 * u - 1.0))
        })
        .collect()
}

/// A row as timed from `samples`: its median, interval and counts are theirs.
pub fn timed(mut row: Row, samples: &[f64]) -> Row {
    let s = Summary::of(samples).unwrap();
    row.status = Status::Ok;
    row.median_s = Some(s.median);
    row.ci_low_s = Some(s.ci_low);
    row.ci_high_s = Some(s.ci_high);
    row.min_s = Some(s.min);
    row.max_s = Some(s.max);
    row.spread = Some(s.spread);
    row.samples = s.samples;
    row.iters_per_sample = 1;
    row
}

/// What a synthetic run holds: each row with the samples to keep in its folder (`None`:
/// no samples file; the row keeps the time it was given).
pub struct Spec<'a> {
    pub machine: &'a Machine,
    pub shard: Option<Shard>,
    pub rows: Vec<(Row, Option<Vec<f64>>)>,
}

/// Writes the run folder `dir`: samples files, `results.csv`, `run.json`.
pub fn write_run(dir: &Path, spec: Spec) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut w = csv::Writer::from_path(dir.join("results.csv")).unwrap();
    let count = spec.rows.len();
    for (row, samples) in spec.rows {
        let mut row = row.with_machine(spec.machine);
        row.run_id = id.clone();
        if let Some(s) = samples {
            row = timed(row, &s);
            let file = format!(
                "samples/{}-{}-{}-{}-t{}.csv",
                row.kernel,
                row.case,
                row.variant,
                row.params.to_string().replace(' ', "_"),
                row.threads
            );
            results::samples::write(&dir.join(&file), &s).unwrap();
            row.samples_file = file;
        }
        w.serialize(&row).unwrap();
    }
    w.flush().unwrap();
    let manifest = RunManifest {
        harness: env!("CARGO_PKG_VERSION").into(),
        machine: spec.machine.clone(),
        started: "20260101T000000Z".into(),
        finished: Some("20260101T000100Z".into()),
        rows: count,
        shard: spec.shard,
        ..RunManifest::default()
    };
    std::fs::write(
        dir.join("run.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    dir.to_path_buf()
}

//! The stage timeline of a variant that measures stages inside its run (GPU variants:
//! upload, each dispatch, download from timestamp queries; CPU variants may time their own
//! steps): one row per run, the stages laid end to end over the run's host wall time, as
//! CSV rows (`timeline.csv`); [`crate::render::timeline::stages`] draws it.
//!
//! Stages carry durations, not start times (`Prepared::stages`), and each is the sum of
//! the parts of that name in the run; they are drawn one after the other in the order the
//! variant reports them. What the wall-time bar shows beyond them is the host's share:
//! submission, waiting, mapping.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use kernels::Stage;
use serde::Serialize;

/// One run's stages and its wall time measured around `run()` on the host.
#[derive(Clone, Debug)]
pub struct RunStages {
    pub wall: Duration,
    pub stages: Vec<Stage>,
}

/// A row of `timeline.csv`.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineRow {
    pub kernel: String,
    pub case: String,
    pub variant: String,
    pub strategy: String,
    pub params: String,
    /// Which run (0-based) of the runs timed after profiling.
    pub run: usize,
    pub stage: String,
    /// Start of the stage after the run's start, with the stages laid end to end.
    pub start_s: f64,
    pub duration_s: f64,
    /// The run's wall time on the host (the same for every stage of the run).
    pub wall_s: f64,
}

/// The CSV rows of `runs` for one variant.
pub fn rows(id: [&str; 5], runs: &[RunStages]) -> Vec<TimelineRow> {
    let [kernel, case, variant, strategy, params] = id;
    let mut out = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let mut t = 0.0;
        for s in &r.stages {
            let d = s.time.as_secs_f64();
            out.push(TimelineRow {
                kernel: kernel.into(),
                case: case.into(),
                variant: variant.into(),
                strategy: strategy.into(),
                params: params.into(),
                run: i,
                stage: s.name.into(),
                start_s: t,
                duration_s: d,
                wall_s: r.wall.as_secs_f64(),
            });
            t += d;
        }
    }
    out
}

/// Appends rows to `timeline.csv` in `dir` (header written when the file is new).
pub fn append_csv(dir: &Path, rows: &[TimelineRow]) -> Result<()> {
    let path = dir.join("timeline.csv");
    let new = !path.exists();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let mut w = csv::WriterBuilder::new().has_headers(new).from_writer(file);
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// The median wall time of the runs (0 for none).
pub fn median_wall(runs: &[RunStages]) -> f64 {
    median(runs.iter().map(|r| r.wall.as_secs_f64()).collect())
}

/// The stages' names in order of first appearance over the runs.
pub fn names(runs: &[RunStages]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for r in runs {
        for s in &r.stages {
            if !names.contains(&s.name) {
                names.push(s.name);
            }
        }
    }
    names
}

/// Each stage's median duration over the runs, in order of first appearance.
pub fn medians(runs: &[RunStages]) -> Vec<(&'static str, f64)> {
    names(runs)
        .into_iter()
        .map(|name| {
            let times = runs
                .iter()
                .filter_map(|r| r.stages.iter().find(|s| s.name == name))
                .map(|s| s.time.as_secs_f64())
                .collect();
            (name, median(times))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn runs() -> Vec<RunStages> {
        (0..3)
            .map(|i| RunStages {
                wall: Duration::from_micros(1200 + 10 * i),
                stages: vec![
                    Stage {
                        name: "upload",
                        time: Duration::from_micros(200),
                    },
                    Stage {
                        name: "compute",
                        time: Duration::from_micros(700 + i),
                    },
                    Stage {
                        name: "download",
                        time: Duration::from_micros(150),
                    },
                ],
            })
            .collect()
    }

    #[test]
    fn rows_and_medians() {
        let rows = rows(["laue", "square", "gpu-f32", "gpu", "n=8"], &runs());
        assert_eq!(rows.len(), 9);
        assert_eq!(rows[1].stage, "compute");
        let m = medians(&runs());
        assert_eq!(m[1].0, "compute");
        assert!((m[1].1 - 701e-6).abs() < 1e-12);
        assert!((rows[1].start_s - 200e-6).abs() < 1e-12);
        assert!((rows[2].start_s - 900e-6).abs() < 1e-12);
    }
}

//! Run timelines: what a variant that records [`Event`]s (the pipeline kernel) was doing, and
//! when, during its last timed run. `harness bench` writes them to
//! `timelines/<kernel>-<case>-<variant>-<params>.csv` in the run folder, with two figures per
//! row of `results.csv`; `harness report` draws them ([`crate::render::timeline::lanes`]: one
//! lane per kind of work, one colour per image).
//!
//! - **latency per image**: from the start of an image's first interval to the end of its
//!   last, averaged over the images: how long one image waits in the pipeline.
//! - **device busy**: the share of the run's span (first start to last end) during which the
//!   device was computing (the union of the `compute` intervals, so that overlapping
//!   dispatches count once). A GPU variant that waits for its own transfers shows it here.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use kernels::Event;

/// An event as stored: owned lane name, times in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    pub lane: String,
    pub image: usize,
    pub start: f64,
    pub end: f64,
}

impl From<&Event> for Interval {
    fn from(e: &Event) -> Interval {
        Interval {
            lane: e.lane.to_string(),
            image: e.image,
            start: e.start.as_secs_f64(),
            end: e.end.as_secs_f64(),
        }
    }
}

/// Latency per image and device-busy share of one run (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub latency_s: Option<f64>,
    pub device_busy: Option<f64>,
}

pub fn summarise(events: &[Interval]) -> Summary {
    if events.is_empty() {
        return Summary::default();
    }
    let mut images: Vec<usize> = events.iter().map(|e| e.image).collect();
    images.sort_unstable();
    images.dedup();
    let latency = images
        .iter()
        .map(|&i| {
            let mine = events.iter().filter(|e| e.image == i);
            let start = mine.clone().map(|e| e.start).fold(f64::INFINITY, f64::min);
            let end = mine.map(|e| e.end).fold(f64::NEG_INFINITY, f64::max);
            end - start
        })
        .sum::<f64>()
        / images.len() as f64;
    let span_start = events.iter().map(|e| e.start).fold(f64::INFINITY, f64::min);
    let span_end = events
        .iter()
        .map(|e| e.end)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = span_end - span_start;
    let mut compute: Vec<(f64, f64)> = events
        .iter()
        .filter(|e| e.lane == "compute")
        .map(|e| (e.start, e.end))
        .collect();
    let device_busy =
        (!compute.is_empty() && span > 0.0).then(|| union_length(&mut compute) / span);
    Summary {
        latency_s: Some(latency),
        device_busy,
    }
}

/// Total length covered by the intervals (overlaps counted once).
fn union_length(v: &mut [(f64, f64)]) -> f64 {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for &(s, e) in v.iter() {
        current = match current {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    if let Some((cs, ce)) = current {
        total += ce - cs;
    }
    total
}

pub fn to_intervals(events: &[Event]) -> Vec<Interval> {
    events.iter().map(Interval::from).collect()
}

/// Writes the intervals as CSV (`lane,image,start_s,end_s`); never overwrites a file.
pub fn write_csv(path: &Path, events: &[Interval]) -> Result<()> {
    let mut s = String::from("lane,image,start_s,end_s\n");
    for e in events {
        let _ = writeln!(s, "{},{},{:.9},{:.9}", e.lane, e.image, e.start, e.end);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    use std::io::Write as _;
    // Whole or not at all (a full disk leaves no cut timeline).
    super::write_whole(path, false, |w| Ok(w.write_all(s.as_bytes())?))
}

pub fn read_csv(path: &Path) -> Result<Vec<Interval>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the timeline {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let parsed = match f.as_slice() {
            [lane, image, start, end] => (|| {
                Some(Interval {
                    lane: lane.to_string(),
                    image: image.parse().ok()?,
                    start: start.parse().ok()?,
                    end: end.parse().ok()?,
                })
            })(),
            _ => None,
        };
        out.push(parsed.with_context(|| {
            format!(
                "{} line {}: expected lane,image,start_s,end_s, found `{line}`",
                path.display(),
                i + 1
            )
        })?);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn iv(lane: &str, image: usize, start: f64, end: f64) -> Interval {
        Interval {
            lane: lane.into(),
            image,
            start,
            end,
        }
    }

    /// Two images on the CPU at once (two rows in the cpu lane) and one on the device.
    pub(crate) fn overlapping() -> Vec<Interval> {
        vec![
            iv("cpu", 0, 0.0, 0.25),
            iv("cpu", 1, 0.0, 0.5),
            iv("compute", 2, 0.1, 0.2),
        ]
    }

    #[test]
    fn busy_counts_overlapping_compute_once_and_latency_averages_images() {
        let ev = vec![
            iv("upload", 0, 0.0, 1.0),
            iv("compute", 0, 1.0, 3.0),
            iv("upload", 1, 1.0, 2.0),
            iv("compute", 1, 2.5, 4.0), // overlaps image 0's compute by 0.5
            iv("download", 0, 3.0, 3.5),
            iv("download", 1, 4.0, 5.0),
        ];
        let s = summarise(&ev);
        // compute union [1, 4] = 3 over the span [0, 5].
        assert!((s.device_busy.unwrap() - 0.6).abs() < 1e-12);
        // image 0: 0 → 3.5, image 1: 1 → 5: mean 3.75.
        assert!((s.latency_s.unwrap() - 3.75).abs() < 1e-12);
        // CPU-only timelines have a latency but no device.
        let cpu = summarise(&[iv("cpu", 0, 0.0, 2.0), iv("cpu", 1, 0.0, 4.0)]);
        assert_eq!(cpu.device_busy, None);
        assert!((cpu.latency_s.unwrap() - 3.0).abs() < 1e-12);
        assert_eq!(summarise(&[]), Summary::default());
    }

    #[test]
    fn csv_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t/x.csv");
        let ev = overlapping();
        write_csv(&path, &ev).unwrap();
        assert!(write_csv(&path, &ev).is_err(), "never overwrites");
        assert_eq!(read_csv(&path).unwrap(), ev);
        std::fs::write(
            dir.path().join("bad.csv"),
            "lane,image,start_s,end_s\ncpu,x,0,1\n",
        )
        .unwrap();
        let err = read_csv(&dir.path().join("bad.csv")).unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }
}

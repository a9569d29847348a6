//! Run timelines: what a variant that records [`Event`]s (the pipeline kernel) was doing, and
//! when, during its last timed run. `harness bench` writes them to
//! `timelines/<kernel>-<case>-<variant>-<params>.csv` in the run folder, with two figures per
//! row of `results.csv`; `harness report` draws them (one lane per kind of work, one colour
//! per image).
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

use crate::profile::timeline::{esc, fmt_duration, tick_step};

/// The lanes, in drawing order; any other lane a variant uses is drawn after them.
const LANES: &[&str] = &["upload", "compute", "download", "cpu"];

/// Okabe–Ito colours (distinguishable with colour-blindness), by image.
const COLOURS: &[&str] = &[
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999",
];

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
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("writing the timeline {}", path.display()))?;
    f.write_all(s.as_bytes())?;
    Ok(())
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

/// The timeline as a self-contained SVG: one band per lane (intervals that overlap within a
/// lane, such as images on different CPU threads, get rows of their own), one colour per
/// image, the image number written in each interval wide enough to hold it.
pub fn svg(title: &str, subtitle: &str, events: &[Interval]) -> String {
    let mut lanes: Vec<&str> = LANES
        .iter()
        .copied()
        .filter(|l| events.iter().any(|e| e.lane == *l))
        .collect();
    for e in events {
        if !lanes.contains(&e.lane.as_str()) {
            lanes.push(&e.lane);
        }
    }
    // Pack each lane's intervals into rows greedily (first row free at the interval's start).
    let mut placed: Vec<(usize, usize, &Interval)> = Vec::new(); // (lane, row, interval)
    let mut rows_per_lane = vec![0usize; lanes.len()];
    for (li, lane) in lanes.iter().enumerate() {
        let mut mine: Vec<&Interval> = events.iter().filter(|e| e.lane == *lane).collect();
        mine.sort_by(|a, b| a.start.total_cmp(&b.start));
        let mut ends: Vec<f64> = Vec::new();
        for e in mine {
            let row = match ends.iter().position(|&end| end <= e.start) {
                Some(r) => r,
                None => {
                    ends.push(f64::NEG_INFINITY);
                    ends.len() - 1
                }
            };
            ends[row] = e.end;
            placed.push((li, row, e));
        }
        rows_per_lane[li] = ends.len().max(1);
    }
    let t0 = events.iter().map(|e| e.start).fold(f64::INFINITY, f64::min);
    let t0 = if t0.is_finite() { t0.min(0.0) } else { 0.0 };
    let span = (events.iter().map(|e| e.end).fold(0.0, f64::max) - t0).max(1e-9);
    let (width, left, right, top, row_h, gap) = (960.0, 100.0, 30.0, 70.0, 18.0, 12.0);
    let plot_w = width - left - right;
    let x = |t: f64| left + plot_w * (t - t0) / span;
    let mut lane_y = Vec::new();
    let mut y = top;
    for &n in &rows_per_lane {
        lane_y.push(y);
        y += n as f64 * row_h + gap;
    }
    let bottom = y;
    let height = bottom + 40.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="24" font-size="15" font-weight="bold">{}</text>
<text x="{left}" y="44" fill="#444">{}</text>"##,
        esc(title),
        esc(subtitle)
    );
    let step = tick_step(span, 8.0);
    let mut t = 0.0;
    while t <= span * 1.0001 {
        let xt = x(t0 + t);
        let _ = writeln!(
            s,
            r##"<line x1="{xt:.1}" y1="{top}" x2="{xt:.1}" y2="{bottom:.1}" stroke="#ddd"/><text x="{xt:.1}" y="{:.1}" text-anchor="middle" fill="#444">{}</text>"##,
            bottom + 16.0,
            if t == 0.0 {
                "0".to_string()
            } else {
                fmt_duration(t)
            }
        );
        t += step;
    }
    for (li, lane) in lanes.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            lane_y[li] + row_h * 0.7,
            esc(lane)
        );
    }
    for (li, row, e) in placed {
        let (x0, x1) = (x(e.start), x(e.end));
        let w = (x1 - x0).max(0.5);
        let ry = lane_y[li] + row as f64 * row_h;
        let _ = write!(
            s,
            r#"<rect x="{x0:.2}" y="{:.1}" width="{w:.2}" height="{:.1}" fill="{}" stroke="white" stroke-width="0.5"><title>image {}: {} {} (from {} to {})</title></rect>"#,
            ry + 1.0,
            row_h - 2.0,
            COLOURS[e.image % COLOURS.len()],
            e.image,
            esc(&e.lane),
            fmt_duration(e.end - e.start),
            fmt_duration(e.start - t0),
            fmt_duration(e.end - t0),
        );
        if w > 14.0 {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="white" font-size="10">{}</text>"#,
                x0 + w / 2.0,
                ry + row_h * 0.7,
                e.image
            );
        }
        s.push('\n');
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(lane: &str, image: usize, start: f64, end: f64) -> Interval {
        Interval {
            lane: lane.into(),
            image,
            start,
            end,
        }
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
    fn csv_round_trips_and_svg_draws_every_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t/x.csv");
        let ev = vec![
            iv("cpu", 0, 0.0, 0.25),
            iv("cpu", 1, 0.0, 0.5), // overlaps: a second row in the cpu lane
            iv("compute", 2, 0.1, 0.2),
        ];
        write_csv(&path, &ev).unwrap();
        assert!(write_csv(&path, &ev).is_err(), "never overwrites");
        assert_eq!(read_csv(&path).unwrap(), ev);
        let svg = svg("t", "s", &ev);
        assert_eq!(svg.matches("<rect x=").count(), 3);
        assert!(svg.contains(">compute</text>") && svg.contains(">cpu</text>"));
        std::fs::write(
            dir.path().join("bad.csv"),
            "lane,image,start_s,end_s\ncpu,x,0,1\n",
        )
        .unwrap();
        let err = read_csv(&dir.path().join("bad.csv")).unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }
}

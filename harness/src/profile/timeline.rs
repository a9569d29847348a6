//! The stage timeline of a variant that measures stages inside its run (GPU variants:
//! upload, each dispatch, download from timestamp queries; CPU variants may time their own
//! steps): one row per run, the stages laid end to end over the run's host wall time, as a
//! hand-written SVG and as CSV rows.
//!
//! Stages carry durations, not start times (`Prepared::stages`), and each is the sum of
//! the parts of that name in the run; they are drawn one after the other in the order the
//! variant reports them. What the wall-time bar shows beyond them is the host's share:
//! submission, waiting, mapping.

use std::fmt::Write as _;
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

/// Colours of the stages, in order of first appearance (colour-blind-safe, Okabe–Ito),
/// each with the label colour that reads on it.
const COLOURS: [(&str, &str); 7] = [
    ("#0072B2", "white"),
    ("#E69F00", "black"),
    ("#009E73", "white"),
    ("#CC79A7", "black"),
    ("#56B4E9", "black"),
    ("#D55E00", "white"),
    ("#F0E442", "black"),
];

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `1.23 ms`, `45.6 µs`, `789 ns`, `1.20 s`.
pub fn fmt_duration(s: f64) -> String {
    let (v, unit) = if s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else if v >= 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

/// A tick step of 1, 2 or 5 × 10^k giving about `n` ticks over `span`.
pub(crate) fn tick_step(span: f64, n: f64) -> f64 {
    let raw = span / n;
    let mag = 10f64.powf(raw.log10().floor());
    let m = raw / mag;
    mag * if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    }
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

/// Each stage's median duration over the runs, in order of first appearance.
pub fn medians(runs: &[RunStages]) -> Vec<(&'static str, f64)> {
    let mut names: Vec<&'static str> = Vec::new();
    for r in runs {
        for s in &r.stages {
            if !names.contains(&s.name) {
                names.push(s.name);
            }
        }
    }
    names
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

/// The timeline as a self-contained SVG.
pub fn svg(title: &str, subtitle: &str, runs: &[RunStages]) -> String {
    let mut names: Vec<&'static str> = Vec::new();
    for r in runs {
        for s in &r.stages {
            if !names.contains(&s.name) {
                names.push(s.name);
            }
        }
    }
    let colour = |name: &str| {
        let i = names.iter().position(|n| *n == name).unwrap_or(0);
        COLOURS[i % COLOURS.len()]
    };
    let span = runs
        .iter()
        .map(|r| {
            r.wall
                .as_secs_f64()
                .max(r.stages.iter().map(|s| s.time.as_secs_f64()).sum())
        })
        .fold(0.0, f64::max)
        .max(1e-9);
    let (width, left, right, top, row_h, gap) = (960.0, 90.0, 30.0, 70.0, 26.0, 10.0);
    let plot_w = width - left - right;
    let x = |t: f64| left + plot_w * t / span;
    let rows_h = runs.len() as f64 * (row_h + gap);
    let legend_y = top + rows_h + 40.0;
    let height = legend_y + 22.0 * names.len() as f64 + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="24" font-size="16" font-weight="bold">{}</text>
<text x="{left}" y="44" fill="#444">{}</text>"##,
        esc(title),
        esc(subtitle)
    );
    // Time axis with gridlines.
    let step = tick_step(span, 8.0);
    let mut t = 0.0;
    while t <= span * 1.0001 {
        let xt = x(t);
        let _ = writeln!(
            s,
            r##"<line x1="{xt:.1}" y1="{top}" x2="{xt:.1}" y2="{:.1}" stroke="#ddd"/><text x="{xt:.1}" y="{:.1}" text-anchor="middle" fill="#444">{}</text>"##,
            top + rows_h,
            top + rows_h + 16.0,
            if t == 0.0 {
                "0".to_string()
            } else {
                fmt_duration(t)
            }
        );
        t += step;
    }
    for (i, r) in runs.iter().enumerate() {
        let y = top + i as f64 * (row_h + gap);
        let wall = r.wall.as_secs_f64();
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">run {}</text>
<rect x="{left}" y="{:.1}" width="{:.2}" height="{:.1}" fill="#e8e8e8" stroke="#999"><title>run {}: wall time on the host {}</title></rect>"##,
            left - 8.0,
            y + row_h * 0.65,
            i + 1,
            y,
            x(wall) - left,
            row_h,
            i + 1,
            fmt_duration(wall)
        );
        let mut t0 = 0.0;
        for st in &r.stages {
            let d = st.time.as_secs_f64();
            let (x0, w) = (x(t0), (x(t0 + d) - x(t0)).max(0.5));
            let _ = write!(
                s,
                r#"<rect x="{x0:.2}" y="{:.1}" width="{w:.2}" height="{:.1}" fill="{}"><title>{}: {} (run {})</title></rect>"#,
                y + 3.0,
                row_h - 6.0,
                colour(st.name).0,
                esc(st.name),
                fmt_duration(d),
                i + 1
            );
            let label = format!("{} {}", st.name, fmt_duration(d));
            // A label only where it fits (about 6.5 px per character).
            if w > 6.5 * label.chars().count() as f64 + 6.0 {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" fill="{}">{}</text>"#,
                    x0 + 4.0,
                    y + row_h * 0.65,
                    colour(st.name).1,
                    esc(&label)
                );
            }
            s.push('\n');
            t0 += d;
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="{:.1}" font-weight="bold">stage — median over {} run(s)</text>"##,
        legend_y - 8.0,
        runs.len()
    );
    let mut ly = legend_y;
    for (name, t) in medians(runs) {
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{:.1}" width="14" height="14" fill="{}"/><text x="{:.1}" y="{:.1}">{} — {}</text>"##,
            ly,
            colour(name).0,
            left + 20.0,
            ly + 11.0,
            esc(name),
            fmt_duration(t)
        );
        ly += 22.0;
    }
    let walls: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
    let _ = writeln!(
        s,
        r##"<rect x="{:.1}" y="{:.1}" width="14" height="14" fill="#e8e8e8" stroke="#999"/><text x="{:.1}" y="{:.1}">wall time of run() — {}</text>"##,
        left + 360.0,
        legend_y,
        left + 380.0,
        legend_y + 11.0,
        fmt_duration(median(walls))
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs() -> Vec<RunStages> {
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
    fn svg_and_rows() {
        let svg = svg("laue/square/gpu-f32", "software adapter", &runs());
        assert!(svg.starts_with("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
        for stage in ["upload", "compute", "download"] {
            assert!(svg.contains(stage), "{stage} missing");
        }
        assert_eq!(svg.matches("<rect").count(), 1 + 3 * 4 + 3 + 1);
        let rows = rows(["laue", "square", "gpu-f32", "gpu", "n=8"], &runs());
        assert_eq!(rows.len(), 9);
        assert_eq!(rows[1].stage, "compute");
        let m = medians(&runs());
        assert_eq!(m[1].0, "compute");
        assert!((m[1].1 - 701e-6).abs() < 1e-12);
        assert!((rows[1].start_s - 200e-6).abs() < 1e-12);
        assert!((rows[2].start_s - 900e-6).abs() < 1e-12);
    }

    #[test]
    fn durations_and_ticks() {
        assert_eq!(fmt_duration(1.5e-3), "1.50 ms");
        assert_eq!(fmt_duration(250e-6), "250 µs");
        assert_eq!(fmt_duration(2.0), "2.00 s");
        assert!((tick_step(1.0, 8.0) - 0.2).abs() < 1e-12);
        assert!((tick_step(1e-3, 10.0) - 1e-4).abs() < 1e-15);
        assert!((tick_step(3e-3, 8.0) - 5e-4).abs() < 1e-15);
    }
}

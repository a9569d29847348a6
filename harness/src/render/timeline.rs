//! The two timelines, laid out on one [`Canvas`]:
//!
//! - [`lanes`]: a run timeline of recorded events ([`Interval`]s of the pipeline kernel),
//!   one band per lane, one colour per image; inlined in the report's HTML.
//! - [`stages()`]: a stage timeline ([`RunStages`]), one row per run with its stages end to
//!   end over the run's wall time, and a legend of median stage times; a file of
//!   `harness profile` (`gpu-timeline-*.svg`, `stage-timeline-*.svg`).

use super::fmt::fmt_duration;
use super::svg::{Bar, Canvas, Frame, Label, LabelStyle, OKABE_ITO, escape};
use crate::results::events::Interval;
use crate::results::stages::{self, RunStages};

/// The lanes, in drawing order; any other lane a variant uses is drawn after them.
const LANES: &[&str] = &["upload", "compute", "download", "cpu"];

/// The run timeline as a self-contained SVG: one band per lane (intervals that overlap within
/// a lane, such as images on different CPU threads, get rows of their own), one colour per
/// image, the image number written in each interval wide enough to hold it.
pub fn lanes(title: &str, subtitle: &str, events: &[Interval]) -> String {
    let lanes = lane_order(events);
    let (placed, rows_per_lane) = pack(&lanes, events);
    let t0 = events.iter().map(|e| e.start).fold(f64::INFINITY, f64::min);
    let t0 = if t0.is_finite() { t0.min(0.0) } else { 0.0 };
    let span = (events.iter().map(|e| e.end).fold(0.0, f64::max) - t0).max(1e-9);
    let (width, left, right, top, row_h, gap) = (960.0, 100.0, 30.0, 70.0, 18.0, 12.0);
    let mut lane_y = Vec::new();
    let mut y = top;
    for &n in &rows_per_lane {
        lane_y.push(y);
        y += n as f64 * row_h + gap;
    }
    let bottom = y;
    let mut c = Canvas::new(&Frame {
        title,
        subtitle,
        xml_declaration: false,
        title_size: 15,
        width,
        height: bottom + 40.0,
        left,
        right,
        t0,
        span,
    });
    c.time_axis(top, bottom);
    for (li, lane) in lanes.iter().enumerate() {
        c.row_label(lane_y[li] + row_h * 0.7, lane);
    }
    for (li, row, e) in placed {
        let ry = lane_y[li] + row as f64 * row_h;
        c.bar(&Bar {
            start: e.start,
            end: e.end,
            y: ry + 1.0,
            height: row_h - 2.0,
            fill: OKABE_ITO[e.image % OKABE_ITO.len()].0,
            outline: r#" stroke="white" stroke-width="0.5""#,
            tooltip: format!(
                "image {}: {} {} (from {} to {})",
                e.image,
                e.lane,
                fmt_duration(e.end - e.start),
                fmt_duration(e.start - t0),
                fmt_duration(e.end - t0),
            ),
            label: Some(Label {
                text: e.image.to_string(),
                y: ry + row_h * 0.7,
                style: LabelStyle::Centred,
            }),
        });
    }
    c.finish()
}

/// The lanes used, the usual ones first.
fn lane_order(events: &[Interval]) -> Vec<&str> {
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
    lanes
}

/// Packs each lane's intervals into rows greedily (the first row free at the interval's
/// start): (lane, row, interval) in drawing order, and the number of rows of each lane.
fn pack<'a>(
    lanes: &[&str],
    events: &'a [Interval],
) -> (Vec<(usize, usize, &'a Interval)>, Vec<usize>) {
    let mut placed = Vec::new();
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
    (placed, rows_per_lane)
}

/// The stage timeline as a self-contained SVG file.
pub fn stages(title: &str, subtitle: &str, runs: &[RunStages]) -> String {
    let names = stages::names(runs);
    // The stages' colours in order of first appearance (Okabe–Ito without its grey).
    let hues = &OKABE_ITO[..7];
    let colour = |name: &str| {
        let i = names.iter().position(|n| *n == name).unwrap_or(0);
        hues[i % hues.len()]
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
    let rows_h = runs.len() as f64 * (row_h + gap);
    let legend_y = top + rows_h + 40.0;
    let mut c = Canvas::new(&Frame {
        title,
        subtitle,
        xml_declaration: true,
        title_size: 16,
        width,
        height: legend_y + 22.0 * names.len() as f64 + 20.0,
        left,
        right,
        t0: 0.0,
        span,
    });
    c.time_axis(top, top + rows_h);
    for (i, r) in runs.iter().enumerate() {
        let y = top + i as f64 * (row_h + gap);
        let wall = r.wall.as_secs_f64();
        c.row_label(y + row_h * 0.65, &format!("run {}", i + 1));
        let tooltip = format!(
            "run {}: wall time on the host {}",
            i + 1,
            fmt_duration(wall)
        );
        c.backdrop(y, row_h, wall, &tooltip);
        let mut t0 = 0.0;
        for st in &r.stages {
            let d = st.time.as_secs_f64();
            let (fill, ink) = colour(st.name);
            c.bar(&Bar {
                start: t0,
                end: t0 + d,
                y: y + 3.0,
                height: row_h - 6.0,
                fill,
                outline: "",
                tooltip: format!("{}: {} (run {})", st.name, fmt_duration(d), i + 1),
                label: Some(Label {
                    text: format!("{} {}", st.name, fmt_duration(d)),
                    y: y + row_h * 0.65,
                    style: LabelStyle::Inside { ink },
                }),
            });
            t0 += d;
        }
    }
    c.push(&stage_legend(runs, legend_y, left, |n| colour(n).0));
    c.finish()
}

/// Each stage's median time with its colour, and the median wall time, below the runs.
fn stage_legend<'a>(
    runs: &[RunStages],
    y: f64,
    left: f64,
    fill: impl Fn(&str) -> &'a str,
) -> String {
    let mut s = format!(
        "<text x=\"{left}\" y=\"{:.1}\" font-weight=\"bold\">stage — median over {} run(s)</text>\n",
        y - 8.0,
        runs.len()
    );
    let mut ly = y;
    for (name, t) in stages::medians(runs) {
        s.push_str(&format!(
            "<rect x=\"{left}\" y=\"{ly:.1}\" width=\"14\" height=\"14\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{} — {}</text>\n",
            fill(name),
            left + 20.0,
            ly + 11.0,
            escape(name),
            fmt_duration(t)
        ));
        ly += 22.0;
    }
    s.push_str(&format!(
        "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"14\" height=\"14\" fill=\"#e8e8e8\" stroke=\"#999\"/><text x=\"{:.1}\" y=\"{:.1}\">wall time of run() — {}</text>\n",
        left + 360.0,
        left + 380.0,
        y + 11.0,
        fmt_duration(stages::median_wall(runs))
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_draw_every_interval() {
        let svg = lanes("t", "s", &crate::results::events::tests::overlapping());
        assert_eq!(svg.matches("<rect x=").count(), 3);
        assert!(svg.contains(">compute</text>") && svg.contains(">cpu</text>"));
    }

    #[test]
    fn stages_draw_runs_and_legend() {
        let svg = stages(
            "laue/square/gpu-f32",
            "software adapter",
            &crate::results::stages::tests::runs(),
        );
        assert!(svg.starts_with("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
        for stage in ["upload", "compute", "download"] {
            assert!(svg.contains(stage), "{stage} missing");
        }
        assert_eq!(svg.matches("<rect").count(), 1 + 3 * 4 + 3 + 1);
    }
}

//! SVG charts with plotters (SVG backend only: text stays text, no fonts needed, no
//! JavaScript): bars of times, log-log size scaling with fitted power laws, thread
//! scaling with the Amdahl fit, the roofline, and strips of each variant's samples.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::measure::stats::{AmdahlFit, PowerFit};
use crate::render::fmt::{fmt_time, sig3};
use crate::render::svg::TABLEAU_10;

/// A series' colour: [`TABLEAU_10`], then a second round, darker.
pub fn colour(i: usize) -> RGBColor {
    let (r, g, b) = TABLEAU_10[i % TABLEAU_10.len()];
    if i < TABLEAU_10.len() {
        RGBColor(r, g, b)
    } else {
        // A second round, darker.
        RGBColor(r / 2, g / 2, b / 2)
    }
}

pub struct Bar {
    pub label: String,
    pub seconds: f64,
    pub colour: usize,
    pub noisy: bool,
}

pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub fit: Option<PowerFit>,
    pub colour: usize,
    pub dashed: bool,
}

pub struct Roof {
    /// Machine label (with a trailing space), empty for one machine.
    pub label: String,
    pub peak_f64: f64,
    pub peak_f32: f64,
    pub bandwidth: f64,
    pub threads: usize,
}

type Res = Result<(), Box<dyn std::error::Error>>;

/// Runs a drawing closure on an SVG string; on error returns a visible note instead.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Res,
) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|_| draw(&root).map_err(|e| e.to_string()))
            .and_then(|_| root.present().map_err(|e| e.to_string()))
    };
    match result {
        Ok(()) => out,
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\"><text x=\"10\" y=\"25\">chart \
             not drawn: {}</text></svg>",
            e.replace('<', "&lt;").replace('&', "&amp;")
        ),
    }
}

fn log_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.1, 10.0);
    }
    let (lo, hi) = if hi / lo < 10.0 {
        let mid = (lo * hi).sqrt();
        (mid / 3.2, mid * 3.2)
    } else {
        (lo, hi)
    };
    (lo / pad, hi * pad)
}

const FONT: &str = "sans-serif";

/// Axis numbers: integers as integers (sizes, threads), others with three digits.
fn axis_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) && v.abs() < 1e9 {
        format!("{}", v.round() as i64)
    } else {
        sig3(v)
    }
}

/// Horizontal bars of seconds per run on a log axis, time printed; drawn bottom-up, so give
/// them slowest first for the fastest at the top.
pub fn bars(title: &str, bars: &[Bar]) -> String {
    let n = bars.len().max(1);
    let label_w = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(8) as u32
        * 8
        + 20;
    let height = 90 + 30 * n as u32;
    let (lo, hi) = log_range(bars.iter().map(|b| b.seconds), 1.0);
    let (lo, hi) = (lo / 2.0, hi * 6.0);
    svg((900, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(label_w)
            // A discrete range includes its end: n bars are 0..=n−1.
            .build_cartesian_2d((lo..hi).log_scale(), (0..n as i32 - 1).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => bars
                    .get(*i as usize)
                    .map(|b| b.label.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|v| fmt_time(Some(*v)))
            .x_desc("seconds per run (log scale)")
            .label_style((FONT, 13))
            .draw()?;
        for (i, b) in bars.iter().enumerate() {
            let c = colour(b.colour);
            let i = i as i32;
            let mut rect = Rectangle::new(
                [
                    (lo, SegmentValue::Exact(i)),
                    (b.seconds, SegmentValue::Exact(i + 1)),
                ],
                c.filled(),
            );
            rect.set_margin(4, 4, 0, 0);
            chart.draw_series(std::iter::once(rect))?;
            chart.draw_series(std::iter::once(Text::new(
                format!(
                    " {}{}",
                    fmt_time(Some(b.seconds)),
                    if b.noisy { " ⚠ noisy" } else { "" }
                ),
                (b.seconds, SegmentValue::CenterOf(i)),
                (FONT, 13).into_font().color(&BLACK),
            )))?;
        }
        Ok(())
    })
}

/// Lines with points on log-log axes; a series with a fit also gets its power law dashed.
pub fn loglog(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    time_axis: bool,
) -> String {
    let (x0, x1) = log_range(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
        1.25,
    );
    let (y0, y1) = log_range(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        1.6,
    );
    svg((900, 520), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v| axis_number(*v))
            .y_label_formatter(&|v| {
                if time_axis {
                    fmt_time(Some(*v))
                } else {
                    sig3(*v)
                }
            })
            .label_style((FONT, 13))
            .draw()?;
        for s in series {
            let c = colour(s.colour);
            chart
                .draw_series(
                    LineSeries::new(s.points.iter().copied(), c.stroke_width(2)).point_size(4),
                )?
                .label(&s.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            if let Some(f) = s.fit {
                let (a, b) = (s.points[0].0, s.points[s.points.len() - 1].0);
                let pts: Vec<(f64, f64)> = (0..=16)
                    .map(|i| {
                        let x = a * (b / a).powf(i as f64 / 16.0);
                        (x, f.eval(x))
                    })
                    .collect();
                chart.draw_series(DashedLineSeries::new(pts, 6, 4, c.mix(0.6).stroke_width(1)))?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// Speedup against threads: measured points, the Amdahl fit dashed, ideal scaling grey.
pub fn threads(title: &str, series: &[Series], amdahl: &[(usize, AmdahlFit)]) -> String {
    let pmax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let smax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(pmax, f64::max);
    svg((900, 480), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.8..pmax + 0.2, 0.0..smax * 1.15)?;
        chart
            .configure_mesh()
            .x_desc("threads")
            .y_desc("speedup over 1 thread")
            .x_label_formatter(&|v| axis_number(*v))
            .y_label_formatter(&|v| sig3(*v))
            .label_style((FONT, 13))
            .draw()?;
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(LineSeries::new(
                vec![(1.0, 1.0), (pmax, pmax)],
                grey.stroke_width(1),
            ))?
            .label("ideal (speedup = threads)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
        for (c, fit) in amdahl {
            let col = colour(*c);
            let pts: Vec<(f64, f64)> = (0..=40)
                .map(|i| {
                    let p = 1.0 + (pmax - 1.0) * i as f64 / 40.0;
                    (p, fit.speedup(p))
                })
                .collect();
            chart.draw_series(DashedLineSeries::new(
                pts,
                6,
                4,
                col.mix(0.7).stroke_width(1),
            ))?;
        }
        for s in series {
            let c = colour(s.colour);
            chart
                .draw_series(
                    LineSeries::new(s.points.iter().copied(), c.stroke_width(2)).point_size(4),
                )?
                .label(&s.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// The roofline: bandwidth slope and compute roofs, variants as points.
pub fn roofline(title: &str, roofs: &[Roof], series: &[Series]) -> String {
    let ((x0, x1), (y0, y1)) = roofline_ranges(roofs, series);
    svg((900, 540), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("arithmetic intensity (flop per byte, nominal)")
            .y_desc("GFLOP/s")
            .x_label_formatter(&|v| axis_number(*v))
            .y_label_formatter(&|v| axis_number(*v))
            .label_style((FONT, 13))
            .draw()?;
        for r in roofs {
            let dark = RGBColor(40, 40, 40);
            let ridge64 = r.peak_f64 / r.bandwidth;
            let ridge32 = r.peak_f32 / r.bandwidth;
            chart
                .draw_series(LineSeries::new(
                    vec![
                        (x0, x0 * r.bandwidth),
                        (ridge64, r.peak_f64),
                        (x1, r.peak_f64),
                    ],
                    dark.stroke_width(2),
                ))?
                .label(format!(
                    "{}roof: f64 GEMM {} GFLOP/s, copy {} GB/s ({} threads)",
                    r.label,
                    sig3(r.peak_f64),
                    sig3(r.bandwidth),
                    r.threads
                ))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], dark.stroke_width(2))
                });
            if r.peak_f32 > r.peak_f64 {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![
                            (ridge64, r.peak_f64),
                            (ridge32, r.peak_f32),
                            (x1, r.peak_f32),
                        ],
                        6,
                        4,
                        dark.stroke_width(1),
                    ))?
                    .label(format!("{}f32 GEMM {} GFLOP/s", r.label, sig3(r.peak_f32)))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], dark.stroke_width(1))
                    });
            }
        }
        for s in series {
            let c = colour(s.colour);
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 5, c.filled())))?
                .label(&s.label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// The roofline's axes: every point and both ridges in x, every point, the f32 roof and the
/// slope's start in y.
fn roofline_ranges(roofs: &[Roof], series: &[Series]) -> ((f64, f64), (f64, f64)) {
    let ridge_xs = roofs
        .iter()
        .flat_map(|r| [r.peak_f64 / r.bandwidth, r.peak_f32 / r.bandwidth]);
    let (x0, x1) = log_range(
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .chain(ridge_xs),
        3.0,
    );
    let ys = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(roofs.iter().flat_map(|r| [r.peak_f32, x0 * r.bandwidth]));
    ((x0, x1), log_range(ys, 2.0))
}

/// One variant's samples in a strip plot.
pub struct Strip {
    pub label: String,
    /// Seconds per run, at most [`STRIP_POINTS`] (see [`thin`]).
    pub samples: Vec<f64>,
    pub median: f64,
    pub colour: usize,
}

/// Most dots drawn per strip: beyond it the dots only overlap, and the report grows.
pub const STRIP_POINTS: usize = 200;

/// At most `max` of `samples`, chosen at evenly spaced quantiles so that the thinned strip
/// keeps the distribution's shape (sorted ascending).
pub fn thin(samples: &[f64], max: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|s| *s > 0.0).collect();
    sorted.sort_by(f64::total_cmp);
    if sorted.len() <= max {
        return sorted;
    }
    (0..max)
        .map(|k| sorted[((k as f64 + 0.5) / max as f64 * sorted.len() as f64) as usize])
        .collect()
}

/// Strips of samples on a log time axis, one row per variant from the top down: a dot per
/// sample (spread vertically so that equal times stay visible) and a black tick at the
/// median.
pub fn strips(title: &str, strips: &[Strip]) -> String {
    let n = strips.len().max(1);
    let label_w = strips
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .unwrap_or(8) as u32
        * 8
        + 20;
    let (lo, hi) = log_range(strips.iter().flat_map(|s| s.samples.iter().copied()), 1.3);
    svg((900, 90 + 34 * n as u32), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(label_w)
            .build_cartesian_2d((lo..hi).log_scale(), (0..n as i32 - 1).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                // Segment 0 is the bottom one.
                SegmentValue::CenterOf(i) => usize::try_from(*i)
                    .ok()
                    .and_then(|i| strips.get(n.checked_sub(i + 1)?))
                    .map(|s| s.label.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|v| fmt_time(Some(*v)))
            .x_desc("seconds per run (log scale)")
            .label_style((FONT, 13))
            .draw()?;
        for (i, s) in strips.iter().enumerate() {
            let i = (n - 1 - i) as i32;
            let c = colour(s.colour);
            // Pixel rows of the strip: dots are spread over 70 % of its height.
            let (_, top) = chart.backend_coord(&(lo, SegmentValue::Exact(i + 1)));
            let (_, bottom) = chart.backend_coord(&(lo, SegmentValue::Exact(i)));
            let (mid, half) = ((top + bottom) / 2, (bottom - top).abs() * 7 / 20);
            for (k, &t) in s.samples.iter().enumerate() {
                let (x, _) = chart.backend_coord(&(t, SegmentValue::Exact(i)));
                // A fixed low-discrepancy spread (golden ratio): the same picture every time.
                let jitter = ((k as f64 * 0.618_034).fract() * 2.0 - 1.0) * half as f64;
                root.draw(&Circle::new(
                    (x, mid + jitter as i32),
                    2,
                    c.mix(0.55).filled(),
                ))?;
            }
            let (x, _) = chart.backend_coord(&(s.median, SegmentValue::Exact(i)));
            root.draw(&PathElement::new(
                vec![(x, mid - half - 2), (x, mid + half + 2)],
                BLACK.stroke_width(2),
            ))?;
        }
        Ok(())
    })
}

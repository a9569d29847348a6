//! Hand-written SVG: escaping, palettes, tick steps, and [`Canvas`], the one writer of the
//! timelines (a title, a time axis with gridlines, labelled rows of bars with tooltips).
//! [`super::timeline`] lays out the two kinds of timeline on it; the report's charts are
//! drawn by plotters ([`crate::report::charts`]) with [`TABLEAU_10`].

use std::fmt::Write as _;

use super::fmt::fmt_duration;

/// Text for SVG and HTML: `&`, `<`, `>` and `"` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Okabe–Ito colours (distinguishable with colour-blindness), each with the label colour that
/// reads on it: images of a run timeline (all eight), stages of a stage timeline (the first
/// seven, without the grey).
pub const OKABE_ITO: [(&str, &str); 8] = [
    ("#0072B2", "white"),
    ("#E69F00", "black"),
    ("#009E73", "white"),
    ("#CC79A7", "black"),
    ("#56B4E9", "black"),
    ("#D55E00", "white"),
    ("#F0E442", "black"),
    ("#999999", "black"),
];

/// Tableau 10: distinct, colour-blind-aware hues (the report's charts), as RGB.
pub const TABLEAU_10: [(u8, u8, u8); 10] = [
    (0x4e, 0x79, 0xa7),
    (0xf2, 0x8e, 0x2b),
    (0xe1, 0x57, 0x59),
    (0x76, 0xb7, 0xb2),
    (0x59, 0xa1, 0x4f),
    (0xed, 0xc9, 0x48),
    (0xb0, 0x7a, 0xa1),
    (0xff, 0x9d, 0xa7),
    (0x9c, 0x75, 0x5f),
    (0x79, 0x70, 0x6e),
];

/// A tick step of 1, 2 or 5 × 10^k giving about `n` ticks over `span`.
pub fn tick_step(span: f64, n: f64) -> f64 {
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

/// The frame of a timeline: its size, titles and the time span drawn.
pub struct Frame<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    /// A standalone file starts with an XML declaration; an SVG inlined in HTML does not.
    pub xml_declaration: bool,
    pub title_size: u32,
    pub width: f64,
    pub height: f64,
    /// Margins left (row labels) and right of the plot.
    pub left: f64,
    pub right: f64,
    /// Time at the plot's left edge, and the time span across it (seconds).
    pub t0: f64,
    pub span: f64,
}

/// A bar from `start` to `end` (seconds), at least half a pixel wide.
pub struct Bar<'a> {
    pub start: f64,
    pub end: f64,
    pub y: f64,
    pub height: f64,
    pub fill: &'a str,
    /// More attributes of the rectangle (` stroke="white"`), or none.
    pub outline: &'a str,
    /// Shown on hover.
    pub tooltip: String,
    pub label: Option<Label<'a>>,
}

/// Text drawn on a bar when the bar is wide enough for it.
pub struct Label<'a> {
    pub text: String,
    /// Baseline.
    pub y: f64,
    pub style: LabelStyle<'a>,
}

pub enum LabelStyle<'a> {
    /// Centred, small and white, in bars over 14 px wide (an image number).
    Centred,
    /// From the bar's start in the given colour, where it fits (about 6.5 px per character).
    Inside { ink: &'a str },
}

/// An SVG timeline being written: [`Canvas::new`] writes the frame and titles, then axis,
/// rows and bars in drawing order, [`Canvas::finish`] closes it.
pub struct Canvas {
    s: String,
    left: f64,
    plot_w: f64,
    t0: f64,
    span: f64,
}

impl Canvas {
    pub fn new(f: &Frame) -> Canvas {
        let mut s = String::new();
        if f.xml_declaration {
            s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        }
        let (width, height, left, size) = (f.width, f.height, f.left, f.title_size);
        let _ = writeln!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="24" font-size="{size}" font-weight="bold">{}</text>
<text x="{left}" y="44" fill="#444">{}</text>"##,
            escape(f.title),
            escape(f.subtitle)
        );
        Canvas {
            s,
            left,
            plot_w: f.width - f.left - f.right,
            t0: f.t0,
            span: f.span,
        }
    }

    /// The x coordinate of time `t`.
    pub fn x(&self, t: f64) -> f64 {
        self.left + self.plot_w * (t - self.t0) / self.span
    }

    /// Gridlines from `top` to `bottom` about every eighth of the span, times below.
    pub fn time_axis(&mut self, top: f64, bottom: f64) {
        let step = tick_step(self.span, 8.0);
        let mut t = 0.0;
        while t <= self.span * 1.0001 {
            let xt = self.x(self.t0 + t);
            let _ = writeln!(
                self.s,
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
    }

    /// A row's name, right-aligned in the left margin.
    pub fn row_label(&mut self, y: f64, text: &str) {
        let _ = writeln!(
            self.s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            self.left - 8.0,
            y,
            escape(text)
        );
    }

    /// A grey bar from time zero to `end` behind a row (a run's wall time).
    pub fn backdrop(&mut self, y: f64, height: f64, end: f64, tooltip: &str) {
        let left = self.left;
        let _ = writeln!(
            self.s,
            r##"<rect x="{left}" y="{y:.1}" width="{:.2}" height="{height:.1}" fill="#e8e8e8" stroke="#999"><title>{}</title></rect>"##,
            self.x(end) - left,
            escape(tooltip)
        );
    }

    pub fn bar(&mut self, b: &Bar) {
        let (x0, x1) = (self.x(b.start), self.x(b.end));
        let w = (x1 - x0).max(0.5);
        let _ = write!(
            self.s,
            r#"<rect x="{x0:.2}" y="{:.1}" width="{w:.2}" height="{:.1}" fill="{}"{}><title>{}</title></rect>"#,
            b.y,
            b.height,
            b.fill,
            b.outline,
            escape(&b.tooltip)
        );
        if let Some(l) = &b.label {
            let _ = match l.style {
                LabelStyle::Centred if w > 14.0 => write!(
                    self.s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="white" font-size="10">{}</text>"#,
                    x0 + w / 2.0,
                    l.y,
                    escape(&l.text)
                ),
                LabelStyle::Inside { ink } if w > 6.5 * l.text.chars().count() as f64 + 6.0 => {
                    write!(
                        self.s,
                        r#"<text x="{:.1}" y="{:.1}" fill="{ink}">{}</text>"#,
                        x0 + 4.0,
                        l.y,
                        escape(&l.text)
                    )
                }
                _ => Ok(()),
            };
        }
        self.s.push('\n');
    }

    /// Anything else, as written (legends).
    pub fn push(&mut self, svg: &str) {
        self.s.push_str(svg);
    }

    pub fn finish(mut self) -> String {
        self.s.push_str("</svg>\n");
        self.s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_ticks() {
        assert_eq!(escape(r#"a&b<c>"d"'"#), "a&amp;b&lt;c&gt;&quot;d&quot;'");
        assert!((tick_step(1.0, 8.0) - 0.2).abs() < 1e-12);
        assert!((tick_step(1e-3, 10.0) - 1e-4).abs() < 1e-15);
        assert!((tick_step(3e-3, 8.0) - 5e-4).abs() < 1e-15);
    }
}

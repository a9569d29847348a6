//! Number formatting shared by the terminal tables, the HTML report, the Markdown summary
//! and the SVG timelines, so that the same value reads the same everywhere (and tests can
//! find it).

/// How [`fmt_seconds`] writes a value below one of its smallest unit (under 1 ns, zero,
/// negative, not finite); from one unit up both give three significant digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Small {
    /// [`sig3`]: `0 ns`, `0.500 ns` (tables, report, terminal).
    Sig3,
    /// Two decimals: `0.00 ns`, `0.50 ns` (SVG timelines and `harness profile`).
    TwoDecimals,
}

/// Seconds with a unit chosen for three significant digits: `812 ns`, `27.9 µs`, `1.13 ms`,
/// `2.50 s`.
pub fn fmt_seconds(s: f64, small: Small) -> String {
    let (v, unit) = if s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    match small {
        Small::TwoDecimals if v < 1.0 || v.is_nan() => format!("{v:.2} {unit}"),
        _ => format!("{} {unit}", sig3(v)),
    }
}

/// [`fmt_seconds`] for the tables: `-` for none (and for a value that is not finite).
pub fn fmt_time(s: Option<f64>) -> String {
    match s {
        Some(s) if s.is_finite() => fmt_seconds(s, Small::Sig3),
        _ => "-".into(),
    }
}

/// [`fmt_seconds`] for the timelines: `1.23 ms`, `45.6 µs`, `789 ns`, `1.20 s`, `0.00 ns`.
pub fn fmt_duration(s: f64) -> String {
    fmt_seconds(s, Small::TwoDecimals)
}

/// Fixed decimals, no nanoseconds (the workshop's ladder): `1.20 s`, `3.45 ms`, `12.3 µs`.
pub fn fmt_time_fixed(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// Three significant digits without exponent (for values from 0.001 to 1e6).
pub fn sig3(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.1 {
        format!("{v:.3}")
    } else if a >= 0.01 {
        format!("{v:.4}")
    } else if a >= 0.001 {
        format!("{v:.5}")
    } else if a == 0.0 {
        "0".into()
    } else {
        format!("{v:.1e}")
    }
}

/// A paired ratio and its interval: `0.512 [0.508–0.517]`, three decimals, which are also
/// three significant digits down to 0.1; below, [`sig3`]'s digits (`0.0412`, `2.1e-4`:
/// ours against a Python peer 5000× slower read `0.000 [0.000–0.000]` with three
/// decimals).
pub fn fmt_paired_ratio(ratio: f64, low: f64, high: f64) -> String {
    format!(
        "{} [{}–{}]",
        fmt_paired_value(ratio),
        fmt_paired_value(low),
        fmt_paired_value(high)
    )
}

/// A table cell for a paired ratio: with its interval, or `(no interval)` (too few rounds),
/// or `-` without a ratio.
pub fn fmt_paired_cell(ratio: Option<f64>, low: Option<f64>, high: Option<f64>) -> String {
    match (ratio, low, high) {
        (Some(r), Some(lo), Some(hi)) => fmt_paired_ratio(r, lo, hi),
        (Some(r), _, _) => format!("{} (no interval)", fmt_paired_value(r)),
        _ => "-".into(),
    }
}

/// A ratio as [`fmt_paired_ratio`] writes it, alone: `0.953`, `2.5e-4`.
pub fn fmt_paired_value(v: f64) -> String {
    if v.abs() >= 0.1 {
        format!("{v:.3}")
    } else {
        sig3(v)
    }
}

/// `8.3e-15`; `-` for none.
pub fn fmt_sci(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(0.0) => "0".into(),
        Some(v) if v.is_infinite() => "inf".into(),
        Some(v) => format!("{v:.1e}"),
    }
}

/// A percentage: `12%`, `0.53%`.
pub fn fmt_pct(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.abs() >= 10.0 => format!("{v:.0}%"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.1}%"),
        Some(v) => format!("{v:.2}%"),
    }
}

/// A ratio: `40.4×`.
pub fn fmt_ratio(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) => format!("{}×", sig3(v)),
    }
}

/// A rate with three significant digits (`10.6`).
pub fn fmt_rate(v: Option<f64>) -> String {
    v.map(sig3).unwrap_or_else(|| "-".into())
}

/// Bytes in binary units: `512 B`, `1.50 MiB`.
pub fn fmt_bytes(b: Option<f64>) -> String {
    match b {
        None => "-".into(),
        Some(b) if b < 1024.0 => format!("{b:.0} B"),
        Some(b) if b < 1048576.0 => format!("{} KiB", sig3(b / 1024.0)),
        Some(b) if b < 1073741824.0 => format!("{} MiB", sig3(b / 1048576.0)),
        Some(b) => format!("{} GiB", sig3(b / 1073741824.0)),
    }
}

/// A number given by a user or read from a file, in a message: as typed up to a million
/// (`3600.5`, `-1`, `NaN`), in exponent form beyond and below (`1e300`, `1e-300`), so that
/// a huge value never prints as a row of 301 digits.
pub fn fmt_number(v: f64) -> String {
    if !v.is_finite() || v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// A parameter value as it reads in a sentence: `32`, `0.01`.
pub fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_messages_are_short_whatever_their_size() {
        assert_eq!(fmt_number(1e300), "1e300");
        assert_eq!(fmt_number(-1e300), "-1e300");
        assert_eq!(fmt_number(f64::MAX), "1.7976931348623157e308");
        assert_eq!(fmt_number(1e-300), "1e-300");
        assert_eq!(fmt_number(3600.5), "3600.5");
        assert_eq!(fmt_number(-1.0), "-1");
        assert_eq!(fmt_number(0.0), "0");
        assert_eq!(fmt_number(f64::NAN), "NaN");
        assert_eq!(fmt_number(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt_number(1e6), "1e6");
    }

    #[test]
    fn times_have_three_digits_and_a_unit() {
        assert_eq!(fmt_time(Some(1.13e-3)), "1.13 ms");
        assert_eq!(fmt_time(Some(27.93e-6)), "27.9 µs");
        assert_eq!(fmt_time(Some(812e-9)), "812 ns");
        assert_eq!(fmt_time(Some(2.5)), "2.50 s");
        assert_eq!(fmt_time(None), "-");
        assert_eq!(fmt_bytes(Some(1536.0)), "1.50 KiB");
        assert_eq!(fmt_ratio(Some(40.44)), "40.4×");
        assert_eq!(
            fmt_paired_ratio(0.5123, 0.5081, 0.517),
            "0.512 [0.508–0.517]"
        );
        assert_eq!(fmt_paired_ratio(1.0324, 1.0, 1.2), "1.032 [1.000–1.200]");
        assert_eq!(
            fmt_paired_ratio(2.07e-4, 2.051e-4, 2.09e-4),
            "2.1e-4 [2.1e-4–2.1e-4]"
        );
        assert_eq!(
            fmt_paired_ratio(0.0412, 0.0401, 0.0415),
            "0.0412 [0.0401–0.0415]"
        );
        assert_eq!(fmt_pct(Some(3.1249)), "3.1%");
        assert_eq!(fmt_pct(Some(3.26)), "3.3%");
        assert_eq!(fmt_pct(Some(42.0)), "42%");
    }

    #[test]
    fn durations_read_as_times_except_below_one_unit() {
        assert_eq!(fmt_duration(1.5e-3), "1.50 ms");
        assert_eq!(fmt_duration(250e-6), "250 µs");
        assert_eq!(fmt_duration(2.0), "2.00 s");
        for s in [812e-9, 27.93e-6, 1.13e-3, 2.5, 999.96e-6, 1234.5] {
            assert_eq!(fmt_duration(s), fmt_time(Some(s)), "{s}");
        }
        assert_eq!(fmt_duration(0.0), "0.00 ns");
        assert_eq!(fmt_time(Some(0.0)), "0 ns");
        assert_eq!(fmt_time(Some(f64::NAN)), "-");
        assert_eq!(fmt_time_fixed(40.6e-6), "40.6 µs");
        assert_eq!(fmt_time_fixed(24.69e-3), "24.69 ms");
    }
}

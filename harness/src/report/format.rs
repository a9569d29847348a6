//! Number formatting shared by the terminal table, the HTML report and the Markdown summary,
//! so that the same value reads the same everywhere (and tests can find it).

/// Seconds with a unit chosen for three significant digits: `812 ns`, `27.9 µs`, `1.13 ms`.
pub fn fmt_time(s: Option<f64>) -> String {
    match s {
        None => "-".into(),
        Some(s) if !s.is_finite() => "-".into(),
        Some(s) if s < 1e-6 => format!("{} ns", sig3(s * 1e9)),
        Some(s) if s < 1e-3 => format!("{} µs", sig3(s * 1e6)),
        Some(s) if s < 1.0 => format!("{} ms", sig3(s * 1e3)),
        Some(s) => format!("{} s", sig3(s)),
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
    fn times_have_three_digits_and_a_unit() {
        assert_eq!(fmt_time(Some(1.13e-3)), "1.13 ms");
        assert_eq!(fmt_time(Some(27.93e-6)), "27.9 µs");
        assert_eq!(fmt_time(Some(812e-9)), "812 ns");
        assert_eq!(fmt_time(Some(2.5)), "2.50 s");
        assert_eq!(fmt_time(None), "-");
        assert_eq!(fmt_bytes(Some(1536.0)), "1.50 KiB");
        assert_eq!(fmt_ratio(Some(40.44)), "40.4×");
        assert_eq!(fmt_pct(Some(3.1249)), "3.1%");
    }
}

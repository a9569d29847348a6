//! `--fail-above`: the relative slowdown a comparison tolerates, written `5%` or `0.05`.

use anyhow::{Result, bail};

/// Largest threshold accepted (1000 %: eleven times slower). A gate wider than that lets
/// everything through; a value that large is a typo (`500` for `5%`).
pub const MAX_THRESHOLD: f64 = 10.0;

/// Reads `5%` (percent) or `0.05` (a fraction) into a fraction in `[0, MAX_THRESHOLD]`.
///
/// A bare number of 1 or more is refused: `5` could mean 5 % or 500 %, so the user says
/// which. Not a number, negative, `nan`, `inf`, or beyond [`MAX_THRESHOLD`]: refused too.
pub fn parse(text: &str) -> Result<f64> {
    let t = text.trim();
    let (number, percent) = match t.strip_suffix('%') {
        Some(n) => (n.trim_end(), true),
        None => (t, false),
    };
    let hint = "give a slowdown such as 5% or 0.05";
    let value: f64 = match number.parse::<f64>() {
        Ok(v) if v.is_finite() => v,
        _ => bail!("--fail-above {text}: not a number; {hint}"),
    };
    if value < 0.0 || (value == 0.0 && number.starts_with('-')) {
        bail!("--fail-above {text}: a slowdown cannot be negative; {hint}");
    }
    if !percent && value >= 1.0 {
        bail!(
            "--fail-above {text}: ambiguous (percent or fraction?); write {text}% or {}",
            value / 100.0
        );
    }
    let fraction = if percent { value / 100.0 } else { value };
    if fraction > MAX_THRESHOLD {
        bail!(
            "--fail-above {text}: at most {:.0}% (a slowdown of {}×); {hint}",
            100.0 * MAX_THRESHOLD,
            1.0 + MAX_THRESHOLD
        );
    }
    Ok(fraction)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn percent_and_fraction_read_the_same() {
        assert_eq!(parse("5%").unwrap(), 0.05);
        assert_eq!(parse(" 5 % ").unwrap(), 0.05);
        assert_eq!(parse("0.05").unwrap(), 0.05);
        assert_eq!(parse("0%").unwrap(), 0.0);
        assert_eq!(parse("0").unwrap(), 0.0);
        assert_eq!(parse("1000%").unwrap(), 10.0);
    }

    #[test]
    fn nonsense_is_refused_with_what_to_write() {
        for bad in [
            "abc", "-5%", "-0", "nan", "NaN%", "inf", "5", "100", "1e400", "5%%", "", "%", "1001%",
            "0x5",
        ] {
            let e = parse(bad).expect_err(bad).to_string();
            assert!(e.starts_with(&format!("--fail-above {bad}:")), "{e}");
            assert!(e.contains('%'), "says what to write: {e}");
        }
    }
}

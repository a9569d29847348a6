//! The raw timings of a row: `samples/<kernel>-<case>-<variant>-<params>-t<threads>.csv`
//! in the run folder, named in the row's `samples_file` column, so that later comparisons
//! (`harness compare RUN_A RUN_B`) and the report's distributions work on the samples
//! themselves, not only on their summary.
//!
//! One header line, `seconds_per_run`, then one value per sample (a sample's time over its
//! `iters_per_sample` runs) in the order taken. In an interleaved run sample `i` of every
//! variant of a problem comes from round `i`, so that rows can be paired again.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Result, bail};

/// The header line of a samples file.
pub const HEADER: &str = "seconds_per_run";

/// Most samples a file is read with: the timing never takes more than
/// [`crate::measure::timing::MAX_SAMPLES`] per row, interleaved rounds as many.
pub const MAX_READ: usize = 1_000_000;

/// Writes the samples whole or not at all, never over an existing file.
pub fn write(path: &Path, samples: &[f64]) -> Result<()> {
    let mut text = String::with_capacity(16 * (samples.len() + 1));
    text.push_str(HEADER);
    text.push('\n');
    for s in samples {
        // Shortest text that reads back to the same f64.
        let _ = writeln!(text, "{s:e}");
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    super::write_whole(path, false, |w| Ok(w.write_all(text.as_bytes())?))
}

/// Reads a samples file: every value a finite, positive number of seconds.
pub fn read(path: &Path) -> Result<Vec<f64>> {
    let text = super::read_regular(path, 64 * MAX_READ as u64)?;
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some(HEADER) {
        bail!(
            "{} does not start with `{HEADER}`: not a samples file the harness wrote",
            path.display()
        );
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match line.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 && out.len() < MAX_READ => out.push(v),
            _ => bail!(
                "{} line {}: `{}` is not a time in seconds (or the file has more than {MAX_READ} samples)",
                path.display(),
                i + 2,
                line.trim()
            ),
        }
    }
    Ok(out)
}

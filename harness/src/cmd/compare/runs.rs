//! `harness compare RUN_A RUN_B`: two run folders (or two sets of shard folders), row by
//! row, through [`crate::compare`]: the terminal table, `--markdown` / `--json` files, and
//! with `--fail-above` the exit code of a regression gate (1 when some row is slower beyond
//! the threshold with 95 % confidence).
//!
//! Everything the command line says is checked before anything is read or written: a bad
//! threshold, a flag of the interleaved mode, an output file that exists.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::CompareArgs;
use crate::compare::rows::{self, Filter};
use crate::compare::side::Side;
use crate::compare::{Comparison, json, text, threshold};

pub fn compare(
    args: &CompareArgs,
    params: &BTreeMap<String, Vec<String>>,
    a: &Path,
    b: &Path,
) -> Result<ExitCode> {
    refuse_interleaved_flags(args)?;
    let fail_above = args
        .fail_above
        .as_deref()
        .map(threshold::parse)
        .transpose()?;
    let filter = filter_of(args, params)?;
    check_outputs(args)?;
    let (side_a, side_b) = (Side::load("A", a)?, Side::load("B", b)?);
    let c = rows::compare(
        &side_a,
        &side_b,
        &filter,
        fail_above.unwrap_or(0.0),
        fail_above,
    )?;
    print!("{}", text::terminal(&c));
    write_outputs(args, &c)?;
    Ok(if c.gate_fails() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Flags that only mean something for an interleaved run.
fn refuse_interleaved_flags(args: &CompareArgs) -> Result<()> {
    if args.baseline.is_some() {
        bail!(
            "compare RUN_A RUN_B: --baseline is for an interleaved run (no folders); here RUN_A is the baseline: drop --baseline"
        );
    }
    if args.against_bin.is_some() {
        bail!(
            "compare RUN_A RUN_B: --against-bin runs two builds itself: give either two run folders or --against-bin"
        );
    }
    Ok(())
}

/// The rows to compare, from the selection flags and kernel parameters.
fn filter_of(args: &CompareArgs, params: &BTreeMap<String, Vec<String>>) -> Result<Filter> {
    let mut values = BTreeMap::new();
    for (name, texts) in params {
        let parsed = texts
            .iter()
            .map(|t| match t.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => bail!(
                    "--{name} {t}: not a number; give the value the rows have (e.g. --{name} 64)"
                ),
            })
            .collect::<Result<Vec<f64>>>()?;
        values.insert(name.clone(), parsed);
    }
    Ok(Filter {
        kernel: args.select.kernel.clone(),
        case: args.select.case.clone(),
        variants: args
            .select
            .variant
            .iter()
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
        threads: args.threads,
        params: values,
    })
}

/// `--markdown` and `--json`: new files in existing folders, not the same file.
fn check_outputs(args: &CompareArgs) -> Result<()> {
    let outputs = [("--markdown", &args.markdown), ("--json", &args.json)];
    for (flag, path) in outputs {
        let Some(path) = path else { continue };
        if std::fs::symlink_metadata(path).is_ok() {
            bail!(
                "{flag} {}: the file exists (the harness never overwrites one): choose another name",
                path.display()
            );
        }
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if parent.is_some_and(|p| !p.is_dir()) {
            bail!(
                "{flag} {}: its folder does not exist: create it first or give another path",
                path.display()
            );
        }
    }
    if args.markdown.is_some() && args.markdown == args.json {
        bail!("--markdown and --json name the same file: give two names");
    }
    Ok(())
}

/// Writes the requested files, each whole; when the second fails the first is removed, so
/// that a failed command leaves nothing behind.
fn write_outputs(args: &CompareArgs, c: &Comparison) -> Result<()> {
    let write = |path: &Path, text: &str| {
        crate::results::write_whole(path, false, |w| Ok(w.write_all(text.as_bytes())?))
    };
    if let Some(md) = &args.markdown {
        write(md, &text::markdown(c))?;
        println!("markdown: {}", md.display());
    }
    if let Some(js) = &args.json {
        let written = json::render(c).and_then(|t| write(js, &t));
        if let Err(e) = written {
            if let Some(md) = &args.markdown {
                let _ = std::fs::remove_file(md);
            }
            return Err(e);
        }
        println!("json: {}", js.display());
    }
    Ok(())
}

//! `harness compare --kernel K --variant A,B`: an interleaved run of the selected variants
//! (`bench --interleave`, a run folder under `--out` as any bench), then a compact table of
//! each variant's median and its ratio to the baseline with the 95 % interval and the
//! verdict; the same table as Markdown (`--markdown FILE`) and JSON (`--json FILE`, its
//! schema in README.md: `{"mode": "interleaved", "run": ..., "rows": [...]}`).
//!
//! With `--against-bin PATH` ([`against_bin`]): this build against another one, each
//! running one round in turn as a child process ([`child`]).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::cli::CompareArgs;
use crate::cmd::bench::{self, Finished};
use crate::cmd::plan;
use crate::render::fmt::fmt_time;
use crate::results::{self, Row, Status};

mod against_bin;
mod child;

pub fn compare(args: &CompareArgs, params: &BTreeMap<String, Vec<String>>) -> Result<ExitCode> {
    if args.fail_above.is_some() {
        bail!(
            "--fail-above applies to `compare RUN_A RUN_B`; an interleaved comparison reports \
             each ratio's verdict"
        );
    }
    if let Some(other) = &args.against_bin {
        if let Some(b) = &args.baseline {
            bail!(
                "--baseline {b}: with --against-bin the other build is the baseline; leave it out"
            );
        }
        return against_bin::compare(args, other, params);
    }
    check(args, params)?;
    let bench_args = crate::cli::BenchArgs {
        select: args.select.clone(),
        threads: args.threads.into_iter().collect(),
        budget: args.budget,
        out: args.out.clone(),
        interleave: true,
        baseline: args.baseline.clone(),
        limits: args.limits.clone(),
        ..bench::default_args()
    };
    let Finished { code, dir } = bench::bench_finished(&bench_args, params)?;
    let rows = results::read_rows(&dir.join("results.csv"))?;
    let compared: Vec<Compared> = rows.iter().map(Compared::of).collect();
    if compared.is_empty() {
        // Interrupted (or refused) before any problem finished: an empty table in a file
        // would read as "nothing differs"; write nothing instead.
        println!("\nno problem finished: nothing to compare, no file written");
        return Ok(code);
    }
    println!("\n{}", table(&compared, false));
    let outputs = [
        (&args.markdown, markdown(&compared)),
        (&args.json, json(&dir, &compared)?),
    ];
    for (path, text) in outputs {
        if let Some(path) = path {
            results::write_whole(path, false, |w| Ok(w.write_all(text.as_bytes())?))?;
            println!("wrote {}", path.display());
        }
    }
    Ok(code)
}

/// Refusals before anything runs (exit code 2, nothing written): a selection without two
/// variants to compare, output files that exist.
fn check(args: &CompareArgs, params: &BTreeMap<String, Vec<String>>) -> Result<()> {
    let names_kernel = args.select.kernel.is_some()
        || args
            .select
            .variant
            .as_deref()
            .is_some_and(|v| v.contains('/'));
    if !names_kernel {
        bail!(
            "compare: name the kernel and the variants (e.g. --kernel laue --variant \
             factorised,parallel), or give two run folders"
        );
    }
    let plan = plan::plan(&args.select, params)?;
    if plan.variant.as_ref().is_some_and(|v| v.len() < 2) {
        bail!(
            "compare: give at least two variants (--variant A,B; --baseline chooses the one \
             the others are against)"
        );
    }
    for path in [&args.markdown, &args.json].into_iter().flatten() {
        check_output(path)?;
    }
    Ok(())
}

/// An output file must be new (the harness never overwrites one) in a folder that exists.
fn check_output(path: &Path) -> Result<()> {
    if std::fs::symlink_metadata(path).is_ok() {
        bail!(
            "{} exists (the harness never overwrites a file): choose another name",
            path.display()
        );
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if parent.is_some_and(|p| !p.is_dir()) {
        bail!(
            "{}: its folder does not exist; create it first or give another path",
            path.display()
        );
    }
    Ok(())
}

/// One row of the comparison, as the table, the Markdown and the JSON give it.
#[derive(Debug, Serialize)]
struct Compared {
    kernel: String,
    case: String,
    params: String,
    threads: usize,
    variant: String,
    /// ok, failed, skipped or n/a (then `reason` says why and there is no time).
    status: String,
    median_s: Option<f64>,
    /// The variant the ratio is against; `ratio` is time(variant) / time(baseline).
    baseline: String,
    rounds: usize,
    ratio: Option<f64>,
    ratio_low: Option<f64>,
    ratio_high: Option<f64>,
    /// faster, slower, no difference, or empty without a ratio.
    verdict: String,
    /// Whether the variant was timed in rounds (false: the problem did not fit in memory
    /// with all its variants at once and was timed sequentially; no ratio then).
    interleaved: bool,
    reason: String,
}

impl Compared {
    fn of(r: &Row) -> Compared {
        Compared {
            kernel: r.kernel.clone(),
            case: r.case.clone(),
            params: r.params.to_string(),
            threads: r.threads,
            variant: r.variant.clone(),
            status: r.status.to_string(),
            median_s: r.median_s,
            baseline: r.baseline.clone(),
            rounds: r.rounds,
            ratio: r.ratio,
            ratio_low: r.ratio_low,
            ratio_high: r.ratio_high,
            verdict: r.verdict.clone(),
            interleaved: r.interleaved,
            reason: r.reason.clone(),
        }
    }

    /// `0.512 [0.508–0.517]`, or `-`.
    fn ratio_text(&self) -> String {
        // Without an interval (too few rounds), the verdict column says why.
        crate::render::fmt::fmt_paired_cell(self.ratio, self.ratio_low, self.ratio_high)
    }

    /// The verdict, `baseline` for the baseline itself, or the status and reason.
    fn verdict_text(&self) -> String {
        if self.status != Status::Ok.as_str() {
            return format!("{}: {}", self.status, self.reason);
        }
        if self.variant == self.baseline {
            return "baseline".into();
        }
        if self.verdict.is_empty() {
            return self.reason.clone();
        }
        self.verdict.clone()
    }
}

/// The rows grouped by problem and thread count: a heading, then one line per variant
/// (a Markdown table with `markdown`).
fn table(rows: &[Compared], markdown: bool) -> String {
    let mut out = String::new();
    let mut last = None;
    for r in rows {
        let key = (&r.kernel, &r.case, &r.params, r.threads);
        if last != Some(key) {
            last = Some(key);
            let rounds = rows
                .iter()
                .filter(|o| (&o.kernel, &o.case, &o.params, o.threads) == key)
                .map(|o| o.rounds)
                .max()
                .unwrap_or(0);
            out.push_str(&heading(r, rounds, markdown));
        }
        let cells = [
            r.variant.clone(),
            fmt_time(r.median_s),
            r.ratio_text(),
            r.verdict_text(),
        ];
        out.push_str(&if markdown {
            format!("| {} |\n", cells.join(" | "))
        } else {
            format!(
                "  {:<18} {:>10}  {:<24} {}\n",
                cells[0], cells[1], cells[2], cells[3]
            )
        });
    }
    out
}

fn heading(r: &Compared, rounds: usize, markdown: bool) -> String {
    let title = format!(
        "{}/{} [{}] · {} thread(s) · {rounds} rounds",
        r.kernel, r.case, r.params, r.threads
    );
    let against = if r.baseline.is_empty() {
        "ratio (95 %)".to_string()
    } else {
        format!("ratio to {} (95 %)", r.baseline)
    };
    if markdown {
        format!("\n### {title}\n\n| variant | median | {against} | verdict |\n|---|---:|---|---|\n")
    } else {
        format!(
            "{title}\n  {:<18} {:>10}  {:<24} verdict\n",
            "variant", "median", against
        )
    }
}

fn markdown(rows: &[Compared]) -> String {
    format!(
        "# Interleaved comparison\n\nratio = time(variant) / time(baseline), the median of \
         the per-round ratios with its 95 % bootstrap interval over rounds (below 1: faster).\n{}",
        table(rows, true)
    )
}

/// The JSON document: the mode, the run folder and the rows.
fn json(dir: &Path, rows: &[Compared]) -> Result<String> {
    #[derive(Serialize)]
    struct Doc<'a> {
        mode: &'static str,
        run: PathBuf,
        rows: &'a [Compared],
    }
    let doc = Doc {
        mode: "interleaved",
        run: dir.to_path_buf(),
        rows,
    };
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

//! `harness compare --against-bin PATH`: this build against another build of the harness
//! (another commit, built into its own target folder) on the same problem, interleaved by
//! process. Both builds run as children speaking the rounds protocol (`bench --rounds-out
//! -`); each prepares, validates and warms up the selected variants, then the two are asked
//! for one round each in turn, in an order shuffled per round, until the summed budget
//! (budget × variants × 2) has passed. Round *i* of both gives each variant one paired ratio
//! time(this build) / time(other build); below 1, this build is faster.
//!
//! No run folder is made: the table, and `--markdown` / `--json` when asked, are the output.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::ValueEnum as _;
use serde::Serialize;

use super::check_output;
use super::child::{Ready, Side, version_of};
use crate::cli::CompareArgs;
use crate::cmd::bench::VERDICT_THRESHOLD;
use crate::cmd::plan;
use crate::measure::paired::{self, paired, too_few_rounds};
use crate::measure::rounds::enough;
use crate::measure::stats::{SplitMix, median};
use crate::measure::timing::Config;
use crate::render::fmt::fmt_time;
use crate::results::write_whole;

pub fn compare(
    args: &CompareArgs,
    other: &Path,
    params: &BTreeMap<String, Vec<String>>,
) -> Result<ExitCode> {
    let problem = check(args, other, params)?;
    let scratch = Scratch::new()?;
    let child_args = child_args(args, params, &scratch.0);
    let this = std::env::current_exe()?;
    let mut sides = [
        Side::start(&this, &child_args)?,
        Side::start(other, &child_args)?,
    ];
    eprintln!("both builds started; preparing and validating the variants in each...");
    let ready = [sides[0].ready()?, sides[1].ready()?];
    let mut timing = Timing::new(&ready);
    eprintln!(
        "timing {} in rounds, the two builds in turn...",
        timing.names.join(", ")
    );
    timing.run(&mut sides, args.budget)?;
    for side in &mut sides {
        side.quit();
    }
    let rows = timing.rows(&ready);
    let doc = Doc {
        mode: "against-bin",
        problem,
        this: Build::of(&sides[0]),
        other: Build::of(&sides[1]),
        rounds: timing.rounds,
        rows,
    };
    println!("\n{}", table(&doc, false));
    write_outputs(args, &doc)?;
    let failed = doc.rows.iter().any(|r| r.status == "failed");
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Refusals before anything runs: a path that is not a harness binary, a selection that is
/// not one problem, output files that exist. The problem, as the table names it.
fn check(
    args: &CompareArgs,
    other: &Path,
    params: &BTreeMap<String, Vec<String>>,
) -> Result<Problem> {
    if !other.is_file() {
        bail!(
            "--against-bin {}: no such file; build the other commit into its own target folder \
             (git worktree add ../old COMMIT && cargo build --release --target-dir ../old-target) \
             and give ../old-target/release/harness",
            other.display()
        );
    }
    crate::cmd::check_seconds("--budget", args.budget)?;
    if args.threads == Some(0) {
        bail!("--threads 0: give a thread count of at least 1 (default: all cores)");
    }
    let version = version_of(other)?;
    if !version.starts_with("harness ") {
        bail!(
            "--against-bin {} is not a harness binary (`--version` says `{version}`): give the \
             path of another build's target/release/harness",
            other.display()
        );
    }
    let plan = plan::plan(&args.select, params)?;
    let [job] = plan.jobs.as_slice() else {
        bail!(
            "--against-bin: the selection matches {} problems; give --case and one value per \
             parameter (e.g. --n 64): one problem",
            plan.jobs.len()
        );
    };
    for path in [&args.markdown, &args.json].into_iter().flatten() {
        check_output(path)?;
    }
    Ok(Problem {
        kernel: job.kernel.name().into(),
        case: job.case.clone(),
        params: job.params.to_string(),
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    })
}

/// The arguments both children get: this command's selection, as `bench --rounds-out -`,
/// with a scratch `--out` (a build that ignores `--rounds-out` writes nothing elsewhere).
fn child_args(
    args: &CompareArgs,
    params: &BTreeMap<String, Vec<String>>,
    out: &Path,
) -> Vec<String> {
    let mut a: Vec<String> = vec!["bench".into(), "--rounds-out".into(), "-".into()];
    let s = &args.select;
    let flags = [
        ("--kernel", &s.kernel),
        ("--case", &s.case),
        ("--variant", &s.variant),
    ];
    for (flag, value) in flags {
        if let Some(v) = value {
            a.extend([flag.to_string(), v.clone()]);
        }
    }
    if let Some(t) = args.threads {
        a.extend(["--threads".into(), t.to_string()]);
    }
    a.extend(["--budget".into(), args.budget.to_string()]);
    if let Some(name) = args.limits.suite.to_possible_value() {
        a.extend(["--suite".into(), name.get_name().to_string()]);
    }
    if let Some(s) = args.limits.time_limit {
        a.extend(["--time-limit".into(), s.to_string()]);
    }
    a.extend(["--out".into(), out.display().to_string()]);
    for (name, values) in params {
        a.extend([format!("--{name}"), values.join(",")]);
    }
    a
}

/// A scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "harness-against-bin-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The rounds of both builds: per build and variant the seconds per run, one per round.
struct Timing {
    /// Variants ok in both builds after their gate and warm-up.
    names: Vec<String>,
    samples: [BTreeMap<String, Vec<f64>>; 2],
    /// Variants that failed while timed in either build, and why.
    failed: BTreeMap<String, String>,
    rounds: usize,
}

impl Timing {
    fn new(ready: &[Vec<Ready>; 2]) -> Timing {
        let ok =
            |side: &[Ready], name: &str| side.iter().any(|r| r.variant == name && r.status == "ok");
        let names: Vec<String> = ready[0]
            .iter()
            .filter(|r| ok(&ready[0], &r.variant) && ok(&ready[1], &r.variant))
            .map(|r| r.variant.clone())
            .collect();
        let empty = || names.iter().map(|n| (n.clone(), Vec::new())).collect();
        Timing {
            samples: [empty(), empty()],
            names,
            failed: BTreeMap::new(),
            rounds: 0,
        }
    }

    /// Rounds, each build in turn in a shuffled order, until the summed budget has passed.
    fn run(&mut self, sides: &mut [Side; 2], budget: f64) -> Result<()> {
        let cfg = Config {
            budget,
            // Enough for an interval and a verdict, unless a round takes three budgets.
            min_samples: paired::MIN_ROUNDS,
        };
        let mut rng = SplitMix(0xB1B1_0F12);
        let started = Instant::now();
        loop {
            let active = self.names.len() - self.failed.len();
            let spent = started.elapsed().as_secs_f64();
            if active == 0 || enough(spent, 2 * active, self.rounds, cfg) {
                return Ok(());
            }
            // No drift probe here: the builds run in child processes, and pairing each
            // round's two times already cancels the drift between rounds.
            let first = rng.below(2);
            for k in [first, 1 - first] {
                let times = sides[k].round()?;
                self.take(k, &times.seconds, &times.failed);
            }
            self.rounds += 1;
        }
    }

    /// One build's round: each variant's sample, or its failure.
    fn take(
        &mut self,
        k: usize,
        seconds: &BTreeMap<String, f64>,
        failed: &BTreeMap<String, String>,
    ) {
        let build = ["this build", "the other build"][k];
        for name in &self.names {
            if self.failed.contains_key(name) {
                continue;
            }
            match (seconds.get(name), failed.get(name)) {
                (Some(&s), None) => self.samples[k]
                    .get_mut(name)
                    .expect("a list per name")
                    .push(s),
                (_, Some(why)) => {
                    self.failed.insert(name.clone(), format!("{build}: {why}"));
                }
                (None, None) => {
                    self.failed
                        .insert(name.clone(), format!("{build} sent no time"));
                }
            }
        }
    }

    /// A row per variant of either build: its ratio, or why there is none.
    fn rows(&self, ready: &[Vec<Ready>; 2]) -> Vec<Compared> {
        let mut rows: Vec<Compared> = ready[0].iter().map(|r| self.row(r, &ready[1])).collect();
        for r in ready[1]
            .iter()
            .filter(|r| !ready[0].iter().any(|t| t.variant == r.variant))
        {
            rows.push(Compared::untimed(
                &r.variant,
                "n/a",
                "only in the other build".into(),
            ));
        }
        rows
    }

    fn row(&self, this: &Ready, other_side: &[Ready]) -> Compared {
        let name = &this.variant;
        let Some(other) = other_side.iter().find(|o| o.variant == *name) else {
            return Compared::untimed(name, "n/a", "not in the other build".into());
        };
        for (r, build) in [(this, "this build"), (other, "the other build")] {
            if r.status != "ok" {
                return Compared::untimed(name, &r.status, format!("{build}: {}", r.reason));
            }
        }
        if let Some(why) = self.failed.get(name) {
            return Compared::untimed(name, "failed", why.clone());
        }
        let (a, b) = (&self.samples[0][name], &self.samples[1][name]);
        let ratio = paired(a, b);
        // With too few rounds, the ratio alone (see `too_few_rounds`).
        let few = too_few_rounds(a.len());
        let interval = ratio.filter(|_| few.is_none());
        Compared {
            variant: name.clone(),
            status: "ok".into(),
            median_this_s: (!a.is_empty()).then(|| median(a)),
            median_other_s: (!b.is_empty()).then(|| median(b)),
            ratio: ratio.map(|r| r.ratio),
            ratio_low: interval.map(|r| r.low),
            ratio_high: interval.map(|r| r.high),
            verdict: interval
                .map(|r| r.verdict(VERDICT_THRESHOLD).to_string())
                .unwrap_or_default(),
            reason: few.filter(|_| ratio.is_some()).unwrap_or_default(),
        }
    }
}

/// The JSON document of `--json` (its schema is in README.md).
#[derive(Serialize)]
struct Doc {
    mode: &'static str,
    problem: Problem,
    this: Build,
    other: Build,
    rounds: usize,
    rows: Vec<Compared>,
}

#[derive(Serialize)]
struct Problem {
    kernel: String,
    case: String,
    params: String,
    threads: usize,
}

#[derive(Serialize)]
struct Build {
    binary: PathBuf,
    git_commit: String,
}

impl Build {
    fn of(side: &Side) -> Build {
        Build {
            binary: side.binary.clone(),
            git_commit: side.git_commit.clone(),
        }
    }
}

/// One variant: this build's time over the other's, paired by round.
#[derive(Serialize)]
struct Compared {
    variant: String,
    /// ok, failed, skipped or n/a (in either build; `reason` says which and why).
    status: String,
    median_this_s: Option<f64>,
    median_other_s: Option<f64>,
    /// time(this build) / time(other build), below 1 when this build is faster.
    ratio: Option<f64>,
    ratio_low: Option<f64>,
    ratio_high: Option<f64>,
    verdict: String,
    reason: String,
}

impl Compared {
    fn untimed(variant: &str, status: &str, reason: String) -> Compared {
        Compared {
            variant: variant.into(),
            status: status.into(),
            median_this_s: None,
            median_other_s: None,
            ratio: None,
            ratio_low: None,
            ratio_high: None,
            verdict: String::new(),
            reason,
        }
    }
}

/// The terminal table (a Markdown one with `markdown`).
fn table(doc: &Doc, markdown: bool) -> String {
    let p = &doc.problem;
    let build = |b: &Build| format!("{} ({})", b.binary.display(), b.git_commit);
    let mut out = format!(
        "{}{}/{} [{}] · {} thread(s) · {} rounds\nthis build: {} · other build: {}\n",
        if markdown { "### " } else { "" },
        p.kernel,
        p.case,
        p.params,
        p.threads,
        doc.rounds,
        build(&doc.this),
        build(&doc.other)
    );
    let head = [
        "variant",
        "other",
        "this",
        "ratio this/other (95 %)",
        "verdict",
    ];
    out.push_str(&if markdown {
        format!("\n| {} |\n|---|---:|---:|---|---|\n", head.join(" | "))
    } else {
        format!(
            "  {:<18} {:>10} {:>10}  {:<24} {}\n",
            head[0], head[1], head[2], head[3], head[4]
        )
    });
    for r in &doc.rows {
        let ratio = crate::render::fmt::fmt_paired_cell(r.ratio, r.ratio_low, r.ratio_high);
        let verdict = if r.status != "ok" {
            format!("{}: {}", r.status, r.reason)
        } else if r.verdict.is_empty() {
            r.reason.clone()
        } else {
            r.verdict.clone()
        };
        let cells = [
            r.variant.clone(),
            fmt_time(r.median_other_s),
            fmt_time(r.median_this_s),
            ratio,
            verdict,
        ];
        out.push_str(&if markdown {
            format!("| {} |\n", cells.join(" | "))
        } else {
            format!(
                "  {:<18} {:>10} {:>10}  {:<24} {}\n",
                cells[0], cells[1], cells[2], cells[3], cells[4]
            )
        });
    }
    out
}

fn write_outputs(args: &CompareArgs, doc: &Doc) -> Result<()> {
    let md = format!(
        "# This build against another\n\nratio = time(this build) / time(other build), the \
         median of the per-round ratios with its 95 % bootstrap interval over rounds (below 1: \
         this build is faster).\n\n{}",
        table(doc, true)
    );
    let json = serde_json::to_string_pretty(doc)? + "\n";
    for (path, text) in [(&args.markdown, md), (&args.json, json)] {
        if let Some(path) = path {
            write_whole(path, false, |w| Ok(w.write_all(text.as_bytes())?))?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cmd, Suite, parse_from};

    #[test]
    fn both_builds_get_the_selection_the_parameters_and_the_limits() {
        let line = "harness compare --kernel deconv --case synthetic --variant lanes --n 64 \
                    --budget 2 --threads 1 --suite full --time-limit 200 --against-bin other";
        let parsed = parse_from(line.split_whitespace()).expect("a valid command line");
        let Some(Cmd::Compare(args)) = &parsed.cli.command else {
            panic!("not compare: {:?}", parsed.cli.command);
        };
        let child = child_args(args, &parsed.params, Path::new("scratch"));
        let again = parse_from(std::iter::once("harness".to_string()).chain(child.clone()))
            .expect("the children's command line parses");
        let Some(Cmd::Bench(bench)) = &again.cli.command else {
            panic!("not bench: {child:?}");
        };
        assert_eq!(bench.select.kernel.as_deref(), Some("deconv"));
        assert_eq!(bench.select.case.as_deref(), Some("synthetic"));
        assert_eq!(bench.select.variant.as_deref(), Some("lanes"));
        assert_eq!(again.params, parsed.params, "{child:?}");
        assert_eq!((bench.budget, bench.threads.as_slice()), (2.0, &[1][..]));
        assert_eq!(bench.limits.suite, Suite::Full, "{child:?}");
        assert_eq!(bench.limits.time_limit, Some(200.0), "{child:?}");
        assert_eq!(bench.out, Path::new("scratch"));
    }
}

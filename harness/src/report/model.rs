//! From a dataset to what a report says: per kernel and case, the tables, the fits (size
//! exponents, Amdahl), the chart series and the backend advice. Renderers (HTML, Markdown)
//! only lay this out, so both say the same numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kernels::registry;

use super::charts::{self, Bar, Roof, Series};
use super::data::{Dataset, Entry, relative_path};
use super::format::{fmt_bytes, fmt_pct, fmt_rate, fmt_ratio, fmt_sci, fmt_time, fmt_value, sig3};
use super::image::{self, Scale};
use crate::stats::{self, AmdahlFit, PowerFit};

/// A table as cells of text; both renderers print the same cells.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<TableRow>,
}

#[derive(Clone, Debug, Default)]
pub struct TableRow {
    pub cells: Vec<String>,
    /// ok, noisy, python, skipped, na, failed: the row's look.
    pub class: &'static str,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| *h == name)
    }
}

#[derive(Clone, Debug)]
pub struct ProblemTable {
    pub params: String,
    pub table: Table,
}

#[derive(Clone, Debug)]
pub struct Fit {
    pub label: String,
    pub fit: PowerFit,
}

#[derive(Clone, Debug)]
pub struct ThreadFit {
    pub label: String,
    pub params: String,
    pub size: f64,
    pub fit: AmdahlFit,
    /// (threads, median, speedup, efficiency).
    pub points: Vec<(usize, f64, f64, f64)>,
}

#[derive(Clone, Debug)]
pub struct Picture {
    pub caption: String,
    pub png_base64: String,
    pub scale: String,
    pub colour_bar_base64: String,
    pub lo: String,
    pub hi: String,
    pub width: usize,
}

#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub svg: String,
}

#[derive(Clone, Debug, Default)]
pub struct CaseReport {
    pub name: String,
    pub about: String,
    pub tables: Vec<ProblemTable>,
    pub bar: Option<Chart>,
    pub scaling: Option<Chart>,
    pub fits: Vec<Fit>,
    pub threads: Option<Chart>,
    pub thread_fits: Vec<ThreadFit>,
    pub pictures: Vec<Picture>,
    /// Timelines of variants that record one (pipeline): transfers vs compute per image.
    pub timelines: Vec<Chart>,
    pub advice: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct KernelReport {
    pub name: String,
    pub about: String,
    pub size_param: String,
    pub cases: Vec<CaseReport>,
    pub roofline: Option<Chart>,
    pub roofline_note: String,
    /// (label, link relative to the report folder).
    pub flamegraphs: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub generated: String,
    pub machines: Vec<super::data::MachineInfo>,
    /// (run id, path relative to the report, interrupted, rows).
    pub runs: Vec<(String, String, bool, usize)>,
    pub kernels: Vec<KernelReport>,
    pub notes: Vec<String>,
    pub noisy_threshold: f64,
}

/// The order strategies are listed in (the teaching order, then peers).
fn strategy_rank(s: &str) -> usize {
    [
        "naive",
        "vectorised",
        "parallel",
        "fft",
        "gpu",
        "algorithmic",
        "library",
        "exercise",
        "python",
    ]
    .iter()
    .position(|x| *x == s)
    .unwrap_or(99)
}

/// Parameters without the size one: rows that differ only in size form a scaling curve.
fn rest_of(params: &str, size_param: &str) -> String {
    params
        .split_whitespace()
        .filter(|kv| kv.split('=').next() != Some(size_param))
        .collect::<Vec<_>>()
        .join(" ")
}

fn size_label(param: &str, size: f64) -> String {
    if param.is_empty() {
        "the size measured".into()
    } else {
        format!("{param} = {}", fmt_value(size))
    }
}

struct Ctx<'a> {
    data: &'a Dataset,
    multi_machine: bool,
}

impl Ctx<'_> {
    fn series_name(&self, e: &Entry) -> String {
        if self.multi_machine {
            format!("{} @{}", e.row.variant, self.data.machines[e.machine].label)
        } else {
            e.row.variant.clone()
        }
    }
}

impl Report {
    pub fn build(data: &Dataset, out_dir: &Path) -> Report {
        let noisy_threshold = data
            .runs
            .iter()
            .filter_map(|r| r.manifest.as_ref().map(|m| m.noisy_threshold))
            .find(|t| *t > 0.0)
            .unwrap_or(stats::NOISY_SPREAD);
        let ctx = Ctx {
            data,
            multi_machine: data.machines.len() > 1,
        };
        // Kernels in registry order, unknown ones (another build's) after.
        let mut names: Vec<String> = data.entries.iter().map(|e| e.row.kernel.clone()).collect();
        names.sort_by_key(|k| {
            (
                registry::kernels()
                    .position(|r| r.name() == k)
                    .unwrap_or(usize::MAX),
                k.clone(),
            )
        });
        names.dedup();
        let kernels = names
            .iter()
            .map(|k| kernel_report(&ctx, k, out_dir))
            .collect();
        let mut notes = Vec::new();
        if data.replaced > 0 {
            notes.push(format!(
                "{} row(s) measured again in a later run on the same machine were replaced by the later one.",
                data.replaced
            ));
        }
        let runs = data
            .runs
            .iter()
            .map(|r| {
                let interrupted = r.manifest.as_ref().is_some_and(|m| m.interrupted);
                if interrupted {
                    notes.push(format!(
                        "Run {} was interrupted (Ctrl-C): only its finished rows are shown.",
                        r.id
                    ));
                }
                let rows = data
                    .entries
                    .iter()
                    .filter(|e| data.runs[e.run].id == r.id)
                    .count();
                (
                    r.id.clone(),
                    relative_path(out_dir, &r.path),
                    interrupted,
                    rows,
                )
            })
            .collect();
        let noisy = data
            .entries
            .iter()
            .filter(|e| e.ok() && e.row.noisy)
            .count();
        if noisy > 0 {
            notes.push(format!(
                "{noisy} result(s) are flagged noisy (spread above {:.0}% of the median; marked ⚠): \
                 the machine was busy while they ran. Treat differences smaller than their \
                 spread as unresolved.",
                100.0 * noisy_threshold
            ));
        }
        Report {
            generated: crate::results::utc_stamp(),
            machines: data.machines.clone(),
            runs,
            kernels,
            notes,
            noisy_threshold,
        }
    }
}

fn kernel_report(ctx: &Ctx, kernel: &str, out_dir: &Path) -> KernelReport {
    let data = ctx.data;
    let entries: Vec<&Entry> = data
        .entries
        .iter()
        .filter(|e| e.row.kernel == kernel)
        .collect();
    let reg = registry::kernel(kernel).ok();
    let size_param = entries
        .iter()
        .map(|e| e.row.size_param.clone())
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    let mut cases: Vec<String> = entries.iter().map(|e| e.row.case.clone()).collect();
    cases.sort_by_key(|c| {
        (
            reg.and_then(|k| k.cases().iter().position(|kc| kc.name == c))
                .unwrap_or(usize::MAX),
            c.clone(),
        )
    });
    cases.dedup();
    // One colour per variant name across the kernel's charts.
    let mut names: Vec<(usize, String)> = entries
        .iter()
        .map(|e| (variant_rank(reg, e), ctx.series_name(e)))
        .collect();
    names.sort();
    names.dedup();
    let colours: BTreeMap<String, usize> = names
        .into_iter()
        .enumerate()
        .map(|(i, (_, n))| (n, i))
        .collect();
    let case_reports = cases
        .iter()
        .map(|c| {
            let es: Vec<&Entry> = entries
                .iter()
                .copied()
                .filter(|e| &e.row.case == c)
                .collect();
            case_report(ctx, kernel, c, &es, &size_param, &colours)
        })
        .collect();
    let (roofline, roofline_note) = roofline(ctx, kernel, &entries, &colours);
    let flamegraphs = data
        .runs
        .iter()
        .flat_map(|r| r.flamegraphs.iter())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.strip_prefix("flamegraph-").is_some_and(|rest| {
                rest.starts_with(&format!("{kernel}-")) || rest == format!("{kernel}.svg")
            })
        })
        .map(|p| {
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                relative_path(out_dir, p),
            )
        })
        .collect();
    KernelReport {
        name: kernel.into(),
        about: reg.map(|k| k.about().to_string()).unwrap_or_default(),
        size_param,
        cases: case_reports,
        roofline,
        roofline_note,
        flamegraphs,
    }
}

/// Registry order of a variant; peers and variants unknown to this build after, by
/// strategy and then in the order their files list them (peers.py writes teaching order).
fn variant_rank(reg: Option<&'static dyn kernels::DynKernel>, e: &Entry) -> usize {
    let pos = reg.and_then(|k| k.variants().iter().position(|v| v.name == e.row.variant));
    match pos {
        Some(p) if e.is_rust() => p,
        _ => 1000 * (1 + strategy_rank(&e.row.strategy)) + e.order,
    }
}

fn idea_of(kernel: &str, variant: &str) -> Option<&'static str> {
    registry::kernel(kernel)
        .ok()?
        .variants()
        .into_iter()
        .find(|v| v.name == variant)
        .map(|v| v.idea)
}

/// Best (smallest median) ok entry per (variant, machine) among `es`.
fn best_per_variant<'a>(es: &[&'a Entry]) -> Vec<&'a Entry> {
    let mut best: BTreeMap<(String, usize, String), &Entry> = BTreeMap::new();
    for e in es.iter().filter(|e| e.ok()) {
        let k = (e.row.variant.clone(), e.machine, e.row.runtime.clone());
        match best.get(&k) {
            Some(b) if b.median() <= e.median() => {}
            _ => {
                best.insert(k, e);
            }
        }
    }
    best.into_values().collect()
}

fn naive_median(es: &[&Entry], machine: usize) -> Option<f64> {
    es.iter()
        .filter(|e| e.ok() && e.machine == machine && e.row.strategy == "naive" && e.is_rust())
        .map(|e| e.median())
        .min_by(f64::total_cmp)
}

fn case_report(
    ctx: &Ctx,
    kernel: &str,
    case: &str,
    es: &[&Entry],
    size_param: &str,
    colours: &BTreeMap<String, usize>,
) -> CaseReport {
    let reg = registry::kernel(kernel).ok();
    let about = reg
        .and_then(|k| k.cases().iter().find(|c| c.name == case))
        .map(|c| c.about.to_string())
        .unwrap_or_default();
    // Problems (parameter sets), by the rest of the parameters then size.
    let mut problems: Vec<(String, f64, String)> = es
        .iter()
        .map(|e| {
            (
                rest_of(&e.row.params, size_param),
                e.row.size,
                e.row.params.clone(),
            )
        })
        .collect();
    problems.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    problems.dedup();
    let tables = problems
        .iter()
        .map(|(_, _, params)| {
            let mut rows: Vec<&Entry> = es
                .iter()
                .copied()
                .filter(|e| &e.row.params == params)
                .collect();
            rows.sort_by_key(|e| {
                (
                    variant_rank(reg, e),
                    e.row.variant.clone(),
                    e.row.threads,
                    e.machine,
                )
            });
            ProblemTable {
                params: params.clone(),
                table: problem_table(ctx, &rows),
            }
        })
        .collect();
    let multi_rest = problems.iter().map(|p| &p.0).collect::<BTreeSet<_>>().len() > 1;

    // Bar chart: the largest problem, each variant at its best thread count.
    let bar = problems.last().and_then(|(_, size, params)| {
        let at: Vec<&Entry> = es
            .iter()
            .copied()
            .filter(|e| &e.row.params == params)
            .collect();
        let mut bars: Vec<Bar> = best_per_variant(&at)
            .into_iter()
            .map(|e| Bar {
                label: ctx.series_name(e),
                seconds: e.median(),
                colour: colours.get(&ctx.series_name(e)).copied().unwrap_or(0),
                noisy: e.row.noisy,
            })
            .collect();
        bars.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        let title = format!(
            "{kernel}/{case}: time per run at {} (log scale)",
            size_label(size_param, *size)
        );
        (!bars.is_empty()).then(|| Chart {
            svg: charts::bars(&title, &bars),
            title,
        })
    });

    // Size scaling: per (variant, machine, rest), at the variant's largest thread count.
    let mut groups: BTreeMap<(usize, String, usize, String), Vec<&Entry>> = BTreeMap::new();
    for e in es.iter().filter(|e| e.ok()) {
        groups
            .entry((
                variant_rank(reg, e),
                ctx.series_name(e),
                e.machine,
                rest_of(&e.row.params, size_param),
            ))
            .or_default()
            .push(e);
    }
    let mut series = Vec::new();
    let mut fits = Vec::new();
    for ((_, name, _, rest), group) in &groups {
        let top = group.iter().map(|e| e.row.threads).max().unwrap_or(1);
        let mut pts: Vec<(f64, f64)> = group
            .iter()
            .filter(|e| e.row.threads == top && e.row.size > 0.0)
            .map(|e| (e.row.size, e.median()))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        pts.dedup_by(|a, b| a.0 == b.0);
        if pts.len() < 2 {
            continue;
        }
        let (xs, ts): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
        let fit = stats::fit_power_law(&xs, &ts);
        let label = if multi_rest {
            format!("{name} [{rest}]")
        } else {
            name.clone()
        };
        if let Some(f) = fit {
            fits.push(Fit {
                label: label.clone(),
                fit: f,
            });
        }
        series.push(Series {
            label: match fit {
                Some(f) => format!("{label}: ∝ {size_param}^{:.2}", f.exponent),
                None => label,
            },
            points: pts,
            fit,
            colour: colours.get(name).copied().unwrap_or(0),
            dashed: false,
        });
    }
    let scaling = (!series.is_empty()).then(|| {
        let title = format!(
            "{kernel}/{case}: time per run against {size_param} (log-log, with fitted power laws)"
        );
        Chart {
            svg: charts::loglog(&title, size_param, "seconds per run", &series, true),
            title,
        }
    });

    // Thread scaling: per (variant, machine, params) with a one-thread time and more.
    let mut tgroups: BTreeMap<(usize, String, usize, String), Vec<&Entry>> = BTreeMap::new();
    for e in es.iter().filter(|e| e.ok()) {
        tgroups
            .entry((
                variant_rank(reg, e),
                ctx.series_name(e),
                e.machine,
                e.row.params.clone(),
            ))
            .or_default()
            .push(e);
    }
    let mut thread_fits = Vec::new();
    for ((_, name, _, params), group) in &tgroups {
        let mut pts: Vec<(usize, f64)> =
            group.iter().map(|e| (e.row.threads, e.median())).collect();
        pts.sort_by_key(|p| p.0);
        pts.dedup_by_key(|p| p.0);
        if pts.len() < 2 || pts[0].0 != 1 {
            continue;
        }
        let (ps, ts): (Vec<usize>, Vec<f64>) = pts.iter().copied().unzip();
        if let Some(fit) = stats::fit_amdahl(&ps, &ts) {
            thread_fits.push(ThreadFit {
                label: name.clone(),
                params: params.clone(),
                size: group[0].row.size,
                points: pts
                    .iter()
                    .map(|&(p, t)| (p, t, fit.t1 / t, fit.t1 / t / p as f64))
                    .collect(),
                fit,
            });
        }
    }
    thread_fits.sort_by(|a, b| {
        let pos = |f: &ThreadFit| problems.iter().position(|p| p.2 == f.params).unwrap_or(0);
        pos(a).cmp(&pos(b)).then(a.label.cmp(&b.label))
    });
    // The chart shows the largest problem that has thread data.
    let threads = thread_fits
        .iter()
        .map(|f| problems.iter().position(|p| p.2 == f.params).unwrap_or(0))
        .max()
        .map(|i| problems[i].2.clone())
        .and_then(|params| {
            let s: Vec<Series> = thread_fits
                .iter()
                .filter(|f| f.params == params)
                .map(|f| Series {
                    label: format!("{}: serial fraction {:.3}", f.label, f.fit.serial_fraction),
                    points: f.points.iter().map(|p| (p.0 as f64, p.2)).collect(),
                    fit: None,
                    colour: colours.get(&f.label).copied().unwrap_or(0),
                    dashed: false,
                })
                .collect();
            let amdahl: Vec<(usize, AmdahlFit)> = thread_fits
                .iter()
                .filter(|f| f.params == params)
                .map(|f| (colours.get(&f.label).copied().unwrap_or(0), f.fit))
                .collect();
            let size = problems.iter().find(|p| p.2 == params).map(|p| p.1).unwrap_or(0.0);
            let title = format!(
                "{kernel}/{case}: speedup against threads at {} (points measured, dashed: Amdahl fit, grey: ideal)",
                size_label(size_param, size)
            );
            (!s.is_empty()).then(|| Chart {
                svg: charts::threads(&title, &s, &amdahl),
                title,
            })
        });

    let pictures = pictures(ctx, kernel, case, size_param);
    let timelines = timelines(ctx, es);
    let advice = advice(
        ctx,
        kernel,
        case,
        es,
        size_param,
        &problems,
        &fits,
        &thread_fits,
    );
    CaseReport {
        name: case.into(),
        about,
        tables,
        bar,
        scaling,
        fits,
        threads,
        thread_fits,
        pictures,
        timelines,
        advice,
    }
}

/// The recorded timelines of a case (the pipeline kernel): every GPU variant's (where
/// transfers and compute overlap or wait for each other), and each CPU variant's at its
/// largest problem only (their lanes only show images side by side).
fn timelines(ctx: &Ctx, es: &[&Entry]) -> Vec<Chart> {
    let mut with: Vec<&&Entry> = es
        .iter()
        .filter(|e| e.ok() && !e.row.timeline.is_empty())
        .collect();
    with.sort_by(|a, b| {
        let key = |e: &Entry| {
            (
                e.row.strategy != "gpu",
                e.row.variant.clone(),
                e.row.threads,
            )
        };
        key(a).cmp(&key(b)).then(a.row.size.total_cmp(&b.row.size))
    });
    let mut out = Vec::new();
    for (i, e) in with.iter().enumerate() {
        let r = &e.row;
        let later_same_cpu_variant = r.strategy != "gpu"
            && with[i + 1..]
                .iter()
                .any(|f| f.row.variant == r.variant && f.row.size > r.size);
        if later_same_cpu_variant {
            continue;
        }
        let path = ctx.data.runs[e.run].path.join(&r.timeline);
        let events = match crate::events::read_csv(&path) {
            Ok(v) => v,
            Err(err) => {
                eprintln!("warning: {err:#} (its timeline is left out of the report)");
                continue;
            }
        };
        let title = format!(
            "{}/{}/{} [{}] · {} thread(s)",
            r.kernel, r.case, r.variant, r.params, r.threads
        );
        let mut subtitle = format!(
            "last timed run: {} images/s, latency per image {}",
            fmt_rate(r.items_per_s),
            fmt_time(r.latency_s)
        );
        if let Some(b) = r.device_busy {
            subtitle.push_str(&format!(
                ", device computing {} of the time",
                fmt_pct(Some(100.0 * b))
            ));
        }
        out.push(Chart {
            svg: crate::events::svg(&title, &subtitle, &events),
            title,
        });
    }
    out
}

/// The column headers of a problem's table. `status` comes early so that a reader sees at
/// once which rows are results; `notes` holds the reason of a status and measurement notes.
pub const COLUMNS: [&str; 19] = [
    "variant",
    "strategy",
    "prec",
    "threads",
    "machine",
    "status",
    "median",
    "95% CI",
    "spread",
    "speedup vs naive",
    "GFLOP/s",
    "GB/s",
    "% of roofline",
    "error (tolerance)",
    "setup",
    "RSS growth",
    "heap peak",
    "alloc per run",
    "notes",
];

fn problem_table(ctx: &Ctx, rows: &[&Entry]) -> Table {
    let mut header: Vec<&'static str> = COLUMNS.to_vec();
    if !ctx.multi_machine {
        header.retain(|h| *h != "machine");
    }
    let table_rows = rows
        .iter()
        .map(|e| {
            let r = &e.row;
            let ok = e.ok();
            // A variant that is not ok shows no measurement at all, whatever the file says.
            let m = |v: String| if ok { v } else { String::new() };
            // Neither an interval nor a spread comes from a single sample.
            let several = |v: String| if r.samples > 1 { v } else { "-".into() };
            let naive = naive_median(rows, e.machine);
            let speedup = naive.map(|n| n / e.median());
            let class = if !ok {
                match r.status.as_str() {
                    "skipped" => "skipped",
                    "n/a" => "na",
                    _ => "failed",
                }
            } else if r.noisy {
                "noisy"
            } else if !e.is_rust() {
                "python"
            } else {
                "ok"
            };
            let status = match (ok, r.noisy) {
                (true, true) => "ok ⚠ noisy".to_string(),
                (true, false) => "ok".into(),
                (false, _) if r.status == "ok" => "failed".into(),
                (false, _) => r.status.clone(),
            };
            let notes = match (ok, r.noisy) {
                (true, true) => {
                    let spread = format!("spread {}", fmt_pct(r.spread.map(|s| 100.0 * s)));
                    if r.reason.is_empty() {
                        spread
                    } else {
                        format!("{spread}; {}", r.reason)
                    }
                }
                (false, _) if r.status == "ok" => "no time recorded".into(),
                _ => r.reason.clone(),
            };
            let notes = match (ok, r.output_summary.is_empty()) {
                (true, false) if notes.is_empty() => r.output_summary.clone(),
                (true, false) => format!("{}; {notes}", r.output_summary),
                _ => notes,
            };
            // Pipeline rows (a recorded timeline): throughput, latency and device busy first.
            let notes = match (ok, r.latency_s) {
                (true, Some(latency)) => {
                    let mut head = format!(
                        "{} images/s · latency per image {}",
                        fmt_rate(r.items_per_s),
                        fmt_time(Some(latency))
                    );
                    if let Some(b) = r.device_busy {
                        head.push_str(&format!(" · device busy {}", fmt_pct(Some(100.0 * b))));
                    }
                    if notes.is_empty() {
                        head
                    } else {
                        format!("{head}; {notes}")
                    }
                }
                _ => notes,
            };
            let mut cells = vec![
                r.variant.clone(),
                r.strategy.clone(),
                r.precision.clone(),
                r.threads.to_string(),
            ];
            if ctx.multi_machine {
                cells.push(ctx.data.machines[e.machine].label.clone());
            }
            cells.extend([
                status,
                m(fmt_time(r.median_s)),
                m(several(match (r.ci_low_s, r.ci_high_s) {
                    (Some(lo), Some(hi)) => {
                        format!("{} – {}", fmt_time(Some(lo)), fmt_time(Some(hi)))
                    }
                    _ => "-".into(),
                })),
                m(several(fmt_pct(r.spread.map(|s| 100.0 * s)))),
                m(fmt_ratio(speedup)),
                m(fmt_rate(r.gflops)),
                m(fmt_rate(r.gbps)),
                m(fmt_pct(ctx.data.roofline_pct(e))),
                // The error is shown for a failed validation too: it is why it failed.
                match (r.error, r.tolerance) {
                    (Some(err), Some(t)) => {
                        format!("{} ≤ {}", fmt_sci(Some(err)), fmt_sci(Some(t)))
                    }
                    (Some(err), None) => fmt_sci(Some(err)),
                    _ => "-".into(),
                },
                m(fmt_time(r.setup_s)),
                m(match (r.peak_rss_mib, r.base_rss_mib) {
                    (Some(p), Some(b)) => fmt_bytes(Some((p - b).max(0.0) * 1048576.0)),
                    _ => "-".into(),
                }),
                m(fmt_bytes(r.heap_peak_bytes.map(|b| b as f64))),
                m(fmt_bytes(r.alloc_run_bytes.map(|b| b as f64))),
                notes,
            ]);
            TableRow { cells, class }
        })
        .collect();
    Table {
        header,
        rows: table_rows,
    }
}

fn pictures(ctx: &Ctx, kernel: &str, case: &str, size_param: &str) -> Vec<Picture> {
    // The largest saved image of this case (first run that has one), one per array.
    let mut found: Vec<(f64, usize, crate::results::ImageEntry)> = Vec::new();
    for (ri, run) in ctx.data.runs.iter().enumerate() {
        let Some(m) = &run.manifest else { continue };
        for img in m
            .images
            .iter()
            .filter(|i| i.kernel == kernel && i.case == case)
        {
            let size = img
                .params
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{size_param}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            found.push((size, ri, img.clone()));
        }
    }
    let Some(top) = found.iter().map(|f| f.0).max_by(f64::total_cmp) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    found
        .into_iter()
        .filter(|f| f.0 == top && seen.insert(f.2.array.clone()))
        .filter_map(|(_, ri, img)| {
            let path = ctx.data.runs[ri].path.join(&img.file);
            let array = kernels::io::read_f64(&path).ok()?;
            let values: Vec<f64> = array.iter().copied().collect();
            let scale = Scale::for_data(&values);
            let png = image::png_of(&array, scale).ok()?;
            let bar = image::colour_bar_png(256).ok()?;
            let (lo, hi) = match scale {
                Scale::Log { lo, hi } | Scale::Linear { lo, hi } => (lo, hi),
            };
            Some(Picture {
                caption: format!(
                    "{kernel}/{case} [{}]: `{}` {:?} from {}",
                    img.params, img.array, img.shape, img.source
                ),
                png_base64: image::base64(&png),
                scale: scale.describe(),
                colour_bar_base64: image::base64(&bar),
                lo: format!("{lo:.1e}"),
                hi: format!("{hi:.2e}"),
                width: img.shape.get(1).copied().unwrap_or(256),
            })
        })
        .collect()
}

fn roofline(
    ctx: &Ctx,
    kernel: &str,
    es: &[&Entry],
    colours: &BTreeMap<String, usize>,
) -> (Option<Chart>, String) {
    let data = ctx.data;
    let mut roofs = Vec::new();
    for m in &data.machines {
        if let Some(c) = m.top_ceiling() {
            roofs.push(Roof {
                label: if ctx.multi_machine {
                    format!("{} ", m.label)
                } else {
                    String::new()
                },
                peak_f64: c.gemm_f64_gflops,
                peak_f32: c.gemm_f32_gflops,
                bandwidth: c.copy_gbps,
                threads: c.threads,
            });
        }
    }
    if roofs.is_empty() {
        return (
            None,
            "No ceilings were measured for these runs (older run.json): no roofline.".into(),
        );
    }
    // Points: each variant at its largest thread count, every size, where a ceiling applies.
    let mut by: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut excluded = BTreeSet::new();
    for e in es.iter().filter(|e| e.ok()) {
        let top = es
            .iter()
            .filter(|o| {
                o.ok()
                    && o.row.variant == e.row.variant
                    && o.machine == e.machine
                    && o.row.params == e.row.params
            })
            .map(|o| o.row.threads)
            .max()
            .unwrap_or(1);
        if e.row.threads != top || e.row.flops <= 0.0 || e.row.bytes <= 0.0 {
            continue;
        }
        if data.ceiling(e).is_none() {
            excluded.insert(e.row.variant.clone());
            continue;
        }
        by.entry(ctx.series_name(e))
            .or_default()
            .push((e.row.flops / e.row.bytes, e.row.flops / e.median() / 1e9));
    }
    let series: Vec<Series> = by
        .into_iter()
        .map(|(name, mut pts)| {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series {
                colour: colours.get(&name).copied().unwrap_or(0),
                label: name,
                points: pts,
                fit: None,
                dashed: false,
            }
        })
        .collect();
    let mut note = format!(
        "Roofs measured by the harness on {} thread(s): f64 GEMM peak (solid), f32 GEMM peak (dashed) and copy \
         bandwidth (slope). Points: GFLOP/s from the kernel's nominal work (the formula's operation count) at each size; \
         a point above the roof belongs to a variant that does less work than the formula counts (another algorithm).",
        roofs
            .iter()
            .map(|r| r.threads.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !excluded.is_empty() {
        note.push_str(&format!(
            " Not shown (a real GPU, whose ceilings the harness does not measure): {}.",
            excluded.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if series.is_empty() {
        return (None, note);
    }
    let title = format!("{kernel}: roofline (GFLOP/s against arithmetic intensity, log-log)");
    (
        Some(Chart {
            svg: charts::roofline(&title, &roofs, &series),
            title,
        }),
        note,
    )
}

/// Plain sentences: which variant for which size, and why; crossovers; the GPU; peers.
#[allow(clippy::too_many_arguments)]
fn advice(
    ctx: &Ctx,
    kernel: &str,
    case: &str,
    es: &[&Entry],
    size_param: &str,
    problems: &[(String, f64, String)],
    fits: &[Fit],
    thread_fits: &[ThreadFit],
) -> Vec<String> {
    let mut out = Vec::new();
    let machines: BTreeSet<usize> = es.iter().map(|e| e.machine).collect();
    for &mi in &machines {
        let prefix = if ctx.multi_machine {
            format!("On {}: ", ctx.data.machines[mi].short())
        } else {
            String::new()
        };
        let mine: Vec<&Entry> = es.iter().copied().filter(|e| e.machine == mi).collect();
        // Winner per problem, Rust variants and peers together.
        let mut winners: Vec<(f64, String, &Entry)> = Vec::new();
        for (_, size, params) in problems {
            let at: Vec<&Entry> = mine
                .iter()
                .copied()
                .filter(|e| &e.row.params == params)
                .collect();
            let mut best = best_per_variant(&at);
            best.sort_by(|a, b| a.median().total_cmp(&b.median()));
            let Some(w) = best.first().copied() else {
                continue;
            };
            winners.push((*size, params.clone(), w));
            let mut s = format!(
                "{prefix}At {}, use {} ({}{}",
                size_label(size_param, *size),
                w.row.variant,
                fmt_time(w.row.median_s),
                if w.row.threads > 1 {
                    format!(" on {} threads", w.row.threads)
                } else {
                    String::new()
                }
            );
            if let Some(n) = naive_median(&at, mi).filter(|_| w.row.strategy != "naive") {
                s.push_str(&format!(
                    ", {} faster than naive",
                    fmt_ratio(Some(n / w.median()))
                ));
            }
            s.push(')');
            if let Some(r) = best.get(1) {
                let tie = match (w.row.ci_high_s, r.row.ci_low_s) {
                    (Some(hi), Some(lo)) => hi >= lo,
                    _ => false,
                };
                s.push_str(&format!(
                    "; the runner-up, {}, takes {} ({} slower){}",
                    r.row.variant,
                    fmt_time(r.row.median_s),
                    fmt_ratio(Some(r.median() / w.median())),
                    if tie {
                        ", within the 95% confidence intervals: a tie on this machine"
                    } else {
                        ""
                    }
                ));
            }
            s.push('.');
            if let Some(idea) = idea_of(kernel, &w.row.variant).filter(|_| w.is_rust()) {
                s.push_str(&format!(" Why: {idea}"));
                let wf = fits.iter().find(|f| f.label == ctx.series_name(w));
                let nf = fits.iter().find(|f| f.label.starts_with("naive"));
                if let (Some(wf), Some(nf)) = (wf, nf)
                    && w.row.variant != "naive"
                {
                    s.push_str(&format!(
                        "; its time grows as {size_param}^{:.1} against naive's {size_param}^{:.1}",
                        wf.fit.exponent, nf.fit.exponent
                    ));
                }
                s.push('.');
            }
            match ctx.data.roofline_pct(w) {
                Some(p) if p > 100.0 => s.push_str(&format!(
                    " Counted on the formula's work it runs at {} GFLOP/s, {} this machine's roofline limit: \
                     it does less work than the formula, not more arithmetic per second.",
                    fmt_rate(w.row.gflops),
                    fmt_ratio(Some(p / 100.0))
                )),
                Some(p) => s.push_str(&format!(
                    " It reaches {} of this machine's roofline limit (GEMM peak or intensity × copy bandwidth).",
                    fmt_pct(Some(p))
                )),
                None => {}
            }
            if w.row.noisy {
                s.push_str(" (Its measurement is noisy: check again on a quieter machine.)");
            }
            out.push(s);
        }
        // Crossovers: where the fastest changes, interpolated in log-log between the sizes.
        for pair in winners.windows(2) {
            let ((s0, p0, w0), (s1, p1, w1)) = (&pair[0], &pair[1]);
            if w0.row.variant == w1.row.variant
                || rest_of(p0, size_param) != rest_of(p1, size_param)
            {
                continue;
            }
            let t = |params: &str, variant: &str| {
                mine.iter()
                    .filter(|e| e.ok() && e.row.params == params && e.row.variant == variant)
                    .map(|e| e.median())
                    .min_by(f64::total_cmp)
            };
            let mut s = format!(
                "{prefix}Crossover: the fastest changes from {} at {} to {} at {}",
                w0.row.variant,
                size_label(size_param, *s0),
                w1.row.variant,
                size_label(size_param, *s1)
            );
            if let (Some(a0), Some(a1), Some(b0), Some(b1)) = (
                t(p0, &w0.row.variant),
                t(p1, &w0.row.variant),
                t(p0, &w1.row.variant),
                t(p1, &w1.row.variant),
            ) && let Some(x) = interpolate_crossing(*s0, *s1, a0 / b0, a1 / b1)
            {
                s.push_str(&format!(
                    " (their times cross near {size_param} ≈ {})",
                    sig3(x)
                ));
            }
            s.push('.');
            out.push(s);
        }
        gpu_advice(ctx, &mine, size_param, &prefix, &mut out);
        peer_advice(&mine, problems, size_param, &prefix, &mut out);
    }
    // Thread scaling: one sentence per variant over the sizes measured.
    let mut labels: Vec<&str> = thread_fits.iter().map(|f| f.label.as_str()).collect();
    labels.dedup();
    for label in labels {
        let fits: Vec<&ThreadFit> = thread_fits.iter().filter(|f| f.label == label).collect();
        let top = fits
            .iter()
            .map(|f| f.points.last().expect("two points").0)
            .max()
            .unwrap_or(1);
        let mut parts = Vec::new();
        let mut bounds = Vec::new();
        let mut busy = false;
        for f in &fits {
            let last = f.points.last().expect("at least two points");
            parts.push(format!(
                "{} at {} (efficiency {})",
                fmt_ratio(Some(last.2)),
                size_label(size_param, f.size),
                fmt_pct(Some(100.0 * last.3))
            ));
            bounds.push(format!(
                "{:.2}{}",
                f.fit.serial_fraction,
                if f.fit.serial_fraction > 0.0 {
                    format!(" (at most {})", fmt_ratio(Some(f.fit.max_speedup())))
                } else {
                    String::new()
                }
            ));
            busy |= last.3 < 0.75
                && es.iter().any(|e| {
                    e.ok()
                        && e.row.noisy
                        && ctx.series_name(e) == f.label
                        && e.row.params == f.params
                });
        }
        out.push(format!(
            "Threads: {label} on {top} threads against 1: {}. Amdahl's law fits a serial fraction of {}.{}",
            parts.join(", "),
            bounds.join(", "),
            if busy {
                " Some of these timings are noisy: on a busy machine the threads compete with other work \
                 for the cores, so measure again on a quiet one before blaming the code."
            } else {
                ""
            }
        ));
    }
    // Variants that were not measured, and why: one sentence per (variant, status), sizes in
    // order, the reason once when it is the same at every size.
    type Sizes = Vec<(f64, String)>;
    let mut groups: Vec<((String, String), Sizes)> = Vec::new();
    for e in es.iter().filter(|e| !e.ok()) {
        let key = (e.row.variant.clone(), e.row.status.clone());
        let item = (e.row.size, e.row.reason.trim_end_matches('.').to_string());
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(item),
            None => groups.push((key, vec![item])),
        }
    }
    for ((variant, status), mut items) in groups {
        items.sort_by(|a, b| a.0.total_cmp(&b.0));
        items.dedup();
        let same = items.iter().all(|i| i.1 == items[0].1);
        let detail = if size_param.is_empty() || status == "n/a" {
            format!(": {}", items[0].1)
        } else if same {
            let sizes: Vec<String> = items.iter().map(|i| fmt_value(i.0)).collect();
            format!(" at {size_param} = {}: {}", sizes.join(", "), items[0].1)
        } else {
            let each: Vec<String> = items
                .iter()
                .map(|i| format!("{} ({})", size_label(size_param, i.0), i.1))
                .collect();
            format!(" at {}", each.join("; "))
        };
        out.push(match status.as_str() {
            "n/a" => format!("{variant} does not apply to {case}{detail}."),
            "skipped" => format!("{variant} was skipped{detail}."),
            _ => format!("{variant} FAILED{detail}; it is not presented as a result."),
        });
    }
    out
}

/// Where log(ratio) crosses zero between (x0, r0) and (x1, r1), in log-log.
fn interpolate_crossing(x0: f64, x1: f64, r0: f64, r1: f64) -> Option<f64> {
    let (l0, l1) = (r0.ln(), r1.ln());
    if !(l0.is_finite() && l1.is_finite()) || l0.signum() == l1.signum() || x0 <= 0.0 || x1 <= 0.0 {
        return None;
    }
    let f = l0 / (l0 - l1);
    Some((x0.ln() + f * (x1.ln() - x0.ln())).exp())
}

fn gpu_advice(ctx: &Ctx, mine: &[&Entry], size_param: &str, prefix: &str, out: &mut Vec<String>) {
    let gpus: BTreeSet<String> = mine
        .iter()
        .filter(|e| e.ok() && e.row.strategy == "gpu")
        .map(|e| e.row.variant.clone())
        .collect();
    for g in gpus {
        // Per size: the GPU variant's time over the best CPU (Rust, non-GPU) time.
        let mut ratios: Vec<(f64, f64, String)> = Vec::new();
        let mut params: Vec<(f64, String)> = mine
            .iter()
            .map(|e| (e.row.size, e.row.params.clone()))
            .collect();
        params.sort_by(|a, b| a.0.total_cmp(&b.0));
        params.dedup();
        for (size, p) in &params {
            let gt = mine
                .iter()
                .filter(|e| e.ok() && &e.row.params == p && e.row.variant == g)
                .map(|e| e.median())
                .min_by(f64::total_cmp);
            let cpu = mine
                .iter()
                .filter(|e| e.ok() && &e.row.params == p && e.row.strategy != "gpu" && e.is_rust())
                .min_by(|a, b| a.median().total_cmp(&b.median()));
            if let (Some(gt), Some(c)) = (gt, cpu) {
                ratios.push((*size, gt / c.median(), c.row.variant.clone()));
            }
        }
        if ratios.is_empty() {
            continue;
        }
        let adapter = &ctx.data.machines[mine[0].machine].gpu;
        let soft = ctx.data.machines[mine[0].machine].gpu_software;
        let first_win = ratios.iter().position(|r| r.1 < 1.0);
        let s = match first_win {
            None => {
                let (a, b) = (ratios.first().unwrap(), ratios.last().unwrap());
                let at = |r: &(f64, f64, String)| {
                    format!(
                        "{} at {}",
                        fmt_ratio(Some(r.1)),
                        size_label(size_param, r.0)
                    )
                };
                format!(
                    "{prefix}GPU: {g} ({adapter}) is slower than the best CPU variant at every size measured \
                     ({}){}{}",
                    if ratios.len() > 1 {
                        format!("{}, {}", at(a), at(b))
                    } else {
                        at(a)
                    },
                    if ratios.len() > 1 && b.1 < a.1 {
                        "; the gap narrows with size, as its fixed transfer and launch costs are amortised"
                    } else {
                        ""
                    },
                    if soft {
                        ". This adapter is a software renderer on the same CPU cores: it cannot pay for its transfers here."
                    } else {
                        "."
                    }
                )
            }
            Some(0) => format!(
                "{prefix}GPU: {g} ({adapter}) beats every CPU variant from the smallest size measured ({}: {} faster than {}).",
                size_label(size_param, ratios[0].0),
                fmt_ratio(Some(1.0 / ratios[0].1)),
                ratios[0].2
            ),
            Some(i) => {
                let (a, b) = (&ratios[i - 1], &ratios[i]);
                let x = interpolate_crossing(a.0, b.0, a.1, b.1)
                    .map(|x| format!(" (crossover near {size_param} ≈ {})", sig3(x)))
                    .unwrap_or_default();
                format!(
                    "{prefix}GPU: {g} ({adapter}) starts to pay for its transfers at {}{x}: {} faster than {} there, \
                     {} slower than {} at {}.",
                    size_label(size_param, b.0),
                    fmt_ratio(Some(1.0 / b.1)),
                    b.2,
                    fmt_ratio(Some(a.1)),
                    a.2,
                    size_label(size_param, a.0)
                )
            }
        };
        out.push(s);
    }
}

fn peer_advice(
    mine: &[&Entry],
    problems: &[(String, f64, String)],
    size_param: &str,
    prefix: &str,
    out: &mut Vec<String>,
) {
    for (_, size, params) in problems {
        let at: Vec<&Entry> = mine
            .iter()
            .copied()
            .filter(|e| e.ok() && &e.row.params == params)
            .collect();
        let py = at
            .iter()
            .filter(|e| !e.is_rust())
            .min_by(|a, b| a.median().total_cmp(&b.median()));
        let rs = at
            .iter()
            .filter(|e| e.is_rust())
            .min_by(|a, b| a.median().total_cmp(&b.median()));
        // Term by term like the peers (no cheaper algorithm): a like-for-like comparison.
        // Only where the peers do sum term by term: Laue's NumPy/Numba loops and aiapy's
        // dense PSF. aiapy's deconvolution already uses FFTs and scipy fits one by one, so
        // there the fastest Rust variant is the like-for-like one.
        let peers_sum_terms = at
            .first()
            .is_some_and(|e| matches!(e.row.kernel.as_str(), "laue" | "psf"));
        let brute = at
            .iter()
            .filter(|_| peers_sum_terms)
            .filter(|e| {
                e.is_rust()
                    && matches!(
                        e.row.strategy.as_str(),
                        "naive" | "vectorised" | "parallel" | "gpu"
                    )
            })
            .min_by(|a, b| a.median().total_cmp(&b.median()));
        let compare = |other: &Entry| {
            let ratio = py.map_or(1.0, |p| p.median() / other.median());
            format!(
                "{} {} than {} ({})",
                fmt_ratio(Some(if ratio >= 1.0 { ratio } else { 1.0 / ratio })),
                if ratio >= 1.0 { "slower" } else { "faster" },
                other.row.variant,
                fmt_time(other.row.median_s)
            )
        };
        if let (Some(py), Some(rs)) = (py, rs) {
            let mut s = format!(
                "{prefix}Python peers at {}: the fastest, {} ({}), is {}, the fastest Rust variant",
                size_label(size_param, *size),
                py.row.variant,
                fmt_time(py.row.median_s),
                compare(rs),
            );
            if let Some(b) = brute.filter(|b| b.row.variant != rs.row.variant) {
                s.push_str(&format!(
                    ", and {}, the fastest Rust variant that sums term by term as it does",
                    compare(b)
                ));
            }
            s.push('.');
            out.push(s);
        }
    }
}

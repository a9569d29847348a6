//! From a dataset to what a report says: per kernel and case, the tables, the fits (size
//! exponents, Amdahl), the chart series and the backend advice. Renderers (HTML, Markdown)
//! only lay this out, so both say the same numbers.

use std::collections::BTreeMap;
use std::path::Path;

use kernels::{Params, Strategy, registry};

mod advice;
mod case;
mod distribution;
mod noise;
mod roofline;
mod table;

pub use table::COLUMNS;

use super::data::{Dataset, Entry, relative_path};
use crate::measure::stats::{self, AmdahlFit, PowerFit};
use crate::render::fmt::fmt_value;
use case::case_report;
use roofline::roofline;

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
    pub params: Params,
    pub table: Table,
    /// Each variant's samples as a strip plot, where the run folders kept them.
    pub distribution: Option<Chart>,
}

#[derive(Clone, Debug)]
pub struct Fit {
    pub label: String,
    pub fit: PowerFit,
}

#[derive(Clone, Debug)]
pub struct ThreadFit {
    pub label: String,
    pub params: Params,
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
    /// Per run, the drift seen and ceilings measured far below the kept ones.
    pub machine_notes: Vec<String>,
}

/// Parameters without the size one: rows that differ only in size form a scaling curve.
fn rest_of(params: &Params, size_param: &str) -> Params {
    params.without(size_param)
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

/// What every part of a case's report looks at.
struct Case<'a> {
    ctx: &'a Ctx<'a>,
    reg: Option<&'static dyn kernels::DynKernel>,
    kernel: &'a str,
    case: &'a str,
    es: &'a [&'a Entry],
    size_param: &'a str,
    /// One colour per variant name across the kernel's charts.
    colours: &'a BTreeMap<String, usize>,
    /// Problems (parameter sets) as (rest of the parameters, size, parameters), by the rest
    /// of the parameters then size.
    problems: Vec<(Params, f64, Params)>,
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
        let kernels = kernel_names(data)
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
        notes.extend(super::shards::notes(data));
        let runs = run_list(data, out_dir, &mut notes);
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
            machine_notes: noise::machine_notes(data),
        }
    }
}

/// The kernels that have rows, in registry order; unknown ones (another build's) after.
fn kernel_names(data: &Dataset) -> Vec<String> {
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
    names
}

/// Each run: its id, folder (relative to the report), whether it was interrupted (a note
/// says so) and how many rows it contributed.
fn run_list(
    data: &Dataset,
    out_dir: &Path,
    notes: &mut Vec<String>,
) -> Vec<(String, String, bool, usize)> {
    data.runs
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
        .collect()
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
/// strategy and then in the order their files list them (the former peers.py wrote teaching order).
fn variant_rank(reg: Option<&'static dyn kernels::DynKernel>, e: &Entry) -> usize {
    let pos = reg.and_then(|k| k.variants().iter().position(|v| v.name == e.row.variant));
    match pos {
        Some(p) if e.is_rust() => p,
        // The teaching order of the strategies, then peers: the enum's order.
        _ => 1000 * (1 + e.row.strategy as usize) + e.order,
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

fn naive_median(es: &[&Entry], machine: usize) -> Option<f64> {
    es.iter()
        .filter(|e| {
            e.ok() && e.machine == machine && e.row.strategy == Strategy::Naive && e.is_rust()
        })
        .map(|e| e.median())
        .min_by(f64::total_cmp)
}

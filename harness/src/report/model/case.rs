//! One case of a kernel: its tables, charts (time per run, size scaling, thread scaling),
//! fits, output pictures, timelines and advice.

use kernels::{Params, Strategy};
use std::collections::{BTreeMap, BTreeSet};

use kernels::registry;

use super::advice::advice;
use super::distribution::distribution;
use super::table::problem_table;
use super::{
    Case, CaseReport, Chart, Ctx, Fit, Picture, ProblemTable, ThreadFit, rest_of, size_label,
    variant_rank,
};
use crate::measure::stats::{self, AmdahlFit};
use crate::render::fmt::{fmt_pct, fmt_rate, fmt_time};
use crate::render::timeline;
use crate::report::charts::{self, Bar, Series};
use crate::report::data::Entry;
use crate::report::image::{self, Scale};
use crate::results::{ImageEntry, events};

pub(super) fn case_report(
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
    let c = Case {
        ctx,
        reg,
        kernel,
        case,
        es,
        size_param,
        colours,
        problems: problems(es, size_param),
    };
    let (scaling, fits) = size_scaling(&c);
    let thread_fits = thread_fits(&c);
    CaseReport {
        name: case.into(),
        about,
        tables: tables(&c),
        bar: bar_chart(&c),
        scaling,
        threads: thread_chart(&c, &thread_fits),
        pictures: pictures(ctx, kernel, case, size_param),
        timelines: timelines(ctx, es),
        advice: advice(&c, &fits, &thread_fits),
        fits,
        thread_fits,
    }
}

/// Problems (parameter sets) as (rest of the parameters, size, parameters), by the rest of
/// the parameters then size.
fn problems(es: &[&Entry], size_param: &str) -> Vec<(Params, f64, Params)> {
    let mut problems: Vec<(Params, f64, Params)> = es
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
    problems
}

/// One table per problem, rows in registry order.
fn tables(c: &Case) -> Vec<ProblemTable> {
    c.problems
        .iter()
        .map(|(_, _, params)| {
            let mut rows: Vec<&Entry> =
                c.es.iter()
                    .copied()
                    .filter(|e| &e.row.params == params)
                    .collect();
            rows.sort_by_key(|e| {
                (
                    variant_rank(c.reg, e),
                    e.row.variant.clone(),
                    e.row.threads,
                    e.machine,
                )
            });
            ProblemTable {
                params: params.clone(),
                table: problem_table(c.ctx, &rows),
                distribution: distribution(c, params),
            }
        })
        .collect()
}

/// Bar chart: the largest problem, each variant at its best thread count.
fn bar_chart(c: &Case) -> Option<Chart> {
    let (kernel, case, ctx) = (c.kernel, c.case, c.ctx);
    c.problems.last().and_then(|(_, size, params)| {
        let at: Vec<&Entry> =
            c.es.iter()
                .copied()
                .filter(|e| &e.row.params == params)
                .collect();
        let mut bars: Vec<Bar> = crate::planner::ranking(&at)
            .into_iter()
            .map(|e| Bar {
                label: ctx.series_name(e),
                seconds: e.median(),
                colour: c.colours.get(&ctx.series_name(e)).copied().unwrap_or(0),
                noisy: e.row.noisy,
            })
            .collect();
        bars.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        let title = format!(
            "{kernel}/{case}: time per run at {} (log scale)",
            size_label(c.size_param, *size)
        );
        (!bars.is_empty()).then(|| Chart {
            svg: charts::bars(&title, &bars),
            title,
        })
    })
}

/// Size scaling: per (variant, machine, rest), at the variant's largest thread count; the
/// log-log chart and the power-law fits.
fn size_scaling(c: &Case) -> (Option<Chart>, Vec<Fit>) {
    let (kernel, case, size_param) = (c.kernel, c.case, c.size_param);
    let multi_rest = c
        .problems
        .iter()
        .map(|p| &p.0)
        .collect::<BTreeSet<_>>()
        .len()
        > 1;
    let groups = series_groups(c, |e| rest_of(&e.row.params, size_param));
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
            colour: c.colours.get(name).copied().unwrap_or(0),
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
    (scaling, fits)
}

/// Entries by (registry order, series name, machine, a key): one curve each.
type Groups<'a> = BTreeMap<(usize, String, usize, Params), Vec<&'a Entry>>;

/// The ok entries grouped into curves, `key` telling curves of one series apart.
fn series_groups<'a>(c: &Case<'a>, key: impl Fn(&Entry) -> Params) -> Groups<'a> {
    let mut groups: Groups = BTreeMap::new();
    for e in c.es.iter().filter(|e| e.ok()) {
        groups
            .entry((
                variant_rank(c.reg, e),
                c.ctx.series_name(e),
                e.machine,
                key(e),
            ))
            .or_default()
            .push(e);
    }
    groups
}

/// Thread scaling: per (variant, machine, params) with a one-thread time and more, the
/// Amdahl fit; in the order of the problems.
fn thread_fits(c: &Case) -> Vec<ThreadFit> {
    let tgroups = series_groups(c, |e| e.row.params.clone());
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
    let problems = &c.problems;
    thread_fits.sort_by(|a, b| {
        let pos = |f: &ThreadFit| problems.iter().position(|p| p.2 == f.params).unwrap_or(0);
        pos(a).cmp(&pos(b)).then(a.label.cmp(&b.label))
    });
    thread_fits
}

/// The speedup chart of the largest problem that has thread data.
fn thread_chart(c: &Case, thread_fits: &[ThreadFit]) -> Option<Chart> {
    let (kernel, case, problems, colours) = (c.kernel, c.case, &c.problems, c.colours);
    thread_fits
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
                size_label(c.size_param, size)
            );
            (!s.is_empty()).then(|| Chart {
                svg: charts::threads(&title, &s, &amdahl),
                title,
            })
        })
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
                e.row.strategy != Strategy::Gpu,
                e.row.variant.clone(),
                e.row.threads,
            )
        };
        key(a).cmp(&key(b)).then(a.row.size.total_cmp(&b.row.size))
    });
    let mut out = Vec::new();
    for (i, e) in with.iter().enumerate() {
        let r = &e.row;
        let later_same_cpu_variant = r.strategy != Strategy::Gpu
            && with[i + 1..]
                .iter()
                .any(|f| f.row.variant == r.variant && f.row.size > r.size);
        if later_same_cpu_variant {
            continue;
        }
        // Confined to the run folder: a row's `timeline` is outside input too.
        let path = crate::results::inside_run(&ctx.data.runs[e.run].path, &r.timeline);
        let events = match path.and_then(|p| events::read_csv(&p)) {
            Ok(v) => v,
            Err(err) => {
                tracing::warn!("{err:#} (its timeline is left out of the report)");
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
            svg: timeline::lanes(&title, &subtitle, &events),
            title,
        });
    }
    out
}

fn pictures(ctx: &Ctx, kernel: &str, case: &str, size_param: &str) -> Vec<Picture> {
    // The largest saved image of this case (first run that has one), one per array.
    let mut found: Vec<(f64, usize, ImageEntry)> = Vec::new();
    for (ri, run) in ctx.data.runs.iter().enumerate() {
        let Some(m) = &run.manifest else { continue };
        for img in m
            .images
            .iter()
            .filter(|i| i.kernel == kernel && i.case == case)
        {
            let size = img.params.get(size_param).unwrap_or(0.0);
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
            // Confined to the run folder (finding 10): never a file from elsewhere.
            let path = crate::results::inside_run(&ctx.data.runs[ri].path, &img.file).ok()?;
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

//! A kernel's roofline: the machines' measured roofs and each variant as points.

use std::collections::{BTreeMap, BTreeSet};

use super::{Chart, Ctx};
use crate::report::charts::{self, Roof, Series};
use crate::report::data::Entry;

pub(super) fn roofline(
    ctx: &Ctx,
    kernel: &str,
    es: &[&Entry],
    colours: &BTreeMap<String, usize>,
) -> (Option<Chart>, String) {
    let roofs = roofs(ctx);
    if roofs.is_empty() {
        return (
            None,
            "No ceilings were measured for these runs (older run.json): no roofline.".into(),
        );
    }
    let (series, excluded) = points(ctx, es, colours);
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

/// Each machine's roof at its largest thread count.
fn roofs(ctx: &Ctx) -> Vec<Roof> {
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
    roofs
}

/// Points: each variant at its largest thread count, every size, where a ceiling applies;
/// and the variants left out for want of one.
fn points(
    ctx: &Ctx,
    es: &[&Entry],
    colours: &BTreeMap<String, usize>,
) -> (Vec<Series>, BTreeSet<String>) {
    let data = ctx.data;
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
    (series, excluded)
}

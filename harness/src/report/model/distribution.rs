//! The distribution of each variant's samples for one problem (kernel, case, parameters):
//! a strip plot from the samples files the run folder kept, drawn only where they exist.

use kernels::Params;

use super::{Case, Chart, variant_rank};
use crate::report::charts::{self, STRIP_POINTS, Strip};
use crate::report::data::Entry;
use crate::results;

/// The strip plot of problem `params`, or `None` when none of its rows kept samples.
pub(super) fn distribution(c: &Case, params: &Params) -> Option<Chart> {
    let mut rows: Vec<&Entry> =
        c.es.iter()
            .copied()
            .filter(|e| &e.row.params == params && e.ok() && !e.row.samples_file.is_empty())
            .collect();
    rows.sort_by_key(|e| {
        (
            variant_rank(c.reg, e),
            e.row.variant.clone(),
            e.row.threads,
            e.machine,
        )
    });
    let strips: Vec<Strip> = rows
        .into_iter()
        .filter_map(|e| {
            let samples = samples_of(c, e)?;
            let name = c.ctx.series_name(e);
            Some(Strip {
                label: format!("{name} ×{}", e.row.threads),
                samples: charts::thin(&samples, STRIP_POINTS),
                median: e.median(),
                colour: c.colours.get(&name).copied().unwrap_or(0),
            })
        })
        .collect();
    if strips.is_empty() {
        return None;
    }
    let title = format!(
        "{}/{} · {params}: distribution of the samples (a dot per sample, black tick: median; log scale)",
        c.kernel, c.case
    );
    Some(Chart {
        svg: charts::strips(&title, &strips),
        title,
    })
}

/// A row's samples, confined to its run folder; a file that cannot be read is said aloud
/// and its strip left out.
fn samples_of(c: &Case, e: &Entry) -> Option<Vec<f64>> {
    let dir = &c.ctx.data.runs[e.run].path;
    let read =
        results::inside_run(dir, &e.row.samples_file).and_then(|p| results::samples::read(&p));
    match read {
        Ok(s) if !s.is_empty() => Some(s),
        Ok(_) => None,
        Err(err) => {
            tracing::warn!("{err:#} (its distribution is left out of the report)");
            None
        }
    }
}

//! The advice of a case: plain sentences saying which variant for which size, and why;
//! crossovers; threads; the GPU; the Python peers; what was not measured.

use kernels::{Params, Strategy};

use crate::results::Status;
use std::collections::BTreeSet;

use super::{Case, Ctx, Fit, ThreadFit, idea_of, naive_median, rest_of, size_label};
use crate::render::fmt::{fmt_pct, fmt_rate, fmt_ratio, fmt_time, fmt_value, sig3};
use crate::report::data::Entry;

/// One machine's entries of a case, and how its sentences begin.
struct OnMachine<'a> {
    machine: usize,
    /// `On M2: ` with several machines, empty with one.
    prefix: String,
    mine: Vec<&'a Entry>,
}

/// The winner of one problem on one machine: (size, parameters, entry).
type Winner<'a> = (f64, Params, &'a Entry);

/// Plain sentences: which variant for which size, and why; crossovers; the GPU; peers;
/// threads; what was not measured.
pub(super) fn advice(c: &Case, fits: &[Fit], thread_fits: &[ThreadFit]) -> Vec<String> {
    let mut out = Vec::new();
    let machines: BTreeSet<usize> = c.es.iter().map(|e| e.machine).collect();
    for &mi in &machines {
        let m = OnMachine {
            machine: mi,
            prefix: if c.ctx.multi_machine {
                format!("On {}: ", c.ctx.data.machines[mi].short())
            } else {
                String::new()
            },
            mine: c.es.iter().copied().filter(|e| e.machine == mi).collect(),
        };
        let winners = winners(c, &m, fits, &mut out);
        crossovers(c, &m, &winners, &mut out);
        gpu_advice(c.ctx, &m.mine, c.size_param, &m.prefix, &mut out);
        peer_advice(&m.mine, &c.problems, c.size_param, &m.prefix, &mut out);
        peer_range_advice(&m.mine, c.size_param, &m.prefix, &mut out);
    }
    thread_advice(c, thread_fits, &mut out);
    not_measured(c, &mut out);
    out
}

/// Winner per problem, Rust variants and peers together: one sentence each.
fn winners<'a>(
    c: &Case,
    m: &OnMachine<'a>,
    fits: &[Fit],
    out: &mut Vec<String>,
) -> Vec<Winner<'a>> {
    let mut winners: Vec<Winner> = Vec::new();
    for (_, size, params) in &c.problems {
        let at: Vec<&Entry> = m
            .mine
            .iter()
            .copied()
            .filter(|e| &e.row.params == params)
            .collect();
        // The planner's ranking: `harness plan` and `--variant best` choose as this says.
        let best = crate::planner::ranking(&at);
        let Some(w) = best.first().copied() else {
            continue;
        };
        winners.push((*size, params.clone(), w));
        let mut s = use_sentence(c, m, *size, &at, &best);
        why(c, w, fits, &mut s);
        roofline_and_noise(c.ctx, w, &mut s);
        out.push(s);
    }
    winners
}

/// `At n = 64, use fft (1.2 ms, 40× faster than naive); the runner-up, ...`
fn use_sentence(c: &Case, m: &OnMachine, size: f64, at: &[&Entry], best: &[&Entry]) -> String {
    let w = best[0];
    let mut s = format!(
        "{}At {}, use {} ({}{}",
        m.prefix,
        size_label(c.size_param, size),
        w.row.variant,
        fmt_time(w.row.median_s),
        if w.row.threads > 1 {
            format!(" on {} threads", w.row.threads)
        } else {
            String::new()
        }
    );
    if let Some(n) = naive_median(at, m.machine).filter(|_| w.row.strategy != Strategy::Naive) {
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
    s
}

/// The winner's idea, and its growth exponent against naive's.
fn why(c: &Case, w: &Entry, fits: &[Fit], s: &mut String) {
    if let Some(idea) = idea_of(c.kernel, &w.row.variant).filter(|_| w.is_rust()) {
        s.push_str(&format!(" Why: {idea}"));
        let wf = fits.iter().find(|f| f.label == c.ctx.series_name(w));
        let nf = fits.iter().find(|f| f.label.starts_with("naive"));
        if let (Some(wf), Some(nf)) = (wf, nf)
            && w.row.variant != "naive"
        {
            s.push_str(&format!(
                "; its time grows as {}^{:.1} against naive's {}^{:.1}",
                c.size_param, wf.fit.exponent, c.size_param, nf.fit.exponent
            ));
        }
        s.push('.');
    }
}

/// Where the winner stands against the roofline, and whether its time is noisy.
fn roofline_and_noise(ctx: &Ctx, w: &Entry, s: &mut String) {
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
}

/// Crossovers: where the fastest changes, interpolated in log-log between the sizes.
fn crossovers(c: &Case, m: &OnMachine, winners: &[Winner], out: &mut Vec<String>) {
    for pair in winners.windows(2) {
        let ((s0, p0, w0), (s1, p1, w1)) = (&pair[0], &pair[1]);
        if w0.row.variant == w1.row.variant
            || rest_of(p0, c.size_param) != rest_of(p1, c.size_param)
        {
            continue;
        }
        let t = |params: &Params, variant: &str| {
            m.mine
                .iter()
                .filter(|e| e.ok() && &e.row.params == params && e.row.variant == variant)
                .map(|e| e.median())
                .min_by(f64::total_cmp)
        };
        let mut s = format!(
            "{}Crossover: the fastest changes from {} at {} to {} at {}",
            m.prefix,
            w0.row.variant,
            size_label(c.size_param, *s0),
            w1.row.variant,
            size_label(c.size_param, *s1)
        );
        if let (Some(a0), Some(a1), Some(b0), Some(b1)) = (
            t(p0, &w0.row.variant),
            t(p1, &w0.row.variant),
            t(p0, &w1.row.variant),
            t(p1, &w1.row.variant),
        ) && let Some(x) = interpolate_crossing(*s0, *s1, a0 / b0, a1 / b1)
        {
            s.push_str(&format!(
                " (their times cross near {} ≈ {})",
                c.size_param,
                sig3(x)
            ));
        }
        s.push('.');
        out.push(s);
    }
}

/// Thread scaling: one sentence per variant over the sizes measured.
fn thread_advice(c: &Case, thread_fits: &[ThreadFit], out: &mut Vec<String>) {
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
                size_label(c.size_param, f.size),
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
                && c.es.iter().any(|e| {
                    e.ok()
                        && e.row.noisy
                        && c.ctx.series_name(e) == f.label
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
}

/// Variants that were not measured, and why: one sentence per (variant, status), sizes in
/// order, the reason once when it is the same at every size.
fn not_measured(c: &Case, out: &mut Vec<String>) {
    type Sizes = Vec<(f64, String)>;
    let mut groups: Vec<((String, Status), Sizes)> = Vec::new();
    for e in c.es.iter().filter(|e| !e.ok()) {
        let key = (e.row.variant.clone(), e.row.status);
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
        let detail = if c.size_param.is_empty() || status == Status::NotApplicable {
            format!(": {}", items[0].1)
        } else if same {
            let sizes: Vec<String> = items.iter().map(|i| fmt_value(i.0)).collect();
            format!(
                " at {} = {}: {}",
                c.size_param,
                sizes.join(", "),
                items[0].1
            )
        } else {
            let each: Vec<String> = items
                .iter()
                .map(|i| format!("{} ({})", size_label(c.size_param, i.0), i.1))
                .collect();
            format!(" at {}", each.join("; "))
        };
        out.push(match status {
            Status::NotApplicable => format!("{variant} does not apply to {}{detail}.", c.case),
            Status::Skipped => format!("{variant} was skipped{detail}."),
            Status::Ok | Status::Failed => {
                format!("{variant} FAILED{detail}; it is not presented as a result.")
            }
        });
    }
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
        .filter(|e| e.ok() && e.row.strategy == Strategy::Gpu)
        .map(|e| e.row.variant.clone())
        .collect();
    for g in gpus {
        let ratios = gpu_ratios(mine, &g);
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

/// Per size: the GPU variant's time over the best CPU (Rust, non-GPU) time, and that CPU
/// variant's name.
fn gpu_ratios(mine: &[&Entry], g: &str) -> Vec<(f64, f64, String)> {
    let mut ratios: Vec<(f64, f64, String)> = Vec::new();
    let mut params: Vec<(f64, Params)> = mine
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
            .filter(|e| {
                e.ok() && &e.row.params == p && e.row.strategy != Strategy::Gpu && e.is_rust()
            })
            .min_by(|a, b| a.median().total_cmp(&b.median()));
        if let (Some(gt), Some(c)) = (gt, cpu) {
            ratios.push((*size, gt / c.median(), c.row.variant.clone()));
        }
    }
    ratios
}

fn peer_advice(
    mine: &[&Entry],
    problems: &[(Params, f64, Params)],
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
        // External variants (external.toml) of any language are peers too.
        let peers = if at
            .iter()
            .all(|e| e.is_rust() || e.row.strategy == Strategy::Python)
        {
            "Python peers"
        } else {
            "Peers"
        };
        if let (Some(py), Some(rs)) = (py, rs) {
            let mut s = format!(
                "{prefix}{peers} at {}: the fastest, {} ({}), is {}, the fastest Rust variant",
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

/// A peer (Python or external) that ran only at the smaller sizes of the case says so, and
/// why it stopped (its `max_n`, the time limit, a failure): its ratios cover those sizes only.
fn peer_range_advice(mine: &[&Entry], size_param: &str, prefix: &str, out: &mut Vec<String>) {
    let largest = mine.iter().map(|e| e.row.size).fold(f64::NAN, f64::max);
    let peers: BTreeSet<&str> = mine
        .iter()
        .filter(|e| !e.is_rust())
        .map(|e| e.row.variant.as_str())
        .collect();
    for peer in peers {
        let rows: Vec<&&Entry> = mine.iter().filter(|e| e.row.variant == peer).collect();
        let Some(top) = rows
            .iter()
            .filter(|e| e.ok())
            .map(|e| e.row.size)
            .reduce(f64::max)
        else {
            continue;
        };
        if top >= largest {
            continue;
        }
        let why = rows
            .iter()
            .filter(|e| e.row.size > top && !e.ok())
            .min_by(|a, b| a.row.size.total_cmp(&b.row.size))
            .map(|e| format!(": above, {} ({})", e.row.status, e.row.reason))
            .unwrap_or_default();
        out.push(format!(
            "{prefix}{peer} ran only up to {}{why}; its ratios cover those sizes only.",
            size_label(size_param, top)
        ));
    }
}

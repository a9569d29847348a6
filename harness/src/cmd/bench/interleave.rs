//! `bench --interleave` (and `harness compare`): the selected variants of each problem and
//! thread count admitted one by one through the gate, as in a sequential bench (the same
//! failed, skipped and n/a rows), then the valid ones timed together in shuffled rounds
//! ([`crate::measure::rounds`]), and one row per variant with the usual statistics plus its
//! ratio to the baseline, paired round by round ([`crate::measure::paired::paired`]).
//!
//! Several prepared variants live at once: when their summed memory estimate does not fit
//! in the memory available, the problem is timed sequentially instead, and its rows say so.

use anyhow::{Result, bail};
use kernels::gate::Admitted;
use kernels::{Instance, Strategy, VariantRef};

use super::row::new_row;
use super::{Bench, Outcome, Problem, STOP, admit, record_timing, run_details};
use crate::cli::BenchArgs;
use crate::cmd::plan::{self, Job, Plan};
use crate::measure::paired;
use crate::measure::rounds::{self, Entrant};
use crate::measure::timing::{Config, Measurement};
use crate::render::fmt::fmt_bytes;
use crate::results::{Row, Status};

/// Relative change below which a ratio's verdict is "no difference" however narrow its
/// interval: none, so that the verdict is the 95 % interval's alone (faster: the whole
/// interval below 1; slower: above 1).
pub const VERDICT_THRESHOLD: f64 = 0.0;

/// Before anything starts: `--baseline` belongs to an interleaved run and must name one of
/// the selected variants, by its short name.
pub(super) fn check(plan: &Plan, args: &BenchArgs) -> Result<()> {
    let Some(base) = &args.baseline else {
        return Ok(());
    };
    if !args.interleave {
        bail!(
            "--baseline {base} applies to an interleaved run: add --interleave (or use `harness compare`)"
        );
    }
    if base.contains('/') {
        bail!("--baseline {base}: give the variant's short name (e.g. naive), not a full id");
    }
    let kernels_have = plan
        .jobs
        .iter()
        .any(|j| j.kernel.variants().iter().any(|v| v.name == base));
    if !kernels_have {
        let known: Vec<_> = plan.jobs[0]
            .kernel
            .variants()
            .iter()
            .map(|v| v.name)
            .collect();
        bail!(
            "--baseline {base}: unknown variant; valid ones are {}",
            known.join(", ")
        );
    }
    if !plan.wants(base) {
        bail!(
            "--baseline {base} is not among the selected variants ({}): add it to --variant",
            plan.variant.as_deref().unwrap_or_default().join(", ")
        );
    }
    Ok(())
}

/// One variant of an interleaved group: its row, and while it is being timed, the gate's
/// prepared variant.
struct Slot {
    variant: VariantRef,
    row: Row,
    admitted: Option<Admitted>,
    samples: Vec<f64>,
}

impl Bench<'_> {
    /// The variants of one problem at `t` threads, timed in rounds (or one after another
    /// when they do not fit in memory together).
    pub(super) fn interleaved(
        &mut self,
        p: &mut Problem,
        pool: &rayon::ThreadPool,
        group: &[VariantRef],
        t: usize,
    ) -> Result<Outcome> {
        if let Err(why) = fits(p.job, p.instance, group.len()) {
            self.bar
                .suspend(|| println!("  {why}: timing them one after another instead"));
            p.note = Some(format!("timed sequentially, not interleaved: {why}"));
            let outcome = self.sequential(p, pool, group, t);
            p.note = None;
            return outcome;
        }
        let mut slots = self.admit_all(p, pool, group, t);
        let (rounds, interrupted) = self.time_rounds(pool, &mut slots);
        if interrupted && rounds == 0 {
            // Ctrl-C before a round was finished: the rows that were never to be timed are
            // complete; the others have nothing to say.
            for slot in slots.into_iter().filter(|s| s.admitted.is_none()) {
                self.finish_row(p, slot.variant, (&[], &[]), slot.row)?;
            }
            return Ok(Outcome::Interrupted);
        }
        self.pair(&mut slots, rounds);
        if interrupted {
            // Every finished round timed every variant once, in its shuffled order: the
            // rounds so far are as paired as a whole run's, only fewer. A run stopped by a
            // time limit (`timeout` sends SIGTERM) keeps them instead of losing every row.
            let cut = format!(
                "interrupted after {rounds} round(s): fewer samples than --budget asked for"
            );
            for slot in slots.iter_mut().filter(|s| s.row.status == Status::Ok) {
                add_reason(&mut slot.row, &cut);
            }
        }
        for mut slot in slots {
            let events = match &slot.admitted {
                Some(a) => run_details(&mut slot.row, a.prepared.as_ref()),
                None => Vec::new(),
            };
            self.finish_row(p, slot.variant, (&events, &slot.samples), slot.row)?;
        }
        Ok(match interrupted {
            true => Outcome::Interrupted,
            false => Outcome::Done,
        })
    }

    /// Every variant of the group through the gate (or skipped for time, as in a sequential
    /// bench), in order; stops admitting at Ctrl-C.
    fn admit_all(
        &mut self,
        p: &mut Problem,
        pool: &rayon::ThreadPool,
        group: &[VariantRef],
        t: usize,
    ) -> Vec<Slot> {
        let mut slots = Vec::with_capacity(group.len());
        for &variant in group {
            if STOP.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            self.bar.set_message(format!(
                "{}/{}/{} [{}] · {t} thread(s) · admitting",
                p.job.kernel.name(),
                p.job.case,
                variant.name(),
                p.job.params
            ));
            let mut row = new_row(&self.dir.id, p.job, p.instance, variant, t, self.machine);
            let mut admitted = None;
            let skip = if p.instance.probe(variant).is_ready() {
                self.estimates.skip(p.job, p.instance, variant, t, pool)
            } else {
                None
            };
            if let Some(why) = skip {
                row.status = Status::Skipped;
                row.reason = why;
            } else {
                let (instance, refs) = (p.instance, &mut p.refs);
                admitted = pool.install(|| admit(instance, refs, variant, &mut row));
                row.interleaved = admitted.is_some();
            }
            slots.push(Slot {
                variant,
                row,
                admitted,
                samples: Vec::new(),
            });
        }
        slots
    }

    /// The admitted variants timed in rounds in `pool`, their rows filled (statistics, or
    /// the failure while timed) from the rounds finished: how many, and whether Ctrl-C (or
    /// SIGTERM) ended them before the budget was spent. Interrupted before the first round
    /// ended, no row is filled.
    fn time_rounds(&mut self, pool: &rayon::ThreadPool, slots: &mut [Slot]) -> (usize, bool) {
        let mut timed: Vec<&mut Slot> = slots.iter_mut().filter(|s| s.admitted.is_some()).collect();
        if timed.is_empty() {
            return (0, false);
        }
        let what = timed
            .iter()
            .map(|s| s.variant.name())
            .collect::<Vec<_>>()
            .join(", ");
        let mut entrants: Vec<Entrant> = timed
            .iter_mut()
            .filter_map(|s| s.admitted.as_mut())
            .map(|a| Entrant {
                first: a.first_run.as_secs_f64(),
                prepared: a.prepared.as_mut(),
            })
            .collect();
        let (bar, drift) = (&self.bar, &mut self.drift);
        // Enough rounds for the paired ratios' intervals, whatever --min-samples says.
        let cfg = Config {
            min_samples: self.cfg.min_samples.max(paired::MIN_ROUNDS),
            ..self.cfg
        };
        let result = pool.install(|| {
            let mut progress = |f: f64, phase: &str| {
                bar.set_message(format!("{what} · {phase} {:.0}%", 100.0 * f.min(1.0)));
                // Between two rounds (no variant is being timed): the drift probe, at most
                // 1 % of the run. Drift cancels in the paired ratios; the probe says how
                // much there was to cancel.
                if phase == "rounds" {
                    drift.probe_if_due();
                }
            };
            rounds::rounds(&mut entrants, cfg, &STOP, &mut progress)
        });
        drop(entrants);
        if result.interrupted && result.rounds == 0 {
            return (0, true);
        }
        for (slot, measured) in timed.into_iter().zip(result.variants) {
            fill(slot, measured, result.rounds);
        }
        (result.rounds, result.interrupted)
    }

    /// Every timed row's ratio to the baseline, paired round by round.
    fn pair(&self, slots: &mut [Slot], rounds: usize) {
        let Some(name) = self.baseline_of(slots) else {
            return;
        };
        let base = slots
            .iter()
            .find(|s| s.variant.name() == name && s.row.status == Status::Ok)
            .map(|s| s.samples.clone());
        for slot in slots.iter_mut().filter(|s| s.row.status == Status::Ok) {
            let row = &mut slot.row;
            row.baseline = name.to_string();
            row.rounds = rounds;
            match base
                .as_deref()
                .and_then(|b| paired::paired(&slot.samples, b))
            {
                Some(r) => {
                    row.ratio = Some(r.ratio);
                    // The baseline's own ratio is exactly 1, whatever the rounds.
                    match paired::too_few_rounds(rounds).filter(|_| slot.variant.name() != name) {
                        Some(why) => add_reason(row, &why),
                        None => {
                            row.ratio_low = Some(r.low);
                            row.ratio_high = Some(r.high);
                            row.verdict = r.verdict(VERDICT_THRESHOLD).to_string();
                        }
                    }
                }
                None => add_reason(row, &format!("baseline {name} not timed here: no ratio")),
            }
        }
    }

    /// `--baseline` when given; else naive when it was timed, else the first variant timed
    /// in the order `--variant` gave (the kernel's order without `--variant`).
    fn baseline_of(&self, slots: &[Slot]) -> Option<String> {
        if let Some(b) = &self.args.baseline {
            return Some(b.clone());
        }
        let timed = |s: &&Slot| s.row.status == Status::Ok;
        if let Some(naive) = slots
            .iter()
            .filter(timed)
            .find(|s| s.variant.info.strategy == Strategy::Naive)
        {
            return Some(naive.variant.name().to_string());
        }
        let order: Vec<&str> = match &self.plan.variant {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => slots.iter().map(|s| s.variant.name()).collect(),
        };
        order
            .into_iter()
            .find(|n| slots.iter().filter(timed).any(|s| s.variant.name() == *n))
            .map(str::to_string)
    }
}

/// A timed slot's row from its rounds: the statistics of its samples, or why it failed.
fn fill(slot: &mut Slot, measured: Result<Measurement, String>, rounds: usize) {
    match measured {
        Ok(m) => {
            record_timing(&mut slot.row, &m);
            slot.row.rounds = rounds;
            slot.samples = m.samples;
        }
        Err(why) => {
            slot.row.status = Status::Failed;
            slot.row.reason = why;
            slot.admitted = None;
        }
    }
}

fn add_reason(row: &mut Row, note: &str) {
    row.reason = if row.reason.is_empty() {
        note.to_string()
    } else {
        format!("{}; {note}", row.reason)
    };
}

/// Whether `variants` prepared variants of this problem fit in memory at once: each counted
/// at the kernel's estimate for the problem (or, without one, twice the problem's nominal
/// bytes, as [`plan::check_instance_memory`] does for one). A lower bound, as those are.
fn fits(job: &Job, instance: &dyn Instance, variants: usize) -> Result<(), String> {
    let Some(available) = plan::memory_available() else {
        return Ok(());
    };
    let each = job
        .kernel
        .memory_estimate(&job.case, &job.params)
        .map_or(2.0 * instance.work().bytes, |b| b as f64);
    let need = each * variants as f64;
    if variants < 2 || need <= available as f64 {
        return Ok(());
    }
    Err(format!(
        "{variants} variants need about {} at once ({variants} × {}) but {} are available",
        fmt_bytes(Some(need)),
        fmt_bytes(Some(each)),
        fmt_bytes(Some(available as f64))
    ))
}

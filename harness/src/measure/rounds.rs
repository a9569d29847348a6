//! Interleaved timing: several prepared variants of one problem sampled in rounds, so that
//! their times can be paired round by round ([`super::paired::paired`]) and the machine's
//! drift (±10 % over minutes on a shared machine) cancels in their ratios.
//!
//! Each variant is first warmed up on its own ([`timing::warm_up`], the same rule as a
//! sequential bench), which fixes its batch: `iters_per_sample` runs lasting at least
//! budget / [`timing::TARGET_SAMPLES`], the same batch in every round. Then every round
//! runs each variant's batch once, in an order shuffled per round (a seeded [`SplitMix`], so
//! that no variant always follows the same one and inherits its cache or clock state),
//! until the variants together have spent their summed budget (budget × variants) and at
//! least `min_samples` rounds were made, or Ctrl-C. Sample `i` of every variant is round `i`.
//!
//! A variant that errs or panics (in its warm-up or in a round) drops out with the reason;
//! the others go on, and their samples stay aligned with each other.

use std::sync::atomic::{AtomicBool, Ordering};

use kernels::Prepared;

use super::stats::SplitMix;
use super::timing::{self, Config, MAX_SAMPLES, Measurement, run_batch};

/// One variant to time: prepared and validated through [`kernels::gate::admit`].
pub struct Entrant<'a> {
    pub prepared: &'a mut dyn Prepared,
    /// Seconds of its validated first run (the first warm-up run).
    pub first: f64,
}

/// What the rounds produced.
#[derive(Debug, Default)]
pub struct Rounds {
    /// Per entrant, in their order: its measurement (one sample per round, `samples.len()
    /// == rounds` for every `Ok`), or why it failed while timed.
    pub variants: Vec<Result<Measurement, String>>,
    /// Rounds completed.
    pub rounds: usize,
    /// Stopped by Ctrl-C before the budget was spent.
    pub interrupted: bool,
}

/// Seed of the round order: the same run makes the same orders.
const SEED: u64 = 0x0DE5_0F12;

/// Warms up every entrant, then times them in shuffled rounds; see the module docs.
/// `budget` in `cfg` is per variant. `progress` hears the fraction of the summed budget
/// spent and the phase.
pub fn rounds(
    entrants: &mut [Entrant],
    cfg: Config,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(f64, &str),
) -> Rounds {
    let mut session = Session::warm_up(entrants, cfg.budget, stop, progress);
    let mut interrupted = false;
    loop {
        let (spent, active) = session.spent();
        if active == 0 || enough(spent, active, session.rounds, cfg) {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        session.round();
        let (spent, active) = session.spent();
        if session.rounds.is_power_of_two() {
            // For run.log (debug): where a long interleaved run was when it stopped.
            tracing::debug!("{} round(s) finished, {spent:.1} s timed", session.rounds);
        }
        // Called between rounds, never inside one: the caller may probe the machine here.
        progress(spent / (cfg.budget * active.max(1) as f64), "rounds");
    }
    session.finish(interrupted)
}

/// Warmed-up variants, stepped one round at a time: what [`rounds`] loops over, and what
/// `bench --rounds-out` (one round per request of `compare --against-bin`) drives.
pub struct Session<'e, 'p> {
    entrants: &'e mut [Entrant<'p>],
    /// Per entrant: its measurement so far (one sample per round), or why it failed.
    variants: Vec<Result<Measurement, String>>,
    /// Rounds completed.
    pub rounds: usize,
    /// Seconds of timed runs per entrant.
    timed: Vec<f64>,
    order: Vec<usize>,
    rng: SplitMix,
}

impl<'e, 'p> Session<'e, 'p> {
    /// Warms up each entrant in turn ([`timing::warm_up`] at `budget`), which fixes its
    /// batch; one that errs or panics is failed with the reason.
    pub fn warm_up(
        entrants: &'e mut [Entrant<'p>],
        budget: f64,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(f64, &str),
    ) -> Session<'e, 'p> {
        let n = entrants.len();
        let mut variants = Vec::with_capacity(n);
        for (i, e) in entrants.iter_mut().enumerate() {
            let mut heard =
                |f: f64, phase: &str| progress((i as f64 + f.min(1.0)) / n as f64, phase);
            let warmed = timing::warm_up(&mut *e.prepared, e.first, budget, stop, &mut heard);
            variants.push(warmed.map_err(|e| format!("failed while timing: {e}")));
        }
        Session {
            entrants,
            variants,
            rounds: 0,
            timed: vec![0.0; n],
            order: (0..n).collect(),
            rng: SplitMix(SEED),
        }
    }

    /// One round: every entrant still timed runs its batch once, in a newly shuffled order.
    /// Per entrant, the round's sample (seconds per run), or why it failed (now or before).
    pub fn round(&mut self) -> Vec<Result<f64, String>> {
        shuffle(&mut self.order, &mut self.rng);
        for &i in &self.order {
            let Ok(m) = &mut self.variants[i] else {
                continue;
            };
            let iters = m.iters_per_sample;
            match run_batch(&mut *self.entrants[i].prepared, iters) {
                Ok(t) => {
                    m.samples.push(t / iters as f64);
                    self.timed[i] += t;
                }
                Err(e) => self.variants[i] = Err(format!("failed while timing: {e}")),
            }
        }
        self.rounds += 1;
        self.variants
            .iter()
            .map(|v| match v {
                Ok(m) => Ok(*m.samples.last().expect("a sample this round")),
                Err(e) => Err(e.clone()),
            })
            .collect()
    }

    /// Seconds of timed runs so far over the entrants still timed, and how many those are.
    pub fn spent(&self) -> (f64, usize) {
        let active = (0..self.variants.len()).filter(|&i| self.variants[i].is_ok());
        active.fold((0.0, 0), |(s, n), i| (s + self.timed[i], n + 1))
    }

    /// Why entrant `i` failed while timed; None while it is timed.
    pub fn failure(&self, i: usize) -> Option<&str> {
        self.variants[i].as_ref().err().map(String::as_str)
    }

    /// The measurements, each marked `interrupted` when the rounds were.
    pub fn finish(self, interrupted: bool) -> Rounds {
        let mut variants = self.variants;
        for m in variants.iter_mut().flatten() {
            m.interrupted = interrupted;
        }
        Rounds {
            variants,
            rounds: self.rounds,
            interrupted,
        }
    }
}

/// Whether the rounds may stop (`spent`: seconds timed by the `active` variants still timed;
/// `compare --against-bin` gives its wall-clock time): they have spent their summed budget
/// and at least `min_samples` rounds were made; or (a very slow variant, as in a sequential
/// bench) three summed budgets after at least one round; or [`MAX_SAMPLES`] rounds.
pub fn enough(spent: f64, active: usize, rounds: usize, cfg: Config) -> bool {
    let budget = cfg.budget * active as f64;
    rounds >= MAX_SAMPLES
        || (rounds >= 1 && spent >= 3.0 * budget)
        || (rounds >= cfg.min_samples.max(1) && spent >= budget)
}

/// Fisher–Yates: every order equally likely.
fn shuffle(order: &mut [usize], rng: &mut SplitMix) {
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use kernels::{KernelError, Output};

    use super::*;

    /// A fake variant: each run spins for `run` and logs its id.
    struct Fake {
        id: usize,
        run: Duration,
        fail: Fail,
        log: Arc<Mutex<Vec<usize>>>,
    }

    /// When a fake fails.
    enum Fail {
        Never,
        /// Errs in its first run.
        AtOnce,
        /// Panics in its fourth run once the rounds have begun (runs counted so far).
        InRounds(usize),
    }

    impl Prepared for Fake {
        fn run(&mut self) -> Result<(), KernelError> {
            match self.fail {
                Fail::Never => {}
                Fail::AtOnce => return Err(KernelError::Failed(format!("fake {} errs", self.id))),
                // The warm-ups go one variant after another, in order: a later fake's run
                // in the log means the rounds have begun.
                Fail::InRounds(ref mut runs) => {
                    if self.log.lock().unwrap().iter().any(|&id| id > self.id) {
                        *runs += 1;
                        if *runs > 3 {
                            panic!("fake {} panics", self.id);
                        }
                    }
                }
            }
            let start = Instant::now();
            while start.elapsed() < self.run {
                std::hint::spin_loop();
            }
            self.log.lock().unwrap().push(self.id);
            Ok(())
        }
        fn output(&self) -> Result<Output, KernelError> {
            Err(KernelError::Failed("a fake has no output".into()))
        }
    }

    fn fakes(runs_us: &[u64], log: &Arc<Mutex<Vec<usize>>>) -> Vec<Fake> {
        runs_us
            .iter()
            .enumerate()
            .map(|(id, &us)| Fake {
                id,
                run: Duration::from_micros(us),
                fail: Fail::Never,
                log: log.clone(),
            })
            .collect()
    }

    fn time(fakes: &mut [Fake], cfg: Config) -> Rounds {
        let mut entrants: Vec<Entrant> = fakes
            .iter_mut()
            .map(|f| Entrant {
                first: f.run.as_secs_f64(),
                prepared: f,
            })
            .collect();
        rounds(
            &mut entrants,
            cfg,
            &AtomicBool::new(false),
            &mut |_: f64, _: &str| {},
        )
    }

    const CFG: Config = Config {
        budget: 0.05,
        min_samples: 5,
    };

    #[test]
    fn samples_are_aligned_by_round_and_the_budget_is_kept() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut f = fakes(&[200, 600, 100], &log);
        let started = Instant::now();
        let r = time(&mut f, CFG);
        let elapsed = started.elapsed().as_secs_f64();
        assert!(r.rounds >= CFG.min_samples && !r.interrupted, "{r:?}");
        for v in &r.variants {
            let m = v.as_ref().expect("every fake is timed");
            assert_eq!(m.samples.len(), r.rounds);
            assert!(m.iters_per_sample >= 1);
        }
        // Each fake's samples are its own time per run (spinning: at least what it spins).
        let med = |i: usize| super::super::stats::median(&r.variants[i].as_ref().unwrap().samples);
        assert!(med(1) > med(0) && med(0) > med(2), "{r:?}");
        // Warm-up (≤ 30 % of the budget each, ~a few batches) plus the summed budget of the
        // rounds, and not the three budgets of the slow-variant cap.
        let summed = CFG.budget * 3.0;
        assert!(
            elapsed >= summed,
            "{elapsed} s for a summed budget of {summed} s"
        );
        assert!(
            elapsed < 3.0 * summed,
            "{elapsed} s for a summed budget of {summed} s"
        );
    }

    #[test]
    fn every_round_runs_each_variant_once_in_a_shuffled_order() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut f = fakes(&[300, 300, 300, 300], &log);
        let r = time(&mut f, CFG);
        let batches: Vec<u64> = r
            .variants
            .iter()
            .map(|v| v.as_ref().unwrap().iters_per_sample)
            .collect();
        // The log's tail is the rounds: each round is a permutation of the four ids, each
        // run `iters_per_sample` times in a row.
        let log = log.lock().unwrap();
        let per_round: u64 = batches.iter().sum();
        let tail = &log[log.len() - (per_round as usize * r.rounds)..];
        let mut orders = Vec::new();
        for round in tail.chunks(per_round as usize) {
            let mut order: Vec<usize> = Vec::new();
            for &id in round {
                if order.last() != Some(&id) {
                    order.push(id);
                }
            }
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, vec![0, 1, 2, 3], "round {round:?}");
            orders.push(order);
        }
        orders.dedup();
        assert!(orders.len() > 1, "the order never changed: {orders:?}");
        let firsts: std::collections::BTreeSet<usize> = orders.iter().map(|o| o[0]).collect();
        assert!(
            firsts.len() > 1,
            "always the same variant first: {orders:?}"
        );
    }

    #[test]
    fn a_failing_variant_drops_out_and_the_others_stay_aligned() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut f = fakes(&[200, 200, 200], &log);
        // One panics in its fourth run of the rounds, one errs in its warm-up's first run.
        f[0].fail = Fail::InRounds(0);
        f[2].fail = Fail::AtOnce;
        let r = time(&mut f, CFG);
        let why = |i: usize| match &r.variants[i] {
            Err(e) => e.clone(),
            Ok(m) => panic!("fake {i} was timed: {m:?}"),
        };
        assert!(why(0).contains("panicked: fake 0 panics"), "{}", why(0));
        assert!(why(2).contains("fake 2 errs"), "{}", why(2));
        let m = r.variants[1].as_ref().expect("the good one is timed");
        assert_eq!(m.samples.len(), r.rounds);
        // The one that failed in the rounds ran some of them before it dropped out (the
        // warm-ups run one variant after another: 0's runs after 1's first are rounds).
        let log = log.lock().unwrap();
        let ones = log.iter().position(|&id| id == 1).expect("fake 1 ran");
        assert!(log[ones..].contains(&0), "fake 0 never ran in the rounds");
        assert!(r.rounds >= CFG.min_samples);
    }

    #[test]
    fn a_stop_ends_the_rounds_marked_interrupted() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut f = fakes(&[100, 100], &log);
        let mut entrants: Vec<Entrant> = f
            .iter_mut()
            .map(|f| Entrant {
                first: 1e-4,
                prepared: f,
            })
            .collect();
        let r = rounds(
            &mut entrants,
            CFG,
            &AtomicBool::new(true),
            &mut |_: f64, _: &str| {},
        );
        assert!(r.interrupted && r.rounds == 0, "{r:?}");
        assert!(r.variants.iter().all(|v| v.as_ref().unwrap().interrupted));
    }
}

//! The drift guard: a short fixed probe (a few milliseconds of known work) run between the
//! rows of a bench, or between the rounds of an interleaved run, to see how the machine's
//! speed moved while the run went on. A shared machine drifts by ±10 % over minutes (other
//! jobs, frequency and thermal limits); two figures measured at different moments differ
//! by that much whatever the code, and the run says so.
//!
//! The probe does what the kernels do: a chain of fused multiply-adds over a small array
//! that stays in L1 (compute), then a sweep over a buffer beyond L1 and L2 (memory). It is
//! timed as the median of a few chunks, so that one interrupt does not count as drift while
//! a busy machine (another process taking the core) does. Speeds are relative to the
//! reference taken when the guard is made: 1.0 = as fast, 0.91 = 9 % slower.

use std::hint::black_box;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The drift seen during a run (`run.json`'s `drift`): the machine's speed relative to the
/// reference probe at the start, at its slowest and fastest probe.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Drift {
    /// Probes taken, the reference ones included.
    pub probes: usize,
    /// Slowest and fastest relative speed (1.0 = as fast as the reference).
    pub min: f64,
    pub max: f64,
    /// Mean seconds of one probe (what the guard cost, per probe).
    pub probe_s: f64,
}

/// Fastest over slowest probe beyond which the run is flagged: figures measured at
/// different moments may differ by more than this for the machine's sake alone.
pub const FLAG_RANGE: f64 = 1.10;

impl Drift {
    /// The summary of relative speeds (None without any) and the seconds all probes took.
    pub fn of(speeds: &[f64], total_s: f64) -> Option<Drift> {
        if speeds.is_empty() {
            return None;
        }
        let min = speeds.iter().copied().fold(f64::INFINITY, f64::min);
        let max = speeds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Drift {
            probes: speeds.len(),
            min,
            max,
            probe_s: total_s / speeds.len() as f64,
        })
    }

    /// Whether the fastest probe was more than [`FLAG_RANGE`] times the slowest.
    pub fn flagged(&self) -> bool {
        self.min > 0.0 && self.max / self.min > FLAG_RANGE
    }

    /// `machine speed varied 0.91–1.04 during this run (12 probes)`.
    pub fn describe(&self) -> String {
        format!(
            "machine speed varied {:.2}–{:.2} during this run ({} probe{})",
            self.min,
            self.max,
            self.probes,
            if self.probes == 1 { "" } else { "s" }
        )
    }

    /// What a flagged range means and what to do about it; None when not flagged.
    pub fn advice(&self) -> Option<String> {
        self.flagged().then(|| {
            format!(
                "the fastest probe was {:.0} % faster than the slowest: figures measured at \
                 different moments of this run differ by that much for the machine's sake \
                 alone; compare variants with `bench --interleave` or `harness compare`, \
                 which pair them round by round",
                100.0 * (self.max / self.min - 1.0)
            )
        })
    }
}

/// Values in the compute part of the probe: 512 f64 (4 KiB), well inside any L1.
const FMA_LEN: usize = 512;
/// Passes of the multiply-add chain over them per chunk.
const FMA_PASSES: usize = 2500;
/// Values in the memory sweep: 4 MiB, beyond L1 and L2 on every machine we target.
const SWEEP_LEN: usize = 1 << 19;
/// Chunks a probe is timed in; its time is their median times their count.
const CHUNKS: usize = 5;
/// Reference probes at the start (their median is the reference).
const REFERENCE_PROBES: usize = 3;
/// A probe between rows only once this many probe-times have passed since the last one,
/// so that the guard costs at most 1 % of the run.
const SPACING: f64 = 100.0;

/// Whether a probe is due `since_last_s` seconds after the last one, when one costs
/// `probe_s`.
fn due(since_last_s: f64, probe_s: f64) -> bool {
    since_last_s >= SPACING * probe_s
}

/// The probe's buffers, allocated once: nothing is allocated in the timed part.
struct Work {
    fma: Vec<f64>,
    sweep: Vec<f64>,
}

impl Work {
    fn new() -> Work {
        Work {
            fma: (0..FMA_LEN).map(|i| 1.0 + i as f64 * 1e-3).collect(),
            sweep: (0..SWEEP_LEN).map(|i| (i % 17) as f64).collect(),
        }
    }

    /// One chunk of the probe: the FMA chain then one sweep. Values stay bounded (the
    /// chain's fixed point is 1/(1 − 0.999) · 1e-3 = 1), so the work never changes pace.
    fn chunk(&mut self) {
        for _ in 0..FMA_PASSES {
            for x in self.fma.iter_mut() {
                *x = x.mul_add(0.999, 1e-3);
            }
            black_box(&mut self.fma);
        }
        // Four sums, so that the sweep waits on memory, not on one addition's latency.
        let mut acc = [0.0f64; 4];
        for c in black_box(&self.sweep).chunks_exact(4) {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += v;
            }
        }
        black_box(acc);
    }

    /// Seconds of one probe: the median chunk, times the number of chunks.
    fn probe(&mut self) -> f64 {
        let mut times = [0.0f64; CHUNKS];
        for t in times.iter_mut() {
            let start = Instant::now();
            self.chunk();
            *t = start.elapsed().as_secs_f64();
        }
        times.sort_by(f64::total_cmp);
        times[CHUNKS / 2] * CHUNKS as f64
    }
}

/// Runs the probe and keeps the relative speeds it saw. Made at the start of a run (its
/// reference probes), then [`DriftGuard::probe`] (or [`DriftGuard::probe_if_due`]) between
/// rows or rounds, and [`DriftGuard::summary`] for `run.json`.
pub struct DriftGuard {
    work: Work,
    /// Seconds of the reference probe.
    reference_s: f64,
    speeds: Vec<f64>,
    /// Wall time all probes took, for their mean cost.
    total_s: f64,
    last: Instant,
}

impl Default for DriftGuard {
    fn default() -> Self {
        DriftGuard::new()
    }
}

impl DriftGuard {
    /// A guard with its reference: the median of three probes after an untimed one (page
    /// faults, caches), each counted as a probe.
    pub fn new() -> DriftGuard {
        let mut work = Work::new();
        let start = Instant::now();
        work.chunk();
        let mut times: Vec<f64> = (0..REFERENCE_PROBES).map(|_| work.probe()).collect();
        let total_s = start.elapsed().as_secs_f64();
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let reference_s = sorted[REFERENCE_PROBES / 2];
        for t in times.iter_mut() {
            *t = reference_s / *t;
        }
        DriftGuard {
            work,
            reference_s,
            speeds: times,
            total_s,
            last: Instant::now(),
        }
    }

    /// Runs the probe (a few milliseconds); the machine's speed relative to the reference.
    pub fn probe(&mut self) -> f64 {
        let start = Instant::now();
        let seconds = self.work.probe();
        self.total_s += start.elapsed().as_secs_f64();
        self.last = Instant::now();
        let speed = self.reference_s / seconds;
        self.speeds.push(speed);
        speed
    }

    /// [`DriftGuard::probe`] when at least a hundred probe-times have passed since the last
    /// probe (so the guard costs at most 1 % of the run: between rows shorter than that it
    /// waits); None when not yet due.
    pub fn probe_if_due(&mut self) -> Option<f64> {
        let cost = self.total_s / self.speeds.len().max(1) as f64;
        due(self.last.elapsed().as_secs_f64(), cost).then(|| self.probe())
    }

    /// The drift seen so far.
    pub fn summary(&self) -> Option<Drift> {
        Drift::of(&self.speeds, self.total_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_speeds() {
        let d = Drift::of(&[1.0, 0.91, 1.04, 0.98], 0.012).unwrap();
        assert_eq!(d.probes, 4);
        assert_eq!(d.min, 0.91);
        assert_eq!(d.max, 1.04);
        assert!((d.probe_s - 0.003).abs() < 1e-15);
        assert_eq!(
            d.describe(),
            "machine speed varied 0.91–1.04 during this run (4 probes)"
        );
        // 1.04 / 0.91 = 1.143: beyond 10 %.
        assert!(d.flagged());
        assert!(d.advice().unwrap().contains("14 %"));
        assert_eq!(Drift::of(&[], 0.0), None);
    }

    #[test]
    fn flag_is_a_ratio_of_fastest_to_slowest() {
        let calm = Drift::of(&[1.0, 0.95, 1.04], 0.01).unwrap();
        assert!(!calm.flagged(), "1.04 / 0.95 = 1.095 is within 10 %");
        assert_eq!(calm.advice(), None);
        // The same spread away from 1.0 (a slow reference) is flagged the same way.
        let shifted = Drift::of(&[1.2, 1.35], 0.01).unwrap();
        assert!(shifted.flagged(), "1.35 / 1.2 = 1.125");
        assert!(!Drift::of(&[1.5, 1.6], 0.01).unwrap().flagged());
        let one = Drift::of(&[1.0], 0.002).unwrap();
        assert_eq!(
            one.describe(),
            "machine speed varied 1.00–1.00 during this run (1 probe)"
        );
    }

    #[test]
    fn guard_counts_its_probes_and_spaces_them() {
        let mut g = DriftGuard::new();
        let s = g.summary().unwrap();
        assert_eq!(s.probes, REFERENCE_PROBES);
        assert!(s.min <= 1.0 && s.max >= 1.0, "the reference is the median");
        let speed = g.probe();
        assert!(speed > 0.0 && speed.is_finite());
        assert_eq!(g.summary().unwrap().probes, REFERENCE_PROBES + 1);
    }

    #[test]
    fn probes_keep_to_one_percent_of_the_run() {
        // A 3 ms probe: due after 0.3 s, not before.
        assert!(!due(0.1, 0.003));
        assert!(!due(0.299, 0.003));
        assert!(due(0.3, 0.003));
        assert!(due(5.0, 0.003));
    }
}

//! Timing a prepared variant: warm-up, then samples until a time budget, then statistics.
//! Setup is timed elsewhere (by the caller, around `prepare`); here only `run` is timed.

use crate::validate::run_guarded;
use kernels::Prepared;

/// Timed samples of one variant, in seconds.
#[derive(Clone, Debug, Default)]
pub struct Samples(pub Vec<f64>);

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Interquartile range over median (0 for fewer than 4 samples' worth of spread).
    pub spread: f64,
    pub samples: usize,
}

impl Samples {
    pub fn summary(&self) -> Option<Summary> {
        if self.0.is_empty() {
            return None;
        }
        let mut s = self.0.clone();
        s.sort_by(f64::total_cmp);
        let q = |f: f64| {
            // Linear interpolation between order statistics (numpy's default percentile).
            let x = f * (s.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            s[lo] + (s[hi] - s[lo]) * (x - lo as f64)
        };
        let median = q(0.5);
        Some(Summary {
            median,
            min: s[0],
            max: s[s.len() - 1],
            spread: if median > 0.0 {
                (q(0.75) - q(0.25)) / median
            } else {
                0.0
            },
            samples: s.len(),
        })
    }
}

/// Warm-up then samples. `first` is the validation run's time (it served as the first
/// warm-up). A variant whose single run exceeds the budget keeps that one run as its only
/// sample rather than running for minutes.
pub fn measure(
    prepared: &mut dyn Prepared,
    first: f64,
    budget: f64,
    min_samples: usize,
) -> Result<Samples, String> {
    if first >= budget {
        return Ok(Samples(vec![first]));
    }
    // Warm-up: about a fifth of the budget (caches, page faults, GPU clocks, lazy JIT).
    let mut spent = first;
    while spent < 0.2 * budget {
        let (r, t) = run_guarded(prepared);
        r?;
        spent += t.as_secs_f64();
    }
    let mut samples = Vec::new();
    let mut timed = 0.0;
    while samples.len() < min_samples.max(1) || timed < budget {
        let (r, t) = run_guarded(prepared);
        r?;
        samples.push(t.as_secs_f64());
        timed += t.as_secs_f64();
        // A very slow variant stops at its budget even below the minimum count.
        if timed >= 3.0 * budget {
            break;
        }
    }
    Ok(Samples(samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let s = Samples(vec![4.0, 1.0, 3.0, 2.0, 5.0]).summary().unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 5.0));
        assert_eq!(s.spread, (4.0 - 2.0) / 3.0);
    }
}

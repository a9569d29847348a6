//! The ratio of two variants' times, with a 95 % interval, and the verdict it supports.
//!
//! A ratio is `time(variant) / time(baseline)`: below 1 the variant is faster. Three ways to
//! get one, from the best evidence to the least:
//!
//! - [`paired`]: both were timed in the same rounds (interleaved), so round `i` gives one
//!   ratio `a[i] / b[i]` measured within a few milliseconds of each other. The machine's
//!   drift (±10 % over minutes on a shared machine) multiplies both times of a round alike
//!   and cancels in the ratio; the estimate is the median of the per-round ratios and its
//!   interval a percentile bootstrap over rounds.
//! - [`unpaired`]: two sets of samples taken at different times (two runs, two builds): the
//!   ratio of their medians, with each set resampled independently. Drift between the two
//!   moments is *not* removed, only the noise within each.
//! - [`from_intervals`]: only each side's median and interval are known (a run folder without
//!   its samples): the two intervals' log half-widths combined in quadrature, as for two
//!   independent errors.
//!
//! The statistics are pure functions on slices of seconds, tested on synthetic samples in
//! `harness/tests/stats.rs`.

use super::stats::{CONFIDENCE, RESAMPLES, SplitMix, median, quantile};

/// A ratio of times and its interval at [`CONFIDENCE`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ratio {
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
}

/// What a ratio says at a threshold (a relative change too small to matter, e.g. 0.05).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The whole interval is below 1 / (1 + threshold).
    Faster,
    /// The whole interval is above 1 + threshold.
    Slower,
    /// The interval reaches the band around 1: no difference at this precision.
    NoDifference,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::NoDifference => "no difference",
        })
    }
}

impl Ratio {
    /// The verdict when changes within `threshold` (relative, ≥ 0) do not count.
    pub fn verdict(&self, threshold: f64) -> Verdict {
        if self.low > 1.0 + threshold {
            Verdict::Slower
        } else if self.high < 1.0 / (1.0 + threshold) {
            Verdict::Faster
        } else {
            Verdict::NoDifference
        }
    }

    /// The interval's width relative to the ratio (high / low − 1): how precise it is.
    pub fn relative_width(&self) -> f64 {
        self.high / self.low - 1.0
    }
}

/// Fewest rounds from which a paired ratio is given with an interval, and so a verdict.
/// Whatever the distribution, the widest interval n rounds can give, from the smallest of
/// their ratios to the largest, holds the median with probability 1 − 2·2⁻ⁿ: 96.9 % at 6,
/// 93.8 % at 5, none at 1 (where the bootstrap's "interval" is the one ratio itself and a
/// verdict would rest on one draw of a drifting machine). With fewer rounds (a variant
/// slower than the budget, an interrupted run) the ratio is said alone, with
/// [`too_few_rounds`]'s reason.
pub const MIN_ROUNDS: usize = 6;

/// Why `rounds` rounds give a ratio without an interval or a verdict, if they do.
pub fn too_few_rounds(rounds: usize) -> Option<String> {
    (rounds < MIN_ROUNDS).then(|| {
        format!(
            "{rounds} round(s): a 95 % interval needs {MIN_ROUNDS} or more (a larger --budget), \
             so the ratio has no interval and no verdict"
        )
    })
}

/// Seed of every bootstrap here: the same samples always give the same interval.
const SEED: u64 = 0x5EED_0FBA;

/// Median of the per-round ratios `variant[i] / baseline[i]`, with a percentile-bootstrap
/// interval over rounds. `None` without a round (or with rounds of unequal count).
pub fn paired(variant: &[f64], baseline: &[f64]) -> Option<Ratio> {
    if variant.is_empty() || variant.len() != baseline.len() {
        return None;
    }
    let ratios: Vec<f64> = variant.iter().zip(baseline).map(|(a, b)| a / b).collect();
    let ratio = median(&ratios);
    let (low, high) = bootstrap(ratios.len(), |pick, buf| {
        buf.clear();
        buf.extend((0..ratios.len()).map(|_| ratios[pick()]));
        median_in_place(buf)
    });
    Some(Ratio { ratio, low, high })
}

/// Ratio of the medians of two independent sets of samples, each resampled on its own for
/// the interval. `None` when either is empty.
pub fn unpaired(variant: &[f64], baseline: &[f64]) -> Option<Ratio> {
    if variant.is_empty() || baseline.is_empty() {
        return None;
    }
    let ratio = median(variant) / median(baseline);
    let mut other = Vec::with_capacity(baseline.len());
    let mut rng = SplitMix(SEED ^ 0xB);
    let (low, high) = bootstrap(variant.len(), |pick, buf| {
        buf.clear();
        buf.extend((0..variant.len()).map(|_| variant[pick()]));
        other.clear();
        other.extend((0..baseline.len()).map(|_| baseline[rng.below(baseline.len())]));
        median_in_place(buf) / median_in_place(&mut other)
    });
    Some(Ratio { ratio, low, high })
}

/// One side's median and interval, as a run folder's row gives them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

/// Ratio of two medians when only their intervals are known: on a log scale the ratio's
/// lower and upper half-widths are those of the two sides combined in quadrature (the
/// errors of two independent runs add as variances).
pub fn from_intervals(variant: Interval, baseline: Interval) -> Ratio {
    let half = |num: f64, den: f64| (num / den).ln().abs();
    let down = half(variant.median, variant.low).hypot(half(baseline.high, baseline.median));
    let up = half(variant.high, variant.median).hypot(half(baseline.median, baseline.low));
    let ratio = variant.median / baseline.median;
    Ratio {
        ratio,
        low: ratio * (-down).exp(),
        high: ratio * up.exp(),
    }
}

/// Percentile bootstrap at [`CONFIDENCE`]: `statistic` gets a picker of uniform indices in
/// `0..n` and a scratch buffer, and returns one resample's value.
fn bootstrap(
    n: usize,
    mut statistic: impl FnMut(&mut dyn FnMut() -> usize, &mut Vec<f64>) -> f64,
) -> (f64, f64) {
    let mut rng = SplitMix(SEED);
    let mut buf = Vec::with_capacity(n);
    let mut values: Vec<f64> = (0..RESAMPLES)
        .map(|_| statistic(&mut || rng.below(n), &mut buf))
        .collect();
    values.sort_unstable_by(f64::total_cmp);
    let alpha = (1.0 - CONFIDENCE) / 2.0;
    (quantile(&values, alpha), quantile(&values, 1.0 - alpha))
}

fn median_in_place(buf: &mut [f64]) -> f64 {
    buf.sort_unstable_by(f64::total_cmp);
    quantile(buf, 0.5)
}

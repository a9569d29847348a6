//! Statistics of timings and of scaling curves: quantiles, a bootstrap confidence interval
//! of the median, outliers classified as criterion does (Tukey's fences), the growth
//! exponent of a size sweep and the serial fraction of a thread sweep (Amdahl's law).
//!
//! Pure functions on slices of seconds, so that each is unit-tested on synthetic data
//! (`harness/tests/stats.rs`).

/// Spread (IQR / median) above which a result is flagged "noisy" by default.
pub const NOISY_SPREAD: f64 = 0.10;

/// Confidence level of the interval around the median.
pub const CONFIDENCE: f64 = 0.95;

/// Bootstrap resamples: enough for stable 2.5 % / 97.5 % percentiles of the median.
pub const RESAMPLES: usize = 2000;

/// Quantile `f` ∈ [0, 1] of sorted data, linear interpolation between order statistics
/// (numpy's default `percentile`, so pandas users get the same numbers).
pub fn quantile(sorted: &[f64], f: f64) -> f64 {
    assert!(!sorted.is_empty(), "quantile of no data");
    let x = f.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo as f64)
}

pub fn median(data: &[f64]) -> f64 {
    let mut s = data.to_vec();
    s.sort_by(f64::total_cmp);
    quantile(&s, 0.5)
}

/// Outlier counts by Tukey's fences, as criterion classifies them: beyond 1.5 IQR from the
/// quartiles is mild, beyond 3 IQR severe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outliers {
    pub low_severe: usize,
    pub low_mild: usize,
    pub high_mild: usize,
    pub high_severe: usize,
}

impl Outliers {
    pub fn mild(&self) -> usize {
        self.low_mild + self.high_mild
    }
    pub fn severe(&self) -> usize {
        self.low_severe + self.high_severe
    }
}

/// Where one value falls with respect to Tukey's fences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    LowSevere,
    LowMild,
    Normal,
    HighMild,
    HighSevere,
}

/// The four fences (low severe, low mild, high mild, high severe) of sorted data.
pub fn fences(sorted: &[f64]) -> [f64; 4] {
    let (q1, q3) = (quantile(sorted, 0.25), quantile(sorted, 0.75));
    let iqr = q3 - q1;
    [
        q1 - 3.0 * iqr,
        q1 - 1.5 * iqr,
        q3 + 1.5 * iqr,
        q3 + 3.0 * iqr,
    ]
}

pub fn classify(x: f64, fences: &[f64; 4]) -> Class {
    let [ls, lm, hm, hs] = *fences;
    if x < ls {
        Class::LowSevere
    } else if x < lm {
        Class::LowMild
    } else if x > hs {
        Class::HighSevere
    } else if x > hm {
        Class::HighMild
    } else {
        Class::Normal
    }
}

pub fn outliers(sorted: &[f64]) -> Outliers {
    let f = fences(sorted);
    let mut o = Outliers::default();
    for &x in sorted {
        match classify(x, &f) {
            Class::LowSevere => o.low_severe += 1,
            Class::LowMild => o.low_mild += 1,
            Class::Normal => {}
            Class::HighMild => o.high_mild += 1,
            Class::HighSevere => o.high_severe += 1,
        }
    }
    o
}

/// SplitMix64: a small, seeded generator, so that the same samples always give the same
/// interval (reports are reproducible from the CSV's samples).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (Lemire's multiply-shift; the bias is < n / 2⁶⁴).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// Percentile-bootstrap confidence interval of the median at `level` (e.g. 0.95):
/// resample the data with replacement `resamples` times, take each resample's median, and
/// return the (1 − level)/2 and (1 + level)/2 quantiles of those medians.
pub fn bootstrap_median_ci(data: &[f64], level: f64, resamples: usize, seed: u64) -> (f64, f64) {
    match data.len() {
        0 => return (f64::NAN, f64::NAN),
        1 => return (data[0], data[0]),
        _ => {}
    }
    let mut rng = SplitMix(seed);
    let mut buf = vec![0.0; data.len()];
    let mut medians = Vec::with_capacity(resamples);
    for _ in 0..resamples.max(1) {
        for b in buf.iter_mut() {
            *b = data[rng.below(data.len())];
        }
        buf.sort_unstable_by(f64::total_cmp);
        medians.push(quantile(&buf, 0.5));
    }
    medians.sort_unstable_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    (quantile(&medians, alpha), quantile(&medians, 1.0 - alpha))
}

/// Everything a result row says about its samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Interquartile range over median (0 with fewer than 2 samples).
    pub spread: f64,
    pub outliers: Outliers,
    pub samples: usize,
}

impl Summary {
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let median = quantile(&s, 0.5);
        let (ci_low, ci_high) = bootstrap_median_ci(&s, CONFIDENCE, RESAMPLES, 0x5EED);
        Some(Summary {
            median,
            ci_low,
            ci_high,
            mean: s.iter().sum::<f64>() / s.len() as f64,
            min: s[0],
            max: s[s.len() - 1],
            spread: if median > 0.0 {
                (quantile(&s, 0.75) - quantile(&s, 0.25)) / median
            } else {
                0.0
            },
            outliers: outliers(&s),
            samples: s.len(),
        })
    }

    pub fn noisy(&self, threshold: f64) -> bool {
        self.spread > threshold
    }
}

/// A power law t = a·xᵖ fitted by least squares on (ln x, ln t).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PowerFit {
    pub exponent: f64,
    pub prefactor: f64,
    /// Coefficient of determination in log space (1 with two points).
    pub r2: f64,
    pub points: usize,
}

impl PowerFit {
    pub fn eval(&self, x: f64) -> f64 {
        self.prefactor * x.powf(self.exponent)
    }
}

/// Fits t = a·xᵖ; needs at least two distinct positive x.
pub fn fit_power_law(x: &[f64], t: &[f64]) -> Option<PowerFit> {
    let pts: Vec<(f64, f64)> = x
        .iter()
        .zip(t)
        .filter(|(x, t)| **x > 0.0 && **t > 0.0 && x.is_finite() && t.is_finite())
        .map(|(x, t)| (x.ln(), t.ln()))
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ss_res: f64 = pts
        .iter()
        .map(|p| (p.1 - intercept - slope * p.0).powi(2))
        .sum();
    let ss_tot: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    Some(PowerFit {
        exponent: slope,
        prefactor: intercept.exp(),
        r2: if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            1.0
        },
        points: pts.len(),
    })
}

/// Amdahl's law fitted to a thread sweep: T(p) = T(1)·(f + (1 − f)/p).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AmdahlFit {
    /// The serial fraction f, clamped to [0, 1].
    pub serial_fraction: f64,
    /// T(1), the one-thread time the fit is relative to.
    pub t1: f64,
    /// Root-mean-square residual of T(p)/T(1) against the model.
    pub rms_residual: f64,
}

impl AmdahlFit {
    pub fn speedup(&self, p: f64) -> f64 {
        1.0 / (self.serial_fraction + (1.0 - self.serial_fraction) / p)
    }
    /// The limit of the speedup with infinitely many threads, 1/f.
    pub fn max_speedup(&self) -> f64 {
        1.0 / self.serial_fraction
    }
}

/// Least squares for f on r(p) = T(p)/T(1): r − 1/p = f·(1 − 1/p), a line through the
/// origin in x = 1 − 1/p, so f = Σ x·(r − 1/p) / Σ x². Needs a one-thread time and at least
/// one more thread count.
pub fn fit_amdahl(threads: &[usize], times: &[f64]) -> Option<AmdahlFit> {
    let t1 = threads
        .iter()
        .zip(times)
        .find(|(p, _)| **p == 1)
        .map(|(_, t)| *t)
        .filter(|t| *t > 0.0)?;
    let pts: Vec<(f64, f64)> = threads
        .iter()
        .zip(times)
        .filter(|(p, t)| **p > 1 && **t > 0.0)
        .map(|(&p, &t)| (p as f64, t / t1))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(p, r) in &pts {
        let x = 1.0 - 1.0 / p;
        sxy += x * (r - 1.0 / p);
        sxx += x * x;
    }
    let f = (sxy / sxx).clamp(0.0, 1.0);
    let rms = (pts
        .iter()
        .map(|&(p, r)| (r - (f + (1.0 - f) / p)).powi(2))
        .sum::<f64>()
        / pts.len() as f64)
        .sqrt();
    Some(AmdahlFit {
        serial_fraction: f,
        t1,
        rms_residual: rms,
    })
}

/// Where two power laws cross (a·xᵖ = b·xᑫ), if they do at a positive x.
pub fn crossover(a: &PowerFit, b: &PowerFit) -> Option<f64> {
    let dp = a.exponent - b.exponent;
    if dp.abs() < 1e-9 {
        return None;
    }
    let x = ((b.prefactor / a.prefactor).ln() / dp).exp();
    (x.is_finite() && x > 0.0).then_some(x)
}

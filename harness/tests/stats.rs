//! The statistics behind every number of the reports, on synthetic data with known answers.

use harness::measure::stats::{
    self, Class, Outliers, Summary, bootstrap_median_ci, classify, fences, fit_amdahl,
    fit_power_law, outliers, quantile,
};

/// Deterministic pseudo-random numbers in [0, 1) (no rand crate in the harness).
fn uniform(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

#[test]
fn quantiles_match_numpy_linear_interpolation() {
    let s = [1.0, 2.0, 3.0, 4.0];
    // numpy.percentile([1, 2, 3, 4], [25, 50, 75]) = 1.75, 2.5, 3.25
    assert_eq!(quantile(&s, 0.25), 1.75);
    assert_eq!(quantile(&s, 0.5), 2.5);
    assert_eq!(quantile(&s, 0.75), 3.25);
    assert_eq!(stats::median(&[5.0, 1.0, 3.0]), 3.0);
}

#[test]
fn bootstrap_interval_contains_the_median_and_narrows_with_samples() {
    for seed in 1..20u64 {
        // Timings around 1 ms with a right tail (the usual shape of a busy machine).
        let data: Vec<f64> = uniform(60, seed)
            .into_iter()
            .map(|u| 1e-3 * (1.0 + 0.2 * u * u))
            .collect();
        let med = stats::median(&data);
        let (lo, hi) = bootstrap_median_ci(&data, 0.95, 2000, seed);
        assert!(lo <= med && med <= hi, "seed {seed}: {lo} ≤ {med} ≤ {hi}");
        // The data span 0.2 ms; the median of 60 of them is known far better.
        assert!(
            hi - lo < 0.1e-3,
            "seed {seed}: interval too wide: {}",
            hi - lo
        );
    }
    let wide = |n| {
        let d: Vec<f64> = uniform(n, 7).into_iter().map(|u| 1.0 + u).collect();
        let (lo, hi) = bootstrap_median_ci(&d, 0.95, 2000, 7);
        hi - lo
    };
    assert!(
        wide(400) < wide(25) / 2.0,
        "more samples, narrower interval"
    );
    // Reproducible: same data and seed, same interval.
    let d = uniform(50, 3);
    assert_eq!(
        bootstrap_median_ci(&d, 0.95, 500, 9),
        bootstrap_median_ci(&d, 0.95, 500, 9)
    );
    assert_eq!(bootstrap_median_ci(&[2.0], 0.95, 100, 1), (2.0, 2.0));
}

#[test]
fn tukey_fences_classify_as_criterion_does() {
    // Sorted: -12, 1..=11, 21, 27, 40. Q1 = 3.5, Q3 = 10.5, IQR = 7: mild fences -7 and 21,
    // severe fences -17.5 and 31.5 (worked by hand).
    let mut data = vec![-12.0, 21.0, 27.0, 40.0];
    data.extend((1..=11).map(f64::from));
    data.sort_by(f64::total_cmp);
    let f = fences(&data);
    assert_eq!(f, [-17.5, -7.0, 21.0, 31.5]);
    assert_eq!(classify(-12.0, &f), Class::LowMild);
    assert_eq!(classify(-20.0, &f), Class::LowSevere);
    assert_eq!(
        classify(21.0, &f),
        Class::Normal,
        "on the fence is not an outlier"
    );
    assert_eq!(classify(27.0, &f), Class::HighMild);
    assert_eq!(classify(40.0, &f), Class::HighSevere);
    let o = outliers(&data);
    assert_eq!(
        o,
        Outliers {
            low_severe: 0,
            low_mild: 1,
            high_mild: 1,
            high_severe: 1
        }
    );
    assert_eq!((o.mild(), o.severe()), (2, 1));
}

#[test]
fn summary_flags_noisy_spread() {
    let quiet: Vec<f64> = uniform(100, 5)
        .into_iter()
        .map(|u| 1.0 + 0.01 * u)
        .collect();
    let s = Summary::of(&quiet).unwrap();
    assert!(s.spread < 0.01 && !s.noisy(stats::NOISY_SPREAD));
    assert!(s.ci_low <= s.median && s.median <= s.ci_high);
    assert!(s.min <= s.median && s.median <= s.max);
    let busy: Vec<f64> = uniform(100, 5).into_iter().map(|u| 1.0 + u).collect();
    assert!(Summary::of(&busy).unwrap().noisy(stats::NOISY_SPREAD));
    assert!(Summary::of(&[]).is_none());
}

#[test]
fn power_law_exponent_is_recovered() {
    // Laue naive: time ∝ N⁴.
    let n = [8.0, 16.0, 32.0, 64.0];
    let t: Vec<f64> = n.iter().map(|x: &f64| 3e-9 * x.powi(4)).collect();
    let f = fit_power_law(&n, &t).unwrap();
    assert!((f.exponent - 4.0).abs() < 1e-12, "{}", f.exponent);
    assert!((f.prefactor / 3e-9 - 1.0).abs() < 1e-9);
    assert!((f.r2 - 1.0).abs() < 1e-12);
    assert!((f.eval(128.0) / (3e-9 * 128f64.powi(4)) - 1.0).abs() < 1e-9);
    // With ±5 % multiplicative noise the exponent stays within a few hundredths.
    let noisy: Vec<f64> = t
        .iter()
        .zip(uniform(4, 11))
        .map(|(t, u)| t * (0.95 + 0.1 * u))
        .collect();
    let g = fit_power_law(&n, &noisy).unwrap();
    assert!((g.exponent - 4.0).abs() < 0.05, "{}", g.exponent);
    assert!(g.r2 > 0.999);
    // One size, or non-positive values, give no fit.
    assert!(fit_power_law(&[8.0, 8.0], &[1.0, 2.0]).is_none());
    assert!(fit_power_law(&[8.0], &[1.0]).is_none());
    // x⁴ and 100·x² cross at x = 10.
    let a = fit_power_law(&[1.0, 2.0], &[1.0, 16.0]).unwrap(); // x⁴
    let b = fit_power_law(&[1.0, 2.0], &[100.0, 400.0]).unwrap(); // 100·x²
    let x = stats::crossover(&a, &b).unwrap();
    assert!((x - 10.0).abs() < 1e-9, "{x}");
}

#[test]
fn amdahl_serial_fraction_is_recovered() {
    // T(p) = T1·(f + (1 − f)/p) with f = 0.1.
    let p = [1usize, 2, 4, 8];
    let t: Vec<f64> = p.iter().map(|&p| 2.0 * (0.1 + 0.9 / p as f64)).collect();
    let fit = fit_amdahl(&p, &t).unwrap();
    assert!((fit.serial_fraction - 0.1).abs() < 1e-12);
    assert_eq!(fit.t1, 2.0);
    assert!(fit.rms_residual < 1e-12);
    assert!((fit.speedup(4.0) - 1.0 / (0.1 + 0.9 / 4.0)).abs() < 1e-12);
    assert!((fit.max_speedup() - 10.0).abs() < 1e-9);
    // Two thread counts: f = 2·T(2)/T(1) − 1 exactly.
    let two = fit_amdahl(&[1, 2], &[1.0, 0.6]).unwrap();
    assert!((two.serial_fraction - 0.2).abs() < 1e-12);
    // Perfect scaling gives f = 0; slower with threads clamps to 1.
    assert_eq!(
        fit_amdahl(&[1, 2], &[1.0, 0.5]).unwrap().serial_fraction,
        0.0
    );
    assert_eq!(
        fit_amdahl(&[1, 2], &[1.0, 1.3]).unwrap().serial_fraction,
        1.0
    );
    // No one-thread time: no fit.
    assert!(fit_amdahl(&[2, 4], &[1.0, 0.6]).is_none());
}

// ---- paired ratios (interleaved rounds) -----------------------------------------------------

use harness::measure::paired::{self, Interval, Verdict};

/// Times of `rounds` rounds on a machine whose speed drifts by ±10 % (a slow swing over the
/// run plus a jump half-way, as a neighbour's job starting), with 3 % noise of its own per
/// run: `true_time × drift(round) × noise`.
fn drifting(true_time: f64, rounds: usize, seed: u64) -> Vec<f64> {
    let noise = uniform(rounds, seed);
    (0..rounds)
        .map(|i| {
            let phase = i as f64 / rounds as f64;
            let swing = 1.0 + 0.10 * (std::f64::consts::TAU * phase).sin();
            let jump = if i > rounds / 2 { 1.08 } else { 1.0 };
            true_time * swing * jump * (1.0 + 0.03 * (noise[i] - 0.5))
        })
        .collect()
}

#[test]
fn paired_ratio_recovers_a_known_ratio_under_drift() {
    let baseline = drifting(1.0e-3, 60, 7);
    let variant = drifting(0.8e-3, 60, 8);
    let r = paired::paired(&variant, &baseline).unwrap();
    assert!(r.low <= 0.8 && 0.8 <= r.high, "0.8 outside {r:?}");
    // The drift (±10 %, a jump of 8 %) cancels round by round: what is left is the 3 %
    // noise of each side, so the interval is a few percent wide, not twenty.
    assert!(r.relative_width() < 0.03, "interval too wide: {r:?}");
    assert_eq!(r.verdict(0.0), Verdict::Faster);
    assert_eq!(
        r.verdict(0.5),
        Verdict::NoDifference,
        "a 20 % gain is within a 50 % band"
    );
}

#[test]
fn the_same_samples_unpaired_give_a_wider_interval() {
    // The same drifting rounds, but the first half of the baseline against the second half
    // of the variant, as two runs a few minutes apart: the jump goes into the ratio.
    let baseline = drifting(1.0e-3, 60, 7);
    let variant = drifting(1.0e-3, 60, 8);
    let unpaired = paired::unpaired(&variant[30..], &baseline[..30]).unwrap();
    let paired = paired::paired(&variant, &baseline).unwrap();
    assert!(unpaired.relative_width() > 2.0 * paired.relative_width());
    // The drift between the two halves reads as a difference that is not there.
    assert!((unpaired.ratio - 1.0).abs() > 0.05, "{unpaired:?}");
    assert_ne!(unpaired.verdict(0.0), Verdict::NoDifference);
    assert_eq!(paired.verdict(0.0), Verdict::NoDifference, "{paired:?}");
}

#[test]
fn identical_distributions_give_no_difference() {
    // A 95 % interval misses the true ratio (1) in about 5 % of experiments: over 100 pairs
    // of identical distributions, a verdict of "faster" or "slower" must stay that rare
    // (at most 12, where a binomial(100, 0.05) exceeds 12 with probability < 0.2 %).
    let (mut paired_wrong, mut unpaired_wrong) = (0, 0);
    for seed in 1..=100 {
        let baseline = drifting(2.0e-3, 40, seed);
        let variant = drifting(2.0e-3, 40, seed + 1000);
        let r = paired::paired(&variant, &baseline).unwrap();
        paired_wrong += usize::from(r.verdict(0.0) != Verdict::NoDifference);
        let u = paired::unpaired(&variant, &baseline).unwrap();
        unpaired_wrong += usize::from(u.verdict(0.0) != Verdict::NoDifference);
    }
    eprintln!("false differences in 100: paired {paired_wrong}, unpaired {unpaired_wrong}");
    assert!(paired_wrong <= 12, "paired: {paired_wrong} of 100");
    assert!(unpaired_wrong <= 12, "unpaired: {unpaired_wrong} of 100");
}

#[test]
fn ratios_need_rounds() {
    assert!(paired::paired(&[], &[]).is_none());
    assert!(
        paired::paired(&[1.0, 2.0], &[1.0]).is_none(),
        "unequal rounds"
    );
    assert!(paired::unpaired(&[1.0], &[]).is_none());
    let one = paired::paired(&[2.0], &[1.0]).unwrap();
    assert_eq!((one.ratio, one.low, one.high), (2.0, 2.0, 2.0));
}

#[test]
fn intervals_combine_in_quadrature_on_a_log_scale() {
    let exact = Interval {
        median: 1.0,
        low: 1.0,
        high: 1.0,
    };
    let side = Interval {
        median: 2.0,
        low: 2.0 / 1.1,
        high: 2.0 * 1.1,
    };
    // One exact side: the ratio keeps the other side's relative interval.
    let r = paired::from_intervals(side, exact);
    assert!((r.ratio - 2.0).abs() < 1e-12);
    assert!((r.high / r.ratio - 1.1).abs() < 1e-12 && (r.ratio / r.low - 1.1).abs() < 1e-12);
    // Two equal relative errors: √2 times as wide on the log scale.
    let both = paired::from_intervals(side, side);
    let expected = 1.1f64.ln() * 2f64.sqrt();
    assert!((both.high.ln() - expected).abs() < 1e-12);
    assert_eq!(both.verdict(0.0), Verdict::NoDifference);
}

#[test]
fn verdicts_at_a_threshold() {
    let r = |low: f64, high: f64| paired::Ratio {
        ratio: (low * high).sqrt(),
        low,
        high,
    };
    assert_eq!(r(1.06, 1.10).verdict(0.05), Verdict::Slower);
    assert_eq!(r(1.04, 1.10).verdict(0.05), Verdict::NoDifference);
    assert_eq!(r(0.90, 0.94).verdict(0.05), Verdict::Faster);
    assert_eq!(r(0.90, 0.96).verdict(0.05), Verdict::NoDifference);
    assert_eq!(Verdict::NoDifference.to_string(), "no difference");
}

#[test]
fn a_paired_interval_needs_as_many_rounds_as_can_hold_the_median_at_95_percent() {
    use harness::measure::paired::{MIN_ROUNDS, too_few_rounds};
    // From the smallest to the largest of n ratios: the median is inside unless all n fall
    // on one side of it, probability 2·2⁻ⁿ.
    let coverage = |n: usize| 1.0 - 2.0 * 0.5f64.powi(n as i32);
    assert!(coverage(MIN_ROUNDS) >= 0.95, "{}", coverage(MIN_ROUNDS));
    assert!(
        coverage(MIN_ROUNDS - 1) < 0.95,
        "{}",
        coverage(MIN_ROUNDS - 1)
    );
    assert!(too_few_rounds(MIN_ROUNDS - 1).is_some());
    assert_eq!(too_few_rounds(MIN_ROUNDS), None);
}

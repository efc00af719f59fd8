//! From histograms to numbers, and from rounds to a verdict.
//!
//! Rounds of two variants are interleaved (A B B A …), so the k-th round of A and the k-th of B
//! ran close together in time and saw the same machine. The ratio B/A is computed per pair and
//! a percentile bootstrap over pairs gives its 95 % interval: slow drift of the machine cancels
//! inside each pair instead of widening the interval.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::record::Hist;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(h: &Hist) -> Percentiles {
        let ms = |ns: u64| ns as f64 / 1e6;
        if h.is_empty() {
            return Percentiles {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
                mean: 0.0,
            };
        }
        Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1e6,
        }
    }
}

/// The percentile spectrum (HdrHistogram style) for charts: (percentile, ms) points.
pub fn spectrum(h: &Hist) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    // Evenly spaced in "number of nines": 0, 50, 75, 90, 95, 99, 99.5, 99.9 ... 99.999.
    let mut points = Vec::new();
    let mut nines = 0.0f64;
    while nines <= 5.0 {
        let q = 1.0 - 10f64.powf(-nines);
        points.push((q * 100.0, h.value_at_quantile(q) as f64 / 1e6));
        nines += 0.125;
    }
    points.push((100.0, h.max() as f64 / 1e6));
    points
}

/// A point estimate with a 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn spans_one(&self) -> bool {
        self.low <= 1.0 && self.high >= 1.0
    }
}

fn geomean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x.ln(), n + 1));
    (sum / n.max(1) as f64).exp()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

pub const RESAMPLES: usize = 10_000;

/// Ratios need positive, finite values (NaN fails this too).
fn usable(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Paired bootstrap of the geometric-mean ratio `candidate / baseline` over rounds.
/// `None` if a value is not positive (a ratio of zeros means nothing).
pub fn paired_ratio(baseline: &[f64], candidate: &[f64], seed: u64) -> Option<Interval> {
    let n = baseline.len().min(candidate.len());
    if n == 0
        || !baseline[..n]
            .iter()
            .chain(&candidate[..n])
            .all(|v| usable(*v))
    {
        return None;
    }
    let ratios: Vec<f64> = (0..n).map(|i| candidate[i] / baseline[i]).collect();
    let estimate = geomean(ratios.iter().copied());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut boots: Vec<f64> = (0..RESAMPLES)
        .map(|_| geomean((0..n).map(|_| ratios[rng.random_range(0..n)])))
        .collect();
    boots.sort_by(f64::total_cmp);
    Some(Interval {
        estimate,
        low: percentile(&boots, 0.025),
        high: percentile(&boots, 0.975),
    })
}

/// Unpaired bootstrap of `mean(candidate) / mean(baseline)`: for runs that were not
/// interleaved (a saved baseline against today's run).
pub fn unpaired_ratio(baseline: &[f64], candidate: &[f64], seed: u64) -> Option<Interval> {
    if baseline.is_empty()
        || candidate.is_empty()
        || !baseline.iter().chain(candidate).all(|v| usable(*v))
    {
        return None;
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let estimate = mean(candidate) / mean(baseline);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut resample = |xs: &[f64]| {
        (0..xs.len())
            .map(|_| xs[rng.random_range(0..xs.len())])
            .sum::<f64>()
            / xs.len() as f64
    };
    let mut boots: Vec<f64> = (0..RESAMPLES)
        .map(|_| resample(candidate) / resample(baseline))
        .collect();
    boots.sort_by(f64::total_cmp);
    Some(Interval {
        estimate,
        low: percentile(&boots, 0.025),
        high: percentile(&boots, 0.975),
    })
}

/// Coefficient of variation (σ/μ) of one variant's rounds.
pub fn spread(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    if mean > 0.0 { var.sqrt() / mean } else { 0.0 }
}

/// Whether bigger is better for a metric: throughput yes, latency no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// `throughput 1.80× [1.70, 1.90]`, `p99 2.4× lower [2.1, 2.8]`, or
/// `p99: no detectable difference (±4 %)`. The interval is of candidate ÷ baseline.
pub fn describe_ratio(metric: &str, iv: &Interval, better: Better) -> String {
    if iv.spans_one() {
        let pct = ((1.0 - iv.low).max(iv.high - 1.0) * 100.0).ceil();
        return format!("{metric}: no detectable difference (±{pct:.0} %)");
    }
    let f = |x: f64| {
        if x >= 10.0 {
            format!("{x:.1}")
        } else {
            format!("{x:.2}")
        }
    };
    match (better, iv.estimate >= 1.0) {
        (Better::Higher, true) => format!(
            "{metric} {}× [{}, {}]",
            f(iv.estimate),
            f(iv.low),
            f(iv.high)
        ),
        (Better::Higher, false) => format!(
            "{metric} {}× lower [{}, {}]",
            f(1.0 / iv.estimate),
            f(1.0 / iv.high),
            f(1.0 / iv.low)
        ),
        (Better::Lower, false) => format!(
            "{metric} {}× lower [{}, {}]",
            f(1.0 / iv.estimate),
            f(1.0 / iv.high),
            f(1.0 / iv.low)
        ),
        (Better::Lower, true) => format!(
            "{metric} {}× higher [{}, {}]",
            f(iv.estimate),
            f(iv.low),
            f(iv.high)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_interval_covers_a_known_ratio() {
        // Synthetic rounds: candidate is exactly 2× baseline, times ±5 % noise per round.
        let mut rng = StdRng::seed_from_u64(7);
        let mut covered = 0;
        for trial in 0..50 {
            let base: Vec<f64> = (0..8)
                .map(|_| 1000.0 * (1.0 + rng.random_range(-0.05..0.05)))
                .collect();
            let cand: Vec<f64> = base
                .iter()
                .map(|b| 2.0 * b * (1.0 + rng.random_range(-0.05..0.05)))
                .collect();
            let iv = paired_ratio(&base, &cand, trial).unwrap();
            assert!(iv.low <= iv.estimate && iv.estimate <= iv.high);
            if iv.low <= 2.0 && 2.0 <= iv.high {
                covered += 1;
            }
        }
        // A 95 % interval from 8 pairs: percentile bootstrap under-covers a little.
        assert!(
            covered >= 40,
            "covered the true ratio in {covered} of 50 trials"
        );
    }

    #[test]
    fn identical_variants_span_one() {
        let a = [100.0, 102.0, 98.0, 101.0];
        let b = [101.0, 99.0, 100.0, 100.0];
        let iv = paired_ratio(&a, &b, 1).unwrap();
        assert!(iv.spans_one());
        assert!(
            describe_ratio("throughput", &iv, Better::Higher).contains("no detectable difference")
        );
    }

    #[test]
    fn verdict_wording() {
        let iv = Interval {
            estimate: 0.5,
            low: 0.4,
            high: 0.6,
        };
        assert_eq!(
            describe_ratio("p99", &iv, Better::Lower),
            "p99 2.00× lower [1.67, 2.50]"
        );
        let iv = Interval {
            estimate: 1.8,
            low: 1.7,
            high: 1.9,
        };
        assert_eq!(
            describe_ratio("throughput", &iv, Better::Higher),
            "throughput 1.80× [1.70, 1.90]"
        );
    }

    #[test]
    fn unpaired_covers_equal_means() {
        let iv = unpaired_ratio(&[10.0, 11.0, 9.0], &[10.5, 9.5, 10.0], 3).unwrap();
        assert!(iv.spans_one());
    }

    #[test]
    fn non_positive_values_give_no_interval() {
        assert!(paired_ratio(&[0.0, 1.0], &[1.0, 1.0], 1).is_none());
    }
}

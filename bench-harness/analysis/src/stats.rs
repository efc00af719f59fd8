//! Intervals on ratios between variants.
//!
//! Rounds of two variants are interleaved (A B B A …), so the k-th round of A and the k-th of B
//! ran close together in time and saw the same machine. The ratio B/A is computed per pair and
//! a percentile bootstrap over pairs gives its 95 % interval: slow drift of the machine cancels
//! inside each pair instead of widening the interval.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

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

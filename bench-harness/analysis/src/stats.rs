//! Intervals on ratios between variants, and the few statistics around them.
//!
//! The unit of evidence is the round, not the request: requests within a round share the
//! machine's state and are correlated. Rounds are run in blocks (each variant once, in a seeded
//! random order), so a variant's k-th round and another's k-th round ran side by side in time
//! and saw the same machine: each block gives one *pair*, and slow drift of the machine cancels
//! inside it.
//!
//! The statistic is the Hodges–Lehmann estimate of the per-pair log-ratios
//! ln(candidate ÷ baseline) — the median of their pairwise means — with the Wilcoxon
//! signed-rank interval ([`signed_rank_interval`]). Why not a mean with a t or bootstrap
//! interval: on a shared VM a round is now and then hit by a burst of stolen CPU, and one such
//! round moves a mean (and widens its interval) as much as ten ordinary ones; the median of
//! pairwise means shrugs it off. Why it is valid: the order inside each block is a seeded coin
//! flip, so under "no difference" a pair's log-ratio is as likely to be +x as −x — exactly the
//! symmetry the signed-rank interval assumes, and all it assumes. Its coverage is exact (at
//! least nominal) at any number of pairs, where a percentile bootstrap over a handful of pairs
//! covers too little. `tests/verdicts.rs` measures coverage, false claims and power on
//! synthetic rounds with heavy tails, drift and a step change.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A point estimate with its interval, on the ratio scale (candidate ÷ baseline).
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

    /// The interval's relative half-width: `√(high/low) − 1` (±3 % reads 0.03).
    pub fn half_width(&self) -> f64 {
        (self.high / self.low).sqrt() - 1.0
    }
}

/// The `p` quantile of Student's t with `df` degrees of freedom.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).expect("df > 0").inverse_cdf(p)
}

/// Ratios need positive, finite values (NaN fails this too).
fn usable(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample variance (n − 1).
fn variance(xs: &[f64]) -> f64 {
    let m = mean(xs);
    xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64
}

/// ln(candidate ÷ baseline) per pair; `None` if a value is not positive (a ratio of zeros
/// means nothing).
pub fn log_ratios(baseline: &[f64], candidate: &[f64]) -> Option<Vec<f64>> {
    let n = baseline.len().min(candidate.len());
    if n == 0 {
        return None;
    }
    (0..n)
        .map(|i| {
            (usable(baseline[i]) && usable(candidate[i])).then(|| (candidate[i] / baseline[i]).ln())
        })
        .collect()
}

/// Paired interval of candidate ÷ baseline over rounds run side by side.
pub fn paired_ratio(baseline: &[f64], candidate: &[f64], confidence: f64) -> Option<Interval> {
    signed_rank_interval(&log_ratios(baseline, candidate)?, confidence)
}

/// The fewest pairs for which a signed-rank interval at `confidence` exists: the most
/// confident interval from n pairs (their smallest to their largest pairwise mean) misses with
/// probability 2 · 2⁻ⁿ.
pub fn min_pairs(confidence: f64) -> usize {
    (2.0 / (1.0 - confidence)).log2().ceil() as usize
}

/// P(T⁺ ≤ k) for k = 0 … n(n+1)/2, where T⁺ is Wilcoxon's signed-rank statistic of n pairs
/// under "no difference": each rank 1 … n counts with probability ½.
fn signed_rank_cdf(n: usize) -> Vec<f64> {
    let max = n * (n + 1) / 2;
    let mut p = vec![0.0; max + 1];
    p[0] = 1.0;
    for rank in 1..=n {
        for s in (0..=max).rev() {
            let with = if s >= rank { p[s - rank] } else { 0.0 };
            p[s] = 0.5 * (p[s] + with);
        }
    }
    let mut acc = 0.0;
    p.iter()
        .map(|x| {
            acc += x;
            acc
        })
        .collect()
}

/// Hodges–Lehmann estimate and Wilcoxon signed-rank interval of the ratio, from per-pair
/// log-ratios, at `confidence` (two-sided). `None` when there are too few pairs for an
/// interval at that confidence ([`min_pairs`]).
///
/// The interval runs from the C-th smallest to the C-th largest of the n(n+1)/2 pairwise means
/// (Walsh averages), with C the largest count such that P(T⁺ ≤ C − 1) ≤ (1 − confidence)/2 —
/// exact up to 150 pairs, the normal approximation with continuity correction beyond. Hand-written:
/// no maintained Rust crate offers this interval (statrs and friends stop at distributions).
pub fn signed_rank_interval(log_ratios: &[f64], confidence: f64) -> Option<Interval> {
    let n = log_ratios.len();
    if n == 0 || n < min_pairs(confidence) {
        return None;
    }
    let mut walsh = Vec::with_capacity(n * (n + 1) / 2);
    for i in 0..n {
        for j in i..n {
            walsh.push((log_ratios[i] + log_ratios[j]) / 2.0);
        }
    }
    walsh.sort_by(f64::total_cmp);
    let m = walsh.len();
    let alpha_half = (1.0 - confidence) / 2.0;
    let c = if n <= 150 {
        // The t with P(T⁺ ≤ t) ≤ α/2 are 0 … C − 1.
        signed_rank_cdf(n)
            .iter()
            .take_while(|&&p| p <= alpha_half)
            .count()
    } else {
        let mean = (n * (n + 1)) as f64 / 4.0;
        let sd = ((n * (n + 1) * (2 * n + 1)) as f64 / 24.0).sqrt();
        let z = statrs::distribution::Normal::standard().inverse_cdf(1.0 - alpha_half);
        (mean - z * sd + 0.5).floor().max(0.0) as usize
    };
    if c == 0 || 2 * c > m {
        return None;
    }
    let median = if m % 2 == 1 {
        walsh[m / 2]
    } else {
        (walsh[m / 2 - 1] + walsh[m / 2]) / 2.0
    };
    Some(Interval {
        estimate: median.exp(),
        low: walsh[c - 1].exp(),
        high: walsh[m - c].exp(),
    })
}

/// Unpaired (Welch) interval of the geometric-mean ratio, for runs that were not interleaved
/// (a saved baseline against today's run).
pub fn unpaired_ratio(baseline: &[f64], candidate: &[f64], confidence: f64) -> Option<Interval> {
    if baseline.len() < 2
        || candidate.len() < 2
        || !baseline.iter().chain(candidate).all(|v| usable(*v))
    {
        return None;
    }
    let (lb, lc): (Vec<f64>, Vec<f64>) = (
        baseline.iter().map(|v| v.ln()).collect(),
        candidate.iter().map(|v| v.ln()).collect(),
    );
    let (vb, vc) = (
        variance(&lb) / lb.len() as f64,
        variance(&lc) / lc.len() as f64,
    );
    let d = mean(&lc) - mean(&lb);
    let se = (vb + vc).sqrt();
    // Welch–Satterthwaite degrees of freedom.
    let df = if se > 0.0 {
        (vb + vc).powi(2)
            / (vb.powi(2) / (lb.len() - 1) as f64 + vc.powi(2) / (lc.len() - 1) as f64)
    } else {
        (lb.len() + lc.len() - 2) as f64
    };
    let t = t_quantile(1.0 - (1.0 - confidence) / 2.0, df.max(1.0));
    Some(Interval {
        estimate: d.exp(),
        low: (d - t * se).exp(),
        high: (d + t * se).exp(),
    })
}

/// Coefficient of variation (σ/μ) of one variant's rounds.
pub fn spread(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    if m > 0.0 {
        variance(xs).sqrt() / m
    } else {
        0.0
    }
}

/// Ranks (1-based, ties averaged).
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation of `ys` with their order (0, 1, 2 …), and its two-sided
/// p-value (t approximation). Used to flag drift: a ratio that moves with time.
pub fn trend(ys: &[f64]) -> Option<(f64, f64)> {
    let n = ys.len();
    if n < 4 {
        return None;
    }
    let (rx, ry) = (
        ranks(&(0..n).map(|i| i as f64).collect::<Vec<_>>()),
        ranks(ys),
    );
    let (mx, my) = (mean(&rx), mean(&ry));
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sx = rx.iter().map(|a| (a - mx).powi(2)).sum::<f64>().sqrt();
    let sy = ry.iter().map(|b| (b - my).powi(2)).sum::<f64>().sqrt();
    if sx == 0.0 || sy == 0.0 {
        return Some((0.0, 1.0));
    }
    let rho = cov / (sx * sy);
    let t = rho * ((n - 2) as f64 / (1.0 - rho * rho).max(1e-12)).sqrt();
    let dist = StudentsT::new(0.0, 1.0, (n - 2) as f64).expect("df > 0");
    Some((rho, 2.0 * (1.0 - dist.cdf(t.abs()))))
}

/// What MSER-5 says about a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settling {
    /// The transient ends after this many samples (in the first half of the series).
    Settled(usize),
    /// Still changing: the best cut is at the end of the searched half.
    NotSettled,
    /// Fewer than 20 samples: too short to say.
    TooShort,
}

/// MSER-5 (White 1997): where a series' warm-up transient ends. The series is averaged in
/// batches of 5; the truncation point d minimises the standard error of the mean of what is
/// left, over d in the first half.
pub fn mser5(series: &[f64]) -> Settling {
    let batches: Vec<f64> = series.chunks_exact(5).map(mean).collect();
    let m = batches.len();
    if m < 4 {
        return Settling::TooShort;
    }
    let limit = m / 2;
    let mut best = (f64::MAX, 0);
    for d in 0..=limit {
        let rest = &batches[d..];
        let mu = mean(rest);
        let ss: f64 = rest.iter().map(|z| (z - mu).powi(2)).sum();
        let score = ss / ((rest.len() as f64).powi(2));
        if score < best.0 {
            best = (score, d);
        }
    }
    if best.1 < limit {
        Settling::Settled(best.1 * 5)
    } else {
        Settling::NotSettled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        assert!((t_quantile(0.975, 1.0) - 12.706).abs() < 1e-3);
        assert!((t_quantile(0.975, 9.0) - 2.262).abs() < 1e-3);
        assert!((t_quantile(0.975, 1e6) - 1.960).abs() < 1e-3);
    }

    #[test]
    fn identical_variants_span_one() {
        let a = [100.0, 102.0, 98.0, 101.0, 100.0, 99.0, 103.0];
        let b = [101.0, 99.0, 100.0, 100.0, 101.0, 100.0, 100.0];
        assert!(paired_ratio(&a, &b, 0.95).unwrap().spans_one());
        assert!(
            unpaired_ratio(&[10.0, 11.0, 9.0], &[10.5, 9.5, 10.0], 0.95)
                .unwrap()
                .spans_one()
        );
    }

    #[test]
    fn a_constant_ratio_is_found_exactly() {
        let a = [100.0, 120.0, 90.0, 110.0, 95.0, 105.0, 130.0];
        let b: Vec<f64> = a.iter().map(|x| x * 2.0).collect();
        let iv = paired_ratio(&a, &b, 0.95).unwrap();
        assert!((iv.estimate - 2.0).abs() < 1e-12 && (iv.half_width()).abs() < 1e-12);
    }

    #[test]
    fn signed_rank_intervals_match_the_tables() {
        // n = 6 at 95 %: only the extremes qualify (P(T ≤ 0) = 1/64 ≤ 2.5 % < 2/64).
        let d = [0.1, -0.2, 0.3, 0.05, -0.05, 0.2];
        let iv = signed_rank_interval(&d, 0.95).unwrap();
        assert!((iv.low.ln() - -0.2).abs() < 1e-12 && (iv.high.ln() - 0.3).abs() < 1e-12);
        // n = 10 at 95 %: the critical value is 8 (tables), so C = 9.
        let d: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let iv = signed_rank_interval(&d, 0.95).unwrap();
        let mut walsh: Vec<f64> = Vec::new();
        for i in 0..10 {
            for j in i..10 {
                walsh.push((d[i] + d[j]) / 2.0);
            }
        }
        walsh.sort_by(f64::total_cmp);
        assert_eq!(iv.low.ln(), walsh[8]);
        assert_eq!(iv.high.ln(), walsh[55 - 9]);
        assert!((iv.estimate.ln() - 4.5).abs() < 1e-12);
        assert_eq!(min_pairs(0.95), 6);
        assert!(signed_rank_interval(&d[..5], 0.95).is_none());
    }

    #[test]
    fn non_positive_values_give_no_interval() {
        assert!(paired_ratio(&[0.0; 8], &[1.0; 8], 0.95).is_none());
        assert!(paired_ratio(&[1.0], &[1.0], 0.95).is_none());
    }

    #[test]
    fn trend_sees_a_monotone_series_and_not_noise() {
        let (rho, p) = trend(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).unwrap();
        assert!((rho - 1.0).abs() < 1e-9 && p < 0.01);
        let (_, p) = trend(&[1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0]).unwrap();
        assert!(p > 0.2);
    }

    #[test]
    fn mser5_cuts_a_warm_up_transient() {
        // 30 samples climbing from 0 to 100, then 170 at 100 ± 1.
        let series: Vec<f64> = (0..200)
            .map(|i| {
                if i < 30 {
                    i as f64 * 100.0 / 30.0
                } else {
                    100.0 + if i % 2 == 0 { 1.0 } else { -1.0 }
                }
            })
            .collect();
        let Settling::Settled(cut) = mser5(&series) else {
            panic!("{:?}", mser5(&series))
        };
        assert!((25..=40).contains(&cut), "{cut}");
        // Still climbing at the end: never settled.
        let climbing: Vec<f64> = (0..100).map(|i| i as f64).collect();
        assert_eq!(mser5(&climbing), Settling::NotSettled);
        assert_eq!(mser5(&climbing[..15]), Settling::TooShort);
    }
}

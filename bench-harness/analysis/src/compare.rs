//! Every variant against the first (the naive one, by convention), metric by metric, on the
//! rounds they ran side by side. Each metric gets an interval and a four-way [`Verdict`] with a
//! practical margin; reports put it in words.
//!
//! Multiple comparisons: a lab compares several variants on two headline metrics each, and a
//! verdict is only as good as the chance that *none* of its intervals misses. The intervals are
//! therefore simultaneous: each is computed at confidence 1 − α/m for a family of m intervals
//! (Bonferroni). Holm's step-down would reject at least as often, but it yields decisions, not
//! intervals that agree with them — and a verdict here is read off its interval.

use serde::{Deserialize, Serialize};

use crate::metric::{Better, Metric};
use crate::stats::{self, Interval};
use crate::{RoundResult, VariantResult};

/// What one metric's interval says about the candidate against the baseline, with a margin δ
/// of practical equivalence (ratios within [1/(1+δ), 1+δ] are "the same").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The whole interval is beyond the margin, on the better side.
    Faster,
    /// The whole interval is beyond the margin, on the worse side.
    Slower,
    /// The whole interval is within the margin.
    Equivalent,
    /// Anything else: the data cannot tell (the interval straddles the margin).
    Inconclusive,
}

/// How sure, and how big a difference counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Familywise confidence of a run's verdicts, e.g. 0.95.
    pub confidence: f64,
    /// Practical margin δ, e.g. 0.02 for ±2 %.
    pub margin: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            confidence: 0.95,
            margin: 0.02,
        }
    }
}

/// The correction applied to a run's intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Correction {
    pub method: &'static str,
    /// Intervals in the family (comparisons × headline metrics).
    pub family: usize,
    /// The confidence each interval is computed at: 1 − (1 − confidence) / family.
    pub per_interval: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricComparison {
    pub metric: Metric,
    /// candidate ÷ baseline, at the corrected confidence.
    pub interval: Interval,
    pub verdict: Verdict,
    /// Whether the verdict line states this metric (and it counts in the family).
    pub headline: bool,
    /// candidate ÷ baseline for each pair, in the order the pairs ran.
    pub per_pair: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    /// Round pairs the intervals rest on.
    pub pairs: usize,
    pub metrics: Vec<MetricComparison>,
}

impl Comparison {
    pub fn metric(&self, m: Metric) -> Option<&MetricComparison> {
        self.metrics.iter().find(|c| c.metric == m)
    }
}

/// The metrics a comparison computes. Under an open model the rate is fixed by the schedule,
/// so throughput says nothing.
pub fn compared_metrics(open_model: bool) -> &'static [Metric] {
    if open_model {
        &[Metric::P50, Metric::P99]
    } else {
        &[Metric::Throughput, Metric::P50, Metric::P99]
    }
}

/// The metrics a verdict line states: throughput and p99 for a closed model; p50 and p99 for
/// an open one (whose throughput is the schedule's).
pub fn headline_metrics(open_model: bool) -> &'static [Metric] {
    if open_model {
        &[Metric::P50, Metric::P99]
    } else {
        &[Metric::Throughput, Metric::P99]
    }
}

/// The family of a run with `variants` variants.
pub fn correction(variants: usize, open_model: bool, policy: &Policy) -> Correction {
    let family = (variants.saturating_sub(1) * headline_metrics(open_model).len()).max(1);
    Correction {
        method: "bonferroni",
        family,
        per_interval: 1.0 - (1.0 - policy.confidence) / family as f64,
    }
}

/// The four-way verdict of an interval of candidate ÷ baseline.
pub fn verdict_of(iv: &Interval, better: Better, margin: f64) -> Verdict {
    let (up, down) = (1.0 + margin, 1.0 / (1.0 + margin));
    let (faster_if_above, slower_if_below) = (iv.low > up, iv.high < down);
    let beyond = match better {
        Better::Higher => (faster_if_above, slower_if_below),
        Better::Lower => (slower_if_below, faster_if_above),
    };
    match beyond {
        (true, _) => Verdict::Faster,
        (_, true) => Verdict::Slower,
        _ if iv.low >= down && iv.high <= up => Verdict::Equivalent,
        _ => Verdict::Inconclusive,
    }
}

/// Per-round values of one metric for one variant, in the order the rounds ran (of the
/// focused requests, when the run has a focus).
pub fn per_round(rounds: &[RoundResult], variant: &str, metric: Metric) -> Vec<f64> {
    rounds
        .iter()
        .filter(|r| r.variant == variant)
        .map(|r| metric.of(r.compared()))
        .collect()
}

pub fn compare_all(
    rounds: &[RoundResult],
    variants: &[VariantResult],
    open_model: bool,
    policy: &Policy,
) -> Vec<Comparison> {
    let Some(base) = variants.first() else {
        return Vec::new();
    };
    let level = correction(variants.len(), open_model, policy).per_interval;
    let headline = headline_metrics(open_model);
    variants[1..]
        .iter()
        .map(|cand| {
            let mut pairs = usize::MAX;
            let metrics = compared_metrics(open_model)
                .iter()
                .filter_map(|&metric| {
                    let b = per_round(rounds, &base.name, metric);
                    let c = per_round(rounds, &cand.name, metric);
                    pairs = pairs.min(b.len().min(c.len()));
                    let logs = stats::log_ratios(&b, &c)?;
                    let interval = stats::signed_rank_interval(&logs, level)?;
                    Some(MetricComparison {
                        metric,
                        interval,
                        verdict: verdict_of(&interval, metric.better(), policy.margin),
                        headline: headline.contains(&metric),
                        per_pair: logs.iter().map(|l| l.exp()).collect(),
                    })
                })
                .collect();
            Comparison {
                baseline: base.name.clone(),
                candidate: cand.name.clone(),
                pairs: if pairs == usize::MAX { 0 } else { pairs },
                metrics,
            }
        })
        .collect()
}

/// The widest relative half-width among the headline intervals: what `--precision` compares
/// with. `None` while some headline interval cannot be computed yet.
pub fn widest_headline(comparisons: &[Comparison]) -> Option<f64> {
    let mut widest: Option<f64> = None;
    for c in comparisons {
        for m in c.metrics.iter().filter(|m| m.headline) {
            let w = m.interval.half_width();
            widest = Some(widest.map_or(w, |x: f64| x.max(w)));
        }
    }
    widest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(low: f64, high: f64) -> Interval {
        Interval {
            estimate: (low * high).sqrt(),
            low,
            high,
        }
    }

    #[test]
    fn four_way_verdicts_read_the_interval_against_the_margin() {
        let m = 0.02;
        assert_eq!(
            verdict_of(&iv(1.10, 1.30), Better::Higher, m),
            Verdict::Faster
        );
        assert_eq!(
            verdict_of(&iv(1.10, 1.30), Better::Lower, m),
            Verdict::Slower
        );
        assert_eq!(
            verdict_of(&iv(0.70, 0.90), Better::Lower, m),
            Verdict::Faster
        );
        assert_eq!(
            verdict_of(&iv(0.99, 1.01), Better::Higher, m),
            Verdict::Equivalent
        );
        // Excludes 1 but not beyond the margin: a real but small difference is not a claim.
        assert_eq!(
            verdict_of(&iv(1.005, 1.05), Better::Higher, m),
            Verdict::Inconclusive
        );
        assert_eq!(
            verdict_of(&iv(0.90, 1.10), Better::Higher, m),
            Verdict::Inconclusive
        );
    }

    #[test]
    fn the_family_grows_with_variants_and_metrics() {
        let p = Policy::default();
        let c = correction(2, false, &p);
        assert_eq!(c.family, 2);
        assert!((c.per_interval - 0.975).abs() < 1e-12);
        assert_eq!(correction(4, true, &p).family, 6);
    }
}

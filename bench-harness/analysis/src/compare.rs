//! Every variant against the first (the naive one, by convention), metric by metric, on the
//! rounds they ran in pairs. The outcome is a [`Verdict`] per metric: reports put it in words.

use serde::Serialize;

use crate::metric::{Better, Metric};
use crate::stats::{self, Interval};
use crate::{RoundResult, VariantResult};

/// What one metric's interval says about candidate ÷ baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The whole interval is on the better side of 1.
    Better,
    /// The whole interval is on the worse side of 1.
    Worse,
    /// The interval contains 1.
    NoDetectableDifference,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricComparison {
    pub metric: Metric,
    /// candidate ÷ baseline.
    pub interval: Interval,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    /// Round pairs the intervals rest on.
    pub pairs: usize,
    /// Throughput (closed models only), then p50 and p99.
    pub metrics: Vec<MetricComparison>,
}

impl Comparison {
    pub fn metric(&self, m: Metric) -> Option<&MetricComparison> {
        self.metrics.iter().find(|c| c.metric == m)
    }
}

/// The metrics a comparison looks at. Under an open model the rate is fixed by the schedule, so
/// throughput says nothing.
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

pub fn verdict_of(interval: &Interval, better: Better) -> Verdict {
    if interval.spans_one() {
        Verdict::NoDetectableDifference
    } else if (interval.estimate > 1.0) == (better == Better::Higher) {
        Verdict::Better
    } else {
        Verdict::Worse
    }
}

/// Per-round values of one metric for one variant, in the order the rounds ran.
pub fn per_round(rounds: &[RoundResult], variant: &str, metric: Metric) -> Vec<f64> {
    rounds
        .iter()
        .filter(|r| r.variant == variant)
        .map(|r| metric.of(&r.summary))
        .collect()
}

pub fn compare_all(
    rounds: &[RoundResult],
    variants: &[VariantResult],
    open_model: bool,
    seed: u64,
) -> Vec<Comparison> {
    let Some(base) = variants.first() else {
        return Vec::new();
    };
    variants[1..]
        .iter()
        .map(|cand| {
            let mut pairs = usize::MAX;
            let metrics = compared_metrics(open_model)
                .iter()
                .enumerate()
                .filter_map(|(i, &metric)| {
                    let b = per_round(rounds, &base.name, metric);
                    let c = per_round(rounds, &cand.name, metric);
                    pairs = pairs.min(b.len().min(c.len()));
                    let interval = stats::paired_ratio(&b, &c, seed ^ i as u64)?;
                    Some(MetricComparison {
                        metric,
                        interval,
                        verdict: verdict_of(&interval, metric.better()),
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

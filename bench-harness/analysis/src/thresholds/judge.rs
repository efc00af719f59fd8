//! A threshold against a run: absolute limits on each variant's summary, relative ones on the
//! interval of a ratio.

use super::{Outcome, Reference, Rhs, Threshold, ThresholdResult};
use crate::baseline::Baseline;
use crate::metric::{Metric, Unit};
use crate::stats::{self, Interval};
use crate::{Analysis, Summary};

/// A relative threshold passes when its whole two-sided 95 % interval is on the right side.
const CONFIDENCE: f64 = 0.95;

/// Resolves `naive` / `optimized` aliases to variant names.
fn resolve<'a>(analysis: &'a Analysis, name: &str) -> Option<&'a str> {
    if let Some(v) = analysis.variant(name) {
        return Some(&v.name);
    }
    match name {
        "naive" => analysis.variants.first().map(|v| v.name.as_str()),
        "optimized" => analysis.variants.last().map(|v| v.name.as_str()),
        _ => None,
    }
}

impl Threshold {
    /// One result per variant the threshold applies to.
    pub fn judge(&self, analysis: &Analysis, baseline: Option<&Baseline>) -> Vec<ThresholdResult> {
        let expression = self.to_string();
        let result = |outcome: Outcome, detail: String| ThresholdResult {
            expression: expression.clone(),
            passed: outcome == Outcome::Passed,
            outcome,
            detail,
        };
        let variants: Vec<&str> = match &self.variant {
            Some(v) => match resolve(analysis, v) {
                Some(name) => vec![name],
                None => {
                    return vec![result(
                        Outcome::Failed,
                        format!("no variant named {v:?} in this run"),
                    )];
                }
            },
            None => analysis.variants.iter().map(|v| v.name.as_str()).collect(),
        };
        variants
            .into_iter()
            .map(|name| {
                let summary = &analysis.variant(name).expect("resolved").summary;
                if summary.requests == 0 {
                    return result(
                        Outcome::NotEvaluated,
                        format!("{name}: did not run (no request completed)"),
                    );
                }
                match &self.rhs {
                    Rhs::Value(limit) => self.judge_value(summary, *limit, name, &result),
                    Rhs::Relative { factor, of } => {
                        self.judge_relative(analysis, baseline, name, *factor, of, &result)
                    }
                }
            })
            .collect()
    }

    fn judge_value(
        &self,
        summary: &Summary,
        limit: f64,
        name: &str,
        result: &impl Fn(Outcome, String) -> ThresholdResult,
    ) -> ThresholdResult {
        let got = self.metric.of(summary);
        let outcome = if self.op.holds(got, limit) {
            Outcome::Passed
        } else {
            Outcome::Failed
        };
        result(
            outcome,
            format!("{name}: {} = {}", self.metric, show_value(self.metric, got)),
        )
    }

    fn judge_relative(
        &self,
        analysis: &Analysis,
        baseline: Option<&Baseline>,
        name: &str,
        factor: f64,
        of: &Reference,
        result: &impl Fn(Outcome, String) -> ThresholdResult,
    ) -> ThresholdResult {
        let ours = analysis.per_round(name, self.metric);
        let (label, interval) = match of {
            Reference::SavedBaseline => {
                let Some(theirs) = baseline.and_then(|b| b.rounds_of(name, self.metric)) else {
                    return result(
                        Outcome::NotEvaluated,
                        format!("{name}: no saved baseline for this variant (use --baseline NAME)"),
                    );
                };
                (
                    format!("baseline {name}"),
                    stats::unpaired_ratio(&theirs, &ours, CONFIDENCE),
                )
            }
            Reference::Variant(other) => {
                let Some(other) = resolve(analysis, other) else {
                    return result(
                        Outcome::Failed,
                        format!("no variant named {other:?} in this run"),
                    );
                };
                let theirs = analysis.per_round(other, self.metric);
                (
                    other.to_string(),
                    stats::paired_ratio(&theirs, &ours, CONFIDENCE),
                )
            }
        };
        match interval {
            None => result(
                Outcome::NotEvaluated,
                format!("{name}: not enough rounds to judge against {label}"),
            ),
            Some(iv) => self.judge_interval(factor, &iv, name, &label, result),
        }
    }

    fn judge_interval(
        &self,
        factor: f64,
        iv: &Interval,
        name: &str,
        other: &str,
        result: &impl Fn(Outcome, String) -> ThresholdResult,
    ) -> ThresholdResult {
        // Pass only when the whole interval satisfies the rule: confidence, not luck.
        let bound = if self.op.upper_bound() {
            iv.high
        } else {
            iv.low
        };
        let outcome = if self.op.holds(bound, factor) {
            Outcome::Passed
        } else {
            Outcome::Failed
        };
        let m = self.metric;
        result(
            outcome,
            format!(
                "{name}.{m} ÷ {other}.{m} = {:.3} [{:.3}, {:.3}], limit {factor}",
                iv.estimate, iv.low, iv.high
            ),
        )
    }
}

/// A measured value with its unit, for a threshold's detail line.
fn show_value(metric: Metric, v: f64) -> String {
    match metric.unit() {
        Unit::PerSecond => format!("{v:.0}/s"),
        Unit::Fraction => format!("{:.2} %", v * 100.0),
        Unit::Milliseconds if v >= 100.0 => format!("{v:.0} ms"),
        Unit::Milliseconds if v >= 1.0 => format!("{v:.2} ms"),
        Unit::Milliseconds => format!("{:.0} µs", v * 1000.0),
    }
}

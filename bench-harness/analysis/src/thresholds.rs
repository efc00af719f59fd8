//! Pass/fail rules. Absolute: `p99 < 50ms`, `error_rate < 1%`, `sharded.throughput > 1000`.
//! Relative, judged on the 95 % interval rather than the point estimate:
//! `optimized.p99 <= 0.5 * naive.p99` passes only if the whole interval of the ratio is ≤ 0.5.
//! `naive` and `optimized` name the first and last variant; `baseline.p99` names the same
//! variant in a saved baseline (`--baseline`).
//!
//! A threshold is built either from text ([`Threshold::from_str`], the command line) or from
//! its parts ([`Threshold::absolute`], [`Threshold::relative`], a lab's description); both
//! give the same value, and its `Display` is the canonical text.

use serde::Serialize;

use crate::baseline::Baseline;
use crate::metric::{Metric, Unit, UnknownMetric};
use crate::stats::{self, Interval};
use crate::{Analysis, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    Failed,
    /// There was nothing to judge: the variant did not run (an interrupted run), or the data
    /// to judge with is missing. Never shown as a pass.
    NotEvaluated,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThresholdResult {
    pub expression: String,
    /// `outcome == Passed`; kept for readers of the v1 report.
    pub passed: bool,
    pub outcome: Outcome,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
    fn upper_bound(self) -> bool {
        matches!(self, Op::Lt | Op::Le)
    }
    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// What a relative threshold compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// Another variant of this run (`naive` and `optimized` are aliases).
    Variant(String),
    /// The same variant in a saved baseline.
    SavedBaseline,
}

#[derive(Debug, Clone, PartialEq)]
enum Rhs {
    Value(f64),
    Relative { factor: f64, of: Reference },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// `None`: every variant.
    variant: Option<String>,
    metric: Metric,
    op: Op,
    rhs: Rhs,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    #[error(
        "threshold {text:?}: expected METRIC < VALUE, e.g. p99<50ms or optimized.p99 <= 0.5 * naive.p99"
    )]
    Syntax { text: String },
    #[error("threshold {text:?}: {cause}")]
    Metric { text: String, cause: UnknownMetric },
    #[error("threshold {text:?}: {value:?} is not a number")]
    NotANumber { text: String, value: String },
    #[error("threshold {text:?}: unit {unit:?} does not fit {metric}")]
    Unit {
        text: String,
        unit: String,
        metric: Metric,
    },
    #[error("threshold {text:?}: compare a metric with itself ({lhs} vs {rhs})")]
    DifferentMetrics {
        text: String,
        lhs: Metric,
        rhs: Metric,
    },
    #[error("threshold {text:?}: name the variant to compare with, e.g. naive.{metric}")]
    NoReference { text: String, metric: Metric },
}

impl Threshold {
    /// `variant.metric op value` (`variant` `None`: every variant).
    pub fn absolute(variant: Option<String>, metric: Metric, op: Op, value: f64) -> Threshold {
        Threshold {
            variant,
            metric,
            op,
            rhs: Rhs::Value(value),
        }
    }

    /// `variant.metric op factor × reference.metric`, judged on the ratio's interval.
    pub fn relative(
        variant: Option<String>,
        metric: Metric,
        op: Op,
        factor: f64,
        of: Reference,
    ) -> Threshold {
        Threshold {
            variant,
            metric,
            op,
            rhs: Rhs::Relative { factor, of },
        }
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(v) = &self.variant {
            write!(f, "{v}.")?;
        }
        write!(f, "{} {} ", self.metric, self.op.symbol())?;
        match &self.rhs {
            Rhs::Value(v) => write!(f, "{}", show_limit(self.metric, *v)),
            Rhs::Relative { factor, of } => {
                let of = match of {
                    Reference::Variant(v) => v.as_str(),
                    Reference::SavedBaseline => "baseline",
                };
                write!(f, "{factor} * {of}.{}", self.metric)
            }
        }
    }
}

/// A limit as the user would write it: `50ms`, `1%`, `1000/s`.
fn show_limit(metric: Metric, v: f64) -> String {
    match metric.unit() {
        Unit::Milliseconds => format!("{v}ms"),
        Unit::PerSecond => format!("{v}/s"),
        Unit::Fraction => format!("{}%", v * 100.0),
    }
}

/// `variant.metric` or `metric`.
fn metric_ref(text: &str, s: &str) -> Result<(Option<String>, Metric), ThresholdError> {
    let s = s.trim();
    let (variant, metric) = match s.rsplit_once('.') {
        Some((v, m)) => (Some(v.to_string()), m),
        None => (None, s),
    };
    let metric = metric.parse().map_err(|source| ThresholdError::Metric {
        text: text.to_string(),
        cause: source,
    })?;
    Ok((variant, metric))
}

/// `50ms` → 50 (milliseconds), `1%` → 0.01, `2s` → 2000, `1000/s` → 1000.
fn value(text: &str, s: &str, metric: Metric) -> Result<f64, ThresholdError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| ThresholdError::NotANumber {
        text: text.to_string(),
        value: s.to_string(),
    })?;
    Ok(match (unit.trim(), metric.unit()) {
        ("", _) => n,
        ("ms", Unit::Milliseconds) => n,
        ("s", Unit::Milliseconds) => n * 1e3,
        ("us" | "µs", Unit::Milliseconds) => n / 1e3,
        ("%", Unit::Fraction) => n / 100.0,
        ("/s", Unit::PerSecond) => n,
        (other, _) => {
            return Err(ThresholdError::Unit {
                text: text.to_string(),
                unit: other.to_string(),
                metric,
            });
        }
    })
}

impl std::str::FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, ThresholdError> {
        let ops = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];
        let (pos, len, op) = ops
            .iter()
            .find_map(|(s, op)| text.find(s).map(|p| (p, s.len(), *op)))
            .ok_or_else(|| ThresholdError::Syntax {
                text: text.to_string(),
            })?;
        let (variant, metric) = metric_ref(text, &text[..pos])?;
        let right = text[pos + len..].trim();
        let relative = |factor: f64, of: &str| -> Result<Rhs, ThresholdError> {
            let (of_variant, of_metric) = metric_ref(text, of)?;
            if of_metric != metric {
                return Err(ThresholdError::DifferentMetrics {
                    text: text.to_string(),
                    lhs: metric,
                    rhs: of_metric,
                });
            }
            let of = match of_variant.as_deref() {
                Some("baseline") => Reference::SavedBaseline,
                Some(v) => Reference::Variant(v.to_string()),
                None => {
                    return Err(ThresholdError::NoReference {
                        text: text.to_string(),
                        metric,
                    });
                }
            };
            Ok(Rhs::Relative { factor, of })
        };
        let rhs = if let Some((factor, of)) = right.split_once('*') {
            let factor = factor
                .trim()
                .parse()
                .map_err(|_| ThresholdError::NotANumber {
                    text: text.to_string(),
                    value: factor.trim().to_string(),
                })?;
            relative(factor, of)?
        } else if right.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            Rhs::Value(value(text, right, metric)?)
        } else {
            relative(1.0, right)?
        };
        Ok(Threshold {
            variant,
            metric,
            op,
            rhs,
        })
    }
}

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
                    stats::unpaired_ratio(&theirs, &ours, 11),
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
                (other.to_string(), stats::paired_ratio(&theirs, &ours, 11))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_absolute_and_relative() {
        let t: Threshold = "p99<50ms".parse().unwrap();
        assert_eq!(t.rhs, Rhs::Value(50.0));
        let t: Threshold = "error_rate < 1%".parse().unwrap();
        assert_eq!(t.rhs, Rhs::Value(0.01));
        let t: Threshold = "optimized.p99 <= 0.5 * naive.p99".parse().unwrap();
        assert_eq!(t.op, Op::Le);
        assert_eq!(t.variant.as_deref(), Some("optimized"));
        assert_eq!(
            t.rhs,
            Rhs::Relative {
                factor: 0.5,
                of: Reference::Variant("naive".into())
            }
        );
        let t: Threshold = "p99 <= 1.1 * baseline.p99".parse().unwrap();
        assert!(matches!(
            t.rhs,
            Rhs::Relative {
                of: Reference::SavedBaseline,
                ..
            }
        ));
    }

    #[test]
    fn text_and_parts_give_the_same_threshold() {
        let built = Threshold::relative(
            Some("sharded".into()),
            Metric::Throughput,
            Op::Ge,
            1.2,
            Reference::Variant("global-mutex".into()),
        );
        assert_eq!(built.to_string().parse::<Threshold>().unwrap(), built);
        let built = Threshold::absolute(None, Metric::ErrorRate, Op::Lt, 0.01);
        assert_eq!(built.to_string(), "error_rate < 1%");
        assert_eq!(built.to_string().parse::<Threshold>().unwrap(), built);
    }

    #[test]
    fn rejects_nonsense_clearly() {
        assert!(matches!(
            "p98<5ms".parse::<Threshold>(),
            Err(ThresholdError::Metric { .. })
        ));
        assert!(matches!(
            "throughput<5ms".parse::<Threshold>(),
            Err(ThresholdError::Unit { .. })
        ));
        assert!(matches!(
            "p99 <= 0.5 * naive.p50".parse::<Threshold>(),
            Err(ThresholdError::DifferentMetrics { .. })
        ));
        assert!(matches!(
            "fast please".parse::<Threshold>(),
            Err(ThresholdError::Syntax { .. })
        ));
    }
}

//! Pass/fail rules. Absolute: `p99 < 50ms`, `error_rate < 1%`, `sharded.throughput > 1000`.
//! Relative, judged on the 95 % interval rather than the point estimate:
//! `optimized.p99 <= 0.5 * naive.p99` passes only if the whole interval of the ratio is ≤ 0.5.
//! `naive` and `optimized` name the first and last variant; `baseline.p99` names the same
//! variant in a saved baseline (`--baseline`).
//!
//! A threshold is built either from text ([`Threshold::from_str`], the command line) or from
//! its parts ([`Threshold::absolute`], [`Threshold::relative`], a lab's description); both
//! give the same value, and its `Display` is the canonical text.

mod judge;
mod parse;

use serde::Serialize;

use crate::metric::{Metric, Unit, UnknownMetric};

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

    /// The limit of an absolute `metric < value` (or `<=`) threshold on every variant.
    pub fn upper_limit(&self) -> Option<f64> {
        match (&self.variant, self.op, &self.rhs) {
            (None, Op::Lt | Op::Le, Rhs::Value(v)) => Some(*v),
            _ => None,
        }
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

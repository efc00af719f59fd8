//! Pass/fail rules. Absolute: `p99 < 50ms`, `error_rate < 1%`, `sharded.throughput > 1000`.
//! Relative, judged on the 95 % interval rather than the point estimate:
//! `optimized.p99 <= 0.5 * naive.p99` passes only if the whole interval of the ratio is ≤ 0.5.
//! `naive` and `optimized` name the first and last variant; `baseline.p99` names the same
//! variant in a saved baseline (`--baseline`).

use serde::{Deserialize, Serialize};

use crate::report::{Report, Summary};
use crate::stats::{self, Interval};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expression: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
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
}

#[derive(Debug, Clone, PartialEq)]
struct MetricRef {
    variant: Option<String>,
    metric: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Rhs {
    Value(f64),
    Relative { factor: f64, of: MetricRef },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    text: String,
    lhs: MetricRef,
    op: Op,
    rhs: Rhs,
}

const METRICS: &[&str] = &[
    "p50",
    "p90",
    "p99",
    "p999",
    "max",
    "mean",
    "throughput",
    "error_rate",
    "check_rate",
];

fn metric_ref(s: &str) -> Result<MetricRef, String> {
    let s = s.trim();
    let (variant, metric) = match s.rsplit_once('.') {
        Some((v, m)) => (Some(v.to_string()), m),
        None => (None, s),
    };
    if !METRICS.contains(&metric) {
        return Err(format!(
            "unknown metric {metric:?}; use one of {}",
            METRICS.join(", ")
        ));
    }
    Ok(MetricRef {
        variant,
        metric: metric.to_string(),
    })
}

/// `50ms` → 50 (milliseconds), `1%` → 0.01, `2s` → 2000, `1000/s` → 1000.
fn value(s: &str, metric: &str) -> Result<f64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a number"))?;
    let latency = !matches!(metric, "throughput" | "error_rate" | "check_rate");
    Ok(match unit.trim() {
        "" => n,
        "ms" if latency => n,
        "s" if latency => n * 1e3,
        "us" | "µs" if latency => n / 1e3,
        "%" if !latency && metric != "throughput" => n / 100.0,
        "/s" if metric == "throughput" => n,
        other => return Err(format!("unit {other:?} does not fit {metric}")),
    })
}

impl std::str::FromStr for Threshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let ops = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];
        let (pos, len, op) = ops
            .iter()
            .find_map(|(s, op)| text.find(s).map(|p| (p, s.len(), *op)))
            .ok_or_else(|| format!("threshold {text:?}: expected METRIC < VALUE, e.g. p99<50ms or optimized.p99 <= 0.5 * naive.p99"))?;
        let lhs = metric_ref(&text[..pos]).map_err(|e| format!("threshold {text:?}: {e}"))?;
        let right = text[pos + len..].trim();
        let rhs = if let Some((factor, of)) = right.split_once('*') {
            Rhs::Relative {
                factor: factor
                    .trim()
                    .parse()
                    .map_err(|_| format!("threshold {text:?}: {factor:?} is not a number"))?,
                of: metric_ref(of).map_err(|e| format!("threshold {text:?}: {e}"))?,
            }
        } else if right.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            Rhs::Value(value(right, &lhs.metric).map_err(|e| format!("threshold {text:?}: {e}"))?)
        } else {
            Rhs::Relative {
                factor: 1.0,
                of: metric_ref(right).map_err(|e| format!("threshold {text:?}: {e}"))?,
            }
        };
        if let Rhs::Relative { of, .. } = &rhs
            && of.metric != lhs.metric
        {
            return Err(format!(
                "threshold {text:?}: compare a metric with itself ({} vs {})",
                lhs.metric, of.metric
            ));
        }
        Ok(Threshold {
            text: text.trim().to_string(),
            lhs,
            op,
            rhs,
        })
    }
}

fn metric_of(s: &Summary, metric: &str) -> f64 {
    match metric {
        "p50" => s.latency.p50,
        "p90" => s.latency.p90,
        "p99" => s.latency.p99,
        "p999" => s.latency.p999,
        "max" => s.latency.max,
        "mean" => s.latency.mean,
        "throughput" => s.throughput,
        "error_rate" => s.error_rate,
        "check_rate" => {
            let total = s.checks_passed + s.checks_failed;
            if total == 0 {
                1.0
            } else {
                s.checks_passed as f64 / total as f64
            }
        }
        _ => f64::NAN,
    }
}

/// Resolves `naive` / `optimized` aliases to variant names.
fn resolve<'a>(report: &'a Report, name: &str) -> Option<&'a str> {
    if let Some(v) = report.variants.iter().find(|v| v.name == name) {
        return Some(&v.name);
    }
    match name {
        "naive" => report.variants.first().map(|v| v.name.as_str()),
        "optimized" => report.variants.last().map(|v| v.name.as_str()),
        _ => None,
    }
}

fn rounds_of(report: &Report, variant: &str, metric: &str) -> Vec<f64> {
    report
        .rounds
        .iter()
        .filter(|r| r.variant == variant)
        .map(|r| metric_of(&r.summary, metric))
        .collect()
}

/// Per-round values of a saved baseline, by variant: supplied by [`crate::baseline`].
pub type BaselineRounds<'a> = &'a dyn Fn(&str, &str) -> Option<Vec<f64>>;

impl Threshold {
    pub fn judge(
        &self,
        report: &Report,
        baseline: Option<BaselineRounds<'_>>,
    ) -> Vec<ThresholdResult> {
        let result = |passed: bool, detail: String| ThresholdResult {
            expression: self.text.clone(),
            passed,
            detail,
        };
        let variants: Vec<String> = match &self.lhs.variant {
            Some(v) => match resolve(report, v) {
                Some(name) => vec![name.to_string()],
                None => return vec![result(false, format!("no variant named {v:?} in this run"))],
            },
            None => report.variants.iter().map(|v| v.name.clone()).collect(),
        };
        variants
            .iter()
            .map(|name| {
                let summary = &report.variants.iter().find(|v| &v.name == name).expect("resolved").summary;
                match &self.rhs {
                    Rhs::Value(limit) => {
                        let got = metric_of(summary, &self.lhs.metric);
                        result(self.op.holds(got, *limit), format!("{name}: {} = {}", self.lhs.metric, show(&self.lhs.metric, got)))
                    }
                    Rhs::Relative { factor, of } => {
                        let ours = rounds_of(report, name, &self.lhs.metric);
                        let (label, interval) = match of.variant.as_deref() {
                            Some("baseline") => {
                                let Some(theirs) = baseline.and_then(|b| b(name, &self.lhs.metric)) else {
                                    return result(false, format!("{name}: no saved baseline for this variant (use --baseline NAME)"));
                                };
                                let iv = stats::unpaired_ratio(&theirs, &ours, 11);
                                (format!("baseline {name}"), iv)
                            }
                            other => {
                                let Some(other) = other.and_then(|o| resolve(report, o)) else {
                                    return result(false, format!("name the variant to compare with, e.g. naive.{}", of.metric));
                                };
                                let theirs = rounds_of(report, other, &self.lhs.metric);
                                let iv = stats::paired_ratio(&theirs, &ours, 11);
                                (other.to_string(), iv)
                            }
                        };
                        match interval {
                            None => result(false, format!("{name}: not enough rounds to judge against {label}")),
                            Some(iv) => judge_interval(self.op, *factor, &iv, name, &label, &self.lhs.metric, result),
                        }
                    }
                }
            })
            .collect()
    }
}

fn judge_interval(
    op: Op,
    factor: f64,
    iv: &Interval,
    name: &str,
    other: &str,
    metric: &str,
    result: impl Fn(bool, String) -> ThresholdResult,
) -> ThresholdResult {
    // Pass only when the whole interval satisfies the rule: confidence, not luck.
    let bound = if op.upper_bound() { iv.high } else { iv.low };
    let passed = op.holds(bound, factor);
    result(
        passed,
        format!(
            "{name}.{metric} ÷ {other}.{metric} = {:.3} [{:.3}, {:.3}], limit {factor}",
            iv.estimate, iv.low, iv.high
        ),
    )
}

fn show(metric: &str, v: f64) -> String {
    match metric {
        "throughput" => format!("{v:.0}/s"),
        "error_rate" | "check_rate" => format!("{:.2} %", v * 100.0),
        _ => crate::report::fmt_ms(v),
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
        assert_eq!(t.lhs.variant.as_deref(), Some("optimized"));
        assert!(matches!(t.rhs, Rhs::Relative { factor, .. } if factor == 0.5));
        let t: Threshold = "p99 <= 1.1 * baseline.p99".parse().unwrap();
        assert!(
            matches!(t.rhs, Rhs::Relative { ref of, .. } if of.variant.as_deref() == Some("baseline"))
        );
    }

    #[test]
    fn rejects_nonsense_clearly() {
        assert!(
            "p98<5ms"
                .parse::<Threshold>()
                .unwrap_err()
                .contains("unknown metric")
        );
        assert!(
            "throughput<5ms"
                .parse::<Threshold>()
                .unwrap_err()
                .contains("unit")
        );
        assert!(
            "p99 <= 0.5 * naive.p50"
                .parse::<Threshold>()
                .unwrap_err()
                .contains("itself")
        );
        assert!("fast please".parse::<Threshold>().is_err());
    }
}

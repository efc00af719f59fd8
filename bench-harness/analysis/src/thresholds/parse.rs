//! `p99<50ms`, `optimized.p99 <= 0.5 * naive.p99`, `p99 <= 1.1 * baseline.p99` as thresholds.

use super::{Op, Reference, Rhs, Threshold, ThresholdError};
use crate::metric::{Metric, Unit};

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

//! The one list of metrics. Thresholds, comparisons, baselines and reports all name a metric
//! through this enum; its text form (`p99`, `error_rate`) is written and parsed only here.

use serde::{Deserialize, Serialize};

use crate::summary::Summary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    P50,
    P90,
    P99,
    P999,
    Max,
    Mean,
    Throughput,
    ErrorRate,
    CheckRate,
}

/// Whether bigger is better for a metric: throughput yes, latency no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// What a metric's number is, for parsing `50ms` or `1%` and for showing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    PerSecond,
    /// 0..=1, shown as a percentage.
    Fraction,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::P50,
        Metric::P90,
        Metric::P99,
        Metric::P999,
        Metric::Max,
        Metric::Mean,
        Metric::Throughput,
        Metric::ErrorRate,
        Metric::CheckRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P99 => "p99",
            Metric::P999 => "p999",
            Metric::Max => "max",
            Metric::Mean => "mean",
            Metric::Throughput => "throughput",
            Metric::ErrorRate => "error_rate",
            Metric::CheckRate => "check_rate",
        }
    }

    pub fn better(self) -> Better {
        match self {
            Metric::Throughput | Metric::CheckRate => Better::Higher,
            _ => Better::Lower,
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::Throughput => Unit::PerSecond,
            Metric::ErrorRate | Metric::CheckRate => Unit::Fraction,
            _ => Unit::Milliseconds,
        }
    }

    /// This metric's value in a summary.
    pub fn of(self, s: &Summary) -> f64 {
        match self {
            Metric::P50 => s.latency.p50,
            Metric::P90 => s.latency.p90,
            Metric::P99 => s.latency.p99,
            Metric::P999 => s.latency.p999,
            Metric::Max => s.latency.max,
            Metric::Mean => s.latency.mean,
            Metric::Throughput => s.throughput,
            Metric::ErrorRate => s.error_rate,
            Metric::CheckRate => {
                let total = s.checks_passed + s.checks_failed;
                if total == 0 {
                    1.0
                } else {
                    s.checks_passed as f64 / total as f64
                }
            }
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown metric {given:?}; use one of {}", Metric::ALL.map(Metric::name).join(", "))]
pub struct UnknownMetric {
    pub given: String,
}

impl std::str::FromStr for Metric {
    type Err = UnknownMetric;

    fn from_str(s: &str) -> Result<Metric, UnknownMetric> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMetric {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_parses_back_from_its_name() {
        for m in Metric::ALL {
            assert_eq!(m.name().parse::<Metric>(), Ok(m));
        }
        assert!("p98".parse::<Metric>().is_err());
    }
}

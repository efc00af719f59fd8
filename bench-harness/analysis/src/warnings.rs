//! What a reader should know before trusting the numbers, as an enum (rendered with
//! `Display`, as hyperfine's `output/warnings.rs`).

use serde::Serialize;

use crate::Metric;
use crate::correctness::WrongAnswers;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Warning {
    /// Open model: the schedule was not kept.
    LateSends {
        variant: String,
        late: u64,
        requests: u64,
        unsent: u64,
    },
    /// The load generator used most of a core: it may have been the bottleneck.
    BusyGenerator {
        variant: String,
        cores: f64,
        cpu_us_per_request: f64,
    },
    Errors {
        variant: String,
        rate: f64,
        kinds: Vec<(String, u64)>,
    },
    /// Too few pairs for an interval at the run's confidence (a run cut short).
    FewPairs { pairs: usize },
    /// The time budget ran out before the intervals reached the precision target.
    BudgetBeforePrecision { widest: f64 },
    /// The per-pair ratio trends with time (Spearman's ρ, p < 0.01).
    Drift {
        metric: Metric,
        rho: f64,
        baseline: String,
        candidate: String,
    },
    /// The warm-up ended at its cap before throughput settled (MSER-5).
    NeverSettled { variant: String },
    /// The target counted wrong answers (`*_violations_total`) while this variant ran.
    WrongAnswers(WrongAnswers),
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::LateSends {
                variant,
                late,
                requests,
                unsent,
            } => write!(
                f,
                "{variant}: {late} of {requests} sends started more than 1 ms late and {unsent} scheduled sends never started: the target (or the load generator) could not keep up with the rate; latencies include that wait"
            ),
            Warning::BusyGenerator {
                variant,
                cores,
                cpu_us_per_request,
            } => write!(
                f,
                "{variant}: the load generator used {:.0} % of a core ({cpu_us_per_request:.1} µs CPU per request): it may have been the bottleneck, not the target",
                cores * 100.0
            ),
            Warning::Errors {
                variant,
                rate,
                kinds,
            } => {
                let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
                write!(
                    f,
                    "{variant}: {:.2} % of requests failed ({})",
                    rate * 100.0,
                    kinds.join(", ")
                )
            }
            Warning::FewPairs { pairs } => write!(
                f,
                "only {pairs} round pair(s): too few for an interval at this confidence, so there is no verdict; let the run finish, or give --max-time"
            ),
            Warning::BudgetBeforePrecision { widest } => write!(
                f,
                "the time budget ran out with intervals still ±{:.0} % wide: verdicts within that are inconclusive; give --max-time for more pairs",
                widest * 100.0
            ),
            Warning::Drift {
                metric,
                rho,
                baseline,
                candidate,
            } => write!(
                f,
                "drift: the {metric} ratio of {candidate} to {baseline} moves with time (Spearman ρ = {rho:.2}); the machine or a variant changed during the run, so the interval may be too narrow"
            ),
            Warning::WrongAnswers(w) => write!(
                f,
                "{}: WRONG — the service counted {} {} violation(s) ({}) in {} requests; a variant that gives wrong answers is not an optimisation, whatever its speed",
                w.variant,
                w.count,
                w.what(),
                w.counter,
                w.requests
            ),
            Warning::NeverSettled { variant } => write!(
                f,
                "{variant}: throughput was still changing when the warm-up ended (MSER-5); give it a longer --warmup"
            ),
        }
    }
}

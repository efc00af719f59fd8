//! What a reader should know before trusting the numbers, as an enum (rendered with
//! `Display`, as hyperfine's `output/warnings.rs`).

use serde::Serialize;

use crate::Metric;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Warning {
    NoRequests {
        variant: String,
    },
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
    /// Rounds of one variant vary more than the effect between variants.
    Noisy {
        metric: Metric,
        noise: f64,
        effect: f64,
        baseline: String,
        candidate: String,
    },
    FewRounds {
        rounds: u32,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::NoRequests { variant } => write!(f, "{variant}: no request completed"),
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
            Warning::Noisy {
                metric,
                noise,
                effect,
                baseline,
                candidate,
            } => write!(
                f,
                "noisy: {metric} varies ±{:.0} % between rounds of one variant, more than the {:.0} % effect between {baseline} and {candidate}; add rounds or quiet the machine",
                noise * 100.0,
                effect * 100.0
            ),
            Warning::FewRounds { rounds } => write!(
                f,
                "only {rounds} round(s) per variant: confidence intervals from so few rounds are rough; use --rounds 5 or more"
            ),
        }
    }
}

//! The validity guard: a run whose load generator, schedule, error rate or service was the
//! problem says nothing about the variants, and is marked invalid instead of reported as a
//! verdict.

use serde::Serialize;

use crate::VariantResult;

/// Where a run stops being a measurement of the target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ValidityLimits {
    /// The load generator's CPU as a share of the cores it was given (`--threads`); above it,
    /// the generator, not the target, set the pace.
    pub max_generator_cpu: f64,
    /// Load-generator threads (cores it may use).
    pub generator_threads: usize,
    /// Open models: the share of sends that may start late (more than 1 ms) or never.
    pub max_late_share: f64,
    /// The share of requests that may fail.
    pub max_error_rate: f64,
}

impl Default for ValidityLimits {
    fn default() -> Self {
        ValidityLimits {
            max_generator_cpu: 0.9,
            generator_threads: 1,
            max_late_share: 0.05,
            max_error_rate: 0.05,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum InvalidReason {
    GeneratorSaturated {
        variant: String,
        cores: f64,
        limit: f64,
    },
    ScheduleMissed {
        variant: String,
        late_or_unsent: f64,
        limit: f64,
    },
    Errors {
        variant: String,
        rate: f64,
        limit: f64,
    },
    NoRequests {
        variant: String,
    },
    NotReady {
        when: String,
    },
    /// The run compares the requests of one name, and a round of this variant had none.
    FocusMissing {
        variant: String,
        name: String,
    },
    /// A run merged from shards lacks one, or one did not keep the common timetable: the
    /// merged data is not the run that was asked for.
    Shard {
        /// `I/N`
        shard: String,
        why: String,
    },
}

impl std::fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |x: f64| format!("{:.1} %", x * 100.0);
        match self {
            InvalidReason::GeneratorSaturated {
                variant,
                cores,
                limit,
            } => write!(
                f,
                "{variant}: the load generator used {} of its cores (limit {}): it set the pace, not the target; give it --threads, or fewer VUs",
                pct(*cores),
                pct(*limit)
            ),
            InvalidReason::ScheduleMissed {
                variant,
                late_or_unsent,
                limit,
            } => write!(
                f,
                "{variant}: {} of the scheduled sends started late or never (limit {}): the target or the generator could not keep the rate",
                pct(*late_or_unsent),
                pct(*limit)
            ),
            InvalidReason::Errors {
                variant,
                rate,
                limit,
            } => write!(
                f,
                "{variant}: {} of requests failed (limit {}): the variants' speed is not what was measured",
                pct(*rate),
                pct(*limit)
            ),
            InvalidReason::NoRequests { variant } => {
                write!(f, "{variant}: no request completed")
            }
            InvalidReason::NotReady { when } => {
                write!(f, "the service did not answer its readiness check {when}")
            }
            InvalidReason::FocusMissing { variant, name } => write!(
                f,
                "{variant}: the verdict is about the requests named {name:?}, and a round had none \
                 (the lab names its requests differently: see the by-name table, or --focus)"
            ),
            InvalidReason::Shard { shard, why } => write!(f, "shard {shard}: {why}"),
        }
    }
}

pub fn check(
    variants: &[VariantResult],
    open_model: bool,
    limits: &ValidityLimits,
    not_ready: &[String],
) -> Vec<InvalidReason> {
    let mut reasons = Vec::new();
    for v in variants {
        let s = &v.summary;
        if s.requests == 0 {
            reasons.push(InvalidReason::NoRequests {
                variant: v.name.clone(),
            });
            continue;
        }
        let cores = s.harness_cpu_cores / limits.generator_threads.max(1) as f64;
        if cores > limits.max_generator_cpu {
            reasons.push(InvalidReason::GeneratorSaturated {
                variant: v.name.clone(),
                cores,
                limit: limits.max_generator_cpu,
            });
        }
        if open_model {
            let scheduled = (s.requests + s.unsent) as f64;
            let missed = (s.late_sends + s.unsent) as f64 / scheduled.max(1.0);
            if missed > limits.max_late_share {
                reasons.push(InvalidReason::ScheduleMissed {
                    variant: v.name.clone(),
                    late_or_unsent: missed,
                    limit: limits.max_late_share,
                });
            }
        }
        if s.error_rate > limits.max_error_rate {
            reasons.push(InvalidReason::Errors {
                variant: v.name.clone(),
                rate: s.error_rate,
                limit: limits.max_error_rate,
            });
        }
    }
    reasons.extend(
        not_ready
            .iter()
            .map(|w| InvalidReason::NotReady { when: w.clone() }),
    );
    reasons
}

/// With a focus: every variant whose rounds did not all complete a request of that name.
pub fn focus_missing(rounds: &[crate::RoundResult], name: &str) -> Vec<InvalidReason> {
    let mut missing: Vec<String> = Vec::new();
    for r in rounds {
        let none = r.focus.as_ref().is_none_or(|f| f.requests == 0);
        if none && !missing.contains(&r.variant) {
            missing.push(r.variant.clone());
        }
    }
    missing
        .into_iter()
        .map(|variant| InvalidReason::FocusMissing {
            variant,
            name: name.to_string(),
        })
        .collect()
}

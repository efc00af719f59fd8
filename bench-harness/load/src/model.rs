//! Load models, in k6's vocabulary.
//!
//! Closed models (`constant-vus`, `ramping-vus`): N virtual users each send a request, wait for
//! the answer, think, repeat. The target's slowness slows the senders down, so latency is timed
//! from the actual send. Open models (`constant-arrival-rate`, `ramping-arrival-rate`): requests
//! are *scheduled* at a rate whatever the target does, and latency is timed from the intended
//! send time — a stall shows up in every request that should have been sent during it
//! (coordinated-omission correct, as in wrk2). Service time (from the actual send) is kept too.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    #[serde(with = "humantime_serde_secs")]
    pub duration: Duration,
    /// VUs (ramping-vus) or requests per second (ramping-arrival-rate) at the end of the stage.
    pub target: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum LoadModel {
    ConstantVus {
        vus: u32,
        #[serde(with = "humantime_serde_secs")]
        duration: Duration,
        #[serde(with = "humantime_serde_secs", default)]
        think_time: Duration,
    },
    RampingVus {
        start_vus: u32,
        stages: Vec<Stage>,
        #[serde(with = "humantime_serde_secs", default)]
        think_time: Duration,
    },
    ConstantArrivalRate {
        rate: f64,
        #[serde(with = "humantime_serde_secs")]
        duration: Duration,
        max_vus: u32,
    },
    RampingArrivalRate {
        start_rate: f64,
        stages: Vec<Stage>,
        max_vus: u32,
    },
}

impl LoadModel {
    pub fn duration(&self) -> Duration {
        match self {
            LoadModel::ConstantVus { duration, .. }
            | LoadModel::ConstantArrivalRate { duration, .. } => *duration,
            LoadModel::RampingVus { stages, .. } | LoadModel::RampingArrivalRate { stages, .. } => {
                stages.iter().map(|s| s.duration).sum()
            }
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(
            self,
            LoadModel::ConstantArrivalRate { .. } | LoadModel::RampingArrivalRate { .. }
        )
    }

    /// The most VUs the model can use at once.
    pub fn max_vus(&self) -> u32 {
        match self {
            LoadModel::ConstantVus { vus, .. } => *vus,
            LoadModel::RampingVus {
                start_vus, stages, ..
            } => stages
                .iter()
                .map(|s| s.target.ceil() as u32)
                .chain(std::iter::once(*start_vus))
                .max()
                .unwrap_or(1),
            LoadModel::ConstantArrivalRate { max_vus, .. }
            | LoadModel::RampingArrivalRate { max_vus, .. } => *max_vus,
        }
    }

    /// The same model with a different length (for warm-up and quick runs); stages scale.
    pub fn with_duration(&self, d: Duration) -> LoadModel {
        let mut m = self.clone();
        let scale = d.as_secs_f64() / self.duration().as_secs_f64().max(1e-9);
        match &mut m {
            LoadModel::ConstantVus { duration, .. }
            | LoadModel::ConstantArrivalRate { duration, .. } => *duration = d,
            LoadModel::RampingVus { stages, .. } | LoadModel::RampingArrivalRate { stages, .. } => {
                for s in stages {
                    s.duration = s.duration.mul_f64(scale);
                }
            }
        }
        m
    }

    /// Checks every number before anything starts: finite, positive where it must be, and
    /// within limits a single load generator can honour (see [`limits`]).
    pub fn validate(&self) -> Result<(), ModelError> {
        let total = self.duration();
        if total.is_zero() {
            return Err(ModelError::ZeroDuration);
        }
        if total > limits::MAX_DURATION {
            return Err(ModelError::TooLong { duration: total });
        }
        let rate = |what: &'static str, v: f64, zero_ok: bool| {
            if !v.is_finite() || v < 0.0 || (v == 0.0 && !zero_ok) {
                Err(ModelError::NotPositive { what, value: v })
            } else if v > limits::MAX_RATE {
                Err(ModelError::TooLarge {
                    what,
                    value: v,
                    limit: limits::MAX_RATE,
                    why: "one load generator cannot schedule more sends per second than this",
                })
            } else {
                Ok(())
            }
        };
        let vus = |what: &'static str, v: f64| {
            if !v.is_finite() || v <= 0.0 {
                Err(ModelError::NotPositive { what, value: v })
            } else if v > limits::MAX_VUS as f64 {
                Err(ModelError::TooLarge {
                    what,
                    value: v,
                    limit: limits::MAX_VUS as f64,
                    why: "each virtual user holds a connection (and a file descriptor)",
                })
            } else {
                Ok(())
            }
        };
        let stages_ok = |model: &'static str, stages: &[Stage]| {
            if stages.is_empty() {
                return Err(ModelError::NoStages { model });
            }
            if stages.len() > limits::MAX_STAGES {
                return Err(ModelError::TooManyStages {
                    count: stages.len(),
                });
            }
            Ok(())
        };
        match self {
            LoadModel::ConstantVus { vus: n, .. } => vus("vus", *n as f64),
            LoadModel::RampingVus { stages, .. } => {
                stages_ok("ramping-vus", stages)?;
                for s in stages {
                    if !s.target.is_finite() || s.target < 0.0 {
                        return Err(ModelError::NotPositive {
                            what: "a stage's VU target",
                            value: s.target,
                        });
                    }
                }
                // Starting from 0 VUs is fine; the ramp must reach at least one.
                vus("the largest VU target", self.max_vus() as f64)
            }
            LoadModel::ConstantArrivalRate {
                rate: r, max_vus, ..
            } => {
                rate("rate", *r, false)?;
                vus("max-vus", *max_vus as f64)
            }
            LoadModel::RampingArrivalRate {
                stages,
                max_vus,
                start_rate,
            } => {
                stages_ok("ramping-arrival-rate", stages)?;
                rate("start-rate", *start_rate, true)?;
                for s in stages {
                    rate("a stage's rate target", s.target, true)?;
                }
                if *start_rate == 0.0 && stages.iter().all(|s| s.target == 0.0) {
                    return Err(ModelError::NotPositive {
                        what: "every rate of the ramp",
                        value: 0.0,
                    });
                }
                vus("max-vus", *max_vus as f64)
            }
        }
    }

    /// One line for reports: `constant-arrival-rate 500/s for 10s (max 64 VUs)`.
    pub fn describe(&self) -> String {
        let secs = |d: &Duration| {
            humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
        };
        let stages = |s: &[Stage]| {
            s.iter()
                .map(|s| format!("{}→{}", secs(&s.duration), s.target))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            LoadModel::ConstantVus {
                vus,
                duration,
                think_time,
            } => {
                format!(
                    "constant-vus {vus} VUs for {}{}",
                    secs(duration),
                    if think_time.is_zero() {
                        String::new()
                    } else {
                        format!(", think {}", secs(think_time))
                    }
                )
            }
            LoadModel::RampingVus {
                start_vus,
                stages: s,
                ..
            } => format!("ramping-vus from {start_vus}: {}", stages(s)),
            LoadModel::ConstantArrivalRate {
                rate,
                duration,
                max_vus,
            } => {
                format!(
                    "constant-arrival-rate {rate}/s for {} (max {max_vus} VUs)",
                    secs(duration)
                )
            }
            LoadModel::RampingArrivalRate {
                start_rate,
                stages: s,
                max_vus,
            } => {
                format!(
                    "ramping-arrival-rate from {start_rate}/s: {} (max {max_vus} VUs)",
                    stages(s)
                )
            }
        }
    }
}

/// Durations in JSON as seconds (a float), which every tool reads.
mod humantime_serde_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// Parses `30s:100,1m:100,10s:0` into stages.
pub fn parse_stages(text: &str) -> Result<Vec<Stage>, ModelError> {
    let bad = |part: &str, reason: String| ModelError::StageSyntax {
        stage: part.to_string(),
        reason,
    };
    text.split(',')
        .map(|part| {
            let (d, t) = part
                .split_once(':')
                .ok_or_else(|| bad(part, "expected DURATION:TARGET, e.g. 30s:100".into()))?;
            Ok(Stage {
                duration: humantime::parse_duration(d.trim())
                    .map_err(|e| bad(part, e.to_string()))?,
                target: t
                    .trim()
                    .parse()
                    .map_err(|_| bad(part, format!("{t:?} is not a number")))?,
            })
        })
        .collect()
}

/// Caps on a load model, each with its reason (the error message repeats it).
pub mod limits {
    use std::time::Duration;

    /// Sends per second: beyond this the schedule is not something one machine can keep.
    pub const MAX_RATE: f64 = 1_000_000.0;
    /// Virtual users: each holds a connection and a file descriptor.
    pub const MAX_VUS: u32 = 10_000;
    /// One round's length.
    pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
    pub const MAX_STAGES: usize = 1000;
}

/// What is wrong with a load model, in words a user can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("the load model's duration must be positive")]
    ZeroDuration,
    #[error("the load model runs for {duration:?}, longer than perflab's limit of 24 h per round")]
    TooLong { duration: Duration },
    #[error("{what} must be a positive, finite number, got {value}")]
    NotPositive { what: &'static str, value: f64 },
    #[error("{what} = {value} is above perflab's limit of {limit}: {why}")]
    TooLarge {
        what: &'static str,
        value: f64,
        limit: f64,
        why: &'static str,
    },
    #[error("{model} needs at least one stage")]
    NoStages { model: &'static str },
    #[error("{count} stages is more than the limit of 1000")]
    TooManyStages { count: usize },
    #[error("stage {stage:?}: {reason}")]
    StageSyntax { stage: String, reason: String },
}

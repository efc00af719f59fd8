//! Load models, in k6's vocabulary.
//!
//! Closed models (`constant-vus`, `ramping-vus`): N virtual users each send a request, wait for
//! the answer, think, repeat. The target's slowness slows the senders down, so latency is timed
//! from the actual send. Open models (`constant-arrival-rate`, `ramping-arrival-rate`): requests
//! are *scheduled* at a rate whatever the target does, and latency is timed from the intended
//! send time — a stall shows up in every request that should have been sent during it
//! (coordinated-omission correct, as in wrk2). Service time (from the actual send) is kept too.

pub mod client;
pub mod engine;
pub mod schedule;

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

    pub fn validate(&self) -> Result<(), String> {
        let positive = |what: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{what} must be positive, got {v}"))
            }
        };
        if self.duration().is_zero() {
            return Err("the load model's duration must be positive".into());
        }
        match self {
            LoadModel::ConstantVus { vus, .. } => positive("vus", *vus as f64),
            LoadModel::RampingVus { stages, .. } if stages.is_empty() => {
                Err("ramping-vus needs at least one stage".into())
            }
            LoadModel::RampingVus { .. } => {
                positive("the largest VU target", self.max_vus() as f64)
            }
            LoadModel::ConstantArrivalRate { rate, max_vus, .. } => {
                positive("rate", *rate)?;
                positive("max-vus", *max_vus as f64)
            }
            LoadModel::RampingArrivalRate {
                stages,
                max_vus,
                start_rate,
            } => {
                if stages.is_empty() {
                    return Err("ramping-arrival-rate needs at least one stage".into());
                }
                if *start_rate < 0.0
                    || stages
                        .iter()
                        .any(|s| s.target < 0.0 || !s.target.is_finite())
                {
                    return Err("rates must be non-negative".into());
                }
                positive("max-vus", *max_vus as f64)
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
pub fn parse_stages(text: &str) -> Result<Vec<Stage>, String> {
    text.split(',')
        .map(|part| {
            let (d, t) = part
                .split_once(':')
                .ok_or_else(|| format!("stage {part:?}: expected DURATION:TARGET, e.g. 30s:100"))?;
            Ok(Stage {
                duration: humantime::parse_duration(d.trim())
                    .map_err(|e| format!("stage {part:?}: {e}"))?,
                target: t
                    .trim()
                    .parse()
                    .map_err(|_| format!("stage {part:?}: {t:?} is not a number"))?,
            })
        })
        .collect()
}

//! How a run is cut into rounds: round length, settle period, warm-up cap and when to stop —
//! defaults for each kind of run, then the command line's flags on top.
//!
//! The defaults follow the noise of a shared 2-core VM, whose speed moves within seconds:
//! rounds short enough that the two rounds of a pair see the same machine (1 s, after a 250 ms
//! settle), and as many pairs as the budget allows until the intervals are narrow enough.

use std::time::Duration;

use perflab_analysis::Policy;
use perflab_load::LoadModel;

use crate::args::LoadArgs;
use crate::experiment::StopRule;

/// The shape of a run's rounds.
#[derive(Debug, Clone)]
pub struct RoundPlan {
    pub model: LoadModel,
    pub settle: Duration,
    pub warmup: Duration,
    pub stop: StopRule,
    pub policy: Policy,
}

/// Defaults for one kind of run.
pub struct Defaults {
    pub round: Duration,
    pub settle: Duration,
    pub warmup: Duration,
    pub max_time: Duration,
    /// `Some`: a fixed number of blocks (a single URL; `--quick`).
    pub fixed_blocks: Option<u32>,
    pub precision: f64,
}

pub const PRECISION: f64 = 0.03;

impl Defaults {
    /// `perflab run URL`: one measurement of the given length, like wrk.
    pub fn single_url() -> Defaults {
        Defaults {
            round: Duration::from_secs(10),
            settle: Duration::ZERO,
            warmup: Duration::ZERO,
            max_time: Duration::from_secs(10),
            fixed_blocks: Some(1),
            precision: PRECISION,
        }
    }

    /// `perflab run A B`: adaptive pairs, at most a minute.
    pub fn url_pair() -> Defaults {
        Defaults {
            round: Duration::from_secs(1),
            settle: Duration::from_millis(250),
            warmup: Duration::from_secs(2),
            max_time: Duration::from_secs(60),
            fixed_blocks: None,
            precision: PRECISION,
        }
    }

    /// A lab: its declared time (rounds × round length per variant) is the budget.
    pub fn lab(declared_time_per_variant: Duration, variants: usize, warmup: Duration) -> Defaults {
        Defaults {
            round: Duration::from_secs(1),
            settle: Duration::from_millis(250),
            warmup,
            max_time: declared_time_per_variant * variants as u32,
            fixed_blocks: None,
            precision: PRECISION,
        }
    }

    /// `--quick`: ten short blocks, about the lab's quick time; its intervals are wide.
    pub fn quick(warmup: Duration) -> Defaults {
        Defaults {
            round: Duration::from_millis(250),
            settle: Duration::from_millis(50),
            warmup,
            max_time: Duration::from_secs(3600),
            fixed_blocks: Some(10),
            precision: PRECISION,
        }
    }
}

impl LoadArgs {
    /// The rounds of a run: `base` (a lab's or the URL mode's model) with the defaults' round
    /// length unless `--duration` says otherwise, then every other flag.
    pub fn round_plan(&self, base: LoadModel, d: Defaults) -> anyhow::Result<RoundPlan> {
        let ramp = matches!(
            base,
            LoadModel::RampingVus { .. } | LoadModel::RampingArrivalRate { .. }
        );
        // A ramp is the shape of every round; a constant model gets the default round length.
        let base = if ramp {
            base
        } else {
            base.with_duration(d.round)
        };
        let model = self.apply_to(base)?;
        let ramping = matches!(
            model,
            LoadModel::RampingVus { .. } | LoadModel::RampingArrivalRate { .. }
        );
        let settle = self
            .settle
            .unwrap_or(if ramping { Duration::ZERO } else { d.settle });
        let mut policy = Policy::default();
        if let Some(m) = self.margin {
            policy.margin = m;
        }
        let stop = StopRule {
            fixed_blocks: self.rounds.map(|r| r.max(1)).or(d.fixed_blocks),
            precision: self.precision.unwrap_or(d.precision),
            max_time: self.max_time.unwrap_or(d.max_time),
        };
        if self.rounds.is_some() && (self.precision.is_some() || self.max_time.is_some()) {
            anyhow::bail!(
                "--rounds runs a fixed number of blocks; --precision and --max-time choose when an adaptive run stops: pick one"
            );
        }
        Ok(RoundPlan {
            model,
            settle,
            warmup: self.warmup.unwrap_or(d.warmup),
            stop,
            policy,
        })
    }
}

//! What analysis reads: each measured round as plain data. The harness fills this in from the
//! load generator's recorder; nothing here knows how the round was run.

use std::collections::BTreeMap;

use crate::summary::Hist;

/// One measured round of one variant.
pub struct RoundMeasurement {
    /// Index into [`RunInput::variants`].
    pub variant: usize,
    /// From the intended send time (open models) or the actual send (closed models).
    pub latency: Hist,
    /// From the actual send to the last byte.
    pub service: Hist,
    /// Open models: how late each send started after its intended time.
    pub lag: Option<Hist>,
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    pub late_sends: u64,
    pub unsent: u64,
    pub bytes_received: u64,
    pub checks_passed: u64,
    pub checks_failed: u64,
    pub harness_cpu_seconds: f64,
    pub error_kinds: BTreeMap<String, u64>,
    pub error_examples: BTreeMap<String, String>,
    pub failed_checks: BTreeMap<String, u64>,
    /// `[completed, errors]` per whole second of the round.
    pub per_second: Vec<[u64; 2]>,
    /// The target's counter deltas over the round (`*_total` from its `/metrics`).
    pub counters: BTreeMap<String, f64>,
}

/// A whole run: the variants in the order they were declared (the first is the baseline every
/// other is compared with) and the rounds in the order they ran.
pub struct RunInput<'a> {
    pub variants: &'a [String],
    pub rounds: &'a [RoundMeasurement],
    /// An open model fixes the rate, so throughput is not compared.
    pub open_model: bool,
    /// Rounds each variant was planned to run.
    pub planned_rounds: u32,
    /// Seeds the bootstrap, so the same data gives the same intervals.
    pub seed: u64,
}

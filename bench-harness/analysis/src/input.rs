//! What analysis reads: each measured round as plain data. The harness fills this in from the
//! load generator's recorder; nothing here knows how the round was run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compare::Policy;
use crate::summary::Hist;
use crate::validity::ValidityLimits;

/// One measured round of one variant.
#[derive(Clone)]
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
    /// Requests that completed in the round's settle period: not measured, but the server
    /// served them, so its counters are divided by them too.
    pub settling: u64,
    /// The measured part's length.
    pub seconds: f64,
    pub late_sends: u64,
    pub unsent: u64,
    pub bytes_received: u64,
    pub checks_passed: u64,
    pub checks_failed: u64,
    pub harness_cpu_seconds: f64,
    /// CPU time the hypervisor stole from this machine during the round, in percent.
    pub steal_percent: Option<f64>,
    pub error_kinds: BTreeMap<String, u64>,
    pub error_examples: BTreeMap<String, String>,
    pub failed_checks: BTreeMap<String, u64>,
    /// check name → [passed, failed]
    pub checks: BTreeMap<String, [u64; 2]>,
    /// Per request name (the workload names its requests: "read", "write" …).
    pub by_name: BTreeMap<String, NameMeasurement>,
    /// `[completed, errors]` per whole second of the round.
    pub per_second: Vec<[u64; 2]>,
    /// The target's counter deltas over the round (`*_total` from its `/metrics`).
    pub counters: BTreeMap<String, f64>,
}

/// The requests of one name in one round.
#[derive(Clone)]
pub struct NameMeasurement {
    pub latency: Hist,
    pub requests: u64,
    pub errors: u64,
}

/// A whole run: the variants in the order they were declared (the first is the baseline every
/// other is compared with) and the rounds in the order they ran.
pub struct RunInput<'a> {
    pub variants: &'a [String],
    pub rounds: &'a [RoundMeasurement],
    /// An open model fixes the rate, so throughput is not compared.
    pub open_model: bool,
    pub policy: Policy,
    pub limits: ValidityLimits,
    /// Variants whose warm-up never reached a steady state.
    pub unsettled: &'a [String],
    /// Times the service did not answer its readiness check, in words (`after block 3`).
    pub not_ready: &'a [String],
    /// Why the rounds ended (`None` while they are still running).
    pub stop: Option<StopReason>,
    /// Compare only the requests of this name (the lab's victim endpoint, say); the others
    /// are load. `None`: every request.
    pub focus: Option<&'a str>,
}

/// Why the rounds ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// `--rounds`, or `--quick`: a fixed number of blocks.
    FixedRounds,
    /// Every headline interval reached the precision target.
    PrecisionReached,
    /// The next block would not fit the time budget.
    BudgetExhausted,
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The service stopped answering its readiness check.
    ServiceNotReady,
}

//! Exit codes: distinct, so CI can tell a slow change from a broken run.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The run finished and every threshold passed.
    Ok,
    /// Something failed: bad input, a service that would not start, a plugin that broke.
    Error,
    // 2 is clap's usage error.
    /// The run finished and a threshold failed.
    ThresholdFailed,
    /// The run cannot be trusted (the load generator, the schedule, errors or the service was
    /// the problem): the report says why, and states no verdict.
    Invalid,
    /// A shard reached its start after `--start-at` plus `--start-limit`: it ran nothing (its
    /// share is missing, and a merge says so).
    LateStart,
    /// Ctrl-C (or SIGTERM): a partial report was written.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::ThresholdFailed => 3,
            Exit::Invalid => 4,
            Exit::LateStart => 5,
            Exit::Interrupted => 130,
        }
    }
}

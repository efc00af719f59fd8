//! What the run happened on, as the report records it: a result without its machine is half a
//! result. The command line captures it (reading `/proc`, probing fsync); this is the data.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    pub cpu_model: String,
    pub cores: usize,
    pub kernel: String,
    pub harness_version: String,
    pub service_version: Option<String>,
    pub git_commit: Option<String>,
    pub command_line: Vec<String>,
    pub seed: u64,
    pub load_threads: usize,
    pub loadavg_start: f64,
    pub loadavg_end: f64,
    /// Share of CPU time stolen by the hypervisor during the run, in percent.
    pub steal_percent: Option<f64>,
    pub fsync_ms: Option<FsyncProbe>,
    /// The network between the service and the servers it calls, when a run put them behind a
    /// slow link (`--link`); none: loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// fsync latency of the disk a write lab writes to: it dominates such labs and varies 100×
/// between machines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FsyncProbe {
    pub median: f64,
    pub p90: f64,
    pub samples: usize,
    pub path: String,
}

//! The `perflab` command: orchestration only. The measurement flows one way through the
//! library crates — `perflab-plugin-host` (a lab's plugin) → `perflab-load` (the engine and
//! client) → the service → `perflab-analysis` (statistics) → `perflab-report` — and this crate
//! wires them: [`args`] (the command line), [`lab`] and [`run_url`] (the two ways to run),
//! [`experiment`] (rounds and variant switching), [`execute`] (from plan to exit code),
//! [`sweep`] and [`capacity`] (many runs along one axis: given values, or searched).

pub mod args;
pub mod baseline_store;
pub mod calibrate;
pub mod capacity;
pub mod distribute;
pub mod environment;
pub mod execute;
pub mod exit;
pub mod experiment;
pub mod hlog;
pub mod k8s;
pub mod lab;
pub mod perf_profile;
pub mod progress;
pub mod rounds;
pub mod run_url;
pub mod signals;
pub mod sweep;
pub mod sweep_spec;
pub mod workshop;

/// The current time, as reports write it.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

//! The plugin host: runs experiment plugins (WebAssembly components of the
//! `perflab:experiment@0.1.0` world, `plugins/wit/`) in a sandbox.
//!
//! - one [`wasmtime::Engine`], concurrency support off (sync calls are several times faster);
//! - compiled components cached on disk, keyed by content and engine ([`cache`]);
//! - `InstancePre`: linking is done once, instantiation is cheap;
//! - a deny-all WASI context: no files, no environment, no network; stdout and stderr are
//!   captured into the run's plugin log ([`output`]);
//! - an epoch deadline on every call, and a memory cap per instance;
//! - a trap drops the instance and builds a fresh one; too many traps stop the run with the
//!   plugin's name, the call, and the guest's message and backtrace ([`instance`]).

pub mod build;
pub mod cache;
pub mod convert;
pub mod crash;
pub mod defaults;
pub mod host;
pub mod instance;
pub mod lessons;
mod optional;
pub mod output;
pub mod params;
mod stdio;

/// The plugin's side of the contract, generated from `plugins/wit/experiment.wit`.
pub use bindings::perflab::experiment::types as wit;
pub use host::{Plugin, PluginHost, PluginLimits};
pub use instance::PluginWorkload;

/// The WIT package version this harness speaks.
pub const WIT_PACKAGE: &str = "perflab:experiment";
pub const WIT_VERSION: &str = "0.1.0";

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../plugins/wit",
        world: "experiment",
    });
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {path}: {message}")]
    Load { path: String, message: String },
    #[error(
        "plugin {path} is built for {found}, but this perflab speaks {WIT_PACKAGE}@{WIT_VERSION}: rebuild it against plugins/wit/experiment.wit"
    )]
    WrongVersion { path: String, found: String },
    #[error("plugin {plugin}: {call} failed: {message}{}", if guest_output.is_empty() { String::new() } else { format!("\n  guest output:\n    {}", guest_output.replace('\n', "\n    ")) })]
    Call {
        plugin: String,
        call: String,
        message: String,
        guest_output: String,
    },
    #[error("plugin {plugin}: {call} trapped {traps} times; giving up. Last trap: {message}{}", if guest_output.is_empty() { String::new() } else { format!("\n  guest output:\n    {}", guest_output.replace('\n', "\n    ")) })]
    TooManyTraps {
        plugin: String,
        call: String,
        traps: u32,
        message: String,
        guest_output: String,
    },
    #[error("building plugin {path}: {message}")]
    Build { path: String, message: String },
    #[error("plugin {plugin}: {message}")]
    Invalid { plugin: String, message: String },
    #[error("plugin {plugin}: {call} returned an error: {message}")]
    Returned {
        plugin: String,
        call: &'static str,
        message: String,
    },
    #[error(transparent)]
    Convert(convert::ConvertError),
    #[error("lab {lab} has no parameter {given:?}; parameters: {}", known.join(", "))]
    UnknownParam {
        lab: String,
        given: String,
        known: Vec<String>,
    },
    #[error("--param {0:?}: expected NAME=VALUE")]
    ParamSyntax(String),
}

/// A plugin failing under load stops the run with the plugin's own error.
impl From<PluginError> for perflab_load::workload::WorkloadError {
    fn from(e: PluginError) -> Self {
        perflab_load::workload::WorkloadError::Source(Box::new(e))
    }
}

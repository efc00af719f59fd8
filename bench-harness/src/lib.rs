//! perflab's harness: target lifecycle, load engine, statistics and reports.
//!
//! The path of one measurement: [`experiment`] selects a variant on the service and runs a
//! round → [`load::engine`] schedules requests from the [`workload`]'s virtual users →
//! [`load::client`] → the target → [`record`] (HdrHistograms) and [`counters`] →
//! [`stats`] → [`report`] (and [`thresholds`], [`baseline`]).

pub mod baseline;
pub mod cli;
pub mod counters;
pub mod environment;
pub mod experiment;
pub mod lab;
pub mod load;
pub mod plugin;
pub mod progress;
pub mod record;
pub mod report;
pub mod stats;
pub mod target;
pub mod thresholds;
pub mod workload;

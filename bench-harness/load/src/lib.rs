//! perflab's load generator.
//!
//! A [`model::LoadModel`] (k6's vocabulary) says how much load; a [`workload::Workload`] says
//! what each virtual user sends; [`engine::run_round`] drives one round of it against a
//! [`client::Target`] over one keep-alive connection per virtual user and records everything in
//! a [`record::Recorder`] (HdrHistograms, counts, a per-second series). [`counters`] reads the
//! target's own Prometheus counters around a round. A [`shard::Shard`] runs its part of one
//! global schedule, for runs spread over several load generators.
//!
//! This crate measures; it does not judge. Statistics live in `perflab-analysis`, reports in
//! `perflab-report`, plugins in `perflab-plugin-host` (a plugin is one more [`workload`]).

pub mod client;
pub mod counters;
pub mod engine;
pub mod hist;
pub mod intervals;
pub mod model;
pub mod record;
pub mod schedule;
pub mod shard;
pub mod workload;

pub use model::{LoadModel, ModelError, Stage, parse_stages};

//! From a lab's description (WIT types) to the harness's types: its thresholds and the service
//! settings of each variant. The load model and requests are converted by the plugin host.

use std::collections::BTreeMap;

use perflab_analysis::Metric;
use perflab_analysis::thresholds::{Op, Reference, Threshold};
use perflab_plugin_host::{convert, wit};

/// A threshold as the lab declared it, field for field (no text in between).
pub fn threshold(t: &wit::Threshold) -> Threshold {
    let metric = match t.metric {
        wit::Metric::P50 => Metric::P50,
        wit::Metric::P90 => Metric::P90,
        wit::Metric::P99 => Metric::P99,
        wit::Metric::P999 => Metric::P999,
        wit::Metric::Max => Metric::Max,
        wit::Metric::Mean => Metric::Mean,
        wit::Metric::Throughput => Metric::Throughput,
        wit::Metric::ErrorRate => Metric::ErrorRate,
        wit::Metric::CheckRate => Metric::CheckRate,
    };
    let op = match t.op {
        wit::Comparison::Lt => Op::Lt,
        wit::Comparison::Le => Op::Le,
        wit::Comparison::Gt => Op::Gt,
        wit::Comparison::Ge => Op::Ge,
    };
    match &t.relative_to {
        Some(other) => {
            let of = if other == "baseline" {
                Reference::SavedBaseline
            } else {
                Reference::Variant(other.clone())
            };
            Threshold::relative(t.variant.clone(), metric, op, t.value, of)
        }
        None => Threshold::absolute(t.variant.clone(), metric, op, t.value),
    }
}

/// What `PUT /admin/settings` is sent before each of the variant's rounds.
pub fn settings(s: &[wit::Setting]) -> BTreeMap<String, serde_json::Value> {
    s.iter()
        .map(|s| (s.name.clone(), convert::value_json(&s.value)))
        .collect()
}

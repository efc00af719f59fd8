//! From a lab's description (WIT types) to the harness's types: its thresholds and the service
//! settings of each variant. The load model and requests are converted by the plugin host.

use std::collections::BTreeMap;

use perflab_analysis::thresholds::{Op, Reference, Threshold};
use perflab_analysis::{Analysis, Metric, Verdict};
use perflab_plugin_host::lessons::{Outcome, Question};
use perflab_plugin_host::{Plugin, convert, wit};
use perflab_report::Lesson;

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

fn wit_metric(m: Metric) -> wit::Metric {
    match m {
        Metric::P50 => wit::Metric::P50,
        Metric::P90 => wit::Metric::P90,
        Metric::P99 => wit::Metric::P99,
        Metric::P999 => wit::Metric::P999,
        Metric::Max => wit::Metric::Max,
        Metric::Mean => wit::Metric::Mean,
        Metric::Throughput => wit::Metric::Throughput,
        Metric::ErrorRate => wit::Metric::ErrorRate,
        Metric::CheckRate => wit::Metric::CheckRate,
    }
}

fn outcome(v: Verdict) -> Outcome {
    match v {
        Verdict::Faster => Outcome::Faster,
        Verdict::Slower => Outcome::Slower,
        Verdict::Equivalent => Outcome::Equivalent,
        Verdict::Inconclusive => Outcome::Inconclusive,
    }
}

/// The lab's explanation of each headline verdict it has one for. A lab that fails to answer
/// costs its lessons, not the report: the failure goes to the plugin log.
pub fn lessons(plugin: &Plugin, analysis: &Analysis) -> Vec<Lesson> {
    let asked: Vec<(Question, Metric, Verdict)> = analysis
        .comparisons
        .iter()
        .flat_map(|c| {
            c.metrics.iter().filter(|m| m.headline).map(|m| {
                (
                    Question {
                        candidate: c.candidate.clone(),
                        baseline: c.baseline.clone(),
                        metric: wit_metric(m.metric),
                        outcome: outcome(m.verdict),
                    },
                    m.metric,
                    m.verdict,
                )
            })
        })
        .collect();
    let questions: Vec<Question> = asked.iter().map(|(q, _, _)| q.clone()).collect();
    let answers = match plugin.lessons(&questions) {
        Ok(a) => a,
        Err(e) => {
            plugin.log.push(format!("[host] lessons: {e}"));
            return Vec::new();
        }
    };
    asked
        .into_iter()
        .zip(answers)
        .filter_map(|((q, metric, verdict), text)| {
            Some(Lesson {
                candidate: q.candidate,
                baseline: q.baseline,
                metric,
                verdict,
                text: text?,
            })
        })
        .collect()
}

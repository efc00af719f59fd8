//! Saved baselines: the per-round figures of a run, so a later run (another commit, another
//! machine setting) is compared with the same statistics — unpaired, since the two runs did not
//! interleave. Saving and loading the file is the command line's job; this is the data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Analysis;
use crate::compare::{Policy, Verdict, verdict_of};
use crate::metric::Metric;
use crate::stats::{self, Interval};

pub const SCHEMA: &str = "perflab.baseline/v1";

/// The metrics a baseline keeps per round.
const KEPT: [Metric; 4] = [
    Metric::Throughput,
    Metric::P50,
    Metric::P99,
    Metric::ErrorRate,
];
/// The metrics a comparison with a baseline states.
const COMPARED: [Metric; 2] = [Metric::Throughput, Metric::P99];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    pub schema: String,
    pub name: String,
    pub saved_at: String,
    pub run: String,
    /// variant → metric → per-round values.
    pub rounds: BTreeMap<String, BTreeMap<Metric, Vec<f64>>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaselineComparison {
    pub name: String,
    pub saved_at: String,
    pub variants: Vec<VariantAgainstBaseline>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantAgainstBaseline {
    pub variant: String,
    /// Empty when the baseline has no such variant.
    pub metrics: Vec<(Metric, Interval, Verdict)>,
    pub in_baseline: bool,
}

impl Baseline {
    pub fn from_analysis(analysis: &Analysis, name: &str, run: &str, saved_at: String) -> Baseline {
        let mut rounds: BTreeMap<String, BTreeMap<Metric, Vec<f64>>> = BTreeMap::new();
        for r in &analysis.rounds {
            let entry = rounds.entry(r.variant.clone()).or_default();
            for m in KEPT {
                entry.entry(m).or_default().push(m.of(r.compared()));
            }
        }
        Baseline {
            schema: SCHEMA.into(),
            name: name.into(),
            saved_at,
            run: run.into(),
            rounds,
        }
    }

    pub fn rounds_of(&self, variant: &str, metric: Metric) -> Option<Vec<f64>> {
        self.rounds.get(variant)?.get(&metric).cloned()
    }

    /// Every variant of this run against the same variant in the baseline.
    pub fn compare(&self, analysis: &Analysis) -> BaselineComparison {
        let policy: &Policy = &analysis.policy;
        let variants = analysis
            .variants
            .iter()
            .map(|v| {
                let Some(saved) = self.rounds.get(&v.name) else {
                    return VariantAgainstBaseline {
                        variant: v.name.clone(),
                        metrics: Vec::new(),
                        in_baseline: false,
                    };
                };
                let metrics = COMPARED
                    .iter()
                    .filter_map(|&m| {
                        let iv = stats::unpaired_ratio(
                            saved.get(&m)?,
                            &analysis.per_round(&v.name, m),
                            policy.confidence,
                        )?;
                        Some((m, iv, verdict_of(&iv, m.better(), policy.margin)))
                    })
                    .collect();
                VariantAgainstBaseline {
                    variant: v.name.clone(),
                    metrics,
                    in_baseline: true,
                }
            })
            .collect();
        BaselineComparison {
            name: self.name.clone(),
            saved_at: self.saved_at.clone(),
            variants,
        }
    }
}

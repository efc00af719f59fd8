//! The report: one data structure, serialised as versioned JSON (schema in
//! `schema/report.v1.json`) and rendered as a terminal summary, Markdown and a self-contained
//! HTML page ([`render`]).
//!
//! The report renders what analysis computed and computes nothing itself: [`Report::new`]
//! assembles the run's facts and `perflab_analysis::Analysis`, and words the verdicts
//! ([`words`]); [`table`] builds the tables every rendering lays out.

pub mod environment;
pub mod render;
pub mod table;
pub mod words;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use perflab_analysis::baseline::BaselineComparison;
use perflab_analysis::thresholds::{Outcome, ThresholdResult};
use perflab_analysis::{Analysis, Interval, Metric, MetricComparison, Summary, Warning};
use perflab_load::LoadModel;
use serde::{Serialize, Serializer};

pub use environment::{Environment, FsyncProbe};

pub const SCHEMA: &str = "perflab.report/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Complete,
    /// Interrupted or failed part-way; see `incomplete_reason`.
    Incomplete,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub name: String,
    pub status: Status,
    pub incomplete_reason: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub load: LoadModel,
    pub load_description: String,
    pub rounds_per_variant: u32,
    pub warmup_seconds: f64,
    pub lab: Option<LabInfo>,
    pub variants: Vec<VariantReport>,
    /// Every measured round, in the order it ran.
    pub rounds: Vec<RoundReport>,
    pub comparisons: Vec<ComparisonReport>,
    pub thresholds: Vec<ThresholdResult>,
    pub baseline: Option<BaselineReport>,
    #[serde(serialize_with = "as_text")]
    pub warnings: Vec<Warning>,
    pub environment: Environment,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabInfo {
    pub summary: String,
    pub hypothesis: String,
    pub prediction_prompt: String,
    pub explanation: String,
    pub database: String,
    /// What the person running the lab predicted, when asked.
    pub prediction: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoundReport {
    pub variant: String,
    pub index: u32,
    pub summary: Summary,
    /// `[completed, errors]` per second of the round.
    pub per_second: Vec<[u64; 2]>,
    /// Server counter deltas over the round.
    pub counters: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantReport {
    pub name: String,
    pub settings: BTreeMap<String, serde_json::Value>,
    pub target: String,
    /// All rounds merged.
    pub summary: Summary,
    /// `[percentile, ms]` points of the merged latency distribution.
    pub spectrum: Vec<[f64; 2]>,
    /// Server counter deltas divided by completed requests.
    pub counters_per_request: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComparisonReport {
    pub baseline: String,
    pub candidate: String,
    pub rounds: usize,
    /// Intervals are of candidate ÷ baseline, over paired rounds.
    pub throughput: Option<Interval>,
    pub p50: Option<Interval>,
    pub p99: Option<Interval>,
    /// Each compared metric with its verdict.
    pub metrics: Vec<MetricComparison>,
    /// The verdict in words, as every rendering shows it.
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    pub name: String,
    pub saved_at: String,
    pub lines: Vec<String>,
}

/// What a variant was: its service settings and where it was measured.
pub struct VariantSetup {
    pub settings: BTreeMap<String, serde_json::Value>,
    pub target: String,
}

/// The run's facts that analysis does not know.
pub struct Meta {
    pub name: String,
    pub started_at: String,
    pub finished_at: String,
    pub lab: Option<LabInfo>,
    pub environment: Environment,
    /// `Some` when the run did not finish (interrupted, or failed part-way).
    pub incomplete_reason: Option<String>,
    pub load: LoadModel,
    pub rounds_per_variant: u32,
    pub warmup_seconds: f64,
    /// One per variant, in the analysis's order.
    pub variants: Vec<VariantSetup>,
}

fn as_text<S: Serializer>(warnings: &[Warning], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(warnings.iter().map(ToString::to_string))
}

impl Report {
    pub fn new(
        meta: Meta,
        analysis: Analysis,
        thresholds: Vec<ThresholdResult>,
        baseline: Option<BaselineComparison>,
    ) -> Report {
        let open = analysis.open_model;
        let comparisons = analysis
            .comparisons
            .iter()
            .map(|c| {
                let iv = |m: Metric| c.metric(m).map(|mc| mc.interval);
                ComparisonReport {
                    baseline: c.baseline.clone(),
                    candidate: c.candidate.clone(),
                    rounds: c.pairs,
                    throughput: iv(Metric::Throughput),
                    p50: iv(Metric::P50),
                    p99: iv(Metric::P99),
                    metrics: c.metrics.clone(),
                    verdict: words::verdict_line(c, open),
                }
            })
            .collect();
        let variants = analysis
            .variants
            .into_iter()
            .zip(meta.variants)
            .map(|(v, setup)| VariantReport {
                name: v.name,
                settings: setup.settings,
                target: setup.target,
                summary: v.summary,
                spectrum: v.spectrum,
                counters_per_request: v.counters_per_request,
            })
            .collect();
        let rounds = analysis
            .rounds
            .into_iter()
            .map(|r| RoundReport {
                variant: r.variant,
                index: r.index,
                summary: r.summary,
                per_second: r.per_second,
                counters: r.counters,
            })
            .collect();
        let baseline = baseline.map(|b| BaselineReport {
            lines: b.variants.iter().map(words::baseline_line).collect(),
            name: b.name,
            saved_at: b.saved_at,
        });
        Report {
            schema: SCHEMA,
            name: meta.name,
            status: if meta.incomplete_reason.is_some() {
                Status::Incomplete
            } else {
                Status::Complete
            },
            incomplete_reason: meta.incomplete_reason,
            started_at: meta.started_at,
            finished_at: meta.finished_at,
            load_description: meta.load.describe(),
            load: meta.load,
            rounds_per_variant: meta.rounds_per_variant,
            warmup_seconds: meta.warmup_seconds,
            lab: meta.lab,
            variants,
            rounds,
            comparisons,
            thresholds,
            baseline,
            warnings: analysis.warnings,
            environment: meta.environment,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.status == Status::Complete
    }

    /// Whether any threshold failed (one that could not be evaluated is not a failure).
    pub fn threshold_failed(&self) -> bool {
        self.thresholds.iter().any(|t| t.outcome == Outcome::Failed)
    }
}

/// Writes report.json, report.md and report.html into `dir`; returns their paths.
pub fn write_all(report: &Report, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        (
            "report.json",
            serde_json::to_string_pretty(report).expect("report serializes"),
        ),
        ("report.md", render::markdown::render(report)),
        ("report.html", render::html::render(report)),
    ];
    files
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        })
        .collect()
}

/// `reports/<name>-<UTC timestamp>/`.
pub fn default_dir(root: &Path, name: &str, now_rfc3339: &str) -> PathBuf {
    let stamp = now_rfc3339
        .replace([':', '-'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string();
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    root.join(format!("{safe}-{stamp}"))
}

//! The report: one data structure, serialised as versioned JSON (schema in
//! `schema/report.v2.json`) and rendered as a terminal summary, Markdown and a self-contained
//! HTML page ([`render`]).
//!
//! The report renders what analysis computed and computes nothing itself: [`Report::new`]
//! assembles the run's facts and `perflab_analysis::Analysis`, and words the verdicts
//! ([`words`]); [`table`] builds the tables every rendering lays out.

pub mod environment;
pub mod render;
pub mod sweep;
pub mod table;
pub mod words;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use perflab_analysis::baseline::BaselineComparison;
use perflab_analysis::profile::{Profile, ProfileComparison, ProfileSummary};
use perflab_analysis::thresholds::{Outcome, ThresholdResult};
use perflab_analysis::{
    Analysis, CheckSummary, Correction, InvalidReason, Metric, MetricComparison, NameSummary,
    Policy, StopReason, Summary, Verdict, Warning,
};
use perflab_load::LoadModel;
use serde::{Deserialize, Serialize, Serializer};

pub use environment::{Environment, FsyncProbe};

pub const SCHEMA: &str = "perflab.report/v2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Complete,
    /// Interrupted or failed part-way; see `incomplete_reason`.
    Incomplete,
    /// Finished, but not a measurement of the variants (see `invalid_reasons`): no verdict.
    Invalid,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub name: String,
    pub status: Status,
    pub incomplete_reason: Option<String>,
    #[serde(serialize_with = "as_text")]
    pub invalid_reasons: Vec<InvalidReason>,
    pub started_at: String,
    pub finished_at: String,
    /// Each round's load model; its duration is a round's measured length.
    pub load: LoadModel,
    pub load_description: String,
    pub rounds: RoundsInfo,
    pub policy: Policy,
    pub correction: Correction,
    pub lab: Option<LabInfo>,
    pub variants: Vec<VariantReport>,
    /// Every measured round, in the order it ran.
    pub round_results: Vec<RoundReport>,
    pub comparisons: Vec<ComparisonReport>,
    pub thresholds: Vec<ThresholdResult>,
    pub baseline: Option<BaselineReport>,
    #[serde(serialize_with = "as_text")]
    pub warnings: Vec<Warning>,
    pub environment: Environment,
    /// This machine's calibration, when `perflab calibrate` has been run here.
    pub calibration: Option<CalibrationNote>,
    /// The service's CPU profiles, when the run asked for them (`--profile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles: Option<ProfilesReport>,
}

/// Where each variant's service spent its CPU (`--profile`): the top frames, and what changed
/// against the first variant. The stacks themselves go beside the report as `.folded` files
/// and flame graphs, not into the JSON.
#[derive(Debug, Clone, Serialize)]
pub struct ProfilesReport {
    pub frequency_hz: u32,
    pub variants: Vec<ProfileSummary>,
    pub comparisons: Vec<ProfileComparison>,
    /// Files written beside the report, relative to its directory.
    pub files: Vec<String>,
    #[serde(skip)]
    pub stacks: Vec<(String, Profile)>,
}

/// How the run was cut into rounds, and why it stopped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundsInfo {
    /// Blocks run (each variant once per block); a comparison's pairs.
    pub blocks: u32,
    pub stop_reason: StopReason,
    /// `Some` when the number of blocks was fixed (`--rounds`, `--quick`).
    pub fixed_blocks: Option<u32>,
    pub precision_target: f64,
    pub max_time_seconds: f64,
    /// The measured phase's wall time.
    pub measured_seconds: f64,
    pub round_seconds: f64,
    pub settle_seconds: f64,
    /// The warm-up cap per variant.
    pub warmup_seconds: f64,
    pub unsettled: Vec<String>,
}

/// What `perflab calibrate` found on this machine, quoted beside the verdicts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalibrationNote {
    pub measured_at: String,
    /// Median relative half-width of A/A intervals, per headline metric.
    pub noise_floor: BTreeMap<String, f64>,
    /// How long those comparisons ran (median).
    pub seconds: f64,
    /// A/A verdicts that claimed a difference, out of `comparisons`.
    pub false_claims: u32,
    pub comparisons: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabInfo {
    pub summary: String,
    pub hypothesis: String,
    pub prediction_prompt: String,
    pub explanation: String,
    pub database: String,
    /// What the person running the lab predicted, when asked.
    pub prediction: Option<String>,
    /// The lab's explanation of the outcomes this run had (labs that export `lessons`).
    pub lessons: Vec<Lesson>,
    /// Acknowledged writes counted after a kill -9 mid-write (labs that export `crash-check`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crash_checks: Vec<CrashCheck>,
    /// The request name the verdicts compare (`--focus`, or the lab's `defaults.focus`);
    /// absent: every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<String>,
}

/// One variant, one failure: writers ran, the service (or its database) was killed with
/// SIGKILL while they wrote, started again on the same data, and the writes it had
/// acknowledged were looked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrashCheck {
    pub variant: String,
    pub failure: CrashFailure,
    /// Writes answered 2xx with an id before the kill.
    pub acknowledged: u64,
    /// Of those, how many the restarted service does not have.
    pub lost: u64,
    /// The first few lost ids.
    pub lost_ids: Vec<i64>,
    /// Whether the variant promises that acknowledged writes survive this failure, and why
    /// (the service's own statement, from the audit).
    pub promised: bool,
    pub why: String,
}

impl CrashCheck {
    /// A write acknowledged under a promise, and gone: the run fails.
    pub fn broken(&self) -> bool {
        self.promised && self.lost > 0
    }

    /// One word for tables: kept, lost (as promised it might be), or BROKEN.
    pub fn outcome(&self) -> &'static str {
        match (self.lost, self.promised) {
            (0, _) => "all kept",
            (_, false) => "lost (not promised)",
            (_, true) => "BROKEN PROMISE",
        }
    }
}

/// What the crash check killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashFailure {
    ServiceKilled,
    DatabaseKilled,
}

impl std::fmt::Display for CrashFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CrashFailure::ServiceKilled => "service killed (SIGKILL)",
            CrashFailure::DatabaseKilled => "database server killed (SIGKILL)",
        })
    }
}

/// A lab's explanation of one headline verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lesson {
    pub candidate: String,
    pub baseline: String,
    pub metric: Metric,
    pub verdict: Verdict,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoundReport {
    pub variant: String,
    pub index: u32,
    pub summary: Summary,
    /// CPU the hypervisor stole during the round, in percent.
    pub steal_percent: Option<f64>,
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
    /// Per request name (the workload's names: "read", "write" …).
    pub by_name: Vec<NameSummary>,
    /// Every check by name, passed and failed.
    pub checks: Vec<CheckSummary>,
    /// What the service said about this variant (query plans …).
    pub notes: Vec<ServiceNote>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComparisonReport {
    pub baseline: String,
    pub candidate: String,
    pub pairs: usize,
    /// Each compared metric: candidate ÷ baseline with its interval (at the corrected
    /// confidence), its four-way verdict, and the ratio of every pair.
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantSetup {
    pub settings: BTreeMap<String, serde_json::Value>,
    pub target: String,
    /// What the service said about this variant (`GET /admin/notes` once it was selected):
    /// query plans, an fsync figure.
    #[serde(default)]
    pub notes: Vec<ServiceNote>,
}

/// A fact the service reports about its current variant, shown as preformatted text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceNote {
    pub title: String,
    pub text: String,
}

/// The run's facts that analysis does not know (an interval log carries them, so a report can
/// be rebuilt from the log).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub name: String,
    pub started_at: String,
    pub finished_at: String,
    pub lab: Option<LabInfo>,
    pub environment: Environment,
    /// `Some` when the run did not finish (interrupted, or failed part-way).
    pub incomplete_reason: Option<String>,
    pub load: LoadModel,
    pub rounds: RoundsInfo,
    /// One per variant, in the analysis's order.
    pub variants: Vec<VariantSetup>,
    pub calibration: Option<CalibrationNote>,
}

fn as_text<S: Serializer, T: std::fmt::Display>(items: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(items.iter().map(ToString::to_string))
}

impl Report {
    pub fn new(
        meta: Meta,
        analysis: Analysis,
        thresholds: Vec<ThresholdResult>,
        baseline: Option<BaselineComparison>,
    ) -> Report {
        let comparisons = analysis
            .comparisons
            .iter()
            .map(|c| ComparisonReport {
                baseline: c.baseline.clone(),
                candidate: c.candidate.clone(),
                pairs: c.pairs,
                metrics: c.metrics.clone(),
                verdict: words::verdict_line(c, &analysis),
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
                by_name: v.by_name,
                checks: v.checks,
                notes: setup.notes,
            })
            .collect();
        let rounds = analysis
            .rounds
            .into_iter()
            .map(|r| RoundReport {
                variant: r.variant,
                index: r.index,
                summary: r.summary,
                steal_percent: r.steal_percent,
                per_second: r.per_second,
                counters: r.counters,
            })
            .collect();
        let margin = analysis.policy.margin;
        let baseline = baseline.map(|b| BaselineReport {
            lines: b
                .variants
                .iter()
                .map(|v| words::baseline_line(v, margin))
                .collect(),
            name: b.name,
            saved_at: b.saved_at,
        });
        Report {
            schema: SCHEMA,
            name: meta.name,
            status: if meta.incomplete_reason.is_some() {
                Status::Incomplete
            } else if !analysis.invalid.is_empty() {
                Status::Invalid
            } else {
                Status::Complete
            },
            incomplete_reason: meta.incomplete_reason,
            invalid_reasons: analysis.invalid,
            started_at: meta.started_at,
            finished_at: meta.finished_at,
            load_description: meta.load.describe(),
            load: meta.load,
            rounds: meta.rounds,
            policy: analysis.policy,
            correction: analysis.correction,
            lab: meta.lab,
            variants,
            round_results: rounds,
            comparisons,
            thresholds,
            baseline,
            warnings: analysis.warnings,
            environment: meta.environment,
            calibration: meta.calibration,
            profiles: None,
        }
    }

    /// Adds the variants' CPU profiles (analysed: top frames and changes; the flame graphs are
    /// drawn when the report is written).
    pub fn with_profiles(
        mut self,
        frequency_hz: u32,
        profiles: Vec<Option<Profile>>,
        rounds: &[perflab_analysis::RoundMeasurement],
    ) -> Report {
        let names: Vec<String> = self.variants.iter().map(|v| v.name.clone()).collect();
        let (variants, comparisons) = perflab_analysis::profile::analyze(&names, &profiles, rounds);
        if variants.is_empty() {
            return self;
        }
        let stacks: Vec<(String, Profile)> = names
            .into_iter()
            .zip(profiles)
            .filter_map(|(n, p)| Some((n, p?)))
            .filter(|(_, p)| p.samples() > 0)
            .collect();
        let files = render::flame::file_names(&stacks);
        self.profiles = Some(ProfilesReport {
            frequency_hz,
            variants,
            comparisons,
            files,
            stacks,
        });
        self
    }

    pub fn is_complete(&self) -> bool {
        self.status == Status::Complete
    }

    /// Whether the report may state verdicts: the run finished and is valid. (An interrupted
    /// run still shows what it measured, marked incomplete.)
    pub fn has_verdicts(&self) -> bool {
        self.status != Status::Invalid
    }

    /// Whether any threshold failed (one that could not be evaluated is not a failure).
    pub fn threshold_failed(&self) -> bool {
        self.thresholds.iter().any(|t| t.outcome == Outcome::Failed)
    }
}

/// Writes report.json, report.md and report.html into `dir`; returns their paths.
pub fn write_all(report: &Report, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    // Drawn once: written beside the report and embedded in its HTML.
    let profiles = report
        .profiles
        .as_ref()
        .map(render::flame::files)
        .unwrap_or_default();
    let files = [
        (
            "report.json".to_string(),
            serde_json::to_string_pretty(report).expect("report serializes"),
        ),
        ("report.md".to_string(), render::markdown::render(report)),
        (
            "report.html".to_string(),
            render::html::render(report, &profiles),
        ),
    ];
    files
        .into_iter()
        .chain(profiles)
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        })
        .collect()
}

/// Writes `sweep.json`, `sweep.md` and `sweep.html` into `dir`.
pub fn write_sweep(report: &sweep::SweepReport, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    [
        (
            "sweep.json",
            serde_json::to_string_pretty(report).expect("sweep report serializes"),
        ),
        ("sweep.md", render::sweep::markdown(report)),
        ("sweep.html", render::sweep::html(report)),
    ]
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

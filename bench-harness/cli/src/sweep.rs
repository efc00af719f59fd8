//! `--sweep AXIS=V1,V2,…`: the same interleaved comparison at each value of one axis, then the
//! curves. Each point is a whole run — warm-up, blocks of rounds, its own calibrated
//! comparisons and validity guard — written as its own report in a folder of the sweep's; the
//! sweep's summary (`sweep.{json,md,html}`) reads every point's analysis
//! (`perflab_analysis::sweep`) and draws the curves.
//!
//! The axis is one of
//! - `vus` (a closed model's virtual users: the USL's N),
//! - `rate` (an open model's arrival rate),
//! - a service knob, any name with a dot (`db.pool_size`, `parallel.threads`): set on every
//!   variant that does not set it itself (a variant that does keeps its own value, so a lab can
//!   hold a fixed reference variant against a swept one),
//! - a lab parameter, any other name (`items`): the lab describes itself again at each value.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use perflab_analysis::sweep::{PointInput, SweepInput, analyze_sweep};
use perflab_report::sweep::{PointFiles, SweepReport};
use perflab_report::write_sweep;
use perflab_report::{Environment, LabInfo, Status};
use tokio_util::sync::CancellationToken;

use crate::args::{LoadArgs, OutputArgs};
use crate::execute::{Measured, RunInfo, measure, print_files, write_report_quietly};
use crate::exit::Exit;
use crate::experiment::Plan;
pub use crate::sweep_spec::{SweepAxis, SweepSpec, SweepValue};

impl SweepSpec {
    /// The flags a sweep cannot share a run with, and the load flag it would override.
    pub fn check_flags(&self, load: &LoadArgs, output: &OutputArgs) -> anyhow::Result<()> {
        let sweep = format!("--sweep {}=…", self.name());
        if output.hlog.is_some() {
            bail!(
                "{sweep} and --hlog: a sweep is several runs, each with its own report; run one point with --hlog instead"
            );
        }
        if output.baseline.is_some() || output.save_baseline.is_some() {
            bail!(
                "{sweep} and --baseline/--save-baseline: a baseline is one run's; run one point with it instead"
            );
        }
        match self.axis {
            SweepAxis::Vus if load.vus.is_some() => {
                bail!("{sweep} sets the VUs at each point; --vus conflicts with it")
            }
            SweepAxis::Vus if load.rate.is_some() => {
                bail!(
                    "{sweep} sweeps a closed model's VUs; --rate makes the model open: sweep rate instead"
                )
            }
            SweepAxis::Rate if load.rate.is_some() => {
                bail!("{sweep} sets the rate at each point; --rate conflicts with it")
            }
            SweepAxis::Rate if load.vus.is_some() => {
                bail!(
                    "{sweep} sweeps an open model's rate; --vus makes the model closed: sweep vus instead"
                )
            }
            _ if load.stages.is_some() && matches!(self.axis, SweepAxis::Vus | SweepAxis::Rate) => {
                bail!("{sweep} and --stages: a ramp has no single level to sweep")
            }
            _ => Ok(()),
        }
    }

    /// The load flags at one point: `--vus V` or `--rate V` added; other axes leave them.
    pub fn load_at(&self, load: &LoadArgs, v: &SweepValue) -> LoadArgs {
        let mut load = load.clone();
        match self.axis {
            SweepAxis::Vus => load.vus = Some(v.number as u32),
            SweepAxis::Rate => load.rate = Some(v.number),
            SweepAxis::Knob(_) | SweepAxis::Param(_) => {}
        }
        load
    }

    /// A knob axis: the knob set at this point on every variant that leaves it to the sweep.
    /// Refused when every variant sets it itself (the sweep would change nothing).
    pub fn set_knob(&self, plan: &mut Plan, v: &SweepValue) -> anyhow::Result<()> {
        let SweepAxis::Knob(knob) = &self.axis else {
            return Ok(());
        };
        let mut applied = false;
        for variant in &mut plan.variants {
            if !variant.settings.contains_key(knob) {
                variant
                    .settings
                    .insert(knob.clone(), serde_json::json!(v.number as i64));
                applied = true;
            }
        }
        if !applied {
            bail!(
                "--sweep {knob}=…: every variant sets {knob} itself, so the sweep would change nothing"
            );
        }
        Ok(())
    }
}

/// One point, ready to run.
pub struct SweepPoint {
    pub value: SweepValue,
    pub plan: Plan,
    pub info: RunInfo,
}

/// What the whole sweep is, for its summary.
pub struct SweepInfo {
    pub name: String,
    pub lab: Option<LabInfo>,
    pub environment: Environment,
    pub seed: u64,
    /// What runs at each point; the first point's load model is added to it.
    pub load_description: String,
}

/// Runs every point in turn (stopping at a signal), writes each point's report and the
/// sweep's summary into `dir`, prints the summary and returns the sweep's exit code: the
/// worst of its points'.
pub async fn execute_sweep(
    spec: &SweepSpec,
    points: Vec<SweepPoint>,
    output: &OutputArgs,
    info: SweepInfo,
    dir: &Path,
    cancel: CancellationToken,
) -> anyhow::Result<Exit> {
    let started_at = crate::now_rfc3339();
    let total = points.len();
    let policy = points.first().map(|p| p.plan.policy).unwrap_or_default();
    let mut points = points;
    for p in &mut points {
        p.plan.policy.confidence = point_confidence(&policy, total);
    }
    let load_description = match points.first() {
        Some(p) => describe_load(&info, spec, p),
        None => info.load_description.clone(),
    };
    if let Some(w) = too_few_pairs(
        spec.name(),
        points.iter().map(|p| (p.value.text.as_str(), &p.plan)),
    ) {
        eprintln!("{w}");
    }
    let mut done: Vec<PointDone> = Vec::new();
    for (i, point) in points.into_iter().enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        let progress = format!("sweep point {}/{total}", i + 1);
        done.push(run_point(spec, &progress, point, output, dir, cancel.clone()).await?);
    }
    let interrupted = cancel.is_cancelled() || done.len() < total;
    let ending = Ending {
        started_at,
        load_description,
        policy,
        planned: total,
        interrupted,
    };
    let report = summarize(spec, &done, info, ending, None);
    finish(&report, &done, dir)
}

/// Before a sweep runs: its points' budgets cannot give the round pairs their corrected
/// confidence needs, so those points will have levels but no verdict. Said before the first
/// point, not discovered after the last.
#[derive(Debug, Clone, PartialEq)]
pub struct TooFewPairs {
    /// Where: `at vus = 1, 2`, `at every probe`.
    pub at: String,
    pub per_interval: f64,
    pub needed: usize,
    pub most: u32,
}

impl std::fmt::Display for TooFewPairs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "warning: {} each comparison's interval runs at {:.2} % (corrected across the \
             points), which needs at least {} round pairs; these rounds allow at most {}: those \
             points will have levels but no verdict. Give --rounds {} (or a longer --max-time), \
             or fewer points (--probes, for a capacity search).",
            self.at,
            self.per_interval * 100.0,
            self.needed,
            self.most,
            self.needed
        )
    }
}

/// The points (by label) whose plan cannot reach the pairs its interval needs, if any.
pub(crate) fn too_few_pairs<'a>(
    axis: &str,
    points: impl IntoIterator<Item = (&'a str, &'a Plan)>,
) -> Option<TooFewPairs> {
    let mut short = Vec::new();
    let (mut per_interval, mut needed, mut most) = (1.0_f64, 0, u32::MAX);
    for (label, plan) in points {
        if plan.variants.len() < 2 {
            continue;
        }
        let level = perflab_analysis::compare::correction(
            plan.variants.len(),
            plan.model.is_open(),
            &plan.policy,
        )
        .per_interval;
        let need = perflab_analysis::stats::min_pairs(level);
        if (plan.most_blocks() as usize) < need {
            short.push(label.to_string());
            per_interval = per_interval.min(level);
            needed = needed.max(need);
            most = most.min(plan.most_blocks());
        }
    }
    (!short.is_empty()).then(|| TooFewPairs {
        at: format!("at {axis} = {}", short.join(", ")),
        per_interval,
        needed,
        most,
    })
}

/// A sweep of k points makes k families of claims. So that all of them hold together at the
/// sweep's confidence — the promise a single run makes — each point's family is corrected
/// once more, by k (Bonferroni across points); each point's report states the confidence it
/// ran at.
pub(crate) fn point_confidence(policy: &perflab_analysis::Policy, points: usize) -> f64 {
    1.0 - (1.0 - policy.confidence) / points.max(1) as f64
}

/// What runs at each point, with the first point's load model as the example.
pub(crate) fn describe_load(info: &SweepInfo, spec: &SweepSpec, first: &SweepPoint) -> String {
    format!(
        "{}; at {} = {}: {}",
        info.load_description,
        spec.name(),
        first.value.text,
        first.plan.model.describe()
    )
}

/// One measured point: its value, what it measured, its report's folder (relative).
pub(crate) struct PointDone {
    pub value: SweepValue,
    pub measured: Measured,
    pub dir: String,
}

/// Measures one point through the single-run path and writes its report into its own folder
/// of `dir`; prints one line with its outcome.
pub(crate) async fn run_point(
    spec: &SweepSpec,
    progress: &str,
    point: SweepPoint,
    output: &OutputArgs,
    dir: &Path,
    cancel: CancellationToken,
) -> anyhow::Result<PointDone> {
    if !output.quiet {
        eprintln!("{progress}: {} = {}", spec.name(), point.value.text);
    }
    let sub = spec.point_dir(&point.value);
    let mut point_output = output.clone();
    point_output.out = Some(dir.join(&sub));
    let measured = measure(point.plan, &point_output, point.info, cancel)
        .await
        .with_context(|| format!("sweep point {} = {}", spec.name(), point.value.text))?;
    write_report_quietly(&measured.report, &dir.join(&sub))?;
    println!(
        "{} = {}: {}",
        spec.name(),
        point.value.text,
        perflab_report::render::terminal::outcome_line(&measured.report)
    );
    Ok(PointDone {
        value: point.value,
        measured,
        dir: sub,
    })
}

/// How a sweep (or a capacity search) ended, for its summary.
pub(crate) struct Ending {
    pub started_at: String,
    pub load_description: String,
    /// The sweep's own policy (each point ran at [`point_confidence`]).
    pub policy: perflab_analysis::Policy,
    /// The points planned (a capacity search: its budget of probes).
    pub planned: usize,
    pub interrupted: bool,
}

/// The sweep's summary from its measured points.
pub(crate) fn summarize(
    spec: &SweepSpec,
    done: &[PointDone],
    info: SweepInfo,
    ending: Ending,
    capacity: Option<perflab_analysis::capacity::CapacityAnalysis>,
) -> SweepReport {
    let Ending {
        started_at,
        load_description,
        policy,
        planned,
        interrupted,
    } = ending;
    let mut files: Vec<PointFiles> = done
        .iter()
        .map(|d| PointFiles {
            label: d.value.text.clone(),
            dir: d.dir.clone(),
            status: d.measured.report.status,
        })
        .collect();
    let analysis = analyze_sweep(&SweepInput {
        axis: spec.name().to_string(),
        kind: spec.kind(),
        points: done
            .iter()
            .map(|d| PointInput {
                label: d.value.text.clone(),
                value: d.value.number,
                analysis: &d.measured.analysis,
            })
            .collect(),
        confidence: policy.confidence,
        seed: info.seed,
    });
    // A capacity search measures in its own order; the summary lists rates in the axis's.
    if capacity.is_some() {
        let order = |label: &str| analysis.points.iter().position(|p| p.label == label);
        files.sort_by_key(|f| order(&f.label));
    }
    // The whole sweep's family: every point's claims.
    let correction = done
        .first()
        .map(|d| perflab_analysis::Correction {
            family: d.measured.analysis.correction.family * planned,
            ..d.measured.analysis.correction
        })
        .unwrap_or_else(|| perflab_analysis::compare::correction(1, false, &policy));
    let status = if capacity.is_some() {
        // A rate the target could not keep is a finding of a capacity search (a miss), not a
        // failed measurement: the search as a whole is complete unless it was interrupted.
        SweepReport::status_of(&[], interrupted)
    } else {
        SweepReport::status_of(&files, interrupted)
    };
    SweepReport {
        schema: perflab_report::sweep::SWEEP_SCHEMA,
        name: info.name,
        status,
        incomplete_reason: interrupted.then(|| {
            format!(
                "interrupted by a signal after {} of {planned} points",
                done.len()
            )
        }),
        started_at,
        finished_at: crate::now_rfc3339(),
        load_description,
        lab: info.lab,
        environment: info.environment,
        policy,
        correction,
        points: files,
        analysis,
        capacity,
    }
}

/// Writes the summary, prints it, and returns the exit code: the worst of the points'.
pub(crate) fn finish(report: &SweepReport, done: &[PointDone], dir: &Path) -> anyhow::Result<Exit> {
    let written = write_sweep(report, dir)
        .with_context(|| format!("writing the sweep's summary to {}", dir.display()))?;
    println!();
    print!("{}", perflab_report::render::sweep::terminal(report));
    print_files(&written);
    Ok(match report.status {
        Status::Incomplete => Exit::Interrupted,
        Status::Invalid => Exit::Invalid,
        Status::Complete if done.iter().any(|d| d.measured.report.threshold_failed()) => {
            Exit::ThresholdFailed
        }
        Status::Complete => Exit::Ok,
    })
}

/// The sweep's folder: `--out`, or `reports/<name>-sweep-<axis>-<time>/`.
pub fn sweep_dir(output: &OutputArgs, root: &Path, name: &str, spec: &SweepSpec) -> PathBuf {
    output.out.clone().unwrap_or_else(|| {
        perflab_report::default_dir(
            root,
            &format!("{name}-sweep-{}", spec.name()),
            &crate::now_rfc3339(),
        )
    })
}

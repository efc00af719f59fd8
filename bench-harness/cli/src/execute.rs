//! One run from plan to exit code, as a sequence of named steps: run the experiment, hand the
//! measured rounds to analysis, judge thresholds and the baseline, assemble the report, write
//! it, and say what happened.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use perflab_analysis::baseline::Baseline;
use perflab_analysis::thresholds::{Threshold, ThresholdResult};
use perflab_analysis::{Analysis, Metric, RunInput, ValidityLimits, analyze};
use perflab_report::{
    Environment, LabInfo, Lesson, Meta, Report, RoundsInfo, Status, VariantSetup,
};
use tokio_util::sync::CancellationToken;

use crate::args::{OutputArgs, ReportArgs};
use crate::exit::Exit;
use crate::experiment::{self, Outcome, Plan};
use crate::hlog::{self, Rebuilt, RunHeader};
use crate::progress::Progress;
use crate::{baseline_store, environment, now_rfc3339};

/// Asks a lab what a run's outcomes mean (its optional `lessons` export).
pub type AskLessons = Box<dyn Fn(&Analysis) -> Vec<Lesson>>;

/// What a run is, besides its plan: names and teaching text for the report.
pub struct RunInfo {
    pub name: String,
    pub lab: Option<LabInfo>,
    pub environment: Environment,
    /// Thresholds the lab declares; the command line's `--threshold`s are added to them.
    pub thresholds: Vec<Threshold>,
    /// Where reports go when `--out` is not given.
    pub reports_root: PathBuf,
    /// This machine's `perflab calibrate` result, if one was saved.
    pub calibration: Option<perflab_report::CalibrationNote>,
    /// Asks the lab what the outcomes mean (its optional `lessons` export).
    pub lessons: Option<AskLessons>,
}

pub async fn execute(
    plan: Plan,
    output: &OutputArgs,
    info: RunInfo,
    cancel: CancellationToken,
) -> anyhow::Result<Exit> {
    let dir = output.out.clone().unwrap_or_else(|| {
        perflab_report::default_dir(&info.reports_root, &info.name, &now_rfc3339())
    });
    let measured = measure(plan, output, info, cancel).await?;
    let mut files = write_report(&measured.report, &dir)?;
    if let Some(baseline) = &measured.to_save {
        save_baseline(&measured.report, baseline, &output.baseline_dir)?;
    }
    files.extend(measured.extra_files);
    print_files(&files);
    Ok(exit_for(&measured.report))
}

/// A run measured and analysed, its report assembled but not written.
pub struct Measured {
    pub report: Report,
    /// What the report was made from (a sweep reads every point's).
    pub analysis: Analysis,
    /// Written already: the interval log.
    pub extra_files: Vec<PathBuf>,
    /// `--save-baseline`: saved once the report is written, if the run is complete.
    pub to_save: Option<Baseline>,
}

/// Runs the experiment, analyses it, judges thresholds and the baseline, and assembles the
/// report (and writes the interval log, if asked).
pub async fn measure(
    plan: Plan,
    output: &OutputArgs,
    info: RunInfo,
    cancel: CancellationToken,
) -> anyhow::Result<Measured> {
    let thresholds = all_thresholds(info.thresholds, &output.thresholds)?;
    let saved = output
        .baseline
        .as_deref()
        .map(|n| baseline_store::load(&output.baseline_dir, n))
        .transpose()?;
    let started_at = now_rfc3339();
    let (outcome, environment) =
        run_experiment(&plan, output.quiet, &cancel, info.environment).await?;

    let names: Vec<String> = plan.variants.iter().map(|v| v.name.clone()).collect();
    let analysis = analyze(&RunInput {
        variants: &names,
        rounds: &outcome.rounds,
        open_model: plan.model.is_open(),
        policy: plan.policy,
        limits: validity_limits(plan.threads, &thresholds),
        unsettled: &outcome.unsettled,
        not_ready: &outcome.not_ready,
        stop: Some(outcome.stop),
        focus: plan.focus.as_deref(),
    });
    let judged = judge(&thresholds, &analysis, saved.as_ref(), info.lab.as_ref());
    let against_saved = saved.as_ref().map(|b| b.compare(&analysis));
    let to_save = output
        .save_baseline
        .as_deref()
        .map(|n| Baseline::from_analysis(&analysis, n, &info.name, now_rfc3339()));

    let mut lab = info.lab;
    if let (Some(lab), Some(ask)) = (lab.as_mut(), &info.lessons)
        && analysis.invalid.is_empty()
    {
        lab.lessons = ask(&analysis);
    }
    let meta = Meta {
        name: info.name.clone(),
        started_at,
        finished_at: now_rfc3339(),
        lab,
        environment,
        incomplete_reason: outcome
            .interrupted()
            .then(|| "interrupted by a signal (SIGINT, SIGTERM or SIGHUP)".to_string()),
        load: plan.model.clone(),
        rounds: rounds_info(&plan, &outcome),
        variants: plan
            .variants
            .iter()
            .zip(&outcome.notes)
            .map(|(v, notes)| VariantSetup {
                settings: v.settings.clone(),
                target: v.target.base_url.clone(),
                notes: notes.clone(),
            })
            .collect(),
        calibration: info.calibration,
    };
    let mut extra_files = Vec::new();
    if let Some(path) = &output.hlog {
        let header = RunHeader {
            format: hlog::FORMAT.to_string(),
            variants: names.clone(),
            open_model: plan.model.is_open(),
            policy: plan.policy,
            thresholds: thresholds.iter().map(ToString::to_string).collect(),
            not_ready: outcome.not_ready.clone(),
            meta: meta.clone(),
            shard: plan.shard.as_ref().map(|s| hlog::ShardNote {
                index: s.shard.index(),
                count: s.shard.count(),
                weights: s.shard.weights().to_vec(),
                start_at: humantime::format_rfc3339_millis(s.start_at).to_string(),
                plan: plan.fingerprint(),
                timing: outcome.timing.clone().unwrap_or_default(),
            }),
        };
        hlog::write(
            path,
            &header,
            &outcome.rounds,
            &outcome.intervals,
            outcome.began,
        )?;
        extra_files.push(path.clone());
    }
    let mut report = Report::new(meta, analysis.clone(), judged, against_saved);
    if let Some(p) = &plan.profile {
        report = report.with_profiles(p.frequency_hz, outcome.profiles.clone(), &outcome.rounds);
    }
    Ok(Measured {
        report,
        analysis,
        extra_files,
        to_save,
    })
}

/// `perflab report LOG`: the report of a run rebuilt from its interval log, analysed afresh
/// (the same analysis gives the same verdicts) and judged against its thresholds and any new
/// ones. What a log does not hold: the lab's `lessons` text is not asked again (the log keeps
/// the lessons the run had), and no baseline is compared.
pub fn rebuild(args: &ReportArgs) -> anyhow::Result<Exit> {
    let Rebuilt {
        header,
        rounds,
        intervals,
    } = hlog::read(&args.log)?;
    let (report, dir) = report_from_log(
        &header,
        &rounds,
        &args.thresholds,
        Vec::new(),
        args.out.as_deref(),
    )?;
    println!(
        "rebuilt from {} ({} rounds, {intervals} interval histograms)",
        args.log.display(),
        rounds.len()
    );
    let files = write_report(&report, &dir)?;
    print_files(&files);
    Ok(exit_for(&report))
}

/// The report of rounds read back from interval logs (one run's, or its shards' merged):
/// analysed afresh and judged against the log's thresholds and `more_thresholds`; `invalid`
/// adds reasons the rounds cannot show (a missing shard). Returns it with its folder.
pub(crate) fn report_from_log(
    header: &RunHeader,
    rounds: &[perflab_analysis::RoundMeasurement],
    more_thresholds: &[String],
    invalid: Vec<perflab_analysis::InvalidReason>,
    out: Option<&Path>,
) -> anyhow::Result<(Report, PathBuf)> {
    let mut thresholds = Vec::new();
    for text in header.thresholds.iter().chain(more_thresholds) {
        thresholds.push(text.parse::<Threshold>()?);
    }
    let meta = header.meta.clone();
    let mut analysis = analyze(&RunInput {
        variants: &header.variants,
        rounds,
        open_model: header.open_model,
        policy: header.policy,
        limits: validity_limits(meta.environment.load_threads, &thresholds),
        unsettled: &meta.rounds.unsettled,
        not_ready: &header.not_ready,
        stop: Some(meta.rounds.stop_reason),
        focus: meta.lab.as_ref().and_then(|l| l.focus.as_deref()),
    });
    // An invalid run states no verdict: the comparisons stay, the report says why.
    analysis.invalid.extend(invalid);
    let judged = judge(&thresholds, &analysis, None, meta.lab.as_ref());
    let dir = out.map(Path::to_path_buf).unwrap_or_else(|| {
        perflab_report::default_dir(Path::new("reports"), &meta.name, &now_rfc3339())
    });
    Ok((Report::new(meta, analysis, judged, None), dir))
}

pub(crate) fn write_report(report: &Report, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let files = write_report_quietly(report, dir)?;
    print!("{}", perflab_report::render::terminal::render(report));
    Ok(files)
}

/// The report's files, without printing its summary (a sweep prints one line per point).
pub(crate) fn write_report_quietly(report: &Report, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    perflab_report::write_all(report, dir)
        .with_context(|| format!("writing the report to {}", dir.display()))
}

pub(crate) fn exit_for(report: &Report) -> Exit {
    match report.status {
        Status::Incomplete => Exit::Interrupted,
        Status::Invalid => Exit::Invalid,
        Status::Complete if report.threshold_failed() => Exit::ThresholdFailed,
        Status::Complete => Exit::Ok,
    }
}

/// The lab's thresholds first, then the command line's.
fn all_thresholds(declared: Vec<Threshold>, given: &[String]) -> anyhow::Result<Vec<Threshold>> {
    let mut all = declared;
    for text in given {
        all.push(text.parse()?);
    }
    Ok(all)
}

/// Where the run stops being a measurement: the generator's cores, and the error rate the
/// run's own thresholds allow (the strictest `error_rate <` limit, or 5 %).
fn validity_limits(generator_threads: usize, thresholds: &[Threshold]) -> ValidityLimits {
    let declared = thresholds
        .iter()
        .filter(|t| t.metric() == Metric::ErrorRate)
        .filter_map(Threshold::upper_limit)
        .fold(f64::INFINITY, f64::min);
    let defaults = ValidityLimits::default();
    ValidityLimits {
        generator_threads,
        max_error_rate: if declared.is_finite() {
            declared
        } else {
            defaults.max_error_rate
        },
        ..defaults
    }
}

fn rounds_info(plan: &Plan, outcome: &Outcome) -> RoundsInfo {
    RoundsInfo {
        blocks: outcome.blocks,
        stop_reason: outcome.stop,
        fixed_blocks: plan.stop.fixed_blocks,
        precision_target: plan.stop.precision,
        max_time_seconds: plan.stop.max_time.as_secs_f64(),
        measured_seconds: outcome.measured_for.as_secs_f64(),
        round_seconds: plan.model.duration().as_secs_f64(),
        settle_seconds: plan.settle.as_secs_f64(),
        warmup_seconds: plan.warmup.as_secs_f64(),
        unsettled: outcome.unsettled.clone(),
    }
}

/// Runs the rounds with live progress, and notes what the machine did meanwhile.
async fn run_experiment(
    plan: &Plan,
    quiet: bool,
    cancel: &CancellationToken,
    mut environment: Environment,
) -> anyhow::Result<(Outcome, Environment)> {
    let progress = Arc::new(Progress::new(quiet).with_feed(plan.live.clone()));
    let ticks_before = environment::cpu_ticks();
    let outcome = experiment::run(plan, cancel, &progress).await;
    progress.finish();
    environment.loadavg_end = environment::loadavg();
    environment.steal_percent = environment::steal_percent(ticks_before, environment::cpu_ticks());
    Ok((outcome?, environment))
}

fn judge(
    thresholds: &[Threshold],
    analysis: &Analysis,
    saved: Option<&Baseline>,
    lab: Option<&perflab_report::LabInfo>,
) -> Vec<ThresholdResult> {
    let mut results: Vec<ThresholdResult> = thresholds
        .iter()
        .flat_map(|t| t.judge(analysis, saved))
        .collect();
    // Wrong answers fail the run whether or not a threshold asked.
    results.extend(perflab_analysis::correctness::failed_checks(
        &analysis.wrong,
    ));
    // So does a broken durability promise.
    results.extend(lab.map(broken_promises).unwrap_or_default());
    results
}

/// An acknowledged write gone after a crash that the variant says it survives: a failed check,
/// as a threshold would fail. A loss the variant never promised is reported, not failed.
fn broken_promises(lab: &perflab_report::LabInfo) -> Vec<ThresholdResult> {
    lab.crash_checks
        .iter()
        .filter(|c| c.broken())
        .map(|c| ThresholdResult {
            expression: format!("{}: acknowledged writes survive ({})", c.variant, c.failure),
            passed: false,
            outcome: perflab_analysis::thresholds::Outcome::Failed,
            detail: format!(
                "{} of {} acknowledged writes lost, though the variant promises they survive: {}",
                c.lost, c.acknowledged, c.why
            ),
        })
        .collect()
}

fn save_baseline(report: &Report, baseline: &Baseline, dir: &Path) -> anyhow::Result<()> {
    if report.is_complete() {
        let path = baseline_store::save(baseline, dir)?;
        println!("\nbaseline {:?} saved to {}", baseline.name, path.display());
    } else {
        println!(
            "\nbaseline {:?} not saved: the run is {:?}",
            baseline.name, report.status
        );
    }
    Ok(())
}

pub(crate) fn print_files(files: &[PathBuf]) {
    let shown: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    println!("\nreport: {}", shown.join("  "));
}

#[cfg(test)]
mod crash_check_tests {
    use perflab_report::{CrashCheck, CrashFailure, LabInfo};

    fn check(variant: &str, promised: bool, lost: u64) -> CrashCheck {
        CrashCheck {
            variant: variant.into(),
            failure: CrashFailure::DatabaseKilled,
            acknowledged: 100,
            lost,
            lost_ids: Vec::new(),
            promised,
            why: "because".into(),
        }
    }

    #[test]
    fn only_a_loss_under_a_promise_fails_the_run() {
        let lab = LabInfo {
            summary: String::new(),
            hypothesis: String::new(),
            prediction_prompt: String::new(),
            explanation: String::new(),
            database: "postgres".into(),
            prediction: None,
            lessons: Vec::new(),
            crash_checks: vec![
                check("kept", true, 0),
                check("not-promised", false, 27),
                check("broken", true, 3),
            ],
            focus: None,
        };
        let failed = super::broken_promises(&lab);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].expression.starts_with("broken:"), "{failed:?}");
        assert!(!failed[0].passed);
        assert!(failed[0].detail.contains("3 of 100"), "{failed:?}");
        assert_eq!(lab.crash_checks[1].outcome(), "lost (not promised)");
    }
}

//! One run from plan to exit code, as a sequence of named steps: run the experiment, hand the
//! measured rounds to analysis, judge thresholds and the baseline, assemble the report, write
//! it, and say what happened.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use perflab_analysis::baseline::Baseline;
use perflab_analysis::thresholds::{Threshold, ThresholdResult};
use perflab_analysis::{Analysis, RoundMeasurement, RunInput, analyze};
use perflab_report::{Environment, LabInfo, Meta, Report, VariantSetup};
use tokio_util::sync::CancellationToken;

use crate::args::OutputArgs;
use crate::exit::Exit;
use crate::experiment::{self, Outcome, Plan, RoundRecord};
use crate::progress::Progress;
use crate::{baseline_store, environment, now_rfc3339};

/// What a run is, besides its plan: names and teaching text for the report.
pub struct RunInfo {
    pub name: String,
    pub lab: Option<LabInfo>,
    pub environment: Environment,
    /// Thresholds the lab declares; the command line's `--threshold`s are added to them.
    pub thresholds: Vec<Threshold>,
    /// Where reports go when `--out` is not given.
    pub reports_root: PathBuf,
}

pub async fn execute(
    plan: Plan,
    output: &OutputArgs,
    info: RunInfo,
    cancel: CancellationToken,
) -> anyhow::Result<Exit> {
    let thresholds = all_thresholds(info.thresholds, &output.thresholds)?;
    let saved = output
        .baseline
        .as_deref()
        .map(|n| baseline_store::load(&output.baseline_dir, n))
        .transpose()?;
    let started_at = now_rfc3339();
    let (outcome, environment) =
        run_experiment(&plan, output.quiet, &cancel, info.environment).await?;

    let open = plan.model.is_open();
    let measured: Vec<RoundMeasurement> = outcome
        .rounds
        .into_iter()
        .map(|r| measurement(r, open))
        .collect();
    let names: Vec<String> = plan.variants.iter().map(|v| v.name.clone()).collect();
    let analysis = analyze(&RunInput {
        variants: &names,
        rounds: &measured,
        open_model: open,
        planned_rounds: plan.rounds,
        seed: plan.seed,
    });
    let judged = judge(&thresholds, &analysis, saved.as_ref());
    let against_saved = saved.as_ref().map(|b| b.compare(&analysis));
    let to_save = output
        .save_baseline
        .as_deref()
        .map(|n| Baseline::from_analysis(&analysis, n, &info.name, now_rfc3339()));

    let meta = Meta {
        name: info.name.clone(),
        started_at,
        finished_at: now_rfc3339(),
        lab: info.lab,
        environment,
        incomplete_reason: outcome
            .interrupted
            .then(|| "interrupted (Ctrl-C)".to_string()),
        load: plan.model.clone(),
        rounds_per_variant: plan.rounds,
        warmup_seconds: plan.warmup.as_secs_f64(),
        variants: plan
            .variants
            .iter()
            .map(|v| VariantSetup {
                settings: v.settings.clone(),
                target: v.target.base_url.clone(),
            })
            .collect(),
    };
    let report = Report::new(meta, analysis, judged, against_saved);

    let dir = output.out.clone().unwrap_or_else(|| {
        perflab_report::default_dir(&info.reports_root, &info.name, &now_rfc3339())
    });
    let files = perflab_report::write_all(&report, &dir)
        .with_context(|| format!("writing the report to {}", dir.display()))?;
    print!("{}", perflab_report::render::terminal::render(&report));
    if let Some(baseline) = to_save {
        save_baseline(&report, &baseline, &output.baseline_dir)?;
    }
    print_files(&files);
    Ok(if !report.is_complete() {
        Exit::Interrupted
    } else if report.threshold_failed() {
        Exit::ThresholdFailed
    } else {
        Exit::Ok
    })
}

/// The lab's thresholds first, then the command line's.
fn all_thresholds(declared: Vec<Threshold>, given: &[String]) -> anyhow::Result<Vec<Threshold>> {
    let mut all = declared;
    for text in given {
        all.push(text.parse()?);
    }
    Ok(all)
}

/// Runs the rounds with live progress, and notes what the machine did meanwhile.
async fn run_experiment(
    plan: &Plan,
    quiet: bool,
    cancel: &CancellationToken,
    mut environment: Environment,
) -> anyhow::Result<(Outcome, Environment)> {
    let progress = Arc::new(Progress::new(quiet));
    let ticks_before = environment::cpu_ticks();
    let outcome = experiment::run(plan, cancel, &progress).await;
    progress.finish();
    environment.loadavg_end = environment::loadavg();
    environment.steal_percent = environment::steal_percent(ticks_before, environment::cpu_ticks());
    Ok((outcome?, environment))
}

/// What the load generator recorded in one round, as analysis reads it.
fn measurement(r: RoundRecord, open: bool) -> RoundMeasurement {
    let rec = &r.data.recorder;
    let seconds = r.data.elapsed.as_secs_f64();
    RoundMeasurement {
        variant: r.variant,
        latency: rec.latency.merged(),
        service: rec.service_time(),
        lag: open.then(|| rec.lag.merged()),
        ok: rec.ok.load(Ordering::Relaxed),
        errors: rec.errors.load(Ordering::Relaxed),
        seconds,
        late_sends: rec.late_sends.load(Ordering::Relaxed),
        unsent: r.data.unsent,
        bytes_received: rec.bytes_received.load(Ordering::Relaxed),
        checks_passed: rec.checks_passed.load(Ordering::Relaxed),
        checks_failed: rec.checks_failed.load(Ordering::Relaxed),
        harness_cpu_seconds: r.data.harness_cpu.as_secs_f64(),
        error_kinds: rec
            .error_kinds()
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
        error_examples: rec
            .error_examples()
            .into_iter()
            .map(|(k, m)| (k.label().to_string(), m))
            .collect(),
        failed_checks: rec.failed_checks(),
        // Whole seconds only: a trailing partial second would read as a dip.
        per_second: rec
            .per_second((seconds.floor() as usize).max(1))
            .into_iter()
            .map(|(c, e)| [c, e])
            .collect(),
        counters: r.counters,
    }
}

fn judge(
    thresholds: &[Threshold],
    analysis: &Analysis,
    saved: Option<&Baseline>,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .flat_map(|t| t.judge(analysis, saved))
        .collect()
}

fn save_baseline(report: &Report, baseline: &Baseline, dir: &Path) -> anyhow::Result<()> {
    if report.is_complete() {
        let path = baseline_store::save(baseline, dir)?;
        println!("\nbaseline {:?} saved to {}", baseline.name, path.display());
    } else {
        println!(
            "\nbaseline {:?} not saved: the run is incomplete",
            baseline.name
        );
    }
    Ok(())
}

fn print_files(files: &[PathBuf]) {
    let shown: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    println!("\nreport: {}", shown.join("  "));
}

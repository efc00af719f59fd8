//! `--slo 'p99<50ms'`: a capacity search. It is a sweep of the arrival rate whose points are
//! chosen one at a time by [`perflab_analysis::capacity::CapacitySearch`] from what the
//! points before them measured: each probe is a whole run through the single-run path (warm-up,
//! interleaved rounds, its own report in `rate-<r>/`), and the summary is the sweep's, with
//! each variant's capacity and the interval of its crossing added.

use std::path::{Path, PathBuf};

use anyhow::bail;
use perflab_analysis::capacity::{
    CapacitySearch, Probe, SearchSettings, Slo, Standing, round_rate, show_rate,
};
use perflab_report::Status;
use tokio_util::sync::CancellationToken;

use crate::args::{CapacityArgs, LoadArgs, OutputArgs};
use crate::exit::Exit;
use crate::sweep::{
    Ending, SweepAxis, SweepInfo, SweepPoint, SweepSpec, SweepValue, TooFewPairs, describe_load,
    finish, point_confidence, run_point, summarize, too_few_pairs,
};

impl CapacityArgs {
    /// The flags a capacity search cannot share a run with. `--rate` is where it starts.
    pub fn check_flags(&self, load: &LoadArgs, output: &OutputArgs) -> anyhow::Result<()> {
        let Some(slo) = &self.slo else {
            return Ok(());
        };
        let what = format!("--slo '{slo}' searches an open model's arrival rate");
        if load.vus.is_some() {
            bail!("{what}; --vus makes the model closed: give the first rate with --rate instead");
        }
        if load.stages.is_some() {
            bail!("{what}; --stages is a ramp, with no single rate to search");
        }
        if output.hlog.is_some() {
            bail!("{what} with a run per probe; --hlog records one run: run one rate with it");
        }
        if output.baseline.is_some() || output.save_baseline.is_some() {
            bail!(
                "{what} with a run per probe; a baseline is one run's: run one rate with it instead"
            );
        }
        if let Some(max) = self.max_rate {
            if !(max.is_finite() && max > 0.0) {
                bail!("--max-rate {max}: a rate above 0");
            }
            if load.rate.is_some_and(|r| r > max) {
                bail!("--rate (where the search starts) is above --max-rate");
            }
        }
        Ok(())
    }

    pub fn settings(&self, load: &LoadArgs) -> SearchSettings {
        let defaults = SearchSettings::default();
        SearchSettings {
            start_rate: load.rate.unwrap_or(defaults.start_rate),
            max_probes: self.probes as usize,
            resolution: self.resolution,
            max_rate: self.max_rate.unwrap_or(defaults.max_rate),
            ..defaults
        }
    }
}

/// The axis a capacity search moves along; its points are named `rate-<r>`.
pub fn rate_axis() -> SweepSpec {
    SweepSpec {
        axis: SweepAxis::Rate,
        values: Vec::new(),
    }
}

/// The search's folder: `--out`, or `reports/<name>-capacity-<time>/`.
pub fn capacity_dir(output: &OutputArgs, root: &Path, name: &str) -> PathBuf {
    output.out.clone().unwrap_or_else(|| {
        perflab_report::default_dir(root, &format!("{name}-capacity"), &crate::now_rfc3339())
    })
}

/// A probed rate as a sweep value: three significant digits, written without float noise.
fn value_of(rate: f64) -> SweepValue {
    let r = round_rate(rate);
    let decimals = (2 - r.log10().floor() as i32).max(0) as usize;
    SweepValue {
        text: format!("{r:.decimals$}"),
        number: r,
    }
}

/// One line per variant after a probe: where it stands against the objective.
fn standing_line(slo: &Slo, p: &Probe) -> String {
    let level = match p.level {
        Some(l) => match l.interval {
            Some(iv) => format!(
                "{} {:.2} ms [{:.2}, {:.2}]",
                slo.metric, l.estimate, iv.low, iv.high
            ),
            None => format!("{} {:.2} ms (no interval)", slo.metric, l.estimate),
        },
        None => format!("no {}", slo.metric),
    };
    let standing = match p.standing {
        Standing::Meets => "meets",
        Standing::Misses => "misses",
        Standing::Unsure => "unsure about",
        Standing::Unmeasured => "could not be measured against",
    };
    let why = p
        .why
        .as_deref()
        .map(|w| format!(" — {w}"))
        .unwrap_or_default();
    format!(
        "  {} {standing} {slo} at {} req/s: {level}{why}",
        p.variant,
        show_rate(p.rate)
    )
}

/// Runs the search: `point_at` builds the run at one rate; the search decides which rates,
/// one at a time, until each variant's crossing is found to the resolution or the budget of
/// probes is spent. Ctrl-C stops after the current probe, with the summary written.
pub async fn execute_capacity(
    slo: Slo,
    settings: SearchSettings,
    mut point_at: impl AsyncFnMut(SweepValue) -> anyhow::Result<SweepPoint>,
    output: &OutputArgs,
    info: SweepInfo,
    dir: &Path,
    cancel: CancellationToken,
) -> anyhow::Result<Exit> {
    let started_at = crate::now_rfc3339();
    let spec = rate_axis();
    // The first probe's plan says what the variants and the policy are.
    let first = point_at(value_of(
        settings
            .start_rate
            .clamp(settings.min_rate, settings.max_rate),
    ))
    .await?;
    let policy = first.plan.policy;
    let variants = first.plan.variants.iter().map(|v| v.name.clone()).collect();
    let mut search = CapacitySearch::new(slo, settings, policy.confidence, variants);
    let load_description = describe_load(&info, &spec, &first);
    // The capacity itself reads levels, not verdicts; the probes' A/B verdicts need pairs.
    let mut probe_plan = first;
    probe_plan.plan.policy.confidence = point_confidence(&policy, settings.max_probes);
    if let Some(w) = too_few_pairs("rate", [(probe_plan.value.text.as_str(), &probe_plan.plan)]) {
        eprintln!(
            "{}",
            TooFewPairs {
                at: "at every probe".into(),
                ..w
            }
        );
    }
    let first = probe_plan;
    let mut first = Some(first);
    let mut done = Vec::new();
    while let Some(rate) = search.next_rate() {
        if cancel.is_cancelled() {
            break;
        }
        let mut point = match first.take() {
            Some(p) if p.value.number == rate => p,
            _ => point_at(value_of(rate)).await?,
        };
        // Every probe's own verdicts are corrected for the budget of probes, as a sweep's are.
        point.plan.policy.confidence = point_confidence(&policy, settings.max_probes);
        point.plan.keep_variants(&search.variants_at(rate));
        let progress = format!(
            "capacity probe {} (at most {})",
            done.len() + 1,
            settings.max_probes
        );
        let d = run_point(&spec, &progress, point, output, dir, cancel.clone()).await?;
        let finished = d.measured.report.status != Status::Incomplete;
        if finished {
            search.record_analysis(rate, &d.measured.analysis);
            for p in search.probes_at(rate) {
                println!("{}", standing_line(&slo, p));
            }
        }
        done.push(d);
        if !finished {
            break;
        }
    }
    let ending = Ending {
        started_at,
        load_description,
        policy,
        planned: settings.max_probes,
        interrupted: cancel.is_cancelled(),
    };
    let report = summarize(&spec, &done, info, ending, Some(search.finish()));
    finish(&report, &done, dir)
}

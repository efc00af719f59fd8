//! `perflab calibrate`: what this machine can and cannot tell apart.
//!
//! 1. **Noise**: one steady load on the reference service for a while, its throughput per
//!    100 ms, and the Allan deviation of that series at averaging times from 100 ms to 5 s. The
//!    time where it is lowest is the best round length: shorter rounds average too little
//!    request noise, longer ones let the machine's own drift in between a pair's two rounds.
//! 2. **A/A**: `--comparisons` comparisons of the service with itself, each run as `perflab
//!    run URL URL` would (adaptive rounds, the default precision and budget). It counts how
//!    often a verdict claims a difference (the false-claim rate, to hold against the 95 %
//!    confidence), how often an interval excludes 1, and how wide the intervals end up: the
//!    machine's noise floor for a comparison of that length.
//! 3. **Power** (`--effect-work-us W`): the same, between two services that differ by W µs of
//!    CPU work per request; it counts how often the true difference is found, and in which
//!    direction.
//!
//! The result is printed and saved (`.perflab/calibration.json`), and later reports quote it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use perflab_analysis::{Metric, RunInput, ValidityLimits, Verdict, analyze};
use perflab_load::LoadModel;
use perflab_load::client::{Connection, Target};
use perflab_load::engine::{RoundConfig, run_round};
use perflab_load::workload::{BodyNeed, FixedRequest, RequestSpec};
use perflab_services::service::{ServiceProcess, locate_binary};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::args::CalibrateArgs;
use crate::exit::Exit;
use crate::experiment::{self, Plan, Variant};
use crate::progress::Progress;
use crate::rounds::Defaults;

/// What `perflab calibrate` found, as saved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    pub schema: String,
    pub measured_at: String,
    pub machine: String,
    pub load: String,
    /// Allan deviation (relative) of throughput at each averaging time, seconds → σ.
    pub allan: Vec<(f64, f64)>,
    /// The averaging time where the Allan deviation is lowest.
    pub best_round_seconds: f64,
    /// Median throughput of the probe (requests/s): a machine score for this load.
    pub throughput: f64,
    pub comparisons: Vec<ComparisonResult>,
    /// `None` for A/A.
    pub effect_work_us: Option<u64>,
    /// Per headline metric: share of verdicts claiming a difference, share of intervals
    /// excluding 1, median half-width at the end (the noise floor), median pairs and seconds.
    pub summary: BTreeMap<Metric, MetricSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComparisonResult {
    pub pairs: usize,
    pub seconds: f64,
    /// metric → (ratio estimate, low, high, verdict)
    pub metrics: BTreeMap<Metric, (f64, f64, f64, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricSummary {
    pub faster: u32,
    pub slower: u32,
    pub equivalent: u32,
    pub inconclusive: u32,
    pub excludes_one: u32,
    pub median_half_width: f64,
    pub median_ratio: f64,
}

pub const SCHEMA: &str = "perflab.calibration/v1";
const PATH: &str = "/store/calibrate";

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Relative Allan deviation of a rate series sampled every `tick`, at `m` ticks per average.
fn allan(series: &[f64], m: usize) -> Option<f64> {
    let means: Vec<f64> = series
        .chunks_exact(m)
        .map(|c| c.iter().sum::<f64>() / m as f64)
        .collect();
    if means.len() < 3 {
        return None;
    }
    let overall = means.iter().sum::<f64>() / means.len() as f64;
    let var = means.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>()
        / (2.0 * (means.len() - 1) as f64);
    (overall > 0.0).then(|| var.sqrt() / overall)
}

async fn start_service(work_us: u64, data: &tempfile::TempDir) -> anyhow::Result<ServiceProcess> {
    let binary = locate_binary().context(
        "cannot find the reference-app binary: build it with `cargo build --release -p reference-app` (or `just calibrate`, which does)",
    )?;
    let dir = data.path().join(format!("svc-{work_us}"));
    let svc = ServiceProcess::start(
        &binary,
        &[
            "--data-dir".into(),
            dir.display().to_string(),
            "--set".into(),
            format!("store.work_us={work_us}"),
        ],
        None,
    )?;
    // The key the comparisons read.
    let (target, _) = Target::resolve(svc.base_url(), false).await?;
    let put = RequestSpec {
        method: hyper::Method::PUT,
        path: PATH.into(),
        headers: vec![],
        body: "calibration value".into(),
        name: "put".into(),
    };
    let answer = Connection::new(target)
        .send(&put, BodyNeed::None, false, Duration::from_secs(10))
        .await?;
    anyhow::ensure!(answer.status < 300, "PUT {PATH} answered {}", answer.status);
    Ok(svc)
}

fn get() -> RequestSpec {
    RequestSpec {
        method: hyper::Method::GET,
        path: PATH.into(),
        headers: vec![],
        body: Default::default(),
        name: "get".into(),
    }
}

pub async fn calibrate(args: CalibrateArgs, cancel: CancellationToken) -> anyhow::Result<Exit> {
    let data = tempfile::Builder::new()
        .prefix("perflab-calibrate-")
        .tempdir()?;
    let a = start_service(0, &data).await?;
    let b = match args.effect_work_us {
        Some(w) => Some(start_service(w, &data).await?),
        None => None,
    };
    let (target_a, _) = Target::resolve(a.base_url(), false).await?;
    let target_b = match &b {
        Some(svc) => Target::resolve(svc.base_url(), false).await?.0,
        None => target_a.clone(),
    };
    let base_model = LoadModel::ConstantVus {
        vus: 8,
        duration: Duration::from_secs(1),
        think_time: Duration::ZERO,
    };
    let rounds = args.load.round_plan(base_model, Defaults::url_pair())?;
    let progress = Arc::new(Progress::new(args.quiet));

    // 1. Noise.
    progress.message(&format!(
        "noise probe: {} for {:?}",
        rounds.model.describe(),
        args.noise_probe
    ));
    let probe = run_round(RoundConfig {
        model: rounds.model.with_duration(args.noise_probe),
        target: target_a.clone(),
        workload: Arc::new(FixedRequest { spec: get() }),
        seed: args.load.seed,
        timeout: args.load.timeout,
        threads: args.load.threads,
        settle: Duration::from_secs(1),
        cancel: cancel.clone(),
        progress: None,
        intervals: false,
        stripe: None,
    })
    .await?;
    let ticks = (probe.elapsed.as_millis() / 100) as usize;
    let series: Vec<f64> = probe
        .recorder
        .per_tick(ticks)
        .into_iter()
        .map(|c| c as f64 * 10.0)
        .collect();
    let allan: Vec<(f64, f64)> = [1usize, 2, 5, 10, 20, 50]
        .iter()
        .filter_map(|&m| allan(&series, m).map(|d| (m as f64 * 0.1, d)))
        .collect();
    let best_round_seconds = allan
        .iter()
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(t, _)| *t)
        .unwrap_or(1.0);
    let throughput = median(series.clone());

    // 2./3. Comparisons.
    let mut comparisons = Vec::new();
    for i in 0..args.comparisons {
        if cancel.is_cancelled() {
            break;
        }
        let variant = |name: &str, target: &Target| Variant {
            name: name.into(),
            settings: BTreeMap::new(),
            target: target.clone(),
            workload: Arc::new(FixedRequest { spec: get() }),
        };
        let plan = Plan {
            variants: vec![variant("A", &target_a), variant("B", &target_b)],
            model: rounds.model.clone(),
            settle: rounds.settle,
            warmup: rounds.warmup,
            stop: rounds.stop,
            policy: rounds.policy,
            seed: args.load.seed.wrapping_add(i as u64 * 7919),
            timeout: args.load.timeout,
            threads: args.load.threads,
            scrape_metrics: false,
            readiness_path: Some("/health/ready"),
            intervals: false,
            profile: None,
            focus: None,
            live: None,
            shard: None,
        };
        let outcome = experiment::run(&plan, &cancel, &Arc::new(Progress::new(true))).await?;
        let names = vec!["A".to_string(), "B".to_string()];
        let analysis = analyze(&RunInput {
            variants: &names,
            rounds: &outcome.rounds,
            open_model: false,
            policy: plan.policy,
            limits: ValidityLimits::default(),
            unsettled: &outcome.unsettled,
            not_ready: &outcome.not_ready,
            stop: Some(outcome.stop),
            focus: None,
        });
        let Some(c) = analysis.comparisons.first() else {
            continue;
        };
        let result = ComparisonResult {
            pairs: c.pairs,
            seconds: outcome.measured_for.as_secs_f64(),
            metrics: c
                .metrics
                .iter()
                .filter(|m| m.headline)
                .map(|m| {
                    let v = serde_json::to_value(m.verdict)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    (
                        m.metric,
                        (m.interval.estimate, m.interval.low, m.interval.high, v),
                    )
                })
                .collect(),
        };
        let line: Vec<String> = result
            .metrics
            .iter()
            .map(|(m, (e, l, h, v))| format!("{m} {e:.3} [{l:.3}, {h:.3}] {v}"))
            .collect();
        eprintln!(
            "perflab: comparison {}/{}: {} pairs in {:.0} s: {}{}",
            i + 1,
            args.comparisons,
            result.pairs,
            result.seconds,
            line.join(", "),
            if analysis.invalid.is_empty() {
                ""
            } else {
                " (invalid)"
            }
        );
        comparisons.push(result);
    }
    drop(b);
    drop(a);

    let summary = summarise(&comparisons);
    let calibration = Calibration {
        schema: SCHEMA.into(),
        measured_at: crate::now_rfc3339(),
        machine: crate::environment::cpu_model(),
        load: rounds.model.describe(),
        allan,
        best_round_seconds,
        throughput,
        comparisons,
        effect_work_us: args.effect_work_us,
        summary,
    };
    print!("{}", render(&calibration));
    if let Some(dir) = args.save.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    std::fs::write(&args.save, serde_json::to_vec_pretty(&calibration)?)
        .with_context(|| format!("writing {}", args.save.display()))?;
    println!("\nsaved to {}", args.save.display());
    Ok(if cancel.is_cancelled() {
        Exit::Interrupted
    } else {
        Exit::Ok
    })
}

fn summarise(comparisons: &[ComparisonResult]) -> BTreeMap<Metric, MetricSummary> {
    let mut out = BTreeMap::new();
    for metric in [Metric::Throughput, Metric::P99] {
        let of: Vec<&(f64, f64, f64, String)> = comparisons
            .iter()
            .filter_map(|c| c.metrics.get(&metric))
            .collect();
        let count = |v: Verdict| {
            let name = serde_json::to_value(v).ok();
            of.iter()
                .filter(|(_, _, _, s)| name.as_ref().and_then(|n| n.as_str()) == Some(s.as_str()))
                .count() as u32
        };
        out.insert(
            metric,
            MetricSummary {
                faster: count(Verdict::Faster),
                slower: count(Verdict::Slower),
                equivalent: count(Verdict::Equivalent),
                inconclusive: count(Verdict::Inconclusive),
                excludes_one: of
                    .iter()
                    .filter(|(_, l, h, _)| *l > 1.0 || *h < 1.0)
                    .count() as u32,
                median_half_width: median(
                    of.iter().map(|(_, l, h, _)| (h / l).sqrt() - 1.0).collect(),
                ),
                median_ratio: median(of.iter().map(|(e, _, _, _)| *e).collect()),
            },
        );
    }
    out
}

fn render(c: &Calibration) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "\nperflab calibrate · {} · {}\n\n  noise: Allan deviation of throughput by averaging time\n",
        c.machine, c.load
    ));
    for (t, d) in &c.allan {
        s.push_str(&format!("    {:>5.1} s  ±{:.1} %\n", t, d * 100.0));
    }
    s.push_str(&format!(
        "  lowest at {:.1} s: rounds of about that length pair best on this machine\n  throughput (machine score for this load): {:.0} req/s\n",
        c.best_round_seconds, c.throughput
    ));
    let n = c.comparisons.len();
    let kind = match c.effect_work_us {
        Some(w) => format!("A/B, B does {w} µs more work per request"),
        None => "A/A, the service against itself".into(),
    };
    let pairs = median(c.comparisons.iter().map(|x| x.pairs as f64).collect());
    let secs = median(c.comparisons.iter().map(|x| x.seconds).collect());
    s.push_str(&format!(
        "\n  {n} comparisons ({kind}), median {pairs:.0} pairs in {secs:.0} s each\n"
    ));
    for (m, x) in &c.summary {
        let pct = |k: u32| k as f64 * 100.0 / n.max(1) as f64;
        s.push_str(&format!(
            "    {m:<10} faster {:>3} · slower {:>3} · equivalent {:>3} · inconclusive {:>3} · interval excludes 1 in {:.0} % · median ratio {:.3} · noise floor ±{:.1} %\n",
            x.faster,
            x.slower,
            x.equivalent,
            x.inconclusive,
            pct(x.excludes_one),
            x.median_ratio,
            x.median_half_width * 100.0
        ));
        if c.effect_work_us.is_none() {
            s.push_str(&format!(
                "               false claims: {:.1} % (a 95 % verdict should claim a difference in at most 5 %)\n",
                pct(x.faster + x.slower)
            ));
        }
    }
    s.push_str(&format!(
        "\n  effects below the noise floor are not detectable on this machine in about {secs:.0} s\n"
    ));
    s
}

/// The saved calibration at `path`, as a report quotes it (A/A results only).
pub fn note(path: &std::path::Path) -> Option<perflab_report::CalibrationNote> {
    let c: Calibration = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    if c.schema != SCHEMA || c.effect_work_us.is_some() || c.comparisons.is_empty() {
        return None;
    }
    Some(perflab_report::CalibrationNote {
        measured_at: c.measured_at,
        noise_floor: c
            .summary
            .iter()
            .map(|(m, s)| (m.name().to_string(), s.median_half_width))
            .collect(),
        seconds: median(c.comparisons.iter().map(|x| x.seconds).collect()),
        false_claims: c.summary.values().map(|s| s.faster + s.slower).sum(),
        comparisons: c.comparisons.len() as u32,
    })
}

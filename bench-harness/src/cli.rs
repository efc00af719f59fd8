//! The `perflab` command line.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::baseline;
use crate::environment::{self, Environment};
use crate::experiment::{self, Plan, Variant};
use crate::load::client::Target;
use crate::load::{LoadModel, parse_stages};
use crate::progress::Progress;
use crate::report::{self, Meta, Report};
use crate::thresholds::Threshold;
use crate::workload::{FixedRequest, RequestSpec, Workload};

/// Exit codes: distinct, so CI can tell a slow change from a broken run.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    // 2 is clap's usage error.
    pub const THRESHOLD_FAILED: u8 = 3;
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, Parser)]
#[command(
    name = "perflab",
    version,
    about = "A/B load testing with confidence intervals, server counters and WASM lab plugins"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure one URL, or compare two (A/B with a verdict), like wrk/oha.
    Run(RunArgs),
    /// Run a lab: its plugin's variants against the reference service, with a verdict.
    Lab(crate::lab::LabArgs),
    /// List the labs in this checkout.
    Labs,
    /// Create labs/NAME from the template: a plugin that builds and runs, and a guide to fill in.
    NewLab { name: String },
}

#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Closed model: virtual users, each sending as fast as answers come back.
    #[arg(long, short = 'c')]
    pub vus: Option<u32>,
    /// Open model: requests per second, whatever the target does (coordinated-omission correct).
    #[arg(long, short = 'r')]
    pub rate: Option<f64>,
    /// Ramp: `30s:100,1m:100,10s:0` (targets are VUs, or requests/s with --rate).
    #[arg(long)]
    pub stages: Option<String>,
    /// Length of each measured round.
    #[arg(long, short = 'd', value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Most VUs an open model may use at once.
    #[arg(long, default_value_t = 64)]
    pub max_vus: u32,
    /// Pause between a VU's requests (closed models).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub think: Option<Duration>,
    /// Measured rounds per variant.
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Warm-up per variant before the measured rounds (discarded).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,
    /// Request timeout.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub timeout: Duration,
    /// Threads for the load generator (it shares the machine with the target: keep it small).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Pass/fail rule, repeatable: `p99<50ms`, `error_rate<1%`, `optimized.p99 <= 0.5 * naive.p99`.
    #[arg(long = "threshold")]
    pub thresholds: Vec<String>,
    /// Save this run's rounds as a named baseline.
    #[arg(long)]
    pub save_baseline: Option<String>,
    /// Compare with a saved baseline (and allow `baseline.p99` in thresholds).
    #[arg(long)]
    pub baseline: Option<String>,
    #[arg(long, default_value = ".perflab/baselines")]
    pub baseline_dir: PathBuf,
    /// Report folder (default: reports/<name>-<time>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress output; the summary is still printed.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// One URL to measure, or two to compare (the first is the baseline).
    #[arg(required = true, num_args = 1..=2)]
    pub urls: Vec<String>,
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// Header `Name: value`, repeatable.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Request body; `@path` reads a file.
    #[arg(long)]
    pub body: Option<String>,
    /// Accept any TLS certificate from an https:// URL (a test server's self-signed one).
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Names for the two URLs' variants (default: A and B).
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub names: Option<Vec<String>>,
    /// Scrape `<url base>/metrics` (Prometheus) around each round and report counter deltas.
    #[arg(long)]
    pub metrics: bool,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl LoadArgs {
    pub fn model(&self, default_duration: Duration, default_vus: u32) -> anyhow::Result<LoadModel> {
        let duration = self.duration.unwrap_or(default_duration);
        let think_time = self.think.unwrap_or_default();
        let model = match (&self.stages, self.rate, self.vus) {
            (_, Some(_), Some(_)) => {
                bail!("--vus and --rate choose different load models: pick one")
            }
            (Some(s), Some(rate), None) => LoadModel::RampingArrivalRate {
                start_rate: rate,
                stages: parse_stages(s).map_err(anyhow::Error::msg)?,
                max_vus: self.max_vus,
            },
            (Some(s), None, vus) => LoadModel::RampingVus {
                start_vus: vus.unwrap_or(1),
                stages: parse_stages(s).map_err(anyhow::Error::msg)?,
                think_time,
            },
            (None, Some(rate), None) => LoadModel::ConstantArrivalRate {
                rate,
                duration,
                max_vus: self.max_vus,
            },
            (None, None, vus) => LoadModel::ConstantVus {
                vus: vus.unwrap_or(default_vus),
                duration,
                think_time,
            },
        };
        model.validate().map_err(anyhow::Error::msg)?;
        if self.threads == 0 {
            bail!("--threads must be at least 1");
        }
        Ok(model)
    }
}

fn parse_headers(headers: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    headers
        .iter()
        .map(|h| {
            let (k, v) = h
                .split_once(':')
                .with_context(|| format!("header {h:?}: expected `Name: value`"))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Runs the plan, writes the reports, judges thresholds; returns the exit code.
pub async fn execute(
    plan: Plan,
    output: &OutputArgs,
    meta: Meta,
    cancel: CancellationToken,
) -> anyhow::Result<u8> {
    let progress = Arc::new(Progress::new(output.quiet));
    let thresholds: Vec<Threshold> = output
        .thresholds
        .iter()
        .map(|t| t.parse())
        .collect::<Result<_, String>>()
        .map_err(anyhow::Error::msg)?;
    let saved = output
        .baseline
        .as_deref()
        .map(|n| baseline::load(&output.baseline_dir, n))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let ticks_before = environment::cpu_ticks();
    let mut meta = meta;
    let outcome = match experiment::run(&plan, &cancel, &progress).await {
        Ok(o) => o,
        Err(e) => {
            progress.finish();
            return Err(e.into());
        }
    };
    progress.finish();
    meta.environment.loadavg_end = environment::loadavg();
    meta.environment.steal_percent =
        environment::steal_percent(ticks_before, environment::cpu_ticks());
    let name = meta.name.clone();
    let mut report: Report = report::build(&plan, &outcome, meta);
    if let Some(b) = &saved {
        report.baseline = Some(b.compare(&report));
    }
    let lookup =
        |variant: &str, metric: &str| saved.as_ref().and_then(|b| b.rounds_of(variant, metric));
    for t in &thresholds {
        report.thresholds.extend(t.judge(&report, Some(&lookup)));
    }
    let dir = output
        .out
        .clone()
        .unwrap_or_else(|| report::default_dir(std::path::Path::new("reports"), &name));
    let files = report::write_all(&report, &dir)
        .with_context(|| format!("writing the report to {}", dir.display()))?;
    print!("{}", report::terminal::render(&report));
    if let Some(name) = &output.save_baseline {
        if report.status == "complete" {
            let path = baseline::save(&baseline::from_report(&report, name), &output.baseline_dir)
                .map_err(anyhow::Error::msg)?;
            println!("\nbaseline {name:?} saved to {}", path.display());
        } else {
            println!("\nbaseline {name:?} not saved: the run is incomplete");
        }
    }
    println!(
        "\nreport: {}",
        files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("  ")
    );
    Ok(if report.status != "complete" {
        exit::INTERRUPTED
    } else if report.thresholds.iter().any(|t| !t.passed) {
        exit::THRESHOLD_FAILED
    } else {
        exit::OK
    })
}

pub async fn run_urls(args: RunArgs, cancel: CancellationToken) -> anyhow::Result<u8> {
    let model = args.load.model(Duration::from_secs(10), 10)?;
    let two = args.urls.len() == 2;
    let method: hyper::Method = args
        .method
        .parse()
        .with_context(|| format!("bad method {:?}", args.method))?;
    let headers = parse_headers(&args.headers)?;
    let body = match &args.body {
        Some(b) if b.starts_with('@') => Bytes::from(
            std::fs::read(&b[1..]).with_context(|| format!("reading body file {}", &b[1..]))?,
        ),
        Some(b) => Bytes::from(b.clone()),
        None => Bytes::new(),
    };
    let names = args.names.clone().unwrap_or_else(|| {
        if two {
            vec!["A".into(), "B".into()]
        } else {
            vec!["target".into()]
        }
    });
    let mut variants = Vec::new();
    for (url, name) in args.urls.iter().zip(names) {
        let (target, path) = Target::resolve(url, args.insecure)
            .await
            .map_err(anyhow::Error::msg)?;
        let workload: Arc<dyn Workload> = Arc::new(FixedRequest {
            spec: RequestSpec {
                method: method.clone(),
                path,
                headers: headers.clone(),
                body: body.clone(),
                name: name.clone(),
            },
        });
        variants.push(Variant {
            name,
            settings: BTreeMap::new(),
            target,
            workload,
        });
    }
    let plan = Plan {
        variants,
        rounds: args.load.rounds.unwrap_or(if two { 5 } else { 1 }).max(1),
        warmup: args.load.warmup.unwrap_or(if two {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        }),
        model,
        seed: args.load.seed,
        timeout: args.load.timeout,
        threads: args.load.threads,
        scrape_metrics: args.metrics,
    };
    let meta = Meta {
        name: if two { "url-ab".into() } else { "url".into() },
        started_at: report::now_rfc3339(),
        lab: None,
        environment: Environment::capture(args.load.seed, args.load.threads),
        incomplete_reason: None,
    };
    execute(plan, &args.output, meta, cancel).await
}

//! The command line: clap's types, and how the load flags shape a load model.
//!
//! `run` and `lab` share [`LoadArgs`]. A lab declares its own load model; a flag given on the
//! command line overrides it, or is refused with a message that names the conflict (k6's rule
//! for its execution shortcuts) — a flag is never silently ignored.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use perflab_load::{LoadModel, ModelError, parse_stages};

/// Shown under `--help` of `perflab`, `perflab run` and `perflab lab`.
pub const EXIT_CODES: &str = "Exit codes: 0 complete, every threshold passed · 1 error · 2 usage · 3 a threshold failed · 4 the run is invalid (no verdict; the report says why) · 5 a shard started after its --start-at limit (it ran nothing) · 130 interrupted by SIGINT, SIGTERM or SIGHUP (a partial report is written)";

#[derive(Debug, Parser)]
#[command(
    name = "perflab",
    version,
    about = "A/B load testing with confidence intervals, server counters and WASM lab plugins",
    after_help = EXIT_CODES
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
    Lab(LabArgs),
    /// List the labs in this checkout.
    Labs,
    /// Create labs/NAME from the template: a plugin that builds and runs, and a guide to fill in.
    NewLab { name: String },
    /// Measure what this machine can tell apart: its noise, an A/A false-claim rate, the
    /// smallest detectable effect (and, with --effect-work-us, the power to find one).
    Calibrate(CalibrateArgs),
    /// Rebuild a run's report from its interval log (`--hlog`): verdicts, tables, thresholds.
    Report(ReportArgs),
    /// Merge the interval logs of one run's shards (`run … --shard I/N --hlog FILE`) into one
    /// report: histograms added per round, verdicts and thresholds judged on the merged data.
    Merge(MergeArgs),
    /// Run one `perflab run` split over several load generators, then merge: `--local N`
    /// processes on this machine.
    Distribute(DistributeArgs),
    /// A workshop: `perflab workshop serve` holds a class's results (students send theirs with
    /// `perflab lab NAME --join URL`).
    #[command(subcommand)]
    Workshop(WorkshopCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum WorkshopCommand {
    /// Start the class's server: it prints the URL students join with and the teacher's token.
    Serve(WorkshopServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct WorkshopServeArgs {
    /// Where to listen: loopback by default; `0.0.0.0:7878` for a classroom network.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: std::net::SocketAddr,
    /// The workshop's data folder (its SQLite database; the join code and token live there).
    #[arg(long, default_value = ".perflab/workshop")]
    pub data: PathBuf,
}

#[derive(Debug, Clone, Args)]
#[command(after_help = EXIT_CODES)]
pub struct ReportArgs {
    /// An interval log written by `perflab run|lab … --hlog FILE`.
    pub log: PathBuf,
    /// More pass/fail rules, judged with the ones the run had.
    #[arg(long = "threshold")]
    pub thresholds: Vec<String>,
    /// Report folder (default: reports/<name>-<time>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
#[command(after_help = EXIT_CODES)]
pub struct MergeArgs {
    /// Every shard's interval log (`--hlog`), or folders holding them (`*.hlog`).
    #[arg(required = true)]
    pub logs: Vec<PathBuf>,
    /// More pass/fail rules, judged on the merged data with the ones the run had.
    #[arg(long = "threshold")]
    pub thresholds: Vec<String>,
    /// Report folder (default: reports/<name>-<time>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
#[command(after_help = EXIT_CODES)]
pub struct DistributeArgs {
    /// Run N shards as processes on this machine (each its share of one schedule), then merge.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64),
          required_unless_present = "k8s", conflicts_with = "k8s")]
    pub local: Option<u32>,
    /// `render`: write the Kubernetes manifests instead (an Indexed Job of --shards pods, a
    /// merge Job, the reference service as a Deployment) and the commands to run them.
    #[arg(long, value_enum, value_name = "ACTION")]
    pub k8s: Option<K8sAction>,
    /// How many shards (pods) the manifests run.
    #[arg(long, value_name = "N", requires = "k8s", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub shards: Option<u32>,
    /// The container image with `perflab` and `reference-app` on its PATH.
    #[arg(long, requires = "k8s", default_value = "perflab:latest")]
    pub image: String,
    /// When the pods start their load: RFC 3339 or unix seconds (Kubernetes runs the pods when
    /// it can; they all wait for this instant).
    #[arg(long, value_parser = start_time, requires = "k8s")]
    pub start_at: Option<std::time::SystemTime>,
    /// Relative weights of the shards, e.g. `2,1,1` (default: equal).
    #[arg(long, value_name = "W,W,…")]
    pub shard_weights: Option<String>,
    /// When the shards start, from now (they all wait for the same instant).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
    pub start_in: Duration,
    /// Folder for the shards' logs and reports and the merged report (default:
    /// reports/distributed-<time>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The `perflab run` command every shard runs, after `--`: e.g. `-- run URL --rate 300
    /// --rounds 4 -d 2s` (the word `run` may be left out).
    #[arg(last = true, required = true, value_name = "RUN ARGS")]
    pub run: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum K8sAction {
    /// Write the manifests.
    Render,
}

/// One run split over several load generators: this one runs shard I of N.
#[derive(Debug, Clone, Args)]
pub struct ShardArgs {
    /// Run shard I of N of the schedule (counted from 0): an open model's arrivals keep their
    /// global send times, a closed model's VUs their global numbers. Needs --rounds and
    /// --start-at, so every shard runs the same rounds at the same times; merge the shards'
    /// --hlog files with `perflab merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Relative weights of the N shards, e.g. `2,1,1` for a machine twice as big.
    #[arg(long, value_name = "W,W,…", requires = "shard")]
    pub shard_weights: Option<String>,
    /// When the run starts: RFC 3339 (`2026-12-02T10:00:00Z`) or unix seconds. Every shard
    /// waits for it, then keeps time on its own monotonic clock.
    #[arg(long, value_parser = start_time, requires = "shard")]
    pub start_at: Option<std::time::SystemTime>,
    /// A shard that reaches its start later than this after --start-at runs nothing and exits
    /// with code 5.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pub start_limit: Duration,
}

fn start_time(text: &str) -> Result<std::time::SystemTime, String> {
    if let Ok(secs) = text.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok(std::time::UNIX_EPOCH + Duration::from_secs_f64(secs));
    }
    humantime::parse_rfc3339_weak(text).map_err(|e| {
        format!("{text:?}: expected RFC 3339 (2026-12-02T10:00:00Z) or unix seconds ({e})")
    })
}

impl Command {
    /// Load-generator threads the command wants (its runtime is built before it runs).
    pub fn threads(&self) -> usize {
        match self {
            Command::Run(a) => a.load.threads,
            Command::Lab(a) => a.load.threads,
            Command::Calibrate(a) => a.load.threads,
            Command::Labs
            | Command::NewLab { .. }
            | Command::Report(_)
            | Command::Merge(_)
            | Command::Distribute(_)
            | Command::Workshop(_) => 1,
        }
    }
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
    /// Most VUs an open model may use at once (default 64).
    #[arg(long)]
    pub max_vus: Option<u32>,
    /// Pause between a VU's requests (closed models).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub think: Option<Duration>,
    /// A fixed number of blocks (each variant once per block) instead of stopping adaptively.
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Stop adding blocks once every headline interval is within ±this, e.g. `3%`.
    #[arg(long, value_parser = percent)]
    pub precision: Option<f64>,
    /// Time budget of the measured rounds (stops adding blocks when the next would not fit).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub max_time: Option<Duration>,
    /// Practical margin: ratios within ±this count as equivalent, e.g. `2%`.
    #[arg(long, value_parser = percent)]
    pub margin: Option<f64>,
    /// Not measured at the start of each round (after the variant switch).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub settle: Option<Duration>,
    /// Most warm-up per variant before the measured rounds (it ends once throughput settles).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,
    /// Request timeout.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub timeout: Duration,
    /// Threads for the load generator (it shares the machine with the target: keep it small).
    #[arg(long, default_value_t = 1, value_parser = threads)]
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
    /// Also write every measured round's per-second latency histograms to FILE, as an
    /// HdrHistogram interval log (readable by HdrHistogram's tools; `perflab report FILE`
    /// rebuilds this report from it).
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<PathBuf>,
    /// No progress output; the summary is still printed.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// Server-side CPU profiles (the reference service samples its own stacks).
#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// Profile the reference service's CPU during each measured round (never warm-up): flame
    /// graphs per variant, a differential one, and the top frames in the report. Also scrapes
    /// its counters (CPU, allocations and context switches per request).
    #[arg(long)]
    pub profile: bool,
    /// A lab that profiles by default (its description says so): do not.
    #[arg(long, conflicts_with = "profile")]
    pub no_profile: bool,
    /// `run` against a server perflab did not start: profile the local process PID with
    /// Linux `perf` instead (needs perf, and root or `perf_event_paranoid` ≤ 1); also reads
    /// its CPU time and context switches from /proc.
    #[arg(long, value_name = "PID")]
    pub profile_pid: Option<u32>,
    /// Stack samples per CPU-second.
    #[arg(long, value_name = "HZ", default_value_t = 99,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub profile_frequency: u32,
    /// Profile only these variants (comma-separated; default all). With the same URL twice,
    /// `--profile-variants B` measures what profiling itself costs.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub profile_variants: Vec<String>,
}

impl ProfileArgs {
    /// Which of `variants` to profile, or a clear error for a name that is not among them.
    pub fn plan(&self, variants: &[String]) -> anyhow::Result<Option<ProfilePlan>> {
        if !self.profile && self.profile_pid.is_none() {
            if !self.profile_variants.is_empty() {
                anyhow::bail!("--profile-variants needs --profile (or --profile-pid)");
            }
            return Ok(None);
        }
        if let Some(bad) = self.profile_variants.iter().find(|n| !variants.contains(n)) {
            anyhow::bail!(
                "--profile-variants names {bad:?}, which is not a variant of this run (variants: {})",
                variants.join(", ")
            );
        }
        Ok(Some(ProfilePlan {
            frequency_hz: self.profile_frequency,
            pid: self.profile_pid,
            variants: variants
                .iter()
                .map(|v| self.profile_variants.is_empty() || self.profile_variants.contains(v))
                .collect(),
        }))
    }
}

impl ProfileArgs {
    /// A lab's service is the reference service: it profiles itself. `lab_default_hz` is the
    /// lab's own wish (its optional `defaults` export): profiling on at that frequency unless
    /// `--no-profile`; `--profile` on the command line keeps its own `--profile-frequency`.
    pub fn plan_for_lab(
        &self,
        variants: &[String],
        lab_default_hz: Option<u32>,
    ) -> anyhow::Result<Option<ProfilePlan>> {
        if self.profile_pid.is_some() {
            anyhow::bail!(
                "--profile-pid is for `perflab run` against a server perflab did not start; a lab's service profiles itself with --profile"
            );
        }
        match lab_default_hz {
            Some(hz) if !self.profile && !self.no_profile => ProfileArgs {
                profile: true,
                profile_frequency: hz.clamp(1, 1000),
                ..self.clone()
            }
            .plan(variants),
            _ => self.plan(variants),
        }
    }
}

/// What to profile: the frequency, and per variant (in plan order) whether to.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfilePlan {
    pub frequency_hz: u32,
    /// Profile this local process with `perf` instead of asking the reference service.
    pub pid: Option<u32>,
    pub variants: Vec<bool>,
}

#[derive(Debug, Clone, Args)]
#[command(after_help = EXIT_CODES)]
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
    /// A scaling curve: the whole run at each value of one axis, e.g. `vus=1,2,4,8,16,32`,
    /// `rate=100,200,400`, or a reference-service knob `db.pool_size=1,4,16` (a name with a
    /// dot). Each point gets its own report; the sweep's summary has the curves, a Universal
    /// Scalability Law fit and the knee of p99.
    #[arg(long, value_name = "AXIS=V1,V2,…", conflicts_with = "slo")]
    pub sweep: Option<crate::sweep_spec::SweepSpec>,
    #[command(flatten)]
    pub capacity: CapacityArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A capacity search: the highest arrival rate that meets a latency objective.
#[derive(Debug, Clone, Args)]
pub struct CapacityArgs {
    /// Capacity search: the highest arrival rate (open model) at which this latency objective
    /// holds, e.g. `p99<50ms`. Starts at --rate (default 50/s), doubles while it holds, then
    /// bisects; each probe is a whole interleaved run with its own report, and the capacity
    /// comes with the interval of the crossing.
    #[arg(long, value_name = "OBJECTIVE")]
    pub slo: Option<perflab_analysis::capacity::Slo>,
    /// Most probes of a capacity search (each is a whole run; the intervals are corrected for
    /// all of them).
    #[arg(long, default_value_t = 10, requires = "slo", value_parser = clap::value_parser!(u16).range(2..=40))]
    pub probes: u16,
    /// A capacity search stops narrowing a bracket once it is within this, e.g. `10%`.
    #[arg(long, default_value = "10%", requires = "slo", value_parser = percent)]
    pub resolution: f64,
    /// The highest rate a capacity search may try (req/s).
    #[arg(long, requires = "slo")]
    pub max_rate: Option<f64>,
}

/// What `--link` puts behind the slow link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LinkTarget {
    /// The lab's Redis, in a network namespace across a veth pair.
    Redis,
    /// The service's upstream HTTPS service (the client-pooling, resilience and batch-calls
    /// labs' calls): a delaying, rate-limiting relay in front of it.
    Upstream,
    /// The service itself: the load generator's requests and the service's answers cross a
    /// delaying, rate-limiting relay (the compression lab's bytes on the wire).
    Service,
}

/// The database the reference service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Database {
    /// Embedded, in the run's temporary data folder.
    Sqlite,
    /// A throwaway cluster perflab starts (or `--db-url`).
    Postgres,
}

impl Database {
    /// The name labs use for it (`describe().databases`, a lab's `db` parameter).
    pub fn name(self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, Args)]
#[command(after_help = EXIT_CODES)]
pub struct LabArgs {
    /// A lab under labs/ (e.g. lock-contention), or a folder holding plugin/ or plugin-py/.
    pub name: String,
    /// About 15 seconds instead of about a minute: the lab's quick load and fewer rounds.
    #[arg(long)]
    pub quick: bool,
    /// Database for the service.
    #[arg(long, value_enum, default_value_t = Database::Sqlite)]
    pub db: Database,
    /// Use this PostgreSQL instead of starting one (with --db postgres).
    #[arg(long)]
    pub db_url: Option<String>,
    /// Lab parameter, repeatable: `--param work_us=50`.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Measure this running service instead of starting the reference service.
    #[arg(long, conflicts_with = "data_dir")]
    pub target: Option<String>,
    /// Keep the service's data folder (its SQLite databases and generated data sets) here
    /// instead of in a fresh temporary folder: a later run with the same folder reuses data
    /// sets whose fingerprint still matches (pagination's 500 000 posts, the index lab's
    /// catalog). Created if missing. With --db postgres the cluster is still a throwaway one.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Put the lab's Redis behind a real slow link: a network namespace joined by a veth pair
    /// with `tc netem` on both ends, e.g. `delay=5ms` (each way), `delay=2ms,rate=100mbit,loss=0.1%`.
    /// Needs root (or CAP_NET_ADMIN); removed when the run ends. For a lab without Redis (or with
    /// `--link-to upstream`): the service's upstream behind a delay line instead.
    #[arg(long, value_name = "SPEC", conflicts_with = "target")]
    pub link: Option<perflab_services::link::LinkSpec>,
    /// What `--link` slows down: Redis (the default for labs that use it), the service's
    /// upstream (the default for the others), or the service itself (the path of every request).
    #[arg(long, value_enum, requires = "link")]
    pub link_to: Option<LinkTarget>,
    /// Compare the variants on the requests of this name only (the lab's by-name table lists
    /// them); the other requests still run, as load. Overrides the lab's own focus
    /// (blocking-runtime's is its fast endpoint).
    #[arg(long, value_name = "REQUEST_NAME")]
    pub focus: Option<String>,
    /// An A/A run: VARIANT against a copy of itself (`VARIANT-again`, the same settings and the
    /// same plugin behaviour), interleaved like any comparison. Any verdict but "equivalent" or
    /// "inconclusive" is a false claim: how often this happens on your machine is what the
    /// intervals' confidence promises. The lab's thresholds about particular variants are
    /// dropped.
    #[arg(long, value_name = "VARIANT")]
    pub aa: Option<String>,
    /// Load this component file instead of building the lab's plugin.
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Do not ask for a prediction before the run.
    #[arg(long)]
    pub no_prompt: bool,
    /// A scaling curve: the lab's comparison at each value of one axis — `vus=1,2,4,8`,
    /// `rate=…`, a lab parameter (`items=1,5,20`) or a service knob (`pool.size=1,4,16`, a
    /// name with a dot). Each point gets its own report; the sweep's summary has the curves,
    /// a Universal Scalability Law fit and the knee of p99. Overrides the lab's own sweep.
    #[arg(long, value_name = "AXIS=V1,V2,…", conflicts_with = "slo")]
    pub sweep: Option<crate::sweep_spec::SweepSpec>,
    /// A lab that sweeps by default (its description says so): one comparison at its load.
    #[arg(long, conflicts_with = "sweep")]
    pub no_sweep: bool,
    #[command(flatten)]
    pub capacity: CapacityArgs,
    #[command(flatten)]
    pub join: JoinArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A workshop student's flags: where to send the report, as whom, and what they predicted.
#[derive(Debug, Clone, Args)]
pub struct JoinArgs {
    /// Send this run's report to a workshop server (the URL the teacher gave,
    /// `http://HOST:PORT/w/CODE`). A prediction is then required; a report the server cannot
    /// take now is kept in .perflab/outbox and sent with the next --join.
    #[arg(long, value_name = "URL")]
    pub join: Option<String>,
    /// Your name on the class page (asked once and remembered in .perflab/workshop-name).
    #[arg(long = "name", id = "student", value_name = "NAME", requires = "join")]
    pub student: Option<String>,
    /// Your prediction, answering the lab's question (e.g. `2x`), without the prompt.
    #[arg(long, requires = "join")]
    pub prediction: Option<String>,
}

/// `3%` or `0.03`.
pub fn percent(text: &str) -> Result<f64, String> {
    let v = match text.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    }
    .map_err(|_| format!("{text:?}: expected a percentage such as 3% (or 0.03)"))?;
    if v.is_finite() && v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(format!(
            "{text:?}: expected a percentage between 0 and 100 %"
        ))
    }
}

fn threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n @ 1..=64) => Ok(n),
        _ => Err("expected a number of threads from 1 to 64".into()),
    }
}

#[derive(Debug, Clone, Args)]
pub struct CalibrateArgs {
    /// Comparisons to run (A/A, or A/B with --effect-work-us).
    #[arg(long, default_value_t = 10)]
    pub comparisons: u32,
    /// Compare two services that differ by this many µs of CPU work per request (a power test)
    /// instead of one service with itself.
    #[arg(long)]
    pub effect_work_us: Option<u64>,
    /// How long the noise probe runs.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "20s")]
    pub noise_probe: Duration,
    /// Where to save the result (JSON).
    #[arg(long, default_value = ".perflab/calibration.json")]
    pub save: PathBuf,
    #[command(flatten)]
    pub load: LoadArgs,
    /// No progress output; the summary is still printed.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Load flags that cannot be applied as given.
#[derive(Debug, thiserror::Error)]
pub enum LoadFlagError {
    #[error("--vus and --rate choose different load models (closed and open): pick one")]
    VusAndRate,
    #[error("--duration conflicts with --stages: the stages set the length")]
    DurationAndStages,
    #[error("--think applies to closed models (VUs), and this load model is open ({0})")]
    ThinkOnOpenModel(String),
    #[error("--max-vus applies to open models (--rate), and this load model is closed ({0})")]
    MaxVusOnClosedModel(String),
    #[error(
        "--vus would replace this lab's ramp ({0}) with a constant load: give the ramp with --stages (and --vus as its start)"
    )]
    VusOnRamp(String),
    #[error(
        "--rate would replace this lab's ramp ({0}) with a constant rate: give the ramp with --stages (and --rate as its start)"
    )]
    RateOnRamp(String),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The default open-model VU cap when neither the flags nor the base model give one.
const DEFAULT_MAX_VUS: u32 = 64;

impl LoadArgs {
    /// The load model the flags ask for, starting from `base` (a lab's model, or the URL mode's
    /// default). A flag either changes the model or is refused with the conflict named.
    pub fn apply_to(&self, base: LoadModel) -> Result<LoadModel, LoadFlagError> {
        let base_max_vus = match &base {
            LoadModel::ConstantArrivalRate { max_vus, .. }
            | LoadModel::RampingArrivalRate { max_vus, .. } => Some(*max_vus),
            _ => None,
        };
        let base_think = match &base {
            LoadModel::ConstantVus { think_time, .. }
            | LoadModel::RampingVus { think_time, .. } => Some(*think_time),
            _ => None,
        };
        let ramp = matches!(
            base,
            LoadModel::RampingVus { .. } | LoadModel::RampingArrivalRate { .. }
        );
        let max_vus = self.max_vus.or(base_max_vus).unwrap_or(DEFAULT_MAX_VUS);
        let think = self.think.or(base_think).unwrap_or_default();
        let duration = self.duration.unwrap_or_else(|| base.duration());
        let model = match (&self.stages, self.rate, self.vus) {
            (_, Some(_), Some(_)) => return Err(LoadFlagError::VusAndRate),
            (Some(_), _, _) if self.duration.is_some() => {
                return Err(LoadFlagError::DurationAndStages);
            }
            (Some(s), Some(rate), None) => LoadModel::RampingArrivalRate {
                start_rate: rate,
                stages: parse_stages(s)?,
                max_vus,
            },
            (Some(s), None, vus) => LoadModel::RampingVus {
                start_vus: vus.unwrap_or(1),
                stages: parse_stages(s)?,
                think_time: think,
            },
            (None, Some(_), None) if ramp => {
                return Err(LoadFlagError::RateOnRamp(base.describe()));
            }
            (None, None, Some(_)) if ramp => return Err(LoadFlagError::VusOnRamp(base.describe())),
            (None, Some(rate), None) => LoadModel::ConstantArrivalRate {
                rate,
                duration,
                max_vus,
            },
            (None, None, Some(vus)) => LoadModel::ConstantVus {
                vus,
                duration,
                think_time: think,
            },
            (None, None, None) => {
                let mut m = match self.duration {
                    Some(d) => base.with_duration(d),
                    None => base,
                };
                match &mut m {
                    LoadModel::ConstantVus { think_time, .. }
                    | LoadModel::RampingVus { think_time, .. } => {
                        if let Some(t) = self.think {
                            *think_time = t;
                        }
                        if self.max_vus.is_some() {
                            return Err(LoadFlagError::MaxVusOnClosedModel(m.describe()));
                        }
                    }
                    LoadModel::ConstantArrivalRate { max_vus: cap, .. }
                    | LoadModel::RampingArrivalRate { max_vus: cap, .. } => {
                        if self.think.is_some() {
                            return Err(LoadFlagError::ThinkOnOpenModel(m.describe()));
                        }
                        *cap = max_vus;
                    }
                }
                m
            }
        };
        if model.is_open() && self.think.is_some() {
            return Err(LoadFlagError::ThinkOnOpenModel(model.describe()));
        }
        if !model.is_open() && self.max_vus.is_some() {
            return Err(LoadFlagError::MaxVusOnClosedModel(model.describe()));
        }
        model.validate()?;
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> LoadArgs {
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            load: LoadArgs,
        }
        T::parse_from(std::iter::once("t").chain(args.iter().copied())).load
    }

    fn lab_model() -> LoadModel {
        LoadModel::ConstantVus {
            vus: 16,
            duration: Duration::from_secs(8),
            think_time: Duration::ZERO,
        }
    }

    fn profile_flags(args: &[&str]) -> ProfileArgs {
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            profile: ProfileArgs,
        }
        T::parse_from(std::iter::once("t").chain(args.iter().copied())).profile
    }

    #[test]
    fn a_lab_that_profiles_by_default_is_obeyed_unless_told_otherwise() {
        let variants = ["a".to_string(), "b".to_string()];
        let plan = |args: &[&str], lab: Option<u32>| {
            profile_flags(args).plan_for_lab(&variants, lab).unwrap()
        };
        let by_default = plan(&[], Some(49)).expect("the lab's default turns profiling on");
        assert_eq!(
            (by_default.frequency_hz, by_default.variants),
            (49, vec![true, true])
        );
        assert_eq!(plan(&["--no-profile"], Some(49)), None);
        assert_eq!(plan(&[], None), None);
        // --profile on the command line keeps its own frequency.
        let asked = plan(&["--profile", "--profile-frequency", "200"], Some(49)).unwrap();
        assert_eq!(asked.frequency_hz, 200);
        // --profile-variants narrows the lab's default; without a default it needs --profile.
        let one = plan(&["--profile-variants", "b"], Some(49)).unwrap();
        assert_eq!(one.variants, vec![false, true]);
        assert!(
            profile_flags(&["--profile-variants", "b"])
                .plan_for_lab(&variants, None)
                .is_err()
        );
    }

    #[test]
    fn no_flag_keeps_the_lab_model() {
        assert_eq!(flags(&[]).apply_to(lab_model()).unwrap(), lab_model());
    }

    #[test]
    fn vus_override_the_lab_and_keep_its_duration() {
        let m = flags(&["--vus", "4"]).apply_to(lab_model()).unwrap();
        assert_eq!(
            m,
            LoadModel::ConstantVus {
                vus: 4,
                duration: Duration::from_secs(8),
                think_time: Duration::ZERO
            }
        );
    }

    #[test]
    fn rate_turns_a_closed_lab_open() {
        let m = flags(&["--rate", "200", "--duration", "2s"])
            .apply_to(lab_model())
            .unwrap();
        assert_eq!(
            m,
            LoadModel::ConstantArrivalRate {
                rate: 200.0,
                duration: Duration::from_secs(2),
                max_vus: 64
            }
        );
    }

    #[test]
    fn conflicts_are_named_not_ignored() {
        assert!(matches!(
            flags(&["--vus", "2", "--rate", "5"]).apply_to(lab_model()),
            Err(LoadFlagError::VusAndRate)
        ));
        assert!(matches!(
            flags(&["--max-vus", "8"]).apply_to(lab_model()),
            Err(LoadFlagError::MaxVusOnClosedModel(_))
        ));
        assert!(matches!(
            flags(&["--rate", "5", "--think", "1s"]).apply_to(lab_model()),
            Err(LoadFlagError::ThinkOnOpenModel(_))
        ));
        assert!(matches!(
            flags(&["--stages", "1s:5", "--duration", "3s"]).apply_to(lab_model()),
            Err(LoadFlagError::DurationAndStages)
        ));
        let ramp = flags(&["--stages", "1s:5,1s:0"])
            .apply_to(lab_model())
            .unwrap();
        assert!(matches!(
            flags(&["--vus", "3"]).apply_to(ramp),
            Err(LoadFlagError::VusOnRamp(_))
        ));
    }

    #[test]
    fn absurd_values_are_refused_before_anything_starts() {
        assert!(matches!(
            flags(&["--rate", "1e12"]).apply_to(lab_model()),
            Err(LoadFlagError::Model(ModelError::TooLarge { .. }))
        ));
        assert!(matches!(
            flags(&["--rate", "NaN"]).apply_to(lab_model()),
            Err(LoadFlagError::Model(ModelError::NotPositive { .. }))
        ));
    }
}

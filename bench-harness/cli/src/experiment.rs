//! An experiment: variants × rounds.
//!
//! 1. **Warm-up**, per variant, in one-second chunks until its throughput settles (MSER-5 on
//!    the 100 ms series) or the warm-up cap is reached; discarded.
//! 2. **Blocks**: each variant runs one round, in a seeded random order (a new order per
//!    block), so the k-th rounds of two variants ran side by side and form a pair. Each round
//!    is preceded by selecting its variant on the service (admin API), bracketed by scrapes of
//!    the service's counters, and starts with a short settle period that is not measured.
//! 3. **Stopping**: after a fixed number of blocks (`--rounds`, `--quick`), or as soon as every
//!    headline interval is within `--precision` (at least the pairs an interval needs), or when
//!    the next block would not fit the time budget (`--max-time`). The rule looks at interval
//!    *widths* only, never at which way the results point, so stopping early does not bias the
//!    verdict (`perflab-analysis/tests/verdicts.rs` checks it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use perflab_analysis::compare::{self, correction};
use perflab_analysis::stats::{Settling, min_pairs, mser5, trend};
use perflab_analysis::{
    NameMeasurement, Percentiles, Policy, RoundMeasurement, RunInput, StopReason, ValidityLimits,
    analyze,
};
use perflab_load::LoadModel;
use perflab_load::client::{ClientError, Connection, Target};
use perflab_load::counters;
use perflab_load::engine::{EngineError, Live, RoundConfig, RoundData, run_round};
use perflab_load::intervals::Interval;
use perflab_load::record::TICK;
use perflab_load::shard::Shard;
use perflab_load::workload::{BodyNeed, RequestSpec, Workload};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use perflab_report::ServiceNote;

use crate::args::ProfilePlan;
use crate::environment;
use crate::perf_profile;
use crate::progress::{Progress, RoundEnd, RoundStart};
use crate::workshop::LiveFeed;
use perflab_analysis::profile::Profile;

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("selecting variant {variant:?} on the service failed: {cause}")]
    Unreachable { variant: String, cause: ClientError },
    #[error("variant {variant:?} asks the service for settings it refuses: HTTP {status}: {body}")]
    Invalid {
        variant: String,
        status: u16,
        body: String,
    },
    #[error(
        "--profile: the service at {target} has no CPU profiler (HTTP {status} from POST /admin/profile/start). Server-side profiles need perflab's reference service: run a lab, or start it with `cargo run --release -p reference-app` and point `perflab run` at it"
    )]
    NoProfiler { target: String, status: u16 },
    #[error(transparent)]
    Perf(#[from] crate::perf_profile::PerfError),
    #[error("--profile: {action} on the service failed: {detail}")]
    Profiler {
        action: &'static str,
        detail: String,
    },
    #[error("selecting variant {variant:?} on the service failed: HTTP {status}: {body}")]
    Refused {
        variant: String,
        status: u16,
        body: String,
    },
}

pub struct Variant {
    pub name: String,
    /// Sent to `PUT /admin/settings` before each of its rounds (empty: nothing to switch).
    pub settings: BTreeMap<String, serde_json::Value>,
    pub target: Target,
    pub workload: Arc<dyn Workload>,
}

/// When to stop adding blocks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StopRule {
    /// Run exactly this many blocks (no adaptive stopping).
    pub fixed_blocks: Option<u32>,
    /// Stop once every headline interval is within ±precision (e.g. 0.03).
    pub precision: f64,
    /// The measured phase's time budget (blocks of rounds, settle periods included).
    pub max_time: Duration,
}

pub struct Plan {
    pub variants: Vec<Variant>,
    /// Each round's model; its duration is the measured length of a round.
    pub model: LoadModel,
    /// Not measured, at the start of every round.
    pub settle: Duration,
    /// Per variant, at most.
    pub warmup: Duration,
    pub stop: StopRule,
    pub policy: Policy,
    pub seed: u64,
    pub timeout: Duration,
    pub threads: usize,
    /// Scrape `<base>/metrics` around each round.
    pub scrape_metrics: bool,
    /// Ask the service's readiness endpoint before the run and after each block.
    pub readiness_path: Option<&'static str>,
    /// Keep per-second histograms of every round, for an interval log (`--hlog`).
    pub intervals: bool,
    /// Sample the service's CPU stacks during measured rounds (`--profile`).
    pub profile: Option<ProfilePlan>,
    /// Compare only the requests of this name (`--focus`, or the lab's own).
    pub focus: Option<String>,
    /// Also stream the rounds' progress to a workshop's projector view (`--join`).
    pub live: Option<LiveFeed>,
    /// Run only this shard's part of the schedule, on the shards' common timetable
    /// (`--shard I/N --start-at T`).
    pub shard: Option<ShardPlan>,
}

/// One shard of a run spread over several load generators.
#[derive(Debug, Clone)]
pub struct ShardPlan {
    pub shard: Shard,
    /// `--start-at` on this machine's monotonic clock: the first round's load starts here.
    pub start: Instant,
    /// `--start-at` as given.
    pub start_at: SystemTime,
}

/// Between two rounds of a sharded run: time for the round's end (counters, readiness) and
/// for shard 0 to switch the service to the next variant before any shard sends.
pub const SLOT_MARGIN: Duration = Duration::from_millis(1500);
/// A round that starts its load later than this after its slot is out of step with the other
/// shards: the shard's output is marked invalid.
pub const LATE_ROUND: Duration = Duration::from_millis(250);

/// Every shard runs the same timetable: round k (warm-up rounds first) starts its load at the
/// start plus the lengths of the rounds before it, each with [`SLOT_MARGIN`].
#[derive(Debug, Default)]
struct Timetable {
    next: Option<Instant>,
    timing: ShardTiming,
}

/// How well a shard kept the common timetable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ShardTiming {
    /// Per round, how late its load started after its slot (seconds).
    pub skews: Vec<f64>,
    /// Rounds that started more than [`LATE_ROUND`] late.
    pub late: Vec<String>,
}

impl Plan {
    /// What every shard of one run must agree on — variants, model, round plan, seed, start
    /// time, weights — as a short hash, compared by `perflab merge`. (FNV-1a by hand: one
    /// line, and a hash crate would add nothing but a dependency.)
    pub fn fingerprint(&self) -> String {
        let shard = self.shard.as_ref();
        let text = serde_json::json!({
            "variants": self.variants.iter().map(|v| &v.name).collect::<Vec<_>>(),
            "model": self.model,
            "settle": self.settle.as_secs_f64(),
            "warmup": self.warmup.as_secs_f64(),
            "blocks": self.stop.fixed_blocks,
            "seed": self.seed,
            "weights": shard.map(|s| s.shard.weights().to_vec()),
            "start_at": shard.map(|s| s.start_at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64()),
        })
        .to_string();
        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{hash:016x}")
    }

    /// The most blocks (round pairs, for a comparison) this plan can run: its fixed count, or
    /// as many whole blocks as fit its time budget (at least one: the first always runs).
    pub fn most_blocks(&self) -> u32 {
        if let Some(n) = self.stop.fixed_blocks {
            return n;
        }
        let block = (self.model.duration() + self.settle) * self.variants.len().max(1) as u32;
        if block.is_zero() {
            return u32::MAX;
        }
        ((self.stop.max_time.as_secs_f64() / block.as_secs_f64()).floor() as u32).max(1)
    }

    /// Only the variants named in `keep`, in their order (the profile's choices follow them).
    pub fn keep_variants(&mut self, keep: &[String]) {
        let kept: Vec<bool> = self
            .variants
            .iter()
            .map(|v| keep.contains(&v.name))
            .collect();
        if let Some(profile) = &mut self.profile {
            let mut flags = kept.iter();
            profile
                .variants
                .retain(|_| flags.next().copied().unwrap_or(false));
        }
        let mut flags = kept.iter();
        self.variants
            .retain(|_| flags.next().copied().unwrap_or(false));
    }
}

pub struct Outcome {
    pub rounds: Vec<RoundMeasurement>,
    pub blocks: u32,
    pub stop: StopReason,
    /// The measured phase's wall time.
    pub measured_for: Duration,
    pub unsettled: Vec<String>,
    pub not_ready: Vec<String>,
    /// Per round (beside `rounds`): its per-second histograms, when the plan asked for them.
    pub intervals: Vec<Vec<Interval>>,
    /// When the experiment began, on both clocks (interval logs count from it).
    pub began: (Instant, SystemTime),
    /// Per variant: its CPU profile over its measured rounds, when it was profiled.
    pub profiles: Vec<Option<Profile>>,
    /// Per variant: what the service said about it once selected (`GET /admin/notes`).
    pub notes: Vec<Vec<ServiceNote>>,
    /// A sharded run: how well this shard kept the common timetable.
    pub timing: Option<ShardTiming>,
}

impl Outcome {
    pub fn interrupted(&self) -> bool {
        self.stop == StopReason::Interrupted
    }
}

/// A seeded order of `n` variants for block `block` (SplitMix64 and Fisher–Yates: small,
/// reproducible, and the same on every platform, which `rand`'s generators do not promise
/// across versions).
pub fn block_order(n: usize, seed: u64, block: u32) -> Vec<usize> {
    let mut state = seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(block as u64 + 1));
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

pub(crate) async fn admin_request(
    target: &Target,
    method: hyper::Method,
    path: &str,
    body: Bytes,
) -> Result<(u16, Bytes), ClientError> {
    let spec = RequestSpec {
        method,
        path: path.into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body,
        name: "admin".into(),
    };
    let answer = Connection::new(target.clone())
        .send(&spec, BodyNeed::All, false, Duration::from_secs(30))
        .await?;
    Ok((answer.status, answer.body))
}

pub async fn select_variant(v: &Variant) -> Result<(), ExperimentError> {
    if v.settings.is_empty() {
        return Ok(());
    }
    let body = serde_json::to_vec(&v.settings).expect("settings serialize");
    let (status, body) = admin_request(
        &v.target,
        hyper::Method::PUT,
        "/admin/settings",
        body.into(),
    )
    .await
    .map_err(|cause| ExperimentError::Unreachable {
        variant: v.name.clone(),
        cause,
    })?;
    if status != 200 {
        return Err(ExperimentError::Refused {
            variant: v.name.clone(),
            status,
            body: service_message(&body),
        });
    }
    Ok(())
}

/// Checks every variant's settings with the service (`POST /admin/settings/validate`) before
/// anything runs: a typo in the last variant fails now, not after the first has been measured.
pub async fn validate_variants(plan: &Plan) -> Result<(), ExperimentError> {
    for v in plan.variants.iter().filter(|v| !v.settings.is_empty()) {
        let body = serde_json::to_vec(&v.settings).expect("settings serialize");
        let (status, body) = admin_request(
            &v.target,
            hyper::Method::POST,
            "/admin/settings/validate",
            body.into(),
        )
        .await
        .map_err(|cause| ExperimentError::Unreachable {
            variant: v.name.clone(),
            cause,
        })?;
        if !(200..300).contains(&status) {
            return Err(ExperimentError::Invalid {
                variant: v.name.clone(),
                status,
                body: service_message(&body),
            });
        }
    }
    Ok(())
}

/// The service's error message: the `message` of its JSON error body, or the body as text.
fn service_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

async fn scrape(target: &Target) -> BTreeMap<String, f64> {
    match admin_request(target, hyper::Method::GET, "/metrics", Bytes::new()).await {
        Ok((200, body)) => counters::parse_totals(&String::from_utf8_lossy(&body)),
        _ => BTreeMap::new(),
    }
}

/// At most this many notes per variant, each at most `NOTE_BYTES`: a report stays readable
/// whatever a service sends.
const MAX_NOTES: usize = 8;
const NOTE_BYTES: usize = 8 * 1024;

/// `GET /admin/notes` for the selected variant; a service without notes gives none.
async fn notes(v: &Variant) -> Vec<ServiceNote> {
    #[derive(serde::Deserialize)]
    struct Notes {
        notes: Vec<ServiceNote>,
    }
    let Ok((200, body)) =
        admin_request(&v.target, hyper::Method::GET, "/admin/notes", Bytes::new()).await
    else {
        return Vec::new();
    };
    let Ok(Notes { mut notes }) = serde_json::from_slice::<Notes>(&body) else {
        return Vec::new();
    };
    notes.truncate(MAX_NOTES);
    for n in &mut notes {
        if n.text.len() > NOTE_BYTES {
            n.text.truncate(n.text.floor_char_boundary(NOTE_BYTES));
            n.text.push_str("\n… (cut)");
        }
    }
    notes
}

async fn ready(target: &Target, path: &str) -> bool {
    let ask = admin_request(target, hyper::Method::GET, path, Bytes::new());
    matches!(
        tokio::time::timeout(Duration::from_secs(5), ask).await,
        Ok(Ok((200, _)))
    )
}

/// `POST /admin/profile/stop`'s answer.
#[derive(serde::Deserialize)]
struct ProfileDump {
    frequency_hz: u32,
    seconds: f64,
    folded: String,
}

fn profiler_error(action: &'static str, detail: impl std::fmt::Display) -> ExperimentError {
    ExperimentError::Profiler {
        action,
        detail: detail.to_string(),
    }
}

async fn start_profile(target: &Target, frequency_hz: u32) -> Result<(), ExperimentError> {
    let body: Bytes = format!("{{\"frequency_hz\": {frequency_hz}}}").into();
    for attempt in 0..2 {
        let (status, answer) = admin_request(
            target,
            hyper::Method::POST,
            "/admin/profile/start",
            body.clone(),
        )
        .await
        .map_err(|e| profiler_error("starting the profiler", e))?;
        match status {
            204 => return Ok(()),
            // A profile left running (an earlier run that was killed): collect and retry.
            409 if attempt == 0 => {
                stop_profile(target).await?;
            }
            404 | 405 | 501 => {
                return Err(ExperimentError::NoProfiler {
                    target: target.base_url.clone(),
                    status,
                });
            }
            _ => {
                return Err(profiler_error(
                    "starting the profiler",
                    format!("HTTP {status}: {}", service_message(&answer)),
                ));
            }
        }
    }
    Err(profiler_error(
        "starting the profiler",
        "the service still reports a profile running after stopping it",
    ))
}

async fn stop_profile(target: &Target) -> Result<ProfileDump, ExperimentError> {
    let (status, body) = admin_request(
        target,
        hyper::Method::POST,
        "/admin/profile/stop",
        Bytes::new(),
    )
    .await
    .map_err(|e| profiler_error("collecting the profile", e))?;
    if status != 200 {
        return Err(profiler_error(
            "collecting the profile",
            format!("HTTP {status}: {}", service_message(&body)),
        ));
    }
    serde_json::from_slice(&body).map_err(|e| profiler_error("reading the profile", e))
}

struct RoundRun<'a> {
    plan: &'a Plan,
    cancel: &'a CancellationToken,
    progress: &'a Arc<Progress>,
    timetable: &'a std::sync::Mutex<Timetable>,
}

impl RoundRun<'_> {
    /// Waits for this round's slot on the common timetable, and notes how late it started.
    async fn wait_for_slot(&self, shard: &ShardPlan, length: Duration, label: &str) {
        let at = {
            let mut t = self.timetable.lock().expect("timetable");
            let at = t.next.unwrap_or(shard.start);
            t.next = Some(at + length + SLOT_MARGIN);
            at
        };
        tokio::select! {
            _ = tokio::time::sleep_until(at.into()) => {}
            _ = self.cancel.cancelled() => {}
        }
        let late = Instant::now().saturating_duration_since(at);
        let mut t = self.timetable.lock().expect("timetable");
        t.timing.skews.push(late.as_secs_f64());
        if late > LATE_ROUND {
            t.timing.late.push(format!(
                "{label} started {:.0} ms after its slot",
                late.as_secs_f64() * 1e3
            ));
        }
    }

    async fn one(
        &self,
        v: &Variant,
        model: LoadModel,
        settle: Duration,
        seed: u64,
        label: &str,
        Extras {
            measured,
            intervals,
            profile_hz,
            perf_pid,
            index,
        }: Extras,
    ) -> Result<RoundOutput, ExperimentError> {
        // In a sharded run only shard 0 switches the service; the others run the same
        // variant in the same slot.
        if self
            .plan
            .shard
            .as_ref()
            .is_none_or(|s| s.shard.index() == 0)
        {
            select_variant(v).await?;
        }
        let before = if self.plan.scrape_metrics {
            scrape(&v.target).await
        } else {
            BTreeMap::new()
        };
        let proc_before = perf_pid.map(perf_profile::proc_counters);
        let mut perf = None;
        match (profile_hz, perf_pid) {
            (Some(hz), Some(pid)) => {
                perf = Some(perf_profile::start(pid, hz, &std::env::temp_dir(), index).await?);
            }
            (Some(hz), None) => start_profile(&v.target, hz).await?,
            _ => {}
        }
        let total = model.duration() + settle;
        if let Some(shard) = &self.plan.shard {
            self.wait_for_slot(shard, total, label).await;
        }
        self.progress.round_started(RoundStart {
            variant: &v.name,
            label,
            measured,
            length: total,
        });
        let data = run_round(RoundConfig {
            model,
            target: v.target.clone(),
            workload: v.workload.clone(),
            seed,
            timeout: self.plan.timeout,
            threads: self.plan.threads,
            settle,
            cancel: self.cancel.clone(),
            progress: Some(Box::new({
                let progress = self.progress.clone();
                move |live: Live| progress.tick(&Live { total, ..live })
            })),
            intervals,
            stripe: self.plan.shard.as_ref().map(|s| s.shard.stripe()),
        })
        .await;
        // Counters first: collecting a profile symbolises it, which costs the service CPU that
        // no request of the round caused.
        let after = if self.plan.scrape_metrics && data.is_ok() {
            scrape(&v.target).await
        } else {
            BTreeMap::new()
        };
        let mut counters = counters::delta(&before, &after);
        if let (Some(pid), Some(before)) = (perf_pid, &proc_before) {
            counters.extend(counters::delta(before, &perf_profile::proc_counters(pid)));
        }
        // Stopped whatever the round's fate, so no profile is left running on the service.
        let profile = match (profile_hz, perf) {
            (Some(hz), Some(recording)) => {
                Some(recording.stop().await.map_err(ExperimentError::from).map(
                    |(seconds, folded)| ProfileDump {
                        frequency_hz: hz,
                        seconds,
                        folded,
                    },
                ))
            }
            (Some(_), None) => Some(stop_profile(&v.target).await),
            _ => None,
        };
        let data = data?;
        let profile = profile.transpose()?;
        Ok(RoundOutput {
            data,
            counters,
            profile,
        })
    }
}

/// What a measured round records besides its histograms (warm-up records neither).
#[derive(Default)]
struct Extras {
    /// A measured round (a warm-up round is not).
    measured: bool,
    /// Per-second histograms, for an interval log.
    intervals: bool,
    /// Sample the service's CPU at this frequency during the round.
    profile_hz: Option<u32>,
    /// … with `perf`, from outside, when the service is a process perflab did not start.
    perf_pid: Option<u32>,
    /// The round's number, for perf's data file.
    index: usize,
}

struct RoundOutput {
    data: RoundData,
    counters: BTreeMap<String, f64>,
    profile: Option<ProfileDump>,
}

/// Warms `v` up in one-second chunks until MSER-5 finds its throughput settled, at most `cap`.
/// Returns `false` only when it ran the whole cap and was still changing (a warm-up too short
/// to judge is not reported as unsettled).
async fn warm_up(run: &RoundRun<'_>, v: &Variant, cap: Duration) -> Result<bool, ExperimentError> {
    // A sharded run's warm-up is one round of the whole cap: every shard's timetable must be
    // the same, so none may stop early because its own series settled.
    let sharded = run.plan.shard.is_some();
    let chunk = if sharded {
        cap
    } else {
        Duration::from_secs(1).min(cap)
    };
    let mut series: Vec<f64> = Vec::new();
    let mut spent = Duration::ZERO;
    let ticks = (chunk.as_millis() / TICK.as_millis()) as usize;
    while spent < cap {
        let label = format!("warm-up {}", v.name);
        let model = run.plan.model.with_duration(chunk);
        let data = run
            .one(
                v,
                model,
                Duration::ZERO,
                run.plan.seed,
                &label,
                Extras::default(),
            )
            .await?
            .data;
        spent += chunk;
        series.extend(data.recorder.per_tick(ticks).into_iter().map(|c| c as f64));
        if data.cancelled || sharded {
            return Ok(true);
        }
        // Settled: the transient MSER-5 finds ends in the first half of what was seen.
        if matches!(mser5(&series), Settling::Settled(_)) {
            return Ok(true);
        }
    }
    // MSER-5 alone also puts its cut at the boundary of a merely noisy series now and then;
    // "never settled" needs the second half to still be moving too.
    let moving =
        series.len() >= 20 && trend(&series[series.len() / 2..]).is_some_and(|(_, p)| p < 0.001);
    Ok(!(mser5(&series) == Settling::NotSettled && moving))
}

/// What the load generator recorded in one round, as analysis reads it.
pub fn measurement(
    variant: usize,
    data: &RoundData,
    counters: BTreeMap<String, f64>,
    open: bool,
    steal_percent: Option<f64>,
) -> RoundMeasurement {
    let rec = &data.recorder;
    let seconds = data.elapsed.as_secs_f64();
    let tally = rec.tally();
    RoundMeasurement {
        variant,
        latency: rec.latency.merged(),
        service: rec.service_time(),
        lag: open.then(|| rec.lag.merged()),
        ok: rec.ok.load(Ordering::Relaxed),
        errors: rec.errors.load(Ordering::Relaxed),
        settling: rec.settling.load(Ordering::Relaxed),
        seconds,
        late_sends: rec.late_sends.load(Ordering::Relaxed),
        unsent: data.unsent,
        bytes_received: rec.bytes_received.load(Ordering::Relaxed),
        checks_passed: rec.checks_passed.load(Ordering::Relaxed),
        checks_failed: rec.checks_failed.load(Ordering::Relaxed),
        harness_cpu_seconds: data.harness_cpu.as_secs_f64(),
        steal_percent,
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
        checks: tally.checks,
        by_name: tally
            .names
            .into_iter()
            .map(|(name, t)| {
                (
                    name,
                    NameMeasurement {
                        latency: t.latency,
                        requests: t.requests,
                        errors: t.errors,
                    },
                )
            })
            .collect(),
        // Whole seconds only: a trailing partial second would read as a dip.
        per_second: rec
            .per_second((seconds.floor() as usize).max(1))
            .into_iter()
            .map(|(c, e)| [c, e])
            .collect(),
        counters,
    }
}

/// Whether every headline interval is within the precision target.
fn precise_enough(plan: &Plan, rounds: &[RoundMeasurement]) -> bool {
    let names: Vec<String> = plan.variants.iter().map(|v| v.name.clone()).collect();
    let analysis = analyze(&RunInput {
        variants: &names,
        rounds,
        open_model: plan.model.is_open(),
        policy: plan.policy,
        limits: ValidityLimits::default(),
        unsettled: &[],
        not_ready: &[],
        stop: None,
        focus: plan.focus.as_deref(),
    });
    compare::widest_headline(&analysis.comparisons).is_some_and(|w| w <= plan.stop.precision)
}

/// The fewest blocks before the precision rule may stop a run: enough pairs for an interval at
/// the corrected confidence, and never fewer than eight.
pub fn min_blocks(plan: &Plan) -> u32 {
    let level = correction(plan.variants.len(), plan.model.is_open(), &plan.policy).per_interval;
    min_pairs(level).max(8) as u32
}

pub async fn run(
    plan: &Plan,
    cancel: &CancellationToken,
    progress: &Arc<Progress>,
) -> Result<Outcome, ExperimentError> {
    let timetable = std::sync::Mutex::new(Timetable::default());
    let mut outcome = run_rounds(plan, cancel, progress, &timetable).await?;
    if plan.shard.is_some() {
        outcome.timing = Some(timetable.into_inner().expect("timetable").timing);
    }
    Ok(outcome)
}

async fn run_rounds(
    plan: &Plan,
    cancel: &CancellationToken,
    progress: &Arc<Progress>,
    timetable: &std::sync::Mutex<Timetable>,
) -> Result<Outcome, ExperimentError> {
    let run = RoundRun {
        plan,
        cancel,
        progress,
        timetable,
    };
    let mut outcome = Outcome {
        rounds: Vec::new(),
        blocks: 0,
        stop: StopReason::Interrupted,
        measured_for: Duration::ZERO,
        unsettled: Vec::new(),
        not_ready: Vec::new(),
        intervals: Vec::new(),
        began: (Instant::now(), SystemTime::now()),
        profiles: plan.variants.iter().map(|_| None).collect(),
        notes: plan.variants.iter().map(|_| Vec::new()).collect(),
        timing: None,
    };
    let target = &plan.variants[0].target;
    validate_variants(plan).await?;
    match &plan.profile {
        // Before any load: a process perf may not record is refused now, with the reason…
        Some(ProfilePlan { pid: Some(pid), .. }) => {
            perf_profile::check(*pid, &std::env::temp_dir()).await?;
        }
        // … and so is a service without a profiler.
        Some(p) => {
            start_profile(target, p.frequency_hz).await?;
            stop_profile(target).await?;
        }
        None => {}
    }
    if let Some(path) = plan.readiness_path
        && !ready(target, path).await
    {
        outcome.not_ready.push("before the run".into());
        outcome.stop = StopReason::ServiceNotReady;
        return Ok(outcome);
    }
    if !plan.warmup.is_zero() {
        for (vi, v) in plan.variants.iter().enumerate() {
            if !warm_up(&run, v, plan.warmup).await? {
                outcome.unsettled.push(v.name.clone());
            }
            if cancel.is_cancelled() {
                return Ok(outcome);
            }
            // Selected and warm: what the service says about this variant now (a query plan
            // with the variant's data in place).
            if plan.scrape_metrics {
                outcome.notes[vi] = notes(v).await;
            }
        }
    }
    let open = plan.model.is_open();
    let block_time = (plan.model.duration() + plan.settle) * plan.variants.len() as u32;
    let started = Instant::now();
    let min_blocks = min_blocks(plan);
    loop {
        let block = outcome.blocks;
        for vi in block_order(plan.variants.len(), plan.seed, block) {
            let v = &plan.variants[vi];
            let label = match plan.stop.fixed_blocks {
                Some(n) => format!("{} {}/{n}", v.name, block + 1),
                None => format!("{} {}", v.name, block + 1),
            };
            let seed = plan.seed.wrapping_add(1000 * (block as u64 + 1));
            let ticks = environment::cpu_ticks();
            let profile_hz = plan
                .profile
                .as_ref()
                .filter(|p| p.variants[vi])
                .map(|p| p.frequency_hz);
            let RoundOutput {
                mut data,
                counters,
                profile,
            } = run
                .one(
                    v,
                    plan.model.clone(),
                    plan.settle,
                    seed,
                    &label,
                    Extras {
                        measured: true,
                        intervals: plan.intervals,
                        profile_hz,
                        perf_pid: plan.profile.as_ref().and_then(|p| p.pid),
                        index: outcome.rounds.len(),
                    },
                )
                .await?;
            if let Some(dump) = profile {
                let stacks = Profile::parse_folded(&dump.folded)
                    .map_err(|e| profiler_error("reading the profile", e))?;
                outcome.profiles[vi]
                    .get_or_insert_with(Profile::default)
                    .absorb(dump.frequency_hz, dump.seconds, stacks);
            }
            let steal = environment::steal_percent(ticks, environment::cpu_ticks());
            let p = Percentiles::of(&data.recorder.latency.merged());
            let rate = data.recorder.completed() as f64 / data.elapsed.as_secs_f64().max(1e-9);
            let errors = data.recorder.errors.load(Ordering::Relaxed);
            progress.round_finished(RoundEnd {
                line: &format!(
                    "{label}: {rate:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, {errors} errors",
                    p.p50, p.p99,
                ),
                rate,
                p99_ms: p.p99,
                errors,
            });
            let cancelled = data.cancelled;
            outcome.intervals.push(std::mem::take(&mut data.intervals));
            // A variant's i-th round is in block i, so pairs stay aligned even when the last
            // block is cut short (its rounds pair with nothing and only count in totals).
            outcome
                .rounds
                .push(measurement(vi, &data, counters, open, steal));
            if cancelled {
                outcome.measured_for = started.elapsed();
                outcome.stop = StopReason::Interrupted;
                return Ok(outcome);
            }
        }
        outcome.blocks += 1;
        outcome.measured_for = started.elapsed();
        if let Some(path) = plan.readiness_path
            && !ready(target, path).await
        {
            outcome
                .not_ready
                .push(format!("after block {}", outcome.blocks));
            outcome.stop = StopReason::ServiceNotReady;
            return Ok(outcome);
        }
        if let Some(n) = plan.stop.fixed_blocks {
            if outcome.blocks >= n {
                outcome.stop = StopReason::FixedRounds;
                return Ok(outcome);
            }
            continue;
        }
        if plan.variants.len() > 1
            && outcome.blocks >= min_blocks
            && precise_enough(plan, &outcome.rounds)
        {
            outcome.stop = StopReason::PrecisionReached;
            return Ok(outcome);
        }
        // A single URL has nothing to compare: it runs its budget, in rounds.
        if outcome.measured_for + block_time > plan.stop.max_time {
            outcome.stop = StopReason::BudgetExhausted;
            return Ok(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::block_order;

    #[test]
    fn blocks_are_seeded_permutations() {
        for block in 0..50 {
            let mut o = block_order(4, 7, block);
            assert_eq!(o, block_order(4, 7, block), "reproducible");
            o.sort();
            assert_eq!(o, vec![0, 1, 2, 3]);
        }
        // Both orders of two variants occur, about equally.
        let first_b = (0..1000).filter(|&b| block_order(2, 1, b)[0] == 1).count();
        assert!((400..600).contains(&first_b), "{first_b}");
    }
}

//! Runs one round of one load model against one target and records it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::client::{ClientError, Connection, Target};
use crate::intervals::Interval;
use crate::model::{LoadModel, ModelError};
use crate::record::{Recorder, Tally};
use crate::schedule::{ArrivalSchedule, target_vus};
use crate::shard::Stripe;
use crate::workload::{ResponseView, VirtualUser, Workload, WorkloadError};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the workload failed: {0}")]
    Workload(#[from] WorkloadError),
    #[error("invalid load model: {0}")]
    Model(#[from] ModelError),
    /// The workload asked for a request that cannot be sent. Stopping beats counting the same
    /// mistake as an error thousands of times a second.
    #[error("the workload's request cannot be sent: {0}")]
    InvalidRequest(ClientError),
    #[error("a virtual user panicked: {0}")]
    Panicked(String),
}

/// Live figures for a progress display, twice a second.
pub struct Live {
    pub elapsed: Duration,
    pub total: Duration,
    pub completed: u64,
    pub rate: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

pub struct RoundConfig {
    pub model: LoadModel,
    pub target: Target,
    pub workload: Arc<dyn Workload>,
    pub seed: u64,
    pub timeout: Duration,
    /// Threads the runtime records from (for histogram shards).
    pub threads: usize,
    /// The first part of the round, not measured (see [`Recorder`]). The model runs for its
    /// duration *plus* this.
    pub settle: Duration,
    /// Cancelled on Ctrl-C: in-flight requests are abandoned and the round ends at once.
    pub cancel: CancellationToken,
    /// Called twice a second with live figures.
    pub progress: Option<Box<dyn Fn(Live) + Send + Sync>>,
    /// Keep per-second histograms of the measured part, for an interval log (`--hlog`).
    pub intervals: bool,
    /// This load generator's part of the schedule (`--shard`): the arrivals or VUs it runs, by
    /// their global numbers. `None`: all of it.
    pub stripe: Option<Stripe>,
}

pub struct RoundData {
    pub recorder: Recorder,
    /// The measured part of the round (after the settle period).
    pub elapsed: Duration,
    /// Open models: scheduled sends that never started before the end (target too slow, or
    /// not enough VUs). Reported, never hidden.
    pub unsent: u64,
    pub scheduled: u64,
    pub harness_cpu: Duration,
    pub cancelled: bool,
    /// Per-second histograms of the measured part (empty unless asked for).
    pub intervals: Vec<Interval>,
}

struct Shared {
    model: LoadModel,
    target: Target,
    timeout: Duration,
    recorder: Recorder,
    start: Instant,
    end: Instant,
    cancel: CancellationToken,
    // Open models only.
    schedule: Option<ArrivalSchedule>,
    slots: Semaphore,
    next_slot: AtomicU64,
}

pub async fn run_round(cfg: RoundConfig) -> Result<RoundData, EngineError> {
    cfg.model.validate()?;
    // Each VU by its global number: a shard runs its stripe's, so a ramp starts VUs in the
    // same order as one process would, and a VU's seed does not depend on the split.
    let vus: Vec<u32> = match &cfg.stripe {
        None => (0..cfg.model.max_vus()).collect(),
        Some(stripe) => {
            let mine = stripe.local(cfg.model.max_vus() as u64);
            // An open model's VUs only carry its sends: a shard with sends needs one.
            let mine = if cfg.model.is_open() {
                mine.max(1)
            } else {
                mine
            };
            (0..mine).map(|n| stripe.global(n) as u32).collect()
        }
    };
    // Create every VU first: a broken workload fails before any load is sent.
    let mut users = Vec::with_capacity(vus.len());
    for &i in &vus {
        users.push((
            i,
            cfg.workload
                .virtual_user(i, cfg.seed.wrapping_add(i as u64))?,
        ));
    }
    // The settle period runs the same model; it is only not measured.
    let model = if cfg.settle.is_zero() {
        cfg.model
    } else {
        cfg.model.with_duration(cfg.model.duration() + cfg.settle)
    };
    let duration = model.duration();
    let open = model.is_open();
    let cpu_before = process_cpu();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        schedule: ArrivalSchedule::for_model(&model).map(|s| match &cfg.stripe {
            Some(stripe) => s.striped(stripe.clone()),
            None => s,
        }),
        model,
        target: cfg.target,
        timeout: cfg.timeout,
        recorder: Recorder::new(duration, cfg.threads, open, cfg.settle, cfg.intervals),
        start,
        end: start + duration,
        cancel: cfg.cancel.child_token(),
        slots: Semaphore::new(0),
        next_slot: AtomicU64::new(0),
    });

    let scheduler_done = Arc::new(AtomicBool::new(false));
    let scheduler = shared.schedule.clone().map(|schedule| {
        let shared = shared.clone();
        let done = scheduler_done.clone();
        // A plain thread: tokio's timer ticks in milliseconds, too coarse for thousands of
        // sends per second; nanosleep is accurate to tens of microseconds.
        std::thread::spawn(move || release_slots(&shared, &schedule, &done))
    });

    let ticker = cfg.progress.map(|report| {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            let mut last = (Instant::now(), 0u64);
            loop {
                tick.tick().await;
                let rec = &shared.recorder;
                let completed = rec.completed();
                let now = Instant::now();
                let rate = (completed - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-3);
                last = (now, completed);
                report(Live {
                    elapsed: now - shared.start,
                    total: shared.end - shared.start,
                    completed,
                    rate,
                    p99_ms: rec.latency.merged().value_at_quantile(0.99) as f64 / 1e6,
                    errors: rec.errors.load(Ordering::Relaxed),
                });
            }
        })
    });

    // The interval log's clock: a snapshot every second from the end of the settle period.
    let clock = shared.recorder.intervals.is_some().then(|| {
        let shared = shared.clone();
        tokio::spawn(async move {
            let second = Duration::from_secs(1);
            let first = tokio::time::Instant::from_std(shared.recorder.measure_from + second);
            let mut tick = tokio::time::interval_at(first, second);
            loop {
                tick.tick().await;
                shared.recorder.take_interval(Instant::now());
            }
        })
    });

    let tasks: Vec<_> = users
        .into_iter()
        .map(|(i, user)| {
            let shared = shared.clone();
            tokio::spawn(async move {
                if open {
                    open_vu(user, &shared).await
                } else {
                    closed_vu(i, user, &shared).await
                }
            })
        })
        .collect();
    // Ctrl-C aborts the VU tasks outright (in-flight requests are abandoned): cheaper than
    // racing every request against the cancellation token.
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let watcher = {
        let cancel = shared.cancel.clone();
        tokio::spawn(async move {
            cancel.cancelled().await;
            aborts.iter().for_each(|a| a.abort());
        })
    };
    let mut failure = None;
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                shared.cancel.cancel();
                failure.get_or_insert(e);
            }
            Err(join) if join.is_cancelled() => {}
            Err(join) => {
                shared.cancel.cancel();
                failure.get_or_insert(EngineError::Panicked(join.to_string()));
            }
        }
    }
    watcher.abort();
    if let Some(t) = ticker {
        t.abort();
        let _ = t.await;
    }
    if let Some(s) = scheduler {
        let _ = s.join();
    }
    if let Some(c) = clock {
        c.abort();
        let _ = c.await;
        // The last, shorter interval: up to the moment the last request completed.
        shared.recorder.take_interval(Instant::now());
    }
    let total = start.elapsed();
    if let Some(e) = failure {
        return Err(e);
    }
    let elapsed = total.saturating_sub(cfg.settle);
    let scheduled =
        shared.next_slot.load(Ordering::Relaxed) + shared.slots.available_permits() as u64;
    let claimed = shared.next_slot.load(Ordering::Relaxed);
    let cancelled = cfg.cancel.is_cancelled();
    let mut shared = Arc::into_inner(shared).expect("all VU tasks finished");
    let intervals = shared
        .recorder
        .intervals
        .take()
        .map(|i| i.into_intervals())
        .unwrap_or_default();
    Ok(RoundData {
        intervals,
        recorder: shared.recorder,
        elapsed,
        unsent: scheduled - claimed,
        scheduled,
        // The generator works alike through the round: its measured part's share of the CPU.
        harness_cpu: process_cpu()
            .saturating_sub(cpu_before)
            .mul_f64(elapsed.as_secs_f64() / total.as_secs_f64().max(1e-9)),
        cancelled,
    })
}

/// Releases one permit per scheduled send at its intended time.
///
/// After each wake-up it releases every send that is due by then in one step (the schedule
/// inverts its own integral, so this is O(1) whatever the rate): a late wake-up or a very high
/// rate never makes this thread count sends one by one.
fn release_slots(shared: &Shared, schedule: &ArrivalSchedule, done: &AtomicBool) {
    let total = schedule.total();
    let mut released = 0u64;
    while released < total {
        let Some(next) = schedule.offset(released) else {
            break;
        };
        let at = shared.start + next;
        loop {
            if shared.cancel.is_cancelled() {
                shared.slots.close();
                return done.store(true, Ordering::Release);
            }
            let now = Instant::now();
            if now >= at {
                break;
            }
            std::thread::sleep((at - now).min(Duration::from_millis(50)));
        }
        let due = schedule
            .due_by(shared.start.elapsed())
            .clamp(released + 1, total);
        shared.slots.add_permits((due - released) as usize);
        released = due;
    }
    // Sends still waiting for a VU at the end are counted as unsent, not sent late.
    let now = Instant::now();
    if shared.end > now {
        std::thread::sleep(shared.end - now);
    }
    shared.slots.close();
    done.store(true, Ordering::Release);
}

/// A VU's own tally, handed to the recorder when the VU ends — also when its task is
/// aborted (Ctrl-C), since dropping the task drops this.
struct VuTally<'a> {
    tally: Tally,
    recorder: &'a Recorder,
}

impl Drop for VuTally<'_> {
    fn drop(&mut self) {
        self.recorder.absorb(std::mem::take(&mut self.tally));
    }
}

async fn open_vu(mut user: Box<dyn VirtualUser>, shared: &Shared) -> Result<(), EngineError> {
    let mut conn = Connection::new(shared.target.clone());
    let mut tally = VuTally {
        tally: Tally::default(),
        recorder: &shared.recorder,
    };
    let schedule = shared.schedule.as_ref().expect("open model");
    let mut iteration = 0;
    loop {
        let permit = tokio::select! {
            p = shared.slots.acquire() => match p { Ok(p) => p, Err(_) => return Ok(()) },
            _ = shared.cancel.cancelled() => return Ok(()),
        };
        permit.forget();
        let n = shared.next_slot.fetch_add(1, Ordering::Relaxed);
        let intended = shared.start + schedule.offset(n).unwrap_or_default();
        exchange(
            &mut *user,
            &mut conn,
            shared,
            &mut tally.tally,
            iteration,
            Some(intended),
        )
        .await?;
        iteration += 1;
    }
}

async fn closed_vu(
    index: u32,
    mut user: Box<dyn VirtualUser>,
    shared: &Shared,
) -> Result<(), EngineError> {
    let mut conn = Connection::new(shared.target.clone());
    let mut tally = VuTally {
        tally: Tally::default(),
        recorder: &shared.recorder,
    };
    let think = match &shared.model {
        LoadModel::ConstantVus { think_time, .. } | LoadModel::RampingVus { think_time, .. } => {
            *think_time
        }
        _ => Duration::ZERO,
    };
    let mut iteration = 0;
    loop {
        let now = Instant::now();
        if now >= shared.end || shared.cancel.is_cancelled() {
            return Ok(());
        }
        if index >= target_vus(&shared.model, now - shared.start) {
            // Not wanted right now (ramping): idle and look again. Idle VUs keep their
            // connection open, as k6's do.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = shared.cancel.cancelled() => return Ok(()),
            }
            continue;
        }
        exchange(
            &mut *user,
            &mut conn,
            shared,
            &mut tally.tally,
            iteration,
            None,
        )
        .await?;
        iteration += 1;
        if !think.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(think) => {}
                _ = shared.cancel.cancelled() => return Ok(()),
            }
        }
    }
}

/// One request: ask the workload, send, record, let the workload check the answer.
async fn exchange(
    user: &mut dyn VirtualUser,
    conn: &mut Connection,
    shared: &Shared,
    tally: &mut Tally,
    iteration: u64,
    intended: Option<Instant>,
) -> Result<(), EngineError> {
    let spec = user.next_request(iteration)?;
    let need = user.body_need();
    let want_headers = user.reads_headers();
    let sent = Instant::now();
    let intended = intended.unwrap_or(sent);
    let rec = &shared.recorder;
    rec.send_started(intended, sent, spec.body.len() as u64);
    let answer = conn.send(&spec, need, want_headers, shared.timeout).await;
    let done = Instant::now();
    match answer {
        Ok(answer) => {
            let measured = rec.response(intended, sent, done, answer.status, answer.body_len);
            if measured {
                tally.request(
                    &spec.name,
                    Some(done.saturating_duration_since(intended)),
                    answer.status >= 400,
                );
            }
            let view = ResponseView {
                request_name: &spec.name,
                status: answer.status,
                headers: &answer.headers,
                body: &answer.body,
            };
            // Checks run during the settle period too (a plugin's state may depend on them);
            // only measured ones are counted.
            for check in user.check_response(&view)? {
                if measured {
                    rec.check(check.passed);
                    tally.check(&check.name, check.passed);
                }
            }
        }
        Err(e @ ClientError::InvalidRequest(_)) => return Err(EngineError::InvalidRequest(e)),
        Err(e) => {
            if done >= rec.measure_from {
                tally.request(&spec.name, None, true);
            }
            rec.transport_error(done, &e);
            // Do not spin on a dead target: a short pause before the next attempt.
            if intended == sent {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    Ok(())
}

/// CPU time (user + system) used by this process so far.
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

//! Dimension `blocking`: blocking work inside an async handler, and where to put it instead.
//!
//! The lesson: a Tokio worker thread runs many requests by switching between them at every
//! `.await`. A call that blocks — `std::thread::sleep`, a synchronous file read or database
//! client, 20 ms of hashing — never reaches an `.await`, so the worker serves *nothing else*
//! until it returns. With as many workers as cores (2 here), two such requests stop the whole
//! service: an unrelated endpoint that answers in microseconds waits behind them. The victim is
//! the lesson, so the lab measures `GET /blocking/fast` while other clients call
//! `GET /blocking/work` (the lab's `focus`).
//!
//! | option | where the work runs | what the fast endpoint sees |
//! |---|---|---|
//! | `on-worker` | on the worker polling the request | waits behind every blocking call on its worker |
//! | `spawn-blocking` | Tokio's blocking pool (`spawn_blocking`, up to 512 threads) | served at once; for CPU work the pool's threads still compete for the cores |
//! | `bounded-pool` | the blocking pool, at most `blocking.permits` at a time (a semaphore) | served at once, and CPU work cannot take every core |
//! | `async` | nowhere blocking: `tokio::time::sleep`; CPU work in 1 ms slices with a yield between | a wait costs no thread; CPU slices share the worker fairly |
//!
//! `blocking.cpu` picks the kind of work: 0 a blocking wait (`std::thread::sleep`, standing in
//! for synchronous I/O), 1 CPU (a hash loop). Counters: `blocking_on_worker_nanoseconds_total`
//! (time the work held a worker thread without yielding), `blocking_permit_wait_nanoseconds_total`
//! (bounded-pool: time waiting for a permit), and `tokio_worker_busy_nanoseconds_total` (the
//! runtime's own count of the time its workers were busy).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::dimension;
use crate::error::ApiError;
use crate::metric_names as names;
use crate::permits::Permits;
use crate::settings::Knob;

dimension! {
    pub enum BlockingKind as "blocking", default OnWorker, knobs [WORK_MS, CPU, PERMITS] {
        /// Naive.
        OnWorker = "the blocking call runs on the Tokio worker polling the request: that worker serves nothing else meanwhile",
        SpawnBlocking = "tokio::task::spawn_blocking: the call moves to Tokio's blocking pool, the worker goes back to serving",
        BoundedPool = "spawn_blocking behind a semaphore of blocking.permits: at most that many at once, the rest wait without holding a thread",
        Async = "no blocking call: tokio::time::sleep for a wait; CPU work in 1 ms slices with a yield between them",
    }
}

pub const WORK_MS: Knob = Knob {
    index: 0,
    name: "blocking.work_ms",
    about: "milliseconds of blocking work per /blocking/work request",
    default: 20,
    max: 1_000,
};

pub const CPU: Knob = Knob {
    index: 1,
    name: "blocking.cpu",
    about: "0: the work is a blocking wait (std::thread::sleep, as synchronous I/O); 1: CPU (a hash loop)",
    default: 0,
    max: 1,
};

pub const PERMITS: Knob = Knob {
    index: 2,
    name: "blocking.permits",
    about: "bounded-pool: how many blocking calls may run at once",
    default: 2,
    max: 1_024,
};

/// Tokio's own ceiling on the blocking pool; a bigger semaphore could not bind anyway.
const MAX_PERMITS: usize = 512;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkDone {
    pub variant: String,
    /// What the work computed (CPU) or 0 (a wait): returned so the compiler cannot drop it.
    pub digest: u64,
}

pub struct BlockingState {
    /// The bounded pool's permits, resized when `blocking.permits` changes.
    permits: Permits,
}

impl Default for BlockingState {
    fn default() -> Self {
        BlockingState {
            permits: Permits::new(PERMITS.default as usize),
        }
    }
}

/// The work itself, the same for every option: `ms` of sleeping or of hashing.
fn blocking_work(ms: u64, cpu: bool) -> u64 {
    let budget = Duration::from_millis(ms);
    if !cpu {
        std::thread::sleep(budget);
        return 0;
    }
    let started = Instant::now();
    let mut digest = 0xcbf2_9ce4_8422_2325u64;
    while started.elapsed() < budget {
        for i in 0..4_096u64 {
            // FNV-1a over a counter: cheap, data-dependent, and not optimised away.
            digest = (digest ^ i).wrapping_mul(0x0100_0000_01b3);
        }
    }
    digest
}

pub async fn work(
    state: &BlockingState,
    kind: BlockingKind,
    ms: u64,
    cpu: bool,
    permits: u64,
) -> Result<WorkDone, ApiError> {
    metrics::counter!(names::BLOCKING_WORK).increment(1);
    let digest = match kind {
        BlockingKind::OnWorker => {
            // The naive call: no `.await` until it returns.
            let started = Instant::now();
            let digest = blocking_work(ms, cpu);
            metrics::counter!(names::BLOCKING_ON_WORKER_NS)
                .increment(started.elapsed().as_nanos() as u64);
            digest
        }
        BlockingKind::SpawnBlocking => spawn_blocking(ms, cpu).await?,
        BlockingKind::BoundedPool => {
            let waiting = Instant::now();
            let _permit = state
                .permits
                .sized(permits, MAX_PERMITS)
                .acquire_owned()
                .await
                .map_err(|e| ApiError::dependency("the blocking pool's semaphore", e))?;
            metrics::counter!(names::BLOCKING_PERMIT_WAIT_NS)
                .increment(waiting.elapsed().as_nanos() as u64);
            spawn_blocking(ms, cpu).await?
        }
        BlockingKind::Async if !cpu => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            0
        }
        BlockingKind::Async => {
            // Cooperative CPU work: 1 ms slices, each followed by a yield, so a fast request
            // waits at most a slice. It still holds a worker for the slices themselves.
            let mut digest = 0;
            for _ in 0..ms {
                let started = Instant::now();
                digest ^= blocking_work(1, true);
                metrics::counter!(names::BLOCKING_ON_WORKER_NS)
                    .increment(started.elapsed().as_nanos() as u64);
                tokio::task::yield_now().await;
            }
            digest
        }
    };
    Ok(WorkDone {
        variant: kind.as_ref().to_string(),
        digest,
    })
}

async fn spawn_blocking(ms: u64, cpu: bool) -> Result<u64, ApiError> {
    tokio::task::spawn_blocking(move || blocking_work(ms, cpu))
        .await
        .map_err(|e| ApiError::dependency("the blocking pool's task", e))
}

/// The runtime's busy time, summed over its workers, as a counter for `/metrics`.
pub fn publish_runtime_busy() {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let m = handle.metrics();
    let busy: Duration = (0..m.num_workers())
        .map(|w| m.worker_total_busy_duration(w))
        .sum();
    metrics::counter!(names::TOKIO_WORKER_BUSY_NS).absolute(busy.as_nanos() as u64);
}

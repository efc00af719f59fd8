//! Dimension `parallelism`: one CPU-bound request done on one thread, or split across the
//! cores inside the request (rayon).
//!
//! The lesson is Amdahl's law (seed 000 §1.2): a request whose work is a serial part `s` and a
//! parallel part `1 − s` finishes at best `1 / (s + (1 − s)/P)` times sooner on P cores. That is
//! *latency*, bought while the machine has idle cores. Under load the cores are busy anyway —
//! with as many requests in flight as cores, each on its own thread, the sequential version
//! already uses every core — so splitting each request cannot raise *throughput*; it adds the
//! cost of handing chunks to other threads and waiting for the slowest. On this 2-core VM the
//! "optimisation" is a latency win at one client and nothing (or a loss) at saturation: a sweep
//! over VUs shows both, and the USL fitted to it says where the ceiling is.
//!
//! | option | where the work runs |
//! |---|---|
//! | `sequential` | one blocking-pool thread does the serial part, then every chunk in turn |
//! | `rayon` | the same serial part, then the chunks on a rayon pool of `parallel.threads` threads (0: one per core) |
//!
//! The work is a fixed number of hash iterations (not a time budget, so that a request slowed
//! by sharing a core still does the same work). Both options compute the same digest (a test
//! checks it). Counters: `parallel_requests_total`, `parallel_chunks_total`, and the wall time
//! of each phase, `parallel_serial_nanoseconds_total` and `parallel_split_nanoseconds_total`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::dimension;
use crate::error::ApiError;
use crate::metric_names as names;
use crate::settings::Knob;

dimension! {
    pub enum ParallelKind as "parallelism", default Sequential, knobs [WORK_KITERS, CHUNKS, SERIAL_PERMILLE, THREADS] {
        /// Naive (and, under load, just as good).
        Sequential = "one thread does the request's serial part, then each chunk in turn",
        Rayon = "the serial part, then the chunks in parallel on a rayon pool (parallel.threads; 0: one thread per core)",
    }
}

pub const WORK_KITERS: Knob = Knob {
    index: 0,
    name: "parallel.work_kiters",
    about: "thousands of hash iterations per request (the whole request's CPU work)",
    default: 2_000,
    max: 1_000_000,
};

pub const CHUNKS: Knob = Knob {
    index: 1,
    name: "parallel.chunks",
    about: "how many equal chunks the parallel part is cut into",
    default: 8,
    max: 1_024,
};

pub const SERIAL_PERMILLE: Knob = Knob {
    index: 2,
    name: "parallel.serial_permille",
    about: "the serial share of the work, in thousandths (Amdahl's s): done before the chunks, on one thread",
    default: 100,
    max: 1_000,
};

pub const THREADS: Knob = Knob {
    index: 3,
    name: "parallel.threads",
    about: "rayon: threads of the pool the chunks run on (0: one per core)",
    default: 0,
    max: 64,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Digest {
    pub variant: String,
    /// The same for both options, for the same seed and knobs.
    pub digest: u64,
    pub chunks: u64,
    /// Threads the chunks ran on (1 for sequential).
    pub threads: usize,
}

/// One rayon pool per thread count asked for, built on first use: a `parallel.threads` sweep
/// switches pools between rounds without rebuilding one per request.
#[derive(Default)]
pub struct ParallelState {
    pools: Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>,
}

impl ParallelState {
    fn pool(&self, threads: usize) -> Result<Arc<rayon::ThreadPool>, ApiError> {
        let mut pools = self.pools.lock().expect("rayon pools lock");
        if let Some(p) = pools.get(&threads) {
            return Ok(p.clone());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("rayon-{i}"))
            .build()
            .map_err(|e| ApiError::dependency("a rayon thread pool", e))?;
        let pool = Arc::new(pool);
        pools.insert(threads, pool.clone());
        Ok(pool)
    }
}

/// `iterations` rounds of FNV-1a over a counter, from `seed`: cheap, data-dependent, not
/// optimised away, and the same count of instructions however the threads are scheduled.
fn hash_work(seed: u64, iterations: u64) -> u64 {
    let mut digest = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for i in 0..iterations {
        digest = (digest ^ i).wrapping_mul(0x0100_0000_01b3);
    }
    digest
}

/// The request's work, cut as the knobs say.
#[derive(Debug, Clone, Copy)]
pub struct Work {
    pub seed: u64,
    pub kiters: u64,
    pub chunks: u64,
    pub serial_permille: u64,
}

impl Work {
    fn serial_iterations(&self) -> u64 {
        self.kiters * self.serial_permille
    }

    fn chunk_iterations(&self) -> u64 {
        (self.kiters * 1_000 - self.serial_iterations()) / self.chunks.max(1)
    }

    fn chunk(&self, i: u64) -> u64 {
        hash_work(self.seed.wrapping_add(i + 1), self.chunk_iterations())
    }
}

pub async fn digest(
    state: &Arc<ParallelState>,
    kind: ParallelKind,
    work: Work,
    threads: u64,
) -> Result<Digest, ApiError> {
    metrics::counter!(names::PARALLEL_REQUESTS).increment(1);
    metrics::counter!(names::PARALLEL_CHUNKS).increment(work.chunks);
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n as usize,
    };
    let pool = match kind {
        ParallelKind::Sequential => None,
        ParallelKind::Rayon => Some(state.pool(threads)?),
    };
    // Both run off the async workers, in Tokio's blocking pool: the comparison is about
    // splitting the work, not about blocking the runtime (that is the blocking lab).
    let digest = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let serial = hash_work(work.seed, work.serial_iterations());
        let split = Instant::now();
        metrics::counter!(names::PARALLEL_SERIAL_NS)
            .increment(split.duration_since(started).as_nanos() as u64);
        let chunks = match &pool {
            None => (0..work.chunks)
                .map(|i| work.chunk(i))
                .fold(0, |a, b| a ^ b),
            Some(pool) => pool.install(|| {
                (0..work.chunks)
                    .into_par_iter()
                    .map(|i| work.chunk(i))
                    .reduce(|| 0, |a, b| a ^ b)
            }),
        };
        metrics::counter!(names::PARALLEL_SPLIT_NS).increment(split.elapsed().as_nanos() as u64);
        serial ^ chunks
    })
    .await
    .map_err(|e| ApiError::dependency("the blocking pool's task", e))?;
    Ok(Digest {
        variant: kind.as_ref().to_string(),
        digest,
        chunks: work.chunks,
        threads: match kind {
            ParallelKind::Sequential => 1,
            ParallelKind::Rayon => threads,
        },
    })
}

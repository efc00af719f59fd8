//! Recording one round: HdrHistograms (nanoseconds, 3 significant digits: memory depends on the
//! range of values seen, never on the number of requests), counters, and a series per 100 ms
//! (for charts, and for finding where a warm-up ends). Histograms are sharded per thread so
//! recording never contends on a lock.
//!
//! A round may begin with a *settle* period: requests that complete in it are counted apart
//! and recorded nowhere else, so the variant switch, the new connections and the first
//! requests after them do not colour the measurement.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::client::{ClientError, TransportKind};
use crate::intervals::{IntervalRecorder, Series};

pub use crate::hist::{Hist, new_hist};

/// One histogram per recording thread, merged when read.
pub struct Sharded {
    shards: Box<[Mutex<Hist>]>,
}

thread_local! {
    static SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    };
}

impl Sharded {
    fn new(n: usize) -> Self {
        Sharded {
            shards: (0..n.max(1)).map(|_| Mutex::new(new_hist())).collect(),
        }
    }
    fn record(&self, v: Duration) {
        let i = SHARD.with(|s| *s) % self.shards.len();
        let mut h = self.shards[i].lock().unwrap_or_else(|p| p.into_inner());
        // Saturate rather than fail: a value beyond u64 ns (584 years) cannot happen.
        let _ = h.record(v.as_nanos().max(1) as u64);
    }
    pub fn merged(&self) -> Hist {
        let mut out = new_hist();
        for s in self.shards.iter() {
            let h = s.lock().unwrap_or_else(|p| p.into_inner());
            let _ = out.add(&*h);
        }
        out
    }
}

#[derive(Default)]
pub struct TickBucket {
    pub completed: AtomicU64,
    pub errors: AtomicU64,
}

/// The resolution of the recorded series.
pub const TICK: Duration = Duration::from_millis(100);

pub struct Recorder {
    /// When measuring starts (after the settle period); the series counts from here.
    pub measure_from: Instant,
    /// Requests that completed during the settle period (not recorded otherwise).
    pub settling: AtomicU64,
    /// Open model: latency (from the intended time) and service time differ.
    open: bool,
    /// From the intended send time (open models) or the actual send (closed models).
    pub latency: Sharded,
    /// From the actual send to the last byte.
    pub service: Sharded,
    /// How late sends started after their intended time (open models).
    pub lag: Sharded,
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    pub transport_errors: AtomicU64,
    pub late_sends: AtomicU64,
    pub checks_passed: AtomicU64,
    pub checks_failed: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    ticks: Box<[TickBucket]>,
    error_kinds: Mutex<BTreeMap<ErrorKind, u64>>,
    /// The first message seen of each transport error kind, to show what "connect" meant.
    error_examples: Mutex<BTreeMap<TransportKind, String>>,
    /// Per request name and per check name; each VU keeps its own and hands it over when it
    /// ends, so recording needs no shared lock.
    tally: Mutex<Tally>,
    /// Per-second snapshots of the histograms, when an interval log was asked for.
    pub intervals: Option<IntervalRecorder>,
}

/// What one VU saw, per request name and per check name (at most [`MAX_NAMES`] each; the
/// rest counted under `(other)`: a plugin names its requests and checks, and a buggy one could
/// invent names without end).
#[derive(Default, Clone)]
pub struct Tally {
    pub names: BTreeMap<String, NameTally>,
    /// check name → [passed, failed]
    pub checks: BTreeMap<String, [u64; 2]>,
}

#[derive(Clone)]
pub struct NameTally {
    pub latency: Hist,
    pub requests: u64,
    pub errors: u64,
}

pub const MAX_NAMES: usize = 20;
const OTHER: &str = "(other)";

/// The entry for `name`, or `(other)` once the map holds `MAX_NAMES` names.
fn slot<'a, V: Default>(map: &'a mut BTreeMap<String, V>, name: &str) -> &'a mut V {
    let key = if map.contains_key(name) || map.len() < MAX_NAMES {
        name
    } else {
        OTHER
    };
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("just inserted")
}

impl Default for NameTally {
    fn default() -> Self {
        NameTally {
            latency: new_hist(),
            requests: 0,
            errors: 0,
        }
    }
}

impl Tally {
    /// A measured request named `name`: its latency (none for a transport failure).
    pub fn request(&mut self, name: &str, latency: Option<Duration>, error: bool) {
        let t = slot(&mut self.names, name);
        t.requests += 1;
        t.errors += u64::from(error);
        if let Some(l) = latency {
            let _ = t.latency.record(l.as_nanos().max(1) as u64);
        }
    }

    pub fn check(&mut self, name: &str, passed: bool) {
        slot(&mut self.checks, name)[usize::from(!passed)] += 1;
    }

    fn absorb(&mut self, other: Tally) {
        for (name, t) in other.names {
            let mine = slot(&mut self.names, &name);
            mine.requests += t.requests;
            mine.errors += t.errors;
            let _ = mine.latency.add(&t.latency);
        }
        for (name, [p, f]) in other.checks {
            let mine = slot(&mut self.checks, &name);
            mine[0] += p;
            mine[1] += f;
        }
    }
}

/// Why a request counts as an error: an HTTP status of 400 or more, or a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    Status(u16),
    Transport(TransportKind),
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorKind::Status(s) => write!(f, "HTTP {s}"),
            ErrorKind::Transport(t) => f.write_str(t.label()),
        }
    }
}

/// A send later than this after its intended time counts as late.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

impl Recorder {
    /// A recorder for a round of `expected` length whose first `settle` is not measured;
    /// `intervals`: also keep per-second histograms (see [`Recorder::take_interval`]).
    pub fn new(
        expected: Duration,
        threads: usize,
        open: bool,
        settle: Duration,
        intervals: bool,
    ) -> Recorder {
        // Generous room for the drain after the scheduled end; later ticks fold into the last.
        let ticks = (expected.as_millis() / TICK.as_millis()) as usize + 320;
        let measure_from = Instant::now() + settle;
        let series = if open {
            Series::ALL.to_vec()
        } else {
            vec![Series::Latency]
        };
        Recorder {
            measure_from,
            intervals: intervals.then(|| IntervalRecorder::new(measure_from, series)),
            settling: AtomicU64::new(0),
            open,
            latency: Sharded::new(threads),
            service: Sharded::new(threads),
            lag: Sharded::new(threads),
            ok: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            transport_errors: AtomicU64::new(0),
            late_sends: AtomicU64::new(0),
            checks_passed: AtomicU64::new(0),
            checks_failed: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            ticks: (0..ticks).map(|_| TickBucket::default()).collect(),
            error_kinds: Mutex::new(BTreeMap::new()),
            error_examples: Mutex::new(BTreeMap::new()),
            tally: Mutex::new(Tally::default()),
        }
    }

    fn tick(&self, at: Instant) -> &TickBucket {
        let i = (at.saturating_duration_since(self.measure_from).as_millis() / TICK.as_millis())
            as usize;
        &self.ticks[i.min(self.ticks.len() - 1)]
    }

    /// Whether a request that completed at `done` falls in the measured part of the round; if
    /// not, it is counted as settling.
    fn measured(&self, done: Instant) -> bool {
        if done < self.measure_from {
            self.settling.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// A response arrived. `intended` is when it should have been sent. In closed models that
    /// is the send itself: latency and service time are equal and one histogram serves both.
    /// Returns whether it was measured (false during the settle period).
    pub fn response(
        &self,
        intended: Instant,
        sent: Instant,
        done: Instant,
        status: u16,
        bytes: u64,
    ) -> bool {
        if !self.measured(done) {
            return false;
        }
        self.latency
            .record(done.saturating_duration_since(intended));
        if self.open {
            self.service.record(done.saturating_duration_since(sent));
        }
        self.bytes_received.fetch_add(bytes, Ordering::Relaxed);
        let bucket = self.tick(done);
        bucket.completed.fetch_add(1, Ordering::Relaxed);
        if status >= 400 {
            self.errors.fetch_add(1, Ordering::Relaxed);
            bucket.errors.fetch_add(1, Ordering::Relaxed);
            self.error_kind(ErrorKind::Status(status));
        } else {
            self.ok.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// The request failed below HTTP (connect, reset, timeout).
    pub fn transport_error(&self, done: Instant, error: &ClientError) {
        if !self.measured(done) {
            return;
        }
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.transport_errors.fetch_add(1, Ordering::Relaxed);
        let bucket = self.tick(done);
        bucket.completed.fetch_add(1, Ordering::Relaxed);
        bucket.errors.fetch_add(1, Ordering::Relaxed);
        let kind = error.kind();
        self.error_kind(ErrorKind::Transport(kind));
        self.error_examples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind)
            .or_insert_with(|| error.to_string());
    }

    pub fn send_started(&self, intended: Instant, sent: Instant, body_bytes: u64) {
        if intended < self.measure_from {
            return;
        }
        self.bytes_sent.fetch_add(body_bytes, Ordering::Relaxed);
        if !self.open {
            return;
        }
        let lag = sent.saturating_duration_since(intended);
        self.lag.record(lag);
        if lag > LATE_AFTER {
            self.late_sends.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Service time: its own histogram in open models, the latency histogram in closed ones.
    pub fn service_time(&self) -> Hist {
        if self.open {
            self.service.merged()
        } else {
            self.latency.merged()
        }
    }

    /// Ends the current interval of the interval log at `now` (nothing without one).
    pub fn take_interval(&self, now: Instant) {
        let Some(intervals) = &self.intervals else {
            return;
        };
        let cumulative = intervals
            .series()
            .iter()
            .map(|s| match s {
                Series::Latency => self.latency.merged(),
                Series::Service => self.service.merged(),
                Series::Lag => self.lag.merged(),
            })
            .collect();
        intervals.take(now, cumulative);
    }

    /// A measured check (its name is counted in the VU's [`Tally`]).
    pub fn check(&self, passed: bool) {
        if passed {
            self.checks_passed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.checks_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A VU's tally, handed over when it ends.
    pub fn absorb(&self, tally: Tally) {
        self.tally
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .absorb(tally);
    }

    /// Everything the VUs handed over.
    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn error_kind(&self, kind: ErrorKind) {
        // A closed set (HTTP statuses and transport kinds): no cap needed.
        *self
            .error_kinds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    pub fn completed(&self) -> u64 {
        self.ok.load(Ordering::Relaxed) + self.errors.load(Ordering::Relaxed)
    }

    pub fn error_kinds(&self) -> BTreeMap<ErrorKind, u64> {
        self.error_kinds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn error_examples(&self) -> BTreeMap<TransportKind, String> {
        self.error_examples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Failed checks by name.
    pub fn failed_checks(&self) -> BTreeMap<String, u64> {
        self.tally()
            .checks
            .into_iter()
            .filter(|(_, [_, failed])| *failed > 0)
            .map(|(name, [_, failed])| (name, failed))
            .collect()
    }

    /// Completed requests and errors per whole second of the measured part, up to `seconds`.
    pub fn per_second(&self, seconds: usize) -> Vec<(u64, u64)> {
        let per = (Duration::from_secs(1).as_millis() / TICK.as_millis()) as usize;
        self.ticks
            .chunks(per)
            .take(seconds.max(1))
            .map(|chunk| {
                chunk.iter().fold((0, 0), |(c, e), b| {
                    (
                        c + b.completed.load(Ordering::Relaxed),
                        e + b.errors.load(Ordering::Relaxed),
                    )
                })
            })
            .collect()
    }

    /// Completed requests per [`TICK`] of the measured part, for the first `ticks` ticks.
    pub fn per_tick(&self, ticks: usize) -> Vec<u64> {
        self.ticks
            .iter()
            .take(ticks)
            .map(|b| b.completed.load(Ordering::Relaxed))
            .collect()
    }
}

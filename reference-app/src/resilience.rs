//! Dimension `resilience`: calling an upstream that is slow or failing, and the defences between
//! that call and the user. The options are cumulative, as the source guide's budget stacks them
//! (seed 000 §1.3: timeout 5000 ms, 3 retries, a circuit breaker at 50 %):
//!
//! | option | what one request does |
//! |---|---|
//! | `no-timeout` | one call, waited for however long it takes (naive) |
//! | `timeout` | one call, abandoned after `resilience.timeout_ms` |
//! | `retry` | + up to `resilience.retries` more calls after a failure or a timeout, with exponential backoff and jitter |
//! | `circuit-breaker` | + a breaker: when `resilience.breaker_failure_pct` of the last `resilience.breaker_window` calls failed, calls fail at once for `resilience.breaker_open_ms`, then one probe decides |
//! | `bulkhead` | + at most `resilience.max_in_flight` requests inside the upstream section; the rest are turned away at once |
//!
//! What the defences cost and buy shows in the counters: `resilience_upstream_calls_total` per
//! request is the **call amplification** (retries multiply the load on an upstream that is
//! already failing: the retry storm), `resilience_breaker_rejections_total` the calls the
//! breaker saved, `resilience_db_held_nanoseconds_total` how long requests held a database
//! connection while they waited for the upstream.
//!
//! That last one is how a dead upstream hurts an *unrelated* endpoint. In a thread-per-request
//! server a hung call holds a thread; a Tokio task waiting on a socket holds almost nothing. What
//! it still holds is whatever the handler took before the call — here, with
//! `resilience.hold_db` = 1, a pooled database connection (the handler reads the account, then
//! asks the upstream for a price, as a handler inside a transaction would). With a pool of 8 and
//! calls that hang for a second, `GET /db/users/{id}` waits for a connection that no query uses.
//!
//! The upstream itself (`/flaky/{id}` on [`crate::upstream`]) follows the `flaky.*` knobs: a base
//! latency, a share of fast 503s, a share of slow answers (spikes), and `flaky.down`: every call
//! hangs `flaky.spike_ms`, then fails.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};

use crate::clients::http::HttpClients;
use crate::db::{Db, PooledConnection};
use crate::dimension;
use crate::error::ApiError;
use crate::metric_names as names;
use crate::model::Quote;
use crate::permits::Permits;
use crate::settings::{Knob, Switch};

dimension! {
    pub enum ResilienceKind as "resilience", default NoTimeout,
        knobs [TIMEOUT_MS, RETRIES, BACKOFF_MS, BREAKER_FAILURE_PCT, BREAKER_WINDOW, BREAKER_OPEN_MS,
               MAX_IN_FLIGHT, HOLD_DB, FLAKY_LATENCY_US, FLAKY_FAILURE_PERMILLE, FLAKY_SPIKE_PERMILLE,
               FLAKY_SPIKE_MS, FLAKY_DOWN] {
        /// Naive.
        NoTimeout = "one upstream call, waited for however long it takes",
        Timeout = "one call, abandoned after resilience.timeout_ms (504)",
        Retry = "timeout + up to resilience.retries more calls, exponential backoff with jitter between them",
        CircuitBreaker = "retry + a circuit breaker: after too many recent failures, fail at once instead of calling",
        Bulkhead = "circuit-breaker + at most resilience.max_in_flight requests calling the upstream; the rest get 503 at once",
    }
}

pub const TIMEOUT_MS: Knob = Knob {
    index: 0,
    name: "resilience.timeout_ms",
    about: "how long one upstream call may take before it is abandoned",
    default: 50,
    max: 60_000,
};
pub const RETRIES: Knob = Knob {
    index: 1,
    name: "resilience.retries",
    about: "retry and later: calls made after the first one fails or times out",
    default: 3,
    max: 10,
};
pub const BACKOFF_MS: Knob = Knob {
    index: 2,
    name: "resilience.backoff_ms",
    about: "the first retry's delay; each next one doubles, plus a random jitter up to the delay itself",
    default: 10,
    max: 10_000,
};
pub const BREAKER_FAILURE_PCT: Knob = Knob {
    index: 3,
    name: "resilience.breaker_failure_pct",
    about: "the breaker opens when this many percent of the recent calls failed",
    default: 50,
    max: 100,
};
pub const BREAKER_WINDOW: Knob = Knob {
    index: 4,
    name: "resilience.breaker_window",
    about: "how many recent calls the breaker judges (it waits for this many before opening)",
    default: 20,
    max: 10_000,
};
pub const BREAKER_OPEN_MS: Knob = Knob {
    index: 5,
    name: "resilience.breaker_open_ms",
    about: "how long an open breaker fails calls at once before letting one probe through",
    default: 500,
    max: 600_000,
};
pub const MAX_IN_FLIGHT: Knob = Knob {
    index: 6,
    name: "resilience.max_in_flight",
    about: "bulkhead: requests allowed in the upstream section at once",
    default: 4,
    max: 10_000,
};
pub const HOLD_DB: Knob = Knob {
    index: 7,
    name: "resilience.hold_db",
    about: "1: the handler holds a pooled database connection while it calls the upstream (as inside a transaction)",
    default: 1,
    max: 1,
};
pub const FLAKY_LATENCY_US: Knob = Knob {
    index: 8,
    name: "flaky.latency_us",
    about: "µs the flaky upstream waits before every answer",
    default: 1_000,
    max: 10_000_000,
};
pub const FLAKY_FAILURE_PERMILLE: Knob = Knob {
    index: 9,
    name: "flaky.failure_permille",
    about: "calls in 1000 the flaky upstream answers with a fast 503",
    default: 0,
    max: 1_000,
};
pub const FLAKY_SPIKE_PERMILLE: Knob = Knob {
    index: 10,
    name: "flaky.spike_permille",
    about: "calls in 1000 the flaky upstream answers only after flaky.spike_ms more",
    default: 0,
    max: 1_000,
};
pub const FLAKY_SPIKE_MS: Knob = Knob {
    index: 11,
    name: "flaky.spike_ms",
    about: "the length of a latency spike, and of a hung call while flaky.down = 1",
    default: 1_000,
    max: 20_000,
};
pub const FLAKY_DOWN: Knob = Knob {
    index: 12,
    name: "flaky.down",
    about: "1: the upstream is down: every call hangs flaky.spike_ms, then fails with 503",
    default: 0,
    max: 1,
};

/// The bulkhead cannot usefully be larger than the requests a 2-core service holds at once.
const MAX_BULKHEAD: usize = 10_000;

/// Why one upstream call did not produce a quote.
#[derive(Debug)]
enum CallError {
    /// No answer within `resilience.timeout_ms`.
    Timeout(Duration),
    /// The upstream answered with an error, or the connection failed.
    Failed(String),
    /// The breaker is open: the call was not made.
    Rejected,
}

impl CallError {
    /// A timeout or a failure may go better next time; a breaker's refusal is the point.
    fn retryable(&self) -> bool {
        !matches!(self, CallError::Rejected)
    }

    fn into_api_error(self) -> ApiError {
        match self {
            CallError::Timeout(after) => ApiError::GatewayTimeout(format!(
                "the upstream did not answer within {} ms (resilience.timeout_ms)",
                after.as_millis()
            )),
            CallError::Failed(cause) => ApiError::dependency("the upstream call", cause),
            CallError::Rejected => ApiError::Unavailable(
                "the circuit breaker is open: the upstream failed too many recent calls; \
                 calls resume after resilience.breaker_open_ms"
                    .into(),
            ),
        }
    }
}

/// What the options read from the knobs, once per request.
struct Policy {
    kind: ResilienceKind,
    timeout: Duration,
    retries: usize,
    backoff: Duration,
    breaker: BreakerRule,
}

#[derive(Clone, Copy)]
struct BreakerRule {
    failure_pct: u64,
    window: usize,
    open_for: Duration,
}

impl Policy {
    fn of(s: &Switch<ResilienceKind>) -> Policy {
        Policy {
            kind: s.get(),
            timeout: Duration::from_millis(s.knob(&TIMEOUT_MS)),
            retries: s.knob(&RETRIES) as usize,
            backoff: Duration::from_millis(s.knob(&BACKOFF_MS)),
            breaker: BreakerRule {
                failure_pct: s.knob(&BREAKER_FAILURE_PCT),
                window: s.knob(&BREAKER_WINDOW).max(1) as usize,
                open_for: Duration::from_millis(s.knob(&BREAKER_OPEN_MS)),
            },
        }
    }
}

pub struct ResilienceState {
    breaker: Breaker,
    bulkhead: Permits,
}

impl Default for ResilienceState {
    fn default() -> Self {
        ResilienceState {
            breaker: Breaker::default(),
            bulkhead: Permits::new(MAX_IN_FLIGHT.default as usize),
        }
    }
}

pub struct Ctx<'a> {
    pub state: &'a ResilienceState,
    /// The dimension's switch: the option and its knobs, read once per request.
    pub switch: &'a Switch<ResilienceKind>,
    pub http: &'a HttpClients,
    pub db: &'a Db,
}

/// `GET /resilience/quote/{id}`: read the account, ask the upstream for a price, with the
/// defences of the current option.
pub async fn quote(ctx: &Ctx<'_>, id: u64) -> Result<Quote, ApiError> {
    metrics::counter!(names::RESILIENCE_REQUESTS).increment(1);
    let policy = Policy::of(ctx.switch);
    let held = if ctx.switch.knob(&HOLD_DB) == 1 {
        Some(HeldConnection::take(ctx.db, id).await?)
    } else {
        None
    };
    let answer = defended_call(ctx, &policy, id).await;
    drop(held);
    if answer.is_err() {
        metrics::counter!(names::RESILIENCE_FAILED).increment(1);
    }
    answer.map_err(CallError::into_api_error)
}

/// The options side by side: each adds one defence around the one before.
async fn defended_call(ctx: &Ctx<'_>, policy: &Policy, id: u64) -> Result<Quote, CallError> {
    match policy.kind {
        ResilienceKind::NoTimeout => call(ctx.http, id, None).await,
        ResilienceKind::Timeout => call(ctx.http, id, Some(policy.timeout)).await,
        ResilienceKind::Retry => {
            with_retries(policy, || call(ctx.http, id, Some(policy.timeout))).await
        }
        ResilienceKind::CircuitBreaker => {
            with_retries(policy, || guarded_call(ctx, policy, id)).await
        }
        ResilienceKind::Bulkhead => {
            let bulkhead = ctx
                .state
                .bulkhead
                .sized(ctx.switch.knob(&MAX_IN_FLIGHT), MAX_BULKHEAD);
            // try_acquire, not acquire: a bulkhead that queues only moves the pile-up inside.
            let Ok(_permit) = bulkhead.try_acquire_owned() else {
                metrics::counter!(names::RESILIENCE_BULKHEAD_REJECTIONS).increment(1);
                return Err(CallError::Rejected);
            };
            with_retries(policy, || guarded_call(ctx, policy, id)).await
        }
    }
}

/// Retries with exponential backoff and jitter ([`backon`]): the delays are `backoff`,
/// `2·backoff`, `4·backoff` …, each plus a random share of itself, so that clients that failed
/// together do not all come back at the same instant.
async fn with_retries<F, Fut>(policy: &Policy, attempt: F) -> Result<Quote, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Quote, CallError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.backoff)
        .with_max_delay(Duration::from_secs(1))
        .with_max_times(policy.retries)
        .with_jitter();
    attempt
        .retry(backoff)
        .when(CallError::retryable)
        .notify(|_, _| metrics::counter!(names::RESILIENCE_RETRIES).increment(1))
        .await
}

/// One call through the breaker: refused while it is open, and its outcome recorded.
async fn guarded_call(ctx: &Ctx<'_>, policy: &Policy, id: u64) -> Result<Quote, CallError> {
    let breaker = &ctx.state.breaker;
    breaker.admit(&policy.breaker, Instant::now())?;
    let outcome = call(ctx.http, id, Some(policy.timeout)).await;
    breaker.record(&policy.breaker, outcome.is_ok(), Instant::now());
    outcome
}

/// One call to the upstream's `/flaky/{id}`, on the process's shared (pooled) client.
async fn call(http: &HttpClients, id: u64, timeout: Option<Duration>) -> Result<Quote, CallError> {
    metrics::counter!(names::RESILIENCE_UPSTREAM_CALLS).increment(1);
    let request = async {
        let response = http
            .shared()
            .get(format!("{}/flaky/{id}", http.base_url()))
            .send()
            .await
            .map_err(|e| CallError::Failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(CallError::Failed(format!(
                "upstream answered {}",
                response.status()
            )));
        }
        response
            .json::<Quote>()
            .await
            .map_err(|e| CallError::Failed(e.to_string()))
    };
    let Some(limit) = timeout else {
        return request.await;
    };
    // Dropping the request future on timeout closes its connection: the next call opens a new
    // one (upstream_tls_handshakes_total shows that cost of timeouts).
    tokio::time::timeout(limit, request)
        .await
        .unwrap_or_else(|_| {
            metrics::counter!(names::RESILIENCE_TIMEOUTS).increment(1);
            Err(CallError::Timeout(limit))
        })
}

/// A pooled connection held for the length of the upstream call; the time it was held is
/// counted when it goes back to the pool.
struct HeldConnection {
    _conn: PooledConnection,
    since: Instant,
}

impl HeldConnection {
    async fn take(db: &Db, id: u64) -> Result<HeldConnection, ApiError> {
        // `acquire` counts the wait (db_pool_acquire_wait_nanoseconds_total).
        let mut conn = db
            .acquire()
            .await
            .map_err(|e| ApiError::dependency("taking a database connection", e))?;
        // The account read the price is for: a real query on the connection the call will hold.
        const ACCOUNT: &str = "SELECT COUNT(*) FROM users WHERE id = $1";
        let read = match &mut conn {
            PooledConnection::Sqlite(c) => sqlx::query_scalar::<_, i64>(ACCOUNT)
                .bind(id as i64)
                .fetch_one(&mut **c)
                .await
                .map(drop),
            PooledConnection::Postgres(c) => sqlx::query_scalar::<_, i64>(ACCOUNT)
                .bind(id as i64)
                .fetch_one(&mut **c)
                .await
                .map(drop),
        };
        read.map_err(|e| ApiError::dependency("reading the account", e))?;
        Ok(HeldConnection {
            _conn: conn,
            since: Instant::now(),
        })
    }
}

impl Drop for HeldConnection {
    fn drop(&mut self) {
        metrics::counter!(names::RESILIENCE_DB_HELD_NS)
            .increment(self.since.elapsed().as_nanos() as u64);
    }
}

/// A circuit breaker, written here rather than taken from a crate (`failsafe` is the kept one)
/// because the state machine is the lesson: three states, two counters, read in a minute.
///
/// - **closed**: calls go through; the last `window` outcomes are kept. When the window is full
///   and `failure_pct` of it failed, the breaker opens.
/// - **open**: every call fails at once, for `open_for`.
/// - **half-open**: the first call after that is a probe; the others still fail at once. The
///   probe's success closes the breaker (with an empty window), its failure opens it again. A
///   probe that never reports (its request was cancelled) is replaced after `open_for`.
#[derive(Default)]
struct Breaker {
    state: Mutex<BreakerState>,
}

enum BreakerState {
    Closed { recent: VecDeque<bool> },
    Open { until: Instant },
    HalfOpen { probe_since: Instant },
}

impl Default for BreakerState {
    fn default() -> Self {
        BreakerState::Closed {
            recent: VecDeque::new(),
        }
    }
}

impl Breaker {
    fn admit(&self, rule: &BreakerRule, now: Instant) -> Result<(), CallError> {
        let mut state = self.state.lock().expect("breaker lock");
        let admitted = match &mut *state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now < *until => false,
            BreakerState::Open { .. } => {
                *state = BreakerState::HalfOpen { probe_since: now };
                true
            }
            BreakerState::HalfOpen { probe_since } if now < *probe_since + rule.open_for => false,
            BreakerState::HalfOpen { probe_since } => {
                *probe_since = now;
                true
            }
        };
        if admitted {
            Ok(())
        } else {
            metrics::counter!(names::RESILIENCE_BREAKER_REJECTIONS).increment(1);
            Err(CallError::Rejected)
        }
    }

    fn record(&self, rule: &BreakerRule, ok: bool, now: Instant) {
        let mut state = self.state.lock().expect("breaker lock");
        let open = match &mut *state {
            BreakerState::Closed { recent } => {
                recent.push_back(ok);
                while recent.len() > rule.window {
                    recent.pop_front();
                }
                let failed = recent.iter().filter(|ok| !**ok).count() as u64;
                recent.len() >= rule.window && failed * 100 >= rule.failure_pct * rule.window as u64
            }
            BreakerState::HalfOpen { .. } if ok => {
                *state = BreakerState::default();
                false
            }
            BreakerState::HalfOpen { .. } => true,
            // Calls admitted before the breaker opened, answering late: nothing to decide.
            BreakerState::Open { .. } => false,
        };
        if open {
            metrics::counter!(names::RESILIENCE_BREAKER_OPENED).increment(1);
            *state = BreakerState::Open {
                until: now + rule.open_for,
            };
        }
    }

    #[cfg(test)]
    fn is_open(&self) -> bool {
        !matches!(*self.state.lock().unwrap(), BreakerState::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: BreakerRule = BreakerRule {
        failure_pct: 50,
        window: 4,
        open_for: Duration::from_millis(100),
    };

    #[test]
    fn the_breaker_opens_on_a_full_window_of_failures_and_a_probe_closes_it() {
        let b = Breaker::default();
        let t0 = Instant::now();
        // Two failures in two calls: the window is not full yet, so it stays closed.
        b.record(&RULE, false, t0);
        b.record(&RULE, false, t0);
        assert!(!b.is_open());
        b.record(&RULE, true, t0);
        b.record(&RULE, false, t0); // 3 of 4 failed
        assert!(b.is_open());
        assert!(matches!(b.admit(&RULE, t0), Err(CallError::Rejected)));
        // After open_for, one probe goes through and the next caller is still refused.
        let later = t0 + RULE.open_for;
        assert!(b.admit(&RULE, later).is_ok());
        assert!(b.admit(&RULE, later).is_err());
        b.record(&RULE, true, later);
        assert!(!b.is_open());
        assert!(b.admit(&RULE, later).is_ok());
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_a_lost_probe_is_replaced() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for _ in 0..4 {
            b.record(&RULE, false, t0);
        }
        let probe_at = t0 + RULE.open_for;
        assert!(b.admit(&RULE, probe_at).is_ok());
        b.record(&RULE, false, probe_at);
        assert!(b.admit(&RULE, probe_at + RULE.open_for / 2).is_err());
        // A probe admitted and never recorded (its request was cancelled) ...
        let second = probe_at + RULE.open_for;
        assert!(b.admit(&RULE, second).is_ok());
        assert!(b.admit(&RULE, second + RULE.open_for / 2).is_err());
        // ... is replaced by another after open_for.
        assert!(b.admit(&RULE, second + RULE.open_for).is_ok());
    }

    #[test]
    fn below_the_threshold_it_stays_closed() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for ok in [true, false, true, true, true, false, true, true] {
            b.record(&RULE, ok, t0);
        }
        assert!(!b.is_open());
    }
}

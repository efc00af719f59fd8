//! Lab: lock contention. A key/value store behind one global mutex, a read/write lock, and a
//! sharded map, under concurrent reads and writes with real work inside the critical section.

use perflab_plugin::*;

struct LockContention;

const READ_PERCENT_DEFAULT: i64 = 90;

impl Lab for LockContention {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let work_us = int_param(&params, "work_us", 20);
        let io_us = int_param(&params, "io_us", 500);
        let settings = |store: &str| {
            vec![
                option("store", store),
                knob("store.work_us", work_us),
                knob("store.io_us", io_us),
            ]
        };
        Description {
            name: "lock-contention".into(),
            summary: "One global lock vs a read/write lock vs a sharded map, with real work \
                inside the critical section."
                .into(),
            params: vec![
                param(
                    "work_us",
                    "µs of CPU work done while holding the lock (0 = a bare map \
                    operation)",
                    Value::Integer(20),
                ),
                param(
                    "keys",
                    "distinct keys the virtual users touch",
                    Value::Integer(64),
                ),
                param(
                    "read_percent",
                    "share of requests that are reads",
                    Value::Integer(READ_PERCENT_DEFAULT),
                ),
                param(
                    "io_us",
                    "µs of slow I/O per write (write-behind); mutex-across-io holds \
                    the lock during it",
                    Value::Integer(500),
                ),
            ],
            variants: vec![
                variant(
                    "global-mutex",
                    "std Mutex<HashMap>: every request queues on one lock",
                    settings("global-mutex"),
                ),
                variant(
                    "rw-lock",
                    "RwLock<HashMap>: readers share, writers exclude",
                    settings("rw-lock"),
                ),
                variant(
                    "sharded",
                    "DashMap: one lock per shard",
                    settings("sharded"),
                ),
                variant(
                    "mutex-across-io",
                    "the classic mistake: one lock held while awaiting the \
                    write's I/O",
                    settings("mutex-across-io"),
                ),
            ],
            load: constant_vus(16, 8.0),
            quick_load: constant_vus(16, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 2000,
            thresholds: vec![error_rate_below(0.01)],
            teaching: Teaching {
                hypothesis: "Splitting one lock into many shards lets concurrent requests proceed \
                    in parallel, so a sharded map serves more requests per second than a global \
                    mutex."
                    .into(),
                prediction_prompt: format!(
                    "16 clients, 2 cores, {work_us} µs of CPU work inside the lock, 90 % reads. \
                        How much more throughput will `sharded` give than `global-mutex`: none, \
                        1.5×, 2×, or 10×? And how much will holding the lock across {io_us} µs of \
                        I/O per write cost?"
                ),
                explanation: "Read `store_lock_wait_µs` per request. Sharding removes most of the \
                    waiting for the lock — but waiting is not the bottleneck when the CPU is: on \
                    2 cores, shared with the load generator, the work inside the lock keeps every \
                    core busy whichever lock guards it, so throughput barely moves (that \
                    refutation is the lesson here). The lock that hurts is the one held across \
                    I/O: `mutex-across-io` makes every request wait for every write's I/O, and \
                    the lock wait per request explodes. Fix that first: never await while holding \
                    a lock."
                    .into(),
            },
            needs: vec![],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::None,
        }
    }
}

struct User {
    rng: Rng,
    keys: u64,
    read_percent: u64,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        User {
            rng: Rng::new(config.seed),
            keys: int_param(&config.params, "keys", 64).max(1) as u64,
            read_percent: int_param(&config.params, "read_percent", READ_PERCENT_DEFAULT)
                .clamp(0, 100) as u64,
        }
    }

    fn next_request(&self, iteration: u64) -> Result<Request, String> {
        // Each VU first writes every key once, so reads never miss.
        if iteration < self.keys {
            return Ok(put(numbered("/store/key-", iteration), "initial value").named("write"));
        }
        let key = self.rng.below(self.keys);
        Ok(if self.rng.below(100) < self.read_percent {
            get(numbered("/store/key-", key)).named("read")
        } else {
            put(numbered("/store/key-", key), numbered("value ", iteration)).named("write")
        })
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        vec![check(
            "status is 2xx",
            (200..300).contains(&response.status),
        )]
    }
}

/// What each outcome teaches. The same comparison comes out differently on different days:
/// what decides is whether the lock or the CPU is the bottleneck (how much CPU the load
/// generator leaves the service, and how long the work inside the lock is).
impl Lessons for LockContention {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (candidate.as_str(), metric, outcome) {
            ("rw-lock" | "sharded", Metric::Throughput, Outcome::Faster) => {
                "Splitting the lock paid off: requests were queueing on the one mutex (compare \
                 store_lock_wait_µs per request), and this run left the service enough CPU for \
                 that queue, not the CPU, to be the limit."
            }
            (
                "rw-lock" | "sharded",
                Metric::Throughput,
                Outcome::Equivalent | Outcome::Inconclusive,
            ) => {
                "No throughput from splitting the lock, though its wait time fell (store_lock_wait_µs): \
                 on 2 cores shared with the load generator the CPU is the bottleneck — the work inside \
                 the lock keeps both cores busy whichever lock guards it. Shard a lock when lock wait, \
                 not CPU, dominates; try --param work_us=0 or fewer VUs to see the difference shrink \
                 or grow."
            }
            ("rw-lock" | "sharded", Metric::Throughput, Outcome::Slower) => {
                "Splitting the lock cost more than it saved: its extra hashing and locking is pure \
                 overhead when requests rarely wait for each other."
            }
            ("mutex-across-io", Metric::Throughput | Metric::P99, Outcome::Slower) => {
                "Holding the lock across I/O makes every request wait for every write's I/O: the lock \
                 wait per request explodes, throughput falls and the tail grows. Never await while \
                 holding a lock."
            }
            ("mutex-across-io", _, Outcome::Equivalent | Outcome::Inconclusive) => {
                "Holding the lock across I/O did not show here: with this few writes (read_percent) or \
                 this little I/O per write (io_us), the held lock rarely blocked anyone. Raise io_us \
                 or lower read_percent and it will."
            }
            (_, Metric::P99, Outcome::Faster) => {
                "The tail shrank: fewer requests queued behind one lock holder."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(LockContention);

//! Lab: like counter. Concurrent increments of a few hot counters: read-modify-write (which
//! loses updates), a lock held for the read and the write, optimistic retries on a version
//! column, one atomic UPDATE, and Redis INCR written back in batches.

use perflab_plugin::*;

struct LikeCounter;

impl Lab for LikeCounter {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let counters = int_param(&params, "counters", 4);
        let work_us = int_param(&params, "work_us", 0);
        let db = text_param(&params, "db", "sqlite");
        let likes = |name: &str| vec![option("likes", name), knob("likes.work_us", work_us)];
        let lock = if db == "postgres" {
            "SELECT ... FOR UPDATE: the row is locked from the read to the commit"
        } else {
            "BEGIN IMMEDIATE: SQLite's write lock (the whole database) from the read to the commit"
        };
        Description {
            name: "like-counter".into(),
            summary: format!(
                "Concurrent likes on {counters} hot counters, five ways, on {db}: which are fast, \
                 and which are right."
            ),
            params: vec![
                param(
                    "counters",
                    "hot counters the virtual users like (1..=100): fewer means more conflicts",
                    Value::Integer(4),
                ),
                param(
                    "work_us",
                    "µs of application work between reading a count and writing it",
                    Value::Integer(0),
                ),
                db_param(),
            ],
            variants: vec![
                variant(
                    "read-modify-write",
                    "SELECT the count, UPDATE it to count + 1: no lock, no check",
                    likes("read-modify-write"),
                ),
                variant("lock-for-update", lock, likes("lock-for-update")),
                variant(
                    "optimistic-version",
                    "UPDATE ... WHERE version = the version read; retry when it changed",
                    likes("optimistic-version"),
                ),
                variant(
                    "atomic-update",
                    "UPDATE ... SET likes = likes + 1: the database does the arithmetic",
                    likes("atomic-update"),
                ),
                variant(
                    "redis-incr",
                    "Redis INCR, written back to the database in batches",
                    likes("redis-incr"),
                ),
            ],
            load: constant_vus(16, 8.0),
            quick_load: constant_vus(16, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 1000,
            thresholds: vec![error_rate_below(0.01)],
            teaching: Teaching {
                hypothesis: "Incrementing a counter is one read and one write; a lock makes it \
                    correct and slow, so the fast ways must give something up."
                    .into(),
                prediction_prompt: format!(
                    "16 users liking {counters} counters on {db}. How many of read-modify-write's \
                        likes will be lost? Which correct variant is fastest, and by how much?"
                ),
                explanation: "The service counts every like it acknowledged and compares that \
                    with what is stored: `likes_lost_update_violations` is the likes it said yes \
                    to and then lost, and perflab fails any variant that has one. \
                    Read-modify-write loses them because two requests read the same count. The \
                    lock makes the read and the write one step (`likes_lock_wait` is the queue it \
                    forms); the version column detects the race and retries (`likes_retries`); \
                    the atomic UPDATE needs neither, because the database adds one under its own \
                    row lock in a single statement. Redis INCR is one in-memory command, but the \
                    likes pending in Redis are lost if Redis dies before the write-back."
                    .into(),
            },
            needs: vec![Need::Redis],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::None,
        }
    }
}

struct User {
    rng: Rng,
    paths: Vec<String>,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        let counters = int_param(&config.params, "counters", 4).clamp(1, 100) as u64;
        User {
            rng: Rng::new(config.seed),
            paths: (1..=counters).map(|id| numbered("/likes/", id)).collect(),
        }
    }

    fn next_request(&self, _iteration: u64) -> Result<Request, String> {
        let path = &self.paths[self.rng.below(self.paths.len() as u64) as usize];
        Ok(post(path.clone(), Vec::new()).named("like"))
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        // A 200 here is the service's word that the like is stored; whether it kept its word
        // is its own audit's job (likes_lost_update_violations).
        vec![check("status is 200", response.status == 200)]
    }
}

/// What each outcome teaches.
impl Lessons for LikeCounter {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (metric, candidate.as_str(), outcome) {
            (Metric::Throughput, "lock-for-update", _) => {
                "The lock is correct and costs a queue: every like of a hot counter waits for the \
                 one before it to commit (likes_lock_wait per request). On SQLite the lock is the \
                 whole database, and waiters poll in the busy handler."
            }
            (Metric::Throughput, "optimistic-version", _) => {
                "Correct without a lock: a writer that lost the race retries (likes_retries per \
                 request). Few hot counters mean many retries; many counters, almost none."
            }
            (Metric::Throughput, "atomic-update", Outcome::Faster) => {
                "One statement instead of two, and the database increments under its own row \
                 lock: faster than the broken read-modify-write, and correct. The first fix to \
                 reach for."
            }
            (Metric::Throughput, "atomic-update", _) => {
                "As fast as the broken read-modify-write (or nearly), and correct: one statement, \
                 the increment done under the database's own row lock, no retries, no lock held \
                 by the application."
            }
            (Metric::Throughput, "redis-incr", _) => {
                "An in-memory INCR instead of a database write, written back in batches: fast, and \
                 the likes waiting for the write-back are lost if Redis dies first."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(LikeCounter);

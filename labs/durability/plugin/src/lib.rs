//! Lab: durability. What a commit costs and what it promises: SQLite's rollback journal with
//! synchronous=FULL, WAL with NORMAL, WAL with OFF; PostgreSQL's synchronous_commit on, off,
//! and on with commit_delay (group commit). Before the measured rounds the harness kills the
//! service — and on PostgreSQL the database server — mid-write and counts the acknowledged
//! writes that survived (`crash-check`).

use perflab_plugin::*;

struct Durability;

impl Lab for Durability {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let db = text_param(&params, "db", "sqlite");
        let vus = int_param(&params, "vus", 16).clamp(1, 256) as u32;
        let delay = int_param(&params, "commit_delay_us", 1000);
        let durability = |name: &str| {
            vec![
                option("durability", name),
                knob("durability.commit_delay_us", delay),
            ]
        };
        let (variants, thresholds) = if db == "postgres" {
            (
                vec![
                    variant(
                        "sync-commit",
                        "synchronous_commit=on: every commit waits for its WAL fsync",
                        durability("sync-commit"),
                    ),
                    variant(
                        "async-commit",
                        "synchronous_commit=off: acknowledged before the WAL reaches the disk",
                        durability("async-commit"),
                    ),
                    variant(
                        "group-commit",
                        "synchronous_commit=on with commit_delay: wait so others share the fsync",
                        durability("group-commit"),
                    ),
                ],
                vec![error_rate_below(0.01)],
            )
        } else {
            (
                vec![
                    variant(
                        "rollback-full",
                        "rollback journal + synchronous=FULL: journal and database fsynced per commit",
                        durability("rollback-full"),
                    ),
                    variant(
                        "wal-normal",
                        "WAL + synchronous=NORMAL: a commit is a write() of the WAL",
                        durability("wal-normal"),
                    ),
                    variant(
                        "wal-off",
                        "WAL + synchronous=OFF: never an fsync",
                        durability("wal-off"),
                    ),
                ],
                vec![
                    relative(
                        "wal-normal",
                        Metric::Throughput,
                        Comparison::Ge,
                        2.0,
                        "rollback-full",
                    ),
                    error_rate_below(0.01),
                ],
            )
        };
        Description {
            name: "durability".into(),
            summary: format!(
                "One-row commits from {vus} writers on {db}, three durability settings: what a \
                 commit costs, and what survives kill -9."
            ),
            params: vec![
                param(
                    "vus",
                    "concurrent writers (1..=256): more writers share PostgreSQL's WAL flushes",
                    Value::Integer(16),
                ),
                param(
                    "commit_delay_us",
                    "group-commit: PostgreSQL's commit_delay in µs (0..=100000)",
                    Value::Integer(1000),
                ),
                db_param(),
            ],
            variants,
            load: constant_vus(vus, 8.0),
            quick_load: constant_vus(vus, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 1000,
            thresholds,
            teaching: Teaching {
                hypothesis: "Turning off fsync makes writes faster and costs nothing, because \
                    databases rarely crash."
                    .into(),
                prediction_prompt: format!(
                    "One-row commits from {vus} writers on {db}, with the fsync latency printed \
                     above. How much faster is the setting that does not wait for the disk — and \
                     when the service is killed mid-write, how many acknowledged writes are gone?"
                ),
                explanation: "Compare the commit time per request (durability_commit_µs) with the \
                    fsync latency printed above: a commit that waits for the disk costs about one \
                    fsync (SQLite's rollback journal: several). The crash table shows the other \
                    half: a killed process loses nothing in any SQLite mode, because the kernel \
                    already has the data; only an OS crash or power cut would tell the settings \
                    apart, and this machine cannot stage one. On PostgreSQL, killing the server \
                    is enough to lose acknowledged async commits."
                    .into(),
            },
            needs: vec![Need::FsyncProbe],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::Prefix(128),
        }
    }
}

pub struct User {
    /// Built once: `{"payload":"vu V`.
    prefix: String,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        User {
            prefix: numbered("{\"payload\":\"vu ", config.vu as u64),
        }
    }

    fn next_request(&self, iteration: u64) -> Result<Request, String> {
        let mut body = String::with_capacity(self.prefix.len() + 32);
        body.push_str(&self.prefix);
        body.push_str(" write ");
        push_number(&mut body, iteration);
        body.push_str("\"}");
        Ok(post("/durability/writes", body)
            .header("content-type", "application/json")
            .named("write"))
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        let text = String::from_utf8_lossy(&response.body);
        vec![
            check("status is 201", response.status == 201),
            check("the row's id came back", text.contains("\"id\":")),
        ]
    }
}

/// Kill -9 mid-write, for every variant, before the measured rounds.
impl CrashCheck for Durability {
    fn plan(params: Vec<ParamValue>) -> Option<CrashPlan> {
        let db = text_param(&params, "db", "sqlite");
        let failures = if db == "postgres" {
            vec![Failure::ServiceKilled, Failure::DatabaseKilled]
        } else {
            // SQLite is inside the service: killing the service kills the database.
            vec![Failure::ServiceKilled]
        };
        Some(CrashPlan {
            write_path: "/durability/writes".into(),
            audit_path: "/durability/audit".into(),
            failures,
            writers: 8,
            write_ms: 1000,
        })
    }
}

/// Nothing turned on by default (the feature comes with `crash-check`).
impl Defaults for Durability {
    fn profile_hz() -> Option<u32> {
        None
    }

    /// Every request is the lesson: no focus.
    fn focus(_params: Vec<ParamValue>) -> Option<String> {
        None
    }

    fn sweep(_params: Vec<ParamValue>) -> Option<String> {
        None
    }
}

impl Lessons for Durability {
    fn explain(
        candidate: String,
        baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        if metric != Metric::Throughput {
            return None;
        }
        let text = match (candidate.as_str(), baseline.as_str(), outcome) {
            ("wal-normal" | "wal-off", "rollback-full", Outcome::Faster) => {
                "WAL appends each commit to one file and, with synchronous=NORMAL or OFF, does not \
                 fsync it: the commit is a write() into the kernel's page cache instead of the \
                 rollback journal's fsyncs (journal, database, directory). The crash table is the \
                 price list: a killed process loses nothing either way; an OS crash or power cut \
                 may lose WAL-NORMAL's last commits and can corrupt a WAL-OFF database."
            }
            ("wal-off", "wal-normal", Outcome::Equivalent | Outcome::Inconclusive) => {
                "Nothing left to win: in WAL mode NORMAL already skips the fsync per commit, and OFF \
                 only skips the checkpoint's. It buys no speed on commits and gives up the \
                 database's integrity on an OS crash."
            }
            ("async-commit", "sync-commit", Outcome::Faster) => {
                "The commit no longer waits for the WAL fsync. The crash table shows what that \
                 costs: killing the PostgreSQL server loses the acknowledged commits that were \
                 still in its WAL buffers (up to 3 × wal_writer_delay of them)."
            }
            ("async-commit", "sync-commit", Outcome::Equivalent | Outcome::Inconclusive) => {
                "Less than expected: with many concurrent writers PostgreSQL already shares one WAL \
                 fsync among every commit waiting for it, so synchronous commits are cheap per \
                 request. Try `--param vus=1`, where each commit pays its own fsync."
            }
            ("group-commit", "sync-commit", Outcome::Equivalent | Outcome::Inconclusive) => {
                "No difference to see: commit_delay waits only while at least commit_siblings (5) \
                 other transactions are open, so with few writers it never waits and group commit \
                 is plain synchronous commit. Try more writers (`--param vus=64`)."
            }
            ("group-commit", "sync-commit", Outcome::Slower) => {
                "commit_delay makes each commit sleep before flushing so that others can share its \
                 fsync — but PostgreSQL already groups the flushes of concurrent commits, so here \
                 the delay mostly adds latency. It pays only when fsync is slow compared with the \
                 delay and commits arrive within it."
            }
            ("group-commit", "sync-commit", Outcome::Faster) => {
                "The delay gathered enough commits per fsync to pay for itself: fsync on this disk \
                 is slow compared with commit_delay."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(Durability);

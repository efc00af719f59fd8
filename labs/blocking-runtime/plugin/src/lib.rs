//! Lab: blocking the runtime. Some clients call an endpoint that does blocking work
//! (`std::thread::sleep`, or CPU with `--param cpu=true`); the others call an unrelated endpoint
//! that does nothing. The verdict is about the unrelated one (`focus`): how long it waits
//! behind the blocked worker threads, with the work on the worker, in `spawn_blocking`, in a
//! bounded pool, or written as async.

use perflab_plugin::*;

struct BlockingRuntime;

/// The request name the verdict compares: the victim.
const VICTIM: &str = "fast";

fn slow_vus(params: &[ParamValue]) -> u32 {
    int_param(params, "slow_vus", 4).clamp(1, 256) as u32
}

fn fast_vus(params: &[ParamValue]) -> u32 {
    int_param(params, "fast_vus", 4).clamp(1, 256) as u32
}

impl Lab for BlockingRuntime {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let work_ms = int_param(&params, "work_ms", 20).clamp(1, 1000);
        let cpu = flag_param(&params, "cpu", false);
        let permits = int_param(&params, "permits", 2).clamp(1, 1024);
        let settings = |option_name: &str| {
            vec![
                option("blocking", option_name),
                knob("blocking.work_ms", work_ms),
                knob("blocking.cpu", i64::from(cpu)),
                knob("blocking.permits", permits),
            ]
        };
        let kind = if cpu { "CPU work" } else { "a blocking wait" };
        let vus = slow_vus(&params) + fast_vus(&params);
        let mut thresholds = vec![error_rate_below(0.01)];
        if !cpu {
            // A 20 ms sleep on a worker against none: no machine should make this close.
            thresholds.push(relative(
                "spawn-blocking",
                Metric::P99,
                Comparison::Le,
                0.5,
                "on-worker",
            ));
        }
        Description {
            name: "blocking-runtime".into(),
            summary: format!(
                "{} clients make {work_ms} ms of {kind} per request; {} others call an \
                 endpoint that does nothing. Their latency is the verdict.",
                slow_vus(&params),
                fast_vus(&params)
            ),
            params: vec![
                param(
                    "work_ms",
                    "milliseconds of blocking work per slow request",
                    Value::Integer(20),
                ),
                param(
                    "cpu",
                    "the work is CPU (a hash loop) instead of a blocking wait (std::thread::sleep)",
                    Value::Flag(false),
                ),
                param(
                    "slow_vus",
                    "clients calling the blocking endpoint",
                    Value::Integer(4),
                ),
                param(
                    "fast_vus",
                    "clients calling the unrelated fast endpoint (the verdict's requests)",
                    Value::Integer(4),
                ),
                param(
                    "permits",
                    "bounded-pool: blocking calls allowed at once",
                    Value::Integer(2),
                ),
            ],
            variants: vec![
                variant(
                    "on-worker",
                    "the blocking call on the Tokio worker thread",
                    settings("on-worker"),
                ),
                variant(
                    "spawn-blocking",
                    "tokio::task::spawn_blocking: the call on Tokio's blocking pool",
                    settings("spawn-blocking"),
                ),
                variant(
                    "bounded-pool",
                    "spawn_blocking behind a semaphore of `permits`",
                    settings("bounded-pool"),
                ),
                variant(
                    "async",
                    "no blocking call: tokio::time::sleep, or CPU in 1 ms slices with yields",
                    settings("async"),
                ),
            ],
            load: constant_vus(vus, 8.0),
            quick_load: constant_vus(vus, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 1000,
            thresholds,
            teaching: Teaching {
                hypothesis: "A blocking call inside an async handler stops its worker thread; \
                    with as many workers as cores, a few such requests stall every other \
                    request of the service, however cheap."
                    .into(),
                prediction_prompt: format!(
                    "The service has 2 worker threads. {} clients each block for {work_ms} ms \
                     per request. What is the p99 of an endpoint that does nothing — with the \
                     call on the worker, and with spawn_blocking?",
                    slow_vus(&params)
                ),
                explanation: "The verdict compares the fast endpoint only (its requests are \
                    named \"fast\"; the slow ones still run, as load). \
                    blocking_on_worker_µs per request is the time a worker spent unable to \
                    serve anyone; tokio_worker_busy_µs is the runtime's own count."
                    .into(),
            },
            needs: vec![],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::None,
        }
    }
}

struct User {
    slow: bool,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        User {
            slow: config.vu < slow_vus(&config.params),
        }
    }

    fn next_request(&self, _iteration: u64) -> Result<Request, String> {
        Ok(if self.slow {
            get("/blocking/work").named("slow")
        } else {
            get("/blocking/fast").named(VICTIM)
        })
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        vec![check("status is 200", response.status == 200)]
    }
}

impl Defaults for BlockingRuntime {
    fn profile_hz() -> Option<u32> {
        None
    }

    /// The lesson is the victim's latency, not the blocking endpoint's.
    fn focus(_params: Vec<ParamValue>) -> Option<String> {
        Some(VICTIM.into())
    }

    fn sweep(_params: Vec<ParamValue>) -> Option<String> {
        None
    }
}

/// What each outcome teaches, for the victim endpoint.
impl Lessons for BlockingRuntime {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (candidate.as_str(), metric, outcome) {
            ("spawn-blocking" | "async", Metric::P99, Outcome::Faster) => {
                "The fast endpoint no longer waits behind blocked workers: the blocking call \
                 runs on the blocking pool (or does not block at all), so both workers stay \
                 free to poll other requests (blocking_on_worker_µs per request: from the whole \
                 work to 0)."
            }
            ("bounded-pool", Metric::P99, Outcome::Faster) => {
                "The bounded pool keeps the workers free like spawn_blocking, and also caps how \
                 many blocking calls run at once: slow requests queue for a permit \
                 (blocking_permit_wait_µs) instead of taking every core."
            }
            (_, Metric::P99, Outcome::Equivalent | Outcome::Inconclusive) => {
                "The fast endpoint did not wait less: with CPU work, moving it off the workers \
                 does not give the cores back — the blocking pool's threads compete with the \
                 workers for the same 2 cores. Fewer permits, or less work, is the fix there."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(BlockingRuntime);

//! Lab: parallelism inside a request (Amdahl's law). Each request is CPU work with a serial
//! part; `sequential` does it on one thread, `rayon` splits the rest across the cores. The lab
//! sweeps the number of clients by default (`vus=1,2,4,8`): at one client the split buys
//! latency; once there are as many requests in flight as cores, it cannot buy throughput.

use perflab_plugin::*;

struct Parallelism;

impl Lab for Parallelism {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let kiters = int_param(&params, "work_kiters", 2000).clamp(1, 1_000_000);
        let chunks = int_param(&params, "chunks", 8).clamp(1, 1024);
        let serial = int_param(&params, "serial_permille", 100).clamp(0, 1000);
        let threads = int_param(&params, "threads", 0).clamp(0, 64);
        let vus = int_param(&params, "vus", 1).clamp(1, 1024) as u32;
        let settings = |option_name: &str| {
            vec![
                option("parallelism", option_name),
                knob("parallel.work_kiters", kiters),
                knob("parallel.chunks", chunks),
                knob("parallel.serial_permille", serial),
                knob("parallel.threads", threads),
            ]
        };
        Description {
            name: "parallelism".into(),
            summary: format!(
                "{kiters} thousand hash iterations per request, {:.0} % of them serial; \
                 the rest on one thread or in {chunks} chunks across a rayon pool",
                serial as f64 / 10.0
            ),
            params: vec![
                param(
                    "work_kiters",
                    "thousands of hash iterations per request (its CPU work)",
                    Value::Integer(2000),
                ),
                param(
                    "chunks",
                    "chunks the parallel part is cut into",
                    Value::Integer(8),
                ),
                param(
                    "serial_permille",
                    "the serial share of the work in thousandths (Amdahl's s)",
                    Value::Integer(100),
                ),
                param(
                    "threads",
                    "rayon's threads (0: one per core)",
                    Value::Integer(0),
                ),
                param(
                    "vus",
                    "clients, without a sweep (--no-sweep)",
                    Value::Integer(1),
                ),
                param(
                    "sweep",
                    "the clients swept by default, as --sweep takes them",
                    Value::Text("vus=1,2,4,8".into()),
                ),
            ],
            variants: vec![
                variant(
                    "sequential",
                    "the whole request on one thread",
                    settings("sequential"),
                ),
                variant(
                    "rayon",
                    "the serial part, then the chunks in parallel on a rayon pool",
                    settings("rayon"),
                ),
            ],
            load: constant_vus(vus, 1.0),
            quick_load: constant_vus(vus, 0.5),
            rounds: 16,
            quick_rounds: 3,
            warmup_ms: 1000,
            thresholds: vec![error_rate_below(0.01)],
            teaching: Teaching {
                hypothesis: "Splitting a CPU-bound request across the cores makes it faster \
                    by up to 1/(s + (1 − s)/P) — while cores are idle. Under load every core \
                    is busy already, so it cannot raise throughput."
                    .into(),
                prediction_prompt: "This machine has 2 cores and 10 % of each request is \
                    serial. At 1 client, how much lower is rayon's p50? At 8 clients, how \
                    much higher is its throughput?"
                    .into(),
                explanation: "parallel_serial_µs and parallel_split_µs per request are the \
                    wall time of the two phases; CPU µs per request is what the request cost \
                    the machine. The sweep's USL fit says how far more clients can take each \
                    variant: σ near 1/cores means the cores are the ceiling."
                    .into(),
            },
            needs: vec![],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::None,
        }
    }
}

struct User;

impl GuestVirtualUser for User {
    fn new(_config: VuConfig) -> Self {
        User
    }

    fn next_request(&self, iteration: u64) -> Result<Request, String> {
        Ok(get(numbered("/parallel/digest/", iteration % 1000)))
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        vec![check("status is 200", response.status == 200)]
    }
}

impl Defaults for Parallelism {
    fn profile_hz() -> Option<u32> {
        None
    }

    fn focus(_params: Vec<ParamValue>) -> Option<String> {
        None
    }

    /// The lesson is a curve: latency at one client, throughput at saturation.
    fn sweep(params: Vec<ParamValue>) -> Option<String> {
        let text = text_param(&params, "sweep", "vus=1,2,4,8");
        (!text.is_empty()).then_some(text)
    }
}

impl Lessons for Parallelism {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (candidate.as_str(), metric, outcome) {
            ("rayon", Metric::P50 | Metric::P99, Outcome::Faster) => {
                "Fewer clients than cores: the chunks ran on cores that would have been idle, \
                 so each request finished sooner (Amdahl: at most 1/(s + (1 − s)/P))."
            }
            ("rayon", Metric::Throughput, Outcome::Equivalent | Outcome::Inconclusive) => {
                "The cores were already busy with other requests: splitting each one moved \
                 work between threads without adding a core."
            }
            ("rayon", Metric::Throughput, Outcome::Slower) => {
                "At saturation the split costs more than it gives: handing chunks to other \
                 threads and waiting for the slowest is overhead when no core is idle."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(Parallelism);

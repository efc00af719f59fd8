//! Lab: connection-pool sizing (seed 003). Many clients (64 by default) against a database
//! query that is pure database CPU, or a small write; `per-client` lets every request take a
//! connection at once, `bounded` allows `pool.size` in use. The lab sweeps `pool.size` by
//! default (`pool.size=1,2,4,8,16,32,64`): where the knee is on this machine, and whether
//! "connections = cores × 2 + spindles" finds it.

use perflab_plugin::*;

struct PoolSizing;

fn workload(params: &[ParamValue]) -> String {
    text_param(params, "workload", "read")
}

impl Lab for PoolSizing {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let vus = int_param(&params, "vus", 64).clamp(1, 256) as u32;
        let rows = int_param(&params, "query_rows", 20_000).clamp(1, 10_000_000);
        let writes = workload(&params) == "write";
        let settings = |option_name: &str| {
            vec![
                option("pool-sizing", option_name),
                knob("pool.query_rows", rows),
            ]
        };
        let what = if writes {
            "a write to one of 16 counters".to_string()
        } else {
            format!("a read that sums {rows} generated rows in the database")
        };
        Description {
            name: "pool-sizing".into(),
            summary: format!(
                "{vus} clients, each request {what}: every request with its own connection, or \
                 at most pool.size connections in use"
            ),
            params: vec![
                param(
                    "vus",
                    "clients (fixed; the sweep is over the pool)",
                    Value::Integer(64),
                ),
                param(
                    "workload",
                    "read (database CPU) or write (row locks and commits)",
                    Value::Text("read".into()),
                ),
                param(
                    "query_rows",
                    "rows the read generates and sums (its CPU in the database)",
                    Value::Integer(20_000),
                ),
                param(
                    "sweep",
                    "the pool sizes swept by default, as --sweep takes them",
                    Value::Text("pool.size=1,2,4,8,16,32,64".into()),
                ),
                db_param(),
            ],
            variants: vec![
                variant(
                    "per-client",
                    "every request takes a connection at once: as many queries in the database as requests in flight",
                    settings("per-client"),
                ),
                variant(
                    "bounded",
                    "at most pool.size connections in use; the other requests wait in the service",
                    settings("bounded"),
                ),
            ],
            load: constant_vus(vus, 1.0),
            quick_load: constant_vus(vus, 0.5),
            // A sweep of 7 points runs each interval at 99.64 %: 16 s per variant per point
            // gives the 10+ pairs such an interval needs.
            rounds: 16,
            quick_rounds: 3,
            warmup_ms: 1000,
            thresholds: vec![error_rate_below(0.01)],
            teaching: Teaching {
                hypothesis: "A database on P cores runs about P queries at a time; more \
                    connections in use only share the cores and contend. A small pool \
                    (cores × 2 + spindles) keeps throughput and cuts latency."
                    .into(),
                prediction_prompt: format!(
                    "{vus} clients, 2 cores. Which pool size gives the highest throughput, and \
                     how does the median at pool 4 compare with a connection per client?"
                ),
                explanation: "pool_sizing_wait_µs per request is the time waiting for a \
                    connection in the service; pool_sizing_in_database_µs is the query's own \
                    time once it had one. Their sum is the latency; their split shows where \
                    the queue is. The sweep's knee and USL fit say where more connections stop \
                    paying."
                    .into(),
            },
            needs: vec![],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::None,
        }
    }
}

struct User {
    writes: bool,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        User {
            writes: workload(&config.params) == "write",
        }
    }

    fn next_request(&self, iteration: u64) -> Result<Request, String> {
        Ok(if self.writes {
            post(numbered("/pool/write/", iteration), Vec::new())
        } else {
            get(numbered("/pool/read/", iteration))
        })
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        vec![check("status is 200", response.status == 200)]
    }
}

impl Defaults for PoolSizing {
    fn profile_hz() -> Option<u32> {
        None
    }

    fn focus(_params: Vec<ParamValue>) -> Option<String> {
        None
    }

    fn sweep(params: Vec<ParamValue>) -> Option<String> {
        let text = text_param(&params, "sweep", "pool.size=1,2,4,8,16,32,64");
        (!text.is_empty()).then_some(text)
    }
}

impl Lessons for PoolSizing {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (candidate.as_str(), metric, outcome) {
            ("bounded", Metric::P50, Outcome::Faster) => {
                "Fewer queries share the database's cores at once, so each finishes sooner; the \
                 others wait in the service's queue instead of inside the database."
            }
            ("bounded", Metric::Throughput, Outcome::Slower) => {
                "Too few connections: the database had idle cores while requests waited for a \
                 connection (pool_sizing_wait_µs per request grows)."
            }
            ("bounded", Metric::Throughput, Outcome::Equivalent | Outcome::Inconclusive) => {
                "The same throughput with fewer connections: the cores were the limit either way."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(PoolSizing);

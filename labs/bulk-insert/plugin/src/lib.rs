//! Lab: bulk insert. Storing N rows per request: one INSERT per row in autocommit, the same in
//! one transaction, multi-row VALUES, and on PostgreSQL UNNEST and COPY.

use perflab_plugin::*;

struct BulkInsert;

impl Lab for BulkInsert {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let rows = int_param(&params, "rows", 100);
        let db = text_param(&params, "db", "sqlite");
        let batch = int_param(&params, "batch_rows", 1000);
        let insert = |name: &str| vec![option("insert", name), knob("insert.batch_rows", batch)];
        let mut variants = vec![
            variant(
                "per-row-autocommit",
                "one INSERT per row, each its own transaction (one fsync per row)",
                insert("per-row-autocommit"),
            ),
            variant(
                "per-row-transaction",
                "the same INSERTs inside one transaction (one fsync)",
                insert("per-row-transaction"),
            ),
            variant(
                "multi-row-values",
                "INSERT ... VALUES (..),(..) in batches",
                insert("multi-row-values"),
            ),
        ];
        if db == "postgres" {
            variants.push(variant(
                "unnest",
                "one INSERT ... SELECT FROM UNNEST(arrays)",
                insert("unnest"),
            ));
            variants.push(variant("copy", "COPY ... FROM STDIN", insert("copy")));
        }
        Description {
            name: "bulk-insert".into(),
            summary: format!("Storing {rows} rows per request, five ways, on {db}."),
            params: vec![
                param("rows", "rows per request (1..=100000)", Value::Integer(100)),
                param(
                    "batch_rows",
                    "rows per multi-row VALUES statement",
                    Value::Integer(1000),
                ),
                db_param(),
            ],
            variants,
            load: constant_vus(2, 8.0),
            quick_load: constant_vus(2, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 1000,
            thresholds: vec![
                relative(
                    "multi-row-values",
                    Metric::Throughput,
                    Comparison::Ge,
                    2.0,
                    "per-row-autocommit",
                ),
                error_rate_below(0.01),
            ],
            teaching: Teaching {
                hypothesis: "Inserting rows one by one is slow because of the round trips; \
                    batching them is faster."
                    .into(),
                prediction_prompt: format!(
                    "{rows} rows per request on {db}. Which costs more per row in autocommit: the \
                        network round trip (~35 µs) or the commit? How many times faster is one \
                        transaction?"
                ),
                explanation: "Compare `db_commits` and `db_statements` per request with the fsync \
                    latency printed above. In autocommit every row is a commit, and every commit \
                    waits for the disk (fsync) — that, not the round trip, is the cost: the same \
                    statements in ONE transaction are already nearly as fast as batching. \
                    Multi-row VALUES then removes most statements; UNNEST sends one statement \
                    whatever N is, and COPY streams rows without per-row statements. On a disk \
                    with a fast fsync (or synchronous=off) the gap shrinks: measure yours."
                    .into(),
            },
            needs: vec![Need::FsyncProbe],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::Prefix(256),
        }
    }
}

struct User {
    rng: Rng,
    rows: u64,
    vu: u32,
    /// What a complete answer contains, built once.
    all_inserted: String,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        let rows = int_param(&config.params, "rows", 100).clamp(1, 100_000) as u64;
        User {
            rng: Rng::new(config.seed),
            rows,
            vu: config.vu,
            all_inserted: format!("\"inserted\":{rows}"),
        }
    }

    fn next_request(&self, iteration: u64) -> Result<Request, String> {
        // Hand-written JSON: no serde in the guest, and the shape is simple. Each row is
        //   {"user_id":U,"kind":"K","payload":"vu V iteration I row R","created_at":T}
        // appended piece by piece: `write!` would read better, but `core::fmt` costs about 0.5 µs
        // a row in WebAssembly, load-generator CPU taken from the database on a small machine.
        let mut body = String::with_capacity(self.rows as usize * 110 + 16);
        body.push_str("{\"events\":[");
        for i in 0..self.rows {
            if i > 0 {
                body.push(',');
            }
            let user = 1 + self.rng.below(1000);
            let kind = ["click", "view", "purchase", "signup"][self.rng.below(4) as usize];
            body.push_str("{\"user_id\":");
            push_number(&mut body, user);
            body.push_str(",\"kind\":\"");
            body.push_str(kind);
            body.push_str("\",\"payload\":\"vu ");
            push_number(&mut body, self.vu as u64);
            body.push_str(" iteration ");
            push_number(&mut body, iteration);
            body.push_str(" row ");
            push_number(&mut body, i);
            body.push_str("\",\"created_at\":");
            push_number(&mut body, 1_700_000_000 + iteration * 1000 + i);
            body.push('}');
        }
        body.push_str("]}");
        Ok(post("/insert/events", body)
            .header("content-type", "application/json")
            .named("insert"))
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        let text = String::from_utf8_lossy(&response.body);
        vec![
            check("status is 201", response.status == 201),
            check("all rows inserted", text.contains(&self.all_inserted)),
        ]
    }
}

/// What each outcome teaches: the cost of row-by-row inserts is one commit (one fsync) per row,
/// so what a run shows depends on how slow this disk's fsync is (the probe at the start).
impl Lessons for BulkInsert {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (metric, outcome) {
            (Metric::Throughput, Outcome::Faster) if candidate == "per-row-transaction" => {
                "One commit instead of one per row (db_commits per request): the same statements, \
                 but only one fsync to wait for. The statements themselves were never the cost."
            }
            (Metric::Throughput, Outcome::Faster) => {
                "One commit and far fewer statements per request (db_commits, db_statements): the \
                 fsync and the per-statement work are both gone."
            }
            (Metric::Throughput, Outcome::Equivalent | Outcome::Inconclusive) => {
                "Little or no gain: this disk's fsync is so fast (the probe at the start) that a commit \
                 per row costs little. On a disk where fsync takes milliseconds the same change is one \
                 or two orders of magnitude."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(BulkInsert);

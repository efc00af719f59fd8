//! Lab: batch calls. Each request prices a basket of `items` products, and the prices come from
//! another service: one call per item in a row (naive), all at once, a few at a time, or one
//! batch call. `latency_us` is how long the other service takes to answer a call — a round trip
//! plus its work — and the lesson grows with it.

use perflab_plugin::*;

struct BatchCalls;

fn items(params: &[ParamValue]) -> u64 {
    int_param(params, "items", 20).clamp(1, 1_000) as u64
}

/// The upstream's price rule (`Quote::of` in the reference service), to check every answer.
fn expected_total(basket: u64, items: u64) -> u64 {
    (0..items)
        .map(|k| 1_000 + (basket * 1_000 + k) % 9_000)
        .sum()
}

/// The number after `"field":` in a JSON body (the service's answer is one flat object).
fn number_after(body: &str, field: &str) -> Option<u64> {
    let start = body.find(field)? + field.len();
    let digits: String = body[start..]
        .chars()
        .skip_while(|c| *c == '"' || *c == ':')
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Lab for BatchCalls {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let items = items(&params);
        let latency_us = int_param(&params, "latency_us", 2_000).clamp(0, 1_000_000);
        let concurrency = int_param(&params, "concurrency", 4).clamp(1, 1_000);
        let vus = int_param(&params, "vus", 8).clamp(1, 256) as u32;
        let settings = |option_name: &str| {
            vec![
                option("batch-calls", option_name),
                option("http-client", "shared"),
                knob("batch.items", items as i64),
                knob("batch.concurrency", concurrency),
                knob("upstream.latency_us", latency_us),
                knob("upstream.failure_permille", 0),
            ]
        };
        let latency = if latency_us >= 1_000 {
            format!("{} ms", latency_us as f64 / 1_000.0)
        } else {
            format!("{latency_us} µs")
        };
        Description {
            name: "batch-calls".into(),
            summary: format!(
                "{vus} clients each price a basket of {items} products; every price comes from \
                 an upstream service that takes {latency} per call."
            ),
            params: vec![
                param(
                    "items",
                    "products per basket: prices one request needs",
                    Value::Integer(20),
                ),
                param(
                    "latency_us",
                    "how long the upstream takes to answer one call (its round trip and work)",
                    Value::Integer(2_000),
                ),
                param(
                    "concurrency",
                    "bounded: calls one basket may have in flight at once",
                    Value::Integer(4),
                ),
                param("vus", "concurrent virtual users", Value::Integer(8)),
            ],
            variants: vec![
                variant(
                    "sequential",
                    "one call per item, each awaited before the next",
                    settings("sequential"),
                ),
                variant(
                    "join-all",
                    "one call per item, all at once (join_all)",
                    settings("join-all"),
                ),
                variant(
                    "bounded",
                    "one call per item, `concurrency` at a time",
                    settings("bounded"),
                ),
                variant(
                    "batch",
                    "one call to the upstream's batch endpoint",
                    settings("batch"),
                ),
            ],
            load: constant_vus(vus, 8.0),
            quick_load: constant_vus(vus, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 1000,
            thresholds: vec![error_rate_below(0.01)],
            teaching: Teaching {
                hypothesis: "Calls to another service cost a round trip each; made one after \
                    another they add up, made together they overlap, and batched they are one."
                    .into(),
                prediction_prompt: format!(
                    "A basket of {items} items; the upstream answers a call in {latency}. How \
                     long does a request take when the calls are made one after another, all at \
                     once, 4 at a time, or as one batch? Which serves the most baskets per \
                     second on 2 cores?"
                ),
                explanation: "batch_upstream_calls per request is the round trips one basket \
                    cost (items, or 1 for the batch); upstream_quotes_served is the same in \
                    every variant (the same prices, asked differently); \
                    upstream_tcp_connections shows what unbounded concurrency opens. Service \
                    CPU per request is the other half: every call is a request the service \
                    sends and the upstream parses."
                    .into(),
            },
            needs: vec![],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::Prefix(128),
        }
    }
}

struct User {
    rng: Rng,
    items: u64,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        User {
            rng: Rng::new(config.seed),
            items: items(&config.params),
        }
    }

    fn next_request(&self, _iteration: u64) -> Result<Request, String> {
        Ok(get(numbered("/batch/baskets/", 1 + self.rng.below(10_000))).named("basket"))
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        // Every variant must price the basket the same: the total is checked against the
        // upstream's rule, so a way of asking that lost or repeated an item fails here.
        let body = String::from_utf8_lossy(&response.body);
        let right = match (
            number_after(&body, "\"basket\""),
            number_after(&body, "\"total_cents\""),
        ) {
            (Some(basket), Some(total)) => total == expected_total(basket, self.items),
            _ => false,
        };
        vec![
            check("status is 200", response.status == 200),
            check("the basket's total is right", right),
        ]
    }
}

impl Lessons for BatchCalls {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (candidate.as_str(), metric, outcome) {
            ("batch", Metric::Throughput, Outcome::Faster) => {
                "One round trip instead of one per item: the request waits for one answer, and \
                 neither side pays the per-call work (a request to build, send, parse, route) \
                 for every item — the batch wins in CPU as well as in time."
            }
            ("join-all" | "bounded", Metric::P99, Outcome::Faster) => {
                "The calls overlap: the request waits about one round trip (or one per \
                 `concurrency` items) instead of one per item — but it still makes every call, \
                 so the CPU per request stays that of N calls."
            }
            ("join-all" | "bounded", Metric::Throughput, Outcome::Equivalent | Outcome::Slower) => {
                "Overlapping the calls did not serve more baskets: the calls cost CPU, not \
                 waiting, and 2 cores do the same number of calls in any order. Concurrency \
                 hides latency; it does not remove work."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(BatchCalls);

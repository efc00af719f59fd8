//! Lab: client pooling. A client (or connection) per request versus one shared, pooled client,
//! for the upstream HTTPS service, Redis or the database (`--param client=http|redis|db`).

use perflab_plugin::*;

struct ClientPooling;

fn dimension(client: &str) -> (&'static str, &'static str, &'static str) {
    // (service dimension, its pooled option, the counter that proves the mechanism)
    match client {
        "redis" => ("redis-client", "multiplexed", "redis_connections_opened"),
        "db" => ("db-client", "pool", "db_connections_opened"),
        _ => ("http-client", "shared", "upstream_tls_handshakes"),
    }
}

impl Lab for ClientPooling {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let client = text_param(&params, "client", "http");
        let latency_us = int_param(&params, "upstream_latency_us", 0);
        let (dim, pooled, counter) = dimension(&client);
        let settings = |option_name: &str| {
            vec![
                option(dim, option_name),
                knob("upstream.latency_us", latency_us),
            ]
        };
        Description {
            name: "client-pooling".into(),
            summary: format!(
                "A new {client} client per request vs one pooled client shared by \
                all requests."
            ),
            params: vec![
                param(
                    "client",
                    "which client: http (HTTPS upstream), redis, or db",
                    Value::Text("http".into()),
                ),
                param(
                    "upstream_latency_us",
                    "latency of the upstream service (http only)",
                    Value::Integer(0),
                ),
            ],
            variants: vec![
                variant(
                    "per-request",
                    "build a client / open a connection for every request",
                    settings("per-request"),
                ),
                variant(
                    pooled,
                    "one long-lived client whose connections are reused",
                    settings(pooled),
                ),
            ],
            load: constant_vus(8, 8.0),
            quick_load: constant_vus(8, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 2000,
            thresholds: vec![
                relative(pooled, Metric::P50, Comparison::Le, 0.5, "per-request"),
                error_rate_below(0.01),
            ],
            teaching: Teaching {
                hypothesis: "Creating a client per request pays connection set-up every time; a \
                    pooled client pays it once."
                    .into(),
                prediction_prompt: format!(
                    "8 clients calling the {client} dependency. Per request, how long does \
                        building a new client cost here: 10 µs, 100 µs, 1 ms or 10 ms? How many \
                        times faster is the pooled variant?"
                ),
                explanation: format!(
                    "`{counter}` per request is ~1 for per-request and ~0 for {pooled}: every \
                        naive request builds a client (for HTTPS: loads a TLS root store, ~4 ms \
                        of CPU) and does a TCP connect plus TLS handshake; the pooled client \
                        reuses kept-alive connections. On loopback the TCP handshake itself is \
                        only ~50 µs — the cost is client construction and TLS. The guides' 10–50 \
                        ms per connection is a WAN figure: measure yours."
                ),
            },
            needs: if client == "redis" {
                vec![Need::Redis]
            } else {
                vec![]
            },
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::None,
        }
    }
}

struct User {
    rng: Rng,
    client: String,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        User {
            rng: Rng::new(config.seed),
            client: text_param(&config.params, "client", "http"),
        }
    }

    fn next_request(&self, iteration: u64) -> Result<Request, String> {
        let id = 1 + self.rng.below(1000);
        Ok(match self.client.as_str() {
            "redis" if iteration == 0 => put("/redis/greeting", "hello").named("write"),
            "redis" => get("/redis/greeting").named("read"),
            "db" => get(numbered("/db/users/", id)).named("lookup"),
            "http" => get(numbered("/upstream/quote/", id)).named("quote"),
            other => return Err(format!("unknown client {other:?}: use http, redis or db")),
        })
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        vec![check(
            "status is 2xx",
            (200..300).contains(&response.status),
        )]
    }
}

/// What each outcome teaches: a client per request pays its set-up (a TLS root store, a TCP
/// connect, a handshake) every time — unless the request is slow enough to hide it.
impl Lessons for ClientPooling {
    fn explain(
        _candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (metric, outcome) {
            (Metric::Throughput, Outcome::Faster) => {
                "Reusing one client skips building it and its connection for every request \
                 (upstream_tls_handshakes or *_connections_opened per request: 1 → 0). On loopback \
                 that cost is CPU, not network: the set-up, not the round trip."
            }
            (Metric::Throughput, Outcome::Equivalent | Outcome::Inconclusive) => {
                "The set-up cost was hidden: when the upstream itself is slow (upstream_latency_us) or \
                 the connection is cheap (SQLite opens a file), set-up is a small share of each request."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(ClientPooling);

//! Lab: resilience. The service asks a flaky upstream for a price; five variants stack the
//! defences of the source guide's budget: none, a timeout, retries with backoff and jitter, a
//! circuit breaker, a bulkhead. Every fourth request is an unrelated endpoint that shares only
//! the database pool with the price handler.
//!
//! `--param upstream=flaky` (the default): some calls fail fast, some hang for a second. The
//! verdict is the price endpoint's latency; the report's error rate and the call amplification
//! (`resilience_upstream_calls` per request) are the rest of the lesson.
//! `--param upstream=down`: every call hangs, then fails. The verdict is about the *unrelated*
//! endpoint (`focus`): what a dead dependency does to the rest of the service.

use perflab_plugin::*;

struct Resilience;

/// The requests each scenario's verdict compares.
const PRICE: &str = "price";
const UNRELATED: &str = "unrelated";

#[derive(Clone, Copy, PartialEq)]
enum Upstream {
    /// Fast failures and latency spikes: the defences' effect on the calling endpoint.
    Flaky,
    /// Every call hangs, then fails: the defences' effect on the rest of the service.
    Down,
}

impl Upstream {
    fn of(params: &[ParamValue]) -> Upstream {
        match text_param(params, "upstream", "flaky").as_str() {
            "down" => Upstream::Down,
            _ => Upstream::Flaky,
        }
    }

    /// Requests per second. Flaky: enough that a round of about a second holds several
    /// spikes, so its p99 is a spike when nothing cuts them short (at 100/s a round held one
    /// or none, and the p99 jumped between 4 ms and a second). Down: a dead upstream with no
    /// timeout needs a second of a pool connection per price request, so 30 price requests a
    /// second are more than a pool of 8 can serve without a defence.
    fn rate(self, params: &[ParamValue]) -> f64 {
        let default = match self {
            Upstream::Flaky => 300,
            Upstream::Down => 40,
        };
        match int_param(params, "rate", 0) {
            r if r > 0 => r.min(5_000) as f64,
            _ => default as f64,
        }
    }
}

fn describe_variants(params: &[ParamValue]) -> Vec<VariantDef> {
    let upstream = Upstream::of(params);
    let (failure_permille, spike_permille) = match upstream {
        Upstream::Flaky => (
            int_param(params, "failure_permille", 50),
            int_param(params, "spike_permille", 30),
        ),
        Upstream::Down => (0, 0),
    };
    let shared = [
        knob("resilience.timeout_ms", int_param(params, "timeout_ms", 50)),
        knob("resilience.retries", int_param(params, "retries", 3)),
        knob("resilience.backoff_ms", 10),
        knob("resilience.breaker_failure_pct", 50),
        knob("resilience.breaker_window", 20),
        knob("resilience.breaker_open_ms", 500),
        knob(
            "resilience.max_in_flight",
            int_param(params, "max_in_flight", 4),
        ),
        knob(
            "resilience.hold_db",
            i64::from(flag_param(params, "hold_db", true)),
        ),
        knob("flaky.latency_us", 1_000),
        knob("flaky.failure_permille", failure_permille),
        knob("flaky.spike_permille", spike_permille),
        knob("flaky.spike_ms", int_param(params, "hang_ms", 1_000)),
        knob("flaky.down", i64::from(upstream == Upstream::Down)),
    ];
    let settings = |option_name: &str| {
        let mut s = vec![option("resilience", option_name)];
        s.extend(shared.iter().cloned());
        s
    };
    vec![
        variant(
            "no-timeout",
            "one call, waited for however long it takes",
            settings("no-timeout"),
        ),
        variant(
            "timeout",
            "one call, abandoned after timeout_ms",
            settings("timeout"),
        ),
        variant(
            "retry",
            "timeout + `retries` more calls, exponential backoff with jitter",
            settings("retry"),
        ),
        variant(
            "circuit-breaker",
            "retry + a breaker that fails at once while half of the last 20 calls failed",
            settings("circuit-breaker"),
        ),
        variant(
            "bulkhead",
            "circuit-breaker + at most `max_in_flight` requests calling the upstream",
            settings("bulkhead"),
        ),
    ]
}

impl Lab for Resilience {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let upstream = Upstream::of(&params);
        let rate = upstream.rate(&params);
        let thresholds = match upstream {
            // Three more tries turn an 8 % failure rate into about 0.004 % (0.08⁴).
            Upstream::Flaky => vec![
                error_rate_below(0.5),
                limit_for("retry", Metric::ErrorRate, Comparison::Lt, 0.01),
            ],
            // The price requests all fail here, by design; the run is judged on the others.
            Upstream::Down => vec![error_rate_below(1.0)],
        };
        let (summary, prompt) = match upstream {
            Upstream::Flaky => (
                format!(
                    "{rate} requests/s; the upstream fails 5 % of calls at once and answers 3 % \
                     only after a second. Three in four requests need its price; the verdict \
                     is their latency."
                ),
                "5 % of upstream calls fail fast and 3 % take a second. What are the price \
                 endpoint's p99 and error rate with no timeout, with a 50 ms timeout, and with \
                 3 retries on top? How many upstream calls does one request cost with retries?"
                    .to_string(),
            ),
            Upstream::Down => (
                format!(
                    "{rate} requests/s; the upstream is down: every call hangs a second, then \
                     fails. The price handler holds a pooled database connection meanwhile; \
                     the verdict is about an unrelated endpoint that needs the pool too."
                ),
                "The upstream hangs every call for a second. The price handler holds one of 8 \
                 database connections while it waits. What happens to an endpoint that only \
                 reads one row — with no timeout, with a timeout, with retries, with a circuit \
                 breaker?"
                    .to_string(),
            ),
        };
        Description {
            name: "resilience".into(),
            summary,
            params: vec![
                param(
                    "upstream",
                    "flaky: fast failures and latency spikes, the verdict on the price \
                     endpoint; down: every call hangs then fails, the verdict on an unrelated \
                     endpoint",
                    Value::Text("flaky".into()),
                ),
                param(
                    "rate",
                    "requests per second (open model); 0: 300 flaky, 40 down",
                    Value::Integer(0),
                ),
                param(
                    "timeout_ms",
                    "the timeout of one upstream call",
                    Value::Integer(50),
                ),
                param(
                    "retries",
                    "calls after the first one fails (retry and later)",
                    Value::Integer(3),
                ),
                param(
                    "max_in_flight",
                    "bulkhead: requests calling the upstream at once",
                    Value::Integer(4),
                ),
                param(
                    "hold_db",
                    "the price handler holds a database connection across the upstream call \
                     (false: it does not, and the unrelated endpoint has nothing to wait for)",
                    Value::Flag(true),
                ),
                param(
                    "hang_ms",
                    "how long a spike, or a hung call of the down upstream, lasts",
                    Value::Integer(1_000),
                ),
                param(
                    "unrelated_permille",
                    "requests in 1000 that go to the unrelated endpoint (the others ask for a \
                     price)",
                    Value::Integer(250),
                ),
                param(
                    "failure_permille",
                    "flaky: calls in 1000 that fail at once",
                    Value::Integer(50),
                ),
                param(
                    "spike_permille",
                    "flaky: calls in 1000 that take hang_ms",
                    Value::Integer(30),
                ),
                db_param(),
            ],
            variants: describe_variants(&params),
            // Room for every request of a second-long hang, and the pile-up behind the pool.
            load: constant_rate(rate, 8.0, 1_000),
            quick_load: constant_rate(rate, 1.5, 1_000),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 1000,
            thresholds,
            teaching: Teaching {
                hypothesis: "A timeout bounds what a slow dependency costs, retries buy back \
                    what fails by chance, and a circuit breaker and a bulkhead keep a dead \
                    dependency from taking the rest of the service with it."
                    .into(),
                prediction_prompt: prompt,
                explanation: "resilience_upstream_calls per request is the call amplification \
                    (1 without retries; up to 1 + retries when the upstream fails: the retry \
                    storm), resilience_timeouts and resilience_breaker_rejections say which \
                    defence answered, and resilience_db_held_µs per request is how long a \
                    price request kept a database connection from everyone else \
                    (db_pool_acquire_wait_µs: what the others waited)."
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
    unrelated_permille: u64,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        User {
            rng: Rng::new(config.seed),
            unrelated_permille: int_param(&config.params, "unrelated_permille", 250).clamp(0, 1000)
                as u64,
        }
    }

    fn next_request(&self, _iteration: u64) -> Result<Request, String> {
        // Drawn, not by iteration: in an open model any VU may take the next arrival.
        let id = 1 + self.rng.below(1_000);
        Ok(if self.rng.below(1000) < self.unrelated_permille {
            get(numbered("/db/users/", id)).named(UNRELATED)
        } else {
            get(numbered("/resilience/quote/", id)).named(PRICE)
        })
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        vec![check("status is 200", response.status == 200)]
    }
}

impl Defaults for Resilience {
    fn profile_hz() -> Option<u32> {
        None
    }

    /// Flaky: the price endpoint, which the defences are for. Down: the unrelated one, which
    /// they protect.
    fn focus(params: Vec<ParamValue>) -> Option<String> {
        Some(
            match Upstream::of(&params) {
                Upstream::Flaky => PRICE,
                Upstream::Down => UNRELATED,
            }
            .into(),
        )
    }

    fn sweep(_params: Vec<ParamValue>) -> Option<String> {
        None
    }
}

impl Lessons for Resilience {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (candidate.as_str(), metric, outcome) {
            ("timeout", Metric::P99, Outcome::Faster) => {
                "The timeout caps what a slow call costs: the spike or the hung call is \
                 abandoned after timeout_ms (resilience_timeouts per request), and the request \
                 fails instead of waiting — a faster tail bought with errors."
            }
            ("retry", Metric::P99, Outcome::Faster) => {
                "Retries turn most timeouts and failures into answers at the price of more \
                 upstream calls (resilience_upstream_calls per request above 1)."
            }
            ("retry", _, Outcome::Slower) => {
                "Retries made it worse: each failed request now calls the upstream up to \
                 1 + retries times and waits through the backoff, holding what it holds for \
                 the whole time — against a dead upstream that is the retry storm."
            }
            ("circuit-breaker" | "bulkhead", _, Outcome::Faster) => {
                "The breaker stopped calling an upstream that kept failing: requests fail at \
                 once (resilience_breaker_rejections per request), hold nothing while they do, \
                 and the upstream gets a probe instead of a storm."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(Resilience);

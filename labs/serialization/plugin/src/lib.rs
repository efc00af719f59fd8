//! Lab: serialization. The same 1 000-user payload as JSON, MessagePack with field names, and
//! compact MessagePack (arrays, no names).

use perflab_plugin::*;

struct Serialization;

impl Lab for Serialization {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let users = int_param(&params, "users", 1000);
        let codec = |name: &str| vec![option("codec", name)];
        Description {
            name: "serialization".into(),
            summary: format!(
                "{users} user records as JSON vs MessagePack (named) vs MessagePack \
                (compact)."
            ),
            params: vec![param(
                "users",
                "records per response (1..=10000)",
                Value::Integer(1000),
            )],
            variants: vec![
                variant(
                    "json",
                    "serde_json: every field name in every record",
                    codec("json"),
                ),
                variant(
                    "msgpack-named",
                    "rmp-serde with field names",
                    codec("msgpack-named"),
                ),
                variant(
                    "msgpack-compact",
                    "rmp-serde as arrays, no field names",
                    codec("msgpack-compact"),
                ),
            ],
            load: constant_vus(8, 8.0),
            quick_load: constant_vus(8, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 2000,
            thresholds: vec![error_rate_below(0.01)],
            teaching: Teaching {
                hypothesis: "MessagePack is ~30 % smaller than JSON and faster to encode, so an \
                    API serving it is faster."
                    .into(),
                prediction_prompt: format!(
                    "{users} users per response. How much smaller is each MessagePack flavour \
                        than JSON? Will throughput rise by as much?"
                ),
                explanation: "Read `codec_bytes_encoded` and `codec_encode_µs` per request. Named \
                    MessagePack still sends every field name, so it saves only ~20 %; compact \
                    arrays save ~50 %. Encoding gets cheaper too, and on 2 busy cores that shows \
                    in throughput — but the bytes themselves cost microseconds on loopback: the \
                    size win pays off on real networks, in bandwidth bills and in storage, and \
                    compact arrays couple client and server to the field order."
                    .into(),
            },
            needs: vec![],
            databases: vec!["sqlite".into(), "postgres".into()],
            // Read a little of the body: enough to check it is not an error page.
            body_need: BodyNeed::Prefix(16),
        }
    }
}

struct User {
    /// Built once: the request never changes.
    path: String,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        let users = int_param(&config.params, "users", 1000).clamp(1, 10_000);
        User {
            path: format!("/codec/users?count={users}"),
        }
    }

    fn next_request(&self, _iteration: u64) -> Result<Request, String> {
        // No Accept preference: the service's `codec` dimension decides, so one request shape
        // serves all three variants.
        Ok(get(self.path.as_str()).named("users"))
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        let ct = response.header("content-type").unwrap_or("");
        vec![
            check("status is 200", response.status == 200),
            check(
                "a json or msgpack body",
                ct.starts_with("application/json") || ct.starts_with("application/msgpack"),
            ),
        ]
    }
}

/// What each outcome teaches: smaller is not the same as faster, and which one a run shows
/// depends on where the bytes go (loopback here) and on the encoders' CPU.
impl Lessons for Serialization {
    fn explain(
        _candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (metric, outcome) {
            (Metric::Throughput, Outcome::Faster) => {
                "Cheaper to encode, and so faster: on 2 cores the encoder's CPU (codec_encode_µs per \
                 request) is on every request's path, and this encoding needs less of it."
            }
            (Metric::Throughput, Outcome::Equivalent | Outcome::Inconclusive) => {
                "Smaller, not faster: the bytes per response fell (codec_bytes_encoded), but on loopback \
                 moving 200 KB costs tens of µs, so time hardly changes. The saving is bandwidth and \
                 storage; over a real network it becomes time."
            }
            (Metric::Throughput, Outcome::Slower) => {
                "Smaller but slower: for this payload the binary encoder spent more CPU than JSON's \
                 (codec_encode_µs per request). Fewer bytes is not automatically less work."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

/// The lesson of this lab is where the encoder spends its CPU: its flame graphs are part of
/// every run (`--no-profile` to skip them).
impl Defaults for Serialization {
    fn profile_hz() -> Option<u32> {
        Some(99)
    }

    /// Every request is the lesson: no focus.
    fn focus(_params: Vec<ParamValue>) -> Option<String> {
        None
    }

    fn sweep(_params: Vec<ParamValue>) -> Option<String> {
        None
    }
}

export!(Serialization);

//! Lab: compression. The same JSON answers — a small one and a large one — sent as they are,
//! or compressed with gzip, brotli or zstd (the client's `Accept-Encoding`), or compressed only
//! above a minimum size. Run it on loopback (the refutation: bytes are nearly free there) and
//! over a slow link (`--link delay=1ms,rate=10mbit`), where bytes are what costs.

use perflab_plugin::*;

struct Compression;

/// Response sizes, in users per `GET /codec/users?count=N` (2: about 430 bytes of JSON;
/// 1000: about 225 KB).
fn sizes(params: &[ParamValue]) -> Vec<u64> {
    let text = text_param(params, "sizes", "2,1000");
    let parsed: Vec<u64> = text
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .map(|n: u64| n.clamp(1, 10_000))
        .collect();
    if parsed.is_empty() {
        vec![2, 1000]
    } else {
        parsed
    }
}

/// What a variant asks for, and whether the service should compress a body of `users` users.
#[derive(Clone, Copy, PartialEq)]
enum Ask {
    Identity,
    Gzip,
    Brotli,
    Zstd,
    GzipAboveMinSize,
}

impl Ask {
    fn of(variant: &str) -> Ask {
        match variant {
            "gzip" => Ask::Gzip,
            "br" => Ask::Brotli,
            "zstd" => Ask::Zstd,
            "gzip-above-min-size" => Ask::GzipAboveMinSize,
            _ => Ask::Identity,
        }
    }

    fn accept_encoding(self) -> &'static str {
        match self {
            Ask::Identity => "identity",
            Ask::Gzip | Ask::GzipAboveMinSize => "gzip",
            Ask::Brotli => "br",
            Ask::Zstd => "zstd",
        }
    }

    /// The encoding the answer must carry: none when nothing is asked, and none for answers
    /// below the minimum size of 1400 bytes (about 214 bytes a user: 6 users or fewer).
    fn expected(self, users: u64) -> Option<&'static str> {
        match self {
            Ask::Identity => None,
            Ask::GzipAboveMinSize if users < 7 => None,
            _ => Some(self.accept_encoding()),
        }
    }
}

impl Lab for Compression {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let vus = int_param(&params, "vus", 8).clamp(1, 256) as u32;
        let sizes = sizes(&params);
        let settings = |policy: &str| {
            vec![
                option("compression", policy),
                option("codec", "json"),
                knob("compression.min_bytes", 1_400),
            ]
        };
        let list = sizes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        Description {
            name: "compression".into(),
            summary: format!(
                "{vus} clients ask for the JSON of {list} users (drawn evenly), as it is or \
                 compressed with gzip, brotli or zstd."
            ),
            params: vec![
                param(
                    "sizes",
                    "users per answer, comma-separated, drawn evenly (2: ~430 B, 100: ~22 KB, \
                     1000: ~225 KB of JSON)",
                    Value::Text("2,1000".into()),
                ),
                param("vus", "concurrent virtual users", Value::Integer(8)),
            ],
            variants: vec![
                variant(
                    "identity",
                    "no compression: the body as it is",
                    settings("off"),
                ),
                variant(
                    "gzip",
                    "Accept-Encoding: gzip, every answer compressed",
                    settings("always"),
                ),
                variant(
                    "br",
                    "Accept-Encoding: br (brotli), every answer compressed",
                    settings("always"),
                ),
                variant(
                    "zstd",
                    "Accept-Encoding: zstd, every answer compressed",
                    settings("always"),
                ),
                variant(
                    "gzip-above-min-size",
                    "gzip, but only answers of at least 1400 bytes",
                    settings("above-min-size"),
                ),
            ],
            load: constant_vus(vus, 8.0),
            quick_load: constant_vus(vus, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 1000,
            thresholds: vec![error_rate_below(0.01)],
            teaching: Teaching {
                hypothesis: "Compression trades the service's CPU for bytes on the wire: it pays \
                    when the link is slow and the body is large, and costs when neither is."
                    .into(),
                prediction_prompt: format!(
                    "Answers of {list} users; the large one is about 225 KB of JSON and \
                     compresses about 10×. On loopback, and over a 10 Mbit/s link: which \
                     variant serves the most requests per second?"
                ),
                explanation: "bytes/resp in the results is what crossed the wire; \
                    compression_body_bytes per request is the size before compression; service \
                    CPU µs per request is what compressing cost. On loopback the bytes cost \
                    almost nothing and the CPU is the price; on a slow link every byte costs \
                    8 / rate seconds."
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
    sizes: Vec<u64>,
    ask: Ask,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        User {
            rng: Rng::new(config.seed),
            sizes: sizes(&config.params),
            ask: Ask::of(&text_param(&config.params, "variant", "")),
        }
    }

    fn next_request(&self, _iteration: u64) -> Result<Request, String> {
        let users = self.sizes[self.rng.below(self.sizes.len() as u64) as usize];
        Ok(get(numbered("/codec/users?count=", users))
            .header("accept", "application/json")
            .header("accept-encoding", self.ask.accept_encoding())
            .named(numbered("users-", users)))
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        let users = response
            .request_name
            .strip_prefix("users-")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let encoding = response.header("content-encoding");
        vec![
            check("status is 200", response.status == 200),
            check(
                "encoded as the variant asks",
                encoding == self.ask.expected(users),
            ),
        ]
    }
}

impl Lessons for Compression {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (metric, outcome) {
            (Metric::Throughput, Outcome::Slower) => {
                "Compressing cost more than the bytes it saved: on this path bytes are cheap, \
                 and every compressed answer costs the service CPU (service CPU µs per request) \
                 on the same cores that serve the requests."
            }
            (Metric::Throughput, Outcome::Faster) => {
                "The bytes saved were worth more than the CPU spent: on a slow link each byte \
                 costs 8 / rate seconds, and a 10× smaller body leaves 10× sooner."
            }
            _ => return None,
        };
        Some(format!("{candidate}: {text}"))
    }
}

export!(Compression);

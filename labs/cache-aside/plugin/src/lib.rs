//! Lab: cache-aside. No cache, Redis, an in-process cache (moka), and both tiers, in front of a
//! cheap primary-key lookup (`--param query=lookup`: the refutation) and an expensive
//! aggregation (`query=aggregate`, the default: the win). `--param compare=stampede` compares
//! a hot key expiring under load with and without single flight instead.

use perflab_plugin::*;

struct CacheAside;

/// What is compared: the cache tiers, or the stampede on one hot key.
#[derive(Clone, Copy, PartialEq)]
enum Compare {
    Tiers,
    Stampede,
}

impl Compare {
    fn of(params: &[ParamValue]) -> Compare {
        match text_param(params, "compare", "tiers").as_str() {
            "stampede" => Compare::Stampede,
            _ => Compare::Tiers,
        }
    }

    /// `ttl_ms=0` means this comparison's own default: long for the tiers (the hit ratio is
    /// the point), short for the stampede (the hot key must expire often under load).
    fn ttl_ms(self, params: &[ParamValue]) -> i64 {
        match int_param(params, "ttl_ms", 0) {
            t if t > 0 => t,
            _ if self == Compare::Stampede => 200,
            _ => 10_000,
        }
    }
}

fn describe_variants(params: &[ParamValue]) -> Vec<VariantDef> {
    let compare = Compare::of(params);
    let ttl = compare.ttl_ms(params);
    let invalidate = i64::from(flag_param(params, "invalidate_on_write", true));
    let rows = int_param(params, "rows", 200_000);
    let settings = |option_name: &str, single_flight: bool| {
        vec![
            option("cache", option_name),
            knob("cache.ttl_ms", ttl),
            knob("cache.single_flight", i64::from(single_flight)),
            knob("cache.invalidate_on_write", invalidate),
            knob("cache.rows", rows),
        ]
    };
    match compare {
        Compare::Tiers => vec![
            variant(
                "no-cache",
                "every read is a database query",
                settings("no-cache", true),
            ),
            variant(
                "redis",
                "cache-aside in Redis: a hit is one network round trip",
                settings("redis", true),
            ),
            variant(
                "in-process",
                "cache-aside in the service's memory (moka): a hit is a hash lookup",
                settings("in-process", true),
            ),
            variant(
                "two-tier",
                "in-process, then Redis, then the database",
                settings("two-tier", true),
            ),
        ],
        Compare::Stampede => {
            let tier = stampede_tier(params);
            vec![
                variant(
                    "stampede",
                    "every request that misses the expired key queries the database",
                    settings(tier, false),
                ),
                variant(
                    "single-flight",
                    "concurrent misses of a key wait for the first one's query",
                    settings(tier, true),
                ),
            ]
        }
    }
}

/// The cache the stampede runs in front of (`--param tier=`).
fn stampede_tier(params: &[ParamValue]) -> &'static str {
    match text_param(params, "tier", "redis").as_str() {
        "in-process" => "in-process",
        "two-tier" => "two-tier",
        _ => "redis",
    }
}

impl Lab for CacheAside {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let compare = Compare::of(&params);
        let query = text_param(&params, "query", "aggregate");
        let baseline = if compare == Compare::Stampede {
            "stampede"
        } else {
            "no-cache"
        };
        let mut thresholds = vec![error_rate_below(0.01)];
        if compare == Compare::Tiers && query == "aggregate" {
            // A 12 ms scan against a hash lookup: no machine should make this close.
            thresholds.push(relative(
                "in-process",
                Metric::P50,
                Comparison::Le,
                0.5,
                baseline,
            ));
        }
        Description {
            name: "cache-aside".into(),
            summary: match compare {
                Compare::Tiers => format!(
                    "No cache vs Redis vs an in-process cache vs both, in front of the {query} read."
                ),
                Compare::Stampede => format!(
                    "A hot key expiring under load in the {} cache: every miss queries (the \
                     stampede) vs single flight.",
                    stampede_tier(&params)
                ),
            },
            params: vec![
                param(
                    "query",
                    "which read: aggregate (a category summary: a scan of every product) or \
                     lookup (one product by primary key)",
                    Value::Text("aggregate".into()),
                ),
                param(
                    "compare",
                    "tiers (no cache, Redis, in-process, both) or stampede (one hot key with a \
                     short TTL, with and without single flight)",
                    Value::Text("tiers".into()),
                ),
                param(
                    "tier",
                    "stampede: the cache in front of the hot key (redis, in-process, two-tier)",
                    Value::Text("redis".into()),
                ),
                param(
                    "keys",
                    "distinct keys the reads are drawn from, uniformly (categories: at most \
                     100); the fewer, the higher the hit ratio. stampede: always 1",
                    Value::Integer(100),
                ),
                param(
                    "ttl_ms",
                    "how long a cached answer lives; 0: 10 000 for tiers, 200 for stampede",
                    Value::Integer(0),
                ),
                param(
                    "write_permille",
                    "reads in 1000 replaced by a price change (a write that makes cached \
                     answers stale)",
                    Value::Integer(0),
                ),
                param(
                    "invalidate_on_write",
                    "a write deletes the cached answers it changes (false: they stay until \
                     their TTL, and cache_stale_reads counts what that costs)",
                    Value::Flag(true),
                ),
                param(
                    "rows",
                    "products in the table the reads query",
                    Value::Integer(200_000),
                ),
                param("vus", "concurrent virtual users", Value::Integer(16)),
                db_param(),
            ],
            variants: describe_variants(&params),
            load: constant_vus(int_param(&params, "vus", 16).clamp(1, 512) as u32, 8.0),
            quick_load: constant_vus(int_param(&params, "vus", 16).clamp(1, 512) as u32, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 2000,
            thresholds,
            teaching: Teaching {
                hypothesis: "A cache answers a read without the database: it pays off when a \
                    hit costs much less than the query it saves."
                    .into(),
                prediction_prompt: format!(
                    "16 clients, the {query} read. A Redis GET on loopback costs ~35 µs; \
                     SQLite finds a row by primary key in ~19 µs and scans 200 000 rows in \
                     ~12 ms. Which variant is fastest, and is Redis faster than no cache at all?"
                ),
                explanation: "Watch cache_misses (database queries), cache_local_hits, \
                    cache_redis_hits and cache_redis_round_trips per request: a Redis hit \
                    still costs a network round trip, an in-process hit costs none. In front \
                    of a scan any cache wins by orders of magnitude; in front of a primary-key \
                    lookup the Redis round trip costs more than the query it saves."
                    .into(),
            },
            needs: vec![Need::Redis],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::None,
        }
    }
}

struct User {
    rng: Rng,
    aggregate: bool,
    keys: u64,
    rows: u64,
    write_permille: u64,
    /// Variants with a cache must answer from one sometimes; `no-cache` never.
    no_cache: bool,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        let params = &config.params;
        let stampede = Compare::of(params) == Compare::Stampede;
        let aggregate = stampede || text_param(params, "query", "aggregate") != "lookup";
        let rows = int_param(params, "rows", 200_000).max(1) as u64;
        let keys = match (stampede, aggregate) {
            (true, _) => 1,
            (false, true) => int_param(params, "keys", 100).clamp(1, 100) as u64,
            (false, false) => (int_param(params, "keys", 100).max(1) as u64).min(rows),
        };
        User {
            rng: Rng::new(config.seed),
            aggregate,
            keys,
            rows,
            write_permille: int_param(params, "write_permille", 0).clamp(0, 1000) as u64,
            no_cache: text_param(params, "variant", "") == "no-cache",
        }
    }

    fn next_request(&self, _iteration: u64) -> Result<Request, String> {
        if self.write_permille > 0 && self.rng.below(1000) < self.write_permille {
            // A write to a product the reads ask about (lookup), or to any product: each one
            // belongs to a category whose summary it changes (aggregate).
            let id = 1 + self
                .rng
                .below(if self.aggregate { self.rows } else { self.keys });
            let mut body = String::from("{\"price_cents\":");
            push_number(&mut body, 100 + self.rng.below(100_000));
            body.push('}');
            return Ok(put(numbered("/cache/products/", id), body)
                .header("content-type", "application/json")
                .named("write"));
        }
        let key = 1 + self.rng.below(self.keys);
        Ok(if self.aggregate {
            let mut path = numbered("/cache/categories/", key);
            path.push_str("/summary");
            get(path).named("summary")
        } else {
            get(numbered("/cache/products/", key)).named("lookup")
        })
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        let mut checks = vec![check("status is 200", response.status == 200)];
        if response.request_name != "write" {
            let source = response.header("x-cache").unwrap_or("");
            checks.push(check(
                "x-cache names the tier that answered",
                matches!(source, "database" | "redis" | "local"),
            ));
            if self.no_cache {
                checks.push(check(
                    "no-cache answers from the database",
                    source == "database",
                ));
            }
        }
        checks
    }
}

/// What each outcome teaches: whether a hit is cheaper than the query depends on the query.
impl Lessons for CacheAside {
    fn explain(
        candidate: String,
        baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (baseline.as_str(), candidate.as_str(), metric, outcome) {
            ("no-cache", "redis", Metric::Throughput, Outcome::Slower) => {
                "Redis made this read slower: a hit still costs a round trip to Redis (and its \
                 parsing), which is more than the database spends on a primary-key lookup. A \
                 cache pays off only in front of a read that costs more than a round trip."
            }
            ("no-cache", _, Metric::Throughput, Outcome::Faster) => {
                "The cache answered instead of the database: cache_misses per request fell \
                 from 1 to the cold start and the TTL's expiries. A hit costs a hash lookup \
                 in process, a round trip in Redis; both are cheaper than this query."
            }
            ("no-cache", _, Metric::Throughput, Outcome::Equivalent) => {
                "A hit and the query it saves cost about the same here: the read is cheap, or \
                 the load generator, not the service, is the bottleneck (see the CPU per \
                 request)."
            }
            ("stampede", _, Metric::P99 | Metric::Throughput, Outcome::Faster) => {
                "Single flight: when the hot key expires, one request queries and the others \
                 wait for its answer (cache_coalesced counts them) instead of all scanning the \
                 table at once — the tail the stampede makes is gone."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(CacheAside);

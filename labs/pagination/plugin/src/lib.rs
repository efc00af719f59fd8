//! Lab: pagination. One page of a large feed, deep in it: LIMIT/OFFSET against keyset
//! ("seek") pagination on an index of (created_at, id).

use perflab_plugin::*;

struct PaginationLab;

/// The service's generator (`feed.rs`): post `id` has `created_at = 1_600_000_000 + id / 2`,
/// and the feed is newest first. So the cursor that starts a page at `position` is the key of
/// post `rows - position + 1`: what a keyset client would hold from the page before.
fn cursor_before(rows: u64, position: u64) -> Option<(u64, u64)> {
    (position > 0).then(|| {
        let id = rows - position + 1;
        (1_600_000_000 + id / 2, id)
    })
}

fn default_rows(db: &str) -> i64 {
    if db == "postgres" { 1_000_000 } else { 500_000 }
}

impl Lab for PaginationLab {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let db = text_param(&params, "db", "sqlite");
        let rows = match int_param(&params, "rows", 0) {
            r if r <= 0 => default_rows(&db),
            r => r,
        };
        let depth = int_param(&params, "depth", 50);
        let settings = |name: &str| vec![option("pagination", name), knob("pagination.rows", rows)];
        Description {
            name: "pagination".into(),
            summary: format!(
                "A page of 20 posts {depth} % deep into a feed of {rows} posts on {db}: \
                 LIMIT/OFFSET against keyset."
            ),
            params: vec![
                param(
                    "rows",
                    "posts in the feed, generated on first use (0: 500 000 on SQLite, 1 000 000 \
                     on PostgreSQL)",
                    Value::Integer(0),
                ),
                param(
                    "depth",
                    "how deep the pages are, in percent of the feed (0 = the first pages)",
                    Value::Integer(50),
                ),
                db_param(),
            ],
            variants: vec![
                variant(
                    "offset",
                    "ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET k",
                    settings("offset"),
                ),
                variant(
                    "keyset",
                    "WHERE (created_at, id) < (cursor) ORDER BY ... LIMIT 20",
                    settings("keyset"),
                ),
            ],
            load: constant_vus(4, 8.0),
            quick_load: constant_vus(4, 1.5),
            rounds: 3,
            quick_rounds: 2,
            // The first request loads the feed (seconds for a million rows): the warm-up
            // absorbs it.
            warmup_ms: 3000,
            thresholds: vec![error_rate_below(0.01)],
            teaching: Teaching {
                hypothesis: "OFFSET pagination gets slower the deeper the page; keyset \
                    pagination costs the same on every page."
                    .into(),
                prediction_prompt: format!(
                    "A page {depth} % into {rows} posts on {db}. How many rows does OFFSET make \
                        the database read for 20 posts? How many times faster is keyset?"
                ),
                explanation: "Compare `feed_rows_walked` per request: OFFSET k reads k + 20 rows \
                    and discards k, because an index can be walked but not jumped into by \
                    position; keyset enters the index at the previous page's last key and reads \
                    20. The price of keyset: no page numbers and no jumping to page N — only \
                    next (and previous, with the comparison reversed) — and a sort key that is \
                    unique and indexed, hence `id` after `created_at`."
                    .into(),
            },
            needs: vec![],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::Prefix(64),
        }
    }
}

struct User {
    rng: Rng,
    rows: u64,
    /// The positions this VU's pages start at: around `depth` % of the feed.
    around: u64,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        let db = text_param(&config.params, "db", "sqlite");
        let mut rows = int_param(&config.params, "rows", 0);
        if rows <= 0 {
            rows = default_rows(&db);
        }
        let rows = rows.max(100) as u64;
        let depth = int_param(&config.params, "depth", 50).clamp(0, 99) as u64;
        User {
            rng: Rng::new(config.seed),
            rows,
            around: rows * depth / 100,
        }
    }

    fn next_request(&self, _iteration: u64) -> Result<Request, String> {
        // A page within 1 000 posts of the chosen depth, so requests do not all read the same
        // cached rows; both forms of the page are sent, the service's variant uses one.
        let jitter = self.rng.below(1000);
        let position = (self.around + jitter).min(self.rows - 20);
        let mut path = numbered("/feed?limit=20&offset=", position);
        if let Some((created_at, id)) = cursor_before(self.rows, position) {
            path.push_str("&after_created_at=");
            push_number(&mut path, created_at);
            path.push_str("&after_id=");
            push_number(&mut path, id);
        }
        Ok(get(path).named("page"))
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        vec![check("status is 200", response.status == 200)]
    }
}

/// What each outcome teaches.
impl Lessons for PaginationLab {
    fn explain(
        _candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (metric, outcome) {
            (Metric::Throughput, Outcome::Faster) => {
                "Keyset reads the page and nothing else (feed_rows_walked per request); OFFSET \
                 reads every row above the page first and throws it away."
            }
            (Metric::Throughput, Outcome::Equivalent | Outcome::Inconclusive) => {
                "No difference at this depth: near the top of the feed OFFSET skips few rows. \
                 Run with --param depth=90 to see the cost grow with the page's depth."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(PaginationLab);

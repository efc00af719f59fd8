//! Lab: indexes. The newest products of a category with no index, an index on the filter
//! column, and a composite index matching WHERE + ORDER BY; and the write side: one insert into
//! a table with 0, 1 or 3 secondary indexes.

use perflab_plugin::*;

struct IndexLab;

impl Lab for IndexLab {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let db = text_param(&params, "db", "sqlite");
        let rows = int_param(&params, "rows", 200_000);
        let writes = text_param(&params, "workload", "read") == "write";
        let index = |name: &str| vec![option("index", name), knob("index.rows", rows)];
        let variants = if writes {
            vec![
                variant(
                    "no-index",
                    "INSERT into a table with the primary key only",
                    index("no-index"),
                ),
                variant(
                    "composite",
                    "INSERT into a table with one secondary index",
                    index("composite"),
                ),
                variant(
                    "three-indexes",
                    "INSERT into a table with three secondary indexes",
                    index("three-indexes"),
                ),
            ]
        } else {
            vec![
                variant(
                    "no-index",
                    "no secondary index: scan the table, sort the matches",
                    index("no-index"),
                ),
                variant(
                    "category",
                    "an index on category_id: find the matches, sort them all",
                    index("category"),
                ),
                variant(
                    "composite",
                    "an index on (category_id, created_at, id): read 20 in order, stop",
                    index("composite"),
                ),
            ]
        };
        let side = if writes { "write" } else { "read" };
        Description {
            name: "index".into(),
            summary: format!(
                "The {side} side of indexes: {rows} products in 100 categories on {db}."
            ),
            params: vec![
                param(
                    "rows",
                    "products per table (generated on first use)",
                    Value::Integer(200_000),
                ),
                param(
                    "workload",
                    "read: the newest 20 of a category; write: one INSERT per request",
                    Value::Text("read".into()),
                ),
                db_param(),
            ],
            variants,
            load: constant_vus(4, 8.0),
            quick_load: constant_vus(4, 1.5),
            rounds: 3,
            quick_rounds: 2,
            // The first request generates the catalog (four tables): the warm-up absorbs it.
            warmup_ms: 3000,
            thresholds: vec![error_rate_below(0.01)],
            teaching: Teaching {
                hypothesis: "An index on the filtered column makes the query fast; indexes are \
                    free for reads and cheap for writes."
                    .into(),
                prediction_prompt: if writes {
                    format!(
                        "One INSERT per request on {db}. How much slower is it with three \
                         secondary indexes than with none — and is the index or the commit the \
                         bigger cost?"
                    )
                } else {
                    format!(
                        "The newest 20 of one category among {rows} products on {db}. How many \
                         times faster with an index on category_id? With one on (category_id, \
                         created_at, id)?"
                    )
                },
                explanation: "Read the query plans printed under the results: without an index \
                    the database scans the table and sorts (SQLite: SCAN + USE TEMP B-TREE FOR \
                    ORDER BY; PostgreSQL: Seq Scan + Sort); with an index on category_id it \
                    finds the category's rows but still sorts them all; the composite index \
                    lists them in the answer's order, so it reads 20 entries and stops (no sort \
                    step at all). On the write side each secondary index is one more B-tree to \
                    update per row — usually small next to the commit's fsync."
                    .into(),
            },
            needs: vec![Need::FsyncProbe],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::Prefix(64),
        }
    }
}

struct User {
    rng: Rng,
    writes: bool,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        User {
            rng: Rng::new(config.seed),
            writes: text_param(&config.params, "workload", "read") == "write",
        }
    }

    fn next_request(&self, iteration: u64) -> Result<Request, String> {
        let category = 1 + self.rng.below(100);
        if self.writes {
            let mut body = String::with_capacity(96);
            body.push_str("{\"category_id\":");
            push_number(&mut body, category);
            body.push_str(",\"price_cents\":");
            push_number(&mut body, 100 + self.rng.below(100_000));
            body.push_str(",\"name\":\"new product ");
            push_number(&mut body, iteration);
            body.push_str("\"}");
            Ok(post("/catalog/products", body)
                .header("content-type", "application/json")
                .named("insert"))
        } else {
            Ok(get(numbered("/catalog/newest?limit=20&category=", category)).named("newest"))
        }
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        let want = if self.writes { 201 } else { 200 };
        vec![check("status is 2xx", response.status == want)]
    }
}

/// What each outcome teaches.
impl Lessons for IndexLab {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (metric, candidate.as_str(), outcome) {
            (Metric::Throughput, "category", Outcome::Faster) => {
                "The index finds the category's rows without a scan; the sort of all of them \
                 remains (see the plan: a sort step above the index search)."
            }
            (Metric::Throughput, "composite", Outcome::Faster) => {
                "The composite index holds each category's rows in created_at order: the plan has \
                 no sort, and the LIMIT stops the read after 20 entries."
            }
            (Metric::Throughput, _, Outcome::Slower) => {
                "Each secondary index is one more B-tree insert per row (and more pages to write \
                 at commit)."
            }
            (Metric::Throughput, _, Outcome::Equivalent | Outcome::Inconclusive) => {
                "No measurable difference: on the write side the commit (fsync, round trip) \
                 dominates one row's index updates; on the read side the table is small enough \
                 to scan quickly. Try --param rows=1000000."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(IndexLab);

//! Lab: N+1 queries. The latest N orders with their customer and items: a query per order
//! (N+1), one JOIN, two queries with an IN list (prefetch), and a DataLoader.

use perflab_plugin::*;

struct NPlusOne;

impl Lab for NPlusOne {
    type VirtualUser = User;

    fn describe(params: Vec<ParamValue>) -> Description {
        let orders = int_param(&params, "orders", 20);
        let db = text_param(&params, "db", "sqlite");
        let orders_query = |name: &str| vec![option("orders", name)];
        Description {
            name: "n-plus-one".into(),
            summary: format!(
                "The latest {orders} orders with their customer and items, four ways, on {db}."
            ),
            params: vec![
                param(
                    "orders",
                    "orders per page (1..=500): N in 1 + 2N",
                    Value::Integer(20),
                ),
                param(
                    "pages",
                    "pages the virtual users pick from at random (1 = all read the same page, \
                    which lets the DataLoader share whole batches between requests)",
                    Value::Integer(50),
                ),
                db_param(),
            ],
            variants: vec![
                variant(
                    "n-plus-one",
                    "1 query for the orders, then 2 per order (customer, items)",
                    orders_query("n-plus-one"),
                ),
                variant(
                    "join",
                    "one SELECT joining orders, customers and items",
                    orders_query("join"),
                ),
                variant(
                    "prefetch",
                    "orders with their customers, then all items in one IN / ANY query",
                    orders_query("prefetch"),
                ),
                variant(
                    "dataloader",
                    "the per-order code, its lookups batched by a DataLoader",
                    orders_query("dataloader"),
                ),
            ],
            load: constant_vus(8, 8.0),
            quick_load: constant_vus(8, 1.5),
            rounds: 3,
            quick_rounds: 2,
            warmup_ms: 1500,
            thresholds: vec![error_rate_below(0.01)],
            teaching: Teaching {
                hypothesis: "Loading a list and then each row's relations one query at a time \
                    (N+1) is slow; one JOIN or a prefetch is much faster."
                    .into(),
                prediction_prompt: format!(
                    "{orders} orders per page on {db}: that is {} statements for N+1 against 1 \
                        for the JOIN. How many times more requests per second will the JOIN \
                        serve? Will it differ between SQLite (in-process) and PostgreSQL \
                        (a round trip per statement)?",
                    1 + 2 * orders
                ),
                explanation: "Compare `db_statements` per request: 1 + 2N for N+1, 1 for the \
                    JOIN, 2 for the prefetch, and fewer than 3 for the DataLoader when concurrent \
                    requests share its batches (`dataloader_keys` per `dataloader_batches`). \
                    Each statement costs a parse, a plan and, on PostgreSQL, a network round \
                    trip; on SQLite only the first two, so the gap is smaller there. The JOIN \
                    repeats every order's and customer's columns on each item row \
                    (`db_rows_fetched`), which is why a prefetch can win on wide rows."
                    .into(),
            },
            needs: vec![],
            databases: vec!["sqlite".into(), "postgres".into()],
            body_need: BodyNeed::All,
        }
    }
}

/// The service's data set holds 10 000 orders.
const ORDERS: u64 = 10_000;

struct User {
    rng: Rng,
    /// `/orders/latest?limit=N&page=` (the page number is appended per request).
    prefix: String,
    pages: u64,
    orders: usize,
}

impl GuestVirtualUser for User {
    fn new(config: VuConfig) -> Self {
        let orders = int_param(&config.params, "orders", 20).clamp(1, 500) as u64;
        let pages = (int_param(&config.params, "pages", 50).max(1) as u64).min(ORDERS / orders);
        let mut prefix = numbered("/orders/latest?limit=", orders);
        prefix.push_str("&page=");
        User {
            rng: Rng::new(config.seed),
            prefix,
            pages,
            orders: orders as usize,
        }
    }

    fn next_request(&self, _iteration: u64) -> Result<Request, String> {
        let page = self.rng.below(self.pages);
        Ok(get(numbered(&self.prefix, page)).named("page of orders"))
    }

    fn check_response(&self, response: Response) -> Vec<Check> {
        // Every variant must return the same page: N orders, each with its customer. (The
        // tests compare the full bodies across variants.)
        let body = String::from_utf8_lossy(&response.body);
        let customers = body.matches("\"customer\":").count();
        vec![
            check("status is 200", response.status == 200),
            check("all orders with their customer", customers == self.orders),
        ]
    }
}

/// What each outcome teaches: statements per request against what one statement costs here.
impl Lessons for NPlusOne {
    fn explain(
        candidate: String,
        _baseline: String,
        metric: Metric,
        outcome: Outcome,
    ) -> Option<String> {
        let text = match (metric, outcome, candidate.as_str()) {
            (Metric::Throughput, Outcome::Faster, "dataloader") => {
                "The DataLoader keeps the per-order code and still sends a handful of statements: \
                 the lookups that wait at the same moment share one IN query \
                 (dataloader_keys per dataloader_batches says how many shared each)."
            }
            (Metric::Throughput, Outcome::Faster, _) => {
                "Fewer statements per request (db_statements): each one you do not send saves a \
                 parse, a plan and, on PostgreSQL, a round trip."
            }
            (Metric::Throughput, Outcome::Equivalent | Outcome::Inconclusive, _) => {
                "Little or no difference: with few orders per page, or with SQLite's in-process \
                 calls, a statement costs so little that 2N of them hardly matter. Raise \
                 --param orders=, or run with --db postgres, where each is a round trip."
            }
            _ => return None,
        };
        Some(text.to_string())
    }
}

export!(NPlusOne);

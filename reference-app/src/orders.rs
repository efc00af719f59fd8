//! Dimension `orders`: listing the latest N orders with their customer and items.
//!
//! The lesson (seed guides: "N+1 queries", Django's `select_related` / `prefetch_related`):
//! code that loads an order list and then, per order, "just asks for" its customer and its
//! items sends 1 + 2N statements. Each is cheap on its own; together they are 2N round trips
//! and 2N trips through the database's parser and executor. One JOIN, or two queries with an
//! `IN` list, return the same answer in 1 or 2 statements. A DataLoader keeps the per-order
//! code shape but coalesces the lookups that are waiting at the same moment, from this request
//! and from concurrent ones, into one `IN` query.
//!
//! Watch `db_statements_total` per request (1 + 2N vs 1 vs 2) and `db_rows_fetched_total`
//! (the JOIN repeats every order's and customer's columns on each item row).
//! On SQLite a "round trip" is a function call in the same process, so the lesson shrinks to
//! the per-statement work; on PostgreSQL each statement is a network round trip.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use tokio::sync::oneshot;

use crate::db::Db;
use crate::dimension;
use crate::error::ApiError;
use crate::generated::Generated;
use crate::metric_names as names;

dimension! {
    pub enum OrdersQuery as "orders", default NPlusOne, knobs [] {
        /// Naive: the loop every ORM makes easy.
        NPlusOne = "1 query for the orders, then 1 per order for its customer and 1 for its items: 1 + 2N statements",
        /// Optimized: the database does the matching.
        Join = "one SELECT joining orders, customers and items: 1 statement, columns repeated per item row",
        Prefetch = "orders joined with their customers, then all their items in one IN (...) / = ANY($1) query: 2 statements",
        /// The per-order code shape kept, the statements batched behind it.
        Dataloader = "per-order lookups through a DataLoader that batches the keys waiting at the same moment (across requests too) into one IN query",
    }
}

/// The most orders one request may ask for.
pub const MAX_LIMIT: i64 = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    pub id: i64,
    pub product: String,
    pub quantity: i64,
    pub price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub id: i64,
    pub created_at: i64,
    pub total_cents: i64,
    pub customer: Customer,
    /// In item id order.
    pub items: Vec<Item>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderList {
    pub variant: String,
    /// Newest first (by id: ids are in creation order).
    pub orders: Vec<Order>,
}

/// What the service keeps for this dimension: the data set's one-time load and the loaders.
#[derive(Default)]
pub struct OrdersState {
    loaded: Generated,
    customers: Arc<Loader<Customer>>,
    items: Arc<Loader<Vec<Item>>>,
}

impl OrdersState {
    /// The orders' size and where they came from, once a page has been asked for.
    pub fn note(&self) -> Option<(String, String)> {
        self.loaded.note("orders")
    }
}

/// Page `page` (0 = the newest) of `limit` orders, newest first, with their customers and
/// items.
pub async fn latest(
    db: &Arc<Db>,
    state: &OrdersState,
    kind: OrdersQuery,
    limit: i64,
    page: i64,
) -> Result<OrderList, ApiError> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1..={MAX_LIMIT}, got {limit}"
        )));
    }
    let pages = dataset::ORDERS / limit;
    if !(0..pages).contains(&page) {
        return Err(ApiError::BadRequest(format!(
            "page must be 0..{pages} for limit={limit} ({} orders), got {page}",
            dataset::ORDERS
        )));
    }
    // Pages by id range, not OFFSET: the lesson here is the statements per page, not the cost
    // of skipping rows (that is the pagination lab's).
    let page = Page {
        limit,
        newest: dataset::ORDERS - page * limit,
    };
    dataset::ensure(db, &state.loaded).await?;
    let orders = match kind {
        OrdersQuery::NPlusOne => n_plus_one(db, page).await?,
        OrdersQuery::Join => joined(db, page).await?,
        OrdersQuery::Prefetch => prefetched(db, page).await?,
        OrdersQuery::Dataloader => through_loaders(db, state, page).await?,
    };
    Ok(OrderList {
        variant: kind.as_ref().to_string(),
        orders,
    })
}

/// `limit` orders, the newest of them `newest` (ids are in creation order).
#[derive(Clone, Copy)]
struct Page {
    limit: i64,
    newest: i64,
}

/// One statement sent; `rows` rows came back.
fn counted(rows: usize) {
    metrics::counter!(names::DB_STATEMENTS).increment(1);
    metrics::counter!(names::DB_ROWS_FETCHED).increment(rows as u64);
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: i64,
    customer_id: i64,
    created_at: i64,
    total_cents: i64,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    order_id: i64,
    id: i64,
    product: String,
    quantity: i64,
    price_cents: i64,
}

impl ItemRow {
    fn item(self) -> Item {
        Item {
            id: self.id,
            product: self.product,
            quantity: self.quantity,
            price_cents: self.price_cents,
        }
    }
}

const PAGE_OF_ORDERS: &str = "SELECT id, customer_id, created_at, total_cents FROM orders \
     WHERE id <= $2 ORDER BY id DESC LIMIT $1";

async fn page_of_orders(db: &Db, page: Page) -> Result<Vec<OrderRow>, sqlx::Error> {
    let rows: Vec<OrderRow> = crate::on_db!(db, pool => {
        sqlx::query_as(PAGE_OF_ORDERS).bind(page.limit).bind(page.newest).fetch_all(pool).await?
    });
    counted(rows.len());
    Ok(rows)
}

fn order(o: OrderRow, customer: Customer, items: Vec<Item>) -> Order {
    Order {
        id: o.id,
        created_at: o.created_at,
        total_cents: o.total_cents,
        customer,
        items,
    }
}

// ---- naive: 1 + 2N statements ----------------------------------------------------------------

async fn n_plus_one(db: &Db, page: Page) -> Result<Vec<Order>, ApiError> {
    let mut out = Vec::new();
    for o in page_of_orders(db, page).await? {
        // What `order.customer` and `order.items` do in a lazy-loading ORM: a query each.
        let customer: Customer = crate::on_db!(db, pool => {
            sqlx::query_as("SELECT id, name, email FROM customers WHERE id = $1")
                .bind(o.customer_id).fetch_one(pool).await?
        });
        counted(1);
        let items: Vec<ItemRow> = crate::on_db!(db, pool => {
            sqlx::query_as("SELECT order_id, id, product, quantity, price_cents FROM order_items \
                            WHERE order_id = $1 ORDER BY id")
                .bind(o.id).fetch_all(pool).await?
        });
        counted(items.len());
        out.push(order(
            o,
            customer,
            items.into_iter().map(ItemRow::item).collect(),
        ));
    }
    Ok(out)
}

// ---- optimized: one JOIN ---------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct JoinedRow {
    order_id: i64,
    created_at: i64,
    total_cents: i64,
    customer_id: i64,
    customer_name: String,
    customer_email: String,
    item_id: i64,
    product: String,
    quantity: i64,
    price_cents: i64,
}

async fn joined(db: &Db, page: Page) -> Result<Vec<Order>, ApiError> {
    // The LIMIT applies to orders, not to joined rows: hence the subquery.
    const JOINED: &str = "SELECT o.id AS order_id, o.created_at, o.total_cents, \
            c.id AS customer_id, c.name AS customer_name, c.email AS customer_email, \
            i.id AS item_id, i.product, i.quantity, i.price_cents \
        FROM (SELECT * FROM orders WHERE id <= $2 ORDER BY id DESC LIMIT $1) o \
        JOIN customers c ON c.id = o.customer_id \
        JOIN order_items i ON i.order_id = o.id \
        ORDER BY o.id DESC, i.id";
    let rows: Vec<JoinedRow> = crate::on_db!(db, pool => {
        sqlx::query_as(JOINED).bind(page.limit).bind(page.newest).fetch_all(pool).await?
    });
    counted(rows.len());
    // Rows arrive grouped by order: fold consecutive rows of one order into one `Order`.
    let mut out: Vec<Order> = Vec::new();
    for r in rows {
        let item = Item {
            id: r.item_id,
            product: r.product,
            quantity: r.quantity,
            price_cents: r.price_cents,
        };
        match out.last_mut() {
            Some(last) if last.id == r.order_id => last.items.push(item),
            _ => out.push(Order {
                id: r.order_id,
                created_at: r.created_at,
                total_cents: r.total_cents,
                customer: Customer {
                    id: r.customer_id,
                    name: r.customer_name,
                    email: r.customer_email,
                },
                items: vec![item],
            }),
        }
    }
    Ok(out)
}

// ---- optimized: two queries (select_related + prefetch_related) -------------------------------

#[derive(sqlx::FromRow)]
struct OrderWithCustomer {
    id: i64,
    created_at: i64,
    total_cents: i64,
    customer_id: i64,
    customer_name: String,
    customer_email: String,
}

async fn prefetched(db: &Db, page: Page) -> Result<Vec<Order>, ApiError> {
    const WITH_CUSTOMERS: &str = "SELECT o.id, o.created_at, o.total_cents, \
            c.id AS customer_id, c.name AS customer_name, c.email AS customer_email \
        FROM orders o JOIN customers c ON c.id = o.customer_id \
        WHERE o.id <= $2 ORDER BY o.id DESC LIMIT $1";
    let heads: Vec<OrderWithCustomer> = crate::on_db!(db, pool => {
        sqlx::query_as(WITH_CUSTOMERS).bind(page.limit).bind(page.newest).fetch_all(pool).await?
    });
    counted(heads.len());
    let ids: Vec<i64> = heads.iter().map(|o| o.id).collect();
    let mut items = items_of(db, &ids).await?;
    Ok(heads
        .into_iter()
        .map(|o| Order {
            id: o.id,
            created_at: o.created_at,
            total_cents: o.total_cents,
            customer: Customer {
                id: o.customer_id,
                name: o.customer_name,
                email: o.customer_email,
            },
            items: items.remove(&o.id).unwrap_or_default(),
        })
        .collect())
}

/// `SELECT ... WHERE column` matching any of `ids`, in one statement. PostgreSQL takes the ids
/// as one array (`= ANY($1)`: one prepared statement whatever the count); SQLite has no
/// arrays, so it gets an `IN (?, ?, ...)` list.
async fn rows_matching<T>(
    db: &Db,
    select: &str,
    column: &str,
    ids: &[i64],
    order_by: &str,
) -> Result<Vec<T>, sqlx::Error>
where
    T: Send + Unpin,
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    let rows: Vec<T> = match db {
        Db::Postgres { pool, .. } => {
            sqlx::query_as(&format!("{select} WHERE {column} = ANY($1) {order_by}"))
                .bind(ids)
                .fetch_all(pool)
                .await?
        }
        Db::Sqlite { pool, .. } => {
            let mut qb = QueryBuilder::new(format!("{select} WHERE {column} IN ("));
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            qb.push(format!(") {order_by}"));
            qb.build_query_as().fetch_all(pool).await?
        }
    };
    counted(rows.len());
    Ok(rows)
}

/// The items of many orders in one statement, grouped by order.
async fn items_of(db: &Db, order_ids: &[i64]) -> Result<HashMap<i64, Vec<Item>>, sqlx::Error> {
    let rows: Vec<ItemRow> = rows_matching(
        db,
        "SELECT order_id, id, product, quantity, price_cents FROM order_items",
        "order_id",
        order_ids,
        "ORDER BY order_id, id",
    )
    .await?;
    let mut by_order: HashMap<i64, Vec<Item>> = HashMap::new();
    for r in rows {
        by_order.entry(r.order_id).or_default().push(r.item());
    }
    Ok(by_order)
}

async fn customers_by_id(db: &Db, ids: &[i64]) -> Result<HashMap<i64, Customer>, sqlx::Error> {
    let rows: Vec<Customer> =
        rows_matching(db, "SELECT id, name, email FROM customers", "id", ids, "").await?;
    Ok(rows.into_iter().map(|c| (c.id, c)).collect())
}

// ---- the DataLoader ---------------------------------------------------------------------------

async fn through_loaders(
    db: &Arc<Db>,
    state: &OrdersState,
    page: Page,
) -> Result<Vec<Order>, ApiError> {
    let heads = page_of_orders(db, page).await?;
    // The same per-order code as `n_plus_one`, but every order's lookups are started at once
    // and wait in the loaders, which send one query per batch of waiting keys.
    let per_order = heads.into_iter().map(|o| async {
        let customer = state.customers.load(db, o.customer_id).await?;
        let items = state.items.load(db, o.id).await?;
        let customer = customer.ok_or_else(|| {
            ApiError::dependency("database", format!("order {} has no customer", o.id))
        })?;
        Ok::<_, ApiError>(order(o, customer, items.unwrap_or_default()))
    });
    let mut out = Vec::new();
    for done in futures::future::join_all(per_order).await {
        out.push(done?);
    }
    Ok(out)
}

/// A value a [`Loader`] fetches by key, many keys per statement.
pub trait Batched: Clone + Send + 'static {
    fn fetch(
        db: &Db,
        keys: Vec<i64>,
    ) -> impl Future<Output = Result<HashMap<i64, Self>, sqlx::Error>> + Send;
}

impl Batched for Customer {
    async fn fetch(db: &Db, keys: Vec<i64>) -> Result<HashMap<i64, Self>, sqlx::Error> {
        customers_by_id(db, &keys).await
    }
}

impl Batched for Vec<Item> {
    async fn fetch(db: &Db, keys: Vec<i64>) -> Result<HashMap<i64, Self>, sqlx::Error> {
        items_of(db, &keys).await
    }
}

type Reply<V> = oneshot::Sender<Result<Option<V>, Arc<str>>>;

/// DataLoader (graphql/dataloader): `load(key)` parks the key; the first key of a batch
/// schedules a dispatch that lets the runtime run everything else that is ready (so other
/// lookups of this request and of concurrent requests can join), then fetches all parked keys
/// in one statement and answers each caller.
///
/// Written here rather than taken from the `dataloader` crate (0.18): that crate runs each
/// batch's query while holding its state lock, so every other lookup waits for the database,
/// and its load future is not `Send`, which an axum handler needs.
pub struct Loader<V> {
    parked: Mutex<Vec<(i64, Reply<V>)>>,
}

impl<V> Default for Loader<V> {
    fn default() -> Self {
        Loader {
            parked: Mutex::new(Vec::new()),
        }
    }
}

/// How many times a dispatch yields before it takes its batch: what graphql/dataloader calls
/// "the end of the tick".
const YIELDS_BEFORE_DISPATCH: usize = 4;

impl<V: Batched> Loader<V> {
    pub async fn load(self: &Arc<Self>, db: &Arc<Db>, key: i64) -> Result<Option<V>, ApiError> {
        let (reply, answer) = oneshot::channel();
        let first = {
            let mut parked = self.parked.lock().expect("loader lock");
            parked.push((key, reply));
            parked.len() == 1
        };
        if first {
            // A task of its own, so a caller that goes away (client disconnect) does not take
            // the other callers' batch with it.
            let (loader, db) = (Arc::clone(self), Arc::clone(db));
            tokio::spawn(async move { loader.dispatch(&db).await });
        }
        match answer.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(message)) => Err(ApiError::dependency("database", message)),
            Err(_) => Err(ApiError::dependency(
                "database",
                "the batch this lookup waited for was dropped",
            )),
        }
    }

    async fn dispatch(&self, db: &Db) {
        for _ in 0..YIELDS_BEFORE_DISPATCH {
            tokio::task::yield_now().await;
        }
        let batch = std::mem::take(&mut *self.parked.lock().expect("loader lock"));
        let mut keys: Vec<i64> = batch.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        keys.dedup();
        metrics::counter!(names::DATALOADER_BATCHES).increment(1);
        metrics::counter!(names::DATALOADER_KEYS).increment(batch.len() as u64);
        match V::fetch(db, keys).await {
            Ok(found) => {
                for (key, reply) in batch {
                    let _ = reply.send(Ok(found.get(&key).cloned()));
                }
            }
            Err(e) => {
                let message: Arc<str> = Arc::from(format!("batched lookup failed: {e}"));
                for (_, reply) in batch {
                    let _ = reply.send(Err(Arc::clone(&message)));
                }
            }
        }
    }
}

/// The generated data set: deterministic, loaded once per data directory, reloaded when the
/// generator changes.
pub mod dataset {
    use super::*;

    pub const CUSTOMERS: i64 = 1_000;
    pub const ORDERS: i64 = 10_000;
    /// Bump when the generator changes: the fingerprint no longer matches and the data reloads.
    const GENERATOR: &str = "orders-v2";
    const PRODUCTS: [&str; 8] = [
        "keyboard", "mouse", "monitor", "cable", "laptop", "dock", "headset", "webcam",
    ];

    /// SplitMix64: a fixed function of the index, so every database gets the same rows.
    fn mix(i: i64) -> u64 {
        let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn items_of_order(order_id: i64) -> i64 {
        1 + (mix(order_id) % 5) as i64
    }

    pub(super) async fn ensure(db: &Db, state: &Generated) -> Result<(), ApiError> {
        let generator = format!("{GENERATOR}:{CUSTOMERS}");
        state
            .ensure(db, "orders", &generator, ORDERS, || load(db))
            .await
    }

    async fn load(db: &Db) -> Result<(), sqlx::Error> {
        crate::on_db!(db, pool => async {
            // One transaction: a crash half-way leaves the old data (or none), never half.
            let mut tx = pool.begin().await?;
            for table in ["order_items", "orders", "customers"] {
                sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
            }
            for chunk in (1..=CUSTOMERS).collect::<Vec<_>>().chunks(500) {
                let mut qb = QueryBuilder::new("INSERT INTO customers (id, name, email) ");
                qb.push_values(chunk, |mut row, id| {
                    row.push_bind(*id)
                        .push_bind(format!("Customer {id}"))
                        .push_bind(format!("customer{id}@example.com"));
                });
                qb.build().execute(&mut *tx).await?;
            }
            let mut item_id = 0i64;
            for chunk in (1..=ORDERS).collect::<Vec<_>>().chunks(500) {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO orders (id, customer_id, created_at, total_cents) ");
                qb.push_values(chunk, |mut row, id| {
                    row.push_bind(*id)
                        .push_bind(1 + (mix(*id) % CUSTOMERS as u64) as i64)
                        .push_bind(1_700_000_000 + id / 3)
                        .push_bind((mix(id + ORDERS) % 100_000) as i64);
                });
                qb.build().execute(&mut *tx).await?;
                let mut items = Vec::new();
                for order_id in chunk {
                    for k in 0..items_of_order(*order_id) {
                        item_id += 1;
                        items.push((item_id, *order_id, k));
                    }
                }
                let mut qb = QueryBuilder::new(
                    "INSERT INTO order_items (id, order_id, product, quantity, price_cents) ");
                qb.push_values(&items, |mut row, (id, order_id, k)| {
                    let m = mix(*id);
                    row.push_bind(*id)
                        .push_bind(*order_id)
                        .push_bind(PRODUCTS[((m >> 8) % 8) as usize])
                        .push_bind(1 + (m % 4) as i64)
                        .push_bind(100 + (mix(*k + *id) % 10_000) as i64);
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        }.await)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_has_items() {
        assert!((1..=1000).all(|o| (1..=5).contains(&dataset::items_of_order(o))));
    }
}

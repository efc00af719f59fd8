//! Dimension `cache`: cache-aside in Redis, in the process, or both — and what a cache costs.
//!
//! The lesson (seed guide 000 §7, seed 002's Redis cache): a cache answers a read without the
//! database. Whether that is faster depends on what a hit costs against what it saves:
//!
//! | option | a hit costs | a miss costs | instances share it | after a write |
//! |---|---|---|---|---|
//! | `no-cache` | — | the query | — | always current |
//! | `redis` | one Redis round trip (~35 µs on loopback, the link's RTT otherwise) | GET + query + SET | yes | stale until the TTL, unless the write deletes the key |
//! | `in-process` | a hash lookup (~1 µs), no I/O | the query | no: each instance its own copy | the same, and other instances never hear of the write |
//! | `two-tier` | the in-process lookup; on a local miss, the Redis round trip | local miss + Redis miss + query + SET | through Redis | both tiers stale until invalidated |
//!
//! A primary-key lookup that SQLite answers in ~19 µs is *slower* through Redis: the cache
//! is the refutation of "add a cache" (FACTS). An aggregation that scans the table (tens of
//! milliseconds) is where any cache wins.
//!
//! Cache-aside on a miss: read the database, put the answer in the cache with a TTL. Two
//! costs come with it and are counted here:
//! - **stale reads**: a cached answer older than the last committed write to it. Every row
//!   carries a `version` that each write increments, so an answer knows the version it was
//!   read at (a category's: the sum over its products); a hit is stale when that is below the
//!   latest version a write has committed. `cache.invalidate_on_write` = 0 leaves entries until
//!   their TTL; 1 deletes them after every write — and still leaves the race cache-aside is
//!   known for: a read that fetched the old row before the write and stores it after the delete;
//! - **stampedes**: when a hot key expires, every request that misses it at once queries the
//!   database. `cache.single_flight` = 1 lets the first miss load and the others wait for it
//!   (moka's `try_get_with` for the local tier, [`Flights`] for the Redis tier).
//!
//! Each option has its own keys (in Redis, under its own prefix) and its own in-process cache,
//! kept warm across the lab's interleaved rounds. The options share one database, so a write
//! with `cache.invalidate_on_write` deletes the changed answers from *every* option's caches,
//! whichever option is serving (one Redis `DEL` for all of them): otherwise one variant's
//! writes would leave another's cache stale and the count would blame the wrong variant.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use sqlx::postgres::PgPoolCopyExt;

use crate::db::Db;
use crate::dimension;
use crate::error::ApiError;
use crate::generated::Generated;
use crate::metric_names as names;
use crate::settings::Knob;

dimension! {
    pub enum CacheKind as "cache", default NoCache, knobs [TTL_MS, SINGLE_FLIGHT, INVALIDATE_ON_WRITE, ROWS] {
        /// Naive: the baseline every cache is measured against.
        NoCache = "no cache: every read is a database query",
        Redis = "cache-aside in Redis: GET; on a miss, the query and a SET with the TTL (a hit is one network round trip)",
        InProcess = "cache-aside in this process (moka): a hit is a hash lookup, no I/O; every instance has its own copy",
        TwoTier = "in-process first, then Redis, then the database: most hits stay in the process, instances share what the database answered",
    }
}

pub const TTL_MS: Knob = Knob {
    index: 0,
    name: "cache.ttl_ms",
    about: "how long a cached answer lives, in milliseconds (both tiers)",
    default: 10_000,
    max: 3_600_000,
};

pub const SINGLE_FLIGHT: Knob = Knob {
    index: 1,
    name: "cache.single_flight",
    about: "1: concurrent misses of one key wait for one load; 0: each miss queries the database (the stampede)",
    default: 1,
    max: 1,
};

pub const INVALIDATE_ON_WRITE: Knob = Knob {
    index: 2,
    name: "cache.invalidate_on_write",
    about: "1: a write deletes the cached answers it changes; 0: they stay until their TTL (stale reads)",
    default: 1,
    max: 1,
};

pub const ROWS: Knob = Knob {
    index: 3,
    name: "cache.rows",
    about: "products in the cache lab's table (generated on first use; a different count reloads it)",
    default: 200_000,
    max: 5_000_000,
};

/// Products are spread over this many categories; a category's summary scans the table.
pub const CATEGORIES: i64 = 100;

/// Entries each in-process cache holds at most (far more than the lab's keys).
const LOCAL_CAPACITY: u64 = 1_000_000;

/// The two reads the lab compares, and what a cache stores for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A primary-key lookup: cheap, the refutation.
    Product(i64),
    /// An aggregation over the table: expensive, the win.
    Category(i64),
}

impl Key {
    fn redis_key(self, kind: CacheKind) -> String {
        let kind: &str = kind.as_ref();
        match self {
            Key::Product(id) => format!("perflab:cache:{kind}:product:{id}"),
            Key::Category(id) => format!("perflab:cache:{kind}:category:{id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Product {
    pub id: i64,
    pub category_id: i64,
    pub price_cents: i64,
    pub stock: i64,
    /// Writes to this product so far: what tells a stale cached answer from a current one.
    pub version: i64,
}

/// The expensive read: one category's figures, computed by scanning every product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategorySummary {
    pub category_id: i64,
    pub products: i64,
    pub total_stock: i64,
    pub max_price_cents: i64,
    pub average_price_cents: i64,
    /// Writes to the category's products so far (the sum of their versions).
    pub writes: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PriceChange {
    pub price_cents: i64,
}

/// Where an answer came from: the `x-cache` header of every cache-lab response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum Source {
    Database,
    Redis,
    Local,
}

/// A cached answer: its JSON, and the version of the rows it was computed from.
#[derive(Debug, Clone)]
struct Cached {
    version: u64,
    body: Bytes,
}

impl Cached {
    /// Redis holds the version as 8 bytes, then the JSON.
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + self.body.len());
        v.extend_from_slice(&self.version.to_be_bytes());
        v.extend_from_slice(&self.body);
        v
    }

    fn decode(bytes: Vec<u8>) -> Option<Cached> {
        let version = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        Some(Cached {
            version,
            body: Bytes::from(bytes).slice(8..),
        })
    }
}

type LocalCache = moka::future::Cache<Key, Cached>;

/// One in-process cache, rebuilt when the TTL knob changes (moka fixes the TTL at build time).
#[derive(Default)]
struct LocalTier {
    built: RwLock<Option<(u64, LocalCache)>>,
}

impl LocalTier {
    fn get(&self, ttl_ms: u64) -> LocalCache {
        if let Some((ttl, cache)) = &*self.built.read().expect("local tier lock")
            && *ttl == ttl_ms
        {
            return cache.clone();
        }
        let cache = LocalCache::builder()
            .max_capacity(LOCAL_CAPACITY)
            .time_to_live(Duration::from_millis(ttl_ms.max(1)))
            .build();
        *self.built.write().expect("local tier lock") = Some((ttl_ms, cache.clone()));
        cache
    }

    /// The cache as built, if it was (a write need not build one to invalidate it).
    fn built(&self) -> Option<LocalCache> {
        let built = self.built.read().expect("local tier lock");
        built.as_ref().map(|(_, cache)| cache.clone())
    }
}

/// Concurrent misses of one key share one load (Go's `singleflight`): the first caller loads,
/// the others wait for its answer. moka does this for its own entries (`try_get_with`), but
/// the Redis tier needs it around a remote cache; the small crates that offer it are thinly
/// maintained, and the mechanism is the lesson, so it is written out here.
#[derive(Default)]
struct Flights {
    /// Per (option, key): the load in flight, which every concurrent miss awaits.
    in_flight: std::sync::Mutex<HashMap<(u8, Key), Flight>>,
}

type Flight = Arc<tokio::sync::OnceCell<Cached>>;

impl Flights {
    /// `load`'s answer, or the one a concurrent caller is loading; `true` if this call loaded.
    async fn run<F, Fut>(&self, id: (u8, Key), load: F) -> Result<(Cached, bool), ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Cached, ApiError>>,
    {
        let cell = self
            .in_flight
            .lock()
            .expect("flights lock")
            .entry(id)
            .or_default()
            .clone();
        let mut loaded = false;
        let answer = cell
            .get_or_try_init(|| {
                loaded = true;
                load()
            })
            .await
            .cloned();
        // The first to finish retires the flight; later misses start a new one (by then the
        // answer is in the cache). A failed load leaves the cell empty for the next waiter.
        let mut in_flight = self.in_flight.lock().expect("flights lock");
        if in_flight.get(&id).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            in_flight.remove(&id);
        }
        answer.map(|c| (c, loaded))
    }
}

/// The cache lab's shared state: the data set, the in-process tiers, the write versions.
#[derive(Default)]
pub struct CacheState {
    products: Generated,
    in_process: LocalTier,
    two_tier: LocalTier,
    flights: Flights,
    /// The latest committed version per key (absent: never written). Raised only after a
    /// write commits, so it is never ahead of what a read can see.
    versions: DashMap<Key, u64>,
    /// Versions start at 0 in each process (a kept data folder holds the last one's), so that
    /// the map above and the table agree.
    versions_reset: tokio::sync::OnceCell<()>,
}

/// What a cache read needs from the service.
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub redis: Option<ConnectionManager>,
    pub state: &'a CacheState,
    pub kind: CacheKind,
    pub ttl_ms: u64,
    pub single_flight: bool,
    pub invalidate_on_write: bool,
    pub rows: i64,
}

impl CacheState {
    pub fn note(&self) -> Option<(String, String)> {
        self.products.note("cache products")
    }

    fn version(&self, key: Key) -> u64 {
        self.versions.get(&key).map_or(0, |v| *v)
    }
}

impl Ctx<'_> {
    fn redis(&self) -> Result<ConnectionManager, ApiError> {
        self.redis.clone().ok_or_else(|| {
            ApiError::Unavailable(format!(
                "cache option {} needs Redis: start the service with --redis-url redis://HOST:PORT",
                self.kind.as_ref()
            ))
        })
    }

    fn local(&self) -> Option<LocalCache> {
        match self.kind {
            CacheKind::InProcess => Some(self.state.in_process.get(self.ttl_ms)),
            CacheKind::TwoTier => Some(self.state.two_tier.get(self.ttl_ms)),
            CacheKind::NoCache | CacheKind::Redis => None,
        }
    }
}

/// A read through the current option: the answer's JSON and where it came from.
pub async fn read(ctx: &Ctx<'_>, key: Key) -> Result<(Bytes, Source), ApiError> {
    check_key(key)?;
    dataset::ensure(ctx.db, ctx.state, ctx.rows).await?;
    let (cached, source) = match ctx.kind {
        CacheKind::NoCache => (query(ctx, key).await?, Source::Database),
        CacheKind::Redis => through_redis(ctx, key).await?,
        CacheKind::InProcess | CacheKind::TwoTier => through_local(ctx, key).await?,
    };
    if source != Source::Database && cached.version < ctx.state.version(key) {
        metrics::counter!(names::CACHE_STALE_READS).increment(1);
    }
    Ok((cached.body, source))
}

/// The in-process tier, in front of Redis (`two-tier`) or of the database (`in-process`).
async fn through_local(ctx: &Ctx<'_>, key: Key) -> Result<(Cached, Source), ApiError> {
    let local = ctx.local().expect("an option with a local tier");
    if let Some(hit) = local.get(&key).await {
        metrics::counter!(names::CACHE_LOCAL_HITS).increment(1);
        return Ok((hit, Source::Local));
    }
    let below = || async {
        match ctx.kind {
            CacheKind::TwoTier => through_redis(ctx, key).await,
            _ => Ok((query(ctx, key).await?, Source::Database)),
        }
    };
    if !ctx.single_flight {
        // The stampede: every concurrent miss goes below, and each puts its answer back.
        let (cached, source) = below().await?;
        local.insert(key, cached.clone()).await;
        return Ok((cached, source));
    }
    let mut source = None;
    let entry = local
        .entry(key)
        .or_try_insert_with(async {
            let (cached, from) = below().await?;
            source = Some(from);
            Ok::<_, ApiError>(cached)
        })
        .await
        // The error is shared with the requests that waited for this load.
        .map_err(|shared| (*shared).clone())?;
    match source {
        Some(source) => Ok((entry.into_value(), source)),
        // Another request's load answered this one.
        None => {
            metrics::counter!(names::CACHE_COALESCED).increment(1);
            Ok((entry.into_value(), Source::Local))
        }
    }
}

/// The Redis tier: GET; on a miss, the database and a SET with the TTL.
async fn through_redis(ctx: &Ctx<'_>, key: Key) -> Result<(Cached, Source), ApiError> {
    let mut redis = ctx.redis()?;
    let redis_key = key.redis_key(ctx.kind);
    metrics::counter!(names::CACHE_REDIS_ROUND_TRIPS).increment(1);
    let got: Option<Vec<u8>> = redis
        .get(&redis_key)
        .await
        .map_err(|e| ApiError::dependency("Redis GET", e))?;
    if let Some(hit) = got.and_then(Cached::decode) {
        metrics::counter!(names::CACHE_REDIS_HITS).increment(1);
        return Ok((hit, Source::Redis));
    }
    let load = || async {
        let cached = query(ctx, key).await?;
        let mut redis = ctx.redis()?;
        metrics::counter!(names::CACHE_REDIS_ROUND_TRIPS).increment(1);
        let () = redis
            .pset_ex(&redis_key, cached.encode(), ctx.ttl_ms.max(1))
            .await
            .map_err(|e| ApiError::dependency("Redis SET", e))?;
        Ok(cached)
    };
    if ctx.single_flight && ctx.kind == CacheKind::Redis {
        let (cached, loaded) = ctx.state.flights.run((ctx.kind.into(), key), load).await?;
        if !loaded {
            metrics::counter!(names::CACHE_COALESCED).increment(1);
            return Ok((cached, Source::Redis));
        }
        return Ok((cached, Source::Database));
    }
    // `two-tier` coalesces in its local tier already; without single flight, every miss loads.
    Ok((load().await?, Source::Database))
}

/// The database: the miss every option pays, and all that `no-cache` does.
async fn query(ctx: &Ctx<'_>, key: Key) -> Result<Cached, ApiError> {
    metrics::counter!(names::CACHE_MISSES).increment(1);
    metrics::counter!(names::DB_STATEMENTS).increment(1);
    let (version, body) = match key {
        Key::Product(id) => {
            let product: Option<Product> = crate::on_db!(ctx.db, pool => {
                sqlx::query_as(
                    "SELECT id, category_id, price_cents, stock, version FROM cache_products \
                     WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(pool)
                .await?
            });
            let product = product.ok_or_else(|| ApiError::NotFound(format!("no product {id}")))?;
            (product.version, serde_json::to_vec(&product))
        }
        Key::Category(category_id) => {
            // No index on category_id, on purpose: every summary reads the whole table.
            let (products, total_stock, max_price_cents, sum_price, writes): (
                i64,
                i64,
                i64,
                i64,
                i64,
            ) = crate::on_db!(ctx.db, pool => {
                sqlx::query_as(
                    "SELECT COUNT(*), CAST(COALESCE(SUM(stock), 0) AS BIGINT), \
                     CAST(COALESCE(MAX(price_cents), 0) AS BIGINT), \
                     CAST(COALESCE(SUM(price_cents), 0) AS BIGINT), \
                     CAST(COALESCE(SUM(version), 0) AS BIGINT) \
                     FROM cache_products WHERE category_id = $1",
                )
                .bind(category_id)
                .fetch_one(pool)
                .await?
            });
            let summary = CategorySummary {
                category_id,
                products,
                total_stock,
                max_price_cents,
                average_price_cents: sum_price / products.max(1),
                writes,
            };
            (writes, serde_json::to_vec(&summary))
        }
    };
    let body = body.map_err(|e| ApiError::dependency("encoding the answer", e))?;
    Ok(Cached {
        version: version.max(0) as u64,
        body: Bytes::from(body),
    })
}

/// A price change: the write that makes cached answers stale. With `invalidate_on_write` it
/// deletes the product's and its category's entries from every option's caches (one Redis
/// round trip for all of them, when the service has Redis).
pub async fn change_price(
    ctx: &Ctx<'_>,
    id: i64,
    change: &PriceChange,
) -> Result<Product, ApiError> {
    if !(0..=1_000_000_000).contains(&change.price_cents) {
        return Err(ApiError::BadRequest(format!(
            "price_cents must be 0..=1000000000, got {}",
            change.price_cents
        )));
    }
    dataset::ensure(ctx.db, ctx.state, ctx.rows).await?;
    let product: Option<Product> = crate::on_db!(ctx.db, pool => {
        sqlx::query_as(
            "UPDATE cache_products SET price_cents = $1, version = version + 1 WHERE id = $2 \
             RETURNING id, category_id, price_cents, stock, version",
        )
        .bind(change.price_cents)
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    metrics::counter!(names::DB_STATEMENTS).increment(1);
    metrics::counter!(names::DB_COMMITS).increment(1);
    let product = product.ok_or_else(|| ApiError::NotFound(format!("no product {id}")))?;
    // Committed: the product's version is the one the UPDATE wrote, and its category's sum
    // grew by one. Concurrent writes to one category each add their own one.
    let changed = [Key::Product(id), Key::Category(product.category_id)];
    let committed = product.version.max(0) as u64;
    let mut latest = ctx.state.versions.entry(changed[0]).or_default();
    *latest = (*latest).max(committed);
    drop(latest);
    *ctx.state.versions.entry(changed[1]).or_default() += 1;
    if ctx.invalidate_on_write {
        for local in [&ctx.state.in_process, &ctx.state.two_tier] {
            if let Some(local) = local.built() {
                for key in changed {
                    local.invalidate(&key).await;
                }
            }
        }
        if let Some(mut redis) = ctx.redis.clone() {
            let keys: Vec<String> = [CacheKind::Redis, CacheKind::TwoTier]
                .into_iter()
                .flat_map(|kind| changed.map(|key| key.redis_key(kind)))
                .collect();
            metrics::counter!(names::CACHE_REDIS_ROUND_TRIPS).increment(1);
            let _: i64 = redis
                .del(keys)
                .await
                .map_err(|e| ApiError::dependency("Redis DEL", e))?;
        }
        metrics::counter!(names::CACHE_INVALIDATIONS).increment(changed.len() as u64);
    }
    Ok(product)
}

fn check_key(key: Key) -> Result<(), ApiError> {
    match key {
        Key::Product(id) if id < 1 => Err(ApiError::BadRequest(format!(
            "product id must be at least 1, got {id}"
        ))),
        Key::Category(c) if !(1..=CATEGORIES).contains(&c) => Err(ApiError::BadRequest(format!(
            "category must be 1..={CATEGORIES}, got {c}"
        ))),
        _ => Ok(()),
    }
}

/// The generated products: a fixed function of the id, so tests and plugins know them.
pub mod dataset {
    use super::*;

    const GENERATOR: &str = "cache-products-v2";

    pub fn category_of(id: i64) -> i64 {
        1 + (id * 7919) % CATEGORIES
    }

    fn row(id: i64) -> (i64, i64, i64) {
        (
            category_of(id),
            100 + (id * 104_729) % 100_000,
            (id * 31) % 500,
        )
    }

    pub(super) async fn ensure(db: &Db, state: &CacheState, rows: i64) -> Result<(), ApiError> {
        state
            .products
            .ensure(db, "cache products", GENERATOR, rows.max(1), || {
                load(db, rows.max(1))
            })
            .await?;
        state
            .versions_reset
            .get_or_try_init(|| async {
                crate::on_db!(db, pool => {
                    sqlx::query("UPDATE cache_products SET version = 0 WHERE version <> 0")
                        .execute(pool)
                        .await?;
                });
                Ok::<_, ApiError>(())
            })
            .await?;
        Ok(())
    }

    async fn load(db: &Db, rows: i64) -> Result<(), sqlx::Error> {
        match db {
            Db::Postgres { pool, .. } => {
                sqlx::query("TRUNCATE cache_products").execute(pool).await?;
                let mut copy = pool
                    .copy_in_raw(
                        "COPY cache_products (id, category_id, price_cents, stock) \
                         FROM STDIN (FORMAT csv)",
                    )
                    .await?;
                let mut chunk = Vec::with_capacity(1 << 20);
                for id in 1..=rows {
                    let (category, price, stock) = row(id);
                    chunk
                        .extend_from_slice(format!("{id},{category},{price},{stock}\n").as_bytes());
                    if chunk.len() >= 1 << 20 {
                        copy.send(std::mem::take(&mut chunk)).await?;
                    }
                }
                copy.send(chunk).await?;
                copy.finish().await?;
                // Fresh statistics, so the planner knows the table's size from the first read.
                sqlx::query("ANALYZE cache_products").execute(pool).await?;
            }
            Db::Sqlite { pool, .. } => {
                let mut tx = pool.begin().await?;
                sqlx::query("DELETE FROM cache_products")
                    .execute(&mut *tx)
                    .await?;
                let ids: Vec<i64> = (1..=rows).collect();
                for chunk in ids.chunks(2000) {
                    let mut qb = QueryBuilder::new(
                        "INSERT INTO cache_products (id, category_id, price_cents, stock) ",
                    );
                    qb.push_values(chunk, |mut b, id| {
                        let (category, price, stock) = row(*id);
                        b.push_bind(*id)
                            .push_bind(category)
                            .push_bind(price)
                            .push_bind(stock);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

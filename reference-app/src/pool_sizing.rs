//! Dimension `pool-sizing`: how many connections may work in the database at once.
//!
//! The lesson (seed 003, HikariCP's "About Pool Sizing"): a database on P cores does at most P
//! queries' worth of CPU at a time. A pool as large as the clients (one connection per client
//! thread, "to be safe") puts every request in flight *inside the database*, where they share
//! the cores by time slicing, switch contexts and contend for locks and buffers — each query
//! takes as long as all of them together. A small pool makes the others wait in the service,
//! in a queue, while the few busy connections finish quickly: the same throughput (or more)
//! and a lower median. "connections = cores × 2 + spindles" is the guide's starting point; the
//! lab's sweep over `pool.size` finds this machine's knee and tests the formula.
//!
//! | option | what a request does |
//! |---|---|
//! | `per-client` | takes a connection at once (this dimension's pool holds up to 256: as many as any lab's clients) — every request in flight is a query in the database |
//! | `bounded` | waits for one of `pool.size` permits first, then takes a connection: at most `pool.size` queries in the database |
//!
//! Why a semaphore in front of a large pool rather than a pool of `pool.size` connections:
//! sqlx cannot resize a pool, and a lab switches sizes between rounds. Capping the connections
//! *in use* is what a pool's size does to the database (sqlx reuses an idle connection before
//! opening another, so no more than the cap are opened while it holds); the permit wait is the
//! pool's acquire wait. Said once here, and in the lab's guide.
//!
//! The queries: a read that is pure database CPU (`pool.query_rows` rows generated and summed:
//! `generate_series` on PostgreSQL, a recursive CTE on SQLite), and a write that increments
//! one of 16 counters (row locks and a commit each). Counters: `pool_sizing_queries_total`,
//! `pool_sizing_wait_nanoseconds_total` (waiting for a permit and a connection) and
//! `pool_sizing_in_database_nanoseconds_total` (the query, once it had one) — their ratio per
//! request says where each variant's requests spent their time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::pool::PoolOptions;
use tokio::sync::OnceCell;

use crate::db::Db;
use crate::dimension;
use crate::error::ApiError;
use crate::metric_names as names;
use crate::permits::Permits;
use crate::settings::Knob;

dimension! {
    pub enum PoolSizing as "pool-sizing", default PerClient, knobs [SIZE, QUERY_ROWS] {
        /// Naive.
        PerClient = "every request takes a connection at once (a pool as large as the clients): every request in flight is a query in the database",
        /// Optimized.
        Bounded = "at most pool.size connections in use; other requests wait in the service for one",
    }
}

pub const SIZE: Knob = Knob {
    index: 0,
    name: "pool.size",
    about: "bounded: connections that may be in use at once",
    default: 4,
    max: MAX_CONNECTIONS as u64,
};

pub const QUERY_ROWS: Knob = Knob {
    index: 1,
    name: "pool.query_rows",
    about: "rows the read query generates and sums: its CPU in the database",
    default: 20_000,
    max: 10_000_000,
};

/// This dimension's pool: room for every client a lab runs (the throwaway PostgreSQL allows
/// 300 connections).
const MAX_CONNECTIONS: u32 = 256;

/// Counters the write query spreads its increments over.
const COUNTERS: i64 = 16;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PoolAnswer {
    pub variant: String,
    /// The read's sum, or the counter's new value.
    pub value: i64,
    /// Microseconds this request waited for a permit and a connection.
    pub waited_us: u64,
    /// Queries of this dimension in the database when this one started, itself included.
    pub in_database: u64,
}

/// The dimension's own pool (opened on first use) and the permits of `bounded`.
pub struct PoolSizingState {
    db: OnceCell<Db>,
    permits: Permits,
    in_database: AtomicU64,
}

impl Default for PoolSizingState {
    fn default() -> Self {
        PoolSizingState {
            db: OnceCell::new(),
            permits: Permits::new(SIZE.default as usize),
            in_database: AtomicU64::new(0),
        }
    }
}

/// What a request asks of the database.
#[derive(Debug, Clone, Copy)]
pub enum Query {
    /// Sum `rows` generated rows.
    Read { rows: u64 },
    /// Increment counter `id % 16`.
    Write { id: i64 },
}

impl PoolSizingState {
    /// A pool of up to [`MAX_CONNECTIONS`] on the service's database, with the counters' table.
    async fn db(&self, main: &Db) -> Result<&Db, ApiError> {
        self.db
            .get_or_try_init(|| async {
                let db = match main {
                    Db::Sqlite { options, .. } => Db::Sqlite {
                        pool: large_pool().connect_lazy_with(options.clone()),
                        options: options.clone(),
                    },
                    Db::Postgres { options, .. } => Db::Postgres {
                        pool: large_pool().connect_lazy_with(options.clone()),
                        options: options.clone(),
                    },
                };
                crate::on_db!(&db, pool => {
                    sqlx::query("CREATE TABLE IF NOT EXISTS pool_counters (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
                        .execute(pool).await?;
                    for id in 0..COUNTERS {
                        sqlx::query("INSERT INTO pool_counters (id, n) VALUES ($1, 0) ON CONFLICT (id) DO NOTHING")
                            .bind(id).execute(pool).await?;
                    }
                    Ok::<_, sqlx::Error>(())
                })?;
                Ok::<_, ApiError>(db)
            })
            .await
    }
}

fn large_pool<DB: sqlx::Database>() -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(30))
}

const READ_PG: &str = "SELECT sum(i)::BIGINT FROM generate_series(1, $1::BIGINT) AS i";
const READ_SQLITE: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $1) SELECT sum(x) FROM c";
const WRITE: &str = "UPDATE pool_counters SET n = n + 1 WHERE id = $1 RETURNING n";

pub async fn run(
    state: &Arc<PoolSizingState>,
    main: &Db,
    kind: PoolSizing,
    size: u64,
    query: Query,
) -> Result<PoolAnswer, ApiError> {
    let db = state.db(main).await?;
    let waiting = Instant::now();
    // The permit is held until the answer is read: that is what a pool's connection is.
    let _permit = match kind {
        PoolSizing::PerClient => None,
        PoolSizing::Bounded => Some(
            state
                .permits
                .sized(size, MAX_CONNECTIONS as usize)
                .acquire_owned()
                .await
                .map_err(|e| ApiError::dependency("the pool's permits", e))?,
        ),
    };
    let value = crate::on_db!(db, pool => {
        let mut conn = pool.acquire().await?;
        let waited = waiting.elapsed();
        metrics::counter!(names::POOL_SIZING_WAIT_NS).increment(waited.as_nanos() as u64);
        let started = Instant::now();
        let in_database = state.in_database.fetch_add(1, Ordering::SeqCst) + 1;
        let value: Result<(i64, Duration, u64), sqlx::Error> = match query {
            Query::Read { rows } => {
                let sql = if matches!(main, Db::Postgres { .. }) { READ_PG } else { READ_SQLITE };
                sqlx::query_scalar::<_, i64>(sql).bind(rows as i64).fetch_one(&mut *conn).await
            }
            Query::Write { id } => {
                sqlx::query_scalar::<_, i64>(WRITE).bind(id.rem_euclid(COUNTERS)).fetch_one(&mut *conn).await
            }
        }
        .map(|v| (v, waited, in_database));
        state.in_database.fetch_sub(1, Ordering::SeqCst);
        metrics::counter!(names::POOL_SIZING_IN_DATABASE_NS)
            .increment(started.elapsed().as_nanos() as u64);
        value
    })?;
    metrics::counter!(names::POOL_SIZING_QUERIES).increment(1);
    Ok(PoolAnswer {
        variant: kind.as_ref().to_string(),
        value: value.0,
        waited_us: value.1.as_micros() as u64,
        in_database: value.2,
    })
}

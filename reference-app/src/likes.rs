//! Dimension `likes`: concurrent increments of a few hot counters (likes, view counts).
//!
//! The lesson (seed guide 001: pessimistic vs optimistic locking): "read the count, add one,
//! write it back" is two statements, and between them another request can read the same
//! count. Both write n + 1: one like is acknowledged and lost. Fixes, from most to least
//! coordination: lock the row for the whole read-modify-write (`SELECT ... FOR UPDATE`;
//! SQLite has no row locks, `BEGIN IMMEDIATE` takes the database's write lock), detect the
//! conflict and retry (a version column), let the database do the arithmetic in one statement
//! (`UPDATE ... SET likes = likes + 1`), or move the hot counter out of the database (Redis
//! `INCR`, written back in batches: fast, and what it can lose is written below).
//!
//! The service checks itself: it counts every increment it acknowledged and compares that
//! with what is stored. The difference is `likes_lost_update_violations_total`, a
//! correctness counter: perflab fails a variant that has one, whatever its speed.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, OnceCell};

use crate::clients::redis::Redis;
use crate::db::{Backend, Db};
use crate::dimension;
use crate::error::ApiError;
use crate::metric_names as names;
use crate::settings::{Knob, SettingsError};

dimension! {
    pub enum LikeCounter as "likes", default ReadModifyWrite, knobs [WORK_US, FLUSH_MS, MAX_RETRIES], check supported_on {
        /// Naive, and wrong under concurrency.
        ReadModifyWrite = "SELECT likes, then UPDATE likes = read + 1, no transaction: loses updates",
        /// Pessimistic.
        LockForUpdate = "one transaction holding the row (PostgreSQL SELECT ... FOR UPDATE; SQLite BEGIN IMMEDIATE, the whole database)",
        /// Optimistic.
        OptimisticVersion = "read likes and version; UPDATE ... WHERE version = read; retry when another writer won",
        AtomicUpdate = "one statement: UPDATE ... SET likes = likes + 1 RETURNING likes",
        /// Out of the database.
        RedisIncr = "Redis INCR of a pending count, written back to the database every likes.flush_ms",
    }
}

pub const WORK_US: Knob = Knob {
    index: 0,
    name: "likes.work_us",
    about: "application work between reading the count and writing it (µs): widens the race",
    default: 0,
    max: 1_000_000,
};

pub const FLUSH_MS: Knob = Knob {
    index: 1,
    name: "likes.flush_ms",
    about: "redis-incr: how often pending counts are written back to the database (ms)",
    default: 200,
    max: 60_000,
};

pub const MAX_RETRIES: Knob = Knob {
    index: 2,
    name: "likes.max_retries",
    about: "optimistic-version: attempts before answering 409 Conflict",
    default: 1000,
    max: 100_000,
};

/// Counters are ids 1..=COUNTERS, created on first use.
pub const COUNTERS: i64 = 100;

/// Every option runs on both databases; `redis-incr` needs Redis, which is checked per
/// request (Redis is optional for the service as a whole).
fn supported_on(_kind: LikeCounter, _backend: Backend) -> Result<(), SettingsError> {
    Ok(())
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Liked {
    pub id: i64,
    pub variant: String,
    /// The count this increment produced, when the variant knows it (not `redis-incr`, whose
    /// count is in Redis until written back).
    pub likes: Option<i64>,
    /// Optimistic attempts that lost to another writer before this one won.
    pub retries: u64,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LikeAudit {
    /// Increments this process acknowledged (answered 200).
    pub acknowledged: u64,
    /// What the stored counters grew by since this process first used them (database plus
    /// pending counts in Redis).
    pub stored: i64,
    /// `acknowledged − stored`, never below 0: acknowledged likes that are not there.
    pub lost: u64,
}

/// The dimension's state: the one-time set-up, the audit, and the Redis write-back.
#[derive(Default)]
pub struct LikesState {
    ready: OnceCell<i64>,
    acknowledged: AtomicU64,
    /// `likes.flush_ms`, as the latest like read it.
    flush_ms: AtomicU64,
    /// The largest loss reported so far: the violations counter only grows.
    reported_lost: AtomicU64,
    /// Counter ids with a pending count in Redis.
    pending: std::sync::Mutex<BTreeSet<i64>>,
    /// Held while counts move from Redis to the database, and by the audit: in between the
    /// count is in neither place.
    write_back: Mutex<()>,
}

fn pending_key(id: i64) -> String {
    format!("perflab:likes:pending:{id}")
}

pub struct Ctx<'a> {
    pub db: &'a Arc<Db>,
    pub redis: Option<&'a Arc<Redis>>,
    pub state: &'a Arc<LikesState>,
}

/// The knobs one like reads (once, at the start of the request).
pub struct Knobs {
    pub work_us: u64,
    pub max_retries: u64,
    pub flush_ms: u64,
}

pub async fn like(
    ctx: &Ctx<'_>,
    kind: LikeCounter,
    id: i64,
    knobs: Knobs,
) -> Result<Liked, ApiError> {
    let Knobs {
        work_us,
        max_retries,
        flush_ms,
    } = knobs;
    if !(1..=COUNTERS).contains(&id) {
        return Err(ApiError::NotFound(format!(
            "no counter {id}: counters are 1..={COUNTERS}"
        )));
    }
    ctx.state.set_up(ctx).await?;
    // The write-back task reads its interval from here: the knob can change between rounds.
    ctx.state.flush_ms.store(flush_ms.max(1), Ordering::Relaxed);
    let (likes, retries) = match kind {
        LikeCounter::ReadModifyWrite => (Some(read_modify_write(ctx.db, id, work_us).await?), 0),
        LikeCounter::LockForUpdate => (Some(lock_for_update(ctx.db, id, work_us).await?), 0),
        LikeCounter::OptimisticVersion => {
            let (likes, retries) = optimistic(ctx.db, id, work_us, max_retries).await?;
            (Some(likes), retries)
        }
        LikeCounter::AtomicUpdate => (Some(atomic_update(ctx.db, id).await?), 0),
        LikeCounter::RedisIncr => {
            let redis = ctx.redis.ok_or_else(|| {
                ApiError::Unavailable(
                    "likes=redis-incr needs Redis: start the service with --redis-url".into(),
                )
            })?;
            redis_incr(ctx.state, redis, id).await?;
            (None, 0)
        }
    };
    // Only after the write is done: the audit relies on acknowledged ≤ stored for every
    // correct variant.
    ctx.state.acknowledged.fetch_add(1, Ordering::SeqCst);
    metrics::counter!(names::LIKES_ACKNOWLEDGED).increment(1);
    Ok(Liked {
        id,
        variant: kind.as_ref().to_string(),
        likes,
        retries,
    })
}

async fn work(us: u64) {
    if us > 0 {
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

fn statement() {
    metrics::counter!(names::DB_STATEMENTS).increment(1);
}

// ---- naive: two statements, nothing held between them ------------------------------------------

async fn read_modify_write(db: &Db, id: i64, work_us: u64) -> Result<i64, sqlx::Error> {
    crate::on_db!(db, pool => {
        let read: i64 = sqlx::query_scalar("SELECT likes FROM like_counters WHERE id = $1")
            .bind(id).fetch_one(pool).await?;
        statement();
        work(work_us).await;
        // Another request may have written since the read: this overwrites its like.
        sqlx::query("UPDATE like_counters SET likes = $2 WHERE id = $1")
            .bind(id).bind(read + 1).execute(pool).await?;
        statement();
        Ok(read + 1)
    })
}

// ---- pessimistic: hold the row (PostgreSQL) or the database (SQLite) ------------------------------

async fn lock_for_update(db: &Db, id: i64, work_us: u64) -> Result<i64, sqlx::Error> {
    let started = Instant::now();
    let likes = match db {
        Db::Postgres { pool, .. } => {
            let mut tx = pool.begin().await?;
            let read: i64 =
                sqlx::query_scalar("SELECT likes FROM like_counters WHERE id = $1 FOR UPDATE")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            lock_wait(started);
            statement();
            work(work_us).await;
            sqlx::query("UPDATE like_counters SET likes = $2 WHERE id = $1")
                .bind(id)
                .bind(read + 1)
                .execute(&mut *tx)
                .await?;
            statement();
            tx.commit().await?;
            read + 1
        }
        Db::Sqlite { pool, .. } => {
            // No row locks in SQLite: IMMEDIATE takes the write lock at BEGIN, so other writers
            // wait in the busy handler (which sleeps and polls) until this one commits.
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            lock_wait(started);
            let read: i64 = sqlx::query_scalar("SELECT likes FROM like_counters WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            statement();
            work(work_us).await;
            sqlx::query("UPDATE like_counters SET likes = $2 WHERE id = $1")
                .bind(id)
                .bind(read + 1)
                .execute(&mut *tx)
                .await?;
            statement();
            tx.commit().await?;
            read + 1
        }
    };
    Ok(likes)
}

fn lock_wait(started: Instant) {
    metrics::counter!(names::LIKES_LOCK_WAIT_NS).increment(started.elapsed().as_nanos() as u64);
}

// ---- optimistic: detect the conflict, retry ----------------------------------------------------

async fn optimistic(
    db: &Db,
    id: i64,
    work_us: u64,
    max_retries: u64,
) -> Result<(i64, u64), ApiError> {
    for attempt in 0..max_retries.max(1) {
        let won = crate::on_db!(db, pool => {
            let (likes, version): (i64, i64) =
                sqlx::query_as("SELECT likes, version FROM like_counters WHERE id = $1")
                    .bind(id).fetch_one(pool).await?;
            statement();
            work(work_us).await;
            let done = sqlx::query(
                "UPDATE like_counters SET likes = $2, version = version + 1 \
                 WHERE id = $1 AND version = $3")
                .bind(id).bind(likes + 1).bind(version).execute(pool).await?;
            statement();
            // No row changed: someone else wrote since our read. Nothing was lost; try again.
            (done.rows_affected() == 1).then_some(likes + 1)
        });
        match won {
            Some(likes) => return Ok((likes, attempt)),
            None => metrics::counter!(names::LIKES_RETRIES).increment(1),
        }
    }
    Err(ApiError::Conflict(format!(
        "counter {id}: still conflicting after {max_retries} attempts (likes.max_retries); \
         nothing was written"
    )))
}

// ---- atomic: the database does the arithmetic ----------------------------------------------------

async fn atomic_update(db: &Db, id: i64) -> Result<i64, sqlx::Error> {
    let likes = crate::on_db!(db, pool => {
        sqlx::query_scalar("UPDATE like_counters SET likes = likes + 1 WHERE id = $1 RETURNING likes")
            .bind(id).fetch_one(pool).await?
    });
    statement();
    Ok(likes)
}

// ---- out of the database: Redis INCR, written back ----------------------------------------------

async fn redis_incr(state: &LikesState, redis: &Redis, id: i64) -> Result<(), ApiError> {
    let mut conn = redis.shared();
    let _: i64 = conn
        .incr(pending_key(id), 1)
        .await
        .map_err(|e| ApiError::dependency("redis", e))?;
    metrics::counter!(names::REDIS_COMMANDS).increment(1);
    state.pending.lock().expect("pending lock").insert(id);
    Ok(())
}

impl LikesState {
    /// Creates the counters, moves counts a previous process left in Redis into the database,
    /// and remembers where the stored total starts (what the audit compares with). Once.
    async fn set_up(self: &Arc<Self>, ctx: &Ctx<'_>) -> Result<(), ApiError> {
        let (db, redis) = (&**ctx.db, ctx.redis);
        self.ready
            .get_or_try_init(|| async {
                crate::on_db!(db, pool => async {
                    let mut tx = pool.begin().await?;
                    for id in 1..=COUNTERS {
                        sqlx::query("INSERT INTO like_counters (id, likes, version) VALUES ($1, 0, 0) \
                                     ON CONFLICT (id) DO NOTHING")
                            .bind(id).execute(&mut *tx).await?;
                    }
                    tx.commit().await
                }.await)?;
                if let Some(redis) = redis {
                    {
                        let mut pending = self.pending.lock().expect("pending lock");
                        pending.extend(1..=COUNTERS);
                    }
                    self.flush(db, redis).await?;
                    let (state, db, redis) = (Arc::clone(self), Arc::clone(ctx.db), Arc::clone(redis));
                    tokio::spawn(async move { state.write_back_forever(&db, &redis).await });
                }
                Ok::<_, ApiError>(stored_in_db(db).await?)
            })
            .await?;
        Ok(())
    }

    async fn write_back_forever(&self, db: &Db, redis: &Redis) {
        loop {
            let every = match self.flush_ms.load(Ordering::Relaxed) {
                0 => FLUSH_MS.default,
                ms => ms,
            };
            tokio::time::sleep(Duration::from_millis(every)).await;
            if let Err(e) = self.flush(db, redis).await {
                tracing::warn!("likes write-back failed (will retry): {e}");
            }
        }
    }

    /// Moves every pending count from Redis into the database.
    async fn flush(&self, db: &Db, redis: &Redis) -> Result<(), ApiError> {
        let _moving = self.write_back.lock().await;
        let ids: Vec<i64> = std::mem::take(&mut *self.pending.lock().expect("pending lock"))
            .into_iter()
            .collect();
        let mut conn = redis.shared();
        for id in ids {
            let n: Option<i64> = redis::cmd("GETDEL")
                .arg(pending_key(id))
                .query_async(&mut conn)
                .await
                .map_err(|e| ApiError::dependency("redis", e))?;
            let Some(n) = n.filter(|n| *n > 0) else {
                continue;
            };
            let written = crate::on_db!(db, pool => {
                // The version moves too: an optimistic writer that read the count before this
                // write-back must retry, or it would write its stale count over these likes
                // (the lab's first run lost thousands that way, caught by the audit).
                sqlx::query("UPDATE like_counters SET likes = likes + $2, version = version + 1 WHERE id = $1")
                    .bind(id).bind(n).execute(pool).await.map(|_| ())
            });
            if let Err(e) = written {
                // Put the count back so the next flush tries again; if that fails too, the
                // likes are gone: the risk of a write-back cache.
                let _: Result<i64, _> = conn.incr(pending_key(id), n).await;
                self.pending.lock().expect("pending lock").insert(id);
                return Err(e.into());
            }
            statement();
        }
        Ok(())
    }

    /// Compares what was acknowledged with what is stored, and raises the violations counter
    /// to the loss found. Called before every `/metrics` scrape.
    pub async fn audit(&self, db: &Db, redis: Option<&Arc<Redis>>) -> Option<LikeAudit> {
        let start = *self.ready.get()?;
        let _still = self.write_back.lock().await;
        // Acknowledged first, stored second: an increment is acknowledged only after it is
        // stored, so for a correct variant `stored` can only be ahead.
        let acknowledged = self.acknowledged.load(Ordering::SeqCst);
        let in_db = stored_in_db(db).await.ok()?;
        let mut in_redis = 0i64;
        if let Some(redis) = redis {
            let mut conn = redis.shared();
            let ids: Vec<i64> = self
                .pending
                .lock()
                .expect("pending lock")
                .iter()
                .copied()
                .collect();
            for id in ids {
                let n: Option<i64> = conn.get(pending_key(id)).await.ok()?;
                in_redis += n.unwrap_or(0);
            }
        }
        let stored = in_db + in_redis - start;
        let lost = (acknowledged as i64 - stored).max(0) as u64;
        let before = self.reported_lost.fetch_max(lost, Ordering::SeqCst);
        if lost > before {
            metrics::counter!(names::LIKES_LOST_UPDATES).increment(lost - before);
        }
        Some(LikeAudit {
            acknowledged,
            stored,
            lost,
        })
    }
}

async fn stored_in_db(db: &Db) -> Result<i64, sqlx::Error> {
    crate::on_db!(db, pool => {
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(likes), 0) AS BIGINT) FROM like_counters")
            .fetch_one(pool).await
    })
}

/// A counter's stored value (database plus what is pending in Redis).
pub async fn current(ctx: &Ctx<'_>, id: i64) -> Result<i64, ApiError> {
    ctx.state.set_up(ctx).await?;
    let _still = ctx.state.write_back.lock().await;
    let in_db: Option<i64> = crate::on_db!(&**ctx.db, pool => {
        sqlx::query_scalar("SELECT likes FROM like_counters WHERE id = $1")
            .bind(id).fetch_optional(pool).await?
    });
    let in_db = in_db.ok_or_else(|| {
        ApiError::NotFound(format!("no counter {id}: counters are 1..={COUNTERS}"))
    })?;
    let pending = match ctx.redis {
        Some(redis) => {
            let n: Option<i64> = redis
                .shared()
                .get(pending_key(id))
                .await
                .map_err(|e| ApiError::dependency("redis", e))?;
            n.unwrap_or(0)
        }
        None => 0,
    };
    Ok(in_db + pending)
}

//! The database: SQLite (embedded default, a file in the data directory) or PostgreSQL (a URL).
//! Both get the same schema through embedded migrations at start-up. Queries that are the same
//! SQL on both backends are written once with [`on_db!`]; PostgreSQL-only paths (COPY, UNNEST)
//! match on [`Db::Postgres`].

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use crate::metric_names as names;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

#[derive(Clone)]
pub enum Db {
    Sqlite {
        pool: SqlitePool,
        options: SqliteConnectOptions,
    },
    Postgres {
        pool: PgPool,
        options: PgConnectOptions,
    },
}

/// Runs the same block against whichever pool is configured. `$pool` is bound to the pool.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite { pool: $pool, .. } => $body,
            $crate::db::Db::Postgres { pool: $pool, .. } => $body,
        }
    };
}

#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: String,
    pub pool_size: u32,
    /// SQLite only: `full` pays one fsync per commit, which is what the bulk-insert lab is about.
    pub sqlite_synchronous: String,
}

/// A connection that lives for one request: the naive `db-client` option.
pub enum OneConnection {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// A pooled connection plus how long the pool made us wait for it.
pub enum PooledConnection {
    Sqlite(PoolConnection<sqlx::Sqlite>),
    Postgres(PoolConnection<sqlx::Postgres>),
}

impl Db {
    pub async fn connect(settings: &DbSettings) -> anyhow::Result<Db> {
        if settings.url.starts_with("postgres://") || settings.url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(&settings.url)
                .map_err(|e| anyhow::anyhow!("bad PostgreSQL URL {:?}: {e}", settings.url))?
                .log_statements(tracing::log::LevelFilter::Trace);
            let pool = PgPoolOptions::new()
                .max_connections(settings.pool_size)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(|_, _| {
                    Box::pin(async {
                        count_connection();
                        Ok(())
                    })
                })
                .connect_with(options.clone())
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot connect to PostgreSQL at {}: {e}",
                        redact(&settings.url)
                    )
                })?;
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Ok(Db::Postgres { pool, options })
        } else if settings.url.starts_with("sqlite:") {
            let synchronous = SqliteSynchronous::from_str(&settings.sqlite_synchronous)
                .map_err(|e| anyhow::anyhow!("bad --sqlite-synchronous: {e}"))?;
            let options = SqliteConnectOptions::from_str(&settings.url)
                .map_err(|e| anyhow::anyhow!("bad SQLite URL {:?}: {e}", settings.url))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(Duration::from_secs(10))
                .log_statements(tracing::log::LevelFilter::Trace);
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.pool_size)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(|_, _| {
                    Box::pin(async {
                        count_connection();
                        Ok(())
                    })
                })
                .connect_with(options.clone())
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot open SQLite database {}: {e}", settings.url)
                })?;
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            Ok(Db::Sqlite { pool, options })
        } else {
            anyhow::bail!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB",
                redact(&settings.url)
            )
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The naive path: a brand-new connection (TCP + auth for PostgreSQL, file open for SQLite).
    pub async fn open_one(&self) -> Result<OneConnection, sqlx::Error> {
        let conn = match self {
            Db::Sqlite { options, .. } => OneConnection::Sqlite(options.connect().await?),
            Db::Postgres { options, .. } => OneConnection::Postgres(options.connect().await?),
        };
        count_connection();
        Ok(conn)
    }

    /// The optimized path: borrow a warm connection; the wait is recorded because a pool that is
    /// too small shows up exactly there.
    pub async fn acquire(&self) -> Result<PooledConnection, sqlx::Error> {
        let started = Instant::now();
        let conn = match self {
            Db::Sqlite { pool, .. } => PooledConnection::Sqlite(pool.acquire().await?),
            Db::Postgres { pool, .. } => PooledConnection::Postgres(pool.acquire().await?),
        };
        metrics::counter!(names::DB_POOL_ACQUIRES).increment(1);
        metrics::counter!(names::DB_POOL_ACQUIRE_WAIT_NS)
            .increment(started.elapsed().as_nanos() as u64);
        Ok(conn)
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }

    /// Seeds `count` users once, in one transaction, so lookups have something to find.
    pub async fn seed_users(&self, count: i64) -> Result<(), sqlx::Error> {
        on_db!(self, pool => {
            let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(pool).await?;
            if existing >= count {
                return Ok(());
            }
            let mut tx = pool.begin().await?;
            for user in crate::model::sample_users(count as usize) {
                sqlx::query("INSERT INTO users (id, name, email, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING")
                    .bind(user.id).bind(&user.name).bind(&user.email).bind(user.created_at)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        })
    }
}

fn count_connection() {
    metrics::counter!(names::DB_CONNECTIONS_OPENED).increment(1);
}

impl OneConnection {
    pub async fn close(self) {
        let _ = match self {
            OneConnection::Sqlite(c) => c.close().await,
            OneConnection::Postgres(c) => c.close().await,
        };
    }
}

/// Hides the password in a URL before it reaches a log or an error message.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(super::redact("postgres://u@h:5/db"), "postgres://u@h:5/db");
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}

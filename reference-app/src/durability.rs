//! Dimension `durability`: what a commit costs, and what it promises.
//!
//! The lesson: a commit is acknowledged after the database has made it *as durable as its
//! settings promise*, and the price of each promise is one or more fsyncs (≈3.5 ms on this
//! disk, 100× less on a laptop's NVMe, 100× more on some cloud volumes).
//!
//! | option | on | waits for, per commit | survives a killed process | survives an OS crash / power loss |
//! |---|---|---|---|---|
//! | `rollback-full` | SQLite | journal fsync + database fsync (+ directory) | yes | yes |
//! | `wal-normal` | SQLite | a `write()` of the WAL frames, no fsync (fsync at checkpoints) | yes | no: the last commits may be lost, the file stays consistent |
//! | `wal-off` | SQLite | the same `write()`, and never an fsync | yes | no: commits lost, the file may be corrupt |
//! | `sync-commit` | PostgreSQL | the WAL fsync (`synchronous_commit=on`) | yes, the service's and the server's | yes |
//! | `async-commit` | PostgreSQL | nothing: the WAL writer flushes within 3 × `wal_writer_delay` | the service's yes; the server's: the last ~600 ms may be lost | no: the same window |
//! | `group-commit` | PostgreSQL | the WAL fsync, after `commit_delay` µs so that others' commits share it | yes | yes |
//!
//! A process crash — `kill -9` of the service, and for SQLite of the database with it — loses
//! nothing in any SQLite mode: what `write()` handed to the kernel is in the page cache, and the
//! kernel writes it out whether or not the process lives. Only an OS crash or a power cut tells
//! `wal-normal` and `wal-off` from `rollback-full`, and this machine cannot cut its own power.
//! What can be shown here, `perflab lab durability` shows: it kills the service (and on
//! PostgreSQL the database server) with SIGKILL mid-write and counts the acknowledged rows that
//! survived (`POST /durability/audit`).
//!
//! Journal mode is a property of the database *file* (WAL is remembered in it), so each SQLite
//! option writes its own file beside the main database; `synchronous` is per connection. Each
//! PostgreSQL option is a pool whose connections start with its settings, so a write is one
//! statement whichever option is on.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, QueryBuilder};
use strum::IntoEnumIterator;
use tokio::sync::{Mutex, OnceCell};

use crate::db::{Backend, Db};
use crate::dimension;
use crate::error::ApiError;
use crate::metric_names as names;
use crate::settings::{Knob, SettingsError};

dimension! {
    pub enum Durability as "durability", default RollbackFull, knobs [COMMIT_DELAY_US], check supported_on {
        /// SQLite's classic default: safe against everything, two fsyncs and more per commit.
        RollbackFull = "SQLite: rollback journal + synchronous=FULL: the journal and the database fsynced on every commit",
        WalNormal = "SQLite: WAL + synchronous=NORMAL: a commit is a write() of the WAL, fsynced only at checkpoints",
        WalOff = "SQLite: WAL + synchronous=OFF: never an fsync",
        /// PostgreSQL's default.
        SyncCommit = "PostgreSQL: synchronous_commit=on: every commit waits for its WAL fsync",
        AsyncCommit = "PostgreSQL: synchronous_commit=off: acknowledged before the WAL is on disk",
        GroupCommit = "PostgreSQL: synchronous_commit=on + commit_delay: a commit waits durability.commit_delay_us so others share its fsync",
    }
}

pub const COMMIT_DELAY_US: Knob = Knob {
    index: 0,
    name: "durability.commit_delay_us",
    about: "group-commit: PostgreSQL's commit_delay, microseconds a commit waits for others to share its fsync (needs commit_siblings = 5 other open transactions)",
    default: 1000,
    // PostgreSQL's own limit for commit_delay.
    max: 100_000,
};

impl Durability {
    fn backend(self) -> Backend {
        match self {
            Durability::RollbackFull | Durability::WalNormal | Durability::WalOff => {
                Backend::Sqlite
            }
            Durability::SyncCommit | Durability::AsyncCommit | Durability::GroupCommit => {
                Backend::Postgres
            }
        }
    }

    /// What this option promises about an acknowledged write after `failure`.
    pub fn promise(self, failure: Failure) -> Promise {
        use Durability::*;
        use Failure::*;
        let (kept, why) = match (self, failure) {
            (RollbackFull | WalNormal | WalOff, ServiceKilled | DatabaseKilled) => (
                true,
                "SQLite runs inside the service; a commit has handed its pages to the kernel \
                 (write()) before it returns, and the kernel keeps them when the process dies",
            ),
            (RollbackFull, OsCrash) => (
                true,
                "the journal and the database are fsynced before the commit returns",
            ),
            (WalNormal, OsCrash) => (
                false,
                "the WAL is fsynced only at checkpoints: commits since the last one can be lost \
                 (the database stays consistent)",
            ),
            (WalOff, OsCrash) => (
                false,
                "nothing is ever fsynced: recent commits can be lost and the file can be corrupt",
            ),
            (SyncCommit | AsyncCommit | GroupCommit, ServiceKilled) => (
                true,
                "the database server had the commit before it answered; the service held nothing",
            ),
            (SyncCommit | GroupCommit, DatabaseKilled | OsCrash) => (
                true,
                "the commit's WAL record was fsynced before it was acknowledged",
            ),
            (AsyncCommit, DatabaseKilled) => (
                false,
                "the commit was acknowledged from the WAL buffers in shared memory; the WAL writer \
                 writes them within 3 × wal_writer_delay (600 ms by default), and what it had not \
                 written dies with the server",
            ),
            (AsyncCommit, OsCrash) => (
                false,
                "the WAL writer fsyncs within 3 × wal_writer_delay: up to that much acknowledged \
                 work is lost (never half a transaction)",
            ),
        };
        Promise {
            survives: kept,
            why: why.to_string(),
        }
    }
}

/// Options of one backend are refused on the other, with the right ones named.
fn supported_on(kind: Durability, backend: Backend) -> Result<(), SettingsError> {
    if kind.backend() == backend {
        Ok(())
    } else {
        Err(SettingsError::Unsupported {
            dimension: "durability",
            option: kind.into(),
            needs: kind.backend(),
            here: backend,
        })
    }
}

/// A failure an acknowledged write may or may not survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// SIGKILL of the service's process (for SQLite: of the database too).
    ServiceKilled,
    /// SIGKILL of every process of the database server (PostgreSQL).
    DatabaseKilled,
    /// The kernel stops (panic, power cut): page cache lost. Not demonstrable here.
    OsCrash,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Promise {
    pub survives: bool,
    pub why: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewWrite {
    /// 1–1024 bytes, no NUL.
    pub payload: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Written {
    pub variant: String,
    /// The row's id: once this answer arrives, the write is acknowledged.
    pub id: i64,
}

/// Ids per lookup statement (SQLite allows 32 766 binds, PostgreSQL 65 535).
const AUDIT_CHUNK: usize = 10_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AuditRequest {
    /// Ids whose writes were acknowledged (at most `limits::MAX_AUDIT_IDS`, counted while
    /// decoding).
    #[serde(deserialize_with = "crate::limits::bounded::audit_ids")]
    pub ids: Vec<i64>,
    /// What happened to them: the answer says whether the option promised they survive it.
    pub failure: Failure,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Audit {
    pub variant: String,
    pub checked: u64,
    /// Acknowledged ids that are not stored.
    pub missing: u64,
    /// The first few of them.
    pub missing_ids: Vec<i64>,
    pub promise: Promise,
}

/// One database per option, opened on first use.
#[derive(Default)]
pub struct DurabilityState {
    sqlite: [OnceCell<Db>; 3],
    sync_commit: OnceCell<Db>,
    async_commit: OnceCell<Db>,
    /// Rebuilt when `durability.commit_delay_us` changes: the delay is a connection setting.
    group_commit: Mutex<Option<(u64, Db)>>,
}

impl DurabilityState {
    fn in_use(&self) -> bool {
        self.sqlite.iter().any(|c| c.initialized())
            || self.sync_commit.initialized()
            || self.async_commit.initialized()
            || self.group_commit.try_lock().is_ok_and(|g| g.is_some())
    }

    /// The database `kind` writes to, opened (and its table created) the first time.
    async fn db(&self, main: &Db, kind: Durability, delay_us: u64) -> Result<Db, ApiError> {
        if kind.backend() != main.backend() {
            return Err(ApiError::Conflict(format!(
                "durability option {} is {}'s and this service runs on {}: choose one of {} \
                 (PUT /admin/settings)",
                kind.as_ref(),
                kind.backend(),
                main.backend(),
                Durability::iter()
                    .filter(|o| o.backend() == main.backend())
                    .map(<&'static str>::from)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let cell = match kind {
            Durability::RollbackFull => &self.sqlite[0],
            Durability::WalNormal => &self.sqlite[1],
            Durability::WalOff => &self.sqlite[2],
            Durability::SyncCommit => &self.sync_commit,
            Durability::AsyncCommit => &self.async_commit,
            Durability::GroupCommit => {
                let mut slot = self.group_commit.lock().await;
                if let Some((d, db)) = slot.as_ref()
                    && *d == delay_us
                {
                    return Ok(db.clone());
                }
                let db = open(main, kind, delay_us).await?;
                if let Some((_, old)) = slot.replace((delay_us, db.clone())) {
                    old.close().await;
                }
                return Ok(db);
            }
        };
        Ok(cell
            .get_or_try_init(|| open(main, kind, delay_us))
            .await?
            .clone())
    }
}

/// The file an SQLite option writes: beside the main database.
fn sqlite_file(main: &std::path::Path, kind: Durability) -> PathBuf {
    let dir = main.parent().unwrap_or(std::path::Path::new("."));
    dir.join(format!("durability-{}.sqlite", kind.as_ref()))
}

async fn open(main: &Db, kind: Durability, delay_us: u64) -> Result<Db, ApiError> {
    let db = match main {
        Db::Sqlite { options, .. } => {
            let (journal, synchronous) = match kind {
                Durability::RollbackFull => (SqliteJournalMode::Delete, SqliteSynchronous::Full),
                Durability::WalNormal => (SqliteJournalMode::Wal, SqliteSynchronous::Normal),
                _ => (SqliteJournalMode::Wal, SqliteSynchronous::Off),
            };
            let options = options
                .clone()
                .filename(sqlite_file(options.get_filename(), kind))
                .journal_mode(journal)
                .synchronous(synchronous);
            // One connection: SQLite has one writer at a time anyway, and with several
            // connections the others would wait in SQLite's busy handler, which sleeps in
            // steps of up to 100 ms — the lab would measure that back-off, not the commit.
            // The pool's queue makes writers wait their turn fairly instead.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.clone())
                .await?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS durable_writes (id INTEGER PRIMARY KEY AUTOINCREMENT, \
                 payload TEXT NOT NULL, created_at INTEGER NOT NULL)",
            )
            .execute(&pool)
            .await?;
            Db::Sqlite { pool, options }
        }
        Db::Postgres { options, pool } => {
            let settings: Vec<(&str, String)> = match kind {
                Durability::AsyncCommit => vec![("synchronous_commit", "off".into())],
                Durability::GroupCommit => vec![
                    ("synchronous_commit", "on".into()),
                    ("commit_delay", delay_us.to_string()),
                ],
                _ => vec![("synchronous_commit", "on".into())],
            };
            let options = options
                .clone()
                .options(settings)
                .log_statements(tracing::log::LevelFilter::Trace);
            let pool = PgPoolOptions::new()
                .max_connections(pool.options().get_max_connections())
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.clone())
                .await
                .map_err(|e| {
                    ApiError::Conflict(format!(
                        "cannot open a PostgreSQL connection with {}'s settings ({e}); \
                         commit_delay needs a superuser",
                        kind.as_ref()
                    ))
                })?;
            Db::Postgres { pool, options }
        }
    };
    Ok(db)
}

fn payload_ok(p: &NewWrite) -> Result<(), ApiError> {
    if p.payload.is_empty() || p.payload.len() > 1024 || p.payload.contains('\0') {
        return Err(ApiError::BadRequest(
            "payload must be 1..=1024 bytes without NUL".into(),
        ));
    }
    Ok(())
}

/// One row, one commit: the acknowledged write whose cost and survival the lab measures.
pub async fn write(
    main: &Db,
    state: &DurabilityState,
    kind: Durability,
    delay_us: u64,
    w: &NewWrite,
) -> Result<Written, ApiError> {
    payload_ok(w)?;
    let db = state.db(main, kind, delay_us).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    // Autocommit: the statement is its own transaction, so when it returns, it is committed
    // as durably as the option promises. The clock starts once a connection is ours: the wait
    // for SQLite's single connection is queueing, not the commit.
    let (id, commit): (i64, Duration) = crate::on_db!(&db, pool => {
        let mut conn = pool.acquire().await?;
        let started = Instant::now();
        let id = sqlx::query_scalar(
            "INSERT INTO durable_writes (payload, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(&w.payload)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        (id, started.elapsed())
    });
    metrics::counter!(names::DURABILITY_COMMIT_NS).increment(commit.as_nanos() as u64);
    metrics::counter!(names::DB_STATEMENTS).increment(1);
    metrics::counter!(names::DB_COMMITS).increment(1);
    Ok(Written {
        variant: kind.as_ref().to_string(),
        id,
    })
}

/// Which of `ids` are stored, and what the option promised about them.
pub async fn audit(
    main: &Db,
    state: &DurabilityState,
    kind: Durability,
    delay_us: u64,
    request: &AuditRequest,
) -> Result<Audit, ApiError> {
    let wanted: BTreeSet<i64> = request.ids.iter().copied().collect();
    let mut missing = Vec::new();
    if !wanted.is_empty() {
        let db = state.db(main, kind, delay_us).await?;
        // Only the ids asked for, in chunks well under both backends' bind limits: a range
        // (`BETWEEN min AND max`) would let one request read the whole table.
        let ids: Vec<i64> = wanted.iter().copied().collect();
        for chunk in ids.chunks(AUDIT_CHUNK) {
            let stored: Vec<i64> = crate::on_db!(&db, pool => {
                let mut qb = QueryBuilder::new("SELECT id FROM durable_writes WHERE id IN (");
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                qb.push(")");
                qb.build_query_scalar().fetch_all(pool).await?
            });
            let stored: BTreeSet<i64> = stored.into_iter().collect();
            missing.extend(chunk.iter().filter(|id| !stored.contains(id)));
        }
    }
    Ok(Audit {
        variant: kind.as_ref().to_string(),
        checked: wanted.len() as u64,
        missing: missing.len() as u64,
        missing_ids: missing.into_iter().take(20).collect(),
        promise: kind.promise(request.failure),
    })
}

/// What the service says about the current option: the settings as the database reports them
/// back, and what the option promises on each failure. Nothing until the lab has written.
pub async fn notes(
    main: &Db,
    state: &DurabilityState,
    kind: Durability,
    delay_us: u64,
) -> Result<Vec<(String, String)>, ApiError> {
    if !state.in_use() || kind.backend() != main.backend() {
        return Ok(Vec::new());
    }
    let db = state.db(main, kind, delay_us).await?;
    let settings = match &db {
        Db::Sqlite { pool, options } => {
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(pool)
                .await?;
            let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await?;
            let synchronous = ["OFF", "NORMAL", "FULL", "EXTRA"]
                .get(synchronous as usize)
                .unwrap_or(&"?");
            format!(
                "journal_mode={journal}, synchronous={synchronous} ({})",
                options.get_filename().display()
            )
        }
        Db::Postgres { pool, .. } => {
            let mut shown = Vec::new();
            for name in [
                "synchronous_commit",
                "commit_delay",
                "commit_siblings",
                "wal_writer_delay",
                "fsync",
                "wal_sync_method",
            ] {
                let value: String = sqlx::query_scalar(&format!("SHOW {name}"))
                    .fetch_one(pool)
                    .await?;
                shown.push(format!("{name}={value}"));
            }
            shown.join(", ")
        }
    };
    let promises = [
        Failure::ServiceKilled,
        Failure::DatabaseKilled,
        Failure::OsCrash,
    ]
    .into_iter()
    .filter(|f| !(main.backend() == Backend::Sqlite && *f == Failure::DatabaseKilled))
    .map(|f| {
        let p = kind.promise(f);
        format!(
            "{}: {} — {}",
            failure_words(f),
            if p.survives { "kept" } else { "may be lost" },
            p.why
        )
    })
    .collect::<Vec<_>>()
    .join("\n");
    Ok(vec![
        ("settings in force".to_string(), settings),
        ("what an acknowledged write survives".to_string(), promises),
    ])
}

fn failure_words(f: Failure) -> &'static str {
    match f {
        Failure::ServiceKilled => "service killed (SIGKILL)",
        Failure::DatabaseKilled => "database server killed (SIGKILL)",
        Failure::OsCrash => "OS crash or power loss",
    }
}

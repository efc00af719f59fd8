//! Dimension `insert`: storing N rows in one request.
//!
//! The lesson (seed guide: "bulk insert"): the cost of row-by-row inserts is not the round trip
//! (~30–40 µs on loopback) but the *commit*: in autocommit every row is its own transaction and
//! waits for an fsync (≈3.5 ms on this disk, 100× more on some). One transaction removes all but
//! one fsync; multi-row VALUES then also removes most statements; PostgreSQL's UNNEST sends one
//! statement with four arrays, and COPY streams rows with no per-statement work at all.
//! Watch `db_commits_total` and `db_statements_total` per request.
//!
//! Atomicity: every option but `per-row-autocommit` runs in one transaction (COPY is one
//! statement), so a bad row anywhere leaves nothing written.

use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use sqlx::postgres::PgPoolCopyExt;

use crate::db::{Backend, Db};
use crate::dimension;
use crate::error::ApiError;
use crate::limits::MAX_ROWS_PER_REQUEST;
use crate::metric_names as names;
use crate::settings::{Knob, SettingsError};

dimension! {
    pub enum InsertKind as "insert", default PerRowAutocommit, knobs [BATCH_ROWS], check supported_on {
        /// Naive: one statement and one commit (fsync) per row. Not atomic.
        PerRowAutocommit = "one INSERT per row, each its own transaction: N statements, N commits, not atomic",
        PerRowTransaction = "the same N INSERTs inside one transaction: N statements, 1 commit",
        /// Optimized, portable.
        MultiRowValues = "multi-row INSERT ... VALUES (..),(..) in batches of insert.batch_rows, one transaction",
        /// Optimized, PostgreSQL only.
        Unnest = "PostgreSQL: one INSERT ... SELECT FROM UNNEST(arrays): 1 statement",
        Copy = "PostgreSQL: COPY ... FROM STDIN: rows streamed, no per-row statement",
    }
}

pub const BATCH_ROWS: Knob = Knob {
    index: 0,
    name: "insert.batch_rows",
    about: "rows per multi-row VALUES statement (clamped to the bind limit)",
    default: 1000,
    max: 16_383,
};

/// UNNEST and COPY are PostgreSQL's; asking for them on SQLite is refused up front.
fn supported_on(kind: InsertKind, backend: Backend) -> Result<(), SettingsError> {
    match (kind, backend) {
        (InsertKind::Unnest | InsertKind::Copy, Backend::Sqlite) => {
            Err(SettingsError::Unsupported {
                dimension: "insert",
                option: kind.into(),
                needs: Backend::Postgres,
                here: backend,
            })
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub user_id: i64,
    pub kind: String,
    pub payload: String,
    pub created_at: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BulkInsert {
    /// At most `MAX_ROWS_PER_REQUEST`, counted while decoding.
    #[serde(deserialize_with = "crate::limits::bounded::rows")]
    pub events: Vec<Event>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkInsertResult {
    pub variant: String,
    pub inserted: u64,
    pub statements: u64,
    pub commits: u64,
    pub atomic: bool,
}

const BINDS_PER_ROW: usize = 4;

/// Largest batch the backend's bind-parameter limit allows (SQLite 32 766, PostgreSQL 65 535).
pub fn max_batch_rows(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 32_766 / BINDS_PER_ROW,
        Backend::Postgres => 65_535 / BINDS_PER_ROW,
    }
}

pub fn validate(events: &[Event]) -> Result<(), ApiError> {
    if events.is_empty() || events.len() > MAX_ROWS_PER_REQUEST {
        return Err(ApiError::BadRequest(format!(
            "events must hold 1..={MAX_ROWS_PER_REQUEST} rows, got {}",
            events.len()
        )));
    }
    for (i, e) in events.iter().enumerate() {
        let problem = if e.kind.is_empty() || e.kind.len() > 64 {
            Some("kind must be 1..=64 bytes")
        } else if e.payload.len() > 4096 {
            Some("payload must be at most 4096 bytes")
        } else if e.kind.contains('\0') || e.payload.contains('\0') {
            Some("text may not contain NUL characters")
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(ApiError::BadRequest(format!("events[{i}]: {p}")));
        }
    }
    Ok(())
}

/// Counts what was executed, so a failure can still report progress honestly.
#[derive(Default)]
struct Tally {
    inserted: u64,
    statements: u64,
    commits: u64,
}

impl Tally {
    fn statement(&mut self, rows: u64) {
        self.statements += 1;
        self.inserted += rows;
        metrics::counter!(names::DB_STATEMENTS).increment(1);
    }
    fn commit(&mut self) {
        self.commits += 1;
        metrics::counter!(names::DB_COMMITS).increment(1);
    }
}

const INSERT_ONE: &str =
    "INSERT INTO events (user_id, kind, payload, created_at) VALUES ($1, $2, $3, $4)";

pub async fn insert(
    db: &Db,
    kind: InsertKind,
    batch_rows: usize,
    events: &[Event],
) -> Result<BulkInsertResult, ApiError> {
    supported_on(kind, db.backend()).map_err(ApiError::bad_request)?;
    let batch_rows = batch_rows.clamp(1, max_batch_rows(db.backend()));
    let mut tally = Tally::default();
    let outcome = match (kind, db) {
        (InsertKind::PerRowAutocommit, db) => crate::on_db!(db, pool => {
            let mut result = Ok(());
            for e in events {
                // No transaction: the database commits (and fsyncs) after every statement.
                let done = sqlx::query(INSERT_ONE)
                    .bind(e.user_id).bind(&e.kind).bind(&e.payload).bind(e.created_at)
                    .execute(pool).await;
                if let Err(err) = done { result = Err(err); break; }
                tally.statement(1);
                tally.commit();
            }
            result
        }),
        (InsertKind::PerRowTransaction, db) => crate::on_db!(db, pool => async {
            let mut tx = pool.begin().await?;
            for e in events {
                sqlx::query(INSERT_ONE)
                    .bind(e.user_id).bind(&e.kind).bind(&e.payload).bind(e.created_at)
                    .execute(&mut *tx).await?;
                tally.statement(1);
            }
            tx.commit().await?;
            tally.commit();
            Ok(())
        }.await),
        (InsertKind::MultiRowValues, db) => crate::on_db!(db, pool => async {
            let mut tx = pool.begin().await?;
            for chunk in events.chunks(batch_rows) {
                // QueryBuilder writes each backend's placeholders ($1 or ?).
                values_statement(chunk).build().execute(&mut *tx).await?;
                tally.statement(chunk.len() as u64);
            }
            tx.commit().await?;
            tally.commit();
            Ok(())
        }.await),
        (InsertKind::Unnest, Db::Postgres { pool, .. }) => {
            async {
                // Four array binds, whatever N is: no bind limit, one plan.
                sqlx::query(
                    "INSERT INTO events (user_id, kind, payload, created_at) \
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[])",
                )
                .bind(events.iter().map(|e| e.user_id).collect::<Vec<_>>())
                .bind(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
                .bind(
                    events
                        .iter()
                        .map(|e| e.payload.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(events.iter().map(|e| e.created_at).collect::<Vec<_>>())
                .execute(pool)
                .await?;
                tally.statement(events.len() as u64);
                tally.commit();
                Ok(())
            }
            .await
        }
        (InsertKind::Copy, Db::Postgres { pool, .. }) => {
            async {
                let mut copy = pool
                    .copy_in_raw(
                        "COPY events (user_id, kind, payload, created_at) FROM STDIN (FORMAT csv)",
                    )
                    .await?;
                copy.send(to_csv(events)).await?;
                copy.finish().await?;
                tally.statement(events.len() as u64);
                tally.commit();
                Ok(())
            }
            .await
        }
        (InsertKind::Unnest | InsertKind::Copy, Db::Sqlite { .. }) => {
            // Already rejected by `supported_on`; kept as an error rather than a panic.
            return Err(ApiError::BadRequest(format!(
                "insert={} needs PostgreSQL",
                kind.as_ref()
            )));
        }
    };
    metrics::counter!(names::DB_ROWS_INSERTED).increment(tally.inserted);
    let atomic = kind != InsertKind::PerRowAutocommit;
    match outcome {
        Ok(()) => Ok(BulkInsertResult {
            variant: kind.as_ref().to_string(),
            inserted: tally.inserted,
            statements: tally.statements,
            commits: tally.commits,
            atomic,
        }),
        Err(e) => {
            let written = if atomic { 0 } else { tally.inserted };
            let context = format!(
                "bulk insert ({}) stopped: {written} of {} rows are stored{}",
                kind.as_ref(),
                events.len(),
                if atomic {
                    " (the transaction was rolled back)"
                } else {
                    " (autocommit is not atomic)"
                }
            );
            Err(match &e {
                sqlx::Error::Database(db) if db.is_check_violation() => ApiError::Unprocessable(
                    format!("{context}: the database rejected a row: {}", db.message()),
                ),
                _ => ApiError::dependency("database", format!("{context}: {e}")),
            })
        }
    }
}

/// `INSERT ... VALUES ($1,$2,$3,$4), ($5,...)`: QueryBuilder writes the right placeholders for
/// each backend.
fn values_statement<'a, DB>(chunk: &'a [Event]) -> QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut qb = QueryBuilder::new("INSERT INTO events (user_id, kind, payload, created_at) ");
    qb.push_values(chunk, |mut row, e| {
        row.push_bind(e.user_id)
            .push_bind(e.kind.as_str())
            .push_bind(e.payload.as_str())
            .push_bind(e.created_at);
    });
    qb
}

/// CSV for COPY: every text field quoted, quotes doubled (NUL is rejected by `validate`).
fn to_csv(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 64);
    for e in events {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        out.extend_from_slice(
            format!(
                "{},{},{},{}\n",
                e.user_id,
                quote(&e.kind),
                quote(&e.payload),
                e.created_at
            )
            .as_bytes(),
        );
    }
    out
}

pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    crate::on_db!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(pool).await)
}

pub async fn clear(db: &Db) -> Result<(), sqlx::Error> {
    crate::on_db!(db, pool => sqlx::query("DELETE FROM events").execute(pool).await.map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_escapes_quotes_and_commas() {
        let e = Event {
            user_id: 1,
            kind: "a,b".into(),
            payload: "say \"hi\"\nbye".into(),
            created_at: 2,
        };
        assert_eq!(
            String::from_utf8(to_csv(&[e])).unwrap(),
            "1,\"a,b\",\"say \"\"hi\"\"\nbye\",2\n"
        );
    }

    #[test]
    fn batches_stay_within_bind_limits() {
        assert!(max_batch_rows(Backend::Sqlite) * BINDS_PER_ROW <= 32_766);
        assert!(max_batch_rows(Backend::Postgres) * BINDS_PER_ROW <= 65_535);
    }
}

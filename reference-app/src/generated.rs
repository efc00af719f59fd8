//! Generated data sets (the orders, the feed, the catalog): made on first use, recorded in the
//! `datasets` table with a fingerprint of the generator and its size, and reloaded only when
//! the fingerprint changes, so a service with a persistent `--data-dir` keeps them between
//! runs. The loading itself is each dimension's (COPY, one transaction …).

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use tokio::sync::Mutex;

use crate::db::Db;
use crate::error::ApiError;

/// One data set's state in this process: the size it holds, and a lock so that concurrent
/// first requests load it once.
#[derive(Default)]
pub struct Generated {
    /// Rows currently loaded (0: not yet).
    size: AtomicI64,
    loading: Mutex<()>,
}

impl Generated {
    /// Whether this process has loaded (or found) the data set.
    pub fn in_use(&self) -> bool {
        self.size.load(Ordering::Acquire) != 0
    }

    /// Makes sure the data set `name` of `size` rows from `generator` is there: a cheap check
    /// when it is; otherwise compares fingerprints and calls `load` only if they differ. `load`
    /// replaces the data; the fingerprint is written after it succeeds.
    pub async fn ensure<F, Fut>(
        &self,
        db: &Db,
        name: &str,
        generator: &str,
        size: i64,
        load: F,
    ) -> Result<(), ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), sqlx::Error>>,
    {
        if self.size.load(Ordering::Acquire) == size {
            return Ok(());
        }
        let _one_loader = self.loading.lock().await;
        if self.size.load(Ordering::Acquire) == size {
            return Ok(());
        }
        let wanted = format!("{generator}:{size}");
        let current: Option<String> = crate::on_db!(db, pool => {
            sqlx::query_scalar("SELECT fingerprint FROM datasets WHERE name = $1")
                .bind(name).fetch_optional(pool).await?
        });
        if current.as_deref() != Some(wanted.as_str()) {
            let started = Instant::now();
            // Forget the old fingerprint first: a load that fails half-way must reload.
            crate::on_db!(db, pool => {
                sqlx::query("DELETE FROM datasets WHERE name = $1").bind(name).execute(pool).await?;
            });
            load().await?;
            if let Db::Postgres { pool, .. } = db {
                // Statistics for the planner now, not when autovacuum gets round to it: without
                // them PostgreSQL guessed 22 000 item rows for a 20-order page of the orders
                // data set, hashed a sequential scan of all 30 000 items for every JOIN (5.1 ms
                // instead of 0.3 ms), and would have switched plans in the middle of a run.
                // Not on SQLite: its plans here are the same without statistics, and with them
                // every n-plus-one variant used 1.2–1.4× more CPU per request on this VM (a
                // paired quick run and two full runs; the cause is not pinned down).
                sqlx::query("ANALYZE").execute(pool).await?;
            }
            let loaded_ms = started.elapsed().as_millis() as i64;
            crate::on_db!(db, pool => {
                sqlx::query("INSERT INTO datasets (name, fingerprint, loaded_ms) VALUES ($1, $2, $3)")
                    .bind(name).bind(&wanted).bind(loaded_ms).execute(pool).await?;
            });
            tracing::info!(
                data_set = name,
                rows = size,
                elapsed_ms = loaded_ms,
                fingerprint = %wanted,
                "generated the data set (kept in the database for later runs)"
            );
        }
        self.size.store(size, Ordering::Release);
        Ok(())
    }
}

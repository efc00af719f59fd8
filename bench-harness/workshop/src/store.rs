//! The workshop's database: SQLite in the data folder (sqlx, with migrations), so a server
//! restarted between two submissions has lost nothing, and its join code and teacher token
//! stay the same.

use std::path::Path;

use rand::Rng;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::submission::Summary;

/// Join codes avoid characters that read alike on a projector (0/O, 1/I/l).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the workshop database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the workshop database's migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Debug, Clone)]
pub struct Workshop {
    pub code: String,
    pub teacher_token: String,
}

/// One stored submission, as the class page and the export read it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Row {
    pub id: i64,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub summary: Summary,
    pub received_at: String,
    /// The report as sent (JSON text).
    #[serde(skip)]
    pub report: String,
}

/// Whether a submission was new or a retry of one already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New(i64),
    Again(i64),
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

fn random_text(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

impl Store {
    /// Opens (or creates) `dir/workshop.sqlite` and its workshop.
    pub async fn open(dir: &Path) -> Result<(Store, Workshop), StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(dir.join("workshop.sqlite"))
            .create_if_missing(true)
            // Every submission is on disk before the student is told it arrived.
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let store = Store { pool };
        let workshop = store.workshop().await?;
        Ok((store, workshop))
    }

    async fn workshop(&self) -> Result<Workshop, StoreError> {
        if let Some((code, teacher_token)) =
            sqlx::query_as::<_, (String, String)>("SELECT code, teacher_token FROM workshop")
                .fetch_optional(&self.pool)
                .await?
        {
            return Ok(Workshop {
                code,
                teacher_token,
            });
        }
        let w = Workshop {
            code: random_text(CODE_ALPHABET, 6),
            teacher_token: random_text(b"0123456789abcdef", 32),
        };
        sqlx::query(
            "INSERT INTO workshop (id, code, teacher_token, created_at) VALUES (1, ?, ?, ?)",
        )
        .bind(&w.code)
        .bind(&w.teacher_token)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(w)
    }

    pub async fn lab_is_open(&self, lab: &str) -> Result<bool, StoreError> {
        let open: Option<i64> = sqlx::query_scalar("SELECT open FROM lab_state WHERE lab = ?")
            .bind(lab)
            .fetch_optional(&self.pool)
            .await?;
        Ok(open.is_none_or(|o| o != 0))
    }

    pub async fn set_lab_open(&self, lab: &str, open: bool) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO lab_state (lab, open) VALUES (?, ?) ON CONFLICT (lab) DO UPDATE SET open = excluded.open",
        )
        .bind(lab)
        .bind(open as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a submission once: a retry with the same client id returns the first row.
    pub async fn add(
        &self,
        client_id: &str,
        s: &Summary,
        report: &serde_json::Value,
    ) -> Result<Stored, StoreError> {
        if let Some(id) =
            sqlx::query_scalar::<_, i64>("SELECT id FROM submission WHERE client_id = ?")
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?
        {
            return Ok(Stored::Again(id));
        }
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO submission (client_id, lab, student, prediction_text, prediction, metric, ratio, \
             ratio_low, ratio_high, verdict, status, invalid_reason, machine, report, received_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(client_id)
        .bind(&s.lab)
        .bind(&s.student)
        .bind(&s.prediction_text)
        .bind(s.prediction)
        .bind(&s.metric)
        .bind(s.ratio)
        .bind(s.ratio_low)
        .bind(s.ratio_high)
        .bind(&s.verdict)
        .bind(&s.status)
        .bind(&s.invalid_reason)
        .bind(&s.machine)
        .bind(report.to_string())
        .bind(now())
        .fetch_one(&self.pool)
        .await?;
        Ok(Stored::New(id))
    }

    /// Deletes one submission; false when there was none.
    pub async fn delete(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM submission WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every submission, by lab then arrival, without the reports (the overview and the
    /// exports read only the summaries).
    pub async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        self.select("'' AS report", "1 = 1 ORDER BY lab, id", None)
            .await
    }

    /// One lab's submissions in arrival order, with their reports (the class page reads any
    /// variant's comparison out of them).
    pub async fn lab_rows(&self, lab: &str) -> Result<Vec<Row>, StoreError> {
        self.select("report", "lab = ? ORDER BY id", Some(lab))
            .await
    }

    async fn select(
        &self,
        report: &str,
        filter: &str,
        lab: Option<&str>,
    ) -> Result<Vec<Row>, StoreError> {
        let sql = format!(
            "SELECT id, lab, student, prediction_text, prediction, metric, ratio, ratio_low, \
             ratio_high, verdict, status, invalid_reason, machine, received_at, {report} \
             FROM submission WHERE {filter}"
        );
        let mut query = sqlx::query_as::<_, Row>(&sql);
        if let Some(lab) = lab {
            query = query.bind(lab);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

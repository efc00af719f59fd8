//! Dimension `db-client`: looking a user up by primary key.
//!
//! Naive: connect for every request (PostgreSQL: TCP + startup + auth, 3.6–4.5 ms measured;
//! SQLite: open the file and read the schema). Optimized: borrow a warm connection from the
//! `sqlx` pool (`--pool-size`). Watch `db_connections_opened_total` and, when the pool is too
//! small for the load, `db_pool_acquire_wait_nanoseconds_total`.

use crate::db::{Db, OneConnection, PooledConnection};
use crate::dimension;
use crate::metric_names as names;
use crate::model::User;

dimension! {
    pub enum DbClientKind as "db-client", default Pool {
        /// Naive.
        PerRequest = "open a new database connection for every request, close it afterwards",
        /// Optimized.
        Pool = "borrow a connection from the sqlx pool (size: --pool-size)",
    }
}

const FIND_USER: &str = "SELECT id, name, email, created_at FROM users WHERE id = $1";

pub async fn find_user(db: &Db, kind: DbClientKind, id: i64) -> Result<Option<User>, sqlx::Error> {
    metrics::counter!(names::DB_STATEMENTS).increment(1);
    match kind {
        DbClientKind::PerRequest => match db.open_one().await? {
            OneConnection::Sqlite(mut conn) => {
                let user = sqlx::query_as(FIND_USER)
                    .bind(id)
                    .fetch_optional(&mut conn)
                    .await;
                OneConnection::Sqlite(conn).close().await;
                user
            }
            OneConnection::Postgres(mut conn) => {
                let user = sqlx::query_as(FIND_USER)
                    .bind(id)
                    .fetch_optional(&mut conn)
                    .await;
                OneConnection::Postgres(conn).close().await;
                user
            }
        },
        DbClientKind::Pool => match db.acquire().await? {
            PooledConnection::Sqlite(mut conn) => {
                sqlx::query_as(FIND_USER)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
            }
            PooledConnection::Postgres(mut conn) => {
                sqlx::query_as(FIND_USER)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
            }
        },
    }
}

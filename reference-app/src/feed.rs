//! Dimension `pagination`: one page of a feed, newest first, deep in a large table.
//!
//! The lesson: `LIMIT 20 OFFSET 900000` cannot jump to row 900 000. The database walks the
//! index (or the table) from the top, produces 900 000 rows and throws them away, so the page
//! costs grow with its depth. Keyset pagination ("seek") remembers where the previous page
//! ended and asks for what comes after it: `WHERE (created_at, id) < ($1, $2)` on an index of
//! `(created_at, id)` starts *at* that key, and every page costs the same. What it gives up: no
//! "jump to page 4 711", no page numbers, and the cursor must be a unique, indexed sort key
//! (hence `id` after `created_at`).
//!
//! Watch `feed_rows_walked_total` per request: the rows a page makes the database read, from
//! the plan's shape (OFFSET reads and discards `offset` rows before its `limit`; a keyset seek
//! reads only the page). The integration tests check that shape with `EXPLAIN`.

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
    pub enum Pagination as "pagination", default Offset, knobs [ROWS] {
        /// Naive: the page number times the page size, skipped.
        Offset = "LIMIT n OFFSET k: the database reads and discards k rows before the page",
        /// Optimized: seek to the last key of the previous page.
        Keyset = "WHERE (created_at, id) < (last page's last key) LIMIT n, on an index of (created_at, id)",
    }
}

pub const ROWS: Knob = Knob {
    index: 0,
    name: "pagination.rows",
    about: "posts in the feed table (generated on first use; a different count reloads it)",
    default: 100_000,
    max: 10_000_000,
};

/// Where a page starts, as a keyset cursor: the last post of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cursor {
    pub created_at: i64,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Post {
    pub id: i64,
    pub created_at: i64,
    pub author_id: i64,
    pub title: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedPage {
    pub variant: String,
    pub posts: Vec<Post>,
    /// The cursor of the next page (keyset's way to continue); `None` at the end.
    pub next: Option<Cursor>,
}

/// What a page request carries: `offset` for the OFFSET variant, the cursor for keyset. A
/// client that pages with keyset has the cursor from the page before; the lab's plugin
/// computes it from the generator (see [`dataset::cursor_before`]), which is the same thing.
pub struct PageRequest {
    pub limit: i64,
    pub offset: Option<i64>,
    pub after: Option<Cursor>,
}

pub const MAX_LIMIT: i64 = 200;

#[derive(Default)]
pub struct FeedState {
    posts: Generated,
}

impl FeedState {
    /// The feed's size and where it came from, once a page has been asked for.
    pub fn note(&self) -> Option<(String, String)> {
        self.posts.note("feed")
    }
}

pub async fn page(
    db: &Db,
    state: &FeedState,
    kind: Pagination,
    rows: i64,
    req: PageRequest,
) -> Result<FeedPage, ApiError> {
    if !(1..=MAX_LIMIT).contains(&req.limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1..={MAX_LIMIT}, got {}",
            req.limit
        )));
    }
    dataset::ensure(db, state, rows.max(1)).await?;
    let posts = match kind {
        Pagination::Offset => {
            let offset = req
                .offset
                .ok_or_else(|| ApiError::BadRequest("pagination=offset needs ?offset=K".into()))?;
            if offset < 0 {
                return Err(ApiError::BadRequest(format!(
                    "offset must be at least 0, got {offset}"
                )));
            }
            let posts = by_offset(db, req.limit, offset).await?;
            walked(offset + posts.len() as i64);
            posts
        }
        Pagination::Keyset => {
            let posts = match req.after {
                Some(after) => after_key(db, req.limit, after).await?,
                // The first page has no cursor: it is the top of the index.
                None => by_offset(db, req.limit, 0).await?,
            };
            walked(posts.len() as i64);
            posts
        }
    };
    let next = (posts.len() as i64 == req.limit)
        .then(|| posts.last())
        .flatten()
        .map(|p| Cursor {
            created_at: p.created_at,
            id: p.id,
        });
    Ok(FeedPage {
        variant: kind.as_ref().to_string(),
        posts,
        next,
    })
}

fn walked(rows: i64) {
    metrics::counter!(names::DB_STATEMENTS).increment(1);
    metrics::counter!(names::FEED_ROWS_WALKED).increment(rows as u64);
}

const COLUMNS: &str = "SELECT id, created_at, author_id, title FROM feed_posts";

// ---- naive: skip k rows -------------------------------------------------------------------------

async fn by_offset(db: &Db, limit: i64, offset: i64) -> Result<Vec<Post>, sqlx::Error> {
    crate::on_db!(db, pool => {
        sqlx::query_as(&format!("{COLUMNS} ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"))
            .bind(limit).bind(offset).fetch_all(pool).await
    })
}

// ---- optimized: seek past the previous page's last key ------------------------------------------

async fn after_key(db: &Db, limit: i64, after: Cursor) -> Result<Vec<Post>, sqlx::Error> {
    // A row-value comparison, so the index on (created_at, id) is entered at the key itself;
    // `created_at < $1 OR (created_at = $1 AND id < $2)` means the same, but not every planner
    // turns it into one index range.
    crate::on_db!(db, pool => {
        sqlx::query_as(&format!("{COLUMNS} WHERE (created_at, id) < ($1, $2) \
                                 ORDER BY created_at DESC, id DESC LIMIT $3"))
            .bind(after.created_at).bind(after.id).bind(limit).fetch_all(pool).await
    })
}

/// The generated feed: deterministic, so a client can compute any page's cursor.
pub mod dataset {
    use super::*;

    const GENERATOR: &str = "feed-v1";

    /// Two posts per second: ties on `created_at` are why the cursor needs the id too.
    pub fn created_at(id: i64) -> i64 {
        1_600_000_000 + id / 2
    }

    /// The cursor that makes a keyset page start at `position` (0 = the newest post) in a
    /// table of `rows` posts: the key of the post just above it.
    pub fn cursor_before(rows: i64, position: i64) -> Option<Cursor> {
        (position > 0).then(|| {
            let id = rows - position + 1;
            Cursor {
                created_at: created_at(id),
                id,
            }
        })
    }

    pub(super) async fn ensure(db: &Db, state: &FeedState, rows: i64) -> Result<(), ApiError> {
        state
            .posts
            .ensure(db, "feed", GENERATOR, rows, || load(db, rows))
            .await
    }

    async fn load(db: &Db, rows: i64) -> Result<(), sqlx::Error> {
        // The index is dropped while loading and built once at the end: one sort instead of a
        // million B-tree inserts.
        const DROP_INDEX: &str = "DROP INDEX IF EXISTS feed_by_time";
        const CREATE_INDEX: &str = "CREATE INDEX feed_by_time ON feed_posts (created_at, id)";
        match db {
            Db::Postgres { pool, .. } => {
                let mut tx = pool.begin().await?;
                sqlx::query(DROP_INDEX).execute(&mut *tx).await?;
                sqlx::query("TRUNCATE feed_posts").execute(&mut *tx).await?;
                tx.commit().await?;
                // COPY streams the rows: no statement per row, no bind limit.
                let mut copy = pool
                    .copy_in_raw(
                        "COPY feed_posts (id, created_at, author_id, title) FROM STDIN (FORMAT csv)",
                    )
                    .await?;
                let mut chunk = Vec::with_capacity(1 << 20);
                for id in 1..=rows {
                    chunk.extend_from_slice(
                        format!("{id},{},{},post {id}\n", created_at(id), 1 + id % 5000).as_bytes(),
                    );
                    if chunk.len() >= (1 << 20) {
                        copy.send(std::mem::take(&mut chunk)).await?;
                    }
                }
                copy.send(chunk).await?;
                copy.finish().await?;
                sqlx::query(CREATE_INDEX).execute(pool).await?;
            }
            Db::Sqlite { pool, .. } => {
                // One transaction: one commit (one fsync) for the whole load.
                let mut tx = pool.begin().await?;
                sqlx::query(DROP_INDEX).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM feed_posts")
                    .execute(&mut *tx)
                    .await?;
                let ids: Vec<i64> = (1..=rows).collect();
                for chunk in ids.chunks(2000) {
                    let mut qb = QueryBuilder::new(
                        "INSERT INTO feed_posts (id, created_at, author_id, title) ",
                    );
                    qb.push_values(chunk, |mut row, id| {
                        row.push_bind(*id)
                            .push_bind(created_at(*id))
                            .push_bind(1 + id % 5000)
                            .push_bind(format!("post {id}"));
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                sqlx::query(CREATE_INDEX).execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::dataset::*;

    #[test]
    fn a_cursor_points_just_above_its_position() {
        assert_eq!(cursor_before(100, 0), None);
        let c = cursor_before(100, 1).unwrap();
        assert_eq!((c.id, c.created_at), (100, created_at(100)));
        // Position 10 is post 90; the cursor is post 91's key.
        assert_eq!(cursor_before(100, 10).unwrap().id, 91);
    }
}

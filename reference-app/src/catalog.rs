//! Dimension `index`: a filter and a sort, with and without the index that matches them, and
//! what each index costs a write.
//!
//! The lesson (seed guide 000 §5.2, 인덱스): `WHERE category_id = ? ORDER BY created_at DESC
//! LIMIT 20` on a table without an index reads every row and sorts the matches. An index on
//! `category_id` alone finds the matches but still sorts them all. A composite index on
//! `(category_id, created_at, id)` — the `WHERE` column first, then the `ORDER BY` columns —
//! holds the rows already in the answer's order: the database reads 20 entries and stops.
//! The other side: every index is one more B-tree to update on every insert.
//!
//! The four options are four tables with the same rows and different indexes, so a switch
//! between rounds changes which table is read, and no index is built during a run. The query
//! plan of the current option is one of the service's notes (`GET /admin/notes`), which the
//! harness prints in every report form.

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
    pub enum IndexKind as "index", default NoIndex, knobs [ROWS] {
        /// Naive: nothing but the primary key.
        NoIndex = "no secondary index: every read scans the table and sorts the matches",
        Category = "an index on category_id: the matches are found, then all of them sorted",
        /// Optimized for the read.
        Composite = "one index on (category_id, created_at, id): WHERE then ORDER BY, read in order, stops after LIMIT",
        /// The write side: the composite plus two more.
        ThreeIndexes = "the composite index plus indexes on price_cents and name: three B-trees to update per insert",
    }
}

pub const ROWS: Knob = Knob {
    index: 0,
    name: "index.rows",
    about: "products in each catalog table (generated on first use; a different count reloads)",
    default: 200_000,
    max: 5_000_000,
};

/// Products are spread over this many categories.
pub const CATEGORIES: i64 = 100;

impl IndexKind {
    fn table(self) -> &'static str {
        match self {
            IndexKind::NoIndex => "catalog_plain",
            IndexKind::Category => "catalog_by_category",
            IndexKind::Composite => "catalog_composite",
            IndexKind::ThreeIndexes => "catalog_three",
        }
    }
}

const TABLES: [IndexKind; 4] = [
    IndexKind::NoIndex,
    IndexKind::Category,
    IndexKind::Composite,
    IndexKind::ThreeIndexes,
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Product {
    pub id: i64,
    pub category_id: i64,
    pub price_cents: i64,
    pub created_at: i64,
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Newest {
    pub variant: String,
    pub products: Vec<Product>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewProduct {
    pub category_id: i64,
    pub price_cents: i64,
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Created {
    pub variant: String,
    pub id: i64,
}

#[derive(Default)]
pub struct CatalogState {
    products: Generated,
}

fn category_ok(category: i64) -> Result<(), ApiError> {
    if (1..=CATEGORIES).contains(&category) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "category must be 1..={CATEGORIES}, got {category}"
        )))
    }
}

/// The newest `limit` products of a category: the read whose plan the index decides.
pub async fn newest(
    db: &Db,
    state: &CatalogState,
    kind: IndexKind,
    rows: i64,
    category: i64,
    limit: i64,
) -> Result<Newest, ApiError> {
    category_ok(category)?;
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1..=100, got {limit}"
        )));
    }
    dataset::ensure(db, state, rows).await?;
    let products: Vec<Product> = crate::on_db!(db, pool => {
        sqlx::query_as(&newest_sql(kind)).bind(category).bind(limit).fetch_all(pool).await?
    });
    metrics::counter!(names::DB_STATEMENTS).increment(1);
    Ok(Newest {
        variant: kind.as_ref().to_string(),
        products,
    })
}

fn newest_sql(kind: IndexKind) -> String {
    format!(
        "SELECT id, category_id, price_cents, created_at, name FROM {} \
         WHERE category_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        kind.table()
    )
}

/// One insert: the write every index makes dearer.
pub async fn create(
    db: &Db,
    state: &CatalogState,
    kind: IndexKind,
    rows: i64,
    p: &NewProduct,
) -> Result<Created, ApiError> {
    category_ok(p.category_id)?;
    if p.name.is_empty() || p.name.len() > 200 || p.name.contains('\0') {
        return Err(ApiError::BadRequest(
            "name must be 1..=200 bytes without NUL".into(),
        ));
    }
    dataset::ensure(db, state, rows).await?;
    let sql = format!(
        "INSERT INTO {} (category_id, price_cents, created_at, name) VALUES ($1, $2, $3, $4) \
         RETURNING id",
        kind.table()
    );
    let now = dataset::NEWEST + 1;
    let id: i64 = crate::on_db!(db, pool => {
        sqlx::query_scalar(&sql)
            .bind(p.category_id).bind(p.price_cents).bind(now).bind(&p.name)
            .fetch_one(pool).await?
    });
    metrics::counter!(names::DB_STATEMENTS).increment(1);
    metrics::counter!(names::DB_COMMITS).increment(1);
    Ok(Created {
        variant: kind.as_ref().to_string(),
        id,
    })
}

/// What the service says about the current option: the read's query plan on this database,
/// and the indexes its table has. Nothing while the catalog is unused (no lab has asked for
/// it), so other labs' reports do not carry it.
pub async fn notes(
    db: &Db,
    state: &CatalogState,
    kind: IndexKind,
) -> Result<Vec<(String, String)>, ApiError> {
    if !state.products.in_use() {
        return Ok(Vec::new());
    }
    let data_set = state.products.note("catalog");
    let table = kind.table();
    let sql = newest_sql(kind);
    let (plan_title, plan, indexes) = match db {
        Db::Postgres { pool, .. } => {
            let plan: Vec<String> = sqlx::query_scalar(&format!(
                "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {}",
                sql.replace("$1", "1").replace("$2", "20")
            ))
            .fetch_all(pool)
            .await?;
            let indexes: Vec<String> = sqlx::query_scalar(
                "SELECT indexdef FROM pg_indexes WHERE tablename = $1 \
                 AND indexname NOT LIKE '%\\_pkey' ORDER BY indexname",
            )
            .bind(table)
            .fetch_all(pool)
            .await?;
            ("EXPLAIN (ANALYZE, BUFFERS)", plan.join("\n"), indexes)
        }
        Db::Sqlite { pool, .. } => {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .bind(1i64)
                    .bind(20i64)
                    .fetch_all(pool)
                    .await?;
            let indexes: Vec<Option<String>> = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 \
                 ORDER BY name",
            )
            .bind(table)
            .fetch_all(pool)
            .await?;
            let plan = plan
                .into_iter()
                .map(|(_, _, _, detail)| detail)
                .collect::<Vec<_>>()
                .join("\n");
            (
                "EXPLAIN QUERY PLAN",
                plan,
                indexes.into_iter().flatten().collect(),
            )
        }
    };
    let indexes = if indexes.is_empty() {
        format!("{table}: the primary key only (no secondary index)")
    } else {
        indexes.join("\n")
    };
    Ok([
        (
            format!("{plan_title} of the newest 20 in category 1"),
            format!("{sql}\n\n{plan}"),
        ),
        (format!("indexes of {table}"), indexes),
    ]
    .into_iter()
    .chain(data_set)
    .collect())
}

/// The generated catalog: the same rows in each table.
pub mod dataset {
    use super::*;

    const GENERATOR: &str = "catalog-v1";
    /// Product `id` was created at `FIRST + id`; new products come after `NEWEST`.
    pub const FIRST: i64 = 1_650_000_000;
    pub const NEWEST: i64 = 1_900_000_000;

    fn row(id: i64) -> (i64, i64, i64, String) {
        let category = 1 + (id * 7919) % CATEGORIES;
        let price = 100 + (id * 104_729) % 100_000;
        (category, price, FIRST + id, format!("product {id}"))
    }

    pub(super) async fn ensure(db: &Db, state: &CatalogState, rows: i64) -> Result<(), ApiError> {
        let rows = rows.max(1);
        state
            .products
            .ensure(db, "catalog", GENERATOR, rows, || async move {
                for kind in TABLES {
                    load(db, kind.table(), rows).await?;
                }
                Ok(())
            })
            .await
    }

    async fn load(db: &Db, table: &str, rows: i64) -> Result<(), sqlx::Error> {
        match db {
            Db::Postgres { pool, .. } => {
                sqlx::query(&format!("TRUNCATE {table}"))
                    .execute(pool)
                    .await?;
                let mut copy = pool
                    .copy_in_raw(&format!(
                        "COPY {table} (id, category_id, price_cents, created_at, name) \
                         FROM STDIN (FORMAT csv)"
                    ))
                    .await?;
                let mut chunk = Vec::with_capacity(1 << 20);
                for id in 1..=rows {
                    let (category, price, created, name) = row(id);
                    chunk.extend_from_slice(
                        format!("{id},{category},{price},{created},{name}\n").as_bytes(),
                    );
                    if chunk.len() >= 1 << 20 {
                        copy.send(std::mem::take(&mut chunk)).await?;
                    }
                }
                copy.send(chunk).await?;
                copy.finish().await?;
                // COPY wrote the ids itself: move the sequence past them for later inserts.
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), {rows})"
                ))
                .execute(pool)
                .await?;
            }
            Db::Sqlite { pool, .. } => {
                let mut tx = pool.begin().await?;
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await?;
                let ids: Vec<i64> = (1..=rows).collect();
                for chunk in ids.chunks(2000) {
                    let mut qb = QueryBuilder::new(format!(
                        "INSERT INTO {table} (id, category_id, price_cents, created_at, name) "
                    ));
                    qb.push_values(chunk, |mut b, id| {
                        let (category, price, created, name) = row(*id);
                        b.push_bind(*id)
                            .push_bind(category)
                            .push_bind(price)
                            .push_bind(created)
                            .push_bind(name);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

//! The database lessons (`orders` for the n-plus-one lab, `likes` for like-counter) over real
//! HTTP, on SQLite and on a real PostgreSQL, with a real redis-server: every variant gives the
//! same answer, and the counters tell the variants apart.

mod common;

use common::{Svc, delta};
use futures::StreamExt;
use perflab_services::postgres::ThrowawayPostgres;
use perflab_services::redis::ThrowawayRedis;
use reference_app::feed;
use reference_app::orders::dataset;
use serde_json::{Value, json};

const ORDER_VARIANTS: [&str; 4] = ["n-plus-one", "join", "prefetch", "dataloader"];

async fn latest(svc: &Svc, limit: i64, page: i64) -> reqwest::Response {
    svc.http
        .get(svc.url(&format!("/orders/latest?limit={limit}&page={page}")))
        .send()
        .await
        .unwrap()
}

async fn orders_lesson(svc: &Svc) {
    for (limit, page) in [(0, 0), (-3, 0), (501, 0), (20, -1), (20, 500)] {
        assert_eq!(
            latest(svc, limit, page).await.status(),
            400,
            "limit={limit} page={page}"
        );
    }
    let names = [
        "db_statements_total",
        "dataloader_batches_total",
        "dataloader_keys_total",
    ];
    let (n, page_number) = (20i64, 3i64);
    let mut first: Option<Value> = None;
    for variant in ORDER_VARIANTS {
        svc.set(json!({ "orders": variant })).await;
        let mut page = Value::Null;
        let got = delta(svc, &names, async {
            let r = latest(svc, n, page_number).await;
            assert_eq!(r.status(), 200, "{variant}");
            page = r.json().await.unwrap();
        })
        .await;
        assert_eq!(page["variant"], variant);
        let orders = page["orders"].as_array().unwrap();
        // The generator's newest orders, newest first, each with its customer and its items.
        let ids: Vec<i64> = orders.iter().map(|o| o["id"].as_i64().unwrap()).collect();
        let want: Vec<i64> = (0..n)
            .map(|k| dataset::ORDERS - page_number * n - k)
            .collect();
        assert_eq!(
            ids, want,
            "{variant}: page {page_number} of {n} orders, newest first"
        );
        for o in orders {
            let id = o["id"].as_i64().unwrap();
            assert_eq!(
                o["items"].as_array().unwrap().len() as i64,
                dataset::items_of_order(id),
                "{variant}: order {id}'s items"
            );
            assert!(o["customer"]["email"].as_str().unwrap().contains('@'));
        }
        match &first {
            None => first = Some(page["orders"].clone()),
            Some(same) => assert_eq!(&page["orders"], same, "{variant} answers differently"),
        }
        let [statements, batches, keys] = [got[0], got[1], got[2]];
        match variant {
            "n-plus-one" => assert_eq!(statements, (1 + 2 * n) as f64, "1 + 2N"),
            "join" => assert_eq!(statements, 1.0),
            "prefetch" => assert_eq!(statements, 2.0),
            _ => {
                // Alone, a request's 2N lookups share at most a few batches; with concurrent
                // requests the batches are shared too (the lab measures that).
                assert_eq!(keys, (2 * n) as f64, "every lookup goes through the loader");
                assert!((2.0..=4.0).contains(&batches), "{batches} batches");
                assert_eq!(statements, 1.0 + batches);
            }
        }
    }
}

const LIKE_VARIANTS: [&str; 5] = [
    "read-modify-write",
    "lock-for-update",
    "optimistic-version",
    "atomic-update",
    "redis-incr",
];

async fn like_count(svc: &Svc, id: i64) -> i64 {
    svc.get_ok(&format!("/likes/{id}"))
        .await
        .json::<Value>()
        .await
        .unwrap()["likes"]
        .as_i64()
        .unwrap()
}

/// `count` likes of counter `id`, 16 at a time; the statuses that came back.
async fn like_concurrently(svc: &Svc, id: i64, count: usize) -> Vec<u16> {
    let url = svc.url(&format!("/likes/{id}"));
    futures::stream::iter(0..count)
        .map(|_| {
            let (http, url) = (svc.http.clone(), url.clone());
            async move { http.post(url).send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

async fn likes_lesson(svc: &Svc) {
    assert_eq!(
        svc.http
            .post(svc.url("/likes/101"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let names = [
        "likes_lost_update_violations_total",
        "likes_retries_total",
        "likes_lock_wait_nanoseconds_total",
        "likes_acknowledged_total",
    ];
    let likes = 200;
    for variant in LIKE_VARIANTS {
        // Application work between the read and the write widens the race, so the naive
        // variant loses updates on every run, not only on a busy machine.
        svc.set(json!({ "likes": variant, "likes.work_us": 300, "likes.flush_ms": 50 }))
            .await;
        let before = like_count(svc, 1).await;
        let got = delta(svc, &names, async {
            let statuses = like_concurrently(svc, 1, likes).await;
            assert!(
                statuses.iter().all(|s| *s == 200),
                "{variant}: {statuses:?}"
            );
        })
        .await;
        let [lost, retries, lock_wait, acknowledged] = [got[0], got[1], got[2], got[3]];
        assert_eq!(acknowledged, likes as f64, "{variant}");
        let grew = like_count(svc, 1).await - before;
        if variant == "read-modify-write" {
            assert!(lost > 0.0, "read-modify-write lost nothing: grew {grew}");
            assert_eq!(
                grew as f64,
                likes as f64 - lost,
                "the audit counts exactly the missing likes"
            );
        } else {
            assert_eq!(lost, 0.0, "{variant} lost updates");
            assert_eq!(grew, likes as i64, "{variant}: every like stored");
        }
        match variant {
            "optimistic-version" => assert!(retries > 0.0, "16 writers, one row: conflicts"),
            "lock-for-update" => assert!(lock_wait > 0.0),
            _ => assert_eq!(retries, 0.0, "{variant}"),
        }
    }
    // The write-back empties Redis into the database.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let audit: Value = svc.get_ok("/likes/audit").await.json().await.unwrap();
    assert_eq!(
        audit["acknowledged"].as_i64().unwrap() - audit["stored"].as_i64().unwrap(),
        audit["lost"].as_i64().unwrap(),
        "{audit}"
    );
}

async fn feed(svc: &Svc, query: &str) -> Value {
    let r = svc.get_ok(&format!("/feed?{query}")).await;
    r.json().await.unwrap()
}

/// Both variants give the same page at every depth; OFFSET walks past every row above it,
/// keyset reads only the page; and the plans say so.
async fn pagination_lesson(svc: &Svc, postgres: bool) {
    let rows = 5_000i64;
    let names = ["feed_rows_walked_total"];
    for position in [0i64, 40, 2_500, 4_900] {
        let mut pages = Vec::new();
        for variant in ["offset", "keyset"] {
            svc.set(json!({ "pagination": variant, "pagination.rows": rows }))
                .await;
            let mut query = format!("limit=20&offset={position}");
            if let Some(c) = feed::dataset::cursor_before(rows, position) {
                query.push_str(&format!(
                    "&after_created_at={}&after_id={}",
                    c.created_at, c.id
                ));
            }
            let mut page = Value::Null;
            let walked = delta(svc, &names, async {
                page = feed(svc, &query).await;
            })
            .await[0];
            let ids: Vec<i64> = page["posts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_i64().unwrap())
                .collect();
            let want: Vec<i64> = (0..20).map(|k| rows - position - k).collect();
            assert_eq!(ids, want, "{variant} at {position}: newest first");
            let expected_walk = if variant == "offset" {
                position + 20
            } else {
                20
            };
            assert_eq!(walked, expected_walk as f64, "{variant} at {position}");
            pages.push(page["posts"].clone());
            // The next cursor continues exactly where this page ended.
            assert_eq!(page["next"]["id"].as_i64(), Some(rows - position - 19));
        }
        assert_eq!(
            pages[0], pages[1],
            "offset and keyset disagree at {position}"
        );
    }
    // A half cursor, a negative offset, a keyset-less offset request: clear 400s.
    svc.set(json!({ "pagination": "offset" })).await;
    for bad in [
        "limit=20",
        "offset=-1",
        "offset=0&after_id=3",
        "limit=0&offset=0",
    ] {
        let r = svc
            .http
            .get(svc.url(&format!("/feed?{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    // The plans: keyset enters the index at the cursor.
    let keyset = "SELECT id FROM feed_posts WHERE (created_at, id) < (1600001000, 2000) \
                  ORDER BY created_at DESC, id DESC LIMIT 20";
    let plan = explain(svc, postgres, keyset).await;
    assert!(plan.contains("feed_by_time"), "{plan}");
    if postgres {
        // And the counter agrees with what PostgreSQL actually read: OFFSET 2500 makes its
        // index scan produce 2 520 rows for a page of 20.
        let offset = "SELECT id FROM feed_posts ORDER BY created_at DESC, id DESC \
                      LIMIT 20 OFFSET 2500";
        let plan = explain(svc, true, &format!("(ANALYZE, TIMING OFF) {offset}")).await;
        assert!(
            plan.lines()
                .any(|l| l.contains("feed_by_time") && l.contains("actual rows=2520")),
            "{plan}"
        );
    }
}

/// `EXPLAIN <sql>` (PostgreSQL) or `EXPLAIN QUERY PLAN <sql>` (SQLite) on the service's own
/// database.
async fn explain(svc: &Svc, postgres: bool, sql: &str) -> String {
    if postgres {
        let url = svc.database_url.clone().unwrap();
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        let rows: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN {sql}"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        rows.into_iter().map(|r| r.0).collect::<Vec<_>>().join("\n")
    } else {
        let url = format!(
            "sqlite://{}",
            svc.data_dir().join("perflab.sqlite").display()
        );
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(&mut conn)
                .await
                .unwrap();
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
    }
}

/// Every index option returns the same newest products; the plans (the service's notes) show
/// the scan and sort without an index, the sort with the category index, neither with the
/// composite one; and an insert lands in the variant's table.
async fn index_lesson(svc: &Svc, postgres: bool) {
    let newest = |svc: &Svc| {
        let url = svc.url("/catalog/newest?category=7&limit=20");
        let http = svc.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    // Unused, the catalog says nothing (other labs' reports stay free of it); the data sets
    // the earlier lessons used do say where they came from.
    let notes: Value = svc.get_ok("/admin/notes").await.json().await.unwrap();
    let said = notes["notes"].to_string();
    assert!(!said.contains("catalog"), "{said}");
    assert!(said.contains("data set feed"), "{said}");
    let mut answers = Vec::new();
    for option in ["no-index", "category", "composite", "three-indexes"] {
        svc.set(json!({ "index": option, "index.rows": 20_000 }))
            .await;
        let r = newest(svc).await;
        assert_eq!(r.status(), 200, "{option}");
        let page: Value = r.json().await.unwrap();
        let products = page["products"].as_array().unwrap();
        assert_eq!(products.len(), 20, "{option}");
        assert!(products.iter().all(|p| p["category_id"] == 7), "{option}");
        answers.push(page["products"].clone());
        let notes: Value = svc.get_ok("/admin/notes").await.json().await.unwrap();
        let plan = notes["notes"][0]["text"].as_str().unwrap().to_string();
        let indexes = notes["notes"][1]["text"].as_str().unwrap().to_string();
        let sorts = if postgres {
            plan.contains("Sort")
        } else {
            plan.contains("TEMP B-TREE")
        };
        match option {
            "no-index" => {
                assert!(sorts, "{plan}");
                assert!(
                    plan.contains(if postgres {
                        "Seq Scan"
                    } else {
                        "SCAN catalog_plain"
                    }),
                    "{plan}"
                );
                assert!(indexes.contains("primary key only"), "{indexes}");
            }
            "category" => assert!(
                sorts && plan.contains("catalog_by_category_category"),
                "{plan}"
            ),
            _ => assert!(
                !sorts,
                "{option}: the composite index needs no sort\n{plan}"
            ),
        }
        if option == "three-indexes" {
            assert_eq!(indexes.matches("CREATE INDEX").count(), 3, "{indexes}");
        }
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "the options disagree"
    );
    // A write goes to the variant's table and is read back first.
    let r = svc
        .http
        .post(svc.url("/catalog/products"))
        .json(&json!({ "category_id": 7, "price_cents": 999, "name": "brand new" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        created["id"], 20_001,
        "ids continue after the generated rows"
    );
    let page: Value = newest(svc).await.json().await.unwrap();
    assert_eq!(page["products"][0]["name"], "brand new");
    for bad in [
        json!({ "category_id": 0, "price_cents": 1, "name": "x" }),
        json!({ "category_id": 1, "price_cents": 1, "name": "" }),
    ] {
        let r = svc
            .http
            .post(svc.url("/catalog/products"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
}

const SQLITE_DURABILITY: [&str; 3] = ["rollback-full", "wal-normal", "wal-off"];
const POSTGRES_DURABILITY: [&str; 3] = ["sync-commit", "async-commit", "group-commit"];

async fn write_durably(svc: &Svc, payload: &str) -> Result<i64, String> {
    let r = svc
        .http
        .post(svc.url("/durability/writes"))
        .json(&json!({ "payload": payload }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != 201 {
        return Err(format!(
            "status {}: {}",
            r.status(),
            r.text().await.unwrap_or_default()
        ));
    }
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    Ok(body["id"].as_i64().unwrap())
}

async fn audit(svc: &Svc, ids: &[i64], failure: &str) -> Value {
    // After a database crash the service's pool reconnects on demand: allow it a moment.
    for _ in 0..100 {
        let r = svc
            .http
            .post(svc.url("/durability/audit"))
            .json(&json!({ "ids": ids, "failure": failure }))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            return r.json().await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the audit never answered 200");
}

/// Each option answers correctly and says what it runs with; the other backend's options are
/// refused.
async fn durability_lesson(svc: &Svc, postgres: bool) {
    let (mine, theirs) = if postgres {
        (POSTGRES_DURABILITY, SQLITE_DURABILITY)
    } else {
        (SQLITE_DURABILITY, POSTGRES_DURABILITY)
    };
    for other in theirs {
        let refused = svc.set_refused(json!({ "durability": other })).await;
        assert!(
            refused["message"].as_str().unwrap().contains(if postgres {
                "SQLite"
            } else {
                "PostgreSQL"
            }),
            "{refused}"
        );
    }
    for bad in [
        json!({ "payload": "" }),
        json!({ "payload": "a\u{0}b" }),
        json!({}),
    ] {
        let r = svc
            .http
            .post(svc.url("/durability/writes"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{bad}: {}", r.status());
    }
    // An audit looks up the ids it is given, nothing else; and its list is bounded.
    svc.set(json!({ "durability": mine[0] })).await;
    let far = audit(svc, &[i64::MIN, i64::MAX], "service-killed").await;
    assert_eq!(
        (far["checked"].as_u64(), far["missing"].as_u64()),
        (Some(2), Some(2)),
        "{far}"
    );
    let too_many = vec![0i64; reference_app::limits::MAX_AUDIT_IDS + 1];
    let r = svc
        .http
        .post(svc.url("/durability/audit"))
        .json(&json!({ "ids": too_many, "failure": "service-killed" }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    for option in mine {
        svc.set(json!({ "durability": option })).await;
        let mut ids = Vec::new();
        let got = delta(
            svc,
            &["db_commits_total", "durability_commit_nanoseconds_total"],
            async {
                for i in 0..20 {
                    ids.push(write_durably(svc, &format!("{option} {i}")).await.unwrap());
                }
            },
        )
        .await;
        assert_eq!(got[0], 20.0, "{option}: one commit per write");
        assert!(got[1] > 0.0, "{option}: commit time is counted");
        let a = audit(svc, &ids, "service-killed").await;
        assert_eq!(a["checked"], 20, "{a}");
        assert_eq!(a["missing"], 0, "{option}: {a}");
        // The settings in force, as the database reports them back.
        let notes: Value = svc.get_ok("/admin/notes").await.json().await.unwrap();
        let text = notes.to_string();
        let expect = match option {
            "rollback-full" => "journal_mode=delete, synchronous=FULL",
            "wal-normal" => "journal_mode=wal, synchronous=NORMAL",
            "wal-off" => "journal_mode=wal, synchronous=OFF",
            "sync-commit" => "synchronous_commit=on, commit_delay=0",
            "async-commit" => "synchronous_commit=off",
            _ => "synchronous_commit=on, commit_delay=1000",
        };
        assert!(text.contains(expect), "{option}: {text}");
        let promised = audit(svc, &[], "os-crash").await;
        let survives = matches!(option, "rollback-full" | "sync-commit" | "group-commit");
        assert_eq!(
            promised["promise"]["survives"], survives,
            "{option}: {promised}"
        );
    }
}

/// The two halves of a crash.
enum Step {
    Kill,
    Restart,
}

/// Eight writers running flat out; after `run_for`, `crash(Step::Kill)` runs while they write,
/// then `crash(Step::Restart)`; the writes acknowledged before the restart are returned.
async fn writes_until_crash(
    http: reqwest::Client,
    url: String,
    run_for: std::time::Duration,
    mut crash: impl FnMut(Step),
) -> Vec<i64> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (http, url, stop) = (http.clone(), url.clone(), stop.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let payload = json!({ "payload": format!("writer {w} write {i}") });
                    match http.post(&url).json(&payload).send().await {
                        Ok(r) if r.status() == 201 => {
                            // An answer cut off by the crash is not an acknowledgement.
                            if let Ok(body) = r.json::<Value>().await {
                                let at = std::time::Instant::now();
                                acked.push((at, body["id"].as_i64().unwrap()));
                            }
                        }
                        _ => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
                    }
                }
                acked
            })
        })
        .collect();
    tokio::time::sleep(run_for).await;
    // No new writes from here; those in flight meet the crash. The writers then read what the
    // dead server sent before it died (those count: they are what async commit can lose), and
    // only answers read before the restart count: a later one may come from the restarted
    // server, even with a lost row's id (an asynchronous commit's sequence advance can be lost
    // with it).
    stop.store(true, Ordering::Relaxed);
    crash(Step::Kill);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let crashed_at = std::time::Instant::now();
    crash(Step::Restart);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(
            w.await
                .unwrap()
                .into_iter()
                .filter(|(at, _)| *at < crashed_at)
                .map(|(_, id)| id),
        );
    }
    acked
}

/// kill -9 mid-write: every acknowledged row survives under each option that promises it, and
/// the one that does not promise it (async commit, database killed) is counted, not hidden.
async fn durability_crashes(svc: &mut Svc, mut postgres: Option<&mut ThrowawayPostgres>) {
    let options = if postgres.is_some() {
        POSTGRES_DURABILITY
    } else {
        SQLITE_DURABILITY
    };
    let run_for = std::time::Duration::from_millis(800);
    for option in options {
        svc.set(json!({ "durability": option })).await;
        let url = svc.url("/durability/writes");
        let acked = writes_until_crash(svc.http.clone(), url, run_for, |step| match step {
            Step::Kill => svc.kill(),
            Step::Restart => svc.restart(),
        })
        .await;
        assert!(
            acked.len() > 20,
            "{option}: only {} writes acknowledged",
            acked.len()
        );
        svc.set(json!({ "durability": option })).await;
        let a = audit(svc, &acked, "service-killed").await;
        assert_eq!(a["promise"]["survives"], true, "{a}");
        assert_eq!(a["missing"], 0, "{option}, service killed: {a}");
        eprintln!(
            "{option}, service killed: {} acknowledged, 0 lost",
            acked.len()
        );

        if let Some(pg) = postgres.as_deref_mut() {
            let url = svc.url("/durability/writes");
            let acked = writes_until_crash(svc.http.clone(), url, run_for, |step| match step {
                Step::Kill => pg.kill(),
                Step::Restart => pg.restart().expect("PostgreSQL restarts"),
            })
            .await;
            let a = audit(svc, &acked, "database-killed").await;
            let promised = option != "async-commit";
            assert_eq!(a["promise"]["survives"], promised, "{a}");
            if promised {
                assert_eq!(a["missing"], 0, "{option}, database killed: {a}");
            }
            eprintln!(
                "{option}, PostgreSQL killed: {} acknowledged, {} lost",
                acked.len(),
                a["missing"]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_lessons_on_sqlite() {
    let redis = ThrowawayRedis::start().expect("redis-server");
    let svc = Svc::start(None, Some(&redis.url()), &["--pool-size", "8"]);
    orders_lesson(&svc).await;
    likes_lesson(&svc).await;
    pagination_lesson(&svc, false).await;
    index_lesson(&svc, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durability_on_sqlite() {
    let mut svc = Svc::start(None, None, &[]);
    durability_lesson(&svc, false).await;
    durability_crashes(&mut svc, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durability_on_postgres() {
    let mut pg = ThrowawayPostgres::start().expect("PostgreSQL");
    let mut svc = Svc::start(Some(&pg.url()), None, &[]);
    durability_lesson(&svc, true).await;
    durability_crashes(&mut svc, Some(&mut pg)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_lessons_on_postgres() {
    let pg = ThrowawayPostgres::start().expect("PostgreSQL");
    let redis = ThrowawayRedis::start().expect("redis-server");
    let svc = Svc::start(Some(&pg.url()), Some(&redis.url()), &["--pool-size", "8"]);
    orders_lesson(&svc).await;
    likes_lesson(&svc).await;
    pagination_lesson(&svc, true).await;
    index_lesson(&svc, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_incr_without_redis_is_refused_with_the_reason() {
    let svc = Svc::start(None, None, &[]);
    svc.set(json!({ "likes": "redis-incr" })).await;
    let r = svc.http.post(svc.url("/likes/1")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("--redis-url"),
        "{body}"
    );
}

/// A generated data set is recorded with its fingerprint: the next start on the same data
/// folder finds it and does not generate it again, and a different size generates anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_data_set_is_kept_for_the_next_start_on_the_same_folder() {
    use perflab_services::service::ServiceProcess;
    let dir = tempfile::tempdir().unwrap();
    let args = vec!["--data-dir".to_string(), dir.path().display().to_string()];
    let http = reqwest::Client::new();
    for (start, rows, generates) in [(1, 1000, true), (2, 1000, false), (3, 2000, true)] {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_reference-app"));
        let mut service = ServiceProcess::start(binary, &args, None).unwrap();
        let base = service.base_url().to_string();
        let set = http
            .put(format!("{base}/admin/settings"))
            .json(&json!({ "pagination": "keyset", "pagination.rows": rows }))
            .send()
            .await
            .unwrap();
        assert!(set.status().is_success());
        let r = http
            .get(format!("{base}/feed?limit=5"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "start {start}");
        let page: Value = r.json().await.unwrap();
        assert_eq!(
            page["posts"][0]["id"], rows,
            "start {start}: the newest post"
        );
        // The service's output reaches the log a moment after the answer.
        let mut log = String::new();
        for _ in 0..20 {
            log = service.log_tail(400);
            if log.contains("generated the data set") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(
            log.contains("generated the data set"),
            generates,
            "start {start}: {log}"
        );
        // The service's notes (printed in lab reports) say the same.
        let notes: Value = http
            .get(format!("{base}/admin/notes"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let said = notes.to_string();
        let expected = if generates {
            "generated by this start"
        } else {
            "found in the data folder"
        };
        assert!(said.contains(expected), "start {start}: {said}");
        service.terminate();
    }
}

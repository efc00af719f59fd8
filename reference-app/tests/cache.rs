//! The `cache` dimension over real HTTP with a real redis-server, on SQLite and PostgreSQL:
//! which tier answers (`x-cache`), what a write leaves stale with and without invalidation,
//! and how many queries a burst of misses on one key makes with and without single flight.

mod common;

use common::{Svc, delta};
use perflab_services::postgres::ThrowawayPostgres;
use perflab_services::redis::ThrowawayRedis;
use reference_app::cache::dataset::category_of;
use serde_json::{Value, json};

/// GET `path`: the `x-cache` header and the JSON body.
async fn read(svc: &Svc, path: &str) -> (String, Value) {
    let r = svc.get_ok(path).await;
    let source = r.headers()["x-cache"].to_str().unwrap().to_string();
    (source, r.json().await.unwrap())
}

async fn set_price(svc: &Svc, id: i64, price: i64) {
    let r = svc
        .http
        .put(svc.url(&format!("/cache/products/{id}")))
        .json(&json!({ "price_cents": price }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn tiers_answer(svc: &Svc) {
    for (option, second) in [
        ("no-cache", "database"),
        ("redis", "redis"),
        ("in-process", "local"),
        ("two-tier", "local"),
    ] {
        svc.set(json!({ "cache": option })).await;
        let path = format!("/cache/products/{}", 10 + option.len());
        let (first, body) = read(svc, &path).await;
        assert_eq!(first, "database", "{option}: a cold key is a miss");
        assert_eq!(body["id"], 10 + option.len());
        let (again, same) = read(svc, &path).await;
        assert_eq!(again, second, "{option}");
        assert_eq!(body, same, "{option}: the cached answer is the database's");
    }
    // The expensive read: the summary a scan computes is the same from every tier.
    svc.set(json!({ "cache": "two-tier" })).await;
    let (_, summary) = read(svc, "/cache/categories/3/summary").await;
    assert_eq!(
        summary["products"], 2000,
        "200 000 products in 100 categories"
    );
    svc.set(json!({ "cache": "no-cache" })).await;
    assert_eq!(read(svc, "/cache/categories/3/summary").await.1, summary);
}

async fn writes_and_staleness(svc: &Svc) {
    let names = ["cache_stale_reads_total", "cache_invalidations_total"];
    // TTL only: the write leaves the cached price, and the read after it is counted stale.
    svc.set(json!({ "cache": "redis", "cache.invalidate_on_write": 0 }))
        .await;
    read(svc, "/cache/products/7").await;
    let d = delta(svc, &names, async {
        set_price(svc, 7, 4242).await;
        let (source, body) = read(svc, "/cache/products/7").await;
        assert_eq!(source, "redis");
        assert_ne!(
            body["price_cents"], 4242,
            "TTL-only: the old price is served"
        );
    })
    .await;
    assert_eq!(d, [1.0, 0.0]);
    // Invalidation: the write deletes the product and its category's summary, in every
    // option's caches — also the ones not serving right now.
    svc.set(json!({ "cache": "in-process", "cache.invalidate_on_write": 1 }))
        .await;
    let summary = format!("/cache/categories/{}/summary", category_of(7));
    read(svc, "/cache/products/7").await;
    read(svc, &summary).await;
    svc.set(json!({ "cache": "no-cache" })).await;
    let d = delta(svc, &names, async {
        set_price(svc, 7, 4343).await;
    })
    .await;
    assert_eq!(d, [0.0, 2.0]);
    for option in ["in-process", "redis"] {
        svc.set(json!({ "cache": option })).await;
        let (source, body) = read(svc, "/cache/products/7").await;
        assert_eq!(
            (source.as_str(), &body["price_cents"]),
            ("database", &json!(4343))
        );
        assert_eq!(read(svc, &summary).await.0, "database", "{option}");
    }
}

/// 24 concurrent reads of one cold key: how many reach the database.
async fn burst(svc: &Svc, category: i64) -> (f64, f64) {
    let path = format!("/cache/categories/{category}/summary");
    let d = delta(
        svc,
        &["cache_misses_total", "cache_coalesced_total"],
        async {
            let reads = (0..24).map(|_| svc.get_ok(&path));
            futures::future::join_all(reads).await;
        },
    )
    .await;
    (d[0], d[1])
}

async fn single_flight(svc: &Svc) {
    for option in ["redis", "in-process"] {
        svc.set(json!({ "cache": option, "cache.single_flight": 0 }))
            .await;
        let (stampede, none) = burst(svc, 40 + option.len() as i64).await;
        assert_eq!(none, 0.0);
        svc.set(json!({ "cache": option, "cache.single_flight": 1 }))
            .await;
        let (flight, coalesced) = burst(svc, 50 + option.len() as i64).await;
        // A miss that arrives after the first load finished reads the cache instead: at most
        // a straggler's second query, never one per request.
        assert!(
            flight <= 2.0,
            "{option}: {flight} queries with single flight"
        );
        assert!(coalesced > 0.0, "{option}: nothing waited for the load");
        assert!(
            stampede > flight,
            "{option}: stampede {stampede} vs single flight {flight}"
        );
    }
}

async fn bad_input(svc: &Svc) {
    for (path, status) in [
        ("/cache/products/0", 400),
        ("/cache/products/99999999", 404),
        ("/cache/products/x", 400),
        ("/cache/categories/0/summary", 400),
        ("/cache/categories/101/summary", 400),
    ] {
        let r = svc.http.get(svc.url(path)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
    }
    let r = svc
        .http
        .put(svc.url("/cache/products/3"))
        .json(&json!({ "price_cents": -1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

async fn everything(svc: &Svc) {
    tiers_answer(svc).await;
    writes_and_staleness(svc).await;
    single_flight(svc).await;
    bad_input(svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_on_sqlite() {
    let redis = ThrowawayRedis::start().expect("redis-server");
    let svc = Svc::start(None, Some(&redis.url()), &[]);
    everything(&svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_on_postgres() {
    let pg = ThrowawayPostgres::start().expect("PostgreSQL");
    let redis = ThrowawayRedis::start().expect("redis-server");
    let svc = Svc::start(Some(&pg.url()), Some(&redis.url()), &[]);
    everything(&svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_options_without_redis_say_what_to_do() {
    let svc = Svc::start(None, None, &[]);
    svc.set(json!({ "cache": "redis" })).await;
    let r = svc
        .http
        .get(svc.url("/cache/products/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("--redis-url"));
}

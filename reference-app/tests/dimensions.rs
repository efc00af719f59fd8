//! Every dimension and every option, over real HTTP, on SQLite and on a real PostgreSQL, with a
//! real redis-server. The assertions are about the counters that tell the variants apart.

mod common;

use common::{Svc, delta, events};
use perflab_services::postgres::ThrowawayPostgres;
use perflab_services::redis::ThrowawayRedis;
use serde_json::{Value, json};

const STORES: [&str; 4] = ["global-mutex", "rw-lock", "sharded", "mutex-across-io"];

async fn store_options(svc: &Svc) {
    for store in STORES {
        svc.set(json!({ "store": store, "store.work_us": 10, "store.io_us": 100 }))
            .await;
        let d = delta(svc, &["store_lock_acquisitions_total"], async {
            let r = svc
                .http
                .put(svc.url("/store/greeting"))
                .body(format!("hi from {store}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204);
            let v: Value = svc.get_ok("/store/greeting").await.json().await.unwrap();
            assert_eq!(v["value"], format!("hi from {store}"));
        })
        .await;
        assert_eq!(d[0], 2.0, "{store}: one lock acquisition per operation");
    }
}

async fn http_client_options(svc: &Svc) {
    let names = [
        "upstream_tls_handshakes_total",
        "upstream_http_clients_built_total",
        "upstream_requests_total",
    ];
    svc.set(json!({ "http-client": "per-request" })).await;
    let per_request = delta(svc, &names, async {
        for id in 0..5 {
            let q: Value = svc
                .get_ok(&format!("/upstream/quote/{id}"))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(q["id"], id);
        }
    })
    .await;
    assert_eq!(
        per_request,
        vec![5.0, 5.0, 5.0],
        "per-request client: a client and a TLS handshake per call"
    );

    svc.set(json!({ "http-client": "shared" })).await;
    let shared = delta(svc, &names, async {
        for id in 0..20 {
            svc.get_ok(&format!("/upstream/quote/{id}")).await;
        }
    })
    .await;
    assert_eq!(shared[2], 20.0);
    assert_eq!(shared[1], 0.0, "shared client: no client built per call");
    assert!(
        shared[0] <= 2.0,
        "shared client: a handful of handshakes in total, saw {}",
        shared[0]
    );
}

async fn redis_options(svc: &Svc) {
    svc.set(json!({ "redis-client": "per-request" })).await;
    let per_request = delta(svc, &["redis_connections_opened_total"], async {
        let r = svc
            .http
            .put(svc.url("/redis/k"))
            .body("v")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        for _ in 0..4 {
            let v: Value = svc.get_ok("/redis/k").await.json().await.unwrap();
            assert_eq!(v["value"], "v");
        }
    })
    .await;
    assert_eq!(per_request[0], 5.0);

    svc.set(json!({ "redis-client": "multiplexed" })).await;
    let multiplexed = delta(svc, &["redis_connections_opened_total"], async {
        for _ in 0..20 {
            svc.get_ok("/redis/k").await;
        }
    })
    .await;
    assert_eq!(
        multiplexed[0], 0.0,
        "multiplexed: the one connection is reused"
    );
}

async fn db_client_options(svc: &Svc, pool_size: f64) {
    svc.set(json!({ "db-client": "per-request" })).await;
    let per_request = delta(
        svc,
        &["db_connections_opened_total", "db_statements_total"],
        async {
            for id in 1..=5 {
                let u: Value = svc
                    .get_ok(&format!("/db/users/{id}"))
                    .await
                    .json()
                    .await
                    .unwrap();
                assert_eq!(u["id"], id);
            }
        },
    )
    .await;
    assert_eq!(per_request, vec![5.0, 5.0]);

    svc.set(json!({ "db-client": "pool" })).await;
    let pooled = delta(
        svc,
        &["db_connections_opened_total", "db_pool_acquires_total"],
        async {
            for id in 1..=20 {
                svc.get_ok(&format!("/db/users/{id}")).await;
            }
        },
    )
    .await;
    assert!(
        pooled[0] <= pool_size,
        "pool: at most pool-size connections, saw {}",
        pooled[0]
    );
    assert_eq!(pooled[1], 20.0);
    let missing = svc
        .http
        .get(svc.url("/db/users/999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

async fn codec_options(svc: &Svc) {
    let mut sizes = Vec::new();
    for (codec, accept) in [
        ("json", "application/json"),
        ("msgpack-named", "application/msgpack"),
        ("msgpack-compact", "application/msgpack;format=compact"),
    ] {
        // The dimension decides for clients without a preference ...
        svc.set(json!({ "codec": codec })).await;
        let r = svc.get_ok("/codec/users?count=100").await;
        assert_eq!(r.headers()["content-type"], accept);
        let default_bytes = r.bytes().await.unwrap();
        // ... and an explicit Accept wins.
        svc.set(json!({ "codec": "json" })).await;
        let r = svc
            .http
            .get(svc.url("/codec/users?count=100"))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], accept);
        let bytes = r.bytes().await.unwrap();
        assert_eq!(bytes, default_bytes);
        let series = format!("codec_bytes_encoded_total{{codec=\"{codec}\"}}");
        assert!(
            svc.counters().await.series(&series) >= bytes.len() as f64 * 2.0,
            "{series}"
        );

        // Bodies in the same codec are accepted back.
        let r = svc
            .http
            .post(svc.url("/codec/users"))
            .header("content-type", accept)
            .header("accept", "application/json")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{codec}: {}", r.text().await.unwrap());
        sizes.push(bytes.len());
    }
    assert!(
        sizes[2] < sizes[1] && sizes[1] < sizes[0],
        "compact < named < json: {sizes:?}"
    );
}

/// Inserts 50 rows with every option the backend supports and checks statements and commits.
async fn insert_options(svc: &Svc, postgres: bool) {
    let n = 50usize;
    let names = [
        "db_statements_total",
        "db_commits_total",
        "db_rows_inserted_total",
    ];
    let mut expected = vec![
        ("per-row-autocommit", vec![50.0, 50.0, 50.0]),
        ("per-row-transaction", vec![50.0, 1.0, 50.0]),
        ("multi-row-values", vec![4.0, 1.0, 50.0]), // ceil(50 / 16)
    ];
    if postgres {
        expected.push(("unnest", vec![1.0, 1.0, 50.0]));
        expected.push(("copy", vec![1.0, 1.0, 50.0]));
    } else {
        for pg_only in ["unnest", "copy"] {
            let err = svc.set_refused(json!({ "insert": pg_only })).await;
            assert!(
                err["message"]
                    .as_str()
                    .unwrap()
                    .contains("needs PostgreSQL"),
                "{err}"
            );
        }
    }
    for (option, want) in expected {
        svc.set(json!({ "insert": option, "insert.batch_rows": 16 }))
            .await;
        let before = svc.event_count().await;
        let got = delta(svc, &names, async {
            let r = svc.insert(&events(n)).await;
            assert_eq!(r.status(), 201, "{option}: {}", r.text().await.unwrap());
        })
        .await;
        assert_eq!(got, want, "{option}: statements, commits, rows");
        assert_eq!(svc.event_count().await - before, n as i64, "{option}");

        // A row the database rejects (CHECK user_id > 0) in the middle of the batch.
        let mut bad = events(10);
        bad[6]["user_id"] = json!(-1);
        let before = svc.event_count().await;
        let r = svc.insert(&bad).await;
        assert_eq!(r.status(), 422, "{option}");
        let body: Value = r.json().await.unwrap();
        let written = svc.event_count().await - before;
        if option == "per-row-autocommit" {
            assert_eq!(written, 6, "autocommit keeps the rows before the bad one");
            assert!(
                body["message"].as_str().unwrap().contains("not atomic"),
                "{body}"
            );
        } else {
            assert_eq!(written, 0, "{option} is atomic: nothing half-written");
        }
    }
}

async fn run_everything(svc: &Svc, postgres: bool, pool_size: f64) {
    let listing: Value = svc.get_ok("/admin/settings").await.json().await.unwrap();
    assert_eq!(
        listing["backend"],
        if postgres { "postgres" } else { "sqlite" }
    );
    assert_eq!(listing["dimensions"].as_array().unwrap().len(), 18);
    svc.get_ok("/health/live").await;
    svc.get_ok("/health/ready").await;
    store_options(svc).await;
    http_client_options(svc).await;
    redis_options(svc).await;
    db_client_options(svc, pool_size).await;
    codec_options(svc).await;
    insert_options(svc, postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dimension_on_sqlite() {
    let redis = ThrowawayRedis::start().expect("redis-server");
    let svc = Svc::start(None, Some(&redis.url()), &["--pool-size", "4"]);
    run_everything(&svc, false, 4.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dimension_on_postgres() {
    let pg = ThrowawayPostgres::start().expect("PostgreSQL");
    let redis = ThrowawayRedis::start().expect("redis-server");
    let svc = Svc::start(Some(&pg.url()), Some(&redis.url()), &["--pool-size", "4"]);
    run_everything(&svc, true, 4.0).await;
}

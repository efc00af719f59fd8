//! The `pool-sizing` dimension over real HTTP, on SQLite and on a throwaway PostgreSQL:
//! `bounded` never has more than `pool.size` queries in the database, `per-client` lets every
//! request in at once; the answers are the same either way, and the counters count the queries
//! and the wait.

mod common;

use common::Svc;
use perflab_services::postgres::ThrowawayPostgres;
use serde_json::{Value, json};

/// `n` concurrent requests; their answers.
async fn concurrent(svc: &Svc, path: &str, n: usize, post: bool) -> Vec<Value> {
    let http = reqwest::Client::new();
    let all = (0..n).map(|i| {
        let url = svc.url(&format!("{path}{i}"));
        let req = if post { http.post(url) } else { http.get(url) };
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    });
    futures::future::join_all(all).await
}

async fn the_pool_caps_the_queries_in_the_database(svc: &Svc) {
    let most = |answers: &[Value]| {
        answers
            .iter()
            .map(|a| a["in_database"].as_u64().unwrap())
            .max()
            .unwrap()
    };
    // A read long enough that 16 requests sent together overlap in the database.
    svc.set(json!({ "pool-sizing": "bounded", "pool.size": 2, "pool.query_rows": 300000 }))
        .await;
    let before = svc.counters().await.total("pool_sizing_queries_total");
    let bounded = concurrent(svc, "/pool/read/", 16, false).await;
    assert!(most(&bounded) <= 2, "{bounded:?}");
    assert!(bounded.iter().any(|a| a["waited_us"].as_u64().unwrap() > 0));
    let after = svc.counters().await.total("pool_sizing_queries_total");
    assert_eq!(after - before, 16.0);
    // The sum of 1 … 300000, whatever the option.
    assert!(bounded.iter().all(|a| a["value"] == 45_000_150_000i64));

    svc.set(json!({ "pool-sizing": "per-client" })).await;
    let per_client = concurrent(svc, "/pool/read/", 16, false).await;
    assert!(most(&per_client) > 2, "{per_client:?}");
    assert!(per_client.iter().all(|a| a["value"] == 45_000_150_000i64));

    // Writes: 32 increments spread over 16 counters, none lost, through 3 connections.
    svc.set(json!({ "pool-sizing": "bounded", "pool.size": 3 }))
        .await;
    let writes = concurrent(svc, "/pool/write/", 32, true).await;
    assert!(most(&writes) <= 3, "{writes:?}");
    let mut values: Vec<i64> = writes
        .iter()
        .map(|a| a["value"].as_i64().unwrap())
        .collect();
    values.sort();
    // Each counter got exactly two increments: values 1 and 2, sixteen times each.
    assert_eq!(values.iter().filter(|v| **v == 1).count(), 16, "{values:?}");
    assert_eq!(values.iter().filter(|v| **v == 2).count(), 16, "{values:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite() {
    let svc = Svc::start(None, None, &[]);
    the_pool_caps_the_queries_in_the_database(&svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres() {
    let pg = ThrowawayPostgres::start().expect("PostgreSQL");
    let svc = Svc::start(Some(&pg.url()), None, &[]);
    the_pool_caps_the_queries_in_the_database(&svc).await;
}

#[tokio::test]
async fn bad_input_is_a_clear_400() {
    let svc = Svc::start(None, None, &[]);
    let r = reqwest::get(svc.url("/pool/read/x")).await.unwrap();
    assert_eq!(r.status(), 400);
    let refused = svc.set_refused(json!({ "pool.size": 257 })).await;
    assert!(refused.to_string().contains("pool.size"), "{refused}");
}

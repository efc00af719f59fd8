//! The `batch-calls` dimension over real HTTP: every way of asking prices the basket the same,
//! and the counters say how many round trips it took.

mod common;

use common::{Svc, delta};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_option_gives_the_same_total_with_its_own_round_trips() {
    let svc = Svc::start(None, None, &[]);
    svc.set(json!({ "http-client": "shared", "batch.items": 7, "batch.concurrency": 3 }))
        .await;
    // Basket 12's products are 12 000 … 12 006; the upstream prices id as 1000 + id % 9000.
    let expected: u64 = (12_000..12_007u64).map(|id| 1_000 + id % 9_000).sum();
    let names = [
        "batch_baskets_total",
        "batch_upstream_calls_total",
        "upstream_requests_total",
        "upstream_quotes_served_total",
    ];
    for (option, calls) in [
        ("sequential", 7.0),
        ("join-all", 7.0),
        ("bounded", 7.0),
        ("batch", 1.0),
    ] {
        svc.set(json!({ "batch-calls": option })).await;
        let mut basket = serde_json::Value::Null;
        let d = delta(&svc, &names, async {
            basket = svc.get_ok("/batch/baskets/12").await.json().await.unwrap();
        })
        .await;
        assert_eq!(basket["total_cents"], expected, "{option}");
        assert_eq!(basket["items"], 7, "{option}");
        assert_eq!(basket["upstream_calls"], calls as u64, "{option}");
        // The service's count and the upstream's agree; the prices served are the same 7.
        assert_eq!(d, [1.0, calls, calls, 7.0], "{option}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_upstream_and_bad_input_are_clear_errors() {
    let svc = Svc::start(None, None, &[]);
    let get = |path: &str| reqwest::get(svc.url(path));
    assert_eq!(get("/batch/baskets/x").await.unwrap().status(), 400);
    assert_eq!(
        get("/batch/baskets/18446744073709551")
            .await
            .unwrap()
            .status(),
        400,
        "a basket whose product ids would overflow"
    );
    let refused = svc.set_refused(json!({ "batch.items": 1001 })).await;
    assert!(refused.to_string().contains("batch.items"), "{refused}");
    svc.set(json!({ "http-client": "shared", "upstream.failure_permille": 1000 }))
        .await;
    for option in ["sequential", "join-all", "bounded", "batch"] {
        svc.set(json!({ "batch-calls": option })).await;
        let answer = get("/batch/baskets/1").await.unwrap();
        assert_eq!(answer.status(), 502, "{option}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "dependency_failed", "{option}");
    }
}

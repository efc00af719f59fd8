//! The `resilience` dimension over real HTTP, against the in-process flaky upstream: what each
//! defence did, by status codes and counters. (How fast a failure comes back is what the lab
//! measures; the only durations asserted here are lower bounds set by the injected hang.)

mod common;

use common::{Svc, delta};
use serde_json::json;

const NAMES: [&str; 9] = [
    "resilience_requests_total",
    "resilience_upstream_calls_total",
    "upstream_flaky_requests_total",
    "resilience_retries_total",
    "resilience_timeouts_total",
    "resilience_breaker_rejections_total",
    "resilience_bulkhead_rejections_total",
    "resilience_failed_total",
    "resilience_db_held_nanoseconds_total",
];

async fn status(svc: &Svc, id: u64) -> u16 {
    reqwest::get(svc.url(&format!("/resilience/quote/{id}")))
        .await
        .expect("the service answers")
        .status()
        .as_u16()
}

async fn statuses(svc: &Svc, n: u64) -> Vec<u16> {
    futures::future::join_all((0..n).map(|id| status(svc, 1 + id))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_defence_shows_in_the_status_and_the_counters() {
    let svc = Svc::start(None, None, &[]);

    // A healthy upstream: a price, one call, a connection held across it.
    svc.set(json!({ "resilience": "no-timeout", "flaky.latency_us": 0 }))
        .await;
    let quote: serde_json::Value = svc
        .get_ok("/resilience/quote/7")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(quote["id"], 7);
    assert_eq!(quote["currency"], "KRW");

    // Every call fails at once. No retries: one call, 502.
    svc.set(json!({ "flaky.failure_permille": 1000, "resilience.backoff_ms": 1 }))
        .await;
    let mut got = Vec::new();
    let d = delta(&svc, &NAMES, async { got = statuses(&svc, 1).await }).await;
    assert_eq!(got, [502]);
    assert_eq!(
        &d[..3],
        [1.0, 1.0, 1.0],
        "one request, one call made, one received"
    );
    assert_eq!(d[7], 1.0, "counted as failed");

    // Retries: 1 + 3 calls for one request, and still 502 — the amplification, exactly.
    svc.set(json!({ "resilience": "retry", "resilience.retries": 3 }))
        .await;
    let d = delta(&svc, &NAMES, async { got = statuses(&svc, 2).await }).await;
    assert_eq!(got, [502, 502]);
    assert_eq!((d[0], d[1], d[2], d[3]), (2.0, 8.0, 8.0, 6.0));

    // A hung upstream with a timeout: 504, and the upstream still received the call.
    svc.set(json!({
        "resilience": "timeout", "resilience.timeout_ms": 50,
        "flaky.failure_permille": 0, "flaky.down": 1, "flaky.spike_ms": 2000,
    }))
    .await;
    let d = delta(&svc, &NAMES, async { got = statuses(&svc, 1).await }).await;
    assert_eq!(got, [504]);
    assert_eq!((d[1], d[4]), (1.0, 1.0));
    assert!(
        d[8] >= 50e6,
        "the connection was held for the timeout: {} ns",
        d[8]
    );

    // The bulkhead, one request allowed: of three at once, two are turned away with 503 before
    // calling; the third waits out the hang (300 ms) and fails with the upstream's 503 (502).
    svc.set(json!({
        "resilience": "bulkhead", "resilience.max_in_flight": 1, "resilience.retries": 0,
        "resilience.timeout_ms": 5000, "flaky.spike_ms": 300,
    }))
    .await;
    let d = delta(&svc, &NAMES, async { got = statuses(&svc, 3).await }).await;
    got.sort();
    assert_eq!(got, [502, 503, 503]);
    assert_eq!((d[1], d[6]), (1.0, 2.0));
    assert!(d[8] >= 300e6, "{} ns held", d[8]);

    // The breaker, judging the last 5 calls (the bulkhead's failed call above is the first of
    // them): the next request's 4 failed calls open it; the requests after it fail at once
    // without calling, and a rejection is not retried.
    svc.set(json!({
        "resilience": "circuit-breaker", "resilience.retries": 3, "resilience.timeout_ms": 1000,
        "resilience.breaker_window": 5, "resilience.breaker_failure_pct": 50,
        "resilience.breaker_open_ms": 600000, "flaky.down": 0, "flaky.failure_permille": 1000,
    }))
    .await;
    let d = delta(&svc, &NAMES, async {
        got = statuses(&svc, 1).await;
        got.extend(statuses(&svc, 3).await);
    })
    .await;
    assert_eq!(got, [502, 503, 503, 503]);
    assert_eq!((d[1], d[2], d[5]), (4.0, 4.0, 3.0));

    // Without holding a connection, a request takes none from the pool.
    svc.set(
        json!({ "resilience": "no-timeout", "resilience.hold_db": 0, "flaky.failure_permille": 0 }),
    )
    .await;
    let d = delta(&svc, &["db_pool_acquires_total", NAMES[8]], async {
        got = statuses(&svc, 2).await
    })
    .await;
    assert_eq!(got, [200, 200]);
    assert_eq!(d, [0.0, 0.0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_and_knobs_are_refused() {
    let svc = Svc::start(None, None, &[]);
    assert_eq!(
        reqwest::get(svc.url("/resilience/quote/not-a-number"))
            .await
            .unwrap()
            .status(),
        400
    );
    let refused = svc.set_refused(json!({ "flaky.down": 2 })).await;
    assert!(refused.to_string().contains("flaky.down"), "{refused}");
    let refused = svc.set_refused(json!({ "resilience": "hope" })).await;
    assert!(refused.to_string().contains("circuit-breaker"), "{refused}");
}

//! The `blocking` dimension over real HTTP: where the blocking work ran, by its counters.
//! (How long the fast endpoint waits is what the lab measures; a test does not time it.)

mod common;

use common::{Svc, delta};
use serde_json::json;

/// `n` concurrent calls of the blocking endpoint.
async fn calls(svc: &Svc, n: usize) {
    let all = (0..n).map(|_| svc.get_ok("/blocking/work"));
    futures::future::join_all(all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counters_say_where_the_work_ran() {
    let svc = Svc::start(None, None, &[]);
    let names = [
        "blocking_work_total",
        "blocking_on_worker_nanoseconds_total",
        "blocking_permit_wait_nanoseconds_total",
        "tokio_worker_busy_nanoseconds_total",
    ];
    for cpu in [0, 1] {
        // On the worker: each call holds a worker thread for its 5 ms.
        svc.set(json!({ "blocking": "on-worker", "blocking.work_ms": 5, "blocking.cpu": cpu }))
            .await;
        let d = delta(&svc, &names, calls(&svc, 4)).await;
        assert_eq!(d[0], 4.0);
        assert!(d[1] >= 4.0 * 5e6, "cpu={cpu}: {} ns on the workers", d[1]);
        assert!(d[3] >= d[1] * 0.9, "the runtime saw its workers busy");
        // spawn_blocking: the same work, none of it on a worker.
        svc.set(json!({ "blocking": "spawn-blocking" })).await;
        let d = delta(&svc, &names, calls(&svc, 4)).await;
        assert_eq!((d[0], d[1]), (4.0, 0.0), "cpu={cpu}");
        // A pool of one: four at once, three wait for the permit.
        svc.set(json!({ "blocking": "bounded-pool", "blocking.permits": 1 }))
            .await;
        let d = delta(&svc, &names, calls(&svc, 4)).await;
        assert_eq!((d[0], d[1]), (4.0, 0.0), "cpu={cpu}");
        assert!(d[2] >= 5e6, "cpu={cpu}: {} ns waiting for a permit", d[2]);
    }
    // Async: a sleep holds no worker; CPU in slices does, a slice at a time.
    svc.set(json!({ "blocking": "async", "blocking.cpu": 0 }))
        .await;
    let d = delta(&svc, &names, calls(&svc, 2)).await;
    assert_eq!(d[1], 0.0);
    svc.set(json!({ "blocking": "async", "blocking.cpu": 1 }))
        .await;
    let d = delta(&svc, &names, calls(&svc, 2)).await;
    assert!(d[1] >= 2.0 * 5e6, "{} ns of sliced CPU work", d[1]);
    let fast = svc.get_ok("/blocking/fast").await;
    assert_eq!(fast.json::<serde_json::Value>().await.unwrap()["ok"], true);
}

//! The `parallelism` dimension over real HTTP: both options compute the same digest for the
//! same seed and knobs (splitting the work changes where it runs, not what it computes), the
//! counters count the chunks, and bad input gets a clear 400.

mod common;

use common::Svc;
use serde_json::{Value, json};

#[tokio::test]
async fn both_options_compute_the_same_digest_and_count_their_chunks() {
    let svc = Svc::start(None, None, &[]);
    let mut digests = Vec::new();
    for option in ["sequential", "rayon"] {
        svc.set(json!({
            "parallelism": option,
            "parallel.work_kiters": 50,
            "parallel.chunks": 5,
            "parallel.serial_permille": 200,
            "parallel.threads": 2,
        }))
        .await;
        let before = svc.counters().await.total("parallel_chunks_total");
        let body: Value = svc
            .get_ok("/parallel/digest/42")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["variant"], option);
        assert_eq!(body["chunks"], 5);
        assert_eq!(body["threads"], if option == "rayon" { 2 } else { 1 });
        let after = svc.counters().await.total("parallel_chunks_total");
        assert_eq!(after - before, 5.0);
        digests.push(body["digest"].as_u64().unwrap());
    }
    assert_eq!(digests[0], digests[1], "the same work, split or not");
    // A different seed is different work.
    let other: Value = svc
        .get_ok("/parallel/digest/43")
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(other["digest"].as_u64().unwrap(), digests[0]);
}

#[tokio::test]
async fn bad_input_is_a_clear_400() {
    let svc = Svc::start(None, None, &[]);
    let r = reqwest::get(svc.url("/parallel/digest/minus-one"))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let refused = svc.set_refused(json!({ "parallel.threads": 65 })).await;
    assert!(
        refused.to_string().contains("parallel.threads"),
        "{refused}"
    );
}

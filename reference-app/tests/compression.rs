//! The `compression` dimension over real HTTP: which answers the policy compresses, with the
//! encoding the client asked for, and that a compressed answer decodes to the same JSON.

mod common;

use std::io::Read;

use common::{Svc, delta};
use serde_json::json;

async fn users(svc: &Svc, count: u32, accept_encoding: &str) -> (Option<String>, Vec<u8>) {
    let answer = reqwest::Client::new()
        .get(svc.url(&format!("/codec/users?count={count}")))
        .header("accept", "application/json")
        .header("accept-encoding", accept_encoding)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let encoding = answer
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string());
    (encoding, answer.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_decides_and_the_client_picks_the_encoding() {
    let svc = Svc::start(None, None, &[]);
    let (none, plain) = users(&svc, 1000, "identity").await;
    assert_eq!(none, None);

    // off (the default): nothing is compressed, whatever the client accepts.
    let (encoding, body) = users(&svc, 1000, "gzip").await;
    assert_eq!((encoding, body.len()), (None, plain.len()));

    // always: the encoding the client asked for, for large and small answers alike.
    svc.set(json!({ "compression": "always" })).await;
    for asked in ["gzip", "br", "zstd"] {
        let (encoding, body) = users(&svc, 1000, asked).await;
        assert_eq!(encoding.as_deref(), Some(asked));
        assert!(
            body.len() * 5 < plain.len(),
            "{asked}: {} bytes",
            body.len()
        );
    }
    let (encoding, _) = users(&svc, 2, "gzip").await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    // A compressed answer is the same JSON.
    let (_, gzipped) = users(&svc, 1000, "gzip").await;
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, plain);

    // above-min-size: the small answer (2 users, ~430 bytes) goes as it is, the large one not.
    svc.set(json!({ "compression": "above-min-size", "compression.min_bytes": 1400 }))
        .await;
    let names = [
        "compression_compressed_total",
        "compression_skipped_total",
        "compression_body_bytes_total",
    ];
    let mut small = (None, Vec::new());
    let d = delta(&svc, &names, async { small = users(&svc, 2, "gzip").await }).await;
    assert_eq!(small.0, None);
    assert_eq!(d, [0.0, 1.0, small.1.len() as f64]);
    let d = delta(&svc, &names, async {
        assert_eq!(users(&svc, 1000, "gzip").await.0.as_deref(), Some("gzip"));
    })
    .await;
    assert_eq!(d, [1.0, 0.0, plain.len() as f64]);
}

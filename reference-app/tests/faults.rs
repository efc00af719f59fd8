//! Bad input gets a 4xx with a JSON error; failing dependencies a 5xx; SIGTERM lets in-flight
//! requests finish and exits 0.

mod common;

use std::time::Duration;

use common::Svc;
use serde_json::{Value, json};

async fn expect_error(r: reqwest::Response, status: u16, mentions: &str) {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(mentions),
        "expected {mentions:?} in {body}"
    );
}

/// Writes `request` as it is and returns what comes back until the service closes the
/// connection (or 10 s pass).
async fn raw_exchange(base_url: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base_url.trim_start_matches("http://").trim_end_matches('/');
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(n) = tcp.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
            // The error body is small JSON: stop once it is complete.
            if answer.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let svc = Svc::start(None, None, &[]);
    let post = |path: &str, ct: &str, body: Vec<u8>| {
        svc.http
            .post(svc.url(path))
            .header("content-type", ct)
            .body(body)
            .send()
    };

    expect_error(
        post(
            "/insert/events",
            "application/json",
            b"{\"events\": [".to_vec(),
        )
        .await
        .unwrap(),
        400,
        "malformed application/json",
    )
    .await;
    expect_error(
        post("/insert/events", "application/msgpack", vec![0xc1, 0x00])
            .await
            .unwrap(),
        400,
        "malformed application/msgpack",
    )
    .await;
    expect_error(
        post("/insert/events", "text/csv", b"a,b".to_vec())
            .await
            .unwrap(),
        415,
        "not supported",
    )
    .await;
    expect_error(
        post(
            "/insert/events",
            "application/json",
            b"{\"events\": []}".to_vec(),
        )
        .await
        .unwrap(),
        400,
        "1..=",
    )
    .await;
    // An upload larger than the limit is refused on its declared length, before its body is
    // read. Sent by hand as curl sends a large upload, head first with `Expect: 100-continue`:
    // the client waits for the go-ahead, so the 413 cannot be lost to a reset (a client still
    // pushing 33 MiB when the service answers and closes can see one instead of the 413).
    let head = raw_exchange(
        &svc.url(""),
        &format!(
            "POST /insert/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: {}\r\n\r\n",
            33 * 1024 * 1024
        ),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains("larger than"), "{head}");
    expect_error(
        svc.http
            .get(svc.url("/store/has%20space"))
            .send()
            .await
            .unwrap(),
        400,
        "key contains",
    )
    .await;
    expect_error(
        svc.http.get(svc.url("/db/users/abc")).send().await.unwrap(),
        400,
        "bad path parameter",
    )
    .await;
    expect_error(
        svc.http
            .get(svc.url("/codec/users?count=lots"))
            .send()
            .await
            .unwrap(),
        400,
        "bad query",
    )
    .await;
    expect_error(
        svc.http
            .get(svc.url("/codec/users"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap(),
        406,
        "cannot answer",
    )
    .await;
    expect_error(
        svc.http.get(svc.url("/nowhere")).send().await.unwrap(),
        404,
        "no route",
    )
    .await;
    expect_error(
        svc.http.get(svc.url("/redis/k")).send().await.unwrap(),
        503,
        "--redis-url",
    )
    .await;

    let r = svc
        .http
        .put(svc.url("/admin/settings"))
        .json(&json!({"store": "lock-free"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "unknown store option").await;
    let r = svc
        .http
        .put(svc.url("/admin/settings"))
        .json(&json!({"colour": "blue"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "unknown setting").await;
    let r = svc
        .http
        .put(svc.url("/admin/settings"))
        .body("not json")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "JSON object").await;

    // Still healthy after all of that.
    svc.get_ok("/health/ready").await;
}

#[tokio::test]
async fn upstream_failures_are_502_with_the_cause() {
    let svc = Svc::start(None, None, &[]);
    svc.set(json!({"upstream.failure_permille": 1000})).await;
    let r = svc
        .http
        .get(svc.url("/upstream/quote/1"))
        .send()
        .await
        .unwrap();
    expect_error(r, 502, "503").await;
    svc.set(json!({"upstream.failure_permille": 0})).await;
    svc.get_ok("/upstream/quote/1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_and_exits_zero() {
    let mut svc = Svc::start(None, None, &[]);
    svc.set(json!({"upstream.latency_us": 1_000_000, "http-client": "shared"}))
        .await;
    let in_flight: Vec<_> = (0..5)
        .map(|i| {
            tokio::spawn(
                svc.http
                    .get(svc.url(&format!("/upstream/quote/{i}")))
                    .send(),
            )
        })
        .collect();
    // Give the requests time to reach the handler, then ask the service to stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = tokio::task::block_in_place(|| svc.process.terminate()).expect("service exited");
    for r in in_flight {
        let r = r.await.unwrap().expect("in-flight request completed");
        assert_eq!(r.status(), 200);
    }
    assert!(status.success(), "exit status {status}");
    // And it no longer accepts connections.
    assert!(svc.http.get(svc.url("/health/live")).send().await.is_err());
}

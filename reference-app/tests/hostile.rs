//! The service under clients that are careless or hostile: invented methods must not grow the
//! metrics, wrong methods get the same JSON errors as everything else, and a loopback caller is
//! recognised however it arrives.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Svc;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn ten_thousand_invented_methods_leave_metrics_small() {
    let svc = Svc::start(None, None, &[]);
    let addr = svc.url("").trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Pipelined on one connection: 10 000 requests, each with a method nobody uses.
    let mut batch = String::new();
    for i in 0..10_000 {
        batch.push_str(&format!("X{i:07} /health/live HTTP/1.1\r\nhost: x\r\n\r\n"));
    }
    batch.push_str("GET /health/live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let writer = tokio::spawn(async move {
        tcp.write_all(batch.as_bytes()).await.unwrap();
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(60), tcp.read_to_end(&mut sink)).await;
        sink.len()
    });
    assert!(writer.await.unwrap() > 0);
    let metrics = svc.get_ok("/metrics").await.text().await.unwrap();
    assert!(
        !metrics.contains("X0000"),
        "an invented method became a label"
    );
    assert!(
        metrics.contains("method=\"other\""),
        "counted under one label"
    );
    assert!(
        metrics.len() < 100_000,
        "/metrics is {} bytes",
        metrics.len()
    );
}

#[tokio::test]
async fn a_wrong_method_gets_a_json_405() {
    let svc = Svc::start(None, None, &[]);
    let r = svc
        .http
        .delete(svc.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    assert!(body["message"].as_str().unwrap().contains("/health/live"));
}

#[test]
fn a_loopback_caller_over_ipv4_mapped_ipv6_reaches_the_admin_api() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-app"))
        .args(["--listen", "[::]:0", "--data-dir"])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let port = first.trim().rsplit(':').next().unwrap().to_string();
    let status = std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                reqwest::get(format!("http://127.0.0.1:{port}/admin/settings"))
                    .await
                    .map(|r| r.status().as_u16())
            })
    })
    .join()
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    // Arrives as ::ffff:127.0.0.1 on a dual-stack socket: still loopback.
    assert_eq!(status.unwrap(), 200);
}

/// Connects and sends `head` a byte at a time, one every `every`, until the service closes the
/// connection; returns how long that took (or `None` if it never did within `give_up`).
async fn trickle(addr: &str, head: &[u8], every: Duration, give_up: Duration) -> Option<Duration> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    for &b in head.iter().cycle() {
        if started.elapsed() > give_up {
            return None;
        }
        if tcp.write_all(&[b]).await.is_err() {
            return Some(started.elapsed());
        }
        // A closed connection reads as end of stream (or an error) soon after.
        match tokio::time::timeout(every, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {
                // An answer (e.g. 408): read on until the close.
            }
            Err(_) => {}
        }
    }
    None
}

#[tokio::test]
async fn a_slowloris_client_is_dropped_at_the_header_timeout() {
    let svc = Svc::start(None, None, &["--header-timeout", "1s"]);
    let addr = svc.url("").trim_start_matches("http://").to_string();
    let took = trickle(
        &addr,
        b"GET /health/live HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        Duration::from_millis(300),
        Duration::from_secs(15),
    )
    .await
    .expect("the service kept a client that sends a byte every 300 ms");
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    // A client that connects and sends nothing is dropped too.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "an idle connection stayed open"
    );
}

#[tokio::test]
async fn a_body_short_of_its_length_times_out() {
    let svc = Svc::start(None, None, &["--body-timeout", "1s"]);
    let addr = svc.url("").trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"PUT /store/k HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly ten b")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the short body held the connection for {:?}",
        started.elapsed()
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
}

#[test]
fn shutdown_with_a_stalled_client_ends_within_the_drain_deadline() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-app"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--header-timeout",
            "60s",
            "--drain-timeout",
            "1s",
            "--data-dir",
        ])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .trim_start_matches("listening on http://")
        .to_string();
    // A client that sent half a head and then nothing: it holds its connection.
    let mut stalled = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(&mut stalled, b"GET /health/live HTTP/1.1\r\nhost").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("the service did not stop within 15 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "stopped after {:?} with a 1 s drain deadline",
        started.elapsed()
    );
    drop(stalled);
}

#[tokio::test]
async fn a_bulk_insert_over_the_row_limit_is_refused_while_decoding() {
    let svc = Svc::start(None, None, &[]);
    // 300 000 tiny rows, over the 100 000 limit.
    let row = r#"{"user_id":1,"kind":"k","payload":"","created_at":0}"#;
    let body = format!("{{\"events\":[{}]}}", vec![row; 300_000].join(","));
    let r = svc
        .http
        .post(svc.url("/insert/events"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("more than 100000 items"),
        "{body}"
    );
    assert_eq!(svc.event_count().await, 0);
}

#[tokio::test]
async fn the_store_refuses_puts_beyond_its_capacity() {
    let svc = Svc::start(None, None, &["--store-max-bytes", "2000"]);
    let put = |key: String| {
        svc.http
            .put(svc.url(&format!("/store/{key}")))
            .body("v".repeat(500))
            .send()
    };
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(put(format!("k{i}")).await.unwrap().status().as_u16());
    }
    assert_eq!(&statuses[..3], &[204, 204, 204], "{statuses:?}");
    assert_eq!(statuses[5], 507, "{statuses:?}");
    let r = put("k9".into()).await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("--store-max-bytes"),
        "{body}"
    );
    let metrics = svc.get_ok("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("store_rejected_total"), "counted");
}

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
    assert!(!metrics.contains("X0000"), "an invented method became a label");
    assert!(metrics.contains("method=\"other\""), "counted under one label");
    assert!(metrics.len() < 100_000, "/metrics is {} bytes", metrics.len());
}

#[tokio::test]
async fn a_wrong_method_gets_a_json_405() {
    let svc = Svc::start(None, None, &[]);
    let r = svc.http.delete(svc.url("/health/live")).send().await.unwrap();
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
        tokio::runtime::Runtime::new().unwrap().block_on(async move {
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
